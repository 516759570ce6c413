// SPDX-License-Identifier: GPL-2.0
/*
 * hyp_cost: what four kinds of host call cost, in instructions, whichever hypervisor runs at
 * EL2: this project's firmware (hyp=pmup) or pKVM, Linux's KVM in protected mode (hyp=pkvm).
 * `make bench` loads it into one and the same kernel (scripts/linux-pkvm.sh) under each in turn,
 * on QEMU with -icount shift=0, and prints the two side by side (docs/performance.md).
 *
 * The clock is pmup_cost.c's (pmup_time.h): the generic timer's virtual count, which counts every
 * instruction (EL1, EL2 and EL3). Each path is made 16 times untimed (its answer kept), then
 * "rounds" times back to back between two readings, interrupts off, like pmup_cost.c's "pair"
 * figure: the counter's 16-instruction tick then costs at most 16 / rounds instructions per
 * call, whatever phase the readings fall at. (pmup_cost.c's per-round means, one call between two
 * readings, are exact only when the rounds' start phases cover a tick evenly; for some path
 * lengths they do not, and a few instructions run before the loop moved the null HVC's figure by
 * up to 8.) The loop is assembly, so that what is counted is known exactly: per call,
 * `mov x0, <id>`, `hvc #0` or `smc #0`, everything the hypervisor (and EL3) runs, and the loop's
 * own `subs` and `b.ne`, which are taken off, as is the two readings' own cost. A last call
 * checks that the answer did not change.
 *
 * The paths, always with the same arguments and the same answer (pKVM's function IDs are those
 * of Linux 6.12's enum __kvm_host_smccc_func, asm/kvm_asm.h, which modules cannot include):
 *   null      HVC 0xc60000ff, a fast SMC64 call of the vendor-specific hypervisor service that
 *             neither implements: both answer NOT_SUPPORTED. Trap, dispatch, return.
 *   answered  HVC of the cheapest call the hypervisor answers, taking no argument and leaving
 *             nothing different but for cached translations:
 *             pmup: HYP_REVISION (0x8600ff03), x0.x1 = the ABI's revision (docs/abi.md);
 *             pkvm: __kvm_flush_vm_context (0xc600000d): x0 = SUCCESS after a TLBI ALLE1IS
 *             (idempotent; nothing else of pKVM's host hypercalls after initialisation is
 *             cheaper and side-effect free: the others take pointers, share or unshare memory,
 *             or set CNTVOFF_EL2, which moves the very counter this module reads).
 *   percpu    HVC of a call answered from per-CPU state that changes nothing at all:
 *             pmup: PMU_STATUS (0xc6000002), x0 = 0, x1.. this CPU's reservation;
 *             pkvm: __pkvm_prot_finalize (0xc6000008), x0 = SUCCESS, x1 = -EPERM: this CPU's
 *             protection is finalised already, which it reads from its per-CPU parameters.
 *   smc       SMC PSCI_VERSION (0x84000000): trapped to EL2 and relayed to EL3 by both; TF-A's
 *             answer comes back.
 *
 * Output, in the kernel log, means in instructions with one decimal:
 *   HYPCOST: hyp=H cpu=C cntfrq=F rounds=R read=X
 *   HYPCOST: path=P conduit=hvc|smc id=0x... a0=0x... a1=0x... cost=X     (one per path)
 *   HYPCOST: done
 * An answer that is not the expected one, or that changed during the timed calls, gets a
 * "HYPCOST: error ..." line instead of the path's. Loading always succeeds; the module does
 * nothing after init.
 */

#define pr_fmt(fmt) "HYPCOST: " fmt

#include <linux/arm-smccc.h>
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <uapi/linux/psci.h>

#include "pmup_time.h"

#define HYP_COST_NULL			0xc60000ffU
#define HYP_COST_PMUP_REVISION		0x8600ff03U
#define HYP_COST_PMUP_PMU_STATUS	0xc6000002U
#define HYP_COST_PKVM_PROT_FINALIZE	0xc6000008U
#define HYP_COST_PKVM_FLUSH_VM_CONTEXT	0xc600000dU
#define HYP_COST_WARMUP			16
/* The timed loop's own instructions per call: subs, b.ne. In tenths. */
#define HYP_COST_LOOP_TENTHS		20

static char *hyp = "";
module_param(hyp, charp, 0444);
MODULE_PARM_DESC(hyp, "the hypervisor at EL2: pmup (this project's) or pkvm");

struct hyp_cost_path {
	const char *name;
	u32 id;
	bool smc;
	/* x1 is part of the answer (otherwise whatever the host had in it). */
	bool a1;
	struct arm_smccc_res res;
	u64 ticks;
	bool changed;
};

/*
 * The registers an SMCCC call may change are all clobbered, not only x0-x3 (SMCCC 1.1 and later
 * keep x4-x17; 1.0 did not promise to), so that the loop holds nothing in them.
 */
#define HYP_COST_CLOBBERS "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", \
	"x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "cc", "memory"

