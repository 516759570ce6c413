// SPDX-License-Identifier: MIT OR Apache-2.0

//! The machine side of the VMs (`VmHw`): the world switch's registers (`vm::switch` has the
//! steps and their order), donation through the host's stage-2, memory scrubbing and copying,
//! TLBs.

use super::boot;
use super::pmu_regs::CpuPmu;
use super::sysregs::{self, read_ich_lr0_el2, write_ich_lr0_el2};
use crate::esr::Esr;
use crate::pmu::Access;
use crate::trap_frame::TrapFrame;
use crate::vm::switch::{self, Barrier, El1Regs, Reg, RunPmu, SwitchHw};
use crate::vm::{
    Vcpu, Vm, VmHw,
    exits::{ExitKind, Syndrome},
    vcpu::el1_sysregs,
};
use aarch64_paging::MapError;
use arm_sysregs::el2::accessors::*;
use arm_sysregs::el2::registers::*;
use core::arch::asm;
use platform::Region;
use smc_interface::vm::{Exit, HostEvents};

unsafe extern "C" {
    fn __guest_enter(regs: *mut TrapFrame) -> u64;
}

/// This CPU, as the world switch sees it.
struct CpuSwitch(CpuPmu);

impl SwitchHw for CpuSwitch {
    type Pmu = CpuPmu;

    fn pmu(&mut self) -> &mut CpuPmu {
        &mut self.0
    }

    #[inline(always)]
    fn read(&self, reg: Reg) -> u64 {
        match reg {
            Reg::Hcr => read_hcr_el2().bits(),
            Reg::Cptr => read_cptr_el2().bits(),
            Reg::Cnthctl => read_cnthctl_el2().bits(),
            Reg::Mdcr => read_mdcr_el2().bits(),
            Reg::Vttbr => read_vttbr_el2().bits(),
            Reg::Vmpidr => read_vmpidr_el2().bits(),
            Reg::IchHcr => read_ich_hcr_el2().bits(),
            Reg::IchVmcr => read_ich_vmcr_el2().bits(),
            Reg::IchLr0 => read_ich_lr0_el2(),
            Reg::Elr => read_elr_el2().bits(),
            Reg::Spsr => read_spsr_el2().bits(),
        }
    }

    #[inline(always)]
    fn write(&mut self, reg: Reg, value: u64) {
        // SAFETY (the unsafe writes): these registers decide how EL1 and EL0 run (traps,
        // stage-2, the virtual GIC, where and how the host resumes) and what they see; EL2's own
        // execution does not depend on them. The stage-2 tables a VTTBR_EL2 value names are the
        // host's (built at boot) or a VM's, which lives while its slot is locked, for the whole
        // run.
        match reg {
            Reg::Hcr => unsafe { write_hcr_el2(HcrEl2::from_bits_retain(value)) },
            Reg::Cptr => unsafe { write_cptr_el2(CptrEl2::from_bits_retain(value)) },
            Reg::Cnthctl => write_cnthctl_el2(CnthctlEl2::from_bits_retain(value)),
            Reg::Mdcr => write_mdcr_el2(MdcrEl2::from_bits_retain(value)),
            Reg::Vttbr => unsafe { write_vttbr_el2(VttbrEl2::from_bits_retain(value)) },
            Reg::Vmpidr => write_vmpidr_el2(VmpidrEl2::from_bits_retain(value)),
            Reg::IchHcr => unsafe { write_ich_hcr_el2(IchHcrEl2::from_bits_retain(value)) },
            Reg::IchVmcr => write_ich_vmcr_el2(IchVmcrEl2::from_bits_retain(value)),
            Reg::IchLr0 => write_ich_lr0_el2(value),
            Reg::Elr => unsafe { write_elr_el2(ElrEl2::from_bits_retain(value)) },
            Reg::Spsr => unsafe { write_spsr_el2(SpsrEl2::from_bits_retain(value)) },
        }
    }

    /// The EL1 block goes by name, in one list (`vm::vcpu::el1_sysregs!`): EL2 never interprets
    /// these values, it only moves them between a world and memory.
    /// Two registers an access (the list has an even length): the compiler then moves each
    /// pair with one STP or LDP, 13 instructions less each way.
    fn save_el1(&mut self, out: &mut El1Regs) {
        macro_rules! save {
            ($($i:literal $r:literal, $j:literal $s:literal),*) => {$(
                let (a, b): (u64, u64);
                // SAFETY: reading EL1 registers at EL2 has no side effects.
                unsafe {
                    asm!(concat!("mrs {}, ", $r), concat!("mrs {}, ", $s), out(reg) a, out(reg) b,
                        options(nomem, nostack, preserves_flags))
                };
                (out[$i], out[$j]) = (a, b);
            )*};
        }
        el1_sysregs!(save);
    }

