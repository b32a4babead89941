#!/bin/sh
# Runs Debian's qemu-system-xen device model on the mock, if it is installed
# (exit 77, skipped, if not). Usage: qemu-test.sh MOCKXEN
QEMU=${IOREQD_QEMU_XEN:-/usr/libexec/xen-qemu-system-i386}
[ -x "$QEMU" ] || { echo "skipped: $QEMU not installed"; exit 77; }
exec "$1" --domid 1 --vcpus 2 --memory 128M --libdir "$IOREQD_SHIM_LIBDIR" \
    --script "$IOREQD_SOURCE_DIR/tests/e2e/shim/qemu.mx" -- \
    "$QEMU" -xen-domid 1 -machine xenfv -smp 2 -m 128 -nographic -display none \
    -nodefaults -serial null -monitor none
