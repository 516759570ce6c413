#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/hyp-cost-table.sh PMUP.txt PKVM.txt BENCH.txt
#
# The last part of `make bench`: this firmware and pKVM side by side. Each file holds the
# "HYPCOST:" (and "LOADER:") lines of one run of the kernel of scripts/linux-pkvm.sh with
# host-driver/linux/hyp_cost.ko, PMUP.txt under this firmware, PKVM.txt under pKVM (whose run
# also has the loader's line on EL3's own part of an SMC). Prints both runs' lines and a table of
# the paths (instructions per call under this firmware and under pKVM, and the ratio of the two),
# and fails, saying why, unless both runs are what they claim to be:
#   - under this firmware the kernel started at EL1 (EL2 is the firmware's);
#   - under pKVM it started at EL2 and KVM said "Protected nVHE mode initialized successfully";
#   - each run measured all four paths, got the expected answers ("HYPCOST: error" otherwise)
#     and finished ("HYPCOST: done").
# Then the world switch, EL2's part only: under pKVM a KVM guest's exit that the host kernel
# handles, both ways (tests/payloads/kvm-exit-cost's "HYPCOST: path=vcpu-exit" line, which most of
# its samples must agree on); under this firmware a VCPU_RUN round trip into a guest that exits at
# once, from the bare-metal bench's cortex-a57 run (BENCH.txt, its "BENCH: vcpu-run-round-trip"
# line's el2=).
set -euo pipefail
NAME=hyp-cost-table
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

