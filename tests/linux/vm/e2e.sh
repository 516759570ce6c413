# SPDX-License-Identifier: MIT OR Apache-2.0
# The product end to end: the host counts on every CPU with 7 events while a partition on CPU 1
# counts its own instructions and cycles on 2 counters of its own. "VM:" lines are this script's.
. /vm/lib.sh
N=${1:-100000}
pmup-run --info
perf_watch 7
perf_mark start
usleep 300000
perf_mark before
pmup-run --cpu 1 --counters 2 --arg "$(workload_arg "$N" 5)" /vm/workload.bin
echo "VM: e2e runner status=$?"
perf_mark during
usleep 300000
perf_mark after
perf_done
# Host events that exclude the host (:G) count only the guest, and those that exclude guests (:H)
# keep counting the host.
perf_watch 0 1
perf_mark gh-start
usleep 200000
perf_mark gh-before
pmup-run --cpu 1 --counters 2 --arg "$(workload_arg "$N" 1)" --quiet /vm/workload.bin
echo "VM: e2e gh runner status=$?"
perf_mark gh-during
usleep 200000
perf_mark gh-after
perf_done
# Every CPU has all its counters back: a pinned group of 6 fits everywhere.
perf-check fill 6
# Nothing of the guest stays in CPU 1's counters: the guest counts INST_RETIRED (0x08), which no
# host event here uses, on its counter 0; with no perf event anywhere, run it and then read every
# counter of CPU 1 from the kernel (the probe module's dump_cpu).
pmup-run --cpu 1 --counters 2 --arg "$(workload_arg "$N" 1)" --quiet /vm/workload.bin
echo "VM: e2e residue runner status=$?"
rmmod pmup_probe 2>/dev/null
seen=$(dmesg | grep -c 'PMUP: dump')
insmod /pmup_probe.ko dump_cpu=1
dmesg | grep 'PMUP: dump' | tail -n +$((seen + 1)) | sed 's/^\[[^]]*\] *//'
echo "VM: e2e done"
