#!/bin/sh
# manpage.sh PAGE [WORD...]: the man page renders without a single warning
# and mentions every WORD. ioreqctl(1) is checked for every command, the
# protocol's requests and the exit codes; ioreqd-demo(1) for rendering.
set -eu
page=$1
shift
command -v man >/dev/null 2>&1 || exit 77
out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
fi
text=$(MANWIDTH=80 man -l "$page" 2>/dev/null | col -b)
for word in "$@"; do
    case $text in
    *"$word"*) ;;
    *)
        echo "$page does not mention $word" >&2
        exit 1
        ;;
    esac
done
echo "man page renders cleanly"
