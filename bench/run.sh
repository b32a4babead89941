#!/bin/bash
# bench/run.sh: build (if needed) and run every benchmark of ioreqd on the
# mock hypervisor, print a table and write BENCHMARKS.md.
#
#   bench/run.sh [--quick] [--profile] [--pin CPU] [--build-dir DIR] [--out FILE] [--disk FILE]
#
# --quick    fewer requests and shorter runs (a smoke run: figures are noisier)
# --profile  also run ioreqd under valgrind --tool=callgrind on the round-trip
#            and buffered workloads and print the top functions
# --pin CPU  run the floor and the interleaved comparison on that one CPU
#            (taskset): every wake-up then stays on one CPU, which removes the
#            cross-CPU wake-up cost a virtual machine adds at random
# --peer-rounds N  rounds of the ioreqd-against-QEMU comparison (default 3;
#            0 skips it); QEMU is Debian's qemu-system-xen, or $IOREQD_QEMU_XEN
# Figures are ratios against baselines measured in the same run on the same
# machine; nothing here passes or fails on a figure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=$src/build-bench
out=$src/BENCHMARKS.md
disk=
quick=0
profile=0
pin=()
peer_rounds=3
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --profile) profile=1 ;;
    --pin) pin=(taskset -c "$2"); shift ;;
    --build-dir) build=$2; shift ;;
    --out) out=$2; shift ;;
    --disk) disk=$2; shift ;;
    --peer-rounds) peer_rounds=$2; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

if [ $quick = 1 ]; then
    RTT=20000 TP_MS=500 BUF=200000 STARTS=2 VBLK_MS=1000 DISK_MIB=128 LOOKUPS=500000
    PEER_TP_MS=250 PEER_VBLK_MS=500 PEER_VBLK_SLICES=1 PEER_VNET_MS=300
else
    RTT=100000 TP_MS=2000 BUF=2000000 STARTS=5 VBLK_MS=4000 DISK_MIB=256 LOOKUPS=2000000
    PEER_TP_MS=1000 PEER_VBLK_MS=700 PEER_VBLK_SLICES=3 PEER_VNET_MS=1500
fi

# fio is the baseline of the virtio-blk figures (Debian's package).
if ! command -v fio > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        echo "run.sh: installing fio" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q fio > /dev/null
    else
        echo "run.sh: fio is missing and cannot be installed here (need root and apt-get)" >&2
    fi
fi

# Build: Release, warnings as errors, only what the benchmarks run.
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DIOREQD_WERROR=ON > /dev/null
fi
buildlog=$(mktemp /tmp/ioreqd-bench-build-XXXXXX)
if ! cmake --build "$build" -j2 --target ioreqd ioreqd-bench bench-null-server shim_libs \
    > "$buildlog" 2>&1; then
    grep -E 'error|Error' "$buildlog" | head -20 >&2
    echo "run.sh: build failed (full log: $buildlog)" >&2
    exit 1
fi
rm -f "$buildlog"

bench=$build/bench/ioreqd-bench
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d /tmp/ioreqd-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$disk" ] || disk=$work/disk.img
results=$work/results
: > "$results"
# The benchmark resets device-model/<domid>/state to "starting" before each
# device model; ioreqd must not take that key for QEMU's and serve "beside" it.
IOREQD_ARGS=(--foreground --log stderr --control-socket none --beside-qemu no)
UART=(--device uart,com=1,backend=null)

step() {
    echo "== $*" >&2
    "$@" | tee -a "$results" | sed 's/^RESULT /   /' >&2
}

step "${pin[@]}" "$bench" floor --count $RTT
step "${pin[@]}" "$bench" compare --count $RTT --ranges 1000 --tp-ms $TP_MS --buffered $BUF --log "$work/cmp-ioreqd.log" \
    --null-log "$work/cmp-null.log" -- "${IOREQD_ARGS[@]}" "${UART[@]}"
step "$bench" ioreq --label null --dm "$build/bench/bench-null-server" --rtt $RTT \
    --tp-ms $TP_MS --buffered $BUF --startups $STARTS --log "$work/null.log"
step "$bench" ioreq --label ioreqd --rtt $RTT --tp-ms $TP_MS --buffered $BUF \
    --startups $STARTS --log "$work/ioreqd.log" -- "${IOREQD_ARGS[@]}" "${UART[@]}"
