#!/bin/sh
# hvmloader's PCI scan with Debian's QEMU as the primary device model and
# ioreqd beside it: hvmloader routes the PCI-ISA links through QEMU's PIIX3
# (00:01.0), every function's INTx follows the links, ioreqd's BARs are
# where hvmloader put them, and ioreqd, given no bdf=, put its virtio-blk in
# no slot hvmloader reserves (00:00 host bridge, 00:01 the PIIX3 whose
# identity it asserts: PCI_ISA_DEVFN in tools/firmware/hvmloader/pci.c) nor
# any slot QEMU's machine fills, but in the first of its own default range,
# 00:10.0 (ioreqd(8), DEVICES). QEMU runs as libxl runs it without the Xen
# platform device ("pc,accel=xen").
. "$(dirname "$0")/fw-lib.sh"
need_firmware
need_qemu
make_disk gate
start_mockxen -- "$QEMU" $QEMU_PC \
    -- "$IOREQD" --domid 1 -F --control-socket "$dir/ctl.sock" \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/gate.img"
wait_for "$FWLOG" "Invoking SeaBIOS"
fw_has "HVM Loader"
check_routing
# QEMU's PIIX3 IDE function: its bus-master I/O BAR (BAR4) was assigned.
[ "$(fw_bars 00:01.1 | cut -d' ' -f2)" = bar4 ] ||
    fail "hvmloader did not assign the BAR of QEMU's IDE function 00:01.1"
json=$(ctl_json "$dir/ctl.sock")
functions=$(ctl_functions "$json")
[ "$(printf '%s\n' "$functions" | wc -l)" -eq 1 ] || fail "ioreqd serves
$functions"
case $functions in
"00:00."* | "00:01."*) fail "ioreqd put its virtio-blk at ${functions%% *} by default, a slot hvmloader reserves" ;;
"00:10.0 1af4:1042") ;;
*) fail "ioreqd serves $functions, expected its virtio-blk at 00:10.0" ;;
esac
check_pci_against_ctl "$json"
stop_mockxen
