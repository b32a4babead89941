#!/bin/sh
# SeaBIOS finds ioreqd's virtio-blk, reads the boot sector from it and jumps
# to it; the boot sector prints through ioreqd's UART, reads LBA 1 through
# int 13h (SeaBIOS's virtio-blk driver again) and halts: mockxen exits 0.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
make_disk mbr
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket none \
    --device host-bridge \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/mbr.img,bdf=03.0"
wait_mockxen 0
fw_has "HVM Loader"
fw_has "found virtio-blk at 00:03.0"
ends_with "$dir/com1.out" "$BS_RUNNING$CRLF$BS_LBA1$CRLF"
