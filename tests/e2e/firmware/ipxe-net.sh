# Sourced after fw-lib.sh by what boots iPXE over ioreqd's virtio-net
# (fw-ipxe.sh, and the demo's network step, scripts/demo-net.sh): a network
# namespace of its own with a tap at 10.0.2.2/24 (and fd00:49::2/64, so that
# dnsmasq's router advertisements end iPXE's IPv6 set-up at once instead of
# by its timeout), dnsmasq serving DHCP and TFTP on it, mockxen with ioreqd
# inside the namespace, ioreqd holding the tap and iPXE's BIOS ROM
# (romfile=) and no disk. SeaBIOS runs the ROM's boot entry; iPXE's own
# virtio-net driver gets 10.0.2.15 by DHCP and runs the script DHCP names,
# boot.ipxe:
#  - its first fetch is named after the address and MAC iPXE holds (its own
#    settings, expanded by iPXE), so the host sees what the guest got;
#  - its second is named after the SHA-1 of every line before it, so the
#    host sees that fetch only if the guest got the whole script;
#  - then data.bin, and exit: iPXE, having nothing left to boot, closes the
#    card (a virtio reset) and gives the boot back to SeaBIOS (int 18h).
# iPXE prints through int 10h only, which nothing shows without a VGA, so
# what the guest did is read from dnsmasq's log and ioreqd's counters.
#
# Uses from fw-lib.sh: $dir, fail, skip, start_mockxen, wait_for, MX_PREFIX,
# cleanup_hook, $IOREQD, $IOREQCTL, $FWLOG.

IPXE_ROM=${IOREQD_IPXE_ROM:-/usr/lib/ipxe/virtio-net.rom}
IPXE_DNSMASQ=${IOREQD_DNSMASQ:-/usr/sbin/dnsmasq}
# 02:49:<domid>:<bus>:<devfn>: domain 1, 00:03.0 (man/ioreqd.8).
IPXE_MAC=02:49:00:01:00:18
IPXE_GUEST_IP=10.0.2.15
IPXE_HOST_IP=10.0.2.2
ipxe_ns=
ipxe_dnsmasq_pid=

# ipxe_need: skip (77) without the Debian packages, fail without root.
ipxe_need() {
    [ -f "$IPXE_ROM" ] || skip "$IPXE_ROM missing (ipxe-qemu)"
    [ -x "$IPXE_DNSMASQ" ] || skip "$IPXE_DNSMASQ missing (dnsmasq-base)"
    command -v ip >/dev/null || skip "ip missing (iproute2)"
    [ "$(id -u)" -eq 0 ] || fail "needs root to make a network namespace"
}

# ipxe_net_down: dnsmasq, then the namespace (deleting it deletes the tap in
# it). Safe to call twice; fw-lib.sh's clean-up calls it (cleanup_hook).
ipxe_net_down() {
    if [ -n "$ipxe_dnsmasq_pid" ]; then
        kill -TERM "$ipxe_dnsmasq_pid" 2>/dev/null
        wait "$ipxe_dnsmasq_pid" 2>/dev/null
        ipxe_dnsmasq_pid=
    fi
    [ -n "$ipxe_ns" ] && ip netns del "$ipxe_ns" 2>/dev/null
    ipxe_ns=
    return 0
}