step "$bench" dispatch --lookups $LOOKUPS --ranges 1000
step "$bench" consumer --count $((LOOKUPS / 20))
# virtio-blk: both cache modes, the default engine (aio=auto: io_uring
# where the kernel gives one) and the worker threads. "wb" is the page
# cache (cache=writeback, the default), "direct" is cache=none (O_DIRECT).
for v in "wb aio=auto" "wb_threads aio=threads" "direct cache=none,aio=auto" \
    "direct_threads cache=none,aio=threads"; do
    set -- $v
    step "$bench" vblk --file "$disk" --size-mib $DISK_MIB --run-ms $VBLK_MS --label "$1" \
        --disk-opts "$2" --log "$work/vblk-$1.log" -- "${IOREQD_ARGS[@]}"
done

# virtio-net is measured against QEMU only, in the alternating rounds below.

# fio: the same patterns on the same file in the same cache state as
# ioreqd's: through a page cache that holds the file (--invalidate=0; fio's
# default would drop it first and read from the disk) against "wb", and
# O_DIRECT against "direct"; psync at depth 1, io_uring at depth 32.
fio_run() { # label direct name rw bs depth engine
    local secs=$(((VBLK_MS + 999) / 1000)) json
    json=$(fio --name="$3" --filename="$disk" --rw="$4" --bs="$5" --iodepth="$6" \
        --ioengine="$7" --direct="$2" --invalidate=0 --time_based --runtime="$secs" \
        --output-format=json 2> /dev/null) || return 0
    local dir=read
    case $4 in *write) dir=write ;; esac
    echo "RESULT fio.$1.$3.iops $(jq ".jobs[0].$dir.iops" <<< "$json")"
    echo "RESULT fio.$1.$3.mib_s $(jq ".jobs[0].$dir.bw_bytes / 1048576" <<< "$json")"
}
if command -v fio > /dev/null && command -v jq > /dev/null; then
    echo "== fio on $disk" >&2
    {
        for m in "wb 0" "direct 1"; do
            set -- $m
            fio_run "$1" "$2" randread.qd1 randread 4k 1 psync
            fio_run "$1" "$2" randread.qd32 randread 4k 32 io_uring
            fio_run "$1" "$2" randwrite.qd1 randwrite 4k 1 psync
            fio_run "$1" "$2" randwrite.qd32 randwrite 4k 32 io_uring
            fio_run "$1" "$2" seqread.1m read 1m 1 psync
            fio_run "$1" "$2" seqwrite.1m write 1m 1 psync
        done
    } | tee -a "$results" | sed 's/^RESULT /   /' >&2
fi

