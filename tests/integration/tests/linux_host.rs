// SPDX-License-Identifier: MIT OR Apache-2.0

//! Debian's own arm64 Linux kernel as the host at EL1, booted through TF-A and the firmware.

use integration::{Boot, Outcome, Run};

fn check_linux(out: &Outcome) {
    out.assert_clean_exit();
    for cpu in 0..4 {
        assert!(
            out.lines_with(&format!("EL2[{cpu}] INFO  cpu {cpu} (MPIDR")).next().is_some(),
            "cpu {cpu} did not come through EL2:\n{}",
            out.log
        );
    }
    assert!(out.has_line("HOST: cpu-count 4"), "Linux did not bring up 4 CPUs:\n{}", out.log);
    assert!(out.has_line("HOST: cpus-online 0-3"));
    let perf: Vec<_> = out.lines_with("HOST: perf ").collect();
    assert!(
        perf.iter().any(|l| l.contains("hw perfevents: enabled with armv8_pmuv3")),
        "no PMU driver line: {perf:?}"
    );
    // EL2's memory is reserved and unmapped in the host.
    assert!(
        out.has_line("HOST: reserved pmu-partition-el2@60000000 reg=0x0000000060000000,0x0000000000400000 no-map=yes"),
        "firmware memory not reserved no-map:\n{}",
        out.log
    );
    assert!(out.has_line("HOST: done"));
}

#[test]
fn tfa_linux_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").run();
    check_linux(&out);
    eprintln!("TF-A + EL2 + Linux (-cpu max) to power-off: {:?}", out.elapsed);
}

#[test]
fn direct_linux_cortex_a57() {
    let out = Run::new(Boot::Direct, "cortex-a57", "host.bundle").run();
    check_linux(&out);
    eprintln!("EL2 + Linux (-cpu cortex-a57, direct) to power-off: {:?}", out.elapsed);
}
