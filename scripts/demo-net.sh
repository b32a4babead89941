#!/bin/sh
# The demo's network step (scripts/demo.sh runs it after ioreqd-demo): real
# guest code on ioreqd's virtio-net card. In a network namespace of its own
# (removed at the end, also when interrupted), SeaBIOS on the mock's vCPU
# runs iPXE's virtio-net ROM from the card (romfile=); iPXE gets its address
# by DHCP from dnsmasq and fetches files by TFTP through the card and a tap
# (tests/e2e/firmware/ipxe-net.sh, shared with the e2e-fw-ipxe test). Shows
# what iPXE did, and the card's frame and byte counters (ioreqctl stats)
# against the tap's own. Needs root.
#   scripts/demo-net.sh [BUILD_DIR [IOREQD]]
# Exit status: 0 when every line was verified, 1 otherwise, 77 when a
# Debian package it needs is missing (scripts/deps.sh installs them).
src="$(cd "$(dirname "$0")/.." && pwd)"
build=$(cd "${1:-$src/build}" && pwd) || exit 1
export IOREQD_SHIM_LIBDIR="$build/shim/lib"
# What fw-lib.sh takes: MOCKXEN IOREQD IOREQCTL UART_RELAY (unused here).
set -- "$build/tools/mockxen/mockxen" "${2:-$build/daemon/ioreqd}" "$build/tools/ioreqctl/ioreqctl" -
. "$src/tests/e2e/firmware/fw-lib.sh"
. "$src/tests/e2e/firmware/ipxe-net.sh"
TEST_NAME=demo-net
FW_TIMEOUT=${IOREQD_FW_TIMEOUT:-60}
# A small script and file: the step shows the path, e2e-fw-ipxe moves the bulk.
PADDING_LINES=40
DATA_BYTES=16384

say() { printf '%s\n' "$*"; }

say "== 8. the guest's network: SeaBIOS runs iPXE from ioreqd's virtio-net ROM (romfile=)"
need_firmware
ipxe_need
cleanup_hook=ipxe_net_down
ipxe_files $PADDING_LINES $DATA_BYTES
# The namespace is ours alone: the tap's name need not be unique.
ipxe_net_up "ioreqd-demo-$$" demo0
say "   network namespace $ipxe_ns (removed at the end): tap $ipxe_tap at $IPXE_HOST_IP, dnsmasq serving DHCP and TFTP"
start=$(date +%s%N)
ipxe_boot
ms=$((($(date +%s%N) - start) / 1000000))
ipxe_counters

say "   firmware log (SeaBIOS), the boot from the card's ROM and back:"
tr -d '\r' <"$FWLOG" | grep -a -E '^(Booting from ROM|Booting from c[0-9a-f]+:|enter handle_18)' |
    head -n 3 | sed 's/^/     /'
say "   dnsmasq's log, what the guest asked for:"
grep -a -o -E "DHCPACK\($ipxe_tap\) [0-9.]+ [0-9a-f:]+|sent $ipxe_tftp/[^ ]+ to [0-9.]+" "$IPXE_DNSLOG" |
    sed "s|$ipxe_tftp/||; s/^/     /"
say "   iPXE (its console is int 10h only: what it did, as the host saw it):"
say "     iPXE got $IPXE_GUEST_IP by DHCP on $IPXE_MAC, and said so: it asked for $ipxe_report"
say "     iPXE ran boot.ipxe ($(wc -c <"$ipxe_tftp/boot.ipxe") bytes) to its end: it asked for the file named after its SHA-1"
say "     iPXE fetched data.bin to its end: $(wc -c <"$ipxe_tftp/data.bin") bytes, SHA-256 $(sha256sum "$ipxe_tftp/data.bin" | cut -d' ' -f1)"
say "     iPXE closed the card and gave the boot back to SeaBIOS (int 18h) after $ms ms"
say "   ioreqctl stats of the card (queue pair 0) against the tap's own counters (ip -s link):"
printf '     guest sent     %5d frames, %7d bytes; the tap received %5d frames, %7d bytes\n' \
    "$tx_frames" "$tx_bytes" "$tap_rx_packets" "$tap_rx_bytes"
printf '     guest received %5d frames, %7d bytes; the tap sent     %5d frames, %7d bytes; %d dropped by the card (counted)\n' \
    "$rx_frames" "$rx_bytes" "$tap_tx_packets" "$tap_tx_bytes" "$rx_dropped"
stop_mockxen
ipxe_net_down
ip netns list | grep -q -w -F "ioreqd-demo-$$" && fail "namespace ioreqd-demo-$$ is still there"
say "   namespace ioreqd-demo-$$ removed"
say "PASS: the guest's network verified"
