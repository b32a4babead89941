#!/bin/sh
# The GRUB boot from ioreqd's virtio-blk (bdf=04.0) with ioreqd as a
# secondary ioreq server beside QEMU, which serves the chipset.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
need_qemu
make_disk grub
start_mockxen -- "$QEMU" $QEMU_XENFV \
    -- "$IOREQD" --domid 1 -F --control-socket none \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/grub.img,bdf=04.0"
wait_mockxen 0
fw_has "found virtio-blk at 00:04.0"
check_grub_output "$dir/com1.out"
