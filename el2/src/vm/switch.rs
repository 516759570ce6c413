// SPDX-License-Identifier: MIT OR Apache-2.0

//! The world switch between the host and a guest vCPU, as ordered steps over [`SwitchHw`]: the
//! CPU in `arch::world`, a recording fake in the tests, which check the order itself (QEMU runs
//! any order correctly, so only a test of the sequence can catch a wrong one).
//!
//! Once per run (`VCPU_RUN`), host to guest, in pKVM's order:
//! 1. the host's EL1 registers saved, then `dsb nsh`: EL1&0 translation table walks the host
//!    started must finish before the regime's registers change (Arm ARM D8.1.5, out-of-context
//!    translation regimes);
//! 2. the guest's EL1 registers (VMPIDR_EL2 with them), then `isb`, *before* its stage-2 and
//!    traps: on Cortex-A57 and A72 (errata 1319537 and 1319367) a speculative address translation
//!    may combine the stage-2 with whatever EL1 configuration is in the registers, so the guest's
//!    must all be in place first;
//! 3. its stage-2 (VTTBR_EL2) and traps (HCR, CPTR, CNTHCTL, MDCR), and the GIC virtual CPU
//!    interface on (ICH_HCR_EL2.En).
//!
//! At every entry: its virtual GIC state (ICH_VMCR, ICH_LR0), its general registers, PC and
//! PSTATE (`SwitchHw::enter`); and at every exit the same saved back. Its EL1 registers stay in
//! the CPU across the exits EL2 handles itself: they are saved once at the end of the run, or
//! earlier when an exception is delivered to the guest (`RunEnv::sync_el1`), and loaded again
//! only before a re-entry after such an exit changed them, under the guest's own stage-2.
//!
//! Guest to host, once, the mirror image: the virtual interface off, `dsb nsh`, the host's traps
//! and stage-2, `isb`, then the host's EL1 registers. A partition's PMU is put back (and the
//! host's events) before any of it, while the guest's traps still fence the host's counters.

use super::exits::{self, ExitEnv, ExitKind, Syndrome};
use super::vcpu::{EL1_SYSREGS, VIRTUAL_PMU_INTID, list_register_pending};
use super::{Vcpu, Vm};
use crate::pmu::vpmu::{Emulated, HostPmu, PmuReg};
use crate::pmu::{Access, PmuHw};
use crate::trap_frame::TrapFrame;
use arm_sysregs::el2::registers::{CnthctlEl2, CptrEl2, HcrEl2, IchHcrEl2, MdcrEl2, VmpidrEl2};
use smc_interface::vm::{Exit, HostEvents};

/// A vCPU's (or the host's) EL1 registers, in `vcpu::el1_sysregs!` order.
pub type El1Regs = [u64; EL1_SYSREGS.len()];

/// The EL2 registers the switch reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    Hcr,
    Cptr,
    Cnthctl,
    Mdcr,
    Vttbr,
    Vmpidr,
    IchHcr,
    IchVmcr,
    IchLr0,
    /// ELR_EL2 and SPSR_EL2: where and how the host resumes after its call, which entering
    /// the guest overwrites (the call path leaves them in the registers).
    Elr,
    Spsr,
}

/// The barriers it issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// `dsb nsh`: this CPU's translation table walks and memory accesses complete.
    DsbNsh,
    /// `isb`: what was written to system registers is in effect.
    Isb,
}

/// The machine under the switch.
pub trait SwitchHw {
    type Pmu: PmuHw;
    /// The CPU's PMU, which the switch hands over when a partition uses it.
    fn pmu(&mut self) -> &mut Self::Pmu;
    fn read(&self, reg: Reg) -> u64;
    fn write(&mut self, reg: Reg, value: u64);
    fn save_el1(&mut self, out: &mut El1Regs);
    fn load_el1(&mut self, regs: &El1Regs);
    fn barrier(&mut self, barrier: Barrier);
    /// Runs the guest from `regs` (its EL1 and EL2 state in place) until it exits; how it
    /// exited, and ESR_EL2, FAR_EL2 and HPFAR_EL2 as they were then.
    fn enter(&mut self, regs: &mut TrapFrame) -> (ExitKind, Syndrome);
}

