// SPDX-License-Identifier: MIT OR Apache-2.0

//! The patched Linux 6.12 (Debian's linux-source-6.12 + host-driver/linux/patches, built by
//! scripts/linux-6.12.sh) as the host at EL1, booted through TF-A and the firmware, and the
//! series' own checks (scripts/linux-series-check.sh). The bundle is `host-6.12.bundle`, from
//! `make`; a missing one fails the test.

use integration::{Boot, Outcome, Run, check_linux_host, out_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release string scripts/linux-6.12.sh recorded for the kernel it built.
fn release() -> String {
    let path = repo().join("target/cache/linux-6.12/VERSION");
    let v = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run the tests with `make test`", path.display()));
    let v = v.trim().to_owned();
    assert!(v.starts_with("6.12."), "{} says {v:?}, not a 6.12 release", path.display());
    v
}

/// Everything check_linux_host checks, on the 6.12 kernel, with `reserved` counters taken by EL2
/// at boot: Linux's PMU driver then finds 7 - reserved counters (QEMU's PMU has 6 event counters
/// and the cycle counter). 6.12 prints the counters' mask too: event counters from bit 0, the
/// cycle counter at bit 31; a device-tree boot names the PMU plain `armv8_pmuv3`.
fn check_612(out: &Outcome, reserved: u32) {
    let release = release();
    assert!(
        out.log.contains(&format!("Linux version {release} ")),
        "the kernel that booted is not the patched {release}:\n{}",
        out.log
    );
    check_linux_host(out, true);
    let events = 6 - reserved;
    let line = format!(
        "HOST: perf hw perfevents: enabled with armv8_pmuv3 PMU driver, {} (0,{:08x}) counters available",
        events + 1,
        0x8000_0000u32 | ((1u32 << events) - 1)
    );
    assert!(out.has_line(&line), "expected {line:?}:\n{}", out.log);
}

#[test]
fn linux_pmu_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").run();
    check_612(&out, 0);
    eprintln!("TF-A + EL2 + Linux 6.12 (-cpu max) to power-off: {:?}", out.elapsed);
}

#[test]
fn linux_pmu_cortex_a57() {
    let out = Run::new(Boot::TfA, "cortex-a57", "host-6.12.bundle").run();
    check_612(&out, 0);
    eprintln!("TF-A + EL2 + Linux 6.12 (-cpu cortex-a57) to power-off: {:?}", out.elapsed);
}

/// Two counters reserved at boot on every CPU: Linux finds 5, and keeps finding them after hotplug.
#[test]
fn linux_pmu_cpu_max_boot_reservation() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").with_boot_reservation(2, "linux612-r2").run();
    check_612(&out, 2);
}

/// FEAT_MOPS on -cpu max: Linux >= 6.5 advertises it to userspace from ID_AA64ISAR2_EL1, and
/// glibc's memcpy (busybox's, in /init) then runs CPYF*. Those are UNDEFINED at EL1 and EL0 under
/// an EL2 unless HCRX_EL2.MSCEn is set; before EL2 set it, /init died of SIGILL.
#[test]
fn linux_pmu_cpu_max_mops() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").run();
    assert!(
        !out.log.contains("potentially unexpected fatal signal 4"),
        "the host's userspace died of SIGILL: FEAT_MOPS is advertised but not enabled by EL2:\n{}",
        out.log
    );
    assert!(out.has_line("HOST: mops yes"), "the host does not see FEAT_MOPS on -cpu max:\n{}", out.log);
    check_612(&out, 0);
}

