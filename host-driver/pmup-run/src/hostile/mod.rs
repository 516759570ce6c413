// SPDX-License-Identifier: MIT OR Apache-2.0

//! pmup-hostile: userspace that tries what the driver must refuse, each case checked against the
//! errno the uapi header documents for it. Each case prints one line, `HOSTILE: <case> ok` or
//! `HOSTILE: <case> FAIL <expected> <happened>`, and the run ends with `HOSTILE: done pass=P fail=F`.

mod cases;
mod concurrency;

use crate::device::{Device, errno_name};
use crate::uapi::{PMUP_GUEST_RAM_BASE, PmupRun, decode_exit};
use smc_interface::vm::Exit;
use std::io::{self, Write};

pub use cases::ioctls;

/// PMUP_RUN at most this often for one guest to finish.
pub const MAX_RUNS: u32 = 10_000;

/// The tally, and the lines.
pub struct Report<'a> {
    out: &'a mut dyn Write,
    pub pass: u32,
    pub fail: u32,
}

impl<'a> Report<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self { out, pass: 0, fail: 0 }
    }

    pub fn line(&mut self, text: std::fmt::Arguments) {
        let _ = writeln!(self.out, "HOSTILE: {text}");
        let _ = self.out.flush();
    }

    /// One case: ok when `good`, else FAIL with what was expected and what happened.
    pub fn case(&mut self, case: &str, good: bool, expected: &str, happened: &str) -> bool {
        if good {
            self.pass += 1;
            self.line(format_args!("{case} ok"));
        } else {
            self.fail += 1;
            self.line(format_args!("{case} FAIL {expected} {happened}"));
        }
        good
    }

    /// One case that expects `expected` (an errno, or `None` for success).
    pub fn expect<T>(&mut self, case: &str, expected: Option<i32>, got: &io::Result<T>) -> bool {
        let good = errno_of(got) == expected;
        self.case(case, good, &outcome_name(expected), &outcome_name(errno_of(got)))
    }

    /// A step that had to succeed failed with `e`.
    pub fn failed(&mut self, case: &str, e: io::Error) {
        self.expect(case, None, &Err::<(), _>(e));
    }

    /// The closing line; the exit code.
    pub fn done(&mut self) -> i32 {
        let (pass, fail) = (self.pass, self.fail);
        self.line(format_args!("done pass={pass} fail={fail}"));
        i32::from(fail != 0)
    }
}

/// `None` for success, else the errno (EIO for an error without one).
pub fn errno_of<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().map(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

pub fn outcome_name(errno: Option<i32>) -> String {
    errno.map_or_else(|| "ok".to_owned(), errno_name)
}

/// A descriptor with a VM of `mib` MiB holding `guest` at offset 0.
pub fn vm_with_guest(guest: &[u8], mib: u64) -> io::Result<Device> {
    let dev = Device::open()?;
    dev.create_vm(mib << 20)?;
    dev.load(guest, 0)?;
    Ok(dev)
}

/// What a guest run to its end came to.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Done(u64),
    /// A fault or an unexpected exit: it did not finish.
    Crashed(Exit),
    /// Still reporting after [`MAX_RUNS`] runs.
    Endless,
}

/// Runs `vcpu` until its guest is done, skipping reports (and EINTR).
pub fn run_to_end(dev: &Device, vcpu: u32) -> io::Result<End> {
    for _ in 0..MAX_RUNS {
        let run: PmupRun = match dev.run(vcpu) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            r => r?,
        };
        match decode_exit(&run) {
            Some(Exit::Report(_)) => {}
            Some(Exit::Done(status)) => return Ok(End::Done(status)),
            Some(other) => return Ok(End::Crashed(other)),
            None => return Err(io::Error::from_raw_os_error(libc::EIO)),
        }
    }
    Ok(End::Endless)
}

/// A guest that finished (GUEST_DONE, whatever its status: the guest's own business, e.g. the
/// workload guest answers 1 without counters) is "ok"; else what it did.
pub fn end_name(end: &io::Result<End>) -> String {
    match end {
        Ok(End::Done(_)) => "ok".to_owned(),
        Ok(End::Crashed(e)) => format!("{e:?}").replace(' ', ""),
        Ok(End::Endless) => format!("no-done-in-{MAX_RUNS}-runs"),
        Err(e) => outcome_name(e.raw_os_error().or(Some(libc::EIO))),
    }
}

/// Runs `guest` to the end in a fresh VM of `mib` MiB: open, create, load, one vCPU, run, close.
pub fn one_cycle(guest: &[u8], mib: u64) -> io::Result<End> {
    let dev = vm_with_guest(guest, mib)?;
    let vcpu = dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0)?;
    run_to_end(&dev, vcpu)
}

/// Whether MemFree came back: `after` may be less than `before` by an eighth of the VM's memory.
pub fn memory_came_back(before_kib: u64, after_kib: u64, mib: u64) -> bool {
    after_kib >= before_kib.saturating_sub(mib * 1024 / 8)
}

/// `pmup-hostile cycles N GUEST MIB`.
pub fn cycles(report: &mut Report, n: u64, guest: &[u8], mib: u64) {
    let before = crate::sys::mem_free_kib();
    let mut failed = None;
    for i in 0..n {
        let end = one_cycle(guest, mib);
        if !matches!(end, Ok(End::Done(_))) {
            failed = Some((i, end_name(&end)));
            break;
        }
    }
    let after = crate::sys::mem_free_kib();
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => {
            report.case("cycles", false, "meminfo", &outcome_name(e.raw_os_error().or(Some(libc::EIO))));
            return;
        }
    };
    report.line(format_args!("cycles n={n} memfree-before={before} memfree-after={after}"));
    match failed {
        Some((i, what)) => report.case("cycles", false, "ok", &format!("cycle-{i}:{what}")),
        None => report.case(
            "cycles",
            memory_came_back(before, after, mib),
            &format!("memfree>={}", before.saturating_sub(mib * 1024 / 8)),
            &format!("memfree={after}"),
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_tally() {
        let mut out = Vec::new();
        let mut r = Report::new(&mut out);
        r.expect("a", Some(libc::EINVAL), &Err::<(), _>(io::Error::from_raw_os_error(libc::EINVAL)));
        r.expect("b", Some(libc::EINVAL), &Ok(()));
        r.expect("c", None, &Err::<(), _>(io::Error::from_raw_os_error(libc::ENOTTY)));
        r.expect("d", None, &Ok(()));
        assert_eq!(r.done(), 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HOSTILE: a ok\nHOSTILE: b FAIL EINVAL ok\nHOSTILE: c FAIL ok ENOTTY\nHOSTILE: d ok\nHOSTILE: done pass=2 fail=2\n"
        );
    }

    #[test]
    fn memory_threshold_is_an_eighth_of_the_vm() {
        assert!(memory_came_back(100_000, 100_000, 2));
        assert!(memory_came_back(100_000, 100_000 - 256, 2));
        assert!(!memory_came_back(100_000, 100_000 - 257, 2));
        assert!(memory_came_back(100, 0, 64));
    }

    #[test]
    fn ends_are_named_in_one_word() {
        assert_eq!(end_name(&Ok(End::Done(0))), "ok");
        assert_eq!(end_name(&Ok(End::Done(3))), "ok");
        assert_eq!(end_name(&Ok(End::Crashed(Exit::Unexpected { esr: 1, pc: 2 }))), "Unexpected{esr:1,pc:2}");
        assert_eq!(end_name(&Err(io::Error::from_raw_os_error(libc::EPERM))), "EPERM");
    }
}
