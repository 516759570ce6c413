// SPDX-License-Identifier: MIT OR Apache-2.0

//! What EL2 does when a guest stops running: handle it and go back in, or exit to the host.

use super::vcpu::{Vcpu, reg};
use crate::esr::{Esr, ExceptionClass};
use crate::inject::{self, HostFault, Injection};
use crate::pmu::vpmu::{Emulated, PmuReg, SysregAccess};
use smc_interface::{
    SmcccError,
    ids,
    result::{CallUid, Revision},
    vm::{Exit, guest},
};

/// How the guest left (set by the guest exit vectors).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExitKind {
    Sync,
    Irq,
    Fiq,
    SError,
}

impl ExitKind {
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => ExitKind::Sync,
            1 => ExitKind::Irq,
            2 => ExitKind::Fiq,
            _ => ExitKind::SError,
        }
    }
}

/// The syndrome registers EL2 read when the guest exited.
#[derive(Clone, Copy, Debug)]
pub struct Syndrome {
    pub esr: Esr,
    pub far: u64,
    pub hpfar: u64,
}

impl Syndrome {
    /// The faulting guest address of a stage-2 abort: HPFAR_EL2.FIPA holds bits 51:12, FAR the
    /// offset in the page.
    pub fn ipa(&self) -> u64 {
        ((self.hpfar >> 4) << 12) | (self.far & 0xfff)
    }
}

fn set_results(vcpu: &mut Vcpu, r: [u64; 4]) {
    vcpu.regs.regs[..4].copy_from_slice(&r);
}

/// A guest's own call (HVC #0). `Some(exit)` when it ends the run.
fn guest_call(vcpu: &mut Vcpu) -> Option<Exit> {
    // x0..x3 only: a copy of all 31 would cost more than the call.
    let x: [u64; 4] = [vcpu.regs.regs[0], vcpu.regs.regs[1], vcpu.regs.regs[2], vcpu.regs.regs[3]];
    let not_supported = [SmcccError::NotSupported.to_register(), 0, 0, 0];
    match x[0] {
        f if f == u64::from(ids::SMCCC_VERSION) => set_results(vcpu, [ids::SMCCC_VERSION_1_2, 0, 0, 0]),
        f if f == u64::from(ids::HYP_CALL_UID) => set_results(vcpu, CallUid::HYP.encode()),
        f if f == u64::from(ids::HYP_REVISION) => set_results(vcpu, Revision::CURRENT.encode()),
        f if f == u64::from(guest::GUEST_REPORT) => {
            set_results(vcpu, [0; 4]);
            return Some(Exit::Report([x[1], x[2], x[3]]));
        }
        f if f == u64::from(guest::GUEST_DONE) => {
            set_results(vcpu, [0; 4]);
            vcpu.done = true;
            return Some(Exit::Done(x[1]));
        }
        // Everything else, the host's calls included, does not exist for a guest.
        _ => set_results(vcpu, not_supported),
    }
    None
}

fn fault_of(vcpu: &Vcpu, syndrome: &Syndrome) -> HostFault {
    HostFault {
        esr_el2: syndrome.esr,
        far_el2: syndrome.far,
        elr_el2: vcpu.regs.elr,
        spsr_el2: vcpu.regs.spsr,
        vbar_el1: vcpu.sys[reg::VBAR_EL1],
        sctlr_el1: vcpu.sys[reg::SCTLR_EL1],
    }
}

/// Makes the guest take `inj` at its EL1 next time it runs.
fn deliver(vcpu: &mut Vcpu, inj: Injection) {
    vcpu.sys_changed = true;
    vcpu.sys[reg::ESR_EL1] = inj.esr_el1;
    vcpu.sys[reg::FAR_EL1] = inj.far_el1;
    vcpu.sys[reg::ELR_EL1] = inj.elr_el1;
    vcpu.sys[reg::SPSR_EL1] = inj.spsr_el1;
    vcpu.regs.elr = inj.elr_el2;
    vcpu.regs.spsr = inj.spsr_el2;
}

/// What handling an exit needs from the world switch.
pub trait ExitEnv {
    /// Applies a trapped PMU register access for the guest (loading its PMU first if need be).
    fn pmu_access(&mut self, vcpu: &mut Vcpu, reg: PmuReg, read: bool, value: u64, from_el0: bool) -> Emulated;
    /// Brings `vcpu.sys` up to date with the guest's EL1 registers. They stay in the CPU across
    /// the exits EL2 handles itself, and go to memory only when something needs them there: an
    /// exception delivered to the guest, or the end of the run.
    fn sync_el1(&mut self, vcpu: &mut Vcpu);
}

/// Delivers the exception `make` builds from the guest's state and the exit's syndrome.
fn inject(vcpu: &mut Vcpu, env: &mut impl ExitEnv, syndrome: &Syndrome, make: fn(&HostFault) -> Injection) {
    env.sync_el1(vcpu);
    let injection = make(&fault_of(vcpu, syndrome));
    deliver(vcpu, injection);
}

