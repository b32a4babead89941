#!/bin/sh
# GRUB from ioreqd's virtio-blk: SeaBIOS boots GRUB's MBR, GRUB loads its
# core image from the gap after it, reads two files from the ext4
# partition and prints one and the SHA-256 of both on ioreqd's UART; the
# sums are the host's. GRUB then chainloads a boot sector from ext4 that
# halts: mockxen exits 0.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
make_disk grub
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket none \
    --device host-bridge \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/grub.img,bdf=03.0"
wait_mockxen 0
fw_has "found virtio-blk at 00:03.0"
check_grub_output "$dir/com1.out"
