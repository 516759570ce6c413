// SPDX-License-Identifier: MIT OR Apache-2.0

//! pmup-run's loop: PMUP_RUN the vCPU until its guest is done, faults, has reported enough, or a
//! signal asks to stop; what it prints, and the exit code.

use crate::device::describe;
use crate::uapi::{PmupRun, decode_exit};
use smc_interface::vm::Exit;
use std::io::{self, Write};

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_GUEST_STATUS: i32 = 2;
pub const EXIT_GUEST_FAULT: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

/// A line of output, flushed at once (the tests read a serial console).
pub fn say(out: &mut dyn Write, line: std::fmt::Arguments) {
    let _ = writeln!(out, "PMUP-RUN: {line}");
    let _ = out.flush();
}

/// `PMUP-RUN: error <step>: <errno name> (<message>)`; the exit code for it.
pub fn fail(out: &mut dyn Write, step: &str, e: &io::Error) -> i32 {
    say(out, format_args!("error {step}: {}", describe(e)));
    EXIT_ERROR
}

pub struct LoopOptions {
    /// Stop after this many reports.
    pub reports: Option<u64>,
    /// Do not print the reports.
    pub quiet: bool,
}

/// `--bench`: one PMUP_RUN to warm up, then `runs` timed ones, each of which must end in a report;
/// `clock` gives (count, frequency). Prints `bench runs=R ticks=T freq=F ns-per-run=N entries=E
/// reservations=S` (the last two over the timed runs).
pub fn bench(
    mut run: impl FnMut() -> io::Result<PmupRun>,
    runs: u64,
    clock: impl Fn() -> (u64, u64),
    out: &mut dyn Write,
) -> i32 {
    let report = |r: io::Result<PmupRun>| match r {
        Ok(r) if matches!(decode_exit(&r), Some(Exit::Report(_))) => Ok(r),
        Ok(r) => Err(io::Error::new(io::ErrorKind::InvalidData, format!("exit {} is not a report", r.exit_reason))),
        Err(e) => Err(e),
    };
    if let Err(e) = report(run()) {
        return fail(out, "bench", &e);
    }
    let (mut entries, mut reservations) = (0u64, 0u64);
    let (start, freq) = clock();
    for _ in 0..runs {
        match report(run()) {
            Ok(r) => {
                entries += r.entries;
                reservations += r.reservations;
            }
            Err(e) => return fail(out, "bench", &e),
        }
    }
    let ticks = clock().0.wrapping_sub(start);
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(freq.max(1)) / u128::from(runs);
    say(out, format_args!("bench runs={runs} ticks={ticks} freq={freq} ns-per-run={ns} entries={entries} reservations={reservations}"));
    EXIT_OK
}

