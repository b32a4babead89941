#!/bin/sh
# ioreqctl-e2e.sh CASE IOREQCTL CTL-TEST-SERVER
# One case of ioreqctl against the mock xenstored (XENSTORED_PATH set by
# with-xenstored.sh) and ctl-test-server, with exact expected output.
set -eu
case_name=$1
ctl=$2
server=$3

dir=$(mktemp -d)
spid=
cleanup() {
    st=$?
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    [ $st -eq 0 ] || { echo "--- server log" >&2; cat "$dir/server.log" >&2 2>/dev/null; }
    rm -rf "$dir"
    exit $st
}
trap cleanup EXIT

fail() {
    echo "FAIL [$case_name]: $*" >&2
    exit 1
}
expect() { # expect WHAT EXPECTED ACTUAL
    [ "$3" = "$2" ] || fail "$1: expected
$2
--- got
$3"
}
# run_ctl EXPECTED-STATUS ARGS...: runs ioreqctl, output in $out, errors in $err.
run_ctl() {
    want=$1
    shift
    rc=0
    "$ctl" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
    out=$(cat "$dir/out")
    err=$(cat "$dir/err")
    [ "$rc" -eq "$want" ] || fail "ioreqctl $*: exit status $rc, expected $want; stderr: $err"
}
wait_file() {
    n=0
    until [ -s "$1" ]; do
        n=$((n + 1))
        [ $n -lt 600 ] || fail "$1 did not appear"
        sleep 0.05
    done
}
# start_server [ARGS...]: ctl-test-server with its socket at $dir/7.sock.
start_server() {
    "$server" --pidfile "$dir/server.pid" "$@" 2>"$dir/server.log" &
    spid=$!
    wait_file "$dir/server.pid"
    expect pidfile "$spid" "$(cat "$dir/server.pid")"
}
# The server exits 0 (under ASan: no leaks) and leaves no socket behind.
reap_server() {
    src=0
    wait "$spid" || src=$?
    spid=
    [ $src -eq 0 ] || fail "ctl-test-server exited with status $src"
    [ ! -e "$dir/7.sock" ] || fail "socket left behind"
}

dm=/local/domain/0/device-model
inventory() { # inventory PID
    xenstore-write $dm/7/state running $dm/7/ioreqd/pid "$1" $dm/7/ioreqd/version 0.1.0-test \
        $dm/7/ioreqd/server-id 1 $dm/7/ioreqd/vcpus 2 $dm/7/ioreqd/devices 1 \
        $dm/7/ioreqd/devices/0 "uart: port=0x3f8 irq=4 backend=pty" \
        $dm/7/ioreqd/devices/0/type uart $dm/7/ioreqd/devices/0/tty /dev/pts/9
    # Another device model (a QEMU, say) without ioreqd's inventory.
    xenstore-write $dm/3/state running
}

case $case_name in
usage)
    run_ctl 2
    run_ctl 2 status
    expect status-no-domid "ioreqctl: status needs --domid N
Try 'ioreqctl --help'." "$err"
    run_ctl 2 frobnicate
    expect unknown "ioreqctl: unknown command 'frobnicate'
Try 'ioreqctl --help'." "$err"
    run_ctl 2 stats --domid 32752
    expect bad-domid "ioreqctl: invalid domid '32752'
Try 'ioreqctl --help'." "$err"
    run_ctl 2 stats --domid 1x
    run_ctl 2 --bogus list
    run_ctl 2 list --domid 1
    run_ctl 2 list extra
    run_ctl 2 status --domid 1 --timeout 0
    # No xenstore: a failure, said plainly.
    rc=0
    XENSTORED_PATH=$dir/no-xenstored "$ctl" list >"$dir/out" 2>"$dir/err" || rc=$?
    expect no-xenstore-status 1 "$rc"
    expect no-xenstore "ioreqctl: cannot connect to xenstore: No such file or directory" \
        "$(cat "$dir/err")"
    run_ctl 0 --help
    case $out in usage:*) ;; *) fail "--help: $out" ;; esac
    run_ctl 0 --version
    expect version "ioreqctl $(printf '%s' "$out" | cut -d' ' -f2)" "$out"
    ;;
list)
    run_ctl 0 list
    expect list-empty "DOMID  STATE  PID  VERSION" "$out"
    run_ctl 0 --json list
    expect list-empty-json '{"device_models":[]}' "$out"
    inventory 4242
    # Not a domid: skipped.
    xenstore-write $dm/junk/state odd
    run_ctl 0 list
    expect list "DOMID  STATE    PID   VERSION
3      running  -     -
7      running  4242  0.1.0-test" "$out"
    run_ctl 0 list --json
    expect list-json '{"device_models":[{"domid":3,"state":"running","ioreqd":null},{"domid":7,"state":"running","ioreqd":{"pid":4242,"version":"0.1.0-test"}}]}' "$out"
    # Terminal control bytes from xenstore are not printed as such.
    xenstore-write $dm/7/ioreqd/version "$(printf 'x\033[2Jy')"
    run_ctl 0 list
    expect list-escaped "DOMID  STATE    PID   VERSION
