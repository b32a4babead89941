#!/bin/sh
# Builds the firmware tests' disk images on the host from the repository's
# boot sector source (tools/guest/bootsector.S) and Debian's binutils,
# grub-pc-bin and e2fsprogs; no image or binary is kept in the repository.
#
#   make-disk.sh mbr  OUT.img   1 MiB raw disk: bootsector.S (MODE=0) as the
#                               MBR, LBA 1 holds the line it reads back
#   make-disk.sh gate OUT.img   the same with MODE=1: after its lines it
#                               waits for a byte on COM1, then re-reads
#                               LBA 1 forever
#   make-disk.sh cpuloop OUT.img  1 MiB disk whose MBR is cpu-loop.S with
#                               ITER=$CPU_LOOP_ITER (default 3000000)
#   make-disk.sh grub OUT.img   8 MiB disk: GRUB's boot.img as the MBR, a core
#                               image in the gap after it, one ext4 partition
#                               from sector 2048 with hello.txt, data.bin and
#                               halt.bin (bootsector.S, MODE=2); GRUB prints
#                               hello.txt and the SHA-256 of both files on
#                               COM1, then chainloads halt.bin
#
# Beside OUT.img it leaves OUT.img.files/, the files as the host wrote them
# (what the tests compare GRUB's output with). Exit 77 if a tool is missing.
set -eu
kind=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
bootsector_src=$here/../../../tools/guest/bootsector.S
grubdir=${IOREQD_GRUB_DIR:-/usr/lib/grub/i386-pc}

# The line make-disk.sh puts at LBA 1 and the boot sector prints.
LBA1_LINE="LBA1: read by the BIOS from the boot disk"

need() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || { echo "skipped: $t not installed"; exit 77; }
    done
}

# bootsector MODE FILE: assemble bootsector.S into a 512-byte sector.
bootsector() {
    need as ld
    as --32 --defsym MODE="$1" -o "$work/bs.o" "$bootsector_src"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$2" "$work/bs.o"
    size=$(wc -c <"$2")
    [ "$size" -eq 512 ] || { echo "boot sector is $size bytes, not 512" >&2; exit 1; }
}

# le32 N: N as 4 little-endian bytes, for printf '%b'.
le32() {
    printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $((($1 >> 8) & 255)) \
        $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}

# patch FILE OFFSET BYTES: overwrite in place (BYTES as printf %b escapes).
patch() {
    printf '%b' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-disk.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out" "$out.files"
mkdir -p "$out.files"

case $kind in
mbr | gate)
    mode=0
    [ "$kind" = gate ] && mode=1
    bootsector $mode "$work/mbr.bin"
    truncate -s 1M "$out"
    dd if="$work/mbr.bin" of="$out" conv=notrunc status=none
    printf '%s\r\n\0' "$LBA1_LINE" | dd of="$out" bs=512 seek=1 conv=notrunc status=none
    printf '%s\r\n' "$LBA1_LINE" >"$out.files/lba1.txt"
    ;;
cpuloop)
    need as ld
    as --32 --defsym ITER="${CPU_LOOP_ITER:-3000000}" -o "$work/cl.o" "$here/cpu-loop.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$work/mbr.bin" "$work/cl.o"
    [ "$(wc -c <"$work/mbr.bin")" -eq 512 ] || { echo "cpu-loop.S is not one sector" >&2; exit 1; }
    truncate -s 1M "$out"
    dd if="$work/mbr.bin" of="$out" conv=notrunc status=none
    ;;
grub)
    need grub-mkimage mkfs.ext4
    [ -f "$grubdir/boot.img" ] || { echo "skipped: $grubdir/boot.img missing (grub-pc-bin)"; exit 77; }
    files=$out.files
    printf 'GRUB read this line from ext4 on the boot disk\n' >"$files/hello.txt"
    # ~170 KiB over many blocks, so the checksum needs many disk reads.
    seq 1 30000 >"$files/data.bin"
    bootsector 2 "$files/halt.bin"

    # GRUB's script runs in its rescue parser (no "normal" module): one
    # command a line, no scripting. COM1 at 115200 8N1 is its only terminal.
    cat >"$work/embed.cfg" <<'CFG'
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial
terminal_output serial
echo GRUB: hello.txt from (hd0,msdos1)
cat (hd0,msdos1)/hello.txt
sha256sum (hd0,msdos1)/hello.txt
sha256sum (hd0,msdos1)/data.bin
echo GRUB: chainloading halt.bin
chainloader (hd0,msdos1)/halt.bin
boot
CFG
    grub-mkimage -d "$grubdir" -O i386-pc -o "$work/core.img" -c "$work/embed.cfg" \
        -p '(hd0,msdos1)/boot/grub' \
        biosdisk part_msdos ext2 serial terminal echo cat hashsum gcry_sha256 chain

    # Layout (GRUB's include/grub/i386/pc/boot.h and boot/i386/pc/diskboot.S):
    # boot.img is the MBR; its 8-byte LBA at 0x5c names the first sector of
    # core.img (diskboot.img, loaded to 0x8000); diskboot's block list, the
    # 12 bytes ending at 0x200 (LBA 8 bytes, sector count 2, segment 2),
    # loads the rest. We put core.img at LBA 1, so the rest starts at LBA 2;
    # grub-mkimage fills in the count.
    part_start=2048
    disk_sectors=16384
    core_sectors=$((($(wc -c <"$work/core.img") + 511) / 512))
    [ $((1 + core_sectors)) -le $part_start ] || { echo "core.img too big" >&2; exit 1; }
    cp "$grubdir/boot.img" "$work/mbr.bin"
    patch "$work/mbr.bin" $((0x5c)) "$(le32 1)\0\0\0\0"
    patch "$work/core.img" $((0x1f4)) "$(le32 2)\0\0\0\0"

    # boot.img keeps floppy-probe code where a hard disk's partition table
    # goes (0x1be..0x1fd; grub-bios-setup overwrites it), so clear all four
    # entries, then write one primary partition, type 0x83, active, LBA 2048
    # to the end; CHS fields say "use LBA" (0xfe 0xff 0xff). Each entry:
    # status, CHS first, type, CHS last, LBA start, sector count.
    part_sectors=$((disk_sectors - part_start))
    dd if=/dev/zero of="$work/mbr.bin" bs=1 seek=$((0x1be)) count=64 conv=notrunc status=none
    patch "$work/mbr.bin" $((0x1be)) \
        "\200\376\377\377\203\376\377\377$(le32 $part_start)$(le32 $part_sectors)"

    mkfs.ext4 -q -F -L fwgrub -d "$files" "$work/part.img" $((part_sectors / 2))k >/dev/null
    truncate -s $((disk_sectors * 512)) "$out"
    dd if="$work/mbr.bin" of="$out" conv=notrunc status=none
    dd if="$work/core.img" of="$out" bs=512 seek=1 conv=notrunc status=none
    dd if="$work/part.img" of="$out" bs=512 seek=$part_start conv=notrunc status=none
    ;;
*)
    echo "usage: make-disk.sh mbr|gate|cpuloop|grub OUT.img" >&2
    exit 2
    ;;
esac
