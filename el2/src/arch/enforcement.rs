// SPDX-License-Identifier: MIT OR Apache-2.0

//! Finding out, once at boot, whether the CPU itself keeps EL1 out of the PMU counters at and
//! above MDCR_EL2.HPMN (the *direct* enforcement mode needs that; the *trapped* mode does not).
//! The ID registers cannot tell: the architecture leaves it CONSTRAINED UNPREDICTABLE without
//! FEAT_FGT, and QEMU ignores it even with FGT. So EL2 runs a few instructions at EL1 (`probe.S`)
//! that read counter N - 1 with HPMN = N - 1, and watches what happens.

use super::pmu_regs::CpuPmu;
use crate::esr::{Esr, ExceptionClass};
use crate::pmu::PmuHw;
use crate::trap_frame::TrapFrame;
use core::arch::asm;

unsafe extern "C" {
    fn __guest_enter(regs: *mut TrapFrame) -> u64;
    fn hpmn_probe_el1();
    fn hpmn_probe_vectors();
}

/// What the probe saw.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Probe {
    /// The read of a counter above HPMN went through at EL1.
    NotEnforced,
    /// EL1 took an undefined instruction, or the access trapped to EL2.
    Enforced,
    /// The probe could not run (fewer than 2 counters) or ended some other way.
    Unknown,
}


/// Runs the probe on this CPU. TPIDR_EL2 must point at this CPU's `PerCpu` (the guest entry code
/// keeps EL2's registers there). Everything it changes is put back.
pub fn probe() -> Probe {
    let n = CpuPmu.counters();
    if n < 2 {
        return Probe::Unknown;
    }
    let saved = (rd!("hcr_el2"), rd!("mdcr_el2"), rd!("vbar_el1"), rd!("sctlr_el1"), rd!("pmselr_el0"));
    // EL1 AArch64, no stage-2 (the probe runs from EL2's image with its MMU off), no traps.
    wr!("hcr_el2", 1u64 << 31);
    wr!("mdcr_el2", (saved.1 & !0x1f & !(1 << 6) & !(1 << 5)) | u64::from(n - 1));
    wr!("vbar_el1", hpmn_probe_vectors as *const () as u64);
    wr!("sctlr_el1", 0x30d0_0800u64);
    // SAFETY: a barrier only.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
    let mut regs = TrapFrame::default();
    regs.elr = hpmn_probe_el1 as *const () as u64;
    regs.spsr = 0x3c5;
    regs.regs[2] = u64::from(n - 1);
    // SAFETY: the probe code ends in HVC (or traps) and comes back through the guest exit path.
    let kind = unsafe { __guest_enter(&mut regs) };
    let esr = Esr(rd!("esr_el2"));
    wr!("hcr_el2", saved.0);
    wr!("mdcr_el2", saved.1);
    wr!("vbar_el1", saved.2);
    wr!("sctlr_el1", saved.3);
    wr!("pmselr_el0", saved.4);
    // SAFETY: a barrier only.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
    match (kind, esr.class(), regs.regs[0]) {
        (0, ExceptionClass::Hvc64, 1) => Probe::NotEnforced,
        (0, ExceptionClass::Hvc64, 2) | (0, ExceptionClass::SysReg, _) => Probe::Enforced,
        _ => Probe::Unknown,
    }
}