# ---- ioreqd against QEMU ----
# The device model a user would run instead: Debian's QEMU (qemu-system-xen),
# unmodified, on the same mock and drop-in libraries. ioreqd and QEMU take
# turns, round after round, on every figure QEMU can serve: the PIO round
# trip (its 16550 at COM1 with -serial null), throughput by vCPU count,
# start-up time and RSS, and virtio-blk with the same guest driver in both
# cache modes. Debian's QEMU 7.2 has aio=threads only (no io_uring, no
# libaio), so ioreqd's worker threads meet QEMU's like for like and ioreqd's
# default engine is shown against the same QEMU figure. Keys carry -rN per
# round; peer_medians adds the medians over the rounds without it.
QEMU_XEN=${IOREQD_QEMU_XEN:-/usr/libexec/xen-qemu-system-i386}
# ioreqd --poll-us POLL_US is measured too, on the round trip back to back
# and with the vCPU busy GAP_US between requests (what polling costs).
POLL_US=50 GAP_US=20
peer_note=
peer_ioreq() { # round, ioreqd | ioreqd_poll | qemu
    case $2 in
    ioreqd) step "$bench" ioreq --label "peer-ioreqd-r$1" --rtt $RTT --gap-us $GAP_US \
        --tp-ms $PEER_TP_MS --buffered 0 --startups $STARTS --log "$work/peer-ioreqd.log" \
        -- "${IOREQD_ARGS[@]}" "${UART[@]}" ;;
    ioreqd_poll) step "$bench" ioreq --label "peer-ioreqd_poll-r$1" --rtt $RTT --gap-us $GAP_US \
        --tp-ms $PEER_TP_MS --buffered 0 --startups 0 --log "$work/peer-ioreqd-poll.log" \
        -- "${IOREQD_ARGS[@]}" "${UART[@]}" --poll-us $POLL_US ;;
    qemu) step "$bench" ioreq --qemu --dm "$QEMU_XEN" --label "peer-qemu-r$1" --rtt $RTT \
        --gap-us $GAP_US --tp-ms $PEER_TP_MS --buffered 0 --startups $STARTS \
        --log "$work/peer-qemu.log" -- -serial null ;;
    esac
}
# virtio-blk: every pattern is its own start of each variant, and the
# variants take turns pattern by pattern, PEER_VBLK_SLICES times in a round
# (the order reversed each time), so that the storage's own changes in speed
# (shared, and they last seconds) fall on all of them alike, not on whichever
# ran its six patterns in a slow minute. A slice is a sample of its own
# (label -rN-sM): the medians are over rounds times slices. The bench writes
# the image back before each pattern. VmHWM is per start: a variant's peak
# is the largest of its round's (peer_medians).
VBLK_PATTERNS="randread.qd1 randread.qd32 randwrite.qd1 randwrite.qd32 seqread.1m seqwrite.1m"
peer_vblk() { # round-slice, wb | direct, pattern, ioreqd_threads | ioreqd_auto | qemu
    local cache=writeback o
    [ "$2" = direct ] && cache=none
    if [ "$4" = qemu ]; then
        step "$bench" vblk --qemu --dm "$QEMU_XEN" --file "$disk" --size-mib $DISK_MIB \
            --run-ms $PEER_VBLK_MS --patterns "$3" --label "peer-$2-qemu-r$1" \
            --disk-opts "cache=$cache,aio=threads" --log "$work/peer-qemu-vblk.log"
        return
    fi
    o=aio=${4#ioreqd_}
    [ "$2" = direct ] && o="cache=none,$o"
    step "$bench" vblk --file "$disk" --size-mib $DISK_MIB --run-ms $PEER_VBLK_MS \
        --patterns "$3" --label "peer-$2_${4#ioreqd_}-ioreqd-r$1" --disk-opts "$o" \
        --log "$work/peer-vblk.log" -- "${IOREQD_ARGS[@]}"
}
# virtio-net with the same guest driver: on the socket backend (QEMU's
# -netdev dgram), the peer a thread of ioreqd-bench, and on a tap in a
# namespace of the bench's own (QEMU's -netdev tap), the kernel as the peer
# (root only); ioreqd --poll-us POLL_US on the tap round trip as an extra row.
vnet_tap_ok() { [ "$(id -u)" = 0 ] && command -v ip > /dev/null; }
peer_vnet() { # round, ioreqd | qemu
    local tap
    for tap in "" --tap; do
        local rtt=$((RTT / 5))
        if [ -n "$tap" ]; then
            vnet_tap_ok || continue
            rtt=$((RTT / 20))
        fi
        if [ "$2" = qemu ]; then
            step "$bench" vnet $tap --dm "$QEMU_XEN" --label "peer-qemu-r$1" --file "$work" \
                --run-ms $PEER_VNET_MS --rtt $rtt --log "$work/peer-qemu-vnet.log"
        else
            step "$bench" vnet $tap --label "peer-ioreqd-r$1" --file "$work" \
                --run-ms $PEER_VNET_MS --rtt $rtt --log "$work/peer-vnet.log" -- "${IOREQD_ARGS[@]}"
            if [ -n "$tap" ]; then
                step "$bench" vnet $tap --label "peer-ioreqd_poll-r$1" --patterns rtt \
                    --file "$work" --rtt $rtt --log "$work/peer-vnet-poll.log" \
                    -- "${IOREQD_ARGS[@]}" --poll-us $POLL_US
            fi
        fi
    done
}
# Odd rounds run ioreqd first, even rounds QEMU first; before each cache
# mode the image is read whole, so that every variant starts with it in the
# page cache (memory pressure from the neighbours evicts parts of it, and
# the first variant after that would warm it for the others).
peer_round() { # round number
    local r=$1 c p v s first=ioreqd second=qemu blk_order
    if [ $((r % 2)) = 0 ]; then first=qemu second=ioreqd; fi
    peer_ioreq "$r" "$first"
    [ $first = ioreqd ] && peer_ioreq "$r" ioreqd_poll
    peer_ioreq "$r" "$second"
    [ $second = ioreqd ] && peer_ioreq "$r" ioreqd_poll
    for c in wb direct; do
        cat "$disk" > /dev/null 2>&1 || true
        for p in $VBLK_PATTERNS; do
            for s in $(seq 1 $PEER_VBLK_SLICES); do
                blk_order="ioreqd_threads ioreqd_auto qemu"
                [ $(((r + s) % 2)) = 1 ] || blk_order="qemu ioreqd_auto ioreqd_threads"
                for v in $blk_order; do peer_vblk "$r-s$s" $c $p $v; done
            done
        done
    done
    peer_vnet "$r" $first
    peer_vnet "$r" $second
}
peer_medians() { # the median over the rounds (and slices) of every -rN[-sM] key (a peak: of each round's largest)
    awk '$1 == "RESULT" && $2 ~ /-r[0-9]+(-s[0-9]+)?\./ {
            k = $2; sub(/-r[0-9]+(-s[0-9]+)?\./, ".", k)
            if (k ~ /_peak_kib$/) {
                r = $2; sub(/^.*-r/, "", r); sub(/[^0-9].*$/, "", r)
                if (!((k, r) in seen)) { seen[k, r] = ++n[k]; v[k, n[k]] = $3 }
                else if ($3 > v[k, seen[k, r]]) v[k, seen[k, r]] = $3
                next
            }
            n[k]++; v[k, n[k]] = $3 }
         END {
            for (k in n) {
                m = n[k]
                for (i = 1; i <= m; i++) a[i] = v[k, i]
                for (i = 2; i <= m; i++)
                    for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                med = m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
                printf "RESULT %s %.6g\n", k, med
            }
         }' "$results" | sort
}
peer_run() {
    if [ "$peer_rounds" = 0 ]; then
        peer_note="The comparison with QEMU was skipped (--peer-rounds 0)."
        return 0
    fi
    if [ ! -x "$QEMU_XEN" ]; then
        peer_note="QEMU ($QEMU_XEN) is not installed: no QEMU figures (Debian package qemu-system-xen)."
        echo "run.sh: $peer_note" >&2
        return 0
    fi
    peer_note="ioreqd and $("$QEMU_XEN" --version | head -1) alternating, $peer_rounds rounds, medians (virtio-blk: $PEER_VBLK_SLICES slices of ${PEER_VBLK_MS} ms per pattern and round, $((peer_rounds * PEER_VBLK_SLICES)) samples)."
    local r
    for r in $(seq 1 "$peer_rounds"); do
        echo "== ioreqd against QEMU, round $r of $peer_rounds" >&2
        peer_round "$r"
    done
    peer_medians >> "$results"
}
peer_run