/* @n (> 0) calls of @id back to back. */
static __always_inline void hyp_cost_batch(u32 id, bool smc, unsigned int n)
{
	unsigned long x = id;

	if (smc)
		asm volatile("1:	mov	x0, %[id]\n"
			     "	smc	#0\n"
			     "	subs	%w[n], %w[n], #1\n"
			     "	b.ne	1b\n"
			     : [n] "+r" (n) : [id] "r" (x) : HYP_COST_CLOBBERS);
	else
		asm volatile("1:	mov	x0, %[id]\n"
			     "	hvc	#0\n"
			     "	subs	%w[n], %w[n], #1\n"
			     "	b.ne	1b\n"
			     : [n] "+r" (n) : [id] "r" (x) : HYP_COST_CLOBBERS);
}

static __always_inline void hyp_cost_call(u32 id, bool smc,
					  struct arm_smccc_res *res)
{
	if (smc)
		arm_smccc_1_1_smc(id, res);
	else
		arm_smccc_1_1_hvc(id, res);
}

/* Inlined where @smc is a constant. */
static __always_inline void hyp_cost_loop(struct hyp_cost_path *p, bool smc)
{
	struct arm_smccc_res res;
	unsigned long flags;
	unsigned int i;
	u64 t0;

	local_irq_save(flags);
	for (i = 0; i < HYP_COST_WARMUP; i++)
		hyp_cost_call(p->id, smc, &p->res);
	t0 = pmup_time_now();
	hyp_cost_batch(p->id, smc, rounds);
	p->ticks = pmup_time_now() - t0;
	hyp_cost_call(p->id, smc, &res);
	p->changed = res.a0 != p->res.a0 || (p->a1 && res.a1 != p->res.a1);
	local_irq_restore(flags);
}

static noinline void hyp_cost_hvc(struct hyp_cost_path *p)
{
	hyp_cost_loop(p, false);
}

static noinline void hyp_cost_smc(struct hyp_cost_path *p)
{
	hyp_cost_loop(p, true);
}

/* Is @p's answer the one its hypervisor gives when all is well? */
static bool hyp_cost_expected(const struct hyp_cost_path *p)
{
	long a0 = (long)p->res.a0, a1 = (long)p->res.a1;

	switch (p->id) {
	case HYP_COST_NULL:
		return a0 == SMCCC_RET_NOT_SUPPORTED;
	case HYP_COST_PMUP_REVISION:		/* major, minor */
		return a0 >= 0 && a1 >= 0;
	case HYP_COST_PMUP_PMU_STATUS:
		return a0 == 0;
	case HYP_COST_PKVM_FLUSH_VM_CONTEXT:
		return a0 == SMCCC_RET_SUCCESS;
	case HYP_COST_PKVM_PROT_FINALIZE:	/* finalised already */
		return a0 == SMCCC_RET_SUCCESS && a1 == -EPERM;
	case PSCI_0_2_FN_PSCI_VERSION:		/* major << 16 | minor */
		return a0 > 0;
	}
	return false;
}

static int __init hyp_cost_init(void)
{
	bool pkvm = !strcmp(hyp, "pkvm");
	struct hyp_cost_path paths[] = {
		{ .name = "null", .id = HYP_COST_NULL },
		{ .name = "answered", .a1 = !pkvm,
		  .id = pkvm ? HYP_COST_PKVM_FLUSH_VM_CONTEXT : HYP_COST_PMUP_REVISION },
		{ .name = "percpu", .a1 = true,
		  .id = pkvm ? HYP_COST_PKVM_PROT_FINALIZE : HYP_COST_PMUP_PMU_STATUS },
		{ .name = "smc", .id = PSCI_0_2_FN_PSCI_VERSION, .smc = true },
	};
	u64 freq, read, cost;
	unsigned int i;

	if (!pmup_time_rounds_ok() || (!pkvm && strcmp(hyp, "pmup"))) {
		pr_info("error bad parameters hyp=%s rounds=%u\n", hyp, rounds);
		return 0;
	}
	freq = arch_timer_get_cntfrq();
	read = pmup_time_tenths(pmup_time_read(), freq, 0);
	pr_info("hyp=%s cpu=%u cntfrq=%llu rounds=%u read=%llu.%llu\n", hyp,
		raw_smp_processor_id(), freq, rounds, read / 10, read % 10);

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		struct hyp_cost_path *p = &paths[i];

		if (p->smc)
			hyp_cost_smc(p);
		else
			hyp_cost_hvc(p);
		if (p->changed || !hyp_cost_expected(p)) {
			pr_info("error path=%s id=0x%x a0=0x%lx a1=0x%lx changed=%d\n",
				p->name, p->id, p->res.a0, p->res.a1, p->changed);
			continue;
		}
		/* The two readings once, the loop's own instructions every time. */
		cost = pmup_time_tenths(p->ticks, freq,
					read / rounds + HYP_COST_LOOP_TENTHS);
		pr_info("path=%s conduit=%s id=0x%x a0=0x%lx a1=0x%lx cost=%llu.%llu\n",
			p->name, p->smc ? "smc" : "hvc", p->id, p->res.a0,
			p->a1 ? p->res.a1 : 0, cost / 10, cost % 10);
	}
	pr_info("done\n");
	return 0;
}

static void __exit hyp_cost_exit(void)
{
}

module_init(hyp_cost_init);
module_exit(hyp_cost_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Cost of four host calls to the hypervisor at EL2, for comparing hypervisors");
