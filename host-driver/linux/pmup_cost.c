// SPDX-License-Identifier: GPL-2.0
/*
 * pmup_cost: what one armpmu_reserve_counters() and one armpmu_release_counters() cost on a CPU,
 * in instructions, with 0, 3 and 7 perf events active there, and what the bare hypervisor calls
 * under them (PMU_RESERVE, PMU_UNRESERVE by HVC) cost on their own. For QEMU with
 * -icount shift=0, where one instruction is one nanosecond of virtual time: the generic timer's
 * virtual count then measures every instruction the CPU runs, at EL1 and EL2 alike (EL3 is not
 * involved). The PMU's own counters cannot: perf stops the PMU around its reschedule, and EL2 may
 * hide itself from them.
 *
 * The counter ticks at CNTFRQ, so each figure is a mean over many rounds, with the cost of reading
 * the counter twice taken off (pmup_time.h, shared with hyp_cost.c). Under -icount the run is
 * deterministic: the same kernel and module print the same numbers every time.
 *
 * Everything runs on one CPU (the "cpu" parameter), in a kworker bound to it, with interrupts off
 * during each measurement: no tick, rotation or other interrupt lands in a measured call. The
 * events are per-CPU counting events on that CPU: the first counts cycles (the cycle counter),
 * the others count STALL_FRONTEND (0x23, an event QEMU's PMU lists), which only an event counter
 * can take. QEMU's PMU has 6 event counters: 7 events fill the PMU, and with 2 reserved two of
 * them do not fit and wait (they would multiplex, were interrupts on).
 *
 * Output, in the kernel log, one line each, means in instructions with one decimal:
 *   COST: cpu=C cntfrq=F rounds=R read=X
 *   COST: api zero=E over=E first=E again=E release=E release-none=E   (the interface's errors)
 *   COST: hvc reserve=X release=Y pair=Z
 *   COST: events=N active=A reserved-active=B reserve=X release=Y pair=Z
 *   COST: el2 timer=X inst=Y cycles=Z
 *   COST: done
 * "pair" is one reserve and one release timed together (R pairs between two readings), a check
 * on the sum of the two means. "el2" is one HYP_REVISION by HVC as three counts see it: the
 * generic timer (every instruction), and two perf events that ask to count the hypervisor too
 * (exclude_hv clear, so the driver sets their NSH filter bit), INST_RETIRED on an event counter
 * and cycles on the cycle counter: where the CPU lets EL2 keep out of the host's counters
 * (MDCR_EL2.HPMD, HCCD), they see only the host's part of the call. Any failure gets a
 * "COST: error ..." line. Loading always succeeds; the module does nothing after init.
 */

#define pr_fmt(fmt) "COST: " fmt

#include <linux/arm-smccc.h>
#include <linux/compiler.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/perf_event.h>
#include <linux/perf/arm_pmu.h>
#include <linux/preempt.h>
#include <linux/workqueue.h>

#include "pmup_time.h"

/* The hypervisor's PMU calls (docs/abi.md): fast, SMC64, vendor-specific hypervisor service. */
#define PMUP_PMU_RESERVE	0xc6000003U
#define PMUP_PMU_UNRESERVE	0xc6000004U
#define PMUP_HYP_REVISION	0x8600ff03U
#define PMUP_COST_INST_RETIRED	0x08

#define PMUP_COST_TAKE		2
#define PMUP_COST_MAX_EVENTS	7
#define PMUP_COST_WARMUP	16
#define PMUP_COST_STALL_FRONTEND	0x23

static unsigned int cpu;
module_param(cpu, uint, 0444);
MODULE_PARM_DESC(cpu, "CPU to measure on (default 0)");

/* Sums, in counter ticks, over the rounds. */
struct pmup_cost_sums {
	u64 first;
	u64 second;
	u64 pair;
	int err;
};

static int pmup_cost_hvc_reserve(void)
{
	struct arm_smccc_res res;

	arm_smccc_1_1_hvc(PMUP_PMU_RESERVE, PMUP_COST_TAKE, 0, &res);
	return (long)res.a0 ? -EIO : 0;
}

static int pmup_cost_hvc_release(void)
{
	struct arm_smccc_res res;

	arm_smccc_1_1_hvc(PMUP_PMU_UNRESERVE, 0, &res);
	return (long)res.a0 ? -EIO : 0;
}

static int pmup_cost_reserve(void)
{
	return armpmu_reserve_counters(PMUP_COST_TAKE);
}

/*
 * Times @reserve and @release, alternately, rounds times each (after a few rounds untimed), then
 * rounds pairs of them between two readings. Interrupts off throughout.
 */
