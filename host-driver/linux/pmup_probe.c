// SPDX-License-Identifier: GPL-2.0
/*
 * pmup_probe: probes the PMU-partitioning EL2 firmware from a Linux host at EL1, as a kernel driver
 * would (docs/abi.md, section 4), on every online CPU, and reports what it saw in the kernel log,
 * one fact per line, each starting with "PMUP: " so that a test can grep the serial console.
 *
 * On each CPU, through the SMCCC conduit Linux chose at boot (SMC under TF-A, trapped by EL2):
 *   HYP_CALL_UID                       -> the four UID words of this hypervisor
 * and only when they match (another hypervisor gives owner-6 IDs other meanings):
 *   HYP_REVISION                       -> 0.1
 *   HYP_FEATURES(HYP_CALL_UID)         -> 0
 *   HYP_FEATURES(0x86000042)           -> NOT_SUPPORTED
 *   0x86000042 (not a call)            -> NOT_SUPPORTED
 *   HYP_FEATURES with x1 = 1 << 32     -> INVALID_PARAMETER (SMC32 argument with bits 63:32 set)
 *   HYP_CALL_UID by HVC directly       -> the same four words
 * Values must come back zero-extended, errors sign-extended, and the result registers a call does
 * not use must be 0.
 *
 * The HVC is guarded: it is made only on a CPU where the conduit already returned our UID, and
 * only when this kernel does not itself run at EL2. (is_hyp_mode_available() would be the usual
 * guard, but it reads __boot_cpu_mode, which the kernel does not export to modules; the UID match
 * is what matters here: it proves our EL2 is present.)
 *
 * Loading always succeeds: the test reads the lines. The module does nothing after init.
 */

#define pr_fmt(fmt) "PMUP: " fmt

#include <linux/arm-smccc.h>
#include <linux/bits.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/types.h>
#include <asm/virt.h>

#define PMUP_HYP_FEATURES	0x86000000U
#define PMUP_HYP_CALL_UID	0x8600ff01U
#define PMUP_HYP_REVISION	0x8600ff03U
/* An owner-6 fast SMC32 ID that ABI 0.1 does not define. */
#define PMUP_UNDEFINED_ID	0x86000042U

#define PMUP_REV_MAJOR		0
#define PMUP_REV_MINOR		3

/* UUID 9bababfc-0059-428d-8922-08290cd38e12, as the four SMCCC result words. */
static const unsigned long pmup_uid_words[4] = {
	0xfcabab9bUL, 0x8d425900UL, 0x29082289UL, 0x128ed30cUL,
};

/* What one CPU saw. Filled in by pmup_probe_cpu() on that CPU, printed later by init. */
struct pmup_cpu_result {
	bool ran;
	int conduit;			/* what arm_smccc_1_1_invoke() used */
	struct arm_smccc_res uid;	/* HYP_CALL_UID through the conduit */
	bool uid_match;
	/* The calls below are only made when uid_match. */
	struct arm_smccc_res rev;	/* HYP_REVISION */
	struct arm_smccc_res feat_uid;	/* HYP_FEATURES(HYP_CALL_UID) */
	struct arm_smccc_res feat_undef;	/* HYP_FEATURES(PMUP_UNDEFINED_ID) */
	struct arm_smccc_res undef;	/* PMUP_UNDEFINED_ID itself */
	struct arm_smccc_res bad_arg;	/* HYP_FEATURES, x1 = 1 << 32 */
	bool hvc_done;
	struct arm_smccc_res uid_hvc;	/* HYP_CALL_UID by HVC */
};

static bool pmup_uid_matches(const struct arm_smccc_res *res)
{
	/* Full 64-bit compare: the words must also be zero-extended. */
	return res->a0 == pmup_uid_words[0] && res->a1 == pmup_uid_words[1] &&
	       res->a2 == pmup_uid_words[2] && res->a3 == pmup_uid_words[3];
}

