// SPDX-License-Identifier: MIT OR Apache-2.0

//! Finding out, once at boot, whether the CPU itself keeps EL1 out of the PMU counters at and
//! above MDCR_EL2.HPMN (the *direct* enforcement mode needs that, `pmu::enforcement`). The ID
//! registers cannot tell: the architecture leaves it CONSTRAINED UNPREDICTABLE without FEAT_FGT,
//! and QEMU ignores it even with FGT. So EL2 runs a few instructions at EL1 (`probe.S`) that read
//! counter N - 1 with HPMN = N - 1, and watches what happens.

use super::pmu_regs::CpuPmu;
use super::sysregs::{self, read_pmselr_el0, write_pmselr_el0};
use crate::esr::{Esr, ExceptionClass};
use crate::pmu::PmuHw;
use crate::pmu::enforcement::Probe;
use crate::trap_frame::TrapFrame;
use crate::vm::vcpu::SCTLR_EL1_RESET;
use arm_sysregs::el1::accessors::{read_sctlr_el1, read_vbar_el1, write_sctlr_el1, write_vbar_el1};
use arm_sysregs::el1::registers::{SctlrEl1, VbarEl1};
use arm_sysregs::el2::accessors::{read_esr_el2, read_hcr_el2, read_mdcr_el2, write_hcr_el2, write_mdcr_el2};
use arm_sysregs::el2::registers::{HcrEl2, MdcrEl2};

unsafe extern "C" {
    fn __guest_enter(regs: *mut TrapFrame) -> u64;
    fn hpmn_probe_el1();
    fn hpmn_probe_vectors();
}

/// Runs the probe on this CPU. TPIDR_EL2 must point at this CPU's `PerCpu` (the guest entry code
/// keeps EL2's registers there). Everything it changes is put back.
pub fn probe() -> Probe {
    let n = CpuPmu.counters();
    if n < 2 {
        return Probe::Unknown;
    }
    let (hcr, mdcr, vbar, sctlr, selr) =
        (read_hcr_el2(), read_mdcr_el2(), read_vbar_el1(), read_sctlr_el1(), read_pmselr_el0());
    // EL1 AArch64, no stage-2 (the probe runs from EL2's image with its MMU off), no PMU traps,
    // HPMN just below the last counter.
    let probe_mdcr = (mdcr - (MdcrEl2::TPM | MdcrEl2::TPMCR)).with_hpmn(n - 1);
    // SAFETY: the host is not running yet; these registers decide how the probe runs at EL1, and
    // EL2's own execution does not depend on them. The vectors are the probe's own code.
    unsafe {
        write_hcr_el2(HcrEl2::RW);
        write_vbar_el1(VbarEl1::from_bits_retain(hpmn_probe_vectors as *const () as u64));
        write_sctlr_el1(SctlrEl1::from_bits_retain(SCTLR_EL1_RESET));
    }
    write_mdcr_el2(probe_mdcr);
    sysregs::isb();
    let mut regs = TrapFrame::default();
    regs.elr = hpmn_probe_el1 as *const () as u64;
    regs.spsr = 0x3c5;
    regs.regs[2] = u64::from(n - 1);
    // SAFETY: the probe code ends in HVC (or traps) and comes back through the guest exit path.
    let kind = unsafe { __guest_enter(&mut regs) };
    let esr = Esr(read_esr_el2().bits());
    // SAFETY: as above: the values EL2 found, put back.
    unsafe {
        write_hcr_el2(hcr);
        write_vbar_el1(vbar);
        write_sctlr_el1(sctlr);
    }
    write_mdcr_el2(mdcr);
    write_pmselr_el0(selr);
    sysregs::isb();
    match (kind, esr.class(), regs.regs[0]) {
        (0, ExceptionClass::Hvc64, 1) => Probe::NotEnforced,
        (0, ExceptionClass::Hvc64, 2) | (0, ExceptionClass::SysReg, _) => Probe::Enforced,
        _ => Probe::Unknown,
    }
}
