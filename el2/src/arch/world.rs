// SPDX-License-Identifier: MIT OR Apache-2.0

//! The world switch between the host and a guest vCPU, and the rest of what VMs need from the
//! machine (`VmHw`): donation through the host's stage-2, memory scrubbing and copying, TLBs.
//!
//! The switch is a checklist, undone in reverse on the way out. Once per run (`VCPU_RUN`), since
//! EL2 does not depend on any of it while it handles the guest's exits in between:
//! 1. the host's EL1 system registers saved (`vm::vcpu::el1_sysregs!`);
//! 2. EL2 controls for the guest: HCR_EL2, MDCR_EL2, CPTR_EL2, CNTHCTL_EL2, VMPIDR_EL2, stage-2
//!    (VTTBR_EL2: the VM's tables and VMID), the GIC virtual interface on (ICH_HCR_EL2.En).
//!
//! At every entry and exit, because EL2 changes them while handling exits (injections):
//! 3. the guest's EL1 system registers, its virtual GIC state (ICH_VMCR_EL2, ICH_LR0_EL2);
//! 4. general registers, PC, PSTATE: `__guest_enter` (guest.S).

use super::boot;
use super::pmu_regs::CpuPmu;
use crate::pmu::vpmu::{Emulated, HostPmu};
use crate::vm::{
    Vcpu, Vm, VmHw,
    exits::{self, ExitKind, Syndrome},
    vcpu::{EL1_SYSREGS, VIRTUAL_PMU_INTID, el1_sysregs, list_register_pending},
};
use crate::esr::Esr;
use crate::host_config::{CPTR_RES1, CPTR_TSM, CPTR_TZ, HCR_RW, HCR_TSC, HCR_VM};
use aarch64_paging::MapError;
use core::arch::asm;
use platform::Region;
use smc_interface::vm::{Exit, HostEvents};
use crate::pmu::PmuHw;
use crate::pmu::fgt::{DIRECT_READ_TRAPS as FGT_READ_TRAPS, DIRECT_WRITE_TRAPS as FGT_WRITE_TRAPS};

unsafe extern "C" {
    fn __guest_enter(regs: *mut crate::trap_frame::TrapFrame) -> u64;
}

/// Reads the EL1 registers of `el1_sysregs!` into `out`.
fn save_el1(out: &mut [u64; EL1_SYSREGS.len()]) {
    macro_rules! save {
        ($($i:literal $r:literal),*) => {$(
            // SAFETY: reading an EL1 register at EL2 has no side effects.
            unsafe { asm!(concat!("mrs {}, ", $r), out(reg) out[$i], options(nomem, nostack, preserves_flags)) };
        )*};
    }
    el1_sysregs!(save);
}

/// Writes the EL1 registers of `el1_sysregs!` from `regs`.
fn load_el1(regs: &[u64; EL1_SYSREGS.len()]) {
    macro_rules! load {
        ($($i:literal $r:literal),*) => {$(
            // SAFETY: these registers belong to whichever world runs at EL1 next; EL2 does not
            // depend on them.
            unsafe { asm!(concat!("msr ", $r, ", {}"), in(reg) regs[$i], options(nostack, preserves_flags)) };
        )*};
    }
    el1_sysregs!(load);
}

/// EL2's controls for one world (MDCR_EL2 apart: it changes once per run, see `run`).
#[derive(Clone, Copy)]
struct Controls {
    hcr: u64,
    cptr: u64,
    cnthctl: u64,
    vttbr: u64,
    vmpidr: u64,
}

impl Controls {
    fn read() -> Self {
        Self {
            hcr: rd!("hcr_el2"),
            cptr: rd!("cptr_el2"),
            cnthctl: rd!("cnthctl_el2"),
            vttbr: rd!("vttbr_el2"),
            vmpidr: rd!("vmpidr_el2"),
        }
    }

