// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * perf-check: per-CPU counting through perf_event_open(2), for the Linux host tests.
 *
 *   perf-check percpu MS   on every online CPU: one CPU-cycles counter bound to that CPU while a
 *                          child pinned there spins for MS milliseconds; prints
 *                          "PERF: cpu N cycles=C enabled=E running=R" per CPU, then
 *                          "PERF: percpu cpus=N ok=M" (ok: counted, and never multiplexed out)
 *   perf-check mux N MS    N CPU-cycles events on this task (not a group) while it spins for MS
 *                          ms: "PERF: mux n=N multiplexed=M counted=C", M the events that were
 *                          off the PMU part of the time (running < enabled), C those that counted
 *   perf-check span N MS   as mux, for a knob write to happen meanwhile: "PERF: span n=N counted=C
 *                          spread=S", S the largest scaled count (value * enabled / running) over
 *                          the smallest, in thousandths: 1000 when nothing was lost beyond what
 *                          the enabled/running times account for; before it, for each event that
 *                          counted, "PERF: each span i=I value=V enabled=E running=R"
 *   perf-check fill K      on every online CPU, a pinned group of K event-counter events: "PERF:
 *                          fill k=K cpus=N ok=M", M the CPUs where the whole group is on the PMU
 *   perf-check pinned CPU K S
 *                          a pinned group of K event-counter events on CPU, held S seconds
 *                          ("PERF: pinned ready" once open), then "PERF: pinned cpu=CPU k=K
 *                          state=ok|error": ok if it stayed on the PMU all along
 *   perf-check inst LOOPS  user-space instructions retired by a fixed loop of LOOPS iterations:
 *                          "PERF: inst loops=L count=X" (exact under QEMU's -icount)
 *   perf-check cpus N [CPU]
 *                          N CPU-cycles events bound to each online CPU (counting whatever runs
 *                          there, not pinned), and with CPU a pinned group of three CPU_CYCLES
 *                          events on that CPU, read together: one excluding the host (:G), one
 *                          excluding guests (:H) and one excluding neither; prints
 *                          "PERF: cpus ready", then for each line read from stdin (a label) the
 *                          change since the previous line, per CPU: "PERF: cpus LABEL cpu=C n=N
 *                          multiplexed=M inconsistent=I", M the events off the PMU part of that
 *                          time (running < enabled), I those whose times make no sense (running >
 *                          enabled, or counted with no time running); and for CPU "PERF: cpus
 *                          LABEL cpu=C guest-only=G host-only=H both=B" (cycles)
 *
 * Static, with no library but libc: the test initramfs has only busybox. Debian's perf would
 * need 55 shared libraries (docs/qemu.md).
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64

static int perf_open(struct perf_event_attr *attr, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, -1, cpu, -1, 0);
}

static int perf_open_self(struct perf_event_attr *attr)
{
	return (int)syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
}

static void spin_ms(long ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

/* The online CPUs, from /sys/devices/system/cpu/online ("0-3", "0,2-3"). */
static int online_cpus(int *cpus)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	int n = 0, lo, hi;
	char sep;

	if (!f)
		return 0;
	while (fscanf(f, "%d", &lo) == 1) {
		hi = lo;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
			if (fscanf(f, "%d", &hi) != 1)
				break;
			if (fscanf(f, "%c", &sep) != 1)
				sep = '\n';
		}
		for (; lo <= hi && n < MAX_CPUS; lo++)
			cpus[n++] = lo;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n;
}

static int percpu(long ms)
{
	int cpus[MAX_CPUS], fds[MAX_CPUS];
	pid_t kids[MAX_CPUS];
	int n = online_cpus(cpus), ok = 0;

	for (int i = 0; i < n; i++) {
		struct perf_event_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = PERF_TYPE_HARDWARE;
		attr.config = PERF_COUNT_HW_CPU_CYCLES;
		attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
		fds[i] = perf_open(&attr, cpus[i]);
		if (fds[i] < 0)
			perror("perf_event_open");
	}
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpus[i], &set);
			sched_setaffinity(0, sizeof(set), &set);
			spin_ms(ms);
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	for (int i = 0; i < n; i++) {
		uint64_t v[3] = { 0, 0, 0 };

		if (fds[i] < 0 || read(fds[i], v, sizeof(v)) != sizeof(v)) {
			printf("PERF: cpu %d unreadable\n", cpus[i]);
			continue;
		}
		printf("PERF: cpu %d cycles=%llu enabled=%llu running=%llu\n", cpus[i],
		       (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2]);
		if (v[0] > 0 && v[1] > 0 && v[1] == v[2])
			ok++;
		close(fds[i]);
	}
	printf("PERF: percpu cpus=%d ok=%d\n", n, ok);
	return ok == n ? 0 : 1;
}

/*
 * STALL_FRONTEND (0x23): an event QEMU's PMU lists, which only an event counter can take (the
 * cycle counter takes CPU_CYCLES only), so K of them need K event counters.
 */
#define EVENT_COUNTER_EVENT 0x23

static int open_raw(uint64_t config, pid_t pid, int cpu, int group, int pinned, uint64_t fmt)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_RAW;
	attr.config = config;
	attr.pinned = pinned && group < 0;
	attr.read_format = fmt;
	return (int)syscall(SYS_perf_event_open, &attr, pid, cpu, group, 0);
}

/*
 * n CPU_CYCLES events on this task (not a group: one takes the cycle counter, the others event
 * counters), counting while it spins for ms; v[i] = { value, time enabled, time running }, all
 * zero for an event that could not be read. Returns 0, or 1 if an event could not be opened.
 */
static int cycle_events(int n, long ms, uint64_t (*v)[3])
{
	const uint64_t fmt = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	int fds[64];

	for (int i = 0; i < n; i++) {
		fds[i] = open_raw(0x11, 0, -1, -1, 0, fmt);
		if (fds[i] < 0) {
			perror("perf_event_open");
			return 1;
		}
	}
	spin_ms(ms);
	for (int i = 0; i < n; i++) {
		if (read(fds[i], v[i], sizeof(v[i])) != sizeof(v[i]))
			v[i][0] = v[i][1] = v[i][2] = 0;
		close(fds[i]);
	}
	return 0;
}

static int mux(int n, long ms)
{
	uint64_t v[64][3];
	int multiplexed = 0, counted = 0;

	if (n > 64 || cycle_events(n, ms, v))
		return n > 64 ? 2 : 1;
	for (int i = 0; i < n; i++) {
		if (v[i][2] < v[i][1])
			multiplexed++;
		if (v[i][0] > 0)
			counted++;
	}
	printf("PERF: mux n=%d multiplexed=%d counted=%d\n", n, multiplexed, counted);
	return 0;
}

static int span(int n, long ms)
{
	uint64_t v[64][3];
	double lo = 0, hi = 0;
	int counted = 0;

	if (n > 64 || cycle_events(n, ms, v))
		return n > 64 ? 2 : 1;
	for (int i = 0; i < n; i++) {
		double scaled;

		if (!v[i][0] || !v[i][2])
			continue;
		scaled = (double)v[i][0] * (double)v[i][1] / (double)v[i][2];
		printf("PERF: each span i=%d value=%llu enabled=%llu running=%llu\n", i,
		       (unsigned long long)v[i][0], (unsigned long long)v[i][1],
		       (unsigned long long)v[i][2]);
		if (!counted || scaled < lo)
			lo = scaled;
		if (!counted || scaled > hi)
			hi = scaled;
		counted++;
	}
	printf("PERF: span n=%d counted=%d spread=%ld\n", n, counted,
	       counted ? (long)(hi * 1000.0 / lo) : 0L);
	return 0;
}

/*
 * A pinned group of k event-counter events on cpu: the leader's fd, or -1. With
 * PERF_FORMAT_GROUP, a read of a group that failed to schedule (error state) returns 0 bytes.
 */
static int pinned_group(int cpu, int k)
{
	const uint64_t fmt = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
			     PERF_FORMAT_TOTAL_TIME_RUNNING;
	int leader = open_raw(EVENT_COUNTER_EVENT, -1, cpu, -1, 1, fmt);

	if (leader < 0) {
		perror("perf_event_open (pinned leader)");
		return -1;
	}
	for (int i = 1; i < k; i++) {
		if (open_raw(EVENT_COUNTER_EVENT, -1, cpu, leader, 1, fmt) < 0) {
			perror("perf_event_open (pinned sibling)");
			return -1;
		}
	}
	return leader;
}

/* On the PMU since it was opened: readable, and never off it. */
static int group_ok(int leader)
{
	uint64_t v[3 + 64];
	ssize_t got = read(leader, v, sizeof(v));

	return got >= (ssize_t)(3 * sizeof(uint64_t)) && v[1] > 0 && v[1] == v[2];
}

static int fill(int k)
{
	int cpus[MAX_CPUS], leaders[MAX_CPUS];
	int n = online_cpus(cpus), ok = 0;

	for (int i = 0; i < n; i++)
		leaders[i] = pinned_group(cpus[i], k);
	spin_ms(50);
	for (int i = 0; i < n; i++)
		if (leaders[i] >= 0 && group_ok(leaders[i]))
			ok++;
	printf("PERF: fill k=%d cpus=%d ok=%d\n", k, n, ok);
	return 0;
}

static int pinned(int cpu, int k, int secs)
{
	int leader = pinned_group(cpu, k);

	if (leader < 0)
		return 1;
	printf("PERF: pinned ready\n");
	fflush(stdout);
	sleep(secs);
	printf("PERF: pinned cpu=%d k=%d state=%s\n", cpu, k, group_ok(leader) ? "ok" : "error");
	return 0;
}

static int inst(long loops)
{
	struct perf_event_attr attr;
	uint64_t count = 0;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_HARDWARE;
	attr.config = PERF_COUNT_HW_INSTRUCTIONS;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	attr.disabled = 1;
	fd = perf_open_self(&attr);
	if (fd < 0) {
		printf("PERF: inst unsupported\n");
		return 0;
	}
	/*
	 * The smallest of a few runs: an interrupt that lands in the loop can add to what QEMU
	 * counts at EL0 (seen once in a while under -icount), never take away from it.
	 */
	for (int run = 0; run < 5; run++) {
		uint64_t n = 0;
		long left = loops;

		ioctl(fd, PERF_EVENT_IOC_RESET, 0);
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
		/* Two instructions per iteration, exactly. */
		asm volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(left) : : "cc");
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(fd, &n, sizeof(n)) == sizeof(n) && (!count || n < count))
			count = n;
	}
	printf("PERF: inst count=%llu\n", (unsigned long long)count);
	return 0;
}

/* One event of "cpus": its file and the last { value, enabled, running } read. */
struct watched {
	int fd;
	uint64_t last[3];
};

/* The change of @w since the last call: d = { value, enabled, running }. */
static void delta(struct watched *w, uint64_t *d)
{
	uint64_t v[3] = { 0, 0, 0 };

	if (w->fd < 0 || read(w->fd, v, sizeof(v)) != sizeof(v))
		memcpy(v, w->last, sizeof(v));
	for (int j = 0; j < 3; j++) {
		d[j] = v[j] - w->last[j];
		w->last[j] = v[j];
	}
}

static int cpus(int n, int gh_cpu)
{
	const uint64_t fmt = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	static struct watched ev[MAX_CPUS][32];
	/* Leader (neither excluded), :G, :H; with the group's values last read. */
	int gh[3] = { -1, -1, -1 };
	uint64_t gh_last[3] = { 0, 0, 0 };
	int cpu_ids[MAX_CPUS], ncpu = online_cpus(cpu_ids);
	char label[64];

	if (n < 0 || n > 32)
		return 2;
	for (int i = 0; i < ncpu; i++) {
		for (int e = 0; e < n; e++) {
			ev[i][e].fd = open_raw(0x11, -1, cpu_ids[i], -1, 0, fmt);
			if (ev[i][e].fd < 0) {
				perror("perf_event_open");
				return 1;
			}
		}
	}
	/*
	 * One group, read in one go: the kernel reads its counters together on that CPU. Read one
	 * by one, each would see the CPU at another moment, and the three would not add up.
	 */
	for (int g = 0; g < 3 && gh_cpu >= 0; g++) {
		struct perf_event_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = PERF_TYPE_RAW;
		attr.config = 0x11;
		attr.pinned = g == 0;
		attr.exclude_host = g == 1;
		attr.exclude_guest = g == 2;
		attr.read_format = PERF_FORMAT_GROUP;
		gh[g] = syscall(SYS_perf_event_open, &attr, -1, gh_cpu, g ? gh[0] : -1, 0);
		if (gh[g] < 0) {
			perror("perf_event_open");
			return 1;
		}
	}
	printf("PERF: cpus ready\n");
	fflush(stdout);
	while (fgets(label, sizeof(label), stdin)) {
		label[strcspn(label, "\n")] = 0;
		for (int i = 0; i < ncpu; i++) {
			int multiplexed = 0, inconsistent = 0;

			for (int e = 0; e < n; e++) {
				uint64_t d[3];

				delta(&ev[i][e], d);
				if (d[2] < d[1])
					multiplexed++;
				if (d[2] > d[1] || (d[0] && !d[2]))
					inconsistent++;
			}
			printf("PERF: cpus %s cpu=%d n=%d multiplexed=%d inconsistent=%d\n", label,
			       cpu_ids[i], n, multiplexed, inconsistent);
		}
		if (gh_cpu >= 0) {
			/* PERF_FORMAT_GROUP: the number of events, then their values. */
			uint64_t v[4] = { 0, 0, 0, 0 }, d[3];

			if (read(gh[0], v, sizeof(v)) != sizeof(v) || v[0] != 3)
				memcpy(&v[1], gh_last, sizeof(gh_last));
			for (int j = 0; j < 3; j++) {
				d[j] = v[j + 1] - gh_last[j];
				gh_last[j] = v[j + 1];
			}
			printf("PERF: cpus %s cpu=%d guest-only=%llu host-only=%llu both=%llu\n", label,
			       gh_cpu, (unsigned long long)d[1], (unsigned long long)d[2],
			       (unsigned long long)d[0]);
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "percpu"))
		return percpu(atol(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "mux"))
		return mux(atoi(argv[2]), atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "span"))
		return span(atoi(argv[2]), atol(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "fill"))
		return fill(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "pinned"))
		return pinned(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "inst"))
		return inst(atol(argv[2]));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "cpus"))
		return cpus(atoi(argv[2]), argc == 4 ? atoi(argv[3]) : -1);
	fprintf(stderr, "usage: %s percpu MS | mux N MS | span N MS | fill K | pinned CPU K S | inst LOOPS | cpus N [CPU]\n",
		argv[0]);
	return 2;
}
