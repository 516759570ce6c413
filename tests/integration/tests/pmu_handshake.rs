// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PMU reserve / unreserve handshake (issue 3) on QEMU: the bare-metal PMU probe as the host
//! runs it on every CPU, on both CPU models, and with counters reserved at boot; and Debian's
//! unmodified Linux finds fewer counters when the firmware reserves some at boot. On every CPU the
//! probe also checks that the host's cycle counter does not count EL2 on PMUv3p5 (issue 8).

use integration::{Boot, Outcome, Run};

/// Checks the probe makes on each CPU: 42 on the raw calls (one of them: the host's cycle counter
/// does not count EL2 on -cpu max, HCCD), 11 through host-driver's handshake.
const PER_CPU: u32 = 42 + 11;
/// On the 4 CPUs, plus one per secondary that it ran.
const PROBE_CHECKS: u32 = 4 * PER_CPU + 3;

fn check_probe(out: &Outcome) {
    out.assert_clean_exit();
    let result = out.lines_with("PROBE: RESULT").next().unwrap_or_else(|| panic!("no result:\n{}", out.log));
    assert_eq!(result, format!("PROBE: RESULT pass={PROBE_CHECKS} fail=0"), "\n{}", out.log);
    out.assert_skipped(0);
    for cpu in 0..4 {
        assert!(out.lines_with(&format!("PROBE: cpu {cpu} info ")).next().is_some(), "cpu {cpu} did not run:\n{}", out.log);
    }
}

fn info_line(out: &Outcome) -> &str {
    out.lines_with("PROBE: cpu 0 info ").next().unwrap()
}

#[test]
fn tfa_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "pmu-probe.bundle").run();
    check_probe(&out);
    // -cpu max: PMUv3p5 (64-bit counters), FEAT_HPMN0 and FEAT_FGT.
    assert!(info_line(&out).contains("counters: 6, pmu_version: 6, counter_bits: 64, hpmn0: true, fgt: true"), "{}", info_line(&out));
}

#[test]
fn tfa_cortex_a57() {
    let out = Run::new(Boot::TfA, "cortex-a57", "pmu-probe.bundle").run();
    check_probe(&out);
    // cortex-a57: PMUv3, 32-bit counters, no FEAT_HPMN0, no FEAT_FGT.
    assert!(info_line(&out).contains("counters: 6, pmu_version: 1, counter_bits: 32, hpmn0: false, fgt: false"), "{}", info_line(&out));
}

#[test]
fn direct_boot_cpu_max() {
    check_probe(&Run::new(Boot::Direct, "max", "pmu-probe.bundle").run());
}

#[test]
fn tfa_boot_reservation_then_handshake() {
    let out = Run::new(Boot::TfA, "cortex-a57", "pmu-probe.bundle").with_boot_reservation(2, "probe-a57-r2").run();
    check_probe(&out);
    assert!(info_line(&out).contains("max_reserve: 3, host_minimum: 1, boot_reserved: 2 } PMCR.N(EL1)=4"), "{}", info_line(&out));
}

#[test]
fn tfa_linux_sees_fewer_counters_when_reserved_at_boot() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").with_boot_reservation(2, "linux-max-r2").run();
    out.assert_clean_exit();
    assert!(out.log.contains("PMU: 6 counters, PMUVer 0x6; host keeps >= 1, 2 reserved at boot, up to 3 on request"));
    // 4 event counters and the cycle counter, instead of 6 + 1.
    assert!(
        out.has_line("HOST: perf hw perfevents: enabled with armv8_pmuv3 PMU driver, 5 counters available"),
        "\n{}",
        out.log
    );
    assert!(out.has_line("HOST: cpu-count 4"));
    assert!(out.has_line("PMUP: probe cpus=4 ok=4"));
}
