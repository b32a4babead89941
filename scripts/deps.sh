#!/usr/bin/env bash
# Installs what building and testing ioreqd needs on Debian 12, and nothing
# when it is all there already. Needs root (or sudo) only when something is
# missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libxen-dev libevent-dev libcmocka-dev libseccomp-dev liburing-dev
    xenstore-utils # the real xenstore-* tools the tests drive against the mock
    man-db         # man page rendering checks
    clang libclang-rt-14-dev # libFuzzer for the fuzz smoke run (fuzz/run.sh)
    util-linux     # setsid, used by the demo
    qemu-system-xen # Debian's QEMU device model, run unmodified on the mock as a fidelity test
    libunicorn-dev  # the mock's emulated vCPU, which runs Xen's own HVM firmware
    xen-utils-4.17  # hvmloader, Xen's HVM firmware (/usr/lib/xen-4.17/boot/hvmloader)
    seabios         # the BIOS hvmloader hands over to, as libxl passes it
    grub-pc-bin grub-common e2fsprogs # a real boot loader on an ext4 disk for the firmware tests
    ipxe-qemu       # iPXE's virtio option ROMs
    iproute2        # ip netns / ip tuntap for the virtio-net tap tests in a namespace of their own
    dnsmasq-base    # DHCP and TFTP for iPXE's network boot over ioreqd's virtio-net (e2e-fw-ipxe)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
