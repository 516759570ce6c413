// SPDX-License-Identifier: MIT OR Apache-2.0

//! Partitions from a Linux host: the patched Linux 6.12 (host-driver/linux/patches, 7/7 adds
//! /dev/pmu-partition) booted through TF-A and the firmware, running one scenario of
//! tests/linux/vm each (`pmup.vm=NAME` on the command line, bundle `host-6.12-vm-NAME.bundle`)
//! with `pmup-run`, `pmup-hostile` (host-driver/pmup-run) and the workload guest
//! (tests/payloads/workload). The scenario's own lines start with `VM:`, the runner's with
//! `PMUP-RUN:`, perf-check's with `PERF:`, pmup-hostile's with `HOSTILE:`.

use integration::{Boot, Outcome, Run};

/// The workload's loop in the end-to-end scenario: N iterations, 5 rounds (tests/linux/vm/e2e.sh).
const E2E_N: u64 = 100_000;
const E2E_ROUNDS: usize = 5;
/// Instructions (and, under -icount, cycles) the workload counts for one round of N iterations:
/// 2 per iteration and 3 for the measurement (tests/payloads/workload).
const fn loop_count(n: u64) -> u64 {
    2 * n + 3
}

fn run(scenario: &str, cpu: &'static str, icount: bool) -> Outcome {
    let bundle: &'static str = Box::leak(format!("host-6.12-vm-{scenario}.bundle").into_boxed_str());
    let mut run = Run::new(Boot::TfA, cpu, bundle);
    run.icount = icount;
    run.timeout_secs = 600;
    let out = run.run();
    out.assert_clean_exit();
    assert!(out.has_line(&format!("VM: scenario {scenario}")), "the scenario did not start:\n{}", out.log);
    assert!(out.has_line(&format!("VM: {scenario} done")), "the scenario did not finish:\n{}", out.log);
    assert!(out.has_line("VM: end") && !out.has_line("VM: timeout"), "no clean end:\n{}", out.log);
    // The kernel log of the run: no warning, bug or oops, from the driver or anything else.
    for l in out.lines_with("VM: kernel ") {
        assert!(!["WARNING", "BUG", "Oops"].iter().any(|w| l.contains(w)), "kernel: {l}\n{}", out.log);
    }
    eprintln!("{scenario} on -cpu {cpu}{}: {:?}", if icount { " -icount" } else { "" }, out.elapsed);
    out
}

/// The numbers after `prefix` on each line that starts with it, split at spaces.
fn values(out: &Outcome, prefix: &str) -> Vec<Vec<u64>> {
    out.lines_with(prefix)
        .map(|l| l[prefix.len()..].split_whitespace().map(|v| v.parse().expect(l)).collect())
        .collect()
}

/// `key=value` of a line.
fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|w| w.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key}= in {line:?} is not a number"))
}

/// The `PERF: cpus LABEL cpu=C n=..` lines of one phase, by CPU.
fn phase<'a>(out: &'a Outcome, label: &str) -> Vec<&'a str> {
    let prefix = format!("PERF: cpus {label} cpu=");
    out.lines_with("PERF: cpus ").filter(|l| l.starts_with(&prefix) && l.contains(" n=")).collect()
}

