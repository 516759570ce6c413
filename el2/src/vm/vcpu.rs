// SPDX-License-Identifier: MIT OR Apache-2.0

//! A vCPU's state while it is not running: general registers, PC and PSTATE, and the EL1 system
//! registers it owns.

use crate::pmu::vpmu::VPmu;
use crate::trap_frame::TrapFrame;

/// The EL1/EL0 system registers a guest owns and the world switch saves and restores: index into
/// [`Vcpu::sys`] and name, the one list everything else is made from (`$m!` is applied to it).
/// Anything not listed is either trapped for guests or not used by EL1 at all.
macro_rules! el1_sysregs {
    ($m:ident) => {
        $m!(0 "sctlr_el1", 1 "cpacr_el1", 2 "ttbr0_el1", 3 "ttbr1_el1", 4 "tcr_el1", 5 "esr_el1",
            6 "afsr0_el1", 7 "afsr1_el1", 8 "far_el1", 9 "mair_el1", 10 "vbar_el1",
            11 "contextidr_el1", 12 "amair_el1", 13 "cntkctl_el1", 14 "par_el1", 15 "mdscr_el1",
            16 "sp_el0", 17 "sp_el1", 18 "elr_el1", 19 "spsr_el1", 20 "tpidr_el0",
            21 "tpidrro_el0", 22 "tpidr_el1", 23 "csselr_el1", 24 "cntv_ctl_el0",
            25 "cntv_cval_el0")
    };
}
#[cfg_attr(not(target_arch = "aarch64"), allow(unused_imports, reason = "used by arch::world"))]
pub(crate) use el1_sysregs;

macro_rules! names {
    ($($i:literal $r:literal),*) => { [$($r),*] };
}

/// The names of [`el1_sysregs!`], in order.
pub const EL1_SYSREGS: &[&str] = &el1_sysregs!(names);

/// Indices into [`Vcpu::sys`].
pub mod reg {
    pub const SCTLR_EL1: usize = 0;
    pub const ESR_EL1: usize = 5;
    pub const FAR_EL1: usize = 8;
    pub const VBAR_EL1: usize = 10;
    pub const ELR_EL1: usize = 18;
    pub const SPSR_EL1: usize = 19;
}

/// SCTLR_EL1 for an EL1 entered fresh (a guest, the host, EL2's probe): MMU and caches off,
/// RES1 bits set.
pub const SCTLR_EL1_RESET: u64 = 0x30d0_0800;
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
    /// Exit handling changed `sys` (an exception delivered to the guest): the CPU's copy of the
    /// guest's EL1 registers is stale and must be loaded again before the guest runs.
    pub sys_changed: bool,
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
        Self { index, regs, sys, pmu_counters, pmu: VPmu::new(pmu_counters), done: false, sys_changed: false, gic_vmcr: 0, gic_lr0: 0 }
    }
}