/* Runs on each online CPU with interrupts off: only SMCCC calls, no printing. */
static void pmup_probe_cpu(void *arg)
{
	struct pmup_cpu_result *r = (struct pmup_cpu_result *)arg + smp_processor_id();

	r->conduit = arm_smccc_1_1_invoke(PMUP_HYP_CALL_UID, &r->uid);
	r->uid_match = r->conduit != SMCCC_CONDUIT_NONE && pmup_uid_matches(&r->uid);
	if (r->uid_match) {
		arm_smccc_1_1_invoke(PMUP_HYP_REVISION, &r->rev);
		arm_smccc_1_1_invoke(PMUP_HYP_FEATURES, PMUP_HYP_CALL_UID, &r->feat_uid);
		arm_smccc_1_1_invoke(PMUP_HYP_FEATURES, PMUP_UNDEFINED_ID, &r->feat_undef);
		arm_smccc_1_1_invoke(PMUP_UNDEFINED_ID, &r->undef);
		arm_smccc_1_1_invoke(PMUP_HYP_FEATURES, BIT_ULL(32), &r->bad_arg);
		if (!is_kernel_in_hyp_mode()) {
			arm_smccc_1_1_hvc(PMUP_HYP_CALL_UID, &r->uid_hvc);
			r->hvc_done = true;
		}
	}
	r->ran = true;
}

static const char *pmup_conduit_name(int conduit)
{
	switch (conduit) {
	case SMCCC_CONDUIT_SMC:
		return "smc";
	case SMCCC_CONDUIT_HVC:
		return "hvc";
	default:
		return "none";
	}
}

/*
 * The UUID the four words spell: word n holds bytes 4n..4n+3, little-endian. Byte by byte, so
 * that no header moved between kernels is needed (6.12 moved the unaligned helpers from asm/
 * to linux/, and the module builds for Debian's 6.1 and the patched 6.12 alike).
 */
static void pmup_uid_bytes(const struct arm_smccc_res *res, u8 out[16])
{
	const u32 words[4] = { res->a0, res->a1, res->a2, res->a3 };
	int i;

	for (i = 0; i < 16; i++)
		out[i] = words[i / 4] >> (8 * (i % 4));
}

static void pmup_print_uid(unsigned int cpu, const struct arm_smccc_res *res, bool match,
			   const char *via)
{
	u8 uuid[16];

	pmup_uid_bytes(res, uuid);
	pr_info("cpu %u uid %pUb match=%s via=%s\n", cpu, uuid, match ? "yes" : "no", via);
	if (!match)
		pr_info("cpu %u uid words via=%s: %#lx %#lx %#lx %#lx\n",
			cpu, via, res->a0, res->a1, res->a2, res->a3);
}

/*
 * Checks that a result has x0 == a0 (all 64 bits) and that the result registers the call does not
 * use (x<used>..x3) are 0. Prints what is wrong.
 */
static bool pmup_expect(unsigned int cpu, const char *what, const struct arm_smccc_res *res,
			unsigned long a0, int used)
{
	const unsigned long regs[4] = { res->a0, res->a1, res->a2, res->a3 };
	bool ok = true;
	int i;

	if (res->a0 != a0) {
		pr_info("cpu %u %s: x0=%#lx, expected %#lx\n", cpu, what, res->a0, a0);
		ok = false;
	}
	for (i = used; i < 4; i++) {
		if (regs[i]) {
			pr_info("cpu %u %s: stale x%d=%#lx (unused result registers must be 0)\n",
				cpu, what, i, regs[i]);
			ok = false;
		}
	}
	return ok;
}

/* Prints one CPU's lines; returns true when every check passed on it. */
static bool pmup_report_cpu(unsigned int cpu, const struct pmup_cpu_result *r)
{
	bool ok;

	pmup_print_uid(cpu, &r->uid, r->uid_match, pmup_conduit_name(r->conduit));
	if (!r->uid_match) {
		pr_info("cpu %u hypervisor not found: no further calls, hvc skipped\n", cpu);
		return false;
	}
	if (r->hvc_done)
		pmup_print_uid(cpu, &r->uid_hvc, pmup_uid_matches(&r->uid_hvc), "hvc");
	else
		pr_info("cpu %u hvc skipped: the kernel runs at EL2\n", cpu);

	pr_info("cpu %u revision %u.%u features uid=%ld unknown=%ld unknown-id=%ld bad-arg=%ld\n",
		cpu, (u32)r->rev.a0, (u32)r->rev.a1, (long)r->feat_uid.a0,
		(long)r->feat_undef.a0, (long)r->undef.a0, (long)r->bad_arg.a0);

	ok = r->hvc_done && pmup_uid_matches(&r->uid_hvc);
	/* Evaluate every check, so that each failure gets its line. */
	ok &= pmup_expect(cpu, "HYP_REVISION", &r->rev, PMUP_REV_MAJOR, 2);
	if (r->rev.a1 != PMUP_REV_MINOR) {
		pr_info("cpu %u HYP_REVISION: x1=%#lx, expected %#x\n", cpu, r->rev.a1,
			PMUP_REV_MINOR);
		ok = false;
	}
	ok &= pmup_expect(cpu, "HYP_FEATURES(uid)", &r->feat_uid, SMCCC_RET_SUCCESS, 1);
	ok &= pmup_expect(cpu, "HYP_FEATURES(unknown)", &r->feat_undef,
			  (unsigned long)SMCCC_RET_NOT_SUPPORTED, 1);
	ok &= pmup_expect(cpu, "unknown-id", &r->undef,
			  (unsigned long)SMCCC_RET_NOT_SUPPORTED, 1);
	ok &= pmup_expect(cpu, "bad-arg", &r->bad_arg,
			  (unsigned long)SMCCC_RET_INVALID_PARAMETER, 1);
	pr_info("cpu %u ok=%s\n", cpu, ok ? "yes" : "no");
	return ok;
}

