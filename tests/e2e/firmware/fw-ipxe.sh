#!/bin/sh
# iPXE boots over ioreqd's virtio-net. In a network namespace of the test's
# own: a tap at 10.0.2.2/24 (and fd00:49::2/64, so that dnsmasq's router
# advertisements end iPXE's IPv6 set-up at once instead of by its timeout),
# dnsmasq serving DHCP and TFTP on it, and mockxen with ioreqd, which holds
# the tap and iPXE's BIOS ROM (romfile=) and no disk. SeaBIOS runs the ROM's
# boot entry; iPXE's own virtio-net driver gets 10.0.2.15 by DHCP and runs
# the script DHCP names (boot.ipxe, over 64 KiB so that TFTP moves it in
# many blocks). The script's first fetch names a file after the SHA-1 of
# every line before it, so the host sees that fetch only if the guest got
# the whole script; then it fetches data.bin (random bytes) and exits, and
# iPXE, having nothing left to boot, closes the card and gives the boot back
# to SeaBIOS (int 18h).
# iPXE prints through int 10h only, which nothing shows without a VGA, so
# the host checks: dnsmasq acknowledged 10.0.2.15 for the MAC ioreqd gives
# the card, TFTP sent each file to the end, and ioreqctl stats counts the
# same frames as the tap's own counters, with the files' bytes among them.
. "$(dirname "$0")/fw-lib.sh"
need_firmware
ROM=${IOREQD_IPXE_ROM:-/usr/lib/ipxe/virtio-net.rom}
DNSMASQ=${IOREQD_DNSMASQ:-/usr/sbin/dnsmasq}
[ -f "$ROM" ] || skip "$ROM missing (ipxe-qemu)"
[ -x "$DNSMASQ" ] || skip "$DNSMASQ missing (dnsmasq-base)"
[ "$(id -u)" -eq 0 ] || fail "needs root to make a network namespace"
# The boot takes some 10 s on an idle host.
FW_TIMEOUT=${IOREQD_FW_TIMEOUT:-45}

ns=ioreqd-ipxe-$$
tap=ipxe$(($$ % 100000))
# 02:49:<domid>:<bus>:<devfn>: domain 1, 00:03.0 (man/ioreqd.8).
MAC=02:49:00:01:00:18
GUEST_IP=10.0.2.15
dnsmasq_pid=

ipxe_cleanup() {
    if [ -n "$dnsmasq_pid" ]; then
        kill -TERM "$dnsmasq_pid" 2>/dev/null
        wait "$dnsmasq_pid" 2>/dev/null
    fi
    # Deleting the namespace deletes the tap in it.
    ip netns del "$ns" 2>/dev/null
    return 0
}
cleanup_hook=ipxe_cleanup

ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap vnet_hdr
ip -n "$ns" addr add 10.0.2.2/24 dev "$tap"
ip -n "$ns" -6 addr add fd00:49::2/64 dev "$tap" nodad
ip -n "$ns" link set "$tap" up

# The files TFTP serves.
tftp=$dir/tftp
mkdir "$tftp"
head -c 40000 /dev/urandom >"$tftp/data.bin"
{
    echo '#!ipxe'
    i=0
    while [ $i -lt 1200 ]; do
        echo "# padding line $i of the boot script, to make it span many TFTP blocks"
        i=$((i + 1))
    done
} >"$dir/script.head"
token=token-$(sha1sum "$dir/script.head" | cut -d' ' -f1)
{
    cat "$dir/script.head"
    echo "imgfetch tftp://10.0.2.2/$token || goto failed"
    echo "imgfetch tftp://10.0.2.2/data.bin || goto failed"
    echo "exit 0"
    echo ":failed"
    echo "exit 1"
} >"$tftp/boot.ipxe"
echo "the whole script reached the guest" >"$tftp/$token"
script_size=$(wc -c <"$tftp/boot.ipxe")
[ "$script_size" -gt 65536 ] || fail "boot.ipxe is only $script_size bytes"

DNSLOG=$dir/dnsmasq.out
# ip netns exec execs in place: $! is dnsmasq.
ip netns exec "$ns" "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --port=0 \
    --user=root --group=root --bind-interfaces --interface="$tap" \
    --dhcp-range=$GUEST_IP,$GUEST_IP,255.255.255.0,1h --dhcp-boot=boot.ipxe \
    --enable-ra --dhcp-range=fd00:49::,ra-only \
    --dhcp-leasefile="$dir/leases" --enable-tftp --tftp-root="$tftp" \
    --log-dhcp --log-facility="$DNSLOG" --pid-file="$dir/dnsmasq.pid" \
    </dev/null >"$dir/dnsmasq-stderr.out" 2>&1 &
