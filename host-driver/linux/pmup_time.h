/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Instruction counts from the generic timer, for QEMU with -icount shift=0: one instruction is
 * one nanosecond of virtual time there, so the virtual count (CNTVCT_EL0) measures every
 * instruction the CPU runs, at EL1, EL2 and EL3 alike. Shared by pmup_cost.c and hyp_cost.c.
 *
 * The counter ticks at CNTFRQ (62.5 MHz under TF-A on QEMU virt: one tick per 16 instructions),
 * so a figure is a mean over many rounds, each round started a varying number of instructions
 * after the last (pmup_time_dither(), so that the readings fall at every phase of a tick), with
 * the cost of the two readings themselves (pmup_time_read()) taken off. How many rounds is the
 * including module's parameter "rounds", defined here.
 */
#ifndef PMUP_TIME_H
#define PMUP_TIME_H

#include <linux/compiler.h>
#include <linux/irqflags.h>
#include <linux/math64.h>
#include <linux/moduleparam.h>
#include <linux/time64.h>
#include <asm/arch_timer.h>

static unsigned int rounds = 4096;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds per figure (default 4096, at most 1000000)");

static inline bool pmup_time_rounds_ok(void)
{
	return rounds && rounds <= 1000000;
}

static __always_inline u64 pmup_time_now(void)
{
	return __arch_counter_get_cntvct();
}

/* A different number of instructions before each round, so that rounds start at every phase. */
static __always_inline void pmup_time_dither(unsigned int i)
{
	unsigned int j;

	for (j = 0; j < (i & 15); j++)
		barrier();
}

/*
 * Two counter readings back to back, "rounds" times with interrupts off: the sum, in ticks, of
 * what every measured interval carries beyond the code it times.
 */
static inline u64 pmup_time_read(void)
{
	unsigned long flags;
	unsigned int i;
	u64 t0, t1, sum = 0;

	local_irq_save(flags);
	for (i = 0; i < rounds; i++) {
		pmup_time_dither(i);
		t0 = pmup_time_now();
		t1 = pmup_time_now();
		sum += t1 - t0;
	}
	local_irq_restore(flags);
	return sum;
}

/*
 * A sum of @ticks over "rounds" rounds at @freq Hz as a mean in tenths of an instruction (one
 * instruction per ns), rounded to the nearest, minus @less tenths. Rounded, not truncated: a sum
 * one tick short of an exact mean (a batch between two readings) prints that mean.
 */
static inline u64 pmup_time_tenths(u64 ticks, u64 freq, u64 less)
{
	u64 t = div64_u64(ticks * 10 * NSEC_PER_SEC + freq * rounds / 2, freq * rounds);

	return t > less ? t - less : 0;
}

#endif /* PMUP_TIME_H */
