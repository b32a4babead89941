#!/bin/sh
# mockxen as a user meets it: options, exit statuses, environment, scripts
# that fail, and a device model started by mockxen and stopped after the script.
# Usage: mockxen-cli.sh MOCKXEN PROBE
set -u
MOCKXEN=$1
PROBE=$2
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # expected-status description command...
    want=$1 what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want" >&2
        sed 's/^/  | /' "$tmp/out" "$tmp/err" >&2
        fails=$((fails + 1))
    fi
}

check 2 "missing --domid" "$MOCKXEN" --vcpus 1
check 2 "domid 0" "$MOCKXEN" --domid 0
check 2 "too many vcpus" "$MOCKXEN" --domid 1 --vcpus 129
check 2 "bad memory size" "$MOCKXEN" --domid 1 --memory 12Q
check 0 "help" "$MOCKXEN" --help

printf 'inb 0x3f8\nexpect 0xff\n' >"$tmp/unclaimed.mx"
check 0 "unclaimed read is all-ones" "$MOCKXEN" --domid 2 --script "$tmp/unclaimed.mx"
grep -q '^MOCKXEN_SOCKET=/' "$tmp/out" || { echo "FAIL: no MOCKXEN_SOCKET line" >&2; fails=$((fails + 1)); }
grep -q '^XENSTORED_PATH=/' "$tmp/out" || { echo "FAIL: no XENSTORED_PATH line" >&2; fails=$((fails + 1)); }
grep -q '^inb 0x3f8 -> 0xff$' "$tmp/out" || { echo "FAIL: read not printed" >&2; fails=$((fails + 1)); }

printf 'inb 0x3f8\nexpect 0x41\n' >"$tmp/wrong.mx"
check 1 "failed expectation" "$MOCKXEN" --domid 2 --script "$tmp/wrong.mx"
printf 'frobnicate 1\n' >"$tmp/syntax.mx"
check 2 "unknown command" "$MOCKXEN" --domid 2 --script "$tmp/syntax.mx"
grep -q 'syntax.mx:1: unknown command frobnicate' "$tmp/err" || { echo "FAIL: no line number" >&2; fails=$((fails + 1)); }
printf 'quit 7\n' >"$tmp/quit.mx"
check 7 "quit status" "$MOCKXEN" --domid 2 --script "$tmp/quit.mx"
printf 'wait-xs /local/domain/9/name guest-nine 2000\nwait-xs /local/domain/0/device-model/9 "" 2000\n' >"$tmp/xs.mx"
check 0 "toolstack keys" "$MOCKXEN" --domid 9 --name guest-nine --script "$tmp/xs.mx"
check 0 "command status without a script" "$MOCKXEN" --domid 2 -- sh -c 'test -S "$MOCKXEN_SOCKET" && test -S "$XENSTORED_PATH"'
check 5 "command status is passed on" "$MOCKXEN" --domid 2 -- sh -c 'exit 5'

# the probe (real libraries) started by mockxen on the drop-in ones
check 0 "probe script" "$MOCKXEN" --domid 7 --vcpus 2 --memory 64M --name probe-guest \
    --libdir "$IOREQD_SHIM_LIBDIR" --script "$IOREQD_SOURCE_DIR/tests/e2e/shim/probe.mx" -- "$PROBE" 7
grep -q '^00:03.0 0000: 5853:1234' "$tmp/out" || { echo "FAIL: lspci line" >&2; fails=$((fails + 1)); }

[ "$fails" = 0 ] && echo "all mockxen checks passed"
exit $((fails != 0))