dnsmasq_pid=$!
# Serving before the guest asks (its log says so once its sockets are bound).
until grep -q -F "TFTP root is $tftp" "$DNSLOG" 2>/dev/null; do
    kill -0 "$dnsmasq_pid" 2>/dev/null || fail "dnsmasq did not start"
    sleep 0.1
done
[ "$(cat "$dir/dnsmasq.pid")" = "$dnsmasq_pid" ] || fail "dnsmasq runs as $(cat "$dir/dnsmasq.pid"), not $dnsmasq_pid"

MX_PREFIX="ip netns exec $ns"
start_mockxen -- "$IOREQD" --domid 1 -F --control-socket "$dir/ctl.sock" \
    --device host-bridge --device xen-platform,bdf=02.0 \
    --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
    --device "virtio-net,tap=$tap,romfile=$ROM,bdf=03.0"
# SeaBIOS runs the ROM's boot entry (its BEV) for want of a disk.
wait_for "$FWLOG" "Booting from ROM..."
wait_for "$DNSLOG" "DHCPACK($tap) $GUEST_IP $MAC"
for f in boot.ipxe "$token" data.bin; do
    wait_for "$DNSLOG" "sent $tftp/$f to $GUEST_IP"
done
# iPXE is done with the card (closed: a virtio reset) once SeaBIOS boots on.
wait_for "$FWLOG" "enter handle_18"
grep -q "DHCPACK.* $MAC" "$DNSLOG" || fail "no DHCPACK for $MAC"
[ "$(grep -c 'DHCPACK' "$DNSLOG")" -eq 1 ] || fail "more than one DHCPACK"

stats=$(XENSTORED_PATH=$dir/xs.sock "$IOREQCTL" --socket "$dir/ctl.sock" stats --domid 1) || fail "ioreqctl stats failed"
counter() {
    printf '%s\n' "$stats" | awk -v n="$1" '$2 == "virtio-net" && $3 == n { print $4 }'
}
# The tap's counters (read by the kernel as ioreqd reads and writes the tap):
# TX is what the host sent towards the guest, RX what the guest sent.
set -- $(ip -n "$ns" -s link show "$tap" | awk '/RX:/ { getline; rx = $1 " " $2 } /TX:/ { getline; tx = $1 " " $2 } END { print rx, tx }')
tap_rx_bytes=$1 tap_rx_packets=$2 tap_tx_bytes=$3 tap_tx_packets=$4
rx_frames=$(counter q0_rx_frames)
rx_bytes=$(counter q0_rx_bytes)
tx_frames=$(counter q0_tx_frames)
tx_bytes=$(counter q0_tx_bytes)
[ -n "$rx_frames" ] && [ -n "$tx_bytes" ] || fail "ioreqctl stats lacks the queue counters:
$stats"
dropped=0
for c in rx_drop_filtered rx_drop_oversize rx_drop_no_room rx_drop_over_mtu; do
    dropped=$((dropped + $(counter $c)))
done
for c in tx_drop_oversize tx_drop_runt tx_drop_bad_header tx_backend_errors bad_chains; do
    [ "$(counter $c)" = 0 ] || fail "$c is $(counter $c)"
done
# Every frame the guest sent reached the tap, and every frame the tap gave
# ioreqd reached the guest or was dropped for a counted cause.
[ "$tx_frames $tx_bytes" = "$tap_rx_packets $tap_rx_bytes" ] ||
    fail "guest sent $tx_frames frames, $tx_bytes bytes; the tap got $tap_rx_packets, $tap_rx_bytes"
[ $((rx_frames + dropped)) -eq "$tap_tx_packets" ] ||
    fail "the tap gave $tap_tx_packets frames; the guest got $rx_frames, $dropped dropped"
# The files' bytes are among what the guest received.
payload=$((script_size + $(wc -c <"$tftp/$token") + $(wc -c <"$tftp/data.bin")))
[ "$rx_bytes" -ge "$payload" ] || fail "the guest received $rx_bytes bytes, less than the files' $payload"
[ "$(counter ctrl_err)" = 0 ] || fail "ctrl_err is $(counter ctrl_err)"
# The MAC in the DHCPACK is the one ioreqd gave the card.
status=$(XENSTORED_PATH=$dir/xs.sock "$IOREQCTL" --socket "$dir/ctl.sock" status --domid 1) ||
    fail "ioreqctl status failed"
card=$(printf '%s\n' "$status" | grep -F "virtio-net: 00:03.0 1af4:1041 ")
case $card in
*" tap=$tap mac=$MAC queues=1 romfile=$ROM link=up "*) ;;
*) fail "ioreqctl status shows the card as: $card" ;;
esac
stop_mockxen
