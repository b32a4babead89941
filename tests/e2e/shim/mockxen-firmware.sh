#!/bin/sh
# mockxen --firmware as a user meets it: the options it refuses, and
# hvmloader booted on the mock with ioreqd as the device model. A device
# other than a PIIX3 at 00:01.0 trips hvmloader's assertion in pci.c; it
# asks Xen for SHUTDOWN_crash, which mockxen reports with exit 1, after
# the banner and the PCI scan: an end that does not depend on timing. And
# a whole boot on two vCPUs: hvmloader (which starts the AP), SeaBIOS, a
# boot sector read from ioreqd's virtio-blk, which halts with interrupts
# disabled: exit 0. And a boot sector that reads another over the code
# the vCPU already ran (0x7c00): the new code must run.
# Usage: mockxen-firmware.sh MOCKXEN IOREQD
set -u
MOCKXEN=$1
IOREQD=$2
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # expected-status description command...
    want=$1 what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want" >&2
        sed 's/^/  | /' "$tmp/out" "$tmp/err" >&2
        fails=$((fails + 1))
    fi
}

has() { # file text description
    grep -qF -- "$2" "$1" || { echo "FAIL: $3: no '$2' in $1" >&2; sed 's/^/  | /' "$1" >&2; fails=$((fails + 1)); }
}

check 2 "firmware without a device model" "$MOCKXEN" --domid 4 --firmware
has "$tmp/err" "--firmware needs a device model" "why"
check 2 "firmware and script" "$MOCKXEN" --domid 4 --firmware --script - -- true
check 2 "hvmloader without firmware" "$MOCKXEN" --domid 4 --hvmloader /x -- true
check 2 "zero timeout" "$MOCKXEN" --domid 4 --firmware --timeout 0 -- true
check 2 "empty command" "$MOCKXEN" --domid 4 --firmware -- true -- -- true
check 1 "a device model that never gets ready" "$MOCKXEN" --domid 4 --firmware -- true
has "$tmp/err" "a device model exited before it was ready" "why"

check 1 "hvmloader refuses a non-PIIX3 device at 00:01.0" "$MOCKXEN" --domid 5 --memory 64M \
    --firmware --timeout 120 --firmware-log "$tmp/fw.log" --libdir "$IOREQD_SHIM_LIBDIR" -- \
    "$IOREQD" --domid 5 --foreground --control-socket none --device host-bridge \
    --device xen-platform,bdf=01.0
has "$tmp/fw.log" "HVM Loader" "banner through port 0xe9"
has "$tmp/fw.log" "Detected Xen v4.17.0" "hypercalls through the hypercall page"
has "$tmp/fw.log" "PCI-ISA link 0 routed to IRQ5" "PCI set-up"
has "$tmp/fw.log" "HVMLoader assertion '(devfn != PCI_ISA_DEVFN)" "the scan met ioreqd's device"
has "$tmp/err" "mockxen: the domain shut down: crash" "verdict"
grep -q "pci-config [1-9]" "$tmp/err" || { echo "FAIL: no config ioreqs counted" >&2; fails=$((fails + 1)); }

# A disk whose boot sector prints a line to port 0xe9 and halts with
# interrupts disabled: mov $msg,%si; mov $0xe9,%dx; 1: lodsb; test %al,%al;
# jz 2f; out %al,(%dx); jmp 1b; 2: cli; hlt; msg: "boot sector reached\n".
boot_disk() {
    # shellcheck disable=SC2059 # the format is the data
    printf '\276\020\174\272\351\000\254\204\300\164\003\356\353\370\372\364boot sector reached\n\000' >"$1"
    dd if=/dev/zero bs=1 count=$((510 - 37)) 2>/dev/null >>"$1"
    printf '\125\252' >>"$1"
    dd if=/dev/zero bs=512 count=2047 2>/dev/null >>"$1"
}
boot_disk "$tmp/disk.img"
check 0 "hvmloader, SeaBIOS and a boot sector from ioreqd's virtio-blk" "$MOCKXEN" --domid 7 \
    --vcpus 2 --memory 128M --firmware --timeout 120 --firmware-log "$tmp/boot.log" \
    --libdir "$IOREQD_SHIM_LIBDIR" -- "$IOREQD" --domid 7 --foreground --control-socket none \
    --device host-bridge --device xen-platform,bdf=03.0 \
    --device "virtio-blk,file=$tmp/disk.img,bdf=04.0"
has "$tmp/boot.log" " - CPU1 ... done." "the AP started by INIT and SIPI"
has "$tmp/boot.log" "Invoking SeaBIOS ..." "hvmloader's hand-over"
has "$tmp/boot.log" "found virtio-blk at 00:04.0" "SeaBIOS's PCI scan"
has "$tmp/boot.log" "Booting from 0000:7c00" "SeaBIOS read the boot sector"
has "$tmp/boot.log" "boot sector reached" "the boot sector ran"
has "$tmp/err" "mockxen: vCPU 0 halted with interrupts disabled" "verdict"

chain_disk() {
    # sector 1: copy itself to 0x600, print "first sector", read sector 2 to
    # 0x7c00 with INT 13h and jump there; sector 2: print "second sector", halt
    printf '\372\061\300\216\330\216\300\216\320\274\000\174\276\000\174\277\000\006\271\000\001\374\363\245\352\035\006\000\000\276\111\006\350\034\000\270\001\002\271\002\000\060\366\273\000\174\315\023\162\005\352\000\174\000\000\276\127\006\350\002\000\372\364\254\204\300\164\004\346\351\353\367\303\146\151\162\163\164\040\163\145\143\164\157\162\012\000\162\145\141\144\040\146\141\151\154\145\144\012' >"$1"
    dd if=/dev/zero bs=1 count=$((510 - 99)) 2>/dev/null >>"$1"
    printf '\125\252' >>"$1"
    printf '\276\016\174\254\204\300\164\004\346\351\353\367\372\364\163\145\143\157\156\144\040\163\145\143\164\157\162\012' >>"$1"
    dd if=/dev/zero bs=1 count=$((512 - 28)) 2>/dev/null >>"$1"
    dd if=/dev/zero bs=512 count=2046 2>/dev/null >>"$1"
}
chain_disk "$tmp/chain.img"
check 0 "a boot sector that reads another over itself" "$MOCKXEN" --domid 8 --memory 128M \
    --firmware --timeout 120 --firmware-log "$tmp/chain.log" --libdir "$IOREQD_SHIM_LIBDIR" -- \
    "$IOREQD" --domid 8 --foreground --control-socket none --device host-bridge \
    --device xen-platform,bdf=03.0 --device "virtio-blk,file=$tmp/chain.img,bdf=04.0"
has "$tmp/chain.log" "first sector" "the first sector ran"
has "$tmp/chain.log" "second sector" "the code ioreqd wrote over translated code ran as written"

check 1 "missing hvmloader" "$MOCKXEN" --domid 6 --firmware --hvmloader "$tmp/none" \
    --libdir "$IOREQD_SHIM_LIBDIR" -- "$IOREQD" --domid 6 --foreground --control-socket none \
    --device host-bridge
has "$tmp/err" "cannot start the firmware" "why"

[ "$fails" = 0 ] && echo "all mockxen --firmware checks passed"
exit $((fails != 0))
