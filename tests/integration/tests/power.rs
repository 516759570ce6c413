// SPDX-License-Identifier: MIT OR Apache-2.0

//! CPUs turned off and on again under EL2 (issue 8, defects 2 and 7): the bare-metal power probe
//! on both CPU models, both boot paths, and with counters reserved at boot.

use integration::{Boot, Outcome, Run};

/// Checks the probe makes (see tests/payloads/power-probe); a change there changes this number.
const PROBE_CHECKS: u32 = 45;

fn check_probe(out: &Outcome) {
    out.assert_clean_exit();
    let result = out.lines_with("PROBE: RESULT").next().unwrap_or_else(|| panic!("no result line:\n{}", out.log));
    assert_eq!(result, format!("PROBE: RESULT pass={PROBE_CHECKS} fail=0"), "\n{}", out.log);
    out.assert_skipped(0);
    assert!(out.has_line("PROBE: rounds 5"), "\n{}", out.log);
}

#[test]
fn tfa_cpu_max() {
    check_probe(&Run::new(Boot::TfA, "max", "power-probe.bundle").run());
}

#[test]
fn tfa_cortex_a57_with_boot_reservation() {
    check_probe(&Run::new(Boot::TfA, "cortex-a57", "power-probe.bundle").with_boot_reservation(2, "power-r2").run());
}

#[test]
fn direct_cortex_a57() {
    check_probe(&Run::new(Boot::Direct, "cortex-a57", "power-probe.bundle").run());
}