    fn load_el1(&mut self, regs: &El1Regs) {
        macro_rules! load {
            ($($i:literal $r:literal, $j:literal $s:literal),*) => {$(
                // SAFETY: these registers belong to whichever world runs at EL1 next; EL2 does not
                // depend on them.
                unsafe {
                    asm!(concat!("msr ", $r, ", {}"), concat!("msr ", $s, ", {}"), in(reg) regs[$i], in(reg) regs[$j],
                        options(nostack, preserves_flags))
                };
            )*};
        }
        el1_sysregs!(load);
    }

    fn barrier(&mut self, barrier: Barrier) {
        match barrier {
            Barrier::DsbNsh => sysregs::dsb_nsh(),
            Barrier::Isb => sysregs::isb(),
        }
    }

    fn enter(&mut self, regs: &mut TrapFrame) -> (ExitKind, Syndrome) {
        // SAFETY: the guest's EL1 and EL2 state is in place (`vm::switch`); `regs` outlives the
        // call, and the guest exit path comes back here with EL2's registers as they were.
        let kind = unsafe { __guest_enter(regs) };
        let syndrome =
            Syndrome { esr: Esr(read_esr_el2().bits()), far: read_far_el2().bits(), hpfar: read_hpfar_el2().bits() };
        (ExitKind::from_code(kind), syndrome)
    }
}

/// The machine side of the VM calls, on the calling CPU.
pub struct ArchVmHw {
    /// This CPU's reserved PMU counters (where the host's events are parked while a partition's
    /// PMU is loaded) and the host's share.
    pub reserved: u32,
    pub host_counters: u8,
    /// How many counters `reserved` has, counted by the caller as N - H
    /// (`CpuPartition::reserved_count`) rather than here with a software population count.
    pub capacity: u8,
    /// How a partition reaches its counters once its PMU is loaded (the enforcement mode).
    pub access: Access,
}

impl VmHw for ArchVmHw {
    fn host_ram(&self) -> &[Region] {
        boot::host_ram()
    }

    fn firmware(&self) -> Region {
        use platform::{Current, Platform};
        Current::firmware_region()
    }

    fn host_unmap(&mut self, region: Region) -> Result<(), MapError> {
        boot::host_stage2_set(region, false)
    }

    fn host_map(&mut self, region: Region) -> Result<(), MapError> {
        boot::host_stage2_set(region, true)
    }

    fn zero(&mut self, pa: u64, len: u64) {
        // SAFETY: EL2 maps all RAM; callers pass memory EL2 owns at this point (donated, and out
        // of the host's stage-2).
        unsafe { core::ptr::write_bytes(pa as *mut u8, 0, len as usize) };
    }

    fn copy(&mut self, dst: u64, src: u64, len: u64) {
        // SAFETY: `src` is host RAM and `dst` the VM's, checked by the caller; they never overlap.
        unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len as usize) };
    }

    fn flush_guest_tlb(&mut self, vttbr: u64) {
        let host = read_vttbr_el2();
        // SAFETY: TLB maintenance for the VM's VMID, which selects its tables for the time of
        // the `tlbi` only (EL2 does not run under stage-2), then the host's stage-2 back.
        unsafe {
            write_vttbr_el2(VttbrEl2::from_bits_retain(vttbr));
            asm!("isb", "tlbi vmalls12e1is", "dsb ish", options(nostack, preserves_flags));
            write_vttbr_el2(host);
        }
        sysregs::isb();
    }

    fn pmu_capacity(&self) -> u8 {
        self.capacity
    }

    fn host_counter_mask(&self) -> u64 {
        ((1u64 << self.host_counters) - 1) | 1 << 31
    }

    fn run(&mut self, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents) -> Exit {
        let cfg = RunPmu { reserved: self.reserved, host_counters: self.host_counters, access: self.access };
        switch::run(&mut CpuSwitch(CpuPmu), vm, vcpu, events, cfg)
    }
}
