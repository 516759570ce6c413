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
# The world switch. pKVM's: the guest exit's line, whose samples must mostly agree (under -icount
# only the host's timer tick, landing in some runs, makes them differ).
exit_line=$(grep -E '^HYPCOST: path=vcpu-exit .* el2=' "$pkvm" || true)
agree=$(sed -n 's/.* samples=\([0-9]*\) agree=\([0-9]*\) .*/\2 \1/p' <<<"$exit_line")
b=$(sed -n 's/.* el2=\([0-9.]*\) .*/\1/p' <<<"$exit_line")
# This firmware's: the bare-metal bench on cortex-a57 (the first of its CPU models).
a=$(tr -d '\r' <"$3" | awk '/^== .*-cpu cortex-a57/ { on = 1; next } /^== / { on = 0 } on && /^BENCH: vcpu-run-round-trip / { sub(/.*el2=/, ""); print; exit }')
if [ -z "$b" ] || [ -z "$agree" ]; then
    say "pKVM: no \"HYPCOST: path=vcpu-exit ... el2=\" line (tests/payloads/kvm-exit-cost)"
    bad=1
elif ! awk -v a="$agree" 'BEGIN { split(a, x, " "); exit !(x[1] * 2 > x[2]) }'; then
    say "pKVM: only ${agree% *} of the guest exit's ${agree#* } samples agree: not an exact figure"
    bad=1
elif [ -z "$a" ]; then
    say "this firmware: no cortex-a57 \"BENCH: vcpu-run-round-trip\" line in $3"
    bad=1
fi
[ "$bad" = 0 ] || die "the side by side with pKVM is not valid (see above; the runs' lines: $1, $2, $3)"
echo "Instructions per call (EL1 + EL2 + EL3, generic timer under -icount; ratio = this firmware / pKVM):"
echo "$table"
echo
echo "The world switch, EL2's instructions only (the host's counter filtered to EL2, on cortex-a57):"
echo "| Path | this firmware | pKVM | ratio |"
echo "| --- | ---: | ---: | ---: |"
row "guest entry and exit, both ways (VCPU_RUN round trip; a KVM guest's HVC the host kernel answers)" "$a" "$b"
echo