fn check_e2e(out: &Outcome, icount: bool) {
    // The guest: 2 counters of its own, and exact counts of its loop.
    assert!(out.has_line("PMUP-RUN: vm memory=2097152 vcpu=0 counters=2 cpu=1"), "{}", out.log);
    assert!(out.has_line(&format!("PMUP-RUN: report 1 2 {E2E_N}")), "the guest did not see N = 2:\n{}", out.log);
    let rounds = values(out, "PMUP-RUN: report 2 ");
    assert_eq!(rounds.len(), E2E_ROUNDS, "{}", out.log);
    if icount {
        // QEMU's instruction count under -icount is one count for all CPUs: a tick another CPU
        // takes during a round adds its instructions. So every round counts at least the loop,
        // cycles equal instructions, and a round nothing else ran in is exact.
        for r in &rounds {
            assert!(r[0] >= loop_count(E2E_N) && r[1] == r[0], "round {r:?}:\n{}", out.log);
        }
        assert!(rounds.iter().any(|r| r[0] == loop_count(E2E_N)), "no exact round: {rounds:?}\n{}", out.log);
    } else {
        assert!(rounds.iter().all(|r| r[1] > 0), "cycles did not count: {rounds:?}\n{}", out.log);
    }
    assert!(out.has_line("PMUP-RUN: done 0") && out.has_line("VM: e2e runner status=0"), "{}", out.log);

    // The host: 7 events on every CPU. All on the PMU before and after; on CPU 1, while the guest
    // had 2 of its counters, 7 events on 5 counters (multiplexed), elsewhere nothing changed.
    for label in ["before", "during", "after"] {
        let lines = phase(out, label);
        assert_eq!(lines.len(), 4, "{label}: {lines:?}\n{}", out.log);
        for l in lines {
            assert_eq!(field(l, "n"), 7, "{l}");
            assert_eq!(field(l, "inconsistent"), 0, "a host count lost: {l}\n{}", out.log);
            let cpu = field(l, "cpu");
            let m = field(l, "multiplexed");
            if label == "during" && cpu == 1 {
                assert!(m >= 2, "CPU 1 had all 7 counters while the guest ran: {l}\n{}", out.log);
            } else {
                assert_eq!(m, 0, "{label}: {l}\n{}", out.log);
            }
        }
    }

    // :G and :H on CPU 1, beside an event that excludes neither: the one that excludes the host
    // counts only while the guest runs (at least its loop), the one that excludes guests counts
    // all the rest, so that the two add up to the third (give or take EL2's few instructions at
    // each switch, which they see at slightly different moments). perf-check reads the three as
    // one group, in one go: read one by one, what CPU 1 ran between the reads made them differ by
    // up to 40 k with no guest at all, on a loaded machine.
    let gh = |label: &str| {
        let prefix = format!("PERF: cpus gh-{label} cpu=1 guest-only=");
        let l = out.lines_with(&prefix).next().unwrap_or_else(|| panic!("no {prefix}:\n{}", out.log));
        (field(l, "guest-only"), field(l, "host-only"), field(l, "both"))
    };
    for label in ["before", "during", "after"] {
        let (g, h, b) = gh(label);
        // Under -icount the events see the same instructions: a :H that went on counting while the
        // guest ran would be off by the guest's 200 k.
        // Without -icount the events count the host's clock and are read one after the other by
        // a process that can be preempted in between: only -icount makes the sum a check.
        let (sum, slack) = (g + h, b / 1000 + 5000);
        assert!(!icount || (sum + slack >= b && sum <= b + slack), ":G {g} + :H {h} is not {b} ({label}):\n{}", out.log);
        if label == "during" {
            assert!(g >= if icount { loop_count(E2E_N) } else { 1 }, ":G counted {g} of the guest:\n{}", out.log);
        } else {
            assert_eq!(g, 0, ":G counted the host ({label}):\n{}", out.log);
            assert!(h > 0, ":H did not count the host ({label}):\n{}", out.log);
        }
    }
    assert!(out.has_line("VM: e2e gh runner status=0"), "{}", out.log);
    // And every counter is the host's again on every CPU.
    assert!(out.has_line("PERF: fill k=6 cpus=4 ok=4"), "{}", out.log);

    // Nothing of the guest is left in CPU 1's counters once it ran there with no perf event on the
    // machine: no counter has the guest's INST_RETIRED, and the 2 counters that were reserved
    // (the top ones) are scrubbed.
    assert!(out.has_line("VM: e2e residue runner status=0"), "{}", out.log);
    let dump: Vec<_> = out.lines_with("PMUP: dump cpu=1 ").collect();
    assert_eq!(dump.len(), 6, "CPU 1's 6 counters: {dump:?}\n{}", out.log);
    for l in &dump {
        let ty = l.split_whitespace().find_map(|w| w.strip_prefix("type=")).expect(l);
        let ty = u64::from_str_radix(ty.trim_start_matches("0x"), 16).expect(l);
        assert_ne!(ty & 0xffff, 0x08, "the guest's event is left: {l}\n{}", out.log);
        if field(l, "counter") >= 4 {
            assert!(ty == 0 && field(l, "value") == 0, "a reserved counter not scrubbed: {l}\n{}", out.log);
        }
    }
}

#[test]
fn linux_vm_e2e_cpu_max_icount() {
    check_e2e(&run("e2e", "max", true), true);
}

#[test]
fn linux_vm_e2e_cortex_a57_icount() {
    check_e2e(&run("e2e", "cortex-a57", true), true);
}

/// The host's 7 events on every CPU and the guest's counters without -icount, as `make run` has it.
#[test]
fn linux_vm_e2e_cpu_max() {
    check_e2e(&run("e2e", "max", false), false);
}

