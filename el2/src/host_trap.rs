// SPDX-License-Identifier: MIT OR Apache-2.0

//! What EL2 does with a synchronous exception from the host, by exception class.
//!
//! Nothing the host does here can stop EL2: calls get an SMCCC answer, refused memory accesses
//! come back to the host as aborts, and every other trap comes back as an undefined instruction.

use crate::esr::{Esr, ExceptionClass};
use crate::host_calls::{self, Conduit};
use crate::inject::{self, HostFault, Injection};
use crate::monitor::SmcRegs;
use crate::trap_frame::TrapFrame;
use arm_sysregs::el1::accessors::{
    read_sctlr_el1, read_vbar_el1, write_elr_el1, write_esr_el1, write_far_el1, write_spsr_el1,
};
use arm_sysregs::el1::registers::{ElrEl1, EsrEl1, FarEl1, SpsrEl1};
use smc_interface::SmcccError;

/// Handles an HVC or a trapped SMC from the host (`esr` says which) that came with a full trap
/// frame; `calls` answers an SMCCC call in place (see `host_calls::route`).
///
/// The firmware's vectors take HVC #0 and SMC #0 on a shorter path (`arch/vectors.S`,
/// `host_call_path`) that steps over a trapped SMC itself; any other immediate comes here and is
/// refused (checked on QEMU by abi-probe). The host tests send every call here.
fn handle_call(frame: &mut TrapFrame, esr: Esr, calls: impl FnOnce(&mut SmcRegs, Conduit)) {
    let conduit = if esr.class() == ExceptionClass::Smc64 {
        // A trapped SMC has not executed: the host resumes after it.
        frame.elr += 4;
        Conduit::Smc
    } else {
        Conduit::Hvc
    };
    // SMCCC calls use immediate 0; other immediates are not calls of this hypervisor.
    if esr.imm16() == 0 {
        calls(frame.smccc(), conduit);
    } else {
        host_calls::set_error(frame.smccc(), SmcccError::NotSupported);
    }
}

/// Handles one host trap; `frame` holds the host's registers and is what the host resumes with.
/// Calls go to [`handle_call`]; `mmio` emulates a data
/// abort on a device page EL2 keeps out of the host's stage-2, and says whether it did (otherwise
/// the access is refused with an abort).
pub fn handle(
    frame: &mut TrapFrame,
    esr: Esr,
    far: u64,
    calls: impl FnOnce(&mut SmcRegs, Conduit),
    mmio: impl FnOnce(&mut TrapFrame) -> bool,
) {
    match esr.class() {
        ExceptionClass::Hvc64 | ExceptionClass::Smc64 => handle_call(frame, esr, calls),
        ExceptionClass::DataAbortLower if mmio(frame) => {}
        ExceptionClass::DataAbortLower | ExceptionClass::InstructionAbortLower => {
            log::debug!("host access refused: esr={:#x} far={far:#x} pc={:#x}", esr.0, frame.elr);
            apply(frame, inject::external_abort(&host_fault(frame, esr, far)));
        }
        ExceptionClass::SysReg | ExceptionClass::Other(_) => {
            log::debug!("host trap not handled, injecting UNDEF: esr={:#x} pc={:#x}", esr.0, frame.elr);
            apply(frame, inject::undefined(&host_fault(frame, esr, far)));
        }
    }
}

fn host_fault(frame: &TrapFrame, esr: Esr, far: u64) -> HostFault {
    HostFault {
        esr_el2: esr,
        far_el2: far,
        elr_el2: frame.elr,
        spsr_el2: frame.spsr,
        vbar_el1: read_vbar_el1().bits(),
        sctlr_el1: read_sctlr_el1().bits(),
    }
}

