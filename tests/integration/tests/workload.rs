// SPDX-License-Identifier: MIT OR Apache-2.0

//! The workload guest (tests/payloads/workload) on its own partitioned counters, run by the
//! workload probe through TF-A and EL2: it sees the k counters it was given (0, 1, 2, 3), keeps
//! the protocol a Linux host's runner relies on (reports 1, 2, 3, GUEST_DONE; forever mode until
//! the host destroys the VM), counts software increments exactly everywhere, and under QEMU's
//! `-icount shift=0` counts the loop's instructions and cycles exactly: 2N + 3 for N iterations
//! (2N + 2 with one counter, which has no cycle counter), for two loop lengths, on cortex-a57
//! and max, in the trapped and the direct enforcement mode. The host's PMCR_EL0.E is clear on
//! purpose, as an idle Linux host leaves it: the partition counts all the same, and the host's
//! enabled cycle counter and CPU_CYCLES events (parked and in place) do not move across the runs.

use integration::{Boot, Outcome, Run};

/// Checks the workload probe makes (tests/payloads/workload-probe).
const PROBE_CHECKS: u32 = 43;

/// One `WORKLOAD: k=.. n=.. round=.. instructions=.. cycles=..` line.
#[derive(Debug)]
struct Round {
    k: u64,
    n: u64,
    instructions: u64,
    cycles: u64,
}

fn rounds(out: &Outcome) -> Vec<Round> {
    out.lines_with("WORKLOAD: ")
        .map(|line| {
            let field = |name: &str| -> u64 {
                let value = line.split(' ').find_map(|f| f.strip_prefix(name).and_then(|f| f.strip_prefix('=')));
                value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name} in {line}"))
            };
            Round { k: field("k"), n: field("n"), instructions: field("instructions"), cycles: field("cycles") }
        })
        .collect()
}

fn check_probe(out: &Outcome) -> Vec<Round> {
    out.assert_clean_exit();
    out.assert_skipped(0);
    assert!(out.has_line(&format!("PROBE: RESULT pass={PROBE_CHECKS} fail=0")), "\n{}", out.log);
    let rounds = rounds(out);
    // k = 2: 2 + 1 rounds, k = 3: 2 + 1, k = 1: 3, forever: 5.
    assert_eq!(rounds.len(), 14, "{rounds:?}\n{}", out.log);
    rounds
}

/// Under -icount shift=0: instructions and cycles exactly 2N + 3 (one counter: instructions
/// 2N + 2, cycles 0), for N = 500, 1000, 50000 and 100000.
fn check_exact(cpu: &'static str, enforcement: Option<(&str, &str)>) {
    let mut run = Run::new(Boot::TfA, cpu, "workload-probe.bundle");
    if let Some((mode, name)) = enforcement {
        run = run.with_enforcement(mode, name);
    }
    run.icount = true;
    let out = run.run();
    for r in check_probe(&out) {
        let (instructions, cycles) = if r.k >= 2 { (2 * r.n + 3, 2 * r.n + 3) } else { (2 * r.n + 2, 0) };
        assert_eq!((r.instructions, r.cycles), (instructions, cycles), "not exact: {r:?}\n{}", out.log);
    }
}

#[test]
fn tfa_cortex_a57_exact_counts() {
    check_exact("cortex-a57", None);
}

#[test]
fn tfa_cpu_max_exact_counts() {
    check_exact("max", None);
}

#[test]
fn tfa_direct_mode_cpu_max_exact_counts() {
    check_exact("max", Some(("direct", "workload-direct-max")));
}

/// Without -icount QEMU counts no instructions and cycles from the host's clock: only the
/// protocol and the software increments are exact.
#[test]
fn tfa_cpu_max_plain() {
    let out = Run::new(Boot::TfA, "max", "workload-probe.bundle").run();
    let rounds = check_probe(&out);
    assert!(rounds.iter().all(|r| r.instructions == 0), "{rounds:?}");
}