/// The series passes checkpatch (or explains in its cover letter what stays) and the tree builds
/// after each patch. Cached by key, so this is quick unless the series or the pipeline changed.
#[test]
fn linux_pmu_series_check() {
    let out = Command::new("bash")
        .arg(repo().join("scripts/linux-series-check.sh"))
        .output()
        .expect("cannot run bash");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scripts/linux-series-check.sh failed:\n{log}");
    assert!(
        log.contains("series check: ok") || log.contains("[series-check] up to date"),
        "scripts/linux-series-check.sh passed without saying so:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// The reserved_counters knob, driven by the 6.12 /init (scripts/initramfs.sh, "HOST: knob" and
// "PERF:" lines from tests/linux/perf-check.c). QEMU's PMU has 6 event counters and the cycle
// counter; EL2 lets a reservation take up to 5.

/// The knob's lines and perf-check's, in order (per-CPU counting lines left out).
fn knob_lines(out: &Outcome) -> Vec<String> {
    let start = out.log.find("HOST: knob read").unwrap_or_else(|| panic!("no knob section:\n{}", out.log));
    out.log[start..]
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with("HOST: knob") || l.starts_with("PERF: mux") || l.starts_with("PERF: fill")
            || l.starts_with("PERF: pinned cpu") || l.starts_with("PERF: inst") || l.starts_with("PERF: span"))
        .map(str::to_owned)
        .collect()
}

/// Walks the knob lines in order.
struct Cursor<'a> {
    lines: &'a [String],
    at: usize,
}

impl Cursor<'_> {
    fn next(&mut self, what: &str) -> &str {
        let line = self.lines.get(self.at).unwrap_or_else(|| panic!("knob section ended before {what}:\n{:#?}", self.lines));
        self.at += 1;
        line
    }

    fn expect(&mut self, want: &str) {
        let got = self.next(want).to_owned();
        assert_eq!(got, want, "knob section, in order:\n{:#?}", self.lines);
    }
}

/// Everything the knob section of /init does, with no counters reserved at boot.
fn check_knob(out: &Outcome, icount: bool) {
    let lines = knob_lines(out);
    let mut c = Cursor { lines: &lines, at: 0 };
    // Instructions: supported only under -icount, where the count is exact. The loop is 200000
    // instructions; the few around it (the ioctl wrappers' returns) are the same every time.
    let mut insts = Vec::new();
    let mut inst = |c: &mut Cursor<'_>| {
        let line = c.next("inst").to_owned();
        if icount {
            let n: u64 = line.strip_prefix("PERF: inst count=").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"));
            assert!((200_000..200_064).contains(&n), "{line}");
            insts.push(n);
        } else {
            assert_eq!(line, "PERF: inst unsupported");
        }
    };
    c.expect("HOST: knob read 0");
    // All 7 counters free: 7 cycle events fit (the cycle counter and 6 event counters).
    c.expect("PERF: mux n=7 multiplexed=0 counted=7");
    c.expect("PERF: fill k=6 cpus=4 ok=4");
    inst(&mut c);
    c.expect("HOST: knob write 2 -> ok");
    c.expect("HOST: knob read 2");
    // 2 event counters gone on every CPU: 7 events multiplex on 5 counters, and a pinned group
    // of 5 event-counter events no longer fits anywhere, one of 4 fits everywhere.
    let mux = c.next("mux during").to_owned();
    let m = mux.strip_prefix("PERF: mux n=7 multiplexed=").unwrap_or_else(|| panic!("{mux}"));
    assert!(m.ends_with(" counted=7") && !m.starts_with("0 "), "no multiplexing while reserved: {mux}\n{lines:#?}");
    c.expect("PERF: fill k=4 cpus=4 ok=4");
    c.expect("PERF: fill k=5 cpus=4 ok=0");
    // The same count of instructions with 2 counters reserved (exact under -icount).
    inst(&mut c);
    // Hotplug with counters reserved: CPU 1 comes back with them still reserved.
    c.expect("HOST: knob hotplug online=0-3");
    c.expect("PERF: fill k=4 cpus=4 ok=4");
    c.expect("PERF: fill k=5 cpus=4 ok=0");
    c.expect("HOST: knob write 0 -> ok");
    c.expect("HOST: knob read 0");
    c.expect("PERF: mux n=7 multiplexed=0 counted=7");
    c.expect("PERF: fill k=6 cpus=4 ok=4");
    inst(&mut c);
    // Out of range.
    c.expect("HOST: knob write 6 -> EINVAL");
    c.expect("HOST: knob write abc -> EINVAL");
    c.expect("HOST: knob write -1 -> EINVAL");
    c.expect("HOST: knob read 0");
    // A pinned group holding CPU 2's 6 event counters: refused, CPUs 0 and 1 rolled back, the
    // group stays on the PMU, and every counter of every CPU is the host's again.
    c.expect("HOST: knob write 2 -> EBUSY");
    c.expect("HOST: knob read 0");
    c.expect("PERF: pinned cpu=2 k=6 state=ok");
    c.expect("PERF: fill k=6 cpus=4 ok=4");
    // Concurrent writers: every CPU agrees with the final value.
    let fin = c.next("concurrent final").to_owned();
    let k: u32 = fin.strip_prefix("HOST: knob concurrent final=").and_then(|k| k.parse().ok()).unwrap_or_else(|| panic!("{fin}"));
    assert!(k == 2 || k == 3, "{fin}");
    c.expect(&format!("PERF: fill k={} cpus=4 ok=4", 6 - k));
    c.expect(&format!("PERF: fill k={} cpus=4 ok=0", 7 - k));
    c.expect("HOST: knob write 0 -> ok");
    c.expect("HOST: knob read 0");
    // 7 cycle events counting through a reservation and its release: every one counted, and
    // their counts scaled by enabled/running agree within 3 %: nothing lost beyond what the
    // times account for.
    c.expect("HOST: knob write 2 -> ok");
    c.expect("HOST: knob write 0 -> ok");
    let span = c.next("span").to_owned();
    let spread: u64 = span
        .strip_prefix("PERF: span n=7 counted=7 spread=")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{span}\n{lines:#?}"));
    // Under -icount the cycle counter follows instructions and 3 % holds. Without it QEMU's
    // cycles follow host time, and a host that deschedules QEMU between the kernel starting (or
    // stopping) an event's clock and the counter itself puts milliseconds of cycles between the
    // two: on a loaded CI machine the spread was 1046 once. 10 % still catches a count lost over
    // the reservation (a third of the span).
    let limit = if icount { 1030 } else { 1100 };
    let each: Vec<&str> = out.log.lines().filter(|l| l.starts_with("PERF: each span ")).collect();
    assert!((1000..limit).contains(&spread), "scaled counts disagree: {span}\n{each:#?}");
    c.expect("HOST: knob done");
    if icount {
        assert_eq!(insts.len(), 3);
        assert!(insts.iter().all(|&n| n == insts[0]), "instruction counts differ before, during and after: {insts:?}");
    }
}