/// The traps of one world, in the order they are written.
const TRAPS: [Reg; 4] = [Reg::Hcr, Reg::Cptr, Reg::Cnthctl, Reg::Mdcr];

/// One world's EL2 controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Controls {
    /// HCR, CPTR, CNTHCTL, MDCR (`TRAPS`).
    pub traps: [u64; 4],
    pub vttbr: u64,
    pub vmpidr: u64,
}

/// CPTR_EL2.TTA (bit 20 with HCR_EL2.E2H clear: trace registers trap), not named by arm-sysregs.
const CPTR_TTA: CptrEl2 = CptrEl2::from_bits_retain(1 << 20);
/// CNTHCTL_EL2 bit 0: EL1PCTEN with HCR_EL2.E2H clear (arm-sysregs names it by its E2H = 1
/// meaning, EL0PCTEN): EL1 may read the physical counter.
const CNTHCTL_EL1PCTEN: CnthctlEl2 = CnthctlEl2::EL0PCTEN;

impl Controls {
    fn read(hw: &impl SwitchHw) -> Self {
        // Spelled out rather than a loop over TRAPS: each access names its register at compile
        // time, so the CPU's accessors fold to one MRS each instead of a jump per register.
        let [hcr, cptr, cnthctl, mdcr] = TRAPS;
        Self {
            traps: [hw.read(hcr), hw.read(cptr), hw.read(cnthctl), hw.read(mdcr)],
            vttbr: hw.read(Reg::Vttbr),
            vmpidr: hw.read(Reg::Vmpidr),
        }
    }

    /// A guest's controls, derived from the host's.
    pub fn for_guest(host: &Controls, vm: &Vm, vcpu: &Vcpu) -> Self {
        // Physical interrupts come to EL2 (and so back to the host) while the guest runs; the
        // guest's SMCs, set/way cache maintenance, and pointer authentication (API/APK clear:
        // the keys are the host's) trap.
        let mut hcr = HcrEl2::VM
            | HcrEl2::RW
            | HcrEl2::IMO
            | HcrEl2::FMO
            | HcrEl2::AMO
            | HcrEl2::TSC
            | HcrEl2::TSW
            | HcrEl2::FB;
        // Barriers are inner shareable at least.
        hcr.set_bsu(1);
        // FP/SIMD, SVE, SME and trace registers trap: the host's FP state stays in the registers
        // untouched, and a guest that tries them takes an undefined instruction.
        let cptr = CptrEl2::RES1 | CptrEl2::TSM | CptrEl2::TZ | CptrEl2::TFP | CPTR_TTA;
        // The guest may read the physical counter but not use the physical timer (the host's).
        let cnthctl = CNTHCTL_EL1PCTEN;
        // Every PMU access traps (the partition's PMU, `pmu::vpmu`, loaded at the first; in the
        // direct mode the load lifts TPM and TPMCR), and so does debug. The host's PMU fields
        // (HPMN, HPMD, HCCD) stay as they are until the partition's PMU is loaded.
        let mdcr = MdcrEl2::from_bits_retain(host.traps[3])
            | MdcrEl2::TPM
            | MdcrEl2::TPMCR
            | MdcrEl2::TDA
            | MdcrEl2::TDOSA
            | MdcrEl2::TDRA;
        let vmpidr = VmpidrEl2::RES1.bits() | vcpu.index as u64;
        Self { traps: [hcr.bits(), cptr.bits(), cnthctl.bits(), mdcr.bits()], vttbr: vm.vttbr(), vmpidr }
    }

