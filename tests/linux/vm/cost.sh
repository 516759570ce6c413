# SPDX-License-Identifier: MIT OR Apache-2.0
# What a partition's round trip costs from Linux userspace (make bench, docs/performance.md): the
# workload guest reporting at once, again and again, timed by pmup-run --bench over RUNS round trips
# (PMUP_RUN in, the guest's report, PMUP_RUN out). Under -icount shift=0 a nanosecond is an
# instruction. Without counters, with 2 (reserved and given back on every round trip), and with 2
# while 3 or 7 perf events count on the CPU; then the same with the counters kept between round trips
# (pmup-run --keep, PMUP_RUN_KEEP_COUNTERS).
. /vm/lib.sh
RUNS=${1:-2000}
# N = 1 loop iteration, forever.
arg=0x8000000000000001
# bench COUNTERS EVENTS [--keep]
bench() {
    echo "VM: cost counters=$1 events=$2 keep=${3:+yes}"
    pmup-run --cpu 0 --counters "$1" --arg $arg --bench "$RUNS" $3 /vm/workload.bin
}
bench 0 0
for keep in "" --keep; do
    bench 2 0 $keep
    for events in 3 7; do
        perf_watch "$events"
        bench 2 "$events" $keep
        perf_mark end
        perf_done >/dev/null
    done
done
echo "VM: cost done"