[ $# = 3 ] || { echo "usage: $0 PMUP.txt PKVM.txt BENCH.txt" >&2; exit 2; }
runs="$1, $2, $3"
bare=$3
# The serial console's lines end in CR LF: compare without the CR.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tr -d '\r' <"$1" >"$tmp/pmup"
tr -d '\r' <"$2" >"$tmp/pkvm"
pmup=$tmp/pmup
pkvm=$tmp/pkvm

echo "== this firmware and pKVM side by side: one kernel (Linux 6.12 with KVM, no series), -cpu cortex-a57, one CPU"
sed 's/^/this firmware: /' "$pmup"
sed 's/^/pKVM: /' "$pkvm"

bad=0
# need FILE WHO LINE: FILE holds exactly LINE.
need() {
    grep -qxF -- "$3" "$1" || { say "$2: no \"$3\" line"; bad=1; }
}
for run in "$pmup:this firmware" "$pkvm:pKVM"; do
    f=${run%%:*} who=${run#*:}
    if grep -E '^(HYPCOST|LOADER): error' "$f" >&2; then
        say "$who: the run reported an error (above)"
        bad=1
    fi
    need "$f" "$who" "HYPCOST: done"
done
need "$pmup" "this firmware" "HYPCOST: kernel CPU: All CPU(s) started at EL1"
need "$pkvm" "pKVM" "HYPCOST: kernel CPU: All CPU(s) started at EL2"
need "$pkvm" "pKVM (protected mode did not initialise)" "HYPCOST: kernel kvm [1]: Protected nVHE mode initialized successfully"

# row LABEL A B: a table row, A and B in instructions.
row() { awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "| %s | %.1f | %.1f | %.2f |", l, a, b, a / b }'; }
# cost FILE PATH: the path's mean, or nothing.
cost() { sed -n "s/^HYPCOST: path=$2 .* cost=\([0-9.]*\)\$/\1/p" "$1"; }
rows=(
    "null:null HVC, unknown function ID (NOT_SUPPORTED)"
    "answered:cheapest answered HVC (HYP_REVISION; __kvm_flush_vm_context)"
    "percpu:HVC answered from per-CPU state (PMU_STATUS; __pkvm_prot_finalize)"
    "smc:SMC PSCI_VERSION, relayed to EL3"
)
table="| Path | this firmware | pKVM | ratio |"$'\n'"| --- | ---: | ---: | ---: |"
for row in "${rows[@]}"; do
    path=${row%%:*} label=${row#*:}
    a=$(cost "$pmup" "$path")
    b=$(cost "$pkvm" "$path")
    if [ -z "$a" ] || [ -z "$b" ]; then
        say "no figure for path=$path (this firmware: ${a:-none}, pKVM: ${b:-none})"
        bad=1
        continue
    fi
    table+=$'\n'$(row "$label" "$a" "$b")
done
# EL3's own part of the SMC row, timed straight from EL2 by the loader before Linux started.
el3=$(sed -n 's/^LOADER: el3 smc PSCI_VERSION from EL2 .* cost=\([0-9.]*\)$/\1/p' "$pkvm")
a=$(cost "$pmup" smc)
b=$(cost "$pkvm" smc)
if [ -z "$el3" ]; then
    say "pKVM: no \"LOADER: el3 ...\" line (EL3's own part of an SMC)"
    bad=1
elif [ -n "$a" ] && [ -n "$b" ]; then
    table+=$'\n'$(row "the same less EL3's own $el3 (PSCI_VERSION by SMC from EL2)" \
        "$(awk -v a="$a" -v e="$el3" 'BEGIN { print a - e }')" "$(awk -v b="$b" -v e="$el3" 'BEGIN { print b - e }')")
fi
# The world switch and a trapped PMU counter read. pKVM's: kvm-exit-cost's lines, whose samples
# must mostly agree (under -icount only the host's timer tick, landing in some runs, makes them
# differ). This firmware's: the bare-metal bench on cortex-a57 (the first of its CPU models).
# bench NAME: "TOTAL EL2" of that bench's row NAME.
bench() {
    tr -d '\r' <"$bare" | awk -v n="BENCH: $1 " '/^== .*-cpu cortex-a57/ { on = 1; next } /^== / { on = 0 }
        on && index($0, n) == 1 { el2 = $NF; sub(/^el2=/, "", el2); print $3, el2; exit }'
}
# kvm PATH: "SAMPLES AGREE EL2 TOTAL" of pKVM's line for PATH.
kvm() { sed -n "s/^HYPCOST: path=$1 .* samples=\([0-9]*\) agree=\([0-9]*\) el2=\([0-9.]*\) total=\([0-9.]*\)\$/\1 \2 \3 \4/p" "$pkvm"; }
switch_table="| Path | this firmware, EL2 | pKVM, EL2 | ratio | this firmware, all | pKVM, all | ratio |"$'\n'"| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for row in "vcpu-exit:vcpu-run-round-trip::guest entry and exit, both ways (VCPU_RUN round trip; a KVM guest's HVC the host kernel answers)" \
    "pmu-read:vcpu-run-round-trip+pmu-counting+counter-read:vcpu-run-round-trip+pmu-counting:a guest's PMU counter read, trapped and emulated (PMEVCNTR0_EL0: here at EL2, under pKVM by the host kernel)"; do
    IFS=: read -r path with without label <<<"$row"
    read -r samples agree b bt <<<"$(kvm "$path")"
    if [ -z "$bt" ]; then
        say "pKVM: no \"HYPCOST: path=$path ... agree= el2= total=\" line (tests/payloads/kvm-exit-cost)"
        bad=1
        continue
    fi
    if [ $((agree * 2)) -le "$samples" ]; then
        say "pKVM: only $agree of $samples samples of path=$path agree: not an exact figure"
        bad=1
        continue
    fi
    mine=$(bench "$with")
    base=${without:+$(bench "$without")}
    if [ -z "$mine" ] || { [ -n "$without" ] && [ -z "$base" ]; }; then
        say "this firmware: no cortex-a57 \"BENCH: $with\"${without:+ or \"BENCH: $without\"} line in $bare"
        bad=1
        continue
    fi
    read -r at a <<<"$mine"
    if [ -n "$base" ]; then
        read -r bt0 b0 <<<"$base"
        a=$(awk -v x="$a" -v y="$b0" 'BEGIN { print x - y }')
        at=$(awk -v x="$at" -v y="$bt0" 'BEGIN { print x - y }')
    fi
    switch_table+=$'\n'$(awk -v l="$label" -v a="$a" -v b="$b" -v at="$at" -v bt="$bt" \
        'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |", l, a, b, a / b, at, bt, at / bt }')
done
[ "$bad" = 0 ] || die "the side by side with pKVM is not valid (see above; the runs' lines: $runs)"
echo "Instructions per call (EL1 + EL2 + EL3, generic timer under -icount; ratio = this firmware / pKVM):"
echo "$table"
echo
echo "The world switch, instructions per exit and re-entry: EL2's own (the host's counter filtered to"
echo "EL2, cortex-a57), and all of them (EL1 + EL2: the clock under -icount; this firmware's from the"
echo "bare-metal bench, less the counting row's for the counter read):"
echo "$switch_table"
