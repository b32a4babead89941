#!/bin/sh
# ioreqd-demo's command line: help, bad arguments (exit 2), a missing ioreqd (exit 1).
set -u
demo=$1
fail=0
check() { # expected-status description command...
    want=$1
    what=$2
    shift 2
    out=$("$@" 2>&1)
    got=$?
    if [ "$got" -ne "$want" ]; then
        printf '%s: exit %s, expected %s\n%s\n' "$what" "$got" "$want" "$out" >&2
        fail=1
    fi
    printf '%s\n' "$out"
}
check 0 "--help" "$demo" --help
"$demo" --help | grep -q -- '--vcpus N' || { echo "--help lacks --vcpus" >&2; fail=1; }
check 2 "unknown option" "$demo" --bogus
check 2 "--vcpus 0" "$demo" --vcpus 0
check 2 "--vcpus 129" "$demo" --vcpus 129
check 2 "--vcpus x" "$demo" --vcpus x
check 2 "stray argument" "$demo" extra
out=$("$demo" --ioreqd /nonexistent/ioreqd 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 1 ] || { echo "missing ioreqd: exit $rc, expected 1" >&2; fail=1; }
printf '%s\n' "$out" | grep -q 'no ioreqd program at /nonexistent/ioreqd' ||
    { echo "missing ioreqd: no clear message" >&2; fail=1; }
printf '%s\n' "$out" | grep -q '^FAIL' || { echo "missing ioreqd: no FAIL line" >&2; fail=1; }
exit $fail