3      running  -     -
7      running  4242  x?[2Jy" "$out"
    run_ctl 0 list --json
    expect list-escaped-json '{"device_models":[{"domid":3,"state":"running","ioreqd":null},{"domid":7,"state":"running","ioreqd":{"pid":4242,"version":"x\u001b[2Jy"}}]}' "$out"
    ;;
status)
    inventory 4242
    run_ctl 1 status --domid 9 --socket "$dir/none.sock"
    expect status-none "ioreqctl: no device model for domain 9 in xenstore, and $dir/none.sock: No such file or directory" "$err"
    # Inventory only: the socket is not there.
    run_ctl 0 status --domid 7 --socket "$dir/7.sock"
    expect status-xs "domid      7
state      running
pid        4242
version    0.1.0-test
server-id  1
vcpus      2
devices    1
control    $dir/7.sock (not reachable: No such file or directory)
devices:
  [0]  uart: port=0x3f8 irq=4 backend=pty
         tty = /dev/pts/9" "$out"
    start_server --socket "$dir/7.sock"
    run_ctl 0 status --domid 7 --socket "$dir/7.sock"
    expect status-live "domid      7
state      running
pid        4242
version    0.1.0-test
server-id  1
vcpus      2
devices    1
control    $dir/7.sock (reachable)
devices:
  [0]  uart: port=0x3f8 irq=4 backend=pty
         tty = /dev/pts/9
live status:
  domid      7
  pid        $spid
  version    0.1.0-test
  vcpus      2
  server_id  1
live devices:
  [0]  uart: port=0x3f8 irq=4 backend=null
  [1]  virtio-blk: 00:02.0 1af4:1042 bar1=mem32:0xf0000000+0x1000 file=/d.img queues=2
         00:02.0  INTA# line 11 low (disabled); MSI on: 0xfee01000/0x4562, 2 of 4 vectors, mask 0x2; MSI-X on: table 3, 2 in use, 1 masked
         00:02.1  no INTx; MSI off" "$out"
    # Every detail of the PCI functions, passed through as the daemon sent it.
    pci_json='{"index":1,"type":"virtio-blk","description":"00:02.0 1af4:1042 bar1=mem32:0xf0000000+0x1000 file=/d.img queues=2","pci":[{"bdf":"00:02.0","id":"1af4:1042","bars":[{"bar":1,"type":"mem32","prefetchable":false,"address":4026531840,"size":4096}],"intx":{"pin":"INTA#","line":11,"level":true,"asserted":false,"disabled":true},"msi":{"enabled":true,"address":4276097024,"data":17762,"vectors":2,"max_vectors":4,"mask":2,"pending":0},"msix":{"enabled":true,"function_mask":false,"table_size":3,"vectors":[{"vector":0,"address":4276092928,"data":65,"masked":false,"pending":false},{"vector":1,"address":4276092928,"data":66,"masked":true,"pending":false}]}},{"bdf":"00:02.1","intx":{"pin":null,"line":0},"msi":{"enabled":false},"msix":null}]}'
    run_ctl 0 status --domid 7 --socket "$dir/7.sock" --json
    expect status-json '{"domid":7,"state":"running","ioreqd":{"pid":4242,"version":"0.1.0-test","server_id":1,"vcpus":2,"devices":[{"index":0,"type":"uart","description":"uart: port=0x3f8 irq=4 backend=pty","keys":{"tty":"/dev/pts/9"}}]},"control":{"socket":"'"$dir"'/7.sock","reachable":true,"status":{"domid":7,"pid":'"$spid"',"version":"0.1.0-test","vcpus":2,"server_id":1,"devices":[{"index":0,"type":"uart","description":"port=0x3f8 irq=4 backend=null"},'"$pci_json"']}}}' "$out"
    # Live data alone, for a domain xenstore does not know.
    xenstore-rm $dm/7
    run_ctl 0 status --domid 7 --socket "$dir/7.sock" --json
    expect status-live-only-json '{"domid":7,"state":null,"ioreqd":null,"control":{"socket":"'"$dir"'/7.sock","reachable":true,"status":{"domid":7,"pid":'"$spid"',"version":"0.1.0-test","vcpus":2,"server_id":1,"devices":[{"index":0,"type":"uart","description":"port=0x3f8 irq=4 backend=null"},'"$pci_json"']}}}' "$out"
    kill -TERM "$spid"
    reap_server
    ;;
stats)
    run_ctl 1 stats --domid 7 --socket "$dir/7.sock"
    expect stats-nosock "ioreqctl: cannot get stats of domain 7 from $dir/7.sock: No such file or directory" "$err"
    start_server --socket "$dir/7.sock"
    run_ctl 0 stats --domid 7 --socket "$dir/7.sock"
    expect stats "vcpus       2
