// SPDX-License-Identifier: MIT OR Apache-2.0

//! pmup-run's command line:
//! `pmup-run [--cpu N] [--counters K] [--memory MIB] [--arg VALUE] [--reports N] [--quiet]
//! [--keep] [--bench RUNS] GUEST.bin`
//! or `pmup-run --info`.

pub const USAGE: &str = "usage: pmup-run [--cpu N] [--counters K] [--memory MIB] [--arg VALUE] [--reports N] [--quiet]
                [--keep] [--bench RUNS] GUEST.bin
       pmup-run --info
Runs GUEST.bin (loaded at the start of a partition's memory, entered there) on /dev/pmu-partition.
  --cpu N       pin to CPU N first
  --counters K  PMU event counters for the vCPU (default 0)
  --memory MIB  the VM's memory in MiB (default 2)
  --arg VALUE   the guest's x1 at entry, decimal or 0x hex (default 0)
  --reports N   stop after N reports
  --quiet       do not print the reports
  --keep        keep the counters reserved between runs while on the CPU (PMUP_RUN_KEEP_COUNTERS)
  --bench RUNS  time RUNS round trips (PMUP_RUN to a report and back) with the generic timer,
                for a guest that reports all the time
  --info        print what the hypervisor offers";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Info,
    Help,
    Run(RunArgs),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    pub cpu: Option<usize>,
    pub counters: u32,
    pub memory_mib: u64,
    pub arg: u64,
    pub reports: Option<u64>,
    pub quiet: bool,
    pub keep: bool,
    pub bench: Option<u64>,
    pub guest: String,
}

/// A number, decimal or `0x` hex.
pub fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses the arguments after the program name.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, String> {
    let mut run = RunArgs { cpu: None, counters: 0, memory_mib: 2, arg: 0, reports: None, quiet: false, keep: false, bench: None, guest: String::new() };
    let mut guest = None;
    let mut info = false;
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            number(v).ok_or_else(|| format!("{name}: not a number: {v}"))
        };
        match a {
            "--help" | "-h" => return Ok(Command::Help),
            "--info" => info = true,
            "--quiet" => run.quiet = true,
            "--keep" => run.keep = true,
            "--cpu" => run.cpu = Some(usize::try_from(value(a)?).map_err(|_| "--cpu: too large".to_owned())?),
            "--counters" => run.counters = u32::try_from(value(a)?).map_err(|_| "--counters: too large".to_owned())?,
            "--memory" => run.memory_mib = value(a)?,
            "--arg" => run.arg = value(a)?,
            "--reports" => run.reports = Some(value(a)?),
            "--bench" => run.bench = Some(Some(value(a)?).filter(|&n| n > 0).ok_or("--bench: at least 1 run")?),
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ if guest.is_some() => return Err(format!("one guest only: {a}")),
            _ => guest = Some(a.to_owned()),
        }
    }
    match (info, guest) {
        (true, None) => Ok(Command::Info),
        (true, Some(_)) => Err("--info takes no guest".to_owned()),
        (false, None) => Err("no guest given".to_owned()),
        (false, Some(g)) => {
            run.guest = g;
            Ok(Command::Run(run))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> RunArgs {
        match parse(args) {
            Ok(Command::Run(r)) => r,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(
            run(&["g.bin"]),
            RunArgs { cpu: None, counters: 0, memory_mib: 2, arg: 0, reports: None, quiet: false, keep: false, bench: None, guest: "g.bin".into() }
        );
    }

    #[test]
    fn every_option() {
        let r = run(&[
            "--cpu", "3", "--counters", "2", "--memory", "8", "--arg", "0x1f", "--reports", "5", "--quiet", "--keep", "--bench",
            "100", "g.bin",
        ]);
        assert_eq!(
            r,
            RunArgs { cpu: Some(3), counters: 2, memory_mib: 8, arg: 0x1f, reports: Some(5), quiet: true, keep: true, bench: Some(100), guest: "g.bin".into() }
        );
        assert_eq!(run(&["g.bin", "--arg", "18446744073709551615"]).arg, u64::MAX);
        assert_eq!(run(&["--arg", "0XFFFFFFFFFFFFFFFF", "g"]).arg, u64::MAX);
    }

    #[test]
    fn info_and_help() {
        assert_eq!(parse(&["--info"]), Ok(Command::Info));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["g.bin", "-h"]), Ok(Command::Help));
    }

    #[test]
    fn refusals() {
        for bad in [
            &[][..],
            &["--info", "g.bin"],
            &["a.bin", "b.bin"],
            &["--cpu"],
            &["--cpu", "x", "g"],
            &["--arg", "0x", "g"],
            &["--arg", "-1", "g"],
            &["--arg", "0x10000000000000000", "g"],
            &["--counters", "0x100000000", "g"],
            &["--bogus", "g"],
            &["--bench", "0", "g"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted: {:?}", parse(bad));
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("42"), Some(42));
        assert_eq!(number("0x2A"), Some(42));
        assert_eq!(number(""), None);
        assert_eq!(number("+1"), Some(1));
    }
}
