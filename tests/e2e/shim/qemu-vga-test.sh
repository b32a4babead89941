#!/bin/sh
# Debian's QEMU with -vga std on the mock (exit 77, skipped, if it is not
# installed): populated VRAM, and VRAM writes carried by the buffered ring
# (four ring slots: the 8-byte write takes two). Usage: qemu-vga-test.sh MOCKXEN
QEMU=${IOREQD_QEMU_XEN:-/usr/libexec/xen-qemu-system-i386}
[ -x "$QEMU" ] || { echo "skipped: $QEMU not installed"; exit 77; }
out=$("$1" --domid 1 --vcpus 2 --memory 128M --libdir "$IOREQD_SHIM_LIBDIR" \
    --script "$IOREQD_SOURCE_DIR/tests/e2e/shim/qemu-vga.mx" -- \
    "$QEMU" -xen-domid 1 -machine xenfv -smp 2 -m 128 -nographic -display none \
    -nodefaults -serial null -monitor none -vga std 2>&1) || { echo "$out"; exit 1; }
echo "$out"
echo "$out" | grep -q '^server 0 enabled .* buffered-slots 4$' || {
    echo "FAIL: the VRAM writes did not all go through the buffered ring" >&2
    exit 1
}
