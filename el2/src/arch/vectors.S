/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * EL2 exception vectors and the host trap path.
 *
 * A trap from the host saves the host's general registers, ELR_EL2 and SPSR_EL2 in a `TrapFrame`
 * on this CPU's EL2 stack, calls Rust with a pointer to it, and restores whatever Rust left in it.
 * An HVC #0 or SMC #0, the host's hot path, saves fewer (a call frame, the same size, below):
 * x19..x29 are callee-saved for the Rust it calls, ELR_EL2 and SPSR_EL2 are not used by it, and
 * no call reads or writes any of them.
 * EL2 is built for the soft-float target and never touches FP/SIMD, so the host's FP/SIMD and SVE
 * state stays live in the registers across a trap and is not saved. Every other vector means a
 * bug in EL2 (exceptions taken at EL2, or physical interrupts, which this configuration never
 * routes to EL2) and goes to a Rust handler that reports it.
 */

.equ FRAME_SIZE, 272		/* 31 GPRs, ELR, SPSR (at FRAME_ELR + 8), padding: see TrapFrame */
.equ FRAME_ELR, 248
.equ FRAME_X18, 144
.equ ESR_HVC64_IMM0, 0x5a000000	/* EC 0x16 << 26 | IL */
.equ ESR_EC_SMC_BIT, 1 << 26	/* EC 0x16 (HVC64) ^ 0x17 (SMC64) */

/*
 * Each vector entry is 0x80 bytes: every entry macro ends by padding to exactly that from its
 * start, and the assembler refuses an `.org` backwards, so an entry that grew too long fails the
 * build instead of moving every later entry off its architectural offset.
 */
.macro ventry_fits start
	.org	\start + 0x80
.endm

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
.Lventry\@:
	save_frame
	mov	x0, sp
	bl	handle_host_trap
	b	restore_frame_eret
	ventry_fits .Lventry\@
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

/*
 * Synchronous from the host in AArch64: SMCCC calls take the short path. ESR_EL2 of an HVC #0 is
 * exactly ESR_HVC64_IMM0 (EC 0x16, IL, immediate 0; the other ISS bits are RES0), and of an SMC #0
 * differs from it only in bit 26 (EC 0x17): one XOR and one test pick both out, and leave x1 = 0
 * for an HVC and non-zero for an SMC. Any other immediate (not an SMCCC call) takes the full trap
 * path, where Rust refuses it.
 */
.macro ventry_host_sync
	.balign	0x80
.Lventry\@:
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	mrs	x1, esr_el2
	mov	x0, #ESR_HVC64_IMM0
	eor	x1, x1, x0
	tst	x1, #~ESR_EC_SMC_BIT
	b.eq	host_call_path
	store_x2_x30 sp
	mrs	x0, elr_el2
	mrs	x1, spsr_el2
	stp	x0, x1, [sp, #FRAME_ELR]
	mov	x0, sp
	bl	handle_host_trap
	b	restore_frame_eret
	ventry_fits .Lventry\@
.endm

.macro ventry_unexpected kind
	.balign	0x80
.Lventry\@:
	save_frame
	mov	x0, sp
	mov	x1, #\kind
	bl	handle_unexpected_exception
	b	park
	ventry_fits .Lventry\@
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

/* The code the vectors branch to sits before them, in the space their alignment leaves (image.ld). */
.section .text.el2_asm, "ax"

/*
 * An HVC #0 or SMC #0 from the host; x0 and x1 are saved, x1 = 0 for an HVC. The call frame is
 * a TrapFrame's size, with x0..x17 where a TrapFrame has them (Rust sees those as SmcRegs), then
 * x18 and x30 in the next two slots: x2..x17 because the call's Rust may clobber them and SMCCC
 * says a call keeps them (or returns results in them), x18 and x30 likewise; x19..x29 are
 * callee-saved for the Rust it calls. ELR_EL2 and SPSR_EL2 stay in their registers: nothing on a
 * call's path takes an exception at EL2, and a VCPU_RUN's world switch puts the host's back. A trapped SMC has not executed, so the
 * host resumes after it (ELR_EL2 + 4). handle_host_call(frame, conduit) is told the conduit in x1
 * as it stands: 0 for HVC, non-zero for SMC.
 */
host_call_path:
	x2_x17 stp
	stp	x18, x30, [sp, #FRAME_X18]
	cbz	x1, 1f
	mrs	x2, elr_el2
	add	x2, x2, #4
	msr	elr_el2, x2
1:	mov	x0, sp
	bl	handle_host_call
	x2_x17 ldp
	ldp	x18, x30, [sp, #FRAME_X18]
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #FRAME_SIZE
	eret
	/* No straight-line speculation past the ERET. */
	dsb	nsh
	isb

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
