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
    /// No firmware at all: QEMU boots a Linux Image directly at EL1 (no EL2, no EL3), with the
    /// initramfs and command line of [`Run::bare_linux`]. A kernel's view of a machine without
    /// this hypervisor.
    NoFirmware,
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
    /// [`Boot::NoFirmware`]: the kernel, initramfs and command line QEMU boots.
    pub bare: Option<(PathBuf, PathBuf, String)>,
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

    /// The probe's skipped checks (`PROBE: SKIP` lines), printed to the test's output so that a
    /// skip shows as a skip; fails the test unless there are exactly `expected` of them.
    pub fn assert_skipped(&self, expected: u32) {
        let skips: Vec<_> = self.lines_with("PROBE: SKIP ").collect();
        for s in &skips {
            eprintln!("skipped: {}", s.trim_start_matches("PROBE: SKIP "));
        }
        assert!(self.has_line(&format!("PROBE: SKIPPED {expected}")), "expected {expected} skipped checks: {skips:?}\n{}", self.log);
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
        Self { cpu, smp: 4, boot, bundle, timeout_secs: 240, dtb: None, icount: false, bare: None }
    }

    fn machine(&self) -> &'static str {
        match self.boot {
            Boot::TfA => "virt,secure=on,virtualization=on,gic-version=3",
            Boot::Direct => "virt,virtualization=on,gic-version=3",
            Boot::NoFirmware => "virt,gic-version=3",
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
            Boot::NoFirmware => {
                let (kernel, initrd, append) = self.bare.as_ref().expect("Run::bare_linux sets the kernel");
                cmd.arg("-kernel").arg(kernel).arg("-initrd").arg(initrd).arg("-append").arg(append)
            }
        };
        if self.icount {
            cmd.args(["-icount", "shift=0"]);
        }
        if let Some(dtb) = &self.dtb {
            cmd.arg("-dtb").arg(dtb);
        }
        if !matches!(self.boot, Boot::NoFirmware) {
            let bundle = artefact(self.bundle);
            cmd.arg("-device").arg(format!("loader,file={},addr=0x48000000,force-raw=on", bundle.display()));
        }
        cmd
    }

    /// A Linux kernel booted by QEMU itself, with no firmware: `kernel` and `initrd` are paths,
    /// `append` the command line.
    pub fn bare_linux(cpu: &'static str, kernel: PathBuf, initrd: PathBuf, append: &str) -> Self {
        let mut run = Self::new(Boot::NoFirmware, cpu, "");
        assert!(kernel.is_file(), "{} missing: run the tests with `make test`", kernel.display());
        assert!(initrd.is_file(), "{} missing: run the tests with `make test`", initrd.display());
        run.bare = Some((kernel, initrd, append.to_owned()));
        run
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

/// What every Linux host run must show, whichever kernel: each CPU through EL2, 4 CPUs up, the
/// PMU driver, EL2's memory reserved no-map, the GIC without ITS or LPIs, and (with an SMCCC
/// conduit, i.e. through TF-A) the probe module passing on every CPU before and after CPU hotplug,
/// and per-CPU perf counting on every CPU. The `/init` of `scripts/initramfs.sh` prints the lines.
pub fn check_linux_host(out: &Outcome, smccc_conduit: bool) {
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
