#!/bin/sh
# iPXE boots over ioreqd's virtio-net (the set-up and what iPXE does are in
# ipxe-net.sh, shared with the demo's network step): boot.ipxe is over
# 64 KiB so that TFTP moves it in many blocks, data.bin 40000 bytes.
# The host checks: dnsmasq acknowledged 10.0.2.15 for the MAC ioreqd gives
# the card, iPXE reported that address and MAC, TFTP sent each file to the
# end, ioreqctl stats counts the same frames as the tap's own counters, with
# the files' bytes among them, and ioreqctl status shows the card as set up.
. "$(dirname "$0")/fw-lib.sh"
. "$(dirname "$0")/ipxe-net.sh"
need_firmware
ipxe_need
# The boot takes some 10 s on an idle host.
FW_TIMEOUT=${IOREQD_FW_TIMEOUT:-45}

cleanup_hook=ipxe_net_down
ipxe_files 1200 40000
script_size=$(wc -c <"$ipxe_tftp/boot.ipxe")
[ "$script_size" -gt 65536 ] || fail "boot.ipxe is only $script_size bytes"
ipxe_net_up ioreqd-ipxe-$$ ipxe$(($$ % 100000))
ipxe_boot
ipxe_counters
# The MAC in the DHCPACK is the one ioreqd gave the card.
status=$(XENSTORED_PATH=$dir/xs.sock "$IOREQCTL" --socket "$dir/ctl.sock" status --domid 1) ||
    fail "ioreqctl status failed"
card=$(printf '%s\n' "$status" | grep -F "virtio-net: 00:03.0 1af4:1041 ")
case $card in
*" tap=$ipxe_tap mac=$IPXE_MAC queues=1 romfile=$IPXE_ROM link=up "*) ;;
*) fail "ioreqctl status shows the card as: $card" ;;
esac
stop_mockxen
