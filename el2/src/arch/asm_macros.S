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
