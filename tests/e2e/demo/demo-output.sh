#!/bin/sh
# ioreqd-demo [args] exits 0 and prints what every step verified.
#   demo-output.sh IOREQD-DEMO [demo args...]
set -u
demo=$1
shift
out=$("$demo" "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || { echo "ioreqd-demo exited $rc" >&2; exit 1; }

fail=0
expect() {
    if ! printf '%s\n' "$out" | grep -Eq -- "$1"; then
        echo "missing from the output: $1" >&2
        fail=1
    fi
}
expect '/local/domain/0/device-model/7/state = running'
expect '^00:00\.0 Host bridge \[0600\]: .* \[8086:1237\]'
expect '^00:1[0-9a-f]\.0 .* \[5853:0001\]'
expect '^00:1[0-9a-f]\.0 .* \[1af4:1042\]'
expect 'Capabilities: \[[0-9a-f]+\] Vendor Specific: VirtIO: CommonCfg'
expect 'Capabilities: \[[0-9a-f]+\] MSI-X'
expect 'backend file com1\.out holds: "hello from the guest\\r\\n"'
expect 'features VERSION_1 .*FLUSH'
expect 'GET_ID: "ioreqd-demo-disk"'
expect 'FLUSH: OK'
expect 'read back 1024 KiB .*identical to what was written'
expect 'host: the first 1024 KiB of .*disk\.img are the guest.s data'
expect 'devices +3 PCI functions on bus 0, a 16550A UART at 0x3f8'
expect 'UART +22 bytes'
expect 'disk +1024 KiB written, 1024 KiB read'
expect 'interrupts +[1-9][0-9]* MSI-X messages'
expect 'SIGTERM to ioreqd \(pid [0-9]+\): exited 0'
expect 'state: gone'
# 7: hvmloader and SeaBIOS on the mock's vCPU boot a disk from ioreqd.
expect '^ +HVM Loader'
expect '^ +pci dev 03:0 bar 20 size [0-9a-f]+: [0-9a-f]+$'
expect '^ +found virtio-blk at 00:03\.0'
expect '^ +BOOTSECTOR: running from the MBR$'
expect '^ +LBA1: read by the BIOS from the boot disk$'
expect 'the guest halted \(cli; hlt\) and mockxen exited 0 after [0-9]+ ms'
expect '^PASS: every step verified$'
if printf '%s\n' "$out" | grep -q 'FAILED'; then
    echo "a step reported FAILED" >&2
    fail=1
fi
exit $fail
