/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * EL2 entry points: the boot CPU (from TF-A's BL31, or from QEMU's -kernel), and every CPU that
 * the host turns on or resumes through PSCI (EL3 enters them here because the PSCI relay gave EL3
 * these addresses). All of them arrive at EL2 with the MMU off.
 */

/* Assembled after asm_macros.S (see arch/mod.rs). */

.section .text.entry, "ax"

/*
 * Boot CPU. x0..x3 are whatever the previous stage passed; x0 may hold the device tree address.
 */
.global _start
_start:
	/* Keep the previous stage's arguments for Rust. */
	mov	x19, x0
	mov	x20, x1
	mov	x21, x2
	mov	x22, x3

	msr	daifset, #0xf
	mrs	x9, CurrentEL
	cmp	x9, #(2 << 2)
	b.ne	.Lnot_el2

	el2_known_state x9

	/*
	 * Nothing is cached for our image yet as far as we are concerned, but a previous stage may
	 * have left lines for it: discard them so the MMU-off writes below (.bss zeroing, page
	 * tables) are what the caches see once they are on. TF-A cleaned the loaded image to the
	 * point of coherency before entering us, so invalidating loses nothing.
	 */
	adr_l	x0, __fw_start
	adr_l	x1, __fw_end
	dcache_by_line ivac, x0, x1, x9, x10

	adr_l	x0, __bss_start
	adr_l	x1, __bss_end
1:	cmp	x0, x1
	b.hs	2f
	stp	xzr, xzr, [x0], #16
	b	1b
2:
	adr_l	x9, boot_stack_top
	mov	sp, x9
	adr_l	x9, el2_vectors
	msr	vbar_el2, x9
	isb

	mov	x0, x19
	mov	x1, x20
	mov	x2, x21
	mov	x3, x22
	bl	boot_cpu_main
	/* boot_cpu_main never returns. */
	b	park

.Lnot_el2:
	/* Entered at the wrong exception level: there is nothing safe to do. */
	b	park

/*
 * A CPU turned on (CPU_ON) or woken from a power-down state (CPU_SUSPEND, SYSTEM_SUSPEND) by EL3.
 * x0 = the context id EL2 gave EL3: the address of this CPU's `PerCpu`, whose first word is the
 * top of the CPU's EL2 stack.
 */
.macro warm_entry name, rust_fn
.global \name
\name:
	msr	daifset, #0xf
	el2_known_state x9
	ldr	x9, [x0]
	mov	sp, x9
	msr	tpidr_el2, x0
	adr_l	x9, el2_vectors
	msr	vbar_el2, x9
	mov	x19, x0
	bl	el2_mmu_on_warm
	mov	x0, x19
	bl	\rust_fn
	b	park
.endm

	warm_entry cpu_on_entry, cpu_on_main
	warm_entry cpu_resume_entry, cpu_resume_main

/*
 * Turns on the EL2 MMU and caches with the configuration the boot CPU published in
 * `EL2_MMU_CONFIG` (cleaned to the point of coherency so an MMU-off CPU reads it).
 */
el2_mmu_on_warm:
	adr_l	x9, EL2_MMU_CONFIG
	ldp	x10, x11, [x9]		/* MAIR_EL2, TCR_EL2 */
	ldp	x12, x13, [x9, #16]	/* TTBR0_EL2, SCTLR_EL2 */
	msr	mair_el2, x10
	msr	tcr_el2, x11
	msr	ttbr0_el2, x12
	isb
	tlbi	alle2
	dsb	nsh
	isb
	msr	sctlr_el2, x13
	isb
	ret

/*
 * el2_enable_mmu(mair, tcr, ttbr0, sctlr): the boot CPU's MMU switch-on, called from Rust once
 * the page tables are built.
 */
.global el2_enable_mmu
el2_enable_mmu:
	msr	mair_el2, x0
	msr	tcr_el2, x1
	msr	ttbr0_el2, x2
	isb
	tlbi	alle2
	dsb	nsh
	isb
	msr	sctlr_el2, x3
	isb
	ret

.global park
park:
	wfe
	b	park

/* The boot CPU's stack, used until it first enters the host. Deep enough for the device tree
 * fix-up, which runs on it. */
.section .bss.boot_stack, "aw", %nobits
.balign 16
boot_stack:
	.space	0x10000
boot_stack_top:
