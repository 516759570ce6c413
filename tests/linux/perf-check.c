// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * perf-check: per-CPU counting through perf_event_open(2), for the Linux host tests.
 *
 *   perf-check percpu MS   on every online CPU: one CPU-cycles counter bound to that CPU while a
 *                          child pinned there spins for MS milliseconds; prints
 *                          "PERF: cpu N cycles=C enabled=E running=R" per CPU, then
 *                          "PERF: percpu cpus=N ok=M" (ok: counted, and never multiplexed out)
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64

static int perf_open(struct perf_event_attr *attr, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, -1, cpu, -1, 0);
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

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "percpu"))
		return percpu(atol(argv[2]));
	fprintf(stderr, "usage: %s percpu MS\n", argv[0]);
	return 2;
}