timeoffset  -3600
requests:
  sync                    40
  buffered                12
  malformed               3
  unclaimed               5
  spurious notifications  1
per vCPU:
  VCPU  REQUESTS  PIO  COPY  PCI_CONFIG  TIMEOFFSET  INVALIDATE  UNKNOWN
  0     30        25   4     0           0           0           1
  1     10        2    0     6           0           2           0
  all   40        27   4     6           0           2           1
map cache:
  hits               100
  misses             7
  evictions          2
  invalidations      1
  faults             0
  mapped bytes       28672
  dirty-log reports  9
device faults:
  pci_no_function        4
  pci_config_past_end    0
  pci_config_bad_size    0
  pci_bar_refused        0
  msix_access_dropped    0
  virtq_loop             1
  virtq_bad_index        0
  virtq_bad_length       0
  virtq_outside_ram      0
  virtq_bad_layout       0
  virtio_notify_ignored  2
requests per device:
  DEVICE  TYPE         READS  WRITES  CONFIG_READS  CONFIG_WRITES
  0       uart         9      14      0             0
  1       host-bridge  0      0       120           7
devices:
  DEVICE  TYPE  COUNTER   VALUE
  0       uart  tx_bytes  6
  0       uart  rx_bytes  0
  0       uart  dropped   0" "$out"
    run_ctl 0 --json stats --domid 7 --socket "$dir/7.sock"
    expect stats-json '{"domid":7,"vcpus":2,"requests":{"sync":40,"buffered":12,"malformed":3,"unclaimed":5,"spurious_notifications":1},"by_type":{"pio":27,"copy":4,"pci_config":6,"timeoffset":0,"invalidate":2,"unknown":1},"per_vcpu":[{"vcpu":0,"requests":30,"pio":25,"copy":4,"pci_config":0,"timeoffset":0,"invalidate":0,"unknown":1},{"vcpu":1,"requests":10,"pio":2,"copy":0,"pci_config":6,"timeoffset":0,"invalidate":2,"unknown":0}],"mapcache":{"hits":100,"misses":7,"evictions":2,"invalidations":1,"faults":0,"mapped_bytes":28672,"dirty_reports":9},"timeoffset":-3600,"faults":{"pci_no_function":4,"pci_config_past_end":0,"pci_config_bad_size":0,"pci_bar_refused":0,"msix_access_dropped":0,"virtq_loop":1,"virtq_bad_index":0,"virtq_bad_length":0,"virtq_outside_ram":0,"virtq_bad_layout":0,"virtio_notify_ignored":2},"devices":[{"index":0,"type":"uart","requests":{"reads":9,"writes":14,"config_reads":0,"config_writes":0},"counters":{"tx_bytes":6,"rx_bytes":0,"dropped":0}},{"index":1,"type":"host-bridge","requests":{"reads":0,"writes":0,"config_reads":120,"config_writes":7}}]}' "$out"
    kill -TERM "$spid"
    reap_server
    # The daemon's error reaches the user.
    start_server --socket "$dir/7.sock" --fail-stats
    run_ctl 1 stats --domid 7 --socket "$dir/7.sock"
    expect stats-error "ioreqctl: cannot get stats of domain 7 from $dir/7.sock: Input/output error" "$err"
    kill -TERM "$spid"
    reap_server
    ;;
stop-control)
    start_server --socket "$dir/7.sock"
    run_ctl 0 stop --domid 7 --socket "$dir/7.sock"
    expect stop "ioreqd for domain 7 stopped" "$out"
    reap_server
    start_server --socket "$dir/7.sock"
    run_ctl 0 stop --domid 7 --socket "$dir/7.sock" --json
    expect stop-json '{"domid":7,"stopped":true,"via":"control"}' "$out"
    reap_server
    ;;
stop-signal)
    # Nothing to stop at all.
    run_ctl 1 stop --domid 7 --socket "$dir/7.sock"
    expect stop-nothing "ioreqctl: cannot stop domain 7: control socket $dir/7.sock: No such file or directory; and no ioreqd pid in xenstore: No such file or directory" "$err"
    # A process named ioreqd without a control socket: SIGTERM to its pid.
    cp "$server" "$dir/ioreqd"
    server=$dir/ioreqd
    start_server
    inventory "$spid"
    run_ctl 0 stop --domid 7 --socket "$dir/7.sock"
    expect stop-sigterm "ioreqd for domain 7 (pid $spid) stopped by SIGTERM" "$out"
    reap_server
    # A pid that is not ioreqd (stale, reused) is never signalled.
    sleep 300 &
    other=$!
    xenstore-write $dm/7/ioreqd/pid "$other"
    run_ctl 1 stop --domid 7 --socket "$dir/7.sock" --json
    expect stop-not-ioreqd "ioreqctl: cannot stop domain 7: pid $other from xenstore is not ioreqd" "$err"
    kill -0 "$other" || fail "a process that is not ioreqd was signalled"
    kill "$other"
    wait "$other" 2>/dev/null || true
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "ok: $case_name"
