#!/bin/sh
# The disk images of the firmware tests, checked on the host without any
# emulator: make-disk.sh lays them out as the firmware expects (GRUB's
# include/grub/i386/pc/boot.h and boot/i386/pc/diskboot.S, the MBR
# partition table), and the ext4 partition holds the files byte for byte
# (read back with debugfs from e2fsprogs, no mount).
. "$(dirname "$0")/fw-lib.sh"
command -v debugfs >/dev/null 2>&1 || skip "debugfs missing (e2fsprogs)"

# bytes FILE OFFSET COUNT: the bytes as space-separated hex pairs.
bytes() {
    od -v -An -tx1 -j "$2" -N "$3" "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

for kind in mbr gate; do
    make_disk $kind
    img=$dir/$kind.img
    [ "$(wc -c <"$img")" -eq 1048576 ] || fail "$kind.img is not 1 MiB"
    [ "$(bytes "$img" 510 2)" = "55 aa" ] || fail "$kind.img: no boot signature"
    [ "$(bytes "$img" 446 64 | tr -d ' 0')" = "" ] || fail "$kind.img: partition table not empty"
    # LBA 1: the line, CR LF, NUL.
    n=$(printf '%s\r\n' "$BS_LBA1" | wc -c)
    [ "$(dd if="$img" bs=1 skip=512 count=$n status=none)" = "$(printf '%s\r\n' "$BS_LBA1")" ] ||
        fail "$kind.img: LBA 1 does not hold the line"
    [ "$(bytes "$img" $((512 + n)) 1)" = "00" ] || fail "$kind.img: LBA 1's line is not terminated"
    # The boot sector's own strings are in it.
    for line in "$BS_RUNNING" "$BS_WAITING" "$BS_READING"; do
        grep -a -q -F "$line" "$img" || fail "$kind.img: the boot sector lacks \"$line\""
    done
done
# The two variants differ in code (both carry every string).
! cmp -s "$dir/mbr.img" "$dir/gate.img" || fail "mbr.img and gate.img are the same"

make_disk grub
img=$dir/grub.img
files=$dir/grub.img.files
[ "$(wc -c <"$img")" -eq 8388608 ] || fail "grub.img is not 8 MiB"
[ "$(bytes "$img" 510 2)" = "55 aa" ] || fail "grub.img: no boot signature"
# boot.img's kernel sector (8 bytes at 0x5c): core.img at LBA 1.
[ "$(bytes "$img" $((0x5c)) 8)" = "01 00 00 00 00 00 00 00" ] || fail "grub.img: kernel sector is not 1"
# Partition 1: active, CHS "use LBA", type 0x83, LBA 2048, 14336 sectors;
# entries 2-4 empty.
[ "$(bytes "$img" $((0x1be)) 16)" = "80 fe ff ff 83 fe ff ff 00 08 00 00 00 38 00 00" ] ||
    fail "grub.img: partition 1 is $(bytes "$img" $((0x1be)) 16)"
[ "$(bytes "$img" $((0x1ce)) 48 | tr -d ' 0')" = "" ] || fail "grub.img: partitions 2-4 not empty"
# diskboot's block list (12 bytes ending at 0x200 of LBA 1): the rest of
# core.img from LBA 2 (8 bytes), its sector count (2), to segment 0x820.
[ "$(bytes "$img" $((512 + 0x1f4)) 8)" = "02 00 00 00 00 00 00 00" ] || fail "grub.img: block list does not start at LBA 2"
count=$(od -An -tu2 -j $((512 + 0x1fc)) -N 2 "$img" | tr -d ' ')
[ "$count" -gt 0 ] && [ "$count" -lt 2046 ] || fail "grub.img: block list count $count"
[ "$(bytes "$img" $((512 + 0x1fe)) 2)" = "20 08" ] || fail "grub.img: block list segment is not 0x820"
# The core image's last sector is in the gap, the one after it empty.
[ "$(bytes "$img" $(((2 + count) * 512)) 512 | tr -d ' 0')" = "" ] ||
    fail "grub.img: data after the core image's $count sectors"

dd if="$img" of="$dir/part.img" bs=512 skip=2048 status=none
for f in hello.txt data.bin halt.bin; do
    debugfs -R "dump /$f $dir/got.$f" "$dir/part.img" >/dev/null 2>&1 || fail "debugfs cannot dump /$f"
    cmp -s "$files/$f" "$dir/got.$f" || fail "/$f on the ext4 partition differs from the host's"
done
[ "$(bytes "$files/halt.bin" 510 2)" = "55 aa" ] || fail "halt.bin has no boot signature"
grep -a -q -F "$BS_CHAINED" "$files/halt.bin" || fail "halt.bin is not the chainloaded variant"
echo "disk images: OK"
