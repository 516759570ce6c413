/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Entry points and EL1 vectors shared by the test payloads. Runs with the MMU off.
 * _start calls primary_main(dtb); a CPU started with PSCI CPU_ON at secondary_start, with its
 * index as the context id, calls secondary_main(index); both are the payload's. */

.macro adr_l reg, sym
	adrp	\reg, \sym
	add	\reg, \reg, :lo12:\sym
.endm

.section .text.entry, "ax"
.global _start
_start:
	mov	x19, x0
	mov	x20, x1
	adr_l	x9, __bss_start
	adr_l	x10, __bss_end
1:	cmp	x9, x10
	b.hs	2f
	stp	xzr, xzr, [x9], #16
	b	1b
2:	adr_l	x9, primary_stack_top
	mov	sp, x9
	adr_l	x9, el1_vectors
	msr	vbar_el1, x9
	isb
	mov	x0, x19
	mov	x1, x20
	bl	primary_main
	b	.

/* PSCI CPU_ON entry: x0 = context id = CPU index (1..). */
.global secondary_start
secondary_start:
	adr_l	x9, secondary_stacks
	add	x10, x0, #1
	lsl	x10, x10, #14
	add	x9, x9, x10
	mov	sp, x9
	adr_l	x9, el1_vectors
	msr	vbar_el1, x9
	isb
	bl	secondary_main
	b	.

.equ FRAME, 272

.macro ventry kind
	.balign	0x80
	sub	sp, sp, #FRAME
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	mov	x1, #\kind
	b	save_rest
.endm

.balign 0x800
el1_vectors:
	ventry 0
	ventry 1
	ventry 2
	ventry 3
	ventry 4
	ventry 5
	ventry 6
	ventry 7
	ventry 8
	ventry 9
	ventry 10
	ventry 11
	ventry 12
	ventry 13
	ventry 14
	ventry 15

save_rest:
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	mrs	x0, elr_el1
	stp	x30, x0, [sp, #240]
	mrs	x0, spsr_el1
	str	x0, [sp, #256]
	mov	x0, sp
	bl	el1_exception
	ldr	x1, [sp, #256]
	ldp	x30, x0, [sp, #240]
	msr	elr_el1, x0
	msr	spsr_el1, x1
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	add	sp, sp, #FRAME
	eret

.section .bss.stacks, "aw", %nobits
.balign 16
	.space	0x4000
primary_stack_top:
secondary_stacks:
	.space	0x4000 * 8