    fn write(&self) {
        wr!("hcr_el2", self.hcr);
        wr!("cptr_el2", self.cptr);
        wr!("cnthctl_el2", self.cnthctl);
        wr!("vttbr_el2", self.vttbr);
        wr!("vmpidr_el2", self.vmpidr);
        // SAFETY: a barrier only.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }

    /// A guest's controls, derived from the host's.
    fn for_guest(vm: &Vm, vcpu: &Vcpu) -> Self {
        const HCR_FMO: u64 = 1 << 3;
        const HCR_IMO: u64 = 1 << 4;
        const HCR_AMO: u64 = 1 << 5;
        const HCR_FB: u64 = 1 << 9;
        const HCR_BSU_IS: u64 = 1 << 10;
        const HCR_TSW: u64 = 1 << 22;
        // Physical interrupts come to EL2 (and so back to the host) while the guest runs; the
        // guest's SMCs, set/way cache maintenance, and pointer authentication (API/APK clear:
        // the keys are the host's) trap.
        let hcr = HCR_VM | HCR_RW | HCR_IMO | HCR_FMO | HCR_AMO | HCR_TSC | HCR_TSW | HCR_FB | HCR_BSU_IS;
        // FP/SIMD, SVE, SME and trace registers trap: the host's FP state stays in the registers
        // untouched, and a guest that tries them takes an undefined instruction.
        const CPTR_TFP: u64 = 1 << 10;
        const CPTR_TTA: u64 = 1 << 20;
        let cptr = CPTR_RES1 | CPTR_TSM | CPTR_TZ | CPTR_TFP | CPTR_TTA;
        // The guest may read the physical counter but not use the physical timer (the host's).
        let cnthctl = 0b01;
        Self { hcr, cptr, cnthctl, vttbr: vm.vttbr(), vmpidr: (1 << 31) | vcpu.index as u64 }
    }
}

/// What the host had in place when a run started, and gets back when it ends.
struct HostWorld {
    controls: Controls,
    mdcr: u64,
    el1: [u64; EL1_SYSREGS.len()],
}

impl HostWorld {
    /// Saves the host's world and puts the guest's EL2 controls in place for the run.
    fn leave(vm: &Vm, vcpu: &Vcpu) -> Self {
        let mut host = Self { controls: Controls::read(), mdcr: rd!("mdcr_el2"), el1: [0; EL1_SYSREGS.len()] };
        save_el1(&mut host.el1);
        Controls::for_guest(vm, vcpu).write();
        // MDCR_EL2 is the guest's for the whole run: EL2's own PMU accesses do not depend on it,
        // and the partition's PMU, once loaded, keeps its HPMN across exits.
        wr!("mdcr_el2", guest_mdcr(host.mdcr));
        // The guest's virtual GIC CPU interface (the host uses the physical one).
        wr!("S3_4_C12_C11_0", 1u64); // ICH_HCR_EL2.En
        host
    }

    /// Puts the host's world back.
    fn restore(&self) {
        wr!("S3_4_C12_C11_0", 0u64);
        wr!("S3_4_C12_C12_0", 0u64);
        load_el1(&self.el1);
        wr!("mdcr_el2", self.mdcr);
        self.controls.write();
    }
}

/// One entry into the guest and back, within a run.
fn enter_guest(vcpu: &mut Vcpu) -> (ExitKind, Syndrome) {
    load_el1(&vcpu.sys);
    wr!("S3_4_C12_C11_7", vcpu.gic_vmcr); // ICH_VMCR_EL2
    wr!("S3_4_C12_C12_0", vcpu.gic_lr0); // ICH_LR0_EL2

    // SAFETY: EL2's controls and the guest's EL1 state are in place; `regs` outlives the call.
    let kind = unsafe { __guest_enter(&mut vcpu.regs) };

    vcpu.gic_vmcr = rd!("S3_4_C12_C11_7");
    vcpu.gic_lr0 = rd!("S3_4_C12_C12_0");
    let syndrome = Syndrome { esr: Esr(rd!("esr_el2")), far: rd!("far_el2"), hpfar: rd!("hpfar_el2") };
    save_el1(&mut vcpu.sys);
    (ExitKind::from_code(kind), syndrome)
}

/// MDCR_EL2 while a guest runs: every PMU access traps (TPM, TPMCR: the trapped enforcement
/// mode, `pmu::vpmu`), and so does debug (TDA, TDOSA, TDRA).
const MDCR_TPMCR: u64 = 1 << 5;
const MDCR_TPM: u64 = 1 << 6;

fn guest_mdcr(host: u64) -> u64 {
    const MDCR_TDA: u64 = 1 << 9;
    const MDCR_TDOSA: u64 = 1 << 10;
    const MDCR_TDRA: u64 = 1 << 11;
    host | MDCR_TPM | MDCR_TPMCR | MDCR_TDA | MDCR_TDOSA | MDCR_TDRA
}

/// The machine side of the VM calls, on the calling CPU.
pub struct ArchVmHw {
    /// This CPU's reserved PMU counters (where the host's events are parked while a partition's
    /// PMU is loaded) and the host's share.
    pub reserved: u32,
    pub host_counters: u8,
    /// The direct enforcement mode: after a run's first PMU access (which traps, and loads the
    /// partition's PMU) the partition reaches its counters without traps.
    pub direct: bool,
    /// FEAT_FGT: in the direct mode what HPMN does not fence still traps (`pmu::fgt`).
    pub fgt: bool,
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
        let host = rd!("vttbr_el2");
        wr!("vttbr_el2", vttbr);
        // SAFETY: TLB maintenance for the VM's VMID only, then the host's stage-2 back.
        unsafe { asm!("isb", "tlbi vmalls12e1is", "dsb ish", "isb", options(nostack, preserves_flags)) };
        wr!("vttbr_el2", host);
        // SAFETY: a barrier only.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }

    fn pmu_capacity(&self) -> u8 {
        self.reserved.count_ones() as u8
    }

    fn host_counter_mask(&self) -> u64 {
        ((1u64 << self.host_counters) - 1) | 1 << 31
    }

    fn run(&mut self, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents) -> Exit {
        // Host events that exclude the guest stop, guest-only ones start (masks checked by the
        // caller: the host's own counters only).
        let stopped = CpuPmu.enabled() & events.host_only as u32;
        CpuPmu.disable(stopped);
        CpuPmu.enable(events.guest_only as u32);
        let host = HostWorld::leave(vm, vcpu);
        let (reserved, host_counters, direct, fgt) = (self.reserved, self.host_counters, self.direct, self.fgt);
        let mut host_pmu: Option<HostPmu> = None;
        let exit = loop {
            if direct && vcpu.pmu.loaded {
                vcpu.pmu.rearm(&mut CpuPmu);
            }
            let (kind, syndrome) = enter_guest(vcpu);
            // A physical interrupt may be the partition's own PMU overflow: deliver it to the
            // partition as a virtual interrupt (never to the host), and go back in.
            if kind == ExitKind::Irq && vcpu.pmu.loaded && vcpu.pmu.take_overflow_interrupt(&mut CpuPmu) {
                vcpu.gic_lr0 = list_register_pending(VIRTUAL_PMU_INTID);
                continue;
            }
            // Loaded lazily: only a run in which the guest touches its PMU pays for the switch.
            let mut pmu = |vcpu: &mut Vcpu, reg, read, value, from_el0| {
                if vcpu.pmu.k == 0 {
                    return Emulated::Undefined;
                }
                if !vcpu.pmu.loaded {
                    // Without FGT, the direct mode cannot keep PMCR_EL0 and PMCNTEN* trapped.
                    host_pmu = Some(vcpu.pmu.load(&mut CpuPmu, reserved, host_counters, direct && !fgt));
                    if direct {
                        // From now on in this run the partition's own counters are its to touch:
                        // HPMN = k, and the CPU keeps it out of the rest. What HPMN does not
                        // fence keeps trapping (`pmu::fgt`).
                        wr!("mdcr_el2", rd!("mdcr_el2") & !(MDCR_TPM | MDCR_TPMCR));
                        if fgt {
                            wr!("S3_4_C3_C1_4", rd!("S3_4_C3_C1_4") | FGT_READ_TRAPS);
                            wr!("S3_4_C3_C1_5", rd!("S3_4_C3_C1_5") | FGT_WRITE_TRAPS);
                        }
                    }
                }
                vcpu.pmu.emulate(&mut CpuPmu, reg, read, value, from_el0)
            };
            if let Some(exit) = exits::handle(vcpu, kind, &syndrome, &mut pmu) {
                break exit;
            }
        };
        if let Some(host) = host_pmu {
            vcpu.pmu.put(&mut CpuPmu, &host);
        }
        CpuPmu.disable(events.guest_only as u32);
        CpuPmu.enable(stopped);
        if direct && fgt {
            wr!("S3_4_C3_C1_4", rd!("S3_4_C3_C1_4") & !FGT_READ_TRAPS);
            wr!("S3_4_C3_C1_5", rd!("S3_4_C3_C1_5") & !FGT_WRITE_TRAPS);
        }
        host.restore();
        exit
    }
}
