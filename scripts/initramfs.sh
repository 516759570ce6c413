#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: [PERF_TREE=DIR] [HYP_COST=KO] scripts/initramfs.sh OUT.cpio.gz [MODULE.ko [PERF-CHECK [COST.ko]]]
#
# Builds the tiny initramfs the host Linux boots into during the tests: a static arm64 busybox
# (from scripts/linux.sh) and an /init that reports what the host kernel sees, one fact per line,
# each line starting with "HOST: " so a test can grep the serial log:
#   HOST: cpus-online <contents of /sys/devices/system/cpu/online>
#   HOST: cpu-count <number of online CPUs>
#   HOST: perf <each kernel log line with "hw perfevents", timestamp stripped> | HOST: perf none
#   HOST: reserved <node> reg=0x<addr>,0x<size>[;...] no-map=<yes|no>   (each /reserved-memory child)
#   HOST: iomem-reserved <node> <each /proc/iomem line overlapping that node's reg> | ... none
#   HOST: reserved none                                   (when there is no /reserved-memory child)
#   HOST: gic <each kernel log line with "GIC", "ITS" or "LPI", timestamp stripped>
#   HOST: dt-its <number of arm,gic-v3-its nodes in the device tree the kernel got>
#   HOST: cmdline <contents of /proc/cmdline>
#   HOST: done
# and then powers off (busybox `poweroff -f` -> reboot(RB_POWER_OFF) -> PSCI SYSTEM_OFF, which makes
# QEMU exit with status 0). The archive is reproducible (fixed mtimes and owners, sorted, gzip -n).
#
# With MODULE.ko (e.g. host-driver/linux/pmup_probe.ko), the archive also holds it as
# /pmup_probe.ko, and /init loads it (busybox insmod) right after mounting, before the HOST: lines,
# then copies the module's kernel log lines ("PMUP: ...", and the kernel's "pmup_probe: ..." taint
# note) to the console, timestamps stripped, so that they appear once each whatever the console log
# level (`quiet` included); the console log level is lowered while the module loads, so that the
# kernel does not print them a second time. Give such an archive its own OUT name: the one without
# a module is what the other tests boot. Without MODULE.ko, the archive is exactly as it always was.
#
# Skipped when OUT is newer than this script, the busybox binary and MODULE.ko, and holds a module
# exactly when one is asked for.
#
# With COST.ko (host-driver/linux/pmup_cost.ko, the patched 6.12 only), the archive also holds it
# as /pmup_cost.ko, and when the kernel command line carries `pmup.cost`, /init does nothing but
# load it (console quiet), copy its "COST: ..." lines to the console and power off: the
# measurement of docs/performance.md (make bench). Without the switch the module is never loaded.
#
# With HYP_COST=KO in the environment (host-driver/linux/hyp_cost.ko, built for the KVM kernel of
# scripts/linux-pkvm.sh), the archive also holds it as /hyp_cost.ko, and when the kernel command
# line carries `hypcost=NAME` (pmup or pkvm: the hypervisor at EL2), /init does nothing but print
# the kernel's lines on where it started and on KVM ("HYPCOST: kernel CPU: All CPU(s) started at
# EL2", "HYPCOST: kernel kvm [1]: Protected nVHE mode initialized successfully"), load it with
# hyp=NAME (console quiet), copy its "HYPCOST: ..." lines to the console and power off: the side
# by side with pKVM of `make bench`. With KVM_EXIT_COST=PROGRAM as well
# (tests/payloads/kvm-exit-cost, static), the archive holds it as /bin/kvm-exit-cost, and /init
# runs it after the module: a KVM guest's exit, timed at EL2 (its "HYPCOST: path=vcpu-exit" line).
#
# With PERF_TREE=DIR in the environment (a root tree from scripts/linux-perf.sh: Debian's perf
# and the libraries it loads), the archive also holds that tree, and /init, after the knob
# section, runs `perf stat` as a user would: before a reservation, with 2 counters reserved
# (perf multiplexes) and after the release, each of perf's lines prefixed "PERFTOOL: ". The
# tree is some 40 MB (17 MB gzipped): only the 6.12 archive of `make run` takes it. The tree an
# archive was built with is recorded beside it in OUT.perf-tree.
#
# With VM_FILES="PMUP-RUN PMUP-HOSTILE WORKLOAD.bin" in the environment (host-driver/pmup-run and
# tests/payloads/workload, for the patched 6.12 only), the archive also holds the two programs in
# /bin, the guest as /vm/workload.bin and the partition scenarios of tests/linux/vm as /vm/*.sh.
# When the kernel command line carries `pmup.vm=NAME`, /init runs /vm/NAME.sh (its own watchdog:
# 600 s) after the probe module's lines and powers off; without the switch the archive boots as
# before, and the knob section ends with the end-to-end scenario (/vm/e2e.sh).
set -euo pipefail
NAME=initramfs
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

