// SPDX-License-Identifier: MIT OR Apache-2.0

//! The runtime itself (aarch64 only).

use arm_gic::gicv3::GicCpuInterface;
use arm_gic::{IntId, InterruptGroup};
use core::arch::{asm, global_asm};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use host_driver::conduit::Conduit;
use platform::{Current, Platform};

global_asm!(include_str!("entry.S"));

unsafe extern "C" {
    /// Where `psci_cpu_on` starts a CPU (entry.S).
    pub fn secondary_start();
}

// ---------------------------------------------------------------------------------------------
// Console

/// The payload's console: the platform's PL011, as the previous stage left it configured.
pub struct Uart;

impl Write for Uart {
    #[cfg(feature = "guest")]
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }

    #[cfg(not(feature = "guest"))]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        use arm_pl011_uart::{PL011Registers, UniqueMmioPointer};
        let base = core::ptr::NonNull::new(Current::UART_BASE as *mut PL011Registers).unwrap();
        // SAFETY: UART_BASE is the platform's PL011, and with the MMU off its address is the
        // device's. Unique it is not: every CPU of the payload and EL2's log write this UART, and
        // no lock can serve them all (the payload's own could not work with the MMU off, see
        // `bump`). The driver keeps nothing between calls and does only this per character: a
        // volatile read of FR until TXFF is clear, then one volatile store to DR. Writers at the
        // same time can only interleave their characters on the wire.
        let mut uart = arm_pl011_uart::Uart::new(unsafe { UniqueMmioPointer::new(base) });
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                uart.write_str("\r\n")?;
            }
            uart.write_str(line)?;
        }
        Ok(())
    }
}

#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{ let _ = core::fmt::Write::write_fmt(&mut $crate::Uart, format_args!("{}\n", format_args!($($arg)*))); }};
}

/// Reads a system register by name (`mrs`).
#[macro_export]
macro_rules! rd {
    ($r:literal) => {{
        let v: u64;
        // SAFETY: the payloads read only registers whose reads have no side effects at their EL
        // (or that EL2 traps and answers).
        unsafe { core::arch::asm!(concat!("mrs {}, ", $r), out(reg) v, options(nostack)) };
        v
    }};
}

/// Writes a system register by name (`msr`), then `isb`.
#[macro_export]
macro_rules! wr {
    ($r:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: the payloads write only the PMU state they own (or that EL2 traps and emulates).
        unsafe { core::arch::asm!(concat!("msr ", $r, ", {}"), "isb", in(reg) v, options(nostack)) };
    }};
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping. Plain loads and stores only: the payload runs with its MMU off (Device memory),
// where exclusive accesses are not guaranteed to work. So every counter has one writer at a time:
// a CPU other than CPU 0 makes checks only while CPU 0 waits for it (should the wait time out,
// both may count, and a lost update still leaves FAIL non-zero); the exception handler's own
// counters (IRQS, ABORTS) have no other writer, and where it counts a FAIL it never returns to the
// code it interrupted.

/// Adds one to a counter that has one writer at a time. Not `fetch_add`: with the MMU off every
/// data access is to Device memory, where whether exclusive (LDXR/STXR) or atomic (LSE) accesses
/// work is IMPLEMENTATION DEFINED (they may fault, or a store-exclusive may never succeed); QEMU
/// allows them, hardware need not.
pub fn bump(counter: &AtomicU64) {
    counter.store(counter.load(SeqCst) + 1, SeqCst);
}

static PASS: AtomicU64 = AtomicU64::new(0);
static FAIL: AtomicU64 = AtomicU64::new(0);
static SKIP: AtomicU64 = AtomicU64::new(0);

/// Records and prints one check.
pub fn check(name: &str, ok: bool, detail: fmt::Arguments<'_>) {
    if ok {
        bump(&PASS);
        say!("PROBE: ok   {name}");
    } else {
        bump(&FAIL);
        say!("PROBE: FAIL {name}: {detail}");
    }
}

/// Records a check this configuration cannot make, and why: a skip is never a pass. Printed as
/// `PROBE: SKIP name: reason` and counted on the `PROBE: SKIPPED n` line that [`finish`] prints.
pub fn skip(name: &str, reason: &str) {
    bump(&SKIP);
    say!("PROBE: SKIP {name}: {reason}");
}

/// Checks passed and failed so far.
pub fn results() -> (u64, u64) {
    (PASS.load(SeqCst), FAIL.load(SeqCst))
}

/// Prints the result line and powers the machine off; a guest reports its result with
/// GUEST_DONE (x1 = failures << 32 | passes) instead.
pub fn finish() -> ! {
    say!("PROBE: SKIPPED {}", SKIP.load(SeqCst));
    say!("PROBE: RESULT pass={} fail={}", PASS.load(SeqCst), FAIL.load(SeqCst));
    #[cfg(feature = "guest")]
    {
        let done = smc_interface::vm::guest::GUEST_DONE.into();
        let status = FAIL.load(SeqCst) << 32 | PASS.load(SeqCst);
        let _ = raw(&mut host_driver::conduit::Hvc, &[done, status]);
    }
    let _ = smccc::psci::system_off::<smccc::Smc>();
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("PROBE: FAIL panic: {info}");
    bump(&FAIL);
    finish()
}

