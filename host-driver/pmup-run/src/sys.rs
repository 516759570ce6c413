// SPDX-License-Identifier: MIT OR Apache-2.0

//! The process-wide calls: CPU affinity and the stop signals.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Pins the calling thread (the whole process, when called before any other thread) to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain bits; CPU_SET checks nothing, so `cpu` is bounded first.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * size_of::<libc::cpu_set_t>() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPU this thread runs on.
pub fn current_cpu() -> io::Result<usize> {
    // SAFETY: no arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).map_err(|_| io::Error::last_os_error())
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM set [`stop_requested`] instead of killing the process; without SA_RESTART,
/// so a PMUP_RUN they interrupt fails with EINTR.
pub fn catch_stop_signals() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a handler that only stores to an atomic; the struct is fully initialised.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The generic timer's virtual count and its frequency (CNTVCT_EL0, CNTFRQ_EL0: Linux lets EL0
/// read both). Under QEMU's `-icount shift=0` one nanosecond is one instruction, so a count is a
/// path length. Elsewhere (the host's unit tests) the monotonic clock in nanoseconds.
pub fn counter() -> (u64, u64) {
    #[cfg(target_arch = "aarch64")]
    {
        let (count, freq): (u64, u64);
        // SAFETY: reads of EL0-accessible timer registers; the ISB keeps the read in order.
        unsafe {
            core::arch::asm!("isb", "mrs {c}, cntvct_el0", "mrs {f}, cntfrq_el0", c = out(reg) count, f = out(reg) freq,
                options(nostack, nomem));
        }
        (count, freq)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (now.as_nanos() as u64, 1_000_000_000)
    }
}

/// Free memory in KiB: MemFree from /proc/meminfo plus the pages on the per-CPU free lists
/// (/proc/zoneinfo's `count:`), which MemFree leaves out. Freed pages go to those lists first,
/// several MiB of them: without them, memory just given back can look lost.
pub fn mem_free_kib() -> io::Result<u64> {
    let free = parse_mem_free(&std::fs::read_to_string("/proc/meminfo")?)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no MemFree in /proc/meminfo"))?;
    let page_kib = 4; // the 4 KiB granule of the test kernels
    Ok(free + page_kib * parse_pcp_pages(&std::fs::read_to_string("/proc/zoneinfo")?))
}

/// The pages on every zone's per-CPU lists, from /proc/zoneinfo.
pub fn parse_pcp_pages(zoneinfo: &str) -> u64 {
    zoneinfo.lines().filter_map(|l| l.trim().strip_prefix("count:")?.trim().parse::<u64>().ok()).sum()
}

pub fn parse_mem_free(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| l.strip_prefix("MemFree:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo() {
        assert_eq!(parse_mem_free("MemTotal:        1000 kB\nMemFree:          812 kB\n"), Some(812));
        assert_eq!(parse_mem_free("MemTotal: 1 kB\n"), None);
        assert!(mem_free_kib().unwrap() > 0);
        let zoneinfo = "Node 0, zone   Normal\n  pages free     100\n  pagesets\n    cpu: 0\n              count: 12\n              high:  50\n    cpu: 1\n              count: 30\n";
        assert_eq!(parse_pcp_pages(zoneinfo), 42);
    }

    #[test]
    fn pinning_to_the_current_cpu_keeps_it() {
        let cpu = current_cpu().unwrap();
        pin_to_cpu(cpu).unwrap();
        assert_eq!(current_cpu().unwrap(), cpu);
        assert_eq!(pin_to_cpu(1 << 20).err().unwrap().raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn a_stop_signal_interrupts_a_blocking_call_without_restart() {
        catch_stop_signals().unwrap();
        assert!(!stop_requested());
        // A blocked read of an empty pipe: SIGTERM to this thread must end it with EINTR.
        let mut fds = [0; 2];
        // SAFETY: two ints for pipe(2).
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the calling thread's id.
        let tid = unsafe { libc::gettid() };
        let pid = std::process::id() as libc::pid_t;
        let killer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            // SAFETY: a signal to a thread of this process, whose handler only sets a flag.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGTERM) };
        });
        let mut byte = 0u8;
        // SAFETY: one byte into `byte`.
        let r = unsafe { libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) };
        let e = io::Error::last_os_error();
        killer.join().unwrap();
        assert_eq!((r, e.raw_os_error()), (-1, Some(libc::EINTR)));
        assert!(stop_requested());
        // SAFETY: our pipe's descriptors.
        unsafe { libc::close(fds[0]) };
        unsafe { libc::close(fds[1]) };
    }
}