    fn write_traps(&self, hw: &mut impl SwitchHw) {
        let [hcr, cptr, cnthctl, mdcr] = TRAPS;
        hw.write(hcr, self.traps[0]);
        hw.write(cptr, self.traps[1]);
        hw.write(cnthctl, self.traps[2]);
        hw.write(mdcr, self.traps[3]);
    }
}

/// What the host had in place when a run started, and gets back when it ends.
struct HostWorld {
    controls: Controls,
    el1: El1Regs,
    /// ELR_EL2, SPSR_EL2.
    resume: [u64; 2],
}

impl HostWorld {
    /// Host to guest (steps 1 to 3 of the module documentation).
    fn leave(hw: &mut impl SwitchHw, vm: &Vm, vcpu: &Vcpu) -> Self {
        let controls = Controls::read(hw);
        let resume = [hw.read(Reg::Elr), hw.read(Reg::Spsr)];
        let mut host = Self { controls, el1: [0; EL1_SYSREGS.len()], resume };
        hw.save_el1(&mut host.el1);
        hw.barrier(Barrier::DsbNsh);
        let guest = Controls::for_guest(&controls, vm, vcpu);
        hw.load_el1(&vcpu.sys);
        hw.write(Reg::Vmpidr, guest.vmpidr);
        hw.barrier(Barrier::Isb);
        hw.write(Reg::Vttbr, guest.vttbr);
        guest.write_traps(hw);
        hw.write(Reg::IchHcr, IchHcrEl2::EN.bits());
        host
    }

    /// Guest to host.
    fn restore(&self, hw: &mut impl SwitchHw) {
        hw.write(Reg::IchHcr, 0);
        hw.write(Reg::IchLr0, 0);
        hw.barrier(Barrier::DsbNsh);
        self.controls.write_traps(hw);
        hw.write(Reg::Vttbr, self.controls.vttbr);
        hw.barrier(Barrier::Isb);
        hw.load_el1(&self.el1);
        hw.write(Reg::Vmpidr, self.controls.vmpidr);
        hw.write(Reg::Elr, self.resume[0]);
        hw.write(Reg::Spsr, self.resume[1]);
    }
}

/// One entry into the guest and back, within a run. The guest's EL1 registers stay in the CPU
/// (see [`RunEnv::sync_el1`]).
fn enter_guest(hw: &mut impl SwitchHw, vcpu: &mut Vcpu) -> (ExitKind, Syndrome) {
    hw.write(Reg::IchVmcr, vcpu.gic_vmcr);
    hw.write(Reg::IchLr0, vcpu.gic_lr0);
    let exit = hw.enter(&mut vcpu.regs);
    vcpu.gic_vmcr = hw.read(Reg::IchVmcr);
    vcpu.gic_lr0 = hw.read(Reg::IchLr0);
    exit
}

/// What the exits of one run share: the CPU, the partition's PMU once loaded, and where the
/// guest's EL1 registers are.
struct RunEnv<'a, H: SwitchHw> {
    hw: &'a mut H,
    cfg: RunPmu,
    /// The host's PMU state, from the moment the partition's PMU is loaded (at the run's start if
    /// it is active, else at its first access, or in the trapped mode its first write: a run that
    /// never changes an idle PMU pays nothing for the switch).
    host_pmu: Option<HostPmu>,
    /// The CPU holds guest EL1 values newer than `vcpu.sys`.
    el1_in_cpu: bool,
}

impl<H: SwitchHw> RunEnv<'_, H> {
    /// Puts the partition's PMU on the CPU for the rest of the run. One copy, out of line, for the
    /// two places a run loads it.
    #[inline(never)]
    fn load_pmu(&mut self, vcpu: &mut Vcpu) {
        let cfg = self.cfg;
        self.host_pmu = Some(vcpu.pmu.load(self.hw.pmu(), cfg.reserved, cfg.host_counters, cfg.access));
    }
}