static void pmup_cost_calls(struct pmup_cost_sums *s, int (*reserve)(void),
			    int (*release)(void))
{
	unsigned long flags;
	unsigned int i;
	u64 t0, t1, t2;
	int ret;

	local_irq_save(flags);
	for (i = 0; i < PMUP_COST_WARMUP; i++) {
		ret = reserve();
		if (ret)
			goto out;
		ret = release();
		if (ret)
			goto out;
	}
	for (i = 0; i < rounds; i++) {
		pmup_time_dither(i);
		t0 = pmup_time_now();
		ret = reserve();
		t1 = pmup_time_now();
		if (ret)
			goto out;
		ret = release();
		t2 = pmup_time_now();
		if (ret)
			goto out;
		s->first += t1 - t0;
		s->second += t2 - t1;
	}
	t0 = pmup_time_now();
	for (i = 0; i < rounds; i++) {
		ret = reserve();
		if (ret)
			goto out;
		ret = release();
		if (ret)
			goto out;
	}
	s->pair = pmup_time_now() - t0;
out:
	local_irq_restore(flags);
	s->err = ret;
}

struct pmup_cost_ctx {
	u64 freq;
	u64 read;	/* tenths */
};

static void pmup_cost_print(const char *what, const struct pmup_cost_ctx *c,
			    const struct pmup_cost_sums *s)
{
	u64 first = pmup_time_tenths(s->first, c->freq, c->read);
	u64 second = pmup_time_tenths(s->second, c->freq, c->read);
	u64 pair = pmup_time_tenths(s->pair, c->freq, 0);

	pr_info("%s reserve=%llu.%llu release=%llu.%llu pair=%llu.%llu\n", what,
		first / 10, first % 10, second / 10, second % 10,
		pair / 10, pair % 10);
}

static unsigned int pmup_cost_active(struct perf_event **ev, unsigned int n)
{
	unsigned int i, active = 0;

	for (i = 0; i < n; i++)
		if (READ_ONCE(ev[i]->state) == PERF_EVENT_STATE_ACTIVE)
			active++;
	return active;
}

/* Creates @n counting events on this CPU, measures, and frees them. */
static int pmup_cost_events(const struct pmup_cost_ctx *c, unsigned int n)
{
	struct perf_event *ev[PMUP_COST_MAX_EVENTS] = {};
	struct pmup_cost_sums s = {};
	unsigned int i, active, reserved_active = 0;
	char what[64];
	int ret = 0;

	for (i = 0; i < n; i++) {
		struct perf_event_attr attr = {
			.size = sizeof(attr),
			.type = i ? PERF_TYPE_RAW : PERF_TYPE_HARDWARE,
			.config = i ? PMUP_COST_STALL_FRONTEND :
				      PERF_COUNT_HW_CPU_CYCLES,
		};

		ev[i] = perf_event_create_kernel_counter(&attr, cpu, NULL,
							 NULL, NULL);
		if (IS_ERR(ev[i])) {
			ret = PTR_ERR(ev[i]);
			ev[i] = NULL;
			pr_info("error events=%u event %u: %d\n", n, i, ret);
			goto out;
		}
	}

	active = pmup_cost_active(ev, n);
	local_irq_disable();
	ret = armpmu_reserve_counters(PMUP_COST_TAKE);
	if (!ret) {
		reserved_active = pmup_cost_active(ev, n);
		ret = armpmu_release_counters();
	}
	local_irq_enable();
	if (ret) {
		pr_info("error events=%u reserve/release: %d\n", n, ret);
		goto out;
	}

	pmup_cost_calls(&s, pmup_cost_reserve, armpmu_release_counters);
	if (s.err) {
		pr_info("error events=%u: %d\n", n, s.err);
		ret = s.err;
		goto out;
	}
	snprintf(what, sizeof(what), "events=%u active=%u reserved-active=%u",
		 n, active, reserved_active);
	pmup_cost_print(what, c, &s);
out:
	for (i = 0; i < n; i++)
		if (ev[i])
			perf_event_release_kernel(ev[i]);
	return ret;
}

/*
 * The in-kernel interface's answers to what a caller can get wrong: no counters, more than the
 * hypervisor grants, a second reservation, a release with nothing reserved.
 */
static void pmup_cost_api(void)
{
	int zero, over, first, again, release, none;

	preempt_disable();
	zero = armpmu_reserve_counters(0);
	over = armpmu_reserve_counters(ARMPMU_MAX_HWEVENTS);
	first = armpmu_reserve_counters(PMUP_COST_TAKE);
	again = armpmu_reserve_counters(PMUP_COST_TAKE);
	release = armpmu_release_counters();
	none = armpmu_release_counters();
	preempt_enable();
	pr_info("api zero=%d over=%d first=%d again=%d release=%d release-none=%d\n",
		zero, over, first, again, release, none);
}