if [ $profile = 1 ]; then
    if command -v valgrind > /dev/null; then
        echo "== callgrind: ioreqd serving $((RTT / 5)) round trips and $((BUF / 10)) buffered writes" >&2
        # Under valgrind, ioreqd's deprivileging fails unless the descriptor
        # limit is already at most its own (valgrind refuses to change it)
        # and no seccomp filter is loaded (valgrind cannot run one).
        (
            ulimit -n 200 && ulimit -Hn 200
            "$bench" ioreq --label prof --prefix "$(command -v valgrind)" \
                --prefix-arg --tool=callgrind --prefix-arg "--callgrind-out-file=$work/cg.out" \
                --rtt $((RTT / 5)) --vcpus none --buffered $((BUF / 10)) --startups 0 \
                --log "$work/prof.log" -- "${IOREQD_ARGS[@]}" --no-seccomp "${UART[@]}" > /dev/null
        )
        callgrind_annotate --inclusive=no "$work/cg.out" 2> /dev/null | sed -n '1,40p' >&2
    else
        echo "run.sh: --profile needs valgrind" >&2
    fi
fi

# ---- table and BENCHMARKS.md ----
declare -A R
while read -r tag key val; do
    [ "$tag" = RESULT ] && R[$key]=$val
done < "$results"
get() { echo "${R[$1]:-n/a}"; }
fmt() { # value [divisor] [decimals]
    local v=${1:-n/a}
    [ "$v" = n/a ] && { echo n/a; return; }
    awk -v v="$v" -v d="${2:-1}" -v p="${3:-0}" 'BEGIN { printf "%.*f", p, v / d }'
}
ratio() {
    local a=${R[$1]:-} b=${R[$2]:-}
    [ -n "$a" ] && [ -n "$b" ] || { echo n/a; return; }
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }'
}
us() { fmt "$(get "$1")" 1000 1; }

