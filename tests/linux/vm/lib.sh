# SPDX-License-Identifier: MIT OR Apache-2.0
# Helpers for the partition scenarios (/vm/*.sh), sourced by each. busybox sh.

# The workload guest's argument: N loop iterations, R rounds (tests/payloads/workload).
workload_arg() { echo $(( ($2 << 32) | $1 )); }
FOREVER=0x8000000000000000

# perf_watch N [CPU]: perf-check cpus in the background, fed labels through fd 3.
perf_watch() {
    rm -f /tmp/pc /tmp/pc.out
    mkfifo /tmp/pc
    perf-check cpus "$@" </tmp/pc >/tmp/pc.out 2>&1 &
    pc_pid=$!
    exec 3>/tmp/pc
    i=0
    while ! grep -q 'cpus ready' /tmp/pc.out && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
}
# perf_mark LABEL: the counts since the previous mark go out under LABEL.
perf_mark() { echo "$1" >&3; }
perf_done() {
    exec 3>&-
    wait $pc_pid
    cat /tmp/pc.out
}

# memfree: free memory in kB: MemFree plus the pages on the per-CPU free lists (/proc/zoneinfo's
# count:, 4 kB pages), which MemFree leaves out although freed pages land there first.
memfree() {
    echo $(( $(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo) + \
        4 * $(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo) ))
}