#[test]
fn linux_pmu_knob_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").run();
    out.assert_clean_exit();
    check_knob(&out, false);
}

#[test]
fn linux_pmu_knob_cortex_a57() {
    let out = Run::new(Boot::TfA, "cortex-a57", "host-6.12.bundle").run();
    out.assert_clean_exit();
    check_knob(&out, false);
}

/// Under -icount the user-space instruction count of a fixed loop is exact: the same before,
/// during and after a reservation (2 per iteration, 100000 iterations).
#[test]
fn linux_pmu_knob_icount_exact() {
    let mut run = Run::new(Boot::TfA, "cortex-a57", "host-6.12.bundle");
    run.icount = true;
    run.timeout_secs = 400;
    let out = run.run();
    out.assert_clean_exit();
    check_knob(&out, true);
}

/// With counters reserved at boot, the knob starts there and cannot go below.
#[test]
fn linux_pmu_knob_boot_reservation() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").with_boot_reservation(2, "knob-r2").run();
    out.assert_clean_exit();
    let lines = knob_lines(&out);
    assert_eq!(lines.first().map(String::as_str), Some("HOST: knob read 2"), "{lines:#?}");
    // "write 2" keeps the boot reservation and reserves nothing more; "write 0" goes below it.
    assert!(lines.iter().any(|l| l == "HOST: knob write 2 -> ok"), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "HOST: knob write 0 -> EINVAL"), "{lines:#?}");
    // 4 event counters left to the host from boot on: 5 never fit, 4 always do.
    assert!(lines.iter().any(|l| l == "PERF: fill k=4 cpus=4 ok=4"), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with("PERF: fill k=5 cpus=4 ok=") && l != "PERF: fill k=5 cpus=4 ok=0"), "{lines:#?}");
}

