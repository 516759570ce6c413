/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The HPMN enforcement probe: a few instructions EL2 runs at EL1 once at boot (MMU off, no
 * stage-2, through __guest_enter) with MDCR_EL2.HPMN = N - 1, to find out whether this CPU keeps
 * EL1 out of the counters at and above HPMN. x2 = the counter to touch (N - 1).
 *
 * It ends with HVC #0 and x0 = 1 if the access went through (not enforced), or x0 = 2 if EL1 took
 * an exception for it (enforced: an undefined instruction at EL1). An FGT-style trap of the access
 * to EL2 (EC 0x18) is the third outcome, seen by EL2 directly.
 */

.section .text.vectors, "ax"
.balign 0x800
.global hpmn_probe_vectors
hpmn_probe_vectors:
.rept 16
	.balign	0x80
	mov	x0, #2
	hvc	#0
.endr

.section .text.el2_asm, "ax"
.global hpmn_probe_el1
hpmn_probe_el1:
	mov	x0, #0
	msr	pmselr_el0, x2
	isb
	mrs	x1, pmxevcntr_el0
	mov	x0, #1
	hvc	#0
	b	.