# ipxe_files PADDING-LINES DATA-BYTES: the files TFTP serves, in $ipxe_tftp:
# boot.ipxe (PADDING-LINES comment lines make it span many TFTP blocks),
# the report and token files its fetches name, and data.bin (DATA-BYTES of
# numbered text lines, the same every run). Sets ipxe_report, ipxe_token,
# ipxe_files (the fetched files, in order).
ipxe_files() {
    ipxe_tftp=$dir/tftp
    mkdir -p "$ipxe_tftp"
    awk -v n="$2" 'BEGIN { for (i = 0; len < n; i++) { l = sprintf("ioreqd demo data, line %06d\n", i); len += length(l); printf "%s", l } }' |
        head -c "$2" >"$ipxe_tftp/data.bin"
    {
        echo '#!ipxe'
        awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "# padding line %d of the boot script, to make it span many TFTP blocks\n", i }'
        # iPXE expands its own settings: the name says what address and MAC it holds.
        echo 'imgfetch tftp://${next-server}/report-${net0/ip}-${net0/mac:hexhyp} || goto failed'
    } >"$dir/script.head"
    ipxe_report=report-$IPXE_GUEST_IP-$(echo $IPXE_MAC | tr : -)
    echo "iPXE reported the address and MAC it holds" >"$ipxe_tftp/$ipxe_report"
    ipxe_token=token-$(sha1sum "$dir/script.head" | cut -d' ' -f1)
    {
        cat "$dir/script.head"
        echo "imgfetch tftp://$IPXE_HOST_IP/$ipxe_token || goto failed"
        echo "imgfetch tftp://$IPXE_HOST_IP/data.bin || goto failed"
        echo "exit 0"
        echo ":failed"
        echo "exit 1"
    } >"$ipxe_tftp/boot.ipxe"
    echo "the whole script reached the guest" >"$ipxe_tftp/$ipxe_token"
    ipxe_files="boot.ipxe $ipxe_report $ipxe_token data.bin"
}

# ipxe_net_up NAMESPACE TAP: the namespace, its tap, and dnsmasq serving
# $ipxe_tftp (ipxe_files first), ready before it returns. dnsmasq does not
# ping an address before offering it (--no-ping): the namespace has no one
# else, and the ping costs seconds.
ipxe_net_up() {
    ipxe_tap=$2
    ip netns add "$1" || fail "ip netns add $1"
    ipxe_ns=$1
    ip -n "$ipxe_ns" link set lo up
    ip -n "$ipxe_ns" tuntap add dev "$ipxe_tap" mode tap vnet_hdr
    ip -n "$ipxe_ns" addr add $IPXE_HOST_IP/24 dev "$ipxe_tap"
    ip -n "$ipxe_ns" -6 addr add fd00:49::2/64 dev "$ipxe_tap" nodad
    ip -n "$ipxe_ns" link set "$ipxe_tap" up
    IPXE_DNSLOG=$dir/dnsmasq.out
    # ip netns exec execs in place: $! is dnsmasq.
    ip netns exec "$ipxe_ns" "$IPXE_DNSMASQ" --keep-in-foreground --conf-file=/dev/null --port=0 \
        --user=root --group=root --bind-interfaces --interface="$ipxe_tap" \
        --dhcp-range=$IPXE_GUEST_IP,$IPXE_GUEST_IP,255.255.255.0,1h --dhcp-boot=boot.ipxe \
        --no-ping --dhcp-option=encap:175,176,1b --enable-ra --dhcp-range=fd00:49::,ra-only \
        --dhcp-leasefile="$dir/leases" --enable-tftp --tftp-root="$ipxe_tftp" \
        --log-dhcp --log-facility="$IPXE_DNSLOG" --pid-file="$dir/dnsmasq.pid" \
        </dev/null >"$dir/dnsmasq-stderr.out" 2>&1 &
    ipxe_dnsmasq_pid=$!
    # Serving before the guest asks (its log says so once its sockets are bound).
    until grep -q -F "TFTP root is $ipxe_tftp" "$IPXE_DNSLOG" 2>/dev/null; do
        kill -0 "$ipxe_dnsmasq_pid" 2>/dev/null || fail "dnsmasq did not start"
        sleep 0.05
    done
    [ "$(cat "$dir/dnsmasq.pid")" = "$ipxe_dnsmasq_pid" ] ||
        fail "dnsmasq runs as $(cat "$dir/dnsmasq.pid"), not $ipxe_dnsmasq_pid"
}

