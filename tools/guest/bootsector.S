/*
 * A boot sector for the firmware tests and the demo: SeaBIOS loads it from the disk's
 * first sector to 0000:7c00 and jumps to it in real mode with the boot
 * drive in DL.  It talks to the 16550 UART at 0x3f8 directly (no BIOS
 * console), so every byte it prints is an ioreq to the UART's device model:
 *
 *   1. "BOOTSECTOR: running from the MBR" (proves SeaBIOS read and ran it);
 *   2. reads LBA 1 through the BIOS disk services (int 13h, AH=42h, the
 *      EDD packet interface) and prints the NUL-terminated line found there,
 *      which make-disk.sh writes: a disk read the firmware did on our behalf;
 *   3. halts with interrupts disabled (cli; hlt), which mockxen reports
 *      as a clean end of the guest.
 *
 * --defsym MODE=N picks the variant:
 *   MODE=0  the above;
 *   MODE=1  after step 2 prints "BOOTSECTOR: waiting for a byte on COM1",
 *           polls the UART until a byte arrives, prints "BOOTSECTOR:
 *           reading forever" and keeps re-reading LBA 1. The guest never
 *           halts, and touches the disk again only when the host says so:
 *           a test kills the disk's device model first, and the next disk
 *           read is certain to reach the dead server (a kill at a random
 *           moment could land while the BIOS polls the virtqueue in RAM,
 *           where the vCPU spins without ever asking the device model);
 *   MODE=2  a file GRUB chainloads: prints "BOOTSECTOR: chainloaded by
 *           GRUB" and halts, reading nothing (LBA 1 holds GRUB there).
 *
 * Assemble: as --32 --defsym MODE=0 -o b.o bootsector.S; ld -m elf_i386
 * -Ttext 0x7c00 --oformat binary -o b.bin b.o. The firmware tests do it at
 * run time (tests/e2e/firmware/make-disk.sh), the build does it for
 * ioreqd-demo, which embeds MODE=0.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %sp
	ljmp	$0, $start_cs0		/* CS:IP = 0000:7cxx whatever the BIOS used */
start_cs0:
	sti
	mov	%dl, boot_drive

	/* 16550: no interrupts, 8N1 at 115200 baud (divisor 1), FIFOs on,
	 * DTR and RTS up. Register offsets from port 0x3f8: IER 1, FCR 2,
	 * LCR 3 (bit 7 DLAB selects DLL/DLM at 0 and 1), MCR 4, LSR 5. */
	mov	$0x3f9, %dx
	xor	%al, %al
	out	%al, %dx		/* IER = 0 */
	mov	$0x3fb, %dx
	mov	$0x80, %al
	out	%al, %dx		/* LCR: DLAB = 1 */
	mov	$0x3f8, %dx
	mov	$1, %al
	out	%al, %dx		/* DLL = 1 */
	inc	%dx
	xor	%al, %al
	out	%al, %dx		/* DLM = 0 */
	mov	$0x3fb, %dx
	mov	$0x03, %al
	out	%al, %dx		/* LCR: 8 bits, no parity, 1 stop, DLAB = 0 */
	mov	$0x3fa, %dx
	mov	$0x07, %al
	out	%al, %dx		/* FCR: enable and clear both FIFOs */
	mov	$0x3fc, %dx
	mov	$0x03, %al
	out	%al, %dx		/* MCR: DTR, RTS */

.if MODE == 2
	mov	$msg_chained, %si
	call	puts
	jmp	halt
.else
	mov	$msg_running, %si
	call	puts
.endif

read_lba1:
	mov	$dap, %si
	mov	boot_drive, %dl
	mov	$0x42, %ah
	int	$0x13
	jc	read_failed
	mov	$0x7e00, %si		/* the sector's line, as make-disk.sh wrote it */
	call	puts
.if MODE == 1
	mov	$msg_waiting, %si
	call	puts
	mov	$0x3fd, %dx
1:	in	%dx, %al		/* LSR: wait for data ready (bit 0) */
	test	$0x01, %al
	jz	1b
	mov	$0x3f8, %dx
	in	%dx, %al		/* RBR: take the byte */
	mov	$msg_looping, %si
	call	puts
reread:
	mov	$dap, %si
	mov	boot_drive, %dl
	mov	$0x42, %ah
	int	$0x13
	jmp	reread
.endif
	jmp	halt

read_failed:
	mov	$msg_failed, %si
	call	puts
halt:
	cli
	hlt
	jmp	halt

/* Print the NUL-terminated string at DS:SI, at most 80 bytes (the
 * sector read from disk is data, not trusted to be terminated). */
puts:
	mov	$80, %cx
1:	lodsb
	test	%al, %al
	jz	3f
	mov	%al, %ah
	mov	$0x3fd, %dx
2:	in	%dx, %al		/* LSR: wait for THRE (bit 5) */
	test	$0x20, %al
	jz	2b
	mov	$0x3f8, %dx
	mov	%ah, %al
	out	%al, %dx		/* THR */
	loop	1b
3:	ret

/* EDD disk address packet: size 16, 1 sector, to 0000:7e00, from LBA 1. */
	.balign	4
dap:
	.byte	16, 0
	.word	1
	.word	0x7e00, 0
	.quad	1

boot_drive:
	.byte	0
msg_running:
	.asciz	"BOOTSECTOR: running from the MBR\r\n"
msg_failed:
	.asciz	"BOOTSECTOR: int 13h read of LBA 1 failed\r\n"
msg_waiting:
	.asciz	"BOOTSECTOR: waiting for a byte on COM1\r\n"
msg_looping:
	.asciz	"BOOTSECTOR: reading forever\r\n"
msg_chained:
	.asciz	"BOOTSECTOR: chainloaded by GRUB\r\n"

	/* The partition table (0x1be..0x1fd) stays zero: one disk, no
	 * partitions; make-disk.sh checks the code ends before it. */
	. = _start + 0x1be
	.fill	64, 1, 0
	.byte	0x55, 0xaa