#[test]
fn linux_vm_hostile() {
    let out = run("hostile", "max", false);
    let fails: Vec<_> = out.lines_with("HOSTILE: ").filter(|l| l.contains(" FAIL")).collect();
    assert!(fails.is_empty(), "refused wrongly: {fails:?}\n{}", out.log);
    let done = out.lines_with("HOSTILE: done ").next().unwrap_or_else(|| panic!("no HOSTILE: done:\n{}", out.log));
    assert!(field(done, "pass") >= 80 && field(done, "fail") == 0, "{done}");
    assert!(out.has_line("VM: hostile status=0"), "{}", out.log);
    // A guest that never exits ends cleanly on SIGINT and SIGTERM (exit 130); SIGKILL takes the VM
    // with the process (137 from the shell) and its 16 MiB come back.
    assert!(out.has_line("VM: hostile signal=INT status=130"), "{}", out.log);
    assert!(out.has_line("VM: hostile signal=TERM status=130"), "{}", out.log);
    // Sent the moment pmup-run catches it: a background job of the script's shell starts with
    // SIGINT ignored, so a SIGINT sent any earlier would be lost (tests/linux/vm/lib.sh, runner).
    assert!(out.has_line("VM: hostile signal=INT-at-start status=130"), "{}", out.log);
    assert_eq!(out.lines_with("VM: runner ").count(), 0, "{}", out.log);
    assert_eq!(out.lines_with("VM: hostile killed status=137").count(), 2, "{}", out.log);
    let mem = out.lines_with("VM: hostile killed memfree-").next().expect("memfree line");
    // Free memory counts the per-CPU free lists (tests/linux/vm/lib.sh); a VM not given back
    // would be 16 MiB, each. 2 MiB for the kernel's own noise.
    assert!(field(mem, "memfree-after") + 2048 >= field(mem, "memfree-before"), "VM memory lost: {mem}");
    assert!(out.has_line("PERF: fill k=6 cpus=4 ok=4"), "counters left reserved:\n{}", out.log);
    assert!(out.has_line("VM: hostile after status=0"), "{}", out.log);
}

#[test]
fn linux_vm_cycles() {
    let out = run("cycles", "cortex-a57", false);
    let l = out.lines_with("HOSTILE: cycles n=").next().unwrap_or_else(|| panic!("no cycles line:\n{}", out.log));
    assert_eq!(field(l, "n"), 100, "{l}");
    // 100 VMs of 8 MiB: a lost VM would be 8192 kB; allow the kernel's own noise of 1 MiB.
    assert!(field(l, "memfree-after") + 1024 >= field(l, "memfree-before"), "memory lost: {l}");
    assert!(out.has_line("HOSTILE: cycles ok") && out.has_line("VM: cycles status=0"), "{}", out.log);
}

#[test]
fn linux_vm_hotplug() {
    let out = run("hotplug", "max", false);
    for mode in ["running", "kept"] {
        assert!(out.has_line(&format!("VM: hotplug {mode} rounds-ok=3")), "{}", out.log);
        assert!(out.has_line(&format!("VM: hotplug {mode} runner status=130")), "{}", out.log);
    }
    assert!(out.has_line("VM: hotplug stopped runner status=130"), "{}", out.log);
    assert_eq!(out.lines_with("VM: runner ").count(), 0, "{}", out.log);
    assert!(out.has_line("PERF: fill k=6 cpus=4 ok=4"), "counters left reserved:\n{}", out.log);
    assert!(out.has_line("VM: hotplug after status=0"), "{}", out.log);
}

/// The cost scenario of `make bench` (there under -icount, one CPU) runs, and shows the model:
/// without counters no reservation, with 2 one reservation per round trip (the counters are given
/// back when PMUP_RUN returns), with 2 kept (PMUP_RUN_KEEP_COUNTERS) far fewer (again only after
/// the thread was scheduled out), and at least one guest entry per round trip.
#[test]
fn linux_vm_cost_scenario() {
    let out = run("cost", "max", false);
    let configs: Vec<_> = out.lines_with("VM: cost counters=").collect();
    let benches: Vec<_> = out.lines_with("PMUP-RUN: bench ").collect();
    assert_eq!(configs.len(), 7, "{}", out.log);
    assert_eq!(benches.len(), 7, "{}", out.log);
    for (c, b) in configs.iter().zip(&benches) {
        let runs = field(b, "runs");
        assert_eq!(runs, 2000, "{b}");
        // A host interrupt while the guest runs is one entry more.
        assert!(field(b, "entries") >= runs, "{b}");
        let reservations = field(b, "reservations");
        if field(c, "counters") == 0 {
            assert_eq!(reservations, 0, "{c}: {b}");
        } else if c.ends_with("keep=yes") {
            // Reserved in the untimed first run; again only after the thread left the CPU.
            assert!(reservations < runs / 10, "{c}: {b}");
        } else {
            assert_eq!(reservations, runs, "{c}: {b}");
        }
        assert!(field(b, "ns-per-run") > 0, "{b}");
    }
}