// ---------------------------------------------------------------------------------------------
// Exceptions at EL1: the aborts EL2 reflects into the host.

#[repr(C)]
pub struct Frame {
    pub regs: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    _pad: u64,
}

/// Interrupts taken so far (acknowledged through the GIC CPU interface), and the last INTID.
pub static IRQS: AtomicU64 = AtomicU64::new(0);
pub static LAST_INTID: AtomicU64 = AtomicU64::new(0);

/// Aborts taken so far, and the last one's syndrome, address and return address.
pub static ABORTS: AtomicU64 = AtomicU64::new(0);
pub static LAST_ESR: AtomicU64 = AtomicU64::new(0);
pub static LAST_FAR: AtomicU64 = AtomicU64::new(0);
pub static LAST_ELR: AtomicU64 = AtomicU64::new(0);

#[unsafe(no_mangle)]
extern "C" fn el1_exception(frame: &mut Frame, kind: u64) {
    if kind == 5 {
        // An interrupt at EL1 (a guest's virtual one, through ICV_*): acknowledge, count, end.
        let intid = GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1);
        if let Some(intid) = intid {
            GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1);
            // SAFETY: a barrier only: the end of the interrupt takes effect before the return.
            unsafe { asm!("isb", options(nostack)) };
        }
        LAST_INTID.store(intid.unwrap_or(IntId::SPECIAL_NONE).raw_value().into(), SeqCst);
        bump(&IRQS);
        return;
    }
    let (esr, far): (u64, u64);
    // SAFETY: reading EL1 syndrome registers has no side effects.
    unsafe { asm!("mrs {}, esr_el1", "mrs {}, far_el1", out(reg) esr, out(reg) far) };
    LAST_ESR.store(esr, SeqCst);
    LAST_FAR.store(far, SeqCst);
    LAST_ELR.store(frame.elr, SeqCst);
    bump(&ABORTS);
    match (kind, esr >> 26) {
        // Data abort or undefined instruction (EL2 reflects both) at EL1: skip the instruction.
        (4, 0x25) | (4, 0x00) => frame.elr += 4,
        // Instruction abort at EL1 (a branch into EL2's memory): return to the caller.
        (4, 0x21) => frame.elr = frame.regs[30],
        _ => {
            say!("PROBE: FAIL unexpected exception kind={kind} esr={esr:#x} far={far:#x} elr={:#x}", frame.elr);
            bump(&FAIL);
            finish();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The initrd of the bundle the platform loaded (the guest image the VM payloads run): its address
/// and size, if the bundle has one. Host payloads only: a guest has no bundle. (Not behind
/// `not(feature = "guest")`: building host and guest payloads together unifies the feature.)
pub fn bundle_initrd() -> Option<(u64, u64)> {
    // SAFETY: the platform loaded the bundle here, and EL2 validated it before booting us.
    let header = unsafe { core::slice::from_raw_parts(Current::HOST_BUNDLE_BASE as *const u8, 4096) };
    let initrd = smc_interface::HostBundleHeader::parse(header).ok()?.initrd_range()?;
    Some((Current::HOST_BUNDLE_BASE + initrd.start, initrd.end - initrd.start))
}

/// An SMCCC call with `args` in x0.. and the other registers zero.
pub fn raw(conduit: &mut impl Conduit, args: &[u64]) -> [u64; 18] {
    let mut regs = [0; 18];
    regs[..args.len()].copy_from_slice(args);
    conduit.call(regs)
}

pub fn current_el() -> u64 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el) };
    (el >> 2) & 3
}

pub fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) v) };
    v
}

/// This CPU's index on the platform.
pub fn cpu_index() -> usize {
    Current::cpu_index(mpidr() & 0xff_00ff_ffff).unwrap_or(usize::MAX)
}

/// The physical counter and its frequency (EL2 lets EL1 read it).
pub fn counter() -> (u64, u64) {
    let (cnt, frq): (u64, u64);
    // SAFETY: reading the counter has no side effects.
    unsafe { asm!("isb", "mrs {}, cntpct_el0", "mrs {}, cntfrq_el0", out(reg) cnt, out(reg) frq) };
    (cnt, frq)
}

/// Spins until `done()` or `seconds` have passed; returns whether `done()` came true.
pub fn wait_until(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let (start, frq) = counter();
    while !done() {
        if counter().0 - start > seconds * frq {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// PSCI CPU_ON by SMC (through EL2's relay): CPU `index` starts at `secondary_start` and calls
/// the payload's `secondary_main(index)`.
pub fn psci_cpu_on(index: usize) -> u64 {
    // PSCI names CPUs by their MPIDR affinity fields only.
    let entry = secondary_start as *const () as u64;
    raw(&mut host_driver::conduit::Smc, &[smccc::psci::PSCI_CPU_ON_64.into(), index as u64, entry, index as u64])[0]
}

/// PSCI CPU_OFF for the calling CPU.
pub fn cpu_off() -> ! {
    let _ = smccc::psci::cpu_off::<smccc::Smc>();
    loop {
        core::hint::spin_loop();
    }
}