/*
 * dump_cpu=N: instead of the probe, every PMU event counter of CPU N as the host sees it now
 * ("PMUP: dump cpu=N counter=I type=T value=V"): after a partition ran there, nothing of the
 * guest's may be left (the partition tests, tests/linux/vm/e2e.sh).
 */
static int dump_cpu = -1;
module_param(dump_cpu, int, 0444);
MODULE_PARM_DESC(dump_cpu, "print this CPU's PMU counters instead of probing");

static void pmup_dump(void *unused)
{
	unsigned int i, n = (read_sysreg(pmcr_el0) >> 11) & 0x1f;

	/* Through PMSELR: the counter's number is a variable. No perf event is on the CPU. */
	for (i = 0; i < n; i++) {
		write_sysreg(i, pmselr_el0);
		isb();
		pr_info("dump cpu=%d counter=%u type=%#llx value=%llu\n", smp_processor_id(), i,
			(unsigned long long)read_sysreg(pmxevtyper_el0),
			(unsigned long long)read_sysreg(pmxevcntr_el0));
	}
}

static int __init pmup_probe_init(void)
{
	struct pmup_cpu_result *results, *first = NULL;
	unsigned int cpu, cpus = 0, ok = 0;
	unsigned long ver;

	if (dump_cpu >= 0) {
		if (smp_call_function_single(dump_cpu, pmup_dump, NULL, 1))
			pr_info("dump cpu=%d offline\n", dump_cpu);
		return 0;
	}

	ver = arm_smccc_get_version();
	pr_info("conduit=%s smccc=%lu.%lu\n", pmup_conduit_name(arm_smccc_1_1_get_conduit()),
		ver >> 16, ver & 0xffff);

	results = kcalloc(nr_cpu_ids, sizeof(*results), GFP_KERNEL);
	if (!results) {
		pr_info("probe failed: out of memory\n");
		return 0;
	}

	/* Keep the set of online CPUs fixed while the calls run on each of them. */
	cpus_read_lock();
	on_each_cpu(pmup_probe_cpu, results, 1);
	cpus_read_unlock();

	for_each_possible_cpu(cpu) {
		struct pmup_cpu_result *r = &results[cpu];

		if (!r->ran)
			continue;
		cpus++;
		if (pmup_report_cpu(cpu, r))
			ok++;
		if (!first && r->uid_match)
			first = r;
	}

	/* The answers of the first CPU that found the hypervisor; each CPU's are above. */
	if (first) {
		pr_info("revision %u.%u\n", (u32)first->rev.a0, (u32)first->rev.a1);
		pr_info("features uid=%ld unknown=%ld\n", (long)first->feat_uid.a0,
			(long)first->feat_undef.a0);
		pr_info("unknown-id=%ld\n", (long)first->undef.a0);
		pr_info("bad-arg=%ld\n", (long)first->bad_arg.a0);
	} else {
		pr_info("hypervisor not found on any CPU\n");
	}
	pr_info("probe cpus=%u ok=%u\n", cpus, ok);

	kfree(results);
	return 0;
}

static void __exit pmup_probe_exit(void)
{
}

module_init(pmup_probe_init);
module_exit(pmup_probe_exit);

MODULE_DESCRIPTION("Probe of the PMU-partitioning EL2 firmware's SMCCC interface");
MODULE_LICENSE("GPL");
