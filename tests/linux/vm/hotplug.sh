# SPDX-License-Identifier: MIT OR Apache-2.0
# CPU hotplug of the vCPU's CPU while the vCPU runs there, and while a VM only exists.
. /vm/lib.sh
cpu1=/sys/devices/system/cpu/cpu1/online
# Once with the counters given back at every report, once kept between reports (--keep): either
# way the thread leaving CPU 1 gives them back there.
for mode in running kept; do
    keep=; [ $mode = kept ] && keep=--keep
    runner --cpu 1 --counters 2 --arg $FOREVER --quiet $keep /vm/workload.bin
    sleep 1
    ok=0
    for round in 1 2 3; do
        echo 0 >$cpu1 && echo 1 >$cpu1 && [ "$(cat $cpu1)" = 1 ] && ok=$((ok + 1))
        sleep 1
    done
    echo "VM: hotplug $mode rounds-ok=$ok"
    kill -INT $pid
    wait $pid
    echo "VM: hotplug $mode runner status=$?"
done
# A VM that exists but does not run while CPU 1 goes away: the runner stopped (SIGSTOP) in the
# middle of its run, then let go on, then ended.
runner --cpu 1 --counters 2 --arg $FOREVER --quiet /vm/workload.bin
sleep 1
kill -STOP $pid
echo 0 >$cpu1 && echo 1 >$cpu1
kill -CONT $pid
sleep 1
kill -INT $pid
wait $pid
echo "VM: hotplug stopped runner status=$?"
perf-check fill 6
pmup-run --cpu 1 --counters 2 --arg "$(workload_arg 1000 1)" /vm/workload.bin
echo "VM: hotplug after status=$?"
echo "VM: hotplug done"
