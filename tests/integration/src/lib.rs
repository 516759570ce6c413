// SPDX-License-Identifier: MIT OR Apache-2.0

//! Running QEMU for the integration tests: every run sits under `timeout`, must exit by itself
//! (PSCI SYSTEM_OFF), and hands back its whole serial log for the test to check.
//!
//! The artefacts come from `make` (`PMUP_OUT`, default `target/out/qemu`); a missing artefact is
//! a test failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where `make` put the images.
pub fn out_dir() -> PathBuf {
    let dir = std::env::var_os("PMUP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/out/qemu"));
    assert!(dir.is_dir(), "{} missing: run the tests with `make test`", dir.display());
    dir
}

pub fn artefact(name: &str) -> PathBuf {
    let p = out_dir().join(name);
    assert!(p.is_file(), "{} missing: run the tests with `make test`", p.display());
    p
}

/// How the firmware is started.
#[derive(Clone, Copy, Debug)]
pub enum Boot {
    /// TF-A's BL1/BL2/BL31 from flash, the firmware as BL33 (the shipped configuration).
    TfA,
    /// QEMU loads the firmware ELF and enters it at EL2 (no EL3: QEMU answers PSCI).
    Direct,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub cpu: &'static str,
    pub smp: u32,
    pub boot: Boot,
    /// Host bundle file name in the artefact directory.
    pub bundle: &'static str,
    pub timeout_secs: u32,
    /// A device tree to use instead of the one QEMU generates (see [`Run::with_boot_reservation`]).
    pub dtb: Option<PathBuf>,
    /// `-icount shift=0`: one instruction per nanosecond of virtual time, and exact instruction
    /// counts from the PMU.
    pub icount: bool,
}

/// What a run printed and how it ended.
pub struct Outcome {
    pub status: Option<i32>,
    pub log: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn lines_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.log.lines().map(|l| l.trim_end_matches('\r')).filter(move |l| l.starts_with(prefix))
    }

    pub fn has_line(&self, line: &str) -> bool {
        self.log.lines().any(|l| l.trim_end_matches('\r') == line)
    }

    /// The firmware's reason for refusing to boot the host (its `EL2 FATAL:` line), if it did.
    /// QEMU exits 0 on that power-off too, so the log is what tells a refused boot apart.
    pub fn refusal(&self) -> Option<&str> {
        self.log.lines().map(|l| l.trim_end_matches('\r')).find(|l| l.starts_with("EL2 FATAL: "))
    }

    /// Fails the test unless QEMU exited 0 by itself, the firmware booted the host, and EL2 never
    /// panicked.
    pub fn assert_clean_exit(&self) {
        assert!(!self.log.contains("EL2 PANIC"), "EL2 panicked:\n{}", self.log);
        assert!(self.refusal().is_none(), "the firmware refused to boot the host:\n{}", self.log);
        assert_eq!(
            self.status,
            Some(0),
            "QEMU did not power off cleanly (124 = timeout: a hang):\n{}",
            self.log
        );
    }
}

fn cpu_opts(cpu: &str) -> String {
    // QEMU's `max` has SME, which TF-A 2.8 does not enable for the normal world, and an
    // architected pointer-authentication algorithm that is slow to emulate. TF-A sets CNTFRQ_EL0
    // to 62.5 MHz, so the counter must tick at that rate (QEMU 10 defaults to 1 GHz).
    let extra = if cpu == "max" { ",sme=off,pauth-impdef=on" } else { "" };
    format!("{cpu}{extra},cntfrq=62500000")
}

impl Run {
    pub fn new(boot: Boot, cpu: &'static str, bundle: &'static str) -> Self {
        Self { cpu, smp: 4, boot, bundle, timeout_secs: 240, dtb: None, icount: false }
    }

    fn machine(&self) -> &'static str {
        match self.boot {
            Boot::TfA => "virt,secure=on,virtualization=on,gic-version=3",
            Boot::Direct => "virt,virtualization=on,gic-version=3",
        }
    }

    /// Boots with QEMU's own device tree plus `/chosen/pmu-partition,reserved-counters = <n>`:
    /// the firmware then reserves `n` PMU counters on every CPU from boot on.
    pub fn with_boot_reservation(self, n: u32, name: &str) -> Self {
        self.with_chosen(name, "-t", "i", "pmu-partition,reserved-counters", &n.to_string())
    }

    /// Boots with `/chosen/pmu-partition,enforcement = <mode>` ("direct" or "trapped").
    pub fn with_enforcement(self, mode: &str, name: &str) -> Self {
        self.with_chosen(name, "-t", "s", "pmu-partition,enforcement", mode)
    }

    fn with_chosen(mut self, name: &str, t: &str, kind: &str, property: &str, value: &str) -> Self {
        // The tree is dumped by QEMU for exactly this machine (a tree for another configuration
        // describes other devices), edited with `fdtput`, and handed back with `-dtb`.
        let dir = out_dir().join("dtb");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.dtb"));
        // The same command line, with `dumpdtb=` added to the machine.
        let machine = format!("{},dumpdtb={}", self.machine(), path.display());
        let run = self.command();
        let mut cmd = Command::new(run.get_program());
        let mut args = run.get_args();
        while let Some(arg) = args.next() {
            cmd.arg(arg);
            if arg == "-machine" {
                args.next();
                cmd.arg(&machine);
            }
        }
        assert!(cmd.status().expect("qemu dumpdtb").success(), "QEMU could not dump its device tree");
        let status = Command::new("fdtput")
            .args([t, kind])
            .arg(&path)
            .args(["/chosen", property, value])
            .status()
            .expect("fdtput (device-tree-compiler) missing");
        assert!(status.success());
        self.dtb = Some(path);
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.arg(format!("{}s", self.timeout_secs)).arg("qemu-system-aarch64");
        cmd.args(["-machine", self.machine(), "-cpu", &cpu_opts(self.cpu)])
            .args(["-smp", &self.smp.to_string(), "-m", "1024"])
            .args(["-nographic", "-nic", "none", "-no-reboot", "-monitor", "none", "-serial", "stdio"]);
        match self.boot {
            Boot::TfA => cmd.arg("-bios").arg(artefact("flash.bin")),
            Boot::Direct => cmd.arg("-kernel").arg(artefact("el2.elf")),
        };
        if self.icount {
            cmd.args(["-icount", "shift=0"]);
        }
        if let Some(dtb) = &self.dtb {
            cmd.arg("-dtb").arg(dtb);
        }
        let bundle = artefact(self.bundle);
        cmd.arg("-device").arg(format!("loader,file={},addr=0x48000000,force-raw=on", bundle.display()));
        cmd
    }

    /// QEMU's own arguments, without the `timeout` in front.
    pub fn qemu_args(&self) -> Vec<std::ffi::OsString> {
        self.command().get_args().skip(2).map(|a| a.to_owned()).collect()
    }

    pub fn run(&self) -> Outcome {
        let start = Instant::now();
        let out = self.command().output().expect("cannot start qemu-system-aarch64 under timeout");
        let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        Outcome { status: out.status.code(), log, elapsed: start.elapsed() }
    }
}
