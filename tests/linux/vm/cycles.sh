# SPDX-License-Identifier: MIT OR Apache-2.0
# 100 create/run/destroy cycles: no page of VM memory lost.
. /vm/lib.sh
pmup-hostile cycles 100 /vm/workload.bin 8
echo "VM: cycles status=$?"
echo "VM: cycles done"
