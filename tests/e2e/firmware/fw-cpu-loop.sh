#!/bin/sh
# The emulated vCPU computes what a processor computes: SeaBIOS boots
# cpu-loop.S from ioreqd's disk, which runs one integer loop with interrupts
# off and again with them on and prints both results on ioreqd's UART; the
# host computes the same loop (cpu-loop-expect). Stopping and restarting the
# vCPU (for interrupts, or in slices while they are off) must lose nothing.
# Usage as the other firmware tests, plus CPU-LOOP-EXPECT as the 5th argument.
. "$(dirname "$0")/fw-lib.sh"
EXPECT=$5
need_firmware
CPU_LOOP_ITER=3000000 make_disk cpuloop
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket none \
    --device host-bridge \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-blk,file=$dir/cpuloop.img,bdf=03.0"
wait_mockxen 0
fw_has "Booting from 0000:7c00"
want=$("$EXPECT" 3000000; printf x) # the x keeps the final newline
ends_with "$dir/com1.out" "${want%x}"
