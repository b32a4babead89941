#!/bin/sh
# man/ioreqctl.1 renders without a single warning and documents every
# command, the protocol's requests and the exit codes.
set -eu
page=$1
command -v man >/dev/null 2>&1 || exit 77
out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
fi
text=$(MANWIDTH=80 man -l "$page" 2>/dev/null | col -b)
for word in list status stats stop --json --socket --timeout --domid "/run/ioreqd" \
    '"ok":true' '"ok":false' 0600 "EXIT STATUS"; do
    case $text in
    *"$word"*) ;;
    *)
        echo "ioreqctl(1) does not mention $word" >&2
        exit 1
        ;;
    esac
done
echo "man page renders cleanly"
