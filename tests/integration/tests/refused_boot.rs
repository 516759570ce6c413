// SPDX-License-Identifier: MIT OR Apache-2.0

//! A boot the firmware refuses is a failed run, although QEMU exits 0 on its SYSTEM_OFF: the
//! firmware's reason is the last line, `scripts/qemu-run.sh` (what `make run` uses) exits 3 with
//! that reason as its last line, and the test harness's clean-exit check fails.

use integration::{Boot, Run};
use std::process::Command;

/// QEMU's `max` and `cortex-a57` have 6 event counters and the host keeps at least one, so a
/// boot-time reservation of 6 is refused ("boot reservation of 6 counters is above the 5 allowed").
fn refused(boot: Boot, name: &str) {
    let run = Run::new(boot, "cortex-a57", "abi-probe.bundle").with_boot_reservation(6, name);
    let out = run.run();

    let reason = "EL2 FATAL: cannot boot the host: PMU partition configuration: \
                  boot reservation of 6 counters is above the 5 allowed";
    assert_eq!(out.refusal(), Some(reason), "\n{}", out.log);
    // EL3 may add its own power-off message; nothing of the firmware's comes after the reason.
    let last = out.log.lines().map(|l| l.trim_end_matches('\r')).rfind(|l| l.starts_with("EL2"));
    assert_eq!(last, Some(reason), "the reason is not the firmware's last line:\n{}", out.log);
    assert!(!out.log.contains("PROBE:"), "the host ran:\n{}", out.log);
    assert_eq!(out.status, Some(0), "QEMU itself powers off cleanly");
    let check = std::panic::catch_unwind(|| out.assert_clean_exit());
    assert!(check.is_err(), "the harness took a refused boot for a clean run");

    // The runner `make run` uses.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/qemu-run.sh");
    let res = Command::new("bash")
        .arg(script)
        .args(["--expect", "PROBE: RESULT", "120", "--"])
        .args(run.qemu_args())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert_eq!(res.status.code(), Some(3), "qemu-run.sh:\n{stdout}\n{}", String::from_utf8_lossy(&res.stderr));
    assert_eq!(stdout.lines().map(|l| l.trim_end_matches('\r')).rfind(|l| !l.is_empty()), Some(reason));
}

#[test]
fn tfa_refused_boot_fails_the_run() {
    refused(Boot::TfA, "refuse-tfa");
}

#[test]
fn direct_refused_boot_fails_the_run() {
    refused(Boot::Direct, "refuse-direct");
}

/// The same runner passes a run that boots and prints what it was asked for, and fails one that
/// powers off without it: the check has both outcomes.
#[test]
fn runner_checks_expected_lines() {
    let run = Run::new(Boot::Direct, "cortex-a57", "power-probe.bundle");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/qemu-run.sh");
    for (expect, code) in [("PROBE: rounds 5", 0), ("PROBE: never printed", 5)] {
        let res = Command::new("bash")
            .arg(script)
            .args(["--expect", expect, "120", "--"])
            .args(run.qemu_args())
            .output()
            .expect("bash");
        assert_eq!(res.status.code(), Some(code), "--expect {expect:?}:\n{}", String::from_utf8_lossy(&res.stdout));
    }
}
