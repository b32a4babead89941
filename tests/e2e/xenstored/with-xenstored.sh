#!/bin/sh
# with-xenstored.sh MOCK-XENSTORED COMMAND...: runs COMMAND against a fresh
# mock-xenstored (XENSTORED_PATH set to its socket, XENSTORED_PID to its
# process id), then checks that the server exits with status 0 on SIGTERM
# (under ASan that includes no leaks) and removes its socket and pid file.
set -eu
xsd=$1
shift
dir=$(mktemp -d)
pid=
cleanup() {
    st=$?
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    [ $st -eq 0 ] || cat "$dir/log" >&2 2>/dev/null
    rm -rf "$dir"
    exit $st
}
trap cleanup EXIT
# Foreground, so its exit status is ours to check; the pid file appears
# once the socket listens.
"$xsd" --socket "$dir/sock" --pidfile "$dir/pid" 2>"$dir/log" &
pid=$!
n=0
until [ -s "$dir/pid" ]; do
    n=$((n + 1))
    if [ $n -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "mock-xenstored did not start" >&2
        exit 1
    fi
    sleep 0.05
done
XENSTORED_PATH=$dir/sock
XENSTORED_PID=$pid
export XENSTORED_PATH XENSTORED_PID
rc=0
"$@" || rc=$?
kill -TERM "$pid"
xrc=0
wait "$pid" || xrc=$?
pid=
if [ $xrc -ne 0 ]; then
    echo "mock-xenstored exited with status $xrc" >&2
    exit 1
fi
if [ -e "$dir/sock" ] || [ -e "$dir/pid" ]; then
    echo "mock-xenstored left its socket or pid file behind" >&2
    exit 1
fi
exit $rc