[ $# -ge 1 ] && [ $# -le 4 ] || { echo "usage: $0 OUT.cpio.gz [MODULE.ko [PERF-CHECK [COST.ko]]]" >&2; exit 2; }
OUTF=$1
KO=${2:-}
# tests/linux/perf-check.c, static: /init counts on every CPU with it after CPU hotplug.
PERF_CHECK=${3:-}
[ -z "$PERF_CHECK" ] || [ -x "$PERF_CHECK" ] || die "no such program: $PERF_CHECK"
COST_KO=${4:-}
[ -z "$COST_KO" ] || [ -n "$KO" ] || die "COST.ko needs MODULE.ko"
HYP_COST=${HYP_COST:-}
KVM_EXIT_COST=${KVM_EXIT_COST:-}
[ -z "$KVM_EXIT_COST" ] || [ -x "$KVM_EXIT_COST" ] || die "no such program: $KVM_EXIT_COST"
for ko in $KO $COST_KO $HYP_COST; do
    [ -s "$ko" ] || die "no such module: $ko"
    # A .ko is an ELF relocatable (e_type 1) for AArch64 (e_machine 0xb7).
    if [ "$(od -An -N4 -tx1 "$ko" | tr -d ' ')" != 7f454c46 ] ||
       [ "$(od -An -j16 -N4 -tx1 "$ko" | tr -d ' ')" != 0100b700 ]; then
        die "$ko is not an arm64 kernel module"
    fi
done
VM_FILES=${VM_FILES:-}
if [ -n "$VM_FILES" ]; then
    # shellcheck disable=SC2086 # a list of paths
    set -- $VM_FILES
    [ $# = 3 ] || die "VM_FILES needs PMUP-RUN PMUP-HOSTILE WORKLOAD.bin"
    for f in "$@"; do [ -s "$f" ] || die "no such file: $f"; done
    VM_RUN=$1 VM_HOSTILE=$2 VM_GUEST=$3
    [ -n "$KO" ] && [ -n "$PERF_CHECK" ] || die "VM_FILES needs MODULE.ko and PERF-CHECK"
fi
PERF_TREE=${PERF_TREE:-}
if [ -n "$PERF_TREE" ]; then
    [ -x "$PERF_TREE/usr/bin/perf" ] || die "PERF_TREE=$PERF_TREE has no usr/bin/perf"
    [ -n "$KO" ] && [ -n "$PERF_CHECK" ] || die "PERF_TREE needs MODULE.ko and PERF-CHECK (perf runs in the knob section)"
    PERF_TREE=$(cd "$PERF_TREE" && pwd -P)
fi
BUSYBOX=$CACHE/busybox/busybox
SELF=$ROOT/scripts/initramfs.sh

if [ ! -s "$BUSYBOX" ]; then
    say "busybox missing: running scripts/linux.sh"
    bash "$ROOT/scripts/linux.sh"
fi
# has_module ARCHIVE: true if ARCHIVE was built with a module (only then does it name the file).
has_module() { [ "$(gzip -dc "$1" 2>/dev/null | grep -caF pmup_probe.ko)" != 0 ]; }
# vm_up_to_date: the archive holds the VM files exactly when asked, and is newer than them.
vm_up_to_date() {
    local f
    if [ -z "$VM_FILES" ]; then
        [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF vm/workload.bin)" = 0 ]
        return
    fi
    [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF vm/workload.bin)" != 0 ] || return 1
    for f in $VM_FILES "$ROOT"/tests/linux/vm/*.sh; do [ "$OUTF" -nt "$f" ] || return 1; done
}
has_cost() { [ "$(gzip -dc "$1" 2>/dev/null | grep -caF pmup_cost.ko)" != 0 ]; }
# hyp_cost_up_to_date: the archive holds hyp_cost.ko exactly when asked, and is newer than it.
hyp_cost_up_to_date() {
    if [ -z "$HYP_COST" ]; then
        [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF hyp_cost.ko)" = 0 ]
    else
        [ "$OUTF" -nt "$HYP_COST" ] && [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF hyp_cost.ko)" != 0 ]
    fi && if [ -z "$KVM_EXIT_COST" ]; then
        [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF bin/kvm-exit-cost)" = 0 ]
    else
        [ "$OUTF" -nt "$KVM_EXIT_COST" ] && [ "$(gzip -dc "$OUTF" 2>/dev/null | grep -caF bin/kvm-exit-cost)" != 0 ]
    fi
}
if [ -s "$OUTF" ] && [ "$OUTF" -nt "$BUSYBOX" ] && [ "$OUTF" -nt "$SELF" ] &&
   { [ -z "$KO" ] || [ "$OUTF" -nt "$KO" ]; } && { [ -z "$PERF_CHECK" ] || [ "$OUTF" -nt "$PERF_CHECK" ]; } &&
   { [ -z "$COST_KO" ] || [ "$OUTF" -nt "$COST_KO" ]; } &&
   { [ -n "$COST_KO" ] || ! has_cost "$OUTF"; } && { [ -z "$COST_KO" ] || has_cost "$OUTF"; } &&
   [ "$(cat "$OUTF.perf-tree" 2>/dev/null)" = "$PERF_TREE" ] && vm_up_to_date && hyp_cost_up_to_date; then
    if [ -n "$KO" ] && has_module "$OUTF"; then
        say "up to date: $OUTF (with $(basename "$KO"))"
        exit 0
    elif [ -z "$KO" ] && ! has_module "$OUTF"; then
        say "up to date: $OUTF"
        exit 0
    fi
fi
need_tools cpio gzip

stage=$(mktemp -d)
tmp=$OUTF.tmp.$$
trap 'rm -rf "$stage" "$tmp"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
cp "$BUSYBOX" "$stage/bin/busybox"
chmod 755 "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
# The kernel opens /dev/console for /init's stdin/stdout/stderr before devtmpfs is mounted.
# mknod needs root; without it /init still reaches the console once it has mounted devtmpfs.
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$stage/dev/console" c 5 1
else
    say "not root: no /dev/console node in the archive (the kernel will warn; /init copes)"
fi

if [ -n "$KO" ]; then
    cp "$KO" "$stage/pmup_probe.ko"
    chmod 644 "$stage/pmup_probe.ko"
fi
if [ -n "$COST_KO" ]; then
    cp "$COST_KO" "$stage/pmup_cost.ko"
    chmod 644 "$stage/pmup_cost.ko"
fi
if [ -n "$HYP_COST" ]; then
    cp "$HYP_COST" "$stage/hyp_cost.ko"
    chmod 644 "$stage/hyp_cost.ko"
fi
if [ -n "$KVM_EXIT_COST" ]; then
    cp "$KVM_EXIT_COST" "$stage/bin/kvm-exit-cost"
    chmod 755 "$stage/bin/kvm-exit-cost"
fi
if [ -n "$PERF_CHECK" ]; then
    cp "$PERF_CHECK" "$stage/bin/perf-check"
    chmod 755 "$stage/bin/perf-check"
fi
if [ -n "$VM_FILES" ]; then
    mkdir -p "$stage/vm"
    cp "$VM_RUN" "$stage/bin/pmup-run"
    cp "$VM_HOSTILE" "$stage/bin/pmup-hostile"
    chmod 755 "$stage/bin/pmup-run" "$stage/bin/pmup-hostile"
    cp "$VM_GUEST" "$stage/vm/workload.bin"
    cp "$ROOT"/tests/linux/vm/*.sh "$stage/vm/"
    chmod 644 "$stage"/vm/*
fi
if [ -n "$PERF_TREE" ]; then
    # usr/bin/perf, usr/lib/..., and lib -> usr/lib (perf's interpreter is /lib/ld-linux-aarch64.so.1).
    cp -a "$PERF_TREE/." "$stage/"
fi

# /init: the part up to the watchdog, the cost block (only with COST.ko), the module block (only
# with MODULE.ko), the rest.
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# Test initramfs /init: report what the host kernel sees ("HOST: " lines), then power off.
# No `set -e`: whatever fails, this script must reach the power-off at the end.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

off() {
    poweroff -f
    # poweroff -f only returns if reboot(2) failed: ask the kernel directly, then wait.
    echo o >/proc/sysrq-trigger
    while :; do sleep 1; done
}

# Watchdog: never leave the VM running if something below blocks.
( sleep 120; echo "HOST: timeout"; off ) &
watchdog=$!

INIT
if [ -n "$COST_KO" ]; then
    cat >>"$stage/init" <<'INIT'
# `pmup.cost` on the command line: the cost measurement (host-driver/linux/pmup_cost.c) and
# nothing else. Its lines are copied from the kernel log, once each, without timestamps.
if grep -qw pmup.cost /proc/cmdline; then
    set -- $(cat /proc/sys/kernel/printk)
    echo 1 >/proc/sys/kernel/printk
    insmod /pmup_cost.ko || echo "COST: error insmod failed (status $?)"
    echo "$1" >/proc/sys/kernel/printk
    dmesg | grep -e 'COST:' | sed 's/^\[[^]]*\] *//'
    off
fi

INIT
fi
if [ -n "$HYP_COST" ]; then
    cat >>"$stage/init" <<'INIT'
# `hypcost=NAME` on the command line: the side by side with pKVM (host-driver/linux/hyp_cost.c)
# and nothing else. Where the kernel started and what KVM made of it first, then the module's
# lines, each copied from the kernel log once, without timestamps.
hc=$(sed -n 's/.*hypcost=\([a-z]*\).*/\1/p' /proc/cmdline)
if [ -n "$hc" ]; then
    dmesg | grep -e 'CPU: All CPU(s) started at' -e 'kvm \[' | sed 's/^\[[^]]*\] *//; s/^/HYPCOST: kernel /'
    set -- $(cat /proc/sys/kernel/printk)
    echo 1 >/proc/sys/kernel/printk
    insmod /hyp_cost.ko hyp="$hc" || echo "HYPCOST: error insmod failed (status $?)"
    echo "$1" >/proc/sys/kernel/printk
    dmesg | grep -e 'HYPCOST:' | sed 's/^\[[^]]*\] *//'
    [ ! -x /bin/kvm-exit-cost ] || /bin/kvm-exit-cost || echo "HYPCOST: error kvm-exit-cost failed (status $?)"
    off
fi

INIT
fi
if [ -n "$KO" ]; then
    cat >>"$stage/init" <<'INIT'
# Probe module: load it with the console quiet, then copy its kernel log lines to the console,
# once each and without timestamps, whatever the console log level.
set -- $(cat /proc/sys/kernel/printk)
echo 1 >/proc/sys/kernel/printk
insmod /pmup_probe.ko || echo "PMUP: insmod failed (status $?)"
echo "$1" >/proc/sys/kernel/printk
dmesg | grep -e 'PMUP:' -e 'pmup_probe' | sed 's/^\[[^]]*\] *//'

# `pmup.vm=NAME`: one partition scenario (tests/linux/vm/NAME.sh) and nothing else.
vm=$(sed -n 's/.*pmup\.vm=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
if [ -n "$vm" ]; then
    kill $watchdog
    ( sleep 600; echo "VM: timeout"; off ) &
    if [ -f "/vm/$vm.sh" ]; then
        echo "VM: scenario $vm"
        sh "/vm/$vm.sh" 2>&1
    else
        echo "VM: no scenario $vm"
    fi
    dmesg | grep -e 'pmu-partition' -e 'WARNING' -e 'BUG' -e 'Oops' | sed 's/^\[[^]]*\] *//; s/^/VM: kernel /'
    echo "VM: end"
    off
fi

# CPU hotplug: every secondary off (PSCI CPU_OFF, relayed by EL2) and on again (CPU_ON, through
# EL2's warm entry), three rounds; then the probe module once more on every CPU.
hp_ok=0; hp_fail=0
for round in 1 2 3; do
    for c in /sys/devices/system/cpu/cpu[1-9]*; do
        [ -f "$c/online" ] || continue
        if echo 0 >"$c/online" && echo 1 >"$c/online" && [ "$(cat "$c/online")" = 1 ]; then
            hp_ok=$((hp_ok + 1))
        else
            hp_fail=$((hp_fail + 1))
        fi
    done
done
echo "HOST: hotplug ok=$hp_ok fail=$hp_fail online=$(cat /sys/devices/system/cpu/online)"
rmmod pmup_probe
seen=$(dmesg | grep -c 'PMUP:')
echo 1 >/proc/sys/kernel/printk
insmod /pmup_probe.ko || echo "PMUP: insmod failed (status $?)"
echo "$1" >/proc/sys/kernel/printk
dmesg | grep -e 'PMUP:' | tail -n +$((seen + 1)) | sed 's/^\[[^]]*\] *//; s/^/AFTER-HOTPLUG /'
# And the PMU counts on every CPU that came back.
[ -x /bin/perf-check ] && perf-check percpu 200

# The arm_pmu series (host-driver/linux/patches): counters reserved for EL2 through sysfs, while
# perf runs. "HOST: knob ..." lines, the PERF: lines of perf-check between them.
knob=/sys/bus/event_source/devices/armv8_pmuv3/reserved_counters
if [ -e "$knob" ] && [ -x /bin/perf-check ]; then
    # knob_write VALUE: the write's outcome, "ok" or the error the shell reports.
    knob_write() {
        err=$( (echo "$1" >"$knob") 2>&1 )
        case $err in
            "") r=ok ;;
            *"Invalid argument"*) r=EINVAL ;;
            *"busy"*) r=EBUSY ;;
            *"No such device"*) r=ENODEV ;;
            *) r="other($err)" ;;
        esac
        echo "HOST: knob write $1 -> $r"
    }
    knob_read() { echo "HOST: knob read $(cat "$knob" 2>&1 | sed 's/.*No such device.*/ENODEV/')"; }
    knob_read
    perf-check mux 7 300
    perf-check fill 6
    perf-check inst 100000
    knob_write 2
    knob_read
    perf-check mux 7 300
    perf-check fill 4
    perf-check fill 5
    perf-check inst 100000
    # CPU hotplug with counters reserved: the CPU comes back with them still reserved.
    echo 0 >/sys/devices/system/cpu/cpu1/online
    echo 1 >/sys/devices/system/cpu/cpu1/online
    echo "HOST: knob hotplug online=$(cat /sys/devices/system/cpu/online)"
    perf-check fill 4
    perf-check fill 5
    knob_write 0
    knob_read
    perf-check mux 7 300
    perf-check fill 6
    perf-check inst 100000
    # Out of range: more than EL2 grants, garbage, negative.
    knob_write 6
    knob_write abc
    knob_write -1
    knob_read
    # A pinned group holding every event counter of CPU 2: reserving must fail (EBUSY) and roll
    # CPUs 0 and 1 back, and the group must stay on the PMU.
    perf-check pinned 2 6 3 >/tmp/pinned.out &
    pinned_pid=$!
    sleep 1
    knob_write 2
    knob_read
    wait $pinned_pid
    cat /tmp/pinned.out
    perf-check fill 6
    # Concurrent writers: whatever wins, every CPU agrees with what the knob says.
    ( for i in 1 2 3 4 5 6 7 8 9 10; do echo 2 >"$knob"; echo 3 >"$knob"; done ) 2>/dev/null &
    w1=$!
    ( for i in 1 2 3 4 5 6 7 8 9 10; do echo 3 >"$knob"; echo 2 >"$knob"; done ) 2>/dev/null &
    w2=$!
    wait $w1 $w2
    k=$(cat "$knob")
    echo "HOST: knob concurrent final=$k"
    perf-check fill $((6 - k))
    perf-check fill $((7 - k))
    knob_write 0
    knob_read
    # Events counting right through a reservation and its release: their scaled counts agree.
    perf-check span 7 1500 >/tmp/span.out &
    span_pid=$!
    usleep 300000
    knob_write 2
    usleep 500000
    knob_write 0
    wait $span_pid
    cat /tmp/span.out
    echo "HOST: knob done"
