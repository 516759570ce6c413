# SPDX-License-Identifier: MIT OR Apache-2.0
# Helpers for the partition scenarios (/vm/*.sh), sourced by each. busybox sh.

# The workload guest's argument: N loop iterations, R rounds (tests/payloads/workload).
workload_arg() { echo $(( ($2 << 32) | $1 )); }
FOREVER=0x8000000000000000

# runner ARGS...: `pmup-run ARGS` in the background, its process id in $pid; returns once it
# catches SIGINT and SIGTERM (it installs its handlers after setting up its VM), or says it did
# not within 10 s. A background job of this non-interactive shell starts with SIGINT and SIGQUIT
# ignored (POSIX; busybox ash does it), and the kernel discards a signal sent while it is
# ignored: a SIGINT sent before pmup-run's handler is in place is lost, and a forever guest then
# runs on until the watchdog. (A SIGTERM that early would kill it: 143, not 130.)
runner() {
    local i=0 cgt
    pmup-run "$@" &
    pid=$!
    while [ $i -lt 500 ]; do
        # The process is pmup-run (not the shell's child before its exec) and catches both:
        # SigCgt bit 1 (SIGINT) and bit 14 (SIGTERM); its low 32 bits are enough.
        if [ "$(cat /proc/$pid/comm 2>/dev/null)" = pmup-run ]; then
            cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null)
            cgt=${cgt#????????}
            [ $(( 0x${cgt:-0} & 0x4002 )) = $(( 0x4002 )) ] && return 0
        fi
        usleep 20000
        i=$((i + 1))
    done
    echo "VM: runner $pid not ready"
    return 1
}

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