impl<H: SwitchHw> ExitEnv for RunEnv<'_, H> {
    fn pmu_access(&mut self, vcpu: &mut Vcpu, reg: PmuReg, read: bool, value: u64, from_el0: bool) -> Emulated {
        if vcpu.pmu.k == 0 {
            return Emulated::Undefined;
        }
        // Trapped, every access traps anyway: a read of a PMU that is not loaded is answered from
        // what EL2 keeps of it (a guest's driver reads PMCR_EL0 and PMCEID*_EL0 as it probes), and
        // only a write, which the CPU has to see, loads it. In the direct mode the first access
        // loads it, after which the partition reaches its counters without trapping.
        if !vcpu.pmu.loaded && (!read || self.cfg.access != Access::Trapped) {
            self.load_pmu(vcpu);
        }
        vcpu.pmu.emulate(self.hw.pmu(), reg, read, value, from_el0)
    }

    /// Saved once a run, at its end, unless an exception delivered to the guest needs them
    /// earlier: an exit EL2 handles itself leaves them where they are (26 registers, twice).
    fn sync_el1(&mut self, vcpu: &mut Vcpu) {
        if core::mem::replace(&mut self.el1_in_cpu, false) {
            self.hw.save_el1(&mut vcpu.sys);
        }
    }
}

/// What a run needs to know about the CPU's PMU partition.
#[derive(Clone, Copy, Debug)]
pub struct RunPmu {
    /// The CPU's reserved counters (where the host's events are parked while a partition's PMU
    /// is loaded) and the host's share.
    pub reserved: u32,
    pub host_counters: u8,
    /// How a partition reaches its counters once its PMU is loaded.
    pub access: Access,
}

/// Runs `vcpu` until it exits to the host. `events`: the host's events that stop (host-only) and
/// start (guest-only) for the run, masks already checked against the host's own counters.
pub fn run(hw: &mut impl SwitchHw, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents, cfg: RunPmu) -> Exit {
    let pmu = hw.pmu();
    let stopped = pmu.enabled() & events.host_only as u32;
    pmu.disable(stopped);
    pmu.enable(events.guest_only as u32);
    let host = HostWorld::leave(hw, vm, vcpu);
    let mut env = RunEnv { hw, cfg, host_pmu: None, el1_in_cpu: false };
    // Counters that count do so from the run's first instruction, not from its first PMU access,
    // and a waiting overflow interrupt is raised at once: an active partition is loaded now. An
    // idle one waits for its first access (trapped, its first write), so that a run which does
    // not change it pays nothing.
    if vcpu.pmu.active() {
        env.load_pmu(vcpu);
    }
    let exit = loop {
        // The CPU holds the guest's EL1 registers from `leave` on; only an exit that changed
        // them (an exception delivered to the guest) makes it load them again.
        if core::mem::replace(&mut vcpu.sys_changed, false) {
            env.hw.load_el1(&vcpu.sys);
        }
        if matches!(cfg.access, Access::Direct { .. }) && vcpu.pmu.loaded {
            vcpu.pmu.rearm(env.hw.pmu());
        }
        let (kind, syndrome) = enter_guest(env.hw, vcpu);
        env.el1_in_cpu = true;
        // A physical interrupt may be the partition's own PMU overflow: deliver it to the
        // partition as a virtual interrupt (never to the host), and go back in.
        if kind == ExitKind::Irq && vcpu.pmu.loaded && vcpu.pmu.take_overflow_interrupt(env.hw.pmu()) {
            vcpu.gic_lr0 = list_register_pending(VIRTUAL_PMU_INTID);
            continue;
        }
        if let Some(exit) = exits::handle(vcpu, kind, &syndrome, &mut env) {
            break exit;
        }
    };
    env.sync_el1(vcpu);
    let RunEnv { hw, host_pmu, .. } = env;
    let pmu = hw.pmu();
    if let Some(host_pmu) = host_pmu {
        vcpu.pmu.put(pmu, &host_pmu);
    }
    pmu.disable(events.guest_only as u32);
    pmu.enable(stopped);
    host.restore(hw);
    exit
}

#[cfg(test)]
mod tests;
