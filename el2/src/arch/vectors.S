/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * EL2 exception vectors and the host trap path.
 *
 * A trap from the host saves the host's general registers, ELR_EL2 and SPSR_EL2 in a `TrapFrame`
 * on this CPU's EL2 stack, calls Rust with a pointer to it, and restores whatever Rust left in it.
 * An HVC or SMC, the host's hot path, saves fewer (a `CallFrame`, same layout): x19..x28 are
 * callee-saved for the Rust it calls, ELR_EL2 and SPSR_EL2 are not used by it, and no call
 * reads or writes any of them.
 * EL2 is built for the soft-float target and never touches FP/SIMD, so the host's FP/SIMD and SVE
 * state stays live in the registers across a trap and is not saved. Every other vector means a
 * bug in EL2 (exceptions taken at EL2, or physical interrupts, which this configuration never
 * routes to EL2) and goes to a Rust handler that reports it.
 */

.equ FRAME_SIZE, 272		/* 31 GPRs, ELR, SPSR (at FRAME_ELR + 8), padding: see TrapFrame */
.equ FRAME_ELR, 248
.equ FRAME_X18, 144
.equ FRAME_X29, 232
.equ ESR_EC_SHIFT, 26
.equ EC_HVC64, 0x16
.equ EC_SMC64, 0x17

.macro save_frame
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	store_x2_x30 sp
	mrs	x0, elr_el2
	mrs	x1, spsr_el2
	stp	x0, x1, [sp, #FRAME_ELR]
.endm

.macro ventry_host
	.balign	0x80
	save_frame
	mov	x0, sp
	bl	handle_host_trap
	b	restore_frame_eret
.endm

/* x2..x17 of the frame at sp, stored (stp) or loaded (ldp). */
.macro x2_x17 op
	\op	x2, x3, [sp, #16]
	\op	x4, x5, [sp, #32]
	\op	x6, x7, [sp, #48]
	\op	x8, x9, [sp, #64]
	\op	x10, x11, [sp, #80]
	\op	x12, x13, [sp, #96]
	\op	x14, x15, [sp, #112]
	\op	x16, x17, [sp, #128]
.endm

/* Synchronous from the host in AArch64: calls take the short path. */
.macro ventry_host_sync
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	mrs	x1, esr_el2
	ubfx	x0, x1, #ESR_EC_SHIFT, #6
	cmp	x0, #EC_HVC64
	ccmp	x0, #EC_SMC64, #4, ne	/* Z set: HVC64 or SMC64 */
	b.eq	host_call_path
	store_x2_x30 sp
	mrs	x0, elr_el2
	mrs	x1, spsr_el2
	stp	x0, x1, [sp, #FRAME_ELR]
	mov	x0, sp
	bl	handle_host_trap
	b	restore_frame_eret
.endm

.macro ventry_unexpected kind
	.balign	0x80
	save_frame
	mov	x0, sp
	mov	x1, #\kind
	bl	handle_unexpected_exception
	b	park
.endm

.section .text.vectors, "ax"
.balign 0x800
.global el2_vectors
el2_vectors:
	/* Current EL with SP_EL0: EL2 always runs on SP_EL2, so none of these can happen. */
	ventry_unexpected 0
	ventry_unexpected 1
	ventry_unexpected 2
	ventry_unexpected 3
	/* Current EL with SP_EL2: a fault inside EL2 itself. */
	ventry_unexpected 4
	ventry_unexpected 5
	ventry_unexpected 6
	ventry_unexpected 7
	/* Lower EL, AArch64: the host (HVC, trapped SMC, stage-2 aborts, other traps). */
	ventry_host_sync
	ventry_unexpected 9
	ventry_unexpected 10
	ventry_unexpected 11
	/* Lower EL, AArch32: only a 32-bit host EL0 can be here (a stage-2 abort). */
	ventry_host
	ventry_unexpected 13
	ventry_unexpected 14
	ventry_unexpected 15

/*
 * x0 and x1 are saved, x0 = the exception class, x1 = ESR_EL2: the rest of a CallFrame, Rust,
 * and back. ELR_EL2 and SPSR_EL2 stay in their registers (see CallFrame).
 *
 * What the syndrome says is settled here, in a few instructions rather than in Rust:
 * - a trapped SMC has not executed, so the host resumes after it (ELR_EL2 + 4);
 * - SMCCC calls use immediate 0: any other HVC or SMC immediate is not a call of this
 *   hypervisor, and is refused as NOT_SUPPORTED (-1 in x0, x1..x3 zero, like every refusal);
 * - handle_host_call(frame, smc) is told the conduit (x1: 0 HVC, 1 SMC).
 */
host_call_path:
	x2_x17 stp
	str	x18, [sp, #FRAME_X18]
	stp	x29, x30, [sp, #FRAME_X29]
	cmp	x0, #EC_SMC64
	b.eq	1f
	tst	x1, #0xffff
	b.ne	3f
	mov	x1, #0
	b	2f
1:	mrs	x2, elr_el2
	add	x2, x2, #4
	msr	elr_el2, x2
	tst	x1, #0xffff
	b.ne	3f
	mov	x1, #1
2:	mov	x0, sp
	bl	handle_host_call
4:	x2_x17 ldp
	ldr	x18, [sp, #FRAME_X18]
	ldp	x29, x30, [sp, #FRAME_X29]
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #FRAME_SIZE
	eret
	/* No straight-line speculation past the ERET. */
	dsb	nsh
	isb
3:	mov	x0, #-1
	stp	x0, xzr, [sp, #0]
	stp	xzr, xzr, [sp, #16]
	b	4b

restore_frame_eret:
	ldp	x0, x1, [sp, #FRAME_ELR]
	msr	elr_el2, x0
	msr	spsr_el2, x1
	load_x2_x30 sp
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #FRAME_SIZE
	eret
	/* No straight-line speculation past the ERET. */
	dsb	nsh
	isb

/*
 * enter_host(entry, arg0, stack_top, spsr): first entry of the host on this CPU. Resets the EL2
 * stack (traps from the host start from an empty stack), and clears every general register but
 * x0 so no EL2 value reaches the host.
 */
.global enter_host
enter_host:
	msr	elr_el2, x0
	msr	spsr_el2, x3
	mov	sp, x2
	mov	x0, x1
	mov	x1, xzr
	mov	x2, xzr
	mov	x3, xzr
	mov	x4, xzr
	mov	x5, xzr
	mov	x6, xzr
	mov	x7, xzr
	mov	x8, xzr
	mov	x9, xzr
	mov	x10, xzr
	mov	x11, xzr
	mov	x12, xzr
	mov	x13, xzr
	mov	x14, xzr
	mov	x15, xzr
	mov	x16, xzr
	mov	x17, xzr
	mov	x18, xzr
	mov	x19, xzr
	mov	x20, xzr
	mov	x21, xzr
	mov	x22, xzr
	mov	x23, xzr
	mov	x24, xzr
	mov	x25, xzr
	mov	x26, xzr
	mov	x27, xzr
	mov	x28, xzr
	mov	x29, xzr
	mov	x30, xzr
	eret
	dsb	nsh
	isb
