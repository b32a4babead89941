#!/bin/sh
# hvmloader's PCI scan with ioreqd as the only device model: it finds
# ioreqd's host bridge, Xen platform device and virtio-blk, assigns their
# BARs and INTx lines, and ioreqctl status shows the same addresses, mapped,
# and the same lines. (No PIIX3 here, so no PCI-ISA link routing: that is
# e2e-fw-pci-qemu's.)
# The guest ends waiting at the boot sector's gate, so it is still running
# when ioreqctl asks.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
make_disk gate
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket "$dir/ctl.sock" \
    --device host-bridge --device xen-platform,bdf=02.0 \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/gate.img,bdf=03.0"
# hvmloader invokes SeaBIOS after its PCI set-up; SeaBIOS moves no BAR on Xen.
wait_for "$FWLOG" "Invoking SeaBIOS"
fw_has "HVM Loader"
json=$(ctl_json "$dir/ctl.sock")
functions=$(ctl_functions "$json")
[ "$functions" = "00:00.0 8086:1237
00:02.0 5853:0001
00:03.0 1af4:1042" ] || fail "ioreqd serves
$functions"
# Xen platform device: I/O BAR 0 and memory BAR 1; virtio-blk: BAR 4.
bars=$(ctl_bars "$json" | cut -d' ' -f1,2 | tr '\n' ' ')
[ "$bars" = "00:02.0 bar0 00:02.0 bar1 00:03.0 bar4 " ] || fail "BARs: $bars"
check_pci_against_ctl "$json"
stop_mockxen
