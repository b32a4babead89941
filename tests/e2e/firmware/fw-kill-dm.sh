#!/bin/sh
# kill -9 of the device model serving the boot disk while the firmware's
# disk driver uses it: the vCPU blocks on the dead server, mockxen reports
# it and exits 4, and nothing is left running.
#
# Two ioreqds: A serves the disk, B the host bridge and a UART on a unix
# socket (uart-relay carries it). The boot sector (make-disk.sh gate) says
# it waits for a byte; the test kills A, then sends the byte; the guest
# prints on B's UART that it reads on and its next int 13h read reaches A.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
make_disk gate
mkfifo "$dir/to-guest"
"$UART_RELAY" "$dir/com1.sock" <"$dir/to-guest" >"$dir/com1.out" &
relay_pid=$!
exec 3>"$dir/to-guest"
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket "$dir/disk.sock" \
    --pidfile "$dir/disk.pid" --device "virtio-blk,file=$dir/gate.img,bdf=03.0" \
    -- "$IOREQD" --domid 1 -F --control-socket none --pidfile "$dir/uart.pid" \
    --device host-bridge --device "uart,port=0x3f8,irq=4,backend=unix:$dir/com1.sock"
wait_for "$dir/com1.out" "$BS_WAITING"
fw_has "found virtio-blk at 00:03.0"

json=$(ctl_json "$dir/disk.sock")
disk_pid=$(cat "$dir/disk.pid")
uart_pid=$(cat "$dir/uart.pid") # gone with the file when it exits
server=$(printf '%s\n' "$json" |
    sed -n "s/.*\"status\":{\"domid\":1,\"pid\":$disk_pid,\"version\":\"[^\"]*\",\"vcpus\":[0-9]*,\"server_id\":\([0-9]*\),.*/\1/p")
[ -n "$server" ] || fail "no server id from the disk's ioreqd (pid $disk_pid)"

kill -KILL "$disk_pid"
# Dead once it is a zombie (mockxen, its parent, reaps it) or gone.
while [ -e "/proc/$disk_pid" ] && [ "$(cut -d')' -f2 "/proc/$disk_pid/stat" 2>/dev/null | cut -d' ' -f2)" != Z ]; do
    sleep 0.05
done
printf 'g' >&3
exec 3>&-
wait_mockxen 4
grep -q -F "vCPU 0 stranded on ioreq server $server" "$MXLOG" ||
    fail "mockxen did not report vCPU 0 stranded on ioreq server $server"
# The byte went through B, and the guest went on to read the disk.
rc=0
wait "$relay_pid" || rc=$?
relay_pid=
grep -a -q -F "$BS_READING" "$dir/com1.out" || fail "the guest did not go on to read the disk"
for pid in "$disk_pid" "$uart_pid"; do
    ! kill -0 "$pid" 2>/dev/null || fail "device model $pid still runs"
done
