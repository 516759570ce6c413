/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Assembler helpers shared by the EL2 entry, vector and host-entry code. */

/* PC-relative address of a symbol anywhere within +/- 4 GiB. */
.macro adr_l reg, sym
	adrp	\reg, \sym
	add	\reg, \reg, :lo12:\sym
.endm

/*
 * SCTLR_EL2 with the MMU and caches off, little-endian, alignment checks off, and its RES1 bits
 * set (bits 29:28, 23:22, 18, 16, 11, 5:4 for the non-VHE layout).
 */
.equ SCTLR_EL2_RES1, 0x30c50830

.macro el2_known_state tmp
	mov_imm	\tmp, SCTLR_EL2_RES1
	msr	sctlr_el2, \tmp
	isb
.endm

.macro mov_imm reg, val
	movz	\reg, #((\val) & 0xffff)
	movk	\reg, #(((\val) >> 16) & 0xffff), lsl #16
.endm

/*
 * Data cache maintenance `dc \op` on every line of [start, end). Clobbers start, t1, t2.
 */
.macro dcache_by_line op, start, end, t1, t2
	mrs	\t1, ctr_el0
	ubfx	\t1, \t1, #16, #4	/* DminLine: log2 of words per line */
	mov	\t2, #4
	lsl	\t2, \t2, \t1		/* line size in bytes */
	sub	\t1, \t2, #1
	bic	\start, \start, \t1
9:	dc	\op, \start
	add	\start, \start, \t2
	cmp	\start, \end
	b.lo	9b
	dsb	sy
.endm

/*
 * x2..x30 to / from a TrapFrame at \base (offsets 16..240: see trap_frame.rs). x0 and x1 are left
 * to the caller, which needs them as scratch registers around these.
 */
.macro store_x2_x30 base
	stp	x2, x3, [\base, #16]
	stp	x4, x5, [\base, #32]
	stp	x6, x7, [\base, #48]
	stp	x8, x9, [\base, #64]
	stp	x10, x11, [\base, #80]
	stp	x12, x13, [\base, #96]
	stp	x14, x15, [\base, #112]
	stp	x16, x17, [\base, #128]
	stp	x18, x19, [\base, #144]
	stp	x20, x21, [\base, #160]
	stp	x22, x23, [\base, #176]
	stp	x24, x25, [\base, #192]
	stp	x26, x27, [\base, #208]
	stp	x28, x29, [\base, #224]
	str	x30, [\base, #240]
.endm

.macro load_x2_x30 base
	ldp	x2, x3, [\base, #16]
	ldp	x4, x5, [\base, #32]
	ldp	x6, x7, [\base, #48]
	ldp	x8, x9, [\base, #64]
	ldp	x10, x11, [\base, #80]
	ldp	x12, x13, [\base, #96]
	ldp	x14, x15, [\base, #112]
	ldp	x16, x17, [\base, #128]
	ldp	x18, x19, [\base, #144]
	ldp	x20, x21, [\base, #160]
	ldp	x22, x23, [\base, #176]
	ldp	x24, x25, [\base, #192]
	ldp	x26, x27, [\base, #208]
	ldp	x28, x29, [\base, #224]
	ldr	x30, [\base, #240]
.endm
