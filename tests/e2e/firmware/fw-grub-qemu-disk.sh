#!/bin/sh
# The GRUB boot from QEMU's own virtio-blk-pci (00:04.0), with ioreqd beside
# QEMU as a secondary ioreq server that only serves the UART GRUB prints on.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
need_qemu
make_disk grub
start_mockxen -- "$QEMU" $QEMU_XENFV \
    -drive "if=none,id=disk0,format=raw,file=$dir/grub.img" \
    -device virtio-blk-pci,drive=disk0,addr=0x4 \
    -- "$IOREQD" --domid 1 -F --control-socket none \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out"
wait_mockxen 0
fw_has "found virtio-blk at 00:04.0"
check_grub_output "$dir/com1.out"