when=$(date -u '+%Y-%m-%d %H:%M UTC')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mode=full
[ $quick = 1 ] && mode=quick
cmd="bench/run.sh"
[ $quick = 1 ] && cmd="$cmd --quick"
[ ${#pin[@]} = 0 ] || cmd="$cmd --pin ${pin[2]}"
[ "$peer_rounds" = 3 ] || cmd="$cmd --peer-rounds $peer_rounds"

table=$work/table
{
    echo "| # | figure | ioreqd | baseline | ratio | goal |"
    echo "|---|--------|--------|----------|-------|------|"
    echo "| 1 | round trip, interleaved, median (us) | $(us cmp.ioreqd.median_ns) | null $(us cmp.null.median_ns) / floor $(us cmp.floor.median_ns) | c/b $(ratio cmp.ioreqd.median_ns cmp.null.median_ns), c/a $(ratio cmp.ioreqd.median_ns cmp.floor.median_ns) | c/b <= 1.10 |"
    echo "| 1 | round trip, interleaved, p99 (us) | $(us cmp.ioreqd.p99_ns) | null $(us cmp.null.p99_ns) / floor $(us cmp.floor.p99_ns) | c/b $(ratio cmp.ioreqd.p99_ns cmp.null.p99_ns), c/a $(ratio cmp.ioreqd.p99_ns cmp.floor.p99_ns) | |"
    echo "| 1 | round trip, alone, median (us) | $(us rtt.ioreqd.median_ns) | null $(us rtt.null.median_ns) / floor $(us rtt.floor.median_ns) | c/b $(ratio rtt.ioreqd.median_ns rtt.null.median_ns), c/a $(ratio rtt.ioreqd.median_ns rtt.floor.median_ns) | c/b <= 1.10 |"
    echo "| 1 | round trip, alone, p99 (us) | $(us rtt.ioreqd.p99_ns) | null $(us rtt.null.p99_ns) / floor $(us rtt.floor.p99_ns) | c/b $(ratio rtt.ioreqd.p99_ns rtt.null.p99_ns), c/a $(ratio rtt.ioreqd.p99_ns rtt.floor.p99_ns) | |"
    for v in 1 2 8 32 128; do
        echo "| 2 | throughput, $v vCPU, interleaved (req/s) | $(fmt "$(get cmp.tp.ioreqd.v$v.per_s)") | null $(fmt "$(get cmp.tp.null.v$v.per_s)") | $(ratio cmp.tp.ioreqd.v$v.per_s cmp.tp.null.v$v.per_s) (scaling vs 1 vCPU: $(ratio cmp.tp.ioreqd.v$v.per_s cmp.tp.ioreqd.v1.per_s)) | |"
    done
    for v in 1 2 8 32 128; do
        echo "| 2 | throughput, $v vCPU, alone (req/s) | $(fmt "$(get tp.ioreqd.v$v.per_s)") | null $(fmt "$(get tp.null.v$v.per_s)") | $(ratio tp.ioreqd.v$v.per_s tp.null.v$v.per_s) | |"
    done
    echo "| 3 | buffered writes, interleaved (M/s) | $(fmt "$(get cmp.buf.ioreqd.per_s)" 1e6 2) | null $(fmt "$(get cmp.buf.null.per_s)" 1e6 2) | $(ratio cmp.buf.ioreqd.per_s cmp.buf.null.per_s) (ring-full fallbacks: ioreqd $(get cmp.buf.ioreqd.sync_fallbacks), null $(get cmp.buf.null.sync_fallbacks)) | >= 20 M/s |"
    echo "| 3 | buffered writes, alone (M/s) | $(fmt "$(get buf.ioreqd.per_s)" 1e6 2) | null $(fmt "$(get buf.null.per_s)" 1e6 2) | $(ratio buf.ioreqd.per_s buf.null.per_s) (ring-full fallbacks: ioreqd $(get buf.ioreqd.sync_fallbacks), null $(get buf.null.sync_fallbacks)) | >= 20 M/s |"
    echo "| 3 | buffered writes, producer waits for room, interleaved (M/s) | $(fmt "$(get cmp.buf.ioreqd.wait.per_s)" 1e6 2) | null $(fmt "$(get cmp.buf.null.wait.per_s)" 1e6 2) | $(ratio cmp.buf.ioreqd.wait.per_s cmp.buf.null.wait.per_s) | >= 20 M/s |"
    echo "| 3 | buffered writes, producer waits for room, alone (M/s) | $(fmt "$(get buf.ioreqd.wait.per_s)" 1e6 2) | null $(fmt "$(get buf.null.wait.per_s)" 1e6 2) | $(ratio buf.ioreqd.wait.per_s buf.null.wait.per_s) | >= 20 M/s |"
    echo "| 3 | buffered ring consumer alone, in-process (M/s) | $(fmt "$(get consumer.inproc.per_s)" 1e6 1) | | | >= 20 M/s |"
    echo "| 4 | round trip, 1000 vs 1 ranges, interleaved median (us) | null+registry: $(us cmp.null_r1000.median_ns) | $(us cmp.null_r1.median_ns) | $(ratio cmp.null_r1000.median_ns cmp.null_r1.median_ns) | <= 1.05 |"
    echo "| 4 | registry lookup in-process (ns) | 1000 ranges: $(fmt "$(get dispatch.inproc.r1000.ns)" 1 1) | 1 range: $(fmt "$(get dispatch.inproc.r1.ns)" 1 1) | $(ratio dispatch.inproc.r1000.ns dispatch.inproc.r1.ns) | |"
    for e in wb wb_threads direct direct_threads; do
        base=${e%_threads}
        for p in randread.qd1 randread.qd32 randwrite.qd1 randwrite.qd32; do
            g=
            case $p in *qd32) g=">= 0.90" ;; esac
            echo "| 5 | virtio-blk $e 4 KiB $p (IOPS) | $(fmt "$(get vblk.$e.$p.iops)") | fio $base $(fmt "$(get fio.$base.$p.iops)") | $(ratio vblk.$e.$p.iops fio.$base.$p.iops) | $g |"
        done
        for p in seqread.1m seqwrite.1m; do
            echo "| 5 | virtio-blk $e 1 MiB $p (MiB/s) | $(fmt "$(get vblk.$e.$p.mib_s)") | fio $base $(fmt "$(get fio.$base.$p.mib_s)") | $(ratio vblk.$e.$p.mib_s fio.$base.$p.mib_s) | |"
        done
    done
    echo "| 6 | RSS idle (KiB) | $(get rss.ioreqd.idle_kib) | null $(get rss.null.idle_kib) | | |"
    echo "| 6 | RSS under load, 128 vCPUs / virtio-blk QD32 (KiB) | $(get rss.ioreqd.load_v128_kib) / $(get rss.ioreqd.wb.after_vblk_qd32_kib) | | | |"
    echo "| 6 | RSS peak (VmHWM, KiB): request path / virtio-blk | $(get rss.ioreqd.peak_kib) / $(get rss.ioreqd.wb.vblk_peak_kib) | null $(get rss.null.peak_kib) | | |"
    echo "| 6 | start to state=running, median (ms) | $(fmt "$(get startup.ioreqd.median_ns)" 1e6 1) | null $(fmt "$(get startup.null.median_ns)" 1e6 1) | $(ratio startup.ioreqd.median_ns startup.null.median_ns) | |"
} > "$table"

# ioreqd against QEMU: medians of the alternating rounds; the ratio is
# ioreqd/QEMU, above 1 is ioreqd ahead for rates and behind for times.
peer_table=$work/peer-table
{
    echo "| # | figure | ioreqd | QEMU | ioreqd/QEMU | goal |"
    echo "|---|--------|--------|------|-------------|------|"
    echo "| Q1 | round trip, median (us) | $(us rtt.peer-ioreqd.median_ns) | $(us rtt.peer-qemu.median_ns) | $(ratio rtt.peer-ioreqd.median_ns rtt.peer-qemu.median_ns) | <= 1 |"
    echo "| Q1 | round trip, p99 (us) | $(us rtt.peer-ioreqd.p99_ns) | $(us rtt.peer-qemu.p99_ns) | $(ratio rtt.peer-ioreqd.p99_ns rtt.peer-qemu.p99_ns) | |"
    echo "| Q1 | device model CPU per round trip (us) | $(us rtt.peer-ioreqd.dm_cpu_ns_per_req) | $(us rtt.peer-qemu.dm_cpu_ns_per_req) | $(ratio rtt.peer-ioreqd.dm_cpu_ns_per_req rtt.peer-qemu.dm_cpu_ns_per_req) | |"
    echo "| Q1 | round trip, ioreqd --poll-us $POLL_US, median (us) | $(us rtt.peer-ioreqd_poll.median_ns) | $(us rtt.peer-qemu.median_ns) | $(ratio rtt.peer-ioreqd_poll.median_ns rtt.peer-qemu.median_ns) (polling / not: $(ratio rtt.peer-ioreqd_poll.median_ns rtt.peer-ioreqd.median_ns)) | |"
    echo "| Q1 | device model CPU per round trip, ioreqd --poll-us $POLL_US (us) | $(us rtt.peer-ioreqd_poll.dm_cpu_ns_per_req) | $(us rtt.peer-qemu.dm_cpu_ns_per_req) | $(ratio rtt.peer-ioreqd_poll.dm_cpu_ns_per_req rtt.peer-qemu.dm_cpu_ns_per_req) (polling / not: $(ratio rtt.peer-ioreqd_poll.dm_cpu_ns_per_req rtt.peer-ioreqd.dm_cpu_ns_per_req)) | |"
    echo "| Q1 | round trip, vCPU busy $GAP_US us between, median (us): ioreqd / --poll-us $POLL_US | $(us rttgap.peer-ioreqd.median_ns) / $(us rttgap.peer-ioreqd_poll.median_ns) | $(us rttgap.peer-qemu.median_ns) | $(ratio rttgap.peer-ioreqd.median_ns rttgap.peer-qemu.median_ns) / $(ratio rttgap.peer-ioreqd_poll.median_ns rttgap.peer-qemu.median_ns) | |"
    echo "| Q1 | device model CPU per request, vCPU busy $GAP_US us between (us): ioreqd / --poll-us $POLL_US | $(us rttgap.peer-ioreqd.dm_cpu_ns_per_req) / $(us rttgap.peer-ioreqd_poll.dm_cpu_ns_per_req) | $(us rttgap.peer-qemu.dm_cpu_ns_per_req) | $(ratio rttgap.peer-ioreqd.dm_cpu_ns_per_req rttgap.peer-qemu.dm_cpu_ns_per_req) / $(ratio rttgap.peer-ioreqd_poll.dm_cpu_ns_per_req rttgap.peer-qemu.dm_cpu_ns_per_req) | |"
    for v in 1 2 8 32 128; do
        echo "| Q2 | throughput, $v vCPU (req/s) | $(fmt "$(get tp.peer-ioreqd.v$v.per_s)") | $(fmt "$(get tp.peer-qemu.v$v.per_s)") | $(ratio tp.peer-ioreqd.v$v.per_s tp.peer-qemu.v$v.per_s) | >= 1 |"
    done
    for v in 1 8 128; do
        echo "| Q2 | throughput, $v vCPU, ioreqd --poll-us $POLL_US (req/s) | $(fmt "$(get tp.peer-ioreqd_poll.v$v.per_s)") | $(fmt "$(get tp.peer-qemu.v$v.per_s)") | $(ratio tp.peer-ioreqd_poll.v$v.per_s tp.peer-qemu.v$v.per_s) | |"
    done
    for c in wb direct; do
        for e in threads auto; do
            for p in randread.qd1 randread.qd32 randwrite.qd1 randwrite.qd32; do
                echo "| Q3 | virtio-blk ${c} ioreqd aio=$e / QEMU aio=threads, 4 KiB $p (IOPS) | $(fmt "$(get vblk.peer-${c}_$e-ioreqd.$p.iops)") | $(fmt "$(get vblk.peer-$c-qemu.$p.iops)") | $(ratio vblk.peer-${c}_$e-ioreqd.$p.iops vblk.peer-$c-qemu.$p.iops) | >= 1 |"
            done
            for p in seqread.1m seqwrite.1m; do
                echo "| Q3 | virtio-blk ${c} ioreqd aio=$e / QEMU aio=threads, 1 MiB $p (MiB/s) | $(fmt "$(get vblk.peer-${c}_$e-ioreqd.$p.mib_s)") | $(fmt "$(get vblk.peer-$c-qemu.$p.mib_s)") | $(ratio vblk.peer-${c}_$e-ioreqd.$p.mib_s vblk.peer-$c-qemu.$p.mib_s) | >= 1 |"
            done
        done
    done
    echo "| Q4 | start to state=running, median (ms) | $(fmt "$(get startup.peer-ioreqd.median_ns)" 1e6 1) | $(fmt "$(get startup.peer-qemu.median_ns)" 1e6 1) | $(ratio startup.peer-ioreqd.median_ns startup.peer-qemu.median_ns) | |"
    echo "| Q4 | RSS idle (KiB) | $(get rss.peer-ioreqd.idle_kib) | $(get rss.peer-qemu.idle_kib) | $(ratio rss.peer-ioreqd.idle_kib rss.peer-qemu.idle_kib) | |"
    echo "| Q4 | RSS peak (VmHWM, KiB), request path | $(get rss.peer-ioreqd.peak_kib) | $(get rss.peer-qemu.peak_kib) | $(ratio rss.peer-ioreqd.peak_kib rss.peer-qemu.peak_kib) | |"
    echo "| Q4 | RSS peak (VmHWM, KiB), virtio-blk wb threads | $(get rss.ioreqd.peer-wb_threads-ioreqd.vblk_peak_kib) | $(get rss.qemu.peer-wb-qemu.vblk_peak_kib) | $(ratio rss.ioreqd.peer-wb_threads-ioreqd.vblk_peak_kib rss.qemu.peer-wb-qemu.vblk_peak_kib) | |"
    for b in vnet vnet_tap; do
        w=socket
        if [ $b = vnet_tap ]; then
            w=tap
            if ! vnet_tap_ok; then
                echo "| Q5 | virtio-net on a tap: not measured (needs root and ip) | | | | |"
                continue
            fi
        fi
        echo "| Q5 | virtio-net $w round trip 64 B, median (us) | $(us $b.peer-ioreqd.rtt.median_ns) | $(us $b.peer-qemu.rtt.median_ns) | $(ratio $b.peer-ioreqd.rtt.median_ns $b.peer-qemu.rtt.median_ns) | <= 1 |"
        echo "| Q5 | virtio-net $w round trip 64 B, p99 (us) | $(us $b.peer-ioreqd.rtt.p99_ns) | $(us $b.peer-qemu.rtt.p99_ns) | $(ratio $b.peer-ioreqd.rtt.p99_ns $b.peer-qemu.rtt.p99_ns) | |"
        if [ $b = vnet_tap ]; then echo "| Q5 | virtio-net tap round trip 64 B, ioreqd --poll-us $POLL_US, median (us) | $(us $b.peer-ioreqd_poll.rtt.median_ns) | $(us $b.peer-qemu.rtt.median_ns) | $(ratio $b.peer-ioreqd_poll.rtt.median_ns $b.peer-qemu.rtt.median_ns) | |"; fi
        for d in tx rx; do
            echo "| Q5 | virtio-net $w $d 64 B (frames/s) | $(fmt "$(get $b.peer-ioreqd.$d.64.frames_s)") | $(fmt "$(get $b.peer-qemu.$d.64.frames_s)") | $(ratio $b.peer-ioreqd.$d.64.frames_s $b.peer-qemu.$d.64.frames_s) | >= 1 |"
            echo "| Q5 | virtio-net $w $d 1500 B (Gbit/s) | $(fmt "$(get $b.peer-ioreqd.$d.1500.gbit_s)" 1 3) | $(fmt "$(get $b.peer-qemu.$d.1500.gbit_s)" 1 3) | $(ratio $b.peer-ioreqd.$d.1500.gbit_s $b.peer-qemu.$d.1500.gbit_s) | >= 1 |"
        done
        if [ $b = vnet_tap ]; then echo "| Q5 | virtio-net tap tx 64 KiB TSO4 frames (Gbit/s) | $(fmt "$(get $b.peer-ioreqd.tso.gbit_s)" 1 2) | $(fmt "$(get $b.peer-qemu.tso.gbit_s)" 1 2) | $(ratio $b.peer-ioreqd.tso.gbit_s $b.peer-qemu.tso.gbit_s) | >= 1 |"; fi
        echo "| Q5 | virtio-net $w rx 64 B, interrupts per frame | $(fmt "$(get $b.peer-ioreqd.rx.64.irqs_per_frame)" 1 3) | $(fmt "$(get $b.peer-qemu.rx.64.irqs_per_frame)" 1 3) | | |"
    done
} > "$peer_table"

echo >&2
cat "$table"
echo
echo "$peer_note"
cat "$peer_table"

{
    cat "$here/BENCHMARKS.head.md"
    echo
    echo "## Latest run"
    echo
    echo "Date: $when. Machine: $(nproc) CPUs, $cpu. Mode: $mode (\`$cmd\`)."
    echo "Load average (1, 5, 15 min) at the start: $load_start; at the end: $load_end."
    echo
    cat "$table"
    echo
    echo "### ioreqd against QEMU"
    echo
    echo "$peer_note"
    echo
    cat "$peer_table"
    echo
    echo "Raw results of this run (\`RESULT key value\` lines of ioreqd-bench and fio):"
    echo
    echo '```'
    cat "$results"
    echo '```'
    echo
    cat "$here/BENCHMARKS.tail.md"
} > "$out"
echo "run.sh: wrote $out" >&2