/// The same kernel with no hypervisor under it: the knob says ENODEV, perf has every counter.
#[test]
fn linux_pmu_knob_without_firmware() {
    let dir = out_dir();
    let kernel = repo().join("target/cache/linux-6.12/Image");
    let run = Run::bare_linux("max", kernel, dir.join("initramfs-6.12.cpio.gz"), "console=ttyAMA0 panic=-1");
    let out = run.run();
    assert_eq!(out.status, Some(0), "QEMU did not power off cleanly:\n{}", out.log);
    assert!(!out.log.contains("hypervisor partitions the PMU"), "{}", out.log);
    let lines = knob_lines(&out);
    for want in [
        "HOST: knob read ENODEV",
        "HOST: knob write 2 -> ENODEV",
        "PERF: mux n=7 multiplexed=0 counted=7",
        "PERF: fill k=6 cpus=4 ok=4",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want:?} missing:\n{lines:#?}");
    }
    assert!(!lines.iter().any(|l| l.ends_with("-> ok")), "a write went through without the hypervisor:\n{lines:#?}");
}

// ---------------------------------------------------------------------------------------------
// The cost of a reservation (host-driver/linux/pmup_cost.c, docs/performance.md): the 6.12 kernel
// with `pmup.cost` on one CPU under -icount, where the generic timer counts every instruction.

/// One figure of a "COST:" line: `name=value`, the value a mean in instructions (one decimal).
fn cost_field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

fn cost_run(cpu: &'static str) -> Vec<String> {
    let mut run = Run::new(Boot::TfA, cpu, "host-6.12-cost.bundle");
    run.smp = 1;
    run.icount = true;
    let out = run.run();
    out.assert_clean_exit();
    let lines: Vec<String> = out.lines_with("COST: ").map(str::to_owned).collect();
    assert!(!lines.iter().any(|l| l.starts_with("COST: error")), "{lines:#?}\n{}", out.log);
    assert_eq!(lines.last().map(String::as_str), Some("COST: done"), "{}", out.log);
    lines
}

/// The measurement runs, its figures make sense, and a second run prints exactly the same.
#[test]
fn linux_pmu_cost_icount_deterministic() {
    let first = cost_run("cortex-a57");
    let find = |prefix: &str| -> &str {
        first.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?}: {first:#?}"))
    };
    assert!(find("COST: cpu=").contains(" cntfrq=62500000 "), "{first:#?}");
    // The in-kernel interface's errors: EINVAL for 0 and for more than EL2 grants, EBUSY for a
    // second reservation on the CPU; a release with nothing reserved is not an error.
    assert_eq!(find("COST: api "), "COST: api zero=-22 over=-22 first=0 again=-16 release=0 release-none=0", "{first:#?}");
    let hvc = find("COST: hvc ");
    let events = [0, 3, 7].map(|n| find(&format!("COST: events={n} ")).to_owned());
    for line in std::iter::once(hvc).chain(events.iter().map(String::as_str)) {
        let (r, rel, pair) = (cost_field(line, "reserve"), cost_field(line, "release"), cost_field(line, "pair"));
        assert!(r > 0.0 && rel > 0.0, "{line}");
        // The pairs timed together: the two means plus the loop around them, a few instructions.
        assert!(pair >= r + rel && pair <= r + rel + 32.0, "{line}");
    }
    // The driver's calls do the HVCs and more; more events on the CPU, more to move.
    let reserve = events.each_ref().map(|l| cost_field(l, "reserve"));
    assert!(reserve[0] > cost_field(hvc, "reserve"), "{first:#?}");
    assert!(reserve[0] < reserve[1] && reserve[1] < reserve[2], "{first:#?}");
    // 7 events fill QEMU's PMU (the cycle counter and 6 event counters); with 2 reserved, 5 fit.
    assert!(events[2].contains(" active=7 reserved-active=5 "), "{}", events[2]);
    assert!(events[1].contains(" active=3 reserved-active=3 "), "{}", events[1]);

    // cortex-a57 is PMUv3 without HPMD or HCCD: a host event that asks to count EL2 does (the
    // documented limit), and sees the whole call, as the timer does.
    let (timer, inst, cycles) = el2_counts(&first);
    assert!(timer > 40.0 && (timer - inst).abs() <= 2.0 && (timer - cycles).abs() <= 2.0, "{first:#?}");

    let second = cost_run("cortex-a57");
    assert_eq!(first, second, "two runs under -icount measured differently");
}

