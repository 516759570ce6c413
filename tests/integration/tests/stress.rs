// SPDX-License-Identifier: MIT OR Apache-2.0

//! SMP stress (issue 8): 4 CPUs x 1000 rounds of reserve, VM create / load / vCPU create / run /
//! destroy and unreserve, with hostile donations of each other's memory and the secondaries
//! turning off mid-round, then the consistency check (tests/payloads/stress-probe). Bounded by
//! the run's timeout; a hang is a failure.

use integration::{Boot, Outcome, Run};

fn check_stress(out: &Outcome) {
    out.assert_clean_exit();
    assert_eq!(out.lines_with("PROBE: FAIL").count(), 0, "\n{}", out.log);
    let result = out.lines_with("PROBE: RESULT").next().unwrap_or_else(|| panic!("no result line:\n{}", out.log));
    // CPU_ON x3, started, finished, 4 CPUs' rounds, offs, donations back, no slot leaked.
    assert_eq!(result, "PROBE: RESULT pass=12 fail=0", "\n{}", out.log);
    out.assert_skipped(0);
    for cpu in 0..4 {
        let prefix = format!("PROBE: cpu {cpu} rounds=1000 errors=0");
        assert!(out.lines_with(&prefix).next().is_some(), "cpu {cpu}:\n{}", out.log);
    }
}

#[test]
fn tfa_cpu_max() {
    let mut run = Run::new(Boot::TfA, "max", "stress-probe.bundle");
    run.timeout_secs = 400;
    let out = run.run();
    check_stress(&out);
    eprintln!("stress, TF-A, -cpu max: {:?}", out.elapsed);
}

#[test]
fn tfa_cortex_a57_boot_reservation() {
    let mut run = Run::new(Boot::TfA, "cortex-a57", "stress-probe.bundle").with_boot_reservation(1, "stress-r1");
    run.timeout_secs = 400;
    let out = run.run();
    check_stress(&out);
    eprintln!("stress, TF-A, -cpu cortex-a57, 1 counter reserved at boot: {:?}", out.elapsed);
}
