# SPDX-License-Identifier: MIT OR Apache-2.0
# Hostile userspace: every ioctl argument out of range, concurrent ioctls, the runner killed.
. /vm/lib.sh
pmup-hostile ioctls /vm/workload.bin
echo "VM: hostile status=$?"
# A guest that never exits, ended by Ctrl-C (SIGINT) and by SIGTERM: a clean stop each time
# (the signal only once pmup-run catches it: tests/linux/vm/lib.sh, runner).
for sig in INT TERM; do
    runner --cpu 1 --counters 2 --arg $FOREVER --quiet /vm/workload.bin
    sleep 1
    kill -$sig $pid
    wait $pid
    echo "VM: hostile signal=$sig status=$?"
done
# The same SIGINT the moment pmup-run catches it, before or at its first run: a clean stop too.
runner --cpu 1 --counters 2 --arg $FOREVER --quiet /vm/workload.bin
kill -INT $pid
wait $pid
echo "VM: hostile signal=INT-at-start status=$?"
# Killed outright (SIGKILL) mid-run, twice: the VM goes with the process.
before=$(memfree)
for i in 1 2; do
    pmup-run --cpu 1 --counters 2 --memory 16 --arg $FOREVER --quiet /vm/workload.bin &
    pid=$!
    sleep 1
    kill -KILL $pid
    wait $pid
    echo "VM: hostile killed status=$?"
done
echo "VM: hostile killed memfree-before=$before memfree-after=$(memfree)"
# Nothing is left reserved on CPU 1, and a new VM runs there.
perf-check fill 6
pmup-run --cpu 1 --counters 2 --arg "$(workload_arg 1000 1)" /vm/workload.bin
echo "VM: hostile after status=$?"
echo "VM: hostile done"