/// "COST: el2": one HYP_REVISION by HVC per the timer (every instruction), and per a host
/// INST_RETIRED event and a host cycles event that ask to count EL2 too (exclude_hv clear).
fn el2_counts(lines: &[String]) -> (f64, f64, f64) {
    let l = lines.iter().find(|l| l.starts_with("COST: el2 ")).unwrap_or_else(|| panic!("no el2 line: {lines:#?}"));
    eprintln!("{l}");
    (cost_field(l, "timer"), cost_field(l, "inst"), cost_field(l, "cycles"))
}

/// From Linux, on a CPU with HPMD and HCCD (`-cpu max`, PMUv3p5): the host's own perf events
/// never count EL2, even when they ask to (Linux sets NSH for exclude_hv clear): an event counter
/// and the cycle counter see only the host's side of a call, the timer the whole of it.
#[test]
fn linux_pmu_el2_not_counted_by_the_hosts_events_cpu_max() {
    let lines = cost_run("max");
    let (timer, inst, cycles) = el2_counts(&lines);
    // EL2's part of HYP_REVISION is 56 instructions (the budget test); the host's, the HVC in
    // its loop, a few.
    assert!(timer > 50.0 && inst > 0.0 && cycles > 0.0, "{lines:#?}");
    assert!(inst + 50.0 <= timer && cycles + 50.0 <= timer, "the host's events counted EL2: {lines:#?}");
}

// ---------------------------------------------------------------------------------------------
// Debian's own perf (linux-perf 6.12 from bookworm-backports, scripts/linux-perf.sh), as users
// run it: after the knob section, /init runs `perf stat` with 7 cycle events before a
// reservation, with 2 counters reserved and after the release ("PERFTOOL: " lines).

/// The event lines of one `perf stat` run: (count, percentage of the time it counted, if shown).
fn perf_stat_events(block: &[&str]) -> Vec<(u64, Option<f64>)> {
    block
        .iter()
        .filter(|l| l.contains("armv8_pmuv3/cpu_cycles/") && !l.contains("Performance counter stats"))
        .map(|l| {
            let mut words = l.split_whitespace().skip(1);
            let count = words.next().and_then(|w| w.replace(',', "").parse().ok()).unwrap_or_else(|| panic!("not counted: {l}"));
            let pct = l.trim_end().strip_suffix("%)").map(|s| {
                let p = &s[s.rfind('(').unwrap_or_else(|| panic!("{l}")) + 1..];
                p.parse::<f64>().unwrap_or_else(|_| panic!("{l}"))
            });
            (count, pct)
        })
        .collect()
}

#[test]
fn linux_pmu_perf_tool_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host-6.12.bundle").run();
    out.assert_clean_exit();
    let lines: Vec<&str> = out.lines_with("PERFTOOL: ").collect();
    assert!(
        lines.iter().any(|l| l.starts_with("PERFTOOL: perf version 6.12.")),
        "Debian's perf did not run (no version line):\n{lines:#?}\n{}",
        out.log
    );
    assert!(!lines.iter().any(|l| l.contains("not found") || l.contains("error while loading")), "{lines:#?}");
    assert_eq!(lines.last().copied(), Some("PERFTOOL: done"), "{lines:#?}");
    // Three runs, each after the knob value it ran with.
    let starts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("PERFTOOL: reserved_counters=")).collect();
    let knob: Vec<&str> = starts.iter().map(|&i| lines[i]).collect();
    assert_eq!(
        knob,
        ["PERFTOOL: reserved_counters=0", "PERFTOOL: reserved_counters=2", "PERFTOOL: reserved_counters=0"],
        "{lines:#?}"
    );
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len() - 1);
        let events = perf_stat_events(&lines[start + 1..end]);
        assert_eq!(events.len(), 7, "run {n}: 7 events expected:\n{lines:#?}");
        assert!(events.iter().all(|&(c, _)| c > 0), "run {n}: an event counted nothing:\n{lines:#?}");
        if n == 1 {
            // 7 events on the cycle counter and 5 event counters: each counts part of the time.
            assert!(
                events.iter().all(|&(_, p)| p.is_some_and(|p| p > 0.0 && p < 100.0)),
                "no multiplexing with 2 counters reserved:\n{lines:#?}"
            );
        } else {
            // Every counter the host's: all 7 count all the time, and perf shows no percentage.
            assert!(events.iter().all(|&(_, p)| p.is_none()), "run {n} multiplexed:\n{lines:#?}");
        }
    }
}