INIT
    # Only an archive with perf's tree carries this part of /init: the others stay as they were.
    [ -z "$PERF_TREE" ] || cat >>"$stage/init" <<'INIT'

    # Debian's perf, as users run it: 7 cycle events (as many as the cycle counter and the 6
    # event counters hold) on a short busy loop, with every counter the host's, with 2 reserved
    # for EL2 (7 events on 6 counters: perf multiplexes and prints the share of time each one
    # counted), and after the release. The knob is written directly, so that the HOST: knob
    # lines above stay exactly as they are.
    if [ -x /usr/bin/perf ]; then
        perftool() { "$@" 2>&1 | grep -v '^ *$' | sed 's/ *$//; s/^/PERFTOOL: /'; }
        ev=armv8_pmuv3/cpu_cycles/
        ev=$ev,$ev,$ev,$ev,$ev,$ev,$ev
        perftool /usr/bin/perf version
        for k in 0 2 0; do
            (echo $k >"$knob") 2>/dev/null
            echo "PERFTOOL: reserved_counters=$(cat "$knob" 2>&1)"
            perftool /usr/bin/perf stat -e "$ev" -- sh -c 'i=0; while [ $i -lt 10000 ]; do i=$((i + 1)); done'
        done
        echo "PERFTOOL: done"
    fi