fn apply(frame: &mut TrapFrame, inj: Injection) {
    write_esr_el1(EsrEl1::from_bits_retain(inj.esr_el1));
    // SAFETY: these EL1 registers only take effect for the host at EL1, which is exactly where
    // the injected exception is being delivered; EL2 does not depend on them.
    unsafe {
        write_far_el1(FarEl1::from_bits_retain(inj.far_el1));
        write_elr_el1(ElrEl1::from_bits_retain(inj.elr_el1));
        write_spsr_el1(SpsrEl1::from_bits_retain(inj.spsr_el1));
    }
    frame.elr = inj.elr_el2;
    frame.spsr = inj.spsr_el2;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_calls::{self, PmuCalls};
    use crate::monitor::fake::FakeMonitor;
    use crate::percpu::CpuTable;
    use crate::psci_relay::{PsciRelay, WarmEntries};
    use arm_sysregs::el1::{fake::SYSREGS, registers::VbarEl1};
    use smc_interface::{ids, result::CallUid};

    fn run(frame: &mut TrapFrame, esr: u64, far: u64, mon: &mut FakeMonitor) {
        let cpus = CpuTable::new();
        let mut relay = PsciRelay {
            monitor: mon,
            cpus: &cpus,
            entries: WarmEntries { cpu_on: 0x1000, resume: 0x2000 },
            this_cpu: 0,
            host_owns: &|_| true,
        };
        let cfg = crate::pmu::PmuConfig::new(6, 6, true, true, false, smc_interface::Enforcement::Trapped, 1, 0).unwrap();
        let mut cpu = crate::pmu::CpuPartition::new(&cfg);
        let mut hw = crate::pmu::FakePmu::new(6);
        let mut pmu = PmuCalls { cfg: Some(&cfg), cpu: &mut cpu, hw: &mut hw };
        handle(frame, Esr(esr), far, |regs, conduit| host_calls::handle(regs, conduit, &mut relay, &mut pmu), |_| false);
    }

    #[test]
    fn hvc_call_uid() {
        let mut frame = TrapFrame::default();
        frame.regs[0] = ids::HYP_CALL_UID.into();
        frame.regs[4] = 0x44;
        frame.elr = 0x4000_0004;
        run(&mut frame, 0x5a00_0000, 0, &mut FakeMonitor::default());
        assert_eq!(&frame.regs[..4], &CallUid::HYP.encode());
        assert_eq!(frame.regs[4], 0x44);
        assert_eq!(frame.elr, 0x4000_0004);
    }

    #[test]
    fn hvc_with_nonzero_immediate() {
        let mut frame = TrapFrame::default();
        frame.regs[0] = ids::HYP_CALL_UID.into();
        run(&mut frame, 0x5a00_0001, 0, &mut FakeMonitor::default());
        assert_eq!(frame.regs[0], -1i64 as u64);
    }

    #[test]
    fn smc_skips_the_instruction_and_forwards() {
        let mut frame = TrapFrame::default();
        frame.regs[0] = 0x8400_0000; // PSCI_VERSION
        frame.elr = 0x4000_0000;
        let mut mon = FakeMonitor::answering(&[0x1_0001]);
        run(&mut frame, 0x5e00_0000, 0, &mut mon);
        assert_eq!(frame.elr, 0x4000_0004);
        assert_eq!(frame.regs[0], 0x1_0001);
    }

    #[test]
    fn stage2_fault_becomes_an_el1_abort() {
        SYSREGS.lock().unwrap().vbar_el1 = VbarEl1::from_bits_retain(0x4100_0000);
        let mut frame = TrapFrame::default();
        frame.elr = 0x4020_0000;
        frame.spsr = 0x3c5;
        run(&mut frame, 0x9200_0046, 0x6000_0010, &mut FakeMonitor::default());
        assert_eq!(frame.elr, 0x4100_0200);
        assert_eq!(frame.spsr & 0x1f, 0x5);
        let el1 = SYSREGS.lock().unwrap();
        assert_eq!(el1.esr_el1.bits() >> 26, 0x25);
        assert_eq!(el1.far_el1.bits(), 0x6000_0010);
        assert_eq!(el1.elr_el1.bits(), 0x4020_0000);
    }

    #[test]
    fn emulated_device_access_is_not_refused() {
        let mut frame = TrapFrame::default();
        frame.elr = 0x4020_0000;
        frame.spsr = 0x3c5;
        let mut emulated = false;
        handle(&mut frame, Esr(0x9200_0046), 0x080a_0070, |_, _| unreachable!(), |f| {
            emulated = true;
            f.elr += 4;
            true
        });
        assert!(emulated);
        assert_eq!((frame.elr, frame.spsr), (0x4020_0004, 0x3c5), "no abort injected");
    }
}
