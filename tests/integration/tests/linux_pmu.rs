// SPDX-License-Identifier: MIT OR Apache-2.0

//! The patched Linux 6.12 (Debian's linux-source-6.12 + host-driver/linux/patches, built by
//! scripts/linux-6.12.sh) as the host at EL1, booted through TF-A and the firmware, and the
//! series' own checks (scripts/linux-series-check.sh). The bundle is `host-6.12.bundle`, from
//! `make`; a missing one fails the test.

use integration::{Boot, Outcome, Run, check_linux_host};
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
