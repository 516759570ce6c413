// SPDX-License-Identifier: MIT OR Apache-2.0

//! Debian's own arm64 Linux kernel as the host at EL1, booted through TF-A and the firmware.

use integration::{Boot, Outcome, Run};

fn check_linux(out: &Outcome, smccc_conduit: bool) {
    out.assert_clean_exit();
    for cpu in 0..4 {
        assert!(
            out.log.contains(&format!("EL2[{cpu}] INFO  cpu {cpu} (MPIDR 0x8000000{cpu}) in EL2")),
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
    // The GIC without its ITS (EL2 removed it from the device tree and from stage-2) and without
    // LPIs (EL2 hides them at the redistributors): the kernel still finds every redistributor and
    // runs on wired interrupts.
    assert!(out.has_line("HOST: dt-its 0"), "the host's device tree still has an ITS:\n{}", out.log);
    let gic: Vec<_> = out.lines_with("HOST: gic ").collect();
    for cpu in 0..4 {
        let found = format!("GICv3: CPU{cpu}: found redistributor {cpu} ");
        assert!(gic.iter().any(|l| l.contains(&found)), "cpu {cpu}'s redistributor not found: {gic:#?}");
    }
    assert!(
        !gic.iter().any(|l| l.contains("ITS@") || l.contains("ITS [mem") || l.contains("LPI property") || l.contains("LPI pending")),
        "the host found an ITS or set up LPI tables: {gic:#?}"
    );
    assert!(out.has_line("HOST: done"));
    if !smccc_conduit {
        // Without TF-A, QEMU's own PSCI answers SMCCC_VERSION with NOT_SUPPORTED, so Linux
        // assumes SMCCC 1.0 and has no SMCCC conduit for the probe module to use.
        assert!(out.has_line("PMUP: conduit=none smccc=1.0"), "\n{}", out.log);
        return;
    }
    // The host-side probe module, run by /init on every CPU through Linux's SMCCC conduit (SMC,
    // trapped by EL2) and by HVC: the hypervisor's UID, revision, FEATURES and error codes.
    assert!(out.has_line("PMUP: conduit=smc smccc=1.2") || out.has_line("PMUP: conduit=smc smccc=1.1"),
        "probe module did not find an SMC conduit:\n{}", out.log);
    for cpu in 0..4 {
        let uid = "9bababfc-0059-428d-8922-08290cd38e12 match=yes";
        assert!(out.has_line(&format!("PMUP: cpu {cpu} uid {uid} via=smc")), "cpu {cpu} smc uid:\n{}", out.log);
        assert!(out.has_line(&format!("PMUP: cpu {cpu} uid {uid} via=hvc")), "cpu {cpu} hvc uid");
        assert!(out.has_line(&format!("PMUP: cpu {cpu} revision 0.3 features uid=0 unknown=-1 unknown-id=-1 bad-arg=-3")));
        assert!(out.has_line(&format!("PMUP: cpu {cpu} ok=yes")));
    }
    assert!(out.has_line("PMUP: probe cpus=4 ok=4"), "\n{}", out.log);
    // Every secondary went off and came back three times (issue 8, defect 2: CPU_OFF used to
    // leave the CPU's PMU lock held, and the next CPU_ON spun in EL2 forever), and answers the
    // hypervisor's calls again.
    assert!(out.has_line("HOST: hotplug ok=9 fail=0 online=0-3"), "CPU hotplug failed:\n{}", out.log);
    assert!(out.has_line("AFTER-HOTPLUG PMUP: probe cpus=4 ok=4"), "\n{}", out.log);
    // Per-CPU perf counting on every CPU that came back, never multiplexed out.
    assert!(out.has_line("PERF: percpu cpus=4 ok=4"), "per-CPU counting after hotplug:\n{}", out.log);
}

#[test]
fn tfa_linux_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").run();
    check_linux(&out, true);
    eprintln!("TF-A + EL2 + Linux (-cpu max) to power-off: {:?}", out.elapsed);
}

#[test]
fn direct_linux_cortex_a57() {
    let out = Run::new(Boot::Direct, "cortex-a57", "host.bundle").run();
    check_linux(&out, false);
    eprintln!("EL2 + Linux (-cpu cortex-a57, direct) to power-off: {:?}", out.elapsed);
}

/// The same with two counters reserved at boot on every CPU: the reservation survives hotplug.
#[test]
fn tfa_linux_cpu_max_boot_reservation() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").with_boot_reservation(2, "linux-r2").run();
    check_linux(&out, true);
}
