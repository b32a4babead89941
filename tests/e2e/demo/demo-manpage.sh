#!/bin/sh
# man/ioreqd-demo.1 renders without a single warning.
set -eu
page=$1
command -v man >/dev/null 2>&1 || exit 77
out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
fi
echo "man page renders cleanly"
