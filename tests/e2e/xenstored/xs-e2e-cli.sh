#!/bin/sh
# mock-xenstored's command line: usage errors, a live socket is not stolen,
# a stale one is replaced, SIGINT in the foreground stops it cleanly.
set -eu
xsd=$1
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
dir=$(mktemp -d)
cleanup() {
    st=$?
    for f in "$dir"/pid*; do
        [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$dir"
    exit $st
}
trap cleanup EXIT

rc=0
"$xsd" 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "no --socket: exit $rc, want 2"
rc=0
"$xsd" --socket "$dir/s" --bogus 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "bad option: exit $rc, want 2"
"$xsd" --help | grep -q -- "--socket" || fail "--help"

"$xsd" --socket "$dir/sock" --daemon --pidfile "$dir/pid1"
rc=0
"$xsd" --socket "$dir/sock" --daemon --pidfile "$dir/pid2" 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "second server on a live socket: exit $rc, want 1"
XENSTORED_PATH=$dir/sock xenstore-write /x 1
pid1=$(cat "$dir/pid1")
kill -KILL "$pid1"
rm -f "$dir/pid1"
# SIGKILL is asynchronous: until the process is gone its socket still answers.
n=0
# A zombie (nobody may reap a daemonized process here) counts as gone.
while [ -e "/proc/$pid1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid1/status" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "killed server did not exit"
    sleep 0.1
done
# The socket file is now stale: a new server takes it over.
"$xsd" --socket "$dir/sock" --pidfile "$dir/pid3" 2>"$dir/log" &
fg=$!
n=0
until XENSTORED_PATH=$dir/sock xenstore-exists /local/domain/0 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "foreground server never answered"
    sleep 0.1
done
if XENSTORED_PATH=$dir/sock xenstore-exists /x; then fail "state survived a restart"; fi
kill -INT $fg
rc=0
wait $fg || rc=$?
[ $rc -eq 0 ] || fail "SIGINT: exit $rc, want 0"
[ ! -e "$dir/sock" ] || fail "socket left after SIGINT"
[ ! -e "$dir/pid3" ] || fail "pidfile left after SIGINT"
echo "mock-xenstored command line: all checks passed"
