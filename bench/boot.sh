#!/bin/bash
# bench/boot.sh: how long a real firmware boot takes on the mock, with ioreqd
# and with Debian's QEMU as the device model that serves the disk and COM1.
#
#   bench/boot.sh [--runs N] [--build-dir DIR]
#
# Each run is one whole mockxen --firmware process: device model start-up,
# hvmloader, SeaBIOS, the boot sector (tools/guest/bootsector.S) read from a
# virtio-blk disk, its two lines on COM1, cli; hlt. The two device models
# alternate (ioreqd, QEMU, ioreqd, ...) so that load on the machine hits both
# alike; the figures are medians. One more run of each with
# --count-instructions, not timed, gives mockxen's counters: ioreqs by type,
# accesses Xen handles itself, instructions emulated (mockxen(1)).
# Prints a Markdown table; nothing passes or fails on a figure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=$src/build
runs=5
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift ;;
    --build-dir) build=$2; shift ;;
    -h | --help) sed -n "2,14p" "$0"; exit 0 ;;
    *) echo "boot.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

mockxen=$build/tools/mockxen/mockxen
ioreqd=$build/daemon/ioreqd
libdir=$build/shim/lib
qemu=${IOREQD_QEMU_XEN:-/usr/libexec/xen-qemu-system-i386}
for f in "$mockxen" "$ioreqd"; do
    [ -x "$f" ] || { echo "boot.sh: $f missing: build first (scripts/build.sh $build)" >&2; exit 1; }
done
[ -x "$qemu" ] || { echo "boot.sh: $qemu missing (qemu-system-xen)" >&2; exit 1; }

work=$(mktemp -d /tmp/ioreqd-bootbench-XXXXXX)
trap 'rm -rf "$work"' EXIT
sh "$src/tests/e2e/firmware/make-disk.sh" mbr "$work/mbr.img"
lines='BOOTSECTOR: running from the MBR\r\nLBA1: read by the BIOS from the boot disk\r\n'
want=$(printf "$lines" | od -An -c)
want_len=$(printf "$lines" | wc -c)

# run DM N: one boot; prints "ms" and mockxen's counter lines to $work/DM.N.*
run() {
    local dm=$1 n=$2 t0 t1 rc=0 extra=()
    local out=$work/$dm.$n.com1 log=$work/$dm.$n.mockxen fw=$work/$dm.$n.firmware
    local dmcmd
    rm -f "$out"
    if [ "$dm" = ioreqd ]; then
        dmcmd=("$ioreqd" --domid 1 -F --control-socket none --device host-bridge
            --device "uart,port=0x3f8,irq=4,backend=file:$out"
            --device "virtio-blk,file=$work/mbr.img,bdf=03.0")
    else
        dmcmd=("$qemu" -xen-domid 1 -machine xenfv -m 128 -display none -nodefaults
            -monitor none -serial "file:$out"
            -drive "if=none,id=disk0,format=raw,file=$work/mbr.img"
            -device virtio-blk-pci,drive=disk0,addr=0x3)
    fi
    # The counting run is not timed: counting slows the emulated vCPU down.
    case $n in count*) extra=(--count-instructions) ;; esac
    t0=$(date +%s%N)
    "$mockxen" "${extra[@]}" --domid 1 --memory 128M --libdir "$libdir" --socket "$work/hv.sock" \
        --xenstore-socket "$work/xs.sock" --firmware --firmware-log "$fw" --timeout 30 \
        -- "${dmcmd[@]}" > "$log" 2>&1 || rc=$?
    t1=$(date +%s%N)
    if [ $rc -ne 0 ] || [ "$(tail -c "$want_len" "$out" 2> /dev/null | od -An -c)" != "$want" ]; then
        # Counted and left out of the figures, with mockxen's verdict.
        echo "boot.sh: $dm run $n failed (mockxen exit $rc): $(grep '^mockxen: ' "$log" | head -1)" >&2
        echo "$dm run $n: exit $rc, $(grep '^mockxen: ' "$log" | head -1)" >> "$work/failed"
        return 0
    fi
    echo $(((t1 - t0) / 1000000)) > "$work/$dm.$n.ms"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# mockxen's counters (mockxen(1), --firmware): its closing lines, "S s: ioreqs
# pio N mmio N pci-config N, unclaimed N, Xen's own pio N mmio N, ..." and,
# with --count-instructions, "N instructions, M million per second".
counters() {
    sed -n 's/^mockxen: \([0-9.]* s: ioreqs .*\)$/\1/p; s/^mockxen: \([0-9]* instructions.*\)$/\1/p' "$1"
}

echo "boot.sh: $runs runs each, alternating ioreqd and QEMU" >&2
for n in $(seq 1 "$runs"); do
    for dm in ioreqd qemu; do
        run "$dm" "$n"
        [ -f "$work/$dm.$n.ms" ] && echo "  $dm run $n: $(cat "$work/$dm.$n.ms") ms" >&2
    done
done

when=$(date -u '+%Y-%m-%d %H:%M UTC')
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "Firmware boot, power-on to the boot sector's halt ($runs runs each, alternating, $when, load $load)"
echo
echo "| device model | runs booted | median (ms) | min (ms) | max (ms) |"
echo "|---|---|---|---|---|"
for dm in ioreqd qemu; do
    ms=$(cat "$work/$dm".[0-9]*.ms 2> /dev/null || true) # not the count* runs
    if [ -z "$ms" ]; then
        echo "| $dm | 0 of $runs | n/a | n/a | n/a |"
        continue
    fi
    echo "| $dm | $(wc -l <<< "$ms") of $runs | $(median <<< "$ms") | $(sort -n <<< "$ms" | head -1) | $(sort -n <<< "$ms" | tail -1) |"
done
if [ -f "$work/failed" ]; then
    echo
    echo "Runs that did not boot (left out above):"
    echo
    sed 's/^/    /' "$work/failed"
fi
for dm in ioreqd qemu; do
    echo
    for try in 1 2 3; do
        run "$dm" "count$try"
        if [ -f "$work/$dm.count$try.ms" ]; then
            echo "mockxen's counters, $dm (one more run with --count-instructions, not timed):"
            echo
            counters "$work/$dm.count$try.mockxen" | sed 's/^/    /'
            break
        fi
        [ $try = 3 ] && echo "mockxen's counters, $dm: no run with --count-instructions booted in 3 tries"
    done
done
