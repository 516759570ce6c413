/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Entering a guest and coming back from it.
 *
 * __guest_enter(regs) is called from Rust with the guest's EL1 system registers and EL2's
 * controls for the guest already in place. It keeps EL2's callee-saved registers, link register
 * and stack pointer in this CPU's PerCpu.world, points VBAR_EL2 at guest_vectors, loads the
 * guest's general registers, PC and PSTATE from `regs` (a TrapFrame) and enters the guest.
 *
 * Any exception from the guest lands in guest_vectors, which stores the guest's registers back
 * into `regs`, puts EL2's own vectors, registers and stack back, and returns from __guest_enter
 * with the kind of exception: 0 synchronous, 1 IRQ, 2 FIQ, 3 SError. Rust reads the syndrome and
 * decides. Exceptions from EL2 itself cannot happen here (EL2 is not running while the guest is),
 * so those vectors park the CPU.
 */

.section .text.el2_asm, "ax"

.equ PERCPU_WORLD, 8
.equ WORLD_SP, PERCPU_WORLD + 96
.equ WORLD_GUEST, PERCPU_WORLD + 104

.global __guest_enter
__guest_enter:
	mrs	x9, tpidr_el2
	add	x10, x9, #PERCPU_WORLD
	stp	x19, x20, [x10, #0]
	stp	x21, x22, [x10, #16]
	stp	x23, x24, [x10, #32]
	stp	x25, x26, [x10, #48]
	stp	x27, x28, [x10, #64]
	stp	x29, x30, [x10, #80]
	mov	x11, sp
	str	x11, [x9, #WORLD_SP]
	str	x0, [x9, #WORLD_GUEST]

	adr_l	x11, guest_vectors
	msr	vbar_el2, x11

	ldp	x1, x2, [x0, #248]		/* PC, PSTATE */
	msr	elr_el2, x1
	msr	spsr_el2, x2
	isb
	load_x2_x30 x0
	ldp	x0, x1, [x0, #0]
	eret
	dsb	nsh
	isb

.macro gventry kind
	.balign	0x80
	stp	x0, x1, [sp, #-16]!
	mov	x1, #\kind
	b	guest_exit
.endm

.macro gventry_bad
	.balign	0x80
	b	park
.endm

.section .text.vectors, "ax"
.balign 0x800
guest_vectors:
	gventry_bad
	gventry_bad
	gventry_bad
	gventry_bad
	gventry_bad
	gventry_bad
	gventry_bad
	gventry_bad
	gventry 0
	gventry 1
	gventry 2
	gventry 3
	gventry 0
	gventry 1
	gventry 2
	gventry 3

.section .text.el2_asm, "ax"
guest_exit:
	/* x0 and x1 (the guest's) are on the stack; x1 now holds the kind. */
	mrs	x0, tpidr_el2
	ldr	x0, [x0, #WORLD_GUEST]
	store_x2_x30 x0
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0, #0]
	mrs	x2, elr_el2
	mrs	x3, spsr_el2
	stp	x2, x3, [x0, #248]

	adr_l	x2, el2_vectors
	msr	vbar_el2, x2
	isb

	mrs	x9, tpidr_el2
	ldr	x10, [x9, #WORLD_SP]
	mov	sp, x10
	add	x10, x9, #PERCPU_WORLD
	ldp	x19, x20, [x10, #0]
	ldp	x21, x22, [x10, #16]
	ldp	x23, x24, [x10, #32]
	ldp	x25, x26, [x10, #48]
	ldp	x27, x28, [x10, #64]
	ldp	x29, x30, [x10, #80]
	mov	x0, x1
	ret
