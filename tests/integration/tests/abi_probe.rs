// SPDX-License-Identifier: MIT OR Apache-2.0

//! The bare-metal ABI probe as the host: exact answers to every call, refused accesses to EL2's
//! memory and to the GIC's ITS, no LPIs at the redistributors, and all CPUs through EL2, on both
//! CPU models and both boot paths.

use integration::{Boot, Outcome, Run};

/// Checks the probe makes (see tests/payloads/abi-probe); a change there changes this number.
const PROBE_CHECKS: u32 = 60;

fn check_probe(out: &Outcome, smp: u32) {
    out.assert_clean_exit();
    let result = out.lines_with("PROBE: RESULT").next().unwrap_or_else(|| panic!("no result line:\n{}", out.log));
    assert_eq!(result, format!("PROBE: RESULT pass={PROBE_CHECKS} fail=0"), "\n{}", out.log);
    out.assert_skipped(0);
    assert_eq!(out.lines_with("PROBE: FAIL").count(), 0);
    // Every CPU entered EL2 before running the host.
    for cpu in 0..smp {
        assert!(
            out.log.contains(&format!("EL2[{cpu}] INFO  cpu {cpu} (MPIDR 0x8000000{cpu}) in EL2")),
            "cpu {cpu} did not come through EL2:\n{}",
            out.log
        );
    }
}

#[test]
fn tfa_cpu_max() {
    check_probe(&Run::new(Boot::TfA, "max", "abi-probe.bundle").run(), 4);
}

#[test]
fn tfa_cortex_a57() {
    check_probe(&Run::new(Boot::TfA, "cortex-a57", "abi-probe.bundle").run(), 4);
}

#[test]
fn direct_boot_cpu_max() {
    check_probe(&Run::new(Boot::Direct, "max", "abi-probe.bundle").run(), 4);
}

#[test]
fn direct_boot_cortex_a57() {
    check_probe(&Run::new(Boot::Direct, "cortex-a57", "abi-probe.bundle").run(), 4);
}