/// Runs until the guest's outcome; `run` is one PMUP_RUN, `interrupted` says whether SIGINT or
/// SIGTERM arrived. Returns the process's exit code.
pub fn run_loop(
    mut run: impl FnMut() -> io::Result<PmupRun>,
    interrupted: impl Fn() -> bool,
    options: &LoopOptions,
    out: &mut dyn Write,
) -> i32 {
    let (mut reports, mut entries, mut reservations) = (0u64, 0u64, 0u64);
    let code = loop {
        // A guest that reports all the time may never be inside the ioctl when the signal
        // arrives: the flag, not EINTR alone, ends the run.
        if interrupted() {
            say(out, format_args!("interrupted after {reports} reports"));
            return EXIT_INTERRUPTED;
        }
        let r = match run() {
            Ok(r) => r,
            // A signal ended the run early: the check above says whether it asks to stop.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return fail(out, "run", &e),
        };
        entries = entries.wrapping_add(r.entries);
        reservations = reservations.wrapping_add(r.reservations);
        match decode_exit(&r) {
            Some(Exit::Report([a, b, c])) => {
                reports += 1;
                if !options.quiet {
                    say(out, format_args!("report {a} {b} {c}"));
                }
                if options.reports.is_some_and(|n| reports >= n) {
                    say(out, format_args!("stopped after {reports} reports"));
                    break EXIT_OK;
                }
            }
            Some(Exit::Done(status)) => {
                say(out, format_args!("done {status}"));
                break if status == 0 { EXIT_OK } else { EXIT_GUEST_STATUS };
            }
            Some(Exit::Stage2Fault { ipa, esr }) => {
                say(out, format_args!("fault address={ipa:#x} esr={esr:#x}"));
                break EXIT_GUEST_FAULT;
            }
            Some(Exit::Unexpected { esr, pc }) => {
                say(out, format_args!("unexpected esr={esr:#x} pc={pc:#x}"));
                break EXIT_GUEST_FAULT;
            }
            Some(Exit::HostInterrupt) | None => {
                let e = io::Error::new(io::ErrorKind::InvalidData, format!("unknown exit reason {}", r.exit_reason));
                return fail(out, "run", &e);
            }
        }
    };
    say(out, format_args!("summary reports={reports} entries={entries} reservations={reservations}"));
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn exit(reason: u32, args: [u64; 3]) -> io::Result<PmupRun> {
        Ok(PmupRun { exit_reason: reason, exit_args: args, entries: 2, reservations: 1, ..Default::default() })
    }
    fn errno(e: i32) -> io::Result<PmupRun> {
        Err(io::Error::from_raw_os_error(e))
    }

    /// Plays `script` as PMUP_RUN's answers; returns the exit code and the output.
    fn play(script: Vec<io::Result<PmupRun>>, signal_at: Option<usize>, options: LoopOptions) -> (i32, String) {
        let calls = Cell::new(0);
        let mut script = script.into_iter();
        let mut out = Vec::new();
        let code = run_loop(
            || {
                calls.set(calls.get() + 1);
                script.next().expect("ran past the script")
            },
            || signal_at.is_some_and(|n| calls.get() >= n),
            &options,
            &mut out,
        );
        (code, String::from_utf8(out).unwrap())
    }
    const ALL: LoopOptions = LoopOptions { reports: None, quiet: false };

    #[test]
    fn reports_then_done() {
        let (code, out) = play(vec![exit(1, [1, 2, u64::MAX]), exit(1, [4, 5, 6]), exit(2, [0, 9, 9])], None, ALL);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            "PMUP-RUN: report 1 2 18446744073709551615\nPMUP-RUN: report 4 5 6\nPMUP-RUN: done 0\n\
             PMUP-RUN: summary reports=2 entries=6 reservations=3\n"
        );
    }

    #[test]
    fn a_failed_status_is_2() {
        let (code, out) = play(vec![exit(2, [7, 0, 0])], None, LoopOptions { reports: None, quiet: true });
        assert_eq!((code, out.as_str()), (2, "PMUP-RUN: done 7\nPMUP-RUN: summary reports=0 entries=2 reservations=1\n"));
    }

    #[test]
    fn stops_after_n_reports_quietly() {
        let (code, out) = play(vec![exit(1, [0; 3]), exit(1, [0; 3]), exit(1, [0; 3])], None, LoopOptions { reports: Some(2), quiet: true });
        assert_eq!(code, 0);
        assert_eq!(out, "PMUP-RUN: stopped after 2 reports\nPMUP-RUN: summary reports=2 entries=4 reservations=2\n");
    }

    #[test]
    fn faults() {
        let (code, out) = play(vec![exit(4, [0x8000_0000, 0x9200_0007, 0])], None, ALL);
        assert_eq!(code, 3);
        assert!(out.starts_with("PMUP-RUN: fault address=0x80000000 esr=0x92000007\n"), "{out}");
        let (code, out) = play(vec![exit(5, [0x200_0000, 0x4000_0010, 0])], None, ALL);
        assert_eq!(code, 3);
        assert!(out.starts_with("PMUP-RUN: unexpected esr=0x2000000 pc=0x40000010\n"), "{out}");
    }

    #[test]
    fn eintr_without_a_signal_runs_again() {
        let (code, out) = play(vec![errno(libc::EINTR), exit(1, [1, 1, 1]), errno(libc::EINTR), exit(2, [0; 3])], None, ALL);
        assert_eq!(code, 0);
        assert!(out.ends_with("PMUP-RUN: summary reports=1 entries=4 reservations=2\n"), "{out}");
    }

    #[test]
    fn eintr_after_a_signal_stops() {
        let (code, out) = play(vec![exit(1, [1, 1, 1]), errno(libc::EINTR)], Some(2), ALL);
        assert_eq!(code, 130);
        assert_eq!(out, "PMUP-RUN: report 1 1 1\nPMUP-RUN: interrupted after 1 reports\n");
    }

    #[test]
    fn bench_times_the_runs_after_the_first() {
        let ticks = Cell::new(0u64);
        let mut script = (0..5).map(|_| exit(1, [0; 3]));
        let mut out = Vec::new();
        let clock = || {
            ticks.set(ticks.get() + 100);
            (ticks.get(), 62_500_000)
        };
        assert_eq!(bench(|| script.next().unwrap(), 4, clock, &mut out), 0);
        // 100 ticks of 16 ns for 4 runs; each scripted run has 2 entries and 1 reservation.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PMUP-RUN: bench runs=4 ticks=100 freq=62500000 ns-per-run=400 entries=8 reservations=4\n"
        );
        let mut out = Vec::new();
        let mut script = vec![exit(1, [0; 3]), exit(2, [0; 3])].into_iter();
        assert_eq!(bench(|| script.next().unwrap(), 4, || (0, 1), &mut out), EXIT_ERROR);
        assert_eq!(String::from_utf8(out).unwrap(), "PMUP-RUN: error bench: EIO (exit 2 is not a report)\n");
    }

    #[test]
    fn a_signal_between_reports_stops() {
        // The guest reports all the time: the signal lands while the runner is in userspace.
        let (code, out) = play(vec![exit(1, [1, 1, 1]), exit(1, [2, 2, 2]), exit(1, [3, 3, 3])], Some(2), ALL);
        assert_eq!(code, 130);
        assert_eq!(out, "PMUP-RUN: report 1 1 1\nPMUP-RUN: report 2 2 2\nPMUP-RUN: interrupted after 2 reports\n");
    }

    #[test]
    fn errors_and_unknown_exits() {
        let (code, out) = play(vec![errno(libc::EBUSY)], None, ALL);
        assert_eq!((code, out.as_str()), (1, "PMUP-RUN: error run: EBUSY (Device or resource busy)\n"));
        for reason in [0, 3, 6] {
            let (code, out) = play(vec![exit(reason, [0; 3])], None, ALL);
            assert_eq!(code, 1);
            assert_eq!(out, format!("PMUP-RUN: error run: EIO (unknown exit reason {reason})\n"));
        }
    }
}
