/*
 * A boot sector that only computes: the same integer loop twice, once with
 * interrupts disabled and once with them enabled (SeaBIOS's timer interrupt
 * then arrives during it), each result printed in hexadecimal on the 16550
 * at 0x3f8, then cli; hlt. A processor gets the same value every time
 * (cpu-loop-expect.c computes it on the host); an emulated vCPU that loses
 * or repeats work when it is stopped and restarted (to take an interrupt, or
 * in slices while interrupts are off) does not.
 *
 * The loop, 32-bit, for c = ITER down to 1:
 *   a = c * 2654435761; b += a; b = rol(b, 5); [0x6000] = a; b ^= [0x6000]; b += c
 * Assemble: as --32 --defsym ITER=N; ld -m elf_i386 -Ttext 0x7c00 --oformat binary.
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
	ljmp	$0, $1f
1:	mov	$0x3fb, %dx		/* LCR: DLAB, divisor 1, then 8N1 */
	mov	$0x80, %al
	out	%al, %dx
	mov	$0x3f8, %dx
	mov	$1, %al
	out	%al, %dx
	inc	%dx
	xor	%al, %al
	out	%al, %dx
	mov	$0x3fb, %dx
	mov	$0x03, %al
	out	%al, %dx

	mov	$msg_cli, %si
	call	puts
	call	compute			/* interrupts off */
	call	puthex
	sti
	mov	$msg_sti, %si
	call	puts
	call	compute			/* interrupts on */
	cli
	call	puthex
halt:	cli
	hlt
	jmp	halt

/* The loop; result in EBX. */
compute:
	xor	%ebx, %ebx
	mov	$ITER, %ecx
1:	mov	%ecx, %eax
	imul	$2654435761, %eax, %eax
	add	%eax, %ebx
	rol	$5, %ebx
	mov	%eax, 0x6000
	xor	0x6000, %ebx
	add	%ecx, %ebx
	dec	%ecx
	jnz	1b
	ret

/* EBX as 8 hex digits, then CR LF. */
puthex:
	mov	$8, %cx
1:	rol	$4, %ebx
	mov	%bl, %al
	and	$0x0f, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	2f
	add	$7, %al
2:	call	putc
	loop	1b
	mov	$'\r', %al
	call	putc
	mov	$'\n', %al
	jmp	putc

/* AL to the UART once THRE (LSR bit 5) is set. */
putc:
	mov	%al, %ah
	mov	$0x3fd, %dx
1:	in	%dx, %al
	test	$0x20, %al
	jz	1b
	mov	$0x3f8, %dx
	mov	%ah, %al
	out	%al, %dx
	ret

/* The NUL-terminated string at SI. */
puts:
	lodsb
	test	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret

msg_cli:
	.asciz	"CPULOOP: interrupts off "
msg_sti:
	.asciz	"CPULOOP: interrupts on "

	. = _start + 0x1be
	.fill	64, 1, 0
	.byte	0x55, 0xaa