/// A trapped system register access: the partition's PMU, or undefined.
fn sysreg(vcpu: &mut Vcpu, syndrome: &Syndrome, env: &mut impl ExitEnv) {
    let access = SysregAccess::decode(syndrome.esr.iss());
    let outcome = match PmuReg::of(&access) {
        Some(reg) => {
            let rt = usize::from(access.rt);
            let value = if rt == 31 { 0 } else { vcpu.regs.regs[rt] };
            // SPSR.M[3:0] = 0: the access came from the guest's EL0.
            let from_el0 = vcpu.regs.spsr & 0xf == 0;
            env.pmu_access(vcpu, reg, access.read, value, from_el0)
        }
        None => Emulated::Undefined,
    };
    match outcome {
        Emulated::Done(v) => {
            if access.read && access.rt != 31 {
                vcpu.regs.regs[usize::from(access.rt)] = v;
            }
            vcpu.regs.elr += 4;
        }
        Emulated::Undefined => inject(vcpu, env, syndrome, inject::undefined),
    }
}

/// Handles a guest exit. `None`: resume the guest; `Some(exit)`: return to the host.
pub fn handle(vcpu: &mut Vcpu, kind: ExitKind, syndrome: &Syndrome, env: &mut impl ExitEnv) -> Option<Exit> {
    match kind {
        ExitKind::Irq | ExitKind::Fiq => return Some(Exit::HostInterrupt),
        ExitKind::SError => return Some(Exit::Unexpected { esr: syndrome.esr.0, pc: vcpu.regs.elr }),
        ExitKind::Sync => {}
    }
    match syndrome.esr.class() {
        ExceptionClass::Hvc64 if syndrome.esr.imm16() == 0 => guest_call(vcpu),
        ExceptionClass::Hvc64 => {
            set_results(vcpu, [SmcccError::NotSupported.to_register(), 0, 0, 0]);
            None
        }
        ExceptionClass::Smc64 => {
            // Guests have no business with EL3.
            vcpu.regs.elr += 4;
            set_results(vcpu, [SmcccError::NotSupported.to_register(), 0, 0, 0]);
            None
        }
        ExceptionClass::DataAbortLower | ExceptionClass::InstructionAbortLower => {
            // Outside the guest's memory: the host hears of it, and the guest gets an external
            // abort when it next runs (it must not just retry the access).
            let exit = Exit::Stage2Fault { ipa: syndrome.ipa(), esr: syndrome.esr.0 };
            inject(vcpu, env, syndrome, inject::external_abort);
            Some(exit)
        }
        ExceptionClass::SysReg => {
            sysreg(vcpu, syndrome, env);
            None
        }
        ExceptionClass::Other(0x07) => {
            // FP/SIMD: undefined, as on a CPU without it.
            inject(vcpu, env, syndrome, inject::undefined);
            None
        }
        ExceptionClass::Other(_) => Some(Exit::Unexpected { esr: syndrome.esr.0, pc: vcpu.regs.elr }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vcpu() -> Vcpu {
        let mut v = Vcpu::new(0, 0x4000_0000, 2);
        v.sys[reg::VBAR_EL1] = 0x4000_8000;
        v.regs.elr = 0x4000_0104;
        v
    }

    /// A world switch whose PMU accesses go to `pmu` and that counts the syncs of EL1.
    struct Env<F> {
        pmu: F,
        syncs: usize,
    }

    impl<F: FnMut(&mut Vcpu, PmuReg, bool, u64, bool) -> Emulated> ExitEnv for Env<F> {
        fn pmu_access(&mut self, vcpu: &mut Vcpu, reg: PmuReg, read: bool, value: u64, from_el0: bool) -> Emulated {
            (self.pmu)(vcpu, reg, read, value, from_el0)
        }
        fn sync_el1(&mut self, _: &mut Vcpu) {
            self.syncs += 1;
        }
    }

    fn no_pmu(_: &mut Vcpu, _: PmuReg, _: bool, _: u64, _: bool) -> Emulated {
        Emulated::Undefined
    }

    fn handle(vcpu: &mut Vcpu, kind: ExitKind, syndrome: &Syndrome) -> Option<Exit> {
        super::handle(vcpu, kind, syndrome, &mut Env { pmu: no_pmu, syncs: 0 })
    }

    /// Only the exits that deliver an exception need the guest's EL1 registers in memory.
    #[test]
    fn el1_is_synced_only_to_deliver_an_exception() {
        let syncs = |esr: u64, x0: u64| {
            let mut v = vcpu();
            v.regs.regs[0] = x0;
            let mut env = Env { pmu: no_pmu, syncs: 0 };
            super::handle(&mut v, ExitKind::Sync, &sync(esr), &mut env);
            (env.syncs, v.sys_changed)
        };
        assert_eq!(syncs(0x5a00_0000, ids::SMCCC_VERSION.into()), (0, false), "a guest call");
        assert_eq!(syncs(0x5e00_0000, 0), (0, false), "an SMC");
        assert_eq!(syncs(0x9200_0007, 0), (1, true), "a stage-2 abort");
        assert_eq!(syncs(0x6232_0000, 0), (1, true), "an undefined system register");
        assert_eq!(syncs(0x1e00_0000, 0), (1, true), "FP/SIMD");
        let mut v = vcpu();
        // mrs x3, pmcr_el0, emulated.
        let iss = 3 << 20 | 3 << 14 | 9 << 10 | 3 << 5 | 12 << 1 | 1;
        let mut env = Env { pmu: |_: &mut Vcpu, _, _, _, _| Emulated::Done(0), syncs: 0 };
        super::handle(&mut v, ExitKind::Sync, &sync(0x6200_0000 | iss), &mut env);
        assert_eq!(env.syncs, 0, "an emulated PMU access");
    }

    #[test]
    fn pmu_reads_land_in_rt_and_skip() {
        let mut v = vcpu();
        // mrs x3, pmcr_el0: op0 3, op1 3, CRn 9, CRm 12, op2 0, read.
        let iss = 3 << 20 | 3 << 14 | 9 << 10 | 3 << 5 | 12 << 1 | 1;
        let fake = |_: &mut Vcpu, reg: PmuReg, read: bool, _: u64, _: bool| {
            assert_eq!((reg, read), (PmuReg::Pmcr, true));
            Emulated::Done(2 << 11)
        };
        assert_eq!(super::handle(&mut v, ExitKind::Sync, &sync(0x6200_0000 | iss), &mut Env { pmu: fake, syncs: 0 }), None);
        assert_eq!((v.regs.regs[3], v.regs.elr), (2 << 11, 0x4000_0108));
    }

    fn sync(esr: u64) -> Syndrome {
        Syndrome { esr: Esr(esr), far: 0x6000_0123, hpfar: 0x6000_0000 >> 8 }
    }

    #[test]
    fn report_and_done() {
        let mut v = vcpu();
        v.regs.regs[..4].copy_from_slice(&[guest::GUEST_REPORT.into(), 1, 2, 3]);
        assert_eq!(handle(&mut v, ExitKind::Sync, &sync(0x5a00_0000)), Some(Exit::Report([1, 2, 3])));
        assert_eq!(v.regs.regs[0], 0);
        v.regs.regs[..2].copy_from_slice(&[guest::GUEST_DONE.into(), 9]);
        assert_eq!(handle(&mut v, ExitKind::Sync, &sync(0x5a00_0000)), Some(Exit::Done(9)));
        assert!(v.done);
    }

    #[test]
    fn guests_cannot_make_host_calls() {
        let mut v = vcpu();
        for fid in [smc_interface::vm::VM_CREATE, smc_interface::pmu::PMU_RESERVE, 0x8400_0003] {
            v.regs.regs[0] = fid.into();
            assert_eq!(handle(&mut v, ExitKind::Sync, &sync(0x5a00_0000)), None);
            assert_eq!(v.regs.regs[0], -1i64 as u64);
        }
        v.regs.regs[0] = ids::SMCCC_VERSION.into();
        assert_eq!(handle(&mut v, ExitKind::Sync, &sync(0x5a00_0000)), None);
        assert_eq!(v.regs.regs[0], 0x1_0002);
    }

    #[test]
    fn stage2_fault_exits_and_injects() {
        let mut v = vcpu();
        v.regs.spsr = 0x3c5;
        let exit = handle(&mut v, ExitKind::Sync, &sync(0x9200_0007));
        assert_eq!(exit, Some(Exit::Stage2Fault { ipa: 0x6000_0123, esr: 0x9200_0007 }));
        assert_eq!(v.regs.elr, 0x4000_8200);
        assert_eq!(v.sys[reg::ELR_EL1], 0x4000_0104);
        assert_eq!(v.sys[reg::ESR_EL1] >> 26, 0x25);
    }

    #[test]
    fn sysreg_trap_is_undefined_and_interrupts_exit() {
        let mut v = vcpu();
        v.regs.spsr = 0x3c5;
        assert_eq!(handle(&mut v, ExitKind::Sync, &sync(0x6232_0000)), None);
        assert_eq!(v.sys[reg::ESR_EL1] >> 26, 0);
        assert_eq!(v.regs.elr, 0x4000_8200);
        assert_eq!(handle(&mut v, ExitKind::Irq, &sync(0)), Some(Exit::HostInterrupt));
        assert!(matches!(handle(&mut v, ExitKind::Sync, &sync(0x0000_0000)), Some(Exit::Unexpected { .. })));
    }
}
