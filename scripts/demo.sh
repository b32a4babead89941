#!/usr/bin/env bash
# The README's first command: installs what is missing, builds ioreqd, runs
# ioreqd-demo, a mock Xen domain served by the real ioreqd, and the network
# step: iPXE on ioreqd's virtio-net card in a network namespace of its own
# (scripts/demo-net.sh; root, as scripts/deps.sh). The network step starts
# first and boots while ioreqd-demo runs (most of either is firmware
# waiting); its lines follow ioreqd-demo's.
#   scripts/demo.sh [ioreqd-demo options...]     (see man/ioreqd-demo.1)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${IOREQD_BUILD_DIR:-$src/build}"
"$src/scripts/deps.sh"
"$src/scripts/build.sh" "$build"
demo="$build/tools/ioreqd-demo/ioreqd-demo"
ioreqd="$build/daemon/ioreqd"
prev=
for arg in "$@"; do
    case $arg in
    -h | --help) exec "$demo" "$@" ;;
    --ioreqd=*) ioreqd=${arg#--ioreqd=} ;;
    esac
    [ "$prev" = --ioreqd ] && ioreqd=$arg
    prev=$arg
done

net_out=$(mktemp "${TMPDIR:-/tmp}/ioreqd-demo-net.XXXXXX")
net_pid=
# However this script ends (a failed step, Ctrl-C), the network step is
# stopped: its own trap removes its namespace and dnsmasq.
stop_net() {
    if [ -n "$net_pid" ]; then
        kill -TERM "$net_pid" 2>/dev/null || true
        wait "$net_pid" 2>/dev/null || true
    fi
    rm -f "$net_out"
}
trap stop_net EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$src/scripts/demo-net.sh" "$build" "$ioreqd" >"$net_out" 2>&1 &
net_pid=$!
"$demo" "$@"
net_rc=0
wait "$net_pid" || net_rc=$?
net_pid=
cat "$net_out"
exit $net_rc
