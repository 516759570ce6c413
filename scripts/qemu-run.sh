#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Runs QEMU under a timeout, shows its console, and turns what the run printed into an exit code
# (QEMU itself exits 0 on every PSCI SYSTEM_OFF, including the firmware refusing to boot):
#
#   scripts/qemu-run.sh [--expect LINE]... SECONDS -- QEMU-ARGS...
#
#   0    QEMU powered off by itself, and every --expect line was printed
#   3    the firmware refused to boot the host (its `EL2 FATAL:` reason is the last line)
#   4    EL2 panicked
#   5    the run ended without printing an --expect line (the host did not finish)
#   124  the timeout fired (a hang)
#   any other non-zero status of QEMU itself
#
# The integration tests classify runs the same way (tests/integration/src/lib.rs, Outcome).
set -uo pipefail

expect=()
while [ $# -gt 0 ] && [ "$1" = --expect ]; do
    expect+=("$2")
    shift 2
done
[ $# -ge 2 ] && [ "$2" = -- ] || { echo "usage: $0 [--expect LINE]... SECONDS -- QEMU-ARGS..." >&2; exit 2; }
secs=$1
shift 2

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --foreground keeps Ctrl-C working on QEMU's console; the log is read back from the copy.
timeout --foreground "$secs" qemu-system-aarch64 "$@" | tee "$log"
status=${PIPESTATUS[0]}
tr -d '\r' <"$log" >"$log.lf" && mv "$log.lf" "$log"

fatal=$(grep -m1 '^EL2 FATAL: ' "$log")
if [ -n "$fatal" ]; then
    echo "qemu-run: the firmware refused to boot the host" >&2
    echo "$fatal"
    exit 3
fi
if grep -q 'EL2 PANIC' "$log"; then
    echo "qemu-run: EL2 panicked: $(grep -m1 'EL2 PANIC' "$log")" >&2
    exit 4
fi
if [ "$status" = 124 ]; then
    echo "qemu-run: no power-off within ${secs}s: a hang" >&2
    exit 124
fi
if [ "$status" != 0 ]; then
    echo "qemu-run: QEMU exited with status $status" >&2
    exit "$status"
fi
for line in "${expect[@]}"; do
    if ! grep -qxF -- "$line" "$log"; then
        echo "qemu-run: powered off without printing \"$line\"" >&2
        exit 5
    fi
done
exit 0