INIT
    # Only an archive with the partition userspace runs the partition end to end here.
    [ -z "$VM_FILES" ] || cat >>"$stage/init" <<'INIT'

    # The partition end to end (tests/linux/vm/e2e.sh): a guest counting on its own counters on
    # CPU 1 while perf counts on every CPU.
    sh /vm/e2e.sh 2>&1
INIT
    cat >>"$stage/init" <<'INIT'
fi

INIT
fi
cat >>"$stage/init" <<'INIT'
# hex FILE: the bytes of FILE as one hex string (device-tree properties are big-endian).
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

report() {
    echo "HOST: cpus-online $(cat /sys/devices/system/cpu/online)"
    # FEAT_MOPS, as the kernel offers it to userspace (busybox's memcpy then uses it).
    if grep -qw mops /proc/cpuinfo; then echo "HOST: mops yes"; else echo "HOST: mops no"; fi
    echo "HOST: cpu-count $(grep -c '^processor' /proc/cpuinfo)"

    perf=$(dmesg | grep 'hw perfevents' | sed 's/^\[[^]]*\] *//')
    if [ -n "$perf" ]; then
        echo "$perf" | while IFS= read -r l; do echo "HOST: perf $l"; done
    else
        echo "HOST: perf none"
    fi

    rm=/proc/device-tree/reserved-memory
    ac=2; sc=2
    [ -f "$rm/#address-cells" ] && ac=$((0x$(hex "$rm/#address-cells")))
    [ -f "$rm/#size-cells" ] && sc=$((0x$(hex "$rm/#size-cells")))
    found=0
    for n in "$rm"/*; do
        [ -d "$n" ] || continue
        found=1
        name=${n##*/}
        nomap=no; [ -e "$n/no-map" ] && nomap=yes
        regs=""
        if [ -f "$n/reg" ]; then
            # Split the property into 32-bit cells, then into (address, size) pairs.
            i=0; a=""; s=""
            for c in $(hex "$n/reg" | sed 's/\(........\)/\1 /g'); do
                if [ $i -lt "$ac" ]; then a=$a$c; else s=$s$c; fi
                i=$((i + 1))
                if [ $i -eq $((ac + sc)) ]; then
                    regs="$regs${regs:+;}0x$a,0x$s"
                    i=0; a=""; s=""
                fi
            done
        fi
        echo "HOST: reserved $name reg=${regs:-none} no-map=$nomap"

        shown=0
        for r in $(echo "$regs" | tr ';' ' '); do
            start=$((${r%,*})); end=$((start + ${r#*,} - 1))
            while IFS= read -r line; do
                range=${line%% : *}
                range=${range##* }
                lo=$((0x${range%-*})); hi=$((0x${range#*-}))
                if [ "$lo" -le "$end" ] && [ "$hi" -ge "$start" ]; then
                    echo "HOST: iomem-reserved $name $line"
                    shown=1
                fi
            done </proc/iomem
        done
        [ $shown = 1 ] || echo "HOST: iomem-reserved $name none"
    done
    [ $found = 1 ] || echo "HOST: reserved none"

    # The interrupt controller as the kernel found it: EL2 hides the ITS, so no LPIs.
    dmesg | grep -e GIC -e ITS -e LPI | sed 's/^\[[^]]*\] *//' | while IFS= read -r l; do echo "HOST: gic $l"; done
    its=0
    # /proc/device-tree is a symlink: the trailing slash makes find go through it.
    for c in $(find /proc/device-tree/ -name compatible); do
        grep -q arm,gic-v3-its "$c" && its=$((its + 1))
    done
    echo "HOST: dt-its $its"

    echo "HOST: cmdline $(cat /proc/cmdline)"
}

report
echo "HOST: done"
off
INIT
chmod 755 "$stage/init"

mkdir -p "$(dirname "$OUTF")"
# gzip -9 takes 6 s on the 45 MB of perf's tree for 1 % less than -6 (2 s); the small archives
# keep -9 (and their exact bytes).
level=9
[ -z "$PERF_TREE" ] || level=6
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip "-${level}n" >"$tmp"
mv -f "$tmp" "$OUTF"
if [ -n "$PERF_TREE" ]; then echo "$PERF_TREE" >"$OUTF.perf-tree"; else rm -f "$OUTF.perf-tree"; fi
say "done: $OUTF ($(stat -c %s "$OUTF") bytes)"
