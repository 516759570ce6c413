// SPDX-License-Identifier: MIT OR Apache-2.0

//! Four threads, one per CPU, on one VM's descriptor at once, each going round RUN (of the same vCPU),
//! CREATE_VCPU, LOAD and GET_INFO: every answer must be success or an errno the header documents
//! for that ioctl in that state, and the VM must run to its end afterwards.

use super::{End, Report, end_name, errno_of, outcome_name, run_to_end, vm_with_guest};
use crate::device::Device;
use crate::uapi::{PMUP_GUEST_RAM_BASE, decode_exit};
use libc::{EBUSY, EINTR, ENOSPC, EPERM};
use smc_interface::vm::Exit;
use std::sync::Mutex;

const THREADS: usize = 4;
/// Calls per thread.
pub const ITERATIONS: usize = 250;

#[derive(Default)]
struct Seen {
    violations: u32,
    first: Option<String>,
    done: Option<u64>,
}

/// One call of the round; `Err` names what the contract does not allow.
fn call(dev: &Device, guest: &[u8], vcpu: u32, op: usize, seen: &Mutex<Seen>) -> Result<(), String> {
    let (name, errno, allowed): (&str, Option<i32>, &[i32]) = match op {
        0 => {
            let r = dev.run(vcpu);
            if let Ok(run) = &r {
                match decode_exit(run) {
                    Some(Exit::Report(_)) => {}
                    Some(Exit::Done(status)) => seen.lock().unwrap().done = Some(status),
                    other => return Err(format!("run:{other:?}").replace(' ', "")),
                }
            }
            ("run", errno_of(&r), &[EBUSY, EPERM, EINTR])
        }
        1 => ("create-vcpu", errno_of(&dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0)), &[ENOSPC, EBUSY]),
        2 => ("load", errno_of(&dev.load(guest, 0)), &[EBUSY, EPERM]),
        _ => ("get-info", errno_of(&dev.info()), &[]),
    };
    match errno {
        Some(e) if !allowed.contains(&e) => Err(format!("{name}:{}", outcome_name(Some(e)))),
        _ => Ok(()),
    }
}

pub fn hammer(report: &mut Report, guest: &[u8]) {
    let setup = vm_with_guest(guest, super::cases::vm_mib(guest))
        .and_then(|dev| dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0).map(|v| (dev, v)));
    let (dev, vcpu) = match setup {
        Ok(s) => s,
        Err(e) => return report.failed("concurrency-setup", e),
    };
    let seen = Mutex::new(Seen::default());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (dev, seen) = (&dev, &seen);
            s.spawn(move || {
                // One thread per CPU, so the calls really race (a machine with fewer CPUs
                // still runs the threads, just not pinned).
                let _ = crate::sys::pin_to_cpu(t);
                for i in 0..ITERATIONS {
                    if let Err(what) = call(dev, guest, vcpu, (t + i) % 4, seen) {
                        let mut seen = seen.lock().unwrap();
                        seen.violations += 1;
                        seen.first.get_or_insert(what);
                    }
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    let happened = format!("{}-violations-first-{}", seen.violations, seen.first.as_deref().unwrap_or("none"));
    report.case("concurrency", seen.violations == 0, "documented-errnos", &happened);

    // The VM is still whole: its vCPU runs to the end (or finished in the hammer, whatever its
    // status, and is refused now), and the descriptor still answers.
    let (good, happened) = match seen.done {
        Some(status) => {
            let again = dev.run(vcpu);
            (errno_of(&again) == Some(EPERM), format!("done-{status}-then-{}", outcome_name(errno_of(&again))))
        }
        None => {
            let end = run_to_end(&dev, vcpu);
            (matches!(end, Ok(End::Done(_))), end_name(&end))
        }
    };
    report.case("concurrency-vm-still-runs", good, "ok", &happened);
    report.expect("concurrency-get-info-after", None, &dev.info());
}