/* A counting event on this CPU that counts EL2 too, as far as the CPU and EL2 let it. */
static struct perf_event *pmup_cost_el2_event(u32 type, u64 config)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = type,
		.config = config,
		.pinned = 1,
		.exclude_hv = 0,
	};

	return perf_event_create_kernel_counter(&attr, cpu, NULL, NULL, NULL);
}

/*
 * "rounds" HYP_REVISION calls by HVC, interrupts off, timed and counted. The perf reads are
 * outside the timed loop, with interrupts on (perf_event_read_value() may sleep): what they add
 * is a few instructions a call at most, over "rounds" calls.
 */
static void pmup_cost_el2(const struct pmup_cost_ctx *c)
{
	struct perf_event *inst, *cycles = NULL;
	u64 i0, i1, c0, c1, t0, t1, en, run, ti, ii, ci;
	struct arm_smccc_res res;
	unsigned long flags;
	unsigned int i;

	inst = pmup_cost_el2_event(PERF_TYPE_RAW, PMUP_COST_INST_RETIRED);
	if (IS_ERR(inst)) {
		pr_info("error el2 inst event: %ld\n", PTR_ERR(inst));
		return;
	}
	cycles = pmup_cost_el2_event(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
	if (IS_ERR(cycles)) {
		pr_info("error el2 cycles event: %ld\n", PTR_ERR(cycles));
		goto out;
	}
	i0 = perf_event_read_value(inst, &en, &run);
	c0 = perf_event_read_value(cycles, &en, &run);
	local_irq_save(flags);
	t0 = pmup_time_now();
	for (i = 0; i < rounds; i++)
		arm_smccc_1_1_hvc(PMUP_HYP_REVISION, &res);
	t1 = pmup_time_now();
	local_irq_restore(flags);
	i1 = perf_event_read_value(inst, &en, &run);
	c1 = perf_event_read_value(cycles, &en, &run);
	if (res.a0 || READ_ONCE(inst->state) != PERF_EVENT_STATE_ACTIVE ||
	    READ_ONCE(cycles->state) != PERF_EVENT_STATE_ACTIVE) {
		pr_info("error el2 revision=%ld or an event not on the PMU\n", (long)res.a0);
		goto out;
	}
	ti = pmup_time_tenths(t1 - t0, c->freq, 0);
	ii = div64_u64((i1 - i0) * 10 + rounds / 2, rounds);
	ci = div64_u64((c1 - c0) * 10 + rounds / 2, rounds);
	pr_info("el2 timer=%llu.%llu inst=%llu.%llu cycles=%llu.%llu\n", ti / 10, ti % 10,
		ii / 10, ii % 10, ci / 10, ci % 10);
out:
	if (!IS_ERR_OR_NULL(cycles))
		perf_event_release_kernel(cycles);
	perf_event_release_kernel(inst);
}

/* In a kworker bound to the CPU measured. */
static long pmup_cost_run(void *unused)
{
	static const unsigned int counts[] = { 0, 3, 7 };
	struct pmup_cost_sums s = {};
	struct pmup_cost_ctx c;
	unsigned int i;

	c.freq = arch_timer_get_cntfrq();
	c.read = pmup_time_tenths(pmup_time_read(), c.freq, 0);
	pr_info("cpu=%u cntfrq=%llu rounds=%u read=%llu.%llu\n", cpu, c.freq,
		rounds, c.read / 10, c.read % 10);

	pmup_cost_api();

	/* The bare calls, with no perf event on the CPU to move. */
	pmup_cost_calls(&s, pmup_cost_hvc_reserve, pmup_cost_hvc_release);
	if (s.err)
		pr_info("error hvc: %d\n", s.err);
	else
		pmup_cost_print("hvc", &c, &s);

	for (i = 0; i < ARRAY_SIZE(counts); i++)
		if (pmup_cost_events(&c, counts[i]))
			break;

	pmup_cost_el2(&c);
	return 0;
}

static int __init pmup_cost_init(void)
{
	if (!pmup_time_rounds_ok() || cpu >= nr_cpu_ids ||
	    !cpu_online(cpu)) {
		pr_info("error bad parameters cpu=%u rounds=%u\n", cpu, rounds);
		return 0;
	}
	work_on_cpu(cpu, pmup_cost_run, NULL);
	pr_info("done\n");
	return 0;
}

static void __exit pmup_cost_exit(void)
{
}

module_init(pmup_cost_init);
module_exit(pmup_cost_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Cost of reserving PMU counters for a partitioning hypervisor");
