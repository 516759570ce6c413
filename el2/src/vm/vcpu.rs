// SPDX-License-Identifier: MIT OR Apache-2.0

//! A vCPU's state while it is not running: general registers, PC and PSTATE, and the EL1 system
//! registers it owns.

use crate::pmu::vpmu::VPmu;
use crate::trap_frame::TrapFrame;

/// The EL1/EL0 system registers a guest owns and the world switch saves and restores, in this
/// order (see `arch::world`). Anything not listed is either trapped for guests or not used by
/// EL1 at all.
pub const EL1_SYSREGS: [&str; 26] = [
    "sctlr_el1", "cpacr_el1", "ttbr0_el1", "ttbr1_el1", "tcr_el1", "esr_el1", "afsr0_el1",
    "afsr1_el1", "far_el1", "mair_el1", "vbar_el1", "contextidr_el1", "amair_el1", "cntkctl_el1",
    "par_el1", "mdscr_el1", "sp_el0", "sp_el1", "elr_el1", "spsr_el1", "tpidr_el0", "tpidrro_el0",
    "tpidr_el1", "csselr_el1", "cntv_ctl_el0", "cntv_cval_el0",
];

/// Indices into [`Vcpu::sys`].
pub mod reg {
    pub const SCTLR_EL1: usize = 0;
    pub const ESR_EL1: usize = 5;
    pub const FAR_EL1: usize = 8;
    pub const VBAR_EL1: usize = 10;
    pub const ELR_EL1: usize = 18;
    pub const SPSR_EL1: usize = 19;
}

/// SCTLR_EL1 at reset for a guest: MMU and caches off, RES1 bits set.
const SCTLR_EL1_RESET: u64 = 0x30d0_0800;
/// Guests start at EL1h with every exception masked.
const PSTATE_EL1H_MASKED: u64 = 0x3c5;

#[derive(Clone, Debug)]
pub struct Vcpu {
    pub index: usize,
    /// x0..x30, PC (in `elr`) and PSTATE (in `spsr`): the layout the guest exit code writes.
    pub regs: TrapFrame,
    pub sys: [u64; EL1_SYSREGS.len()],
    /// PMU event counters the vCPU has (what it reads as PMCR_EL0.N).
    pub pmu_counters: u8,
    /// Its PMU.
    pub pmu: VPmu,
    /// The guest called GUEST_DONE.
    pub done: bool,
    /// Its GIC virtual CPU interface: ICH_VMCR_EL2 and the one list register EL2 uses
    /// (ICH_LR0_EL2, for the virtual PMU interrupt).
    pub gic_vmcr: u64,
    pub gic_lr0: u64,
}

/// INTID of the PMU interrupt a partition sees (a PPI), the same as the hardware's on QEMU and FVP.
pub const VIRTUAL_PMU_INTID: u64 = 23;

/// ICH_LR<n>_EL2 for a pending, group 1, software (not hardware-linked) virtual interrupt.
pub const fn list_register_pending(intid: u64) -> u64 {
    const STATE_PENDING: u64 = 1 << 62;
    const GROUP1: u64 = 1 << 60;
    const PRIORITY: u64 = 0xa0 << 48;
    STATE_PENDING | GROUP1 | PRIORITY | intid
}

impl Vcpu {
    pub fn new(index: usize, entry: u64, pmu_counters: u8) -> Self {
        let mut regs = TrapFrame::default();
        regs.elr = entry;
        regs.spsr = PSTATE_EL1H_MASKED;
        let mut sys = [0; EL1_SYSREGS.len()];
        sys[reg::SCTLR_EL1] = SCTLR_EL1_RESET;
        Self { index, regs, sys, pmu_counters, pmu: VPmu::new(pmu_counters), done: false, gic_vmcr: 0, gic_lr0: 0 }
    }
}