# ipxe_boot: mockxen with ioreqd in the namespace (host bridge, Xen platform
# device, COM1 into a file, the card at 00:03.0 on the tap with the ROM),
# until iPXE fetched every file and gave the boot back to SeaBIOS.
ipxe_boot() {
    MX_PREFIX="ip netns exec $ipxe_ns"
    start_mockxen -- "$IOREQD" --domid 1 -F --control-socket "$dir/ctl.sock" \
        --device host-bridge --device xen-platform,bdf=02.0 \
        --device "uart,port=0x3f8,irq=4,backend=file:$dir/com1.out" \
        --device "virtio-net,tap=$ipxe_tap,romfile=$IPXE_ROM,bdf=03.0"
    # SeaBIOS runs the ROM's boot entry (its BEV) for want of a disk.
    wait_for "$FWLOG" "Booting from ROM..."
    wait_for "$IPXE_DNSLOG" "DHCPACK($ipxe_tap) $IPXE_GUEST_IP $IPXE_MAC"
    for f in $ipxe_files; do
        wait_for "$IPXE_DNSLOG" "sent $ipxe_tftp/$f to $IPXE_GUEST_IP"
    done
    # iPXE is done with the card (closed: a virtio reset) once SeaBIOS boots on.
    wait_for "$FWLOG" "enter handle_18"
    [ "$(grep -c 'DHCPACK' "$IPXE_DNSLOG")" -eq 1 ] || fail "more than one DHCPACK"
    if grep -q -F "not found" "$IPXE_DNSLOG"; then
        fail "iPXE asked for a file TFTP does not have: $(grep -F 'not found' "$IPXE_DNSLOG")"
    fi
}

# ipxe_counters: ioreqctl stats of the card's queue pair 0 and the tap's own
# counters, checked against each other: every frame the guest sent reached
# the tap, every frame the tap gave ioreqd reached the guest or was dropped
# for a counted cause, nothing was refused, and the files' bytes are among
# what the guest received. Sets tx_frames tx_bytes rx_frames rx_bytes
# rx_dropped tap_rx_packets tap_rx_bytes tap_tx_packets tap_tx_bytes.
ipxe_counters() {
    ipxe_stats=$(XENSTORED_PATH=$dir/xs.sock "$IOREQCTL" --socket "$dir/ctl.sock" stats --domid 1) ||
        fail "ioreqctl stats failed"
    # The tap's counters (kept by the kernel as ioreqd reads and writes the
    # tap): TX is what the host sent towards the guest, RX what the guest sent.
    set -- $(ip -n "$ipxe_ns" -s link show "$ipxe_tap" |
        awk '/RX:/ { getline; rx = $1 " " $2 } /TX:/ { getline; tx = $1 " " $2 } END { print rx, tx }')
    tap_rx_bytes=$1 tap_rx_packets=$2 tap_tx_bytes=$3 tap_tx_packets=$4
    rx_frames=$(ipxe_counter q0_rx_frames)
    rx_bytes=$(ipxe_counter q0_rx_bytes)
    tx_frames=$(ipxe_counter q0_tx_frames)
    tx_bytes=$(ipxe_counter q0_tx_bytes)
    [ -n "$rx_frames" ] && [ -n "$rx_bytes" ] && [ -n "$tx_frames" ] && [ -n "$tx_bytes" ] ||
        fail "ioreqctl stats lacks the queue counters:
$ipxe_stats"
    rx_dropped=0
    for c in rx_drop_filtered rx_drop_oversize rx_drop_no_room rx_drop_over_mtu; do
        rx_dropped=$((rx_dropped + $(ipxe_counter $c)))
    done
    for c in tx_drop_oversize tx_drop_runt tx_drop_bad_header tx_backend_errors bad_chains ctrl_err; do
        [ "$(ipxe_counter $c)" = 0 ] || fail "$c is $(ipxe_counter $c)"
    done
    [ "$tx_frames $tx_bytes" = "$tap_rx_packets $tap_rx_bytes" ] ||
        fail "guest sent $tx_frames frames, $tx_bytes bytes; the tap got $tap_rx_packets, $tap_rx_bytes"
    [ $((rx_frames + rx_dropped)) -eq "$tap_tx_packets" ] ||
        fail "the tap gave $tap_tx_packets frames; the guest got $rx_frames, $rx_dropped dropped"
    payload=0
    for f in $ipxe_files; do
        payload=$((payload + $(wc -c <"$ipxe_tftp/$f")))
    done
    [ "$rx_bytes" -ge "$payload" ] || fail "the guest received $rx_bytes bytes, less than the files' $payload"
}

# ipxe_counter NAME: a virtio-net counter of the last ipxe_counters.
ipxe_counter() {
    printf '%s\n' "$ipxe_stats" | awk -v n="$1" '$2 == "virtio-net" && $3 == n { print $4 }'
}
