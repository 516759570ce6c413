// SPDX-License-Identifier: MIT OR Apache-2.0

//! The world switch against a machine that records every register write, barrier and entry, and
//! plays a scripted guest: the order of the steps, and what is in place at each entry and after
//! the run.

use super::*;
use crate::esr::Esr;
use crate::pmu::FakePmu;
use crate::vm::GuestStage2;
use crate::vm::vcpu::reg;
use platform::Region;
use smc_interface::vm::guest;
use std::collections::VecDeque;
use std::vec::Vec;

/// One step the switch took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Write(Reg, u64),
    /// Saved the EL1 registers in place (tagged with SCTLR_EL1, which tells the worlds apart).
    SaveEl1(u64),
    LoadEl1(u64),
    Barrier(Barrier),
    Enter,
}

/// The registers as they were at an entry into the guest.
#[derive(Clone, Debug)]
struct AtEntry {
    regs: [u64; 11],
    sctlr_el1: u64,
    pmu: FakePmu,
}

/// How the scripted guest leaves, one per entry.
#[derive(Clone, Copy, Debug)]
enum GuestStep {
    /// `mrs x3, pmcr_el0`, trapped.
    ReadPmcr,
    /// `msr pmselr_el0, x3` (x3 = 0), trapped: a write, which loads the partition's PMU.
    WritePmselr,
    /// A physical interrupt; `overflow`: the partition's counter 0 overflowed with its
    /// interrupt enabled (the interrupt is the partition's).
    Irq { overflow: bool },
    /// HVC GUEST_DONE.
    Done,
    /// An FP/SIMD instruction (EC 0x07): EL2 delivers an undefined instruction to the guest.
    Fpsimd,
}

const ALL_REGS: [Reg; 11] = [
    Reg::Hcr,
    Reg::Cptr,
    Reg::Cnthctl,
    Reg::Mdcr,
    Reg::Vttbr,
    Reg::Vmpidr,
    Reg::IchHcr,
    Reg::IchVmcr,
    Reg::IchLr0,
    Reg::Elr,
    Reg::Spsr,
];

struct Recorder {
    regs: [u64; 11],
    el1: El1Regs,
    pmu: FakePmu,
    log: Vec<Op>,
    script: VecDeque<GuestStep>,
    entries: Vec<AtEntry>,
}

fn index(reg: Reg) -> usize {
    ALL_REGS.iter().position(|r| *r == reg).unwrap()
}

impl SwitchHw for Recorder {
    type Pmu = FakePmu;
    fn pmu(&mut self) -> &mut FakePmu {
        &mut self.pmu
    }
    fn read(&self, reg: Reg) -> u64 {
        self.regs[index(reg)]
    }
    fn write(&mut self, reg: Reg, value: u64) {
        self.log.push(Op::Write(reg, value));
        self.regs[index(reg)] = value;
    }
    fn save_el1(&mut self, out: &mut El1Regs) {
        self.log.push(Op::SaveEl1(self.el1[reg::SCTLR_EL1]));
        *out = self.el1;
    }
    fn load_el1(&mut self, regs: &El1Regs) {
        self.log.push(Op::LoadEl1(regs[reg::SCTLR_EL1]));
        self.el1 = *regs;
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.log.push(Op::Barrier(barrier));
    }
    fn enter(&mut self, regs: &mut TrapFrame) -> (ExitKind, Syndrome) {
        self.log.push(Op::Enter);
        // Entering the guest overwrites ELR_EL2 and SPSR_EL2 (its PC and PSTATE).
        self.regs[index(Reg::Elr)] = regs.elr;
        self.regs[index(Reg::Spsr)] = regs.spsr;
        self.entries.push(AtEntry { regs: self.regs, sctlr_el1: self.el1[reg::SCTLR_EL1], pmu: self.pmu.clone() });
        let sync = |esr| (ExitKind::Sync, Syndrome { esr: Esr(esr), far: 0, hpfar: 0 });
        match self.script.pop_front().expect("the guest ran past its script") {
            GuestStep::ReadPmcr => sync(0x18 << 26 | 1 << 25 | 3 << 20 | 3 << 14 | 9 << 10 | 3 << 5 | 12 << 1 | 1),
            GuestStep::WritePmselr => {
                regs.regs[3] = 0;
                sync(0x18 << 26 | 1 << 25 | 3 << 20 | 5 << 17 | 3 << 14 | 9 << 10 | 3 << 5 | 12 << 1)
            }
            GuestStep::Irq { overflow } => {
                if overflow {
                    self.pmu.ovs |= 1;
                    self.pmu.inten |= 1;
                }
                (ExitKind::Irq, Syndrome { esr: Esr(0), far: 0, hpfar: 0 })
            }
            GuestStep::Fpsimd => sync(0x07 << 26 | 1 << 25),
            GuestStep::Done => {
                regs.regs[..2].copy_from_slice(&[guest::GUEST_DONE.into(), 7]);
                sync(0x5a00_0000)
            }
        }
    }
}

/// The host's registers before the run: every value distinct, and SCTLR_EL1 tagged.
const HOST_SCTLR: u64 = 0x1111;
const GUEST_SCTLR: u64 = 0x2222;
const HOST_MDCR: u64 = 4; // HPMN = 4
const HOST_VTTBR: u64 = 0x7000_0000;

fn recorder(script: &[GuestStep]) -> Recorder {
    let mut el1 = [0xe1; EL1_SYSREGS.len()];
    el1[reg::SCTLR_EL1] = HOST_SCTLR;
    let regs = [0x8000_0000 | 1 << 4, 0x33ff, 0b11, HOST_MDCR, HOST_VTTBR, 0x8000_0003, 0, 0, 0, 0x4008_1234, 0x3c5];
    let mut pmu = FakePmu::new(6);
    pmu.hpmn_value = 4;
    Recorder {
        regs,
        el1,
        pmu,
        log: Vec::new(),
        script: script.iter().copied().collect(),
        entries: Vec::new(),
    }
}

fn vm() -> Vm {
    Vm {
        memory: Region::new(0x5000_0000, 2 << 20),
        stage2: GuestStage2::new(smc_interface::vm::GUEST_RAM_BASE, 0x5000_0000, 2 << 20).unwrap(),
        vmid: 3,
        started: true,
        vcpus: 1,
    }
}

fn vcpu(k: u8) -> Vcpu {
    let mut v = Vcpu::new(1, 0x4000_0000, k);
    v.sys[reg::SCTLR_EL1] = GUEST_SCTLR;
    v
}

const PMU: RunPmu = RunPmu { reserved: 0b11_0000, host_counters: 4, access: Access::Trapped };

fn run_script(script: &[GuestStep], k: u8, cfg: RunPmu) -> (Recorder, Vm, Vcpu, Exit) {
    let (mut hw, vm, mut vcpu) = (recorder(script), vm(), vcpu(k));
    let exit = run(&mut hw, &vm, &mut vcpu, HostEvents::default(), cfg);
    assert!(hw.script.is_empty(), "the guest did not get to the end of its script");
    (hw, vm, vcpu, exit)
}

fn position(log: &[Op], what: impl Fn(&Op) -> bool) -> usize {
    log.iter().position(what).expect("step missing")
}

fn last_position(log: &[Op], what: impl Fn(&Op) -> bool) -> usize {
    log.iter().rposition(what).expect("step missing")
}

fn writes(reg: Reg) -> impl Fn(&Op) -> bool {
    move |op| matches!(op, Op::Write(r, _) if *r == reg)
}

#[test]
fn host_to_guest_follows_pkvm_order() {
    let (hw, vm, _, exit) = run_script(&[GuestStep::Done], 0, PMU);
    assert_eq!(exit, Exit::Done(7));
    let log = &hw.log;
    let enter = position(log, |op| *op == Op::Enter);
    let save_host = position(log, |op| *op == Op::SaveEl1(HOST_SCTLR));
    let dsb = position(log, |op| *op == Op::Barrier(Barrier::DsbNsh));
    let load_guest = position(log, |op| *op == Op::LoadEl1(GUEST_SCTLR));
    let vmpidr = position(log, writes(Reg::Vmpidr));
    let isb = position(log, |op| *op == Op::Barrier(Barrier::Isb));
    let vttbr = position(log, writes(Reg::Vttbr));
    let traps = [Reg::Hcr, Reg::Cptr, Reg::Cnthctl, Reg::Mdcr].map(|r| position(log, writes(r)));
    let vgic_on = position(log, |op| *op == Op::Write(Reg::IchHcr, 1));
    // The host's EL1 registers saved and its walks completed before anything of the guest's.
    assert!(save_host < dsb && dsb < load_guest, "{log:?}");
    // The guest's EL1 registers (VMPIDR with them) and an ISB before its stage-2 and traps.
    assert!(load_guest < isb && vmpidr < isb && isb < vttbr, "{log:?}");
    assert!(traps.iter().all(|&t| vttbr < t && t < enter), "{log:?}");
    assert!(vgic_on < enter);
    assert_eq!(log[vttbr], Op::Write(Reg::Vttbr, vm.vttbr()));
}

#[test]
fn guest_to_host_mirrors_it() {
    let (hw, _, vcpu, _) = run_script(&[GuestStep::Done], 0, PMU);
    let log = &hw.log;
    let enter = last_position(log, |op| *op == Op::Enter);
    let save_guest = last_position(log, |op| *op == Op::SaveEl1(GUEST_SCTLR));
    let vgic_off = last_position(log, |op| *op == Op::Write(Reg::IchHcr, 0));
    let dsb = last_position(log, |op| *op == Op::Barrier(Barrier::DsbNsh));
    let vttbr = last_position(log, writes(Reg::Vttbr));
    let traps = [Reg::Hcr, Reg::Cptr, Reg::Cnthctl, Reg::Mdcr].map(|r| last_position(log, writes(r)));
    let isb = last_position(log, |op| *op == Op::Barrier(Barrier::Isb));
    let load_host = last_position(log, |op| *op == Op::LoadEl1(HOST_SCTLR));
    assert!(enter < save_guest && save_guest < dsb && vgic_off < dsb, "{log:?}");
    // The host's traps and stage-2, then an ISB, before its EL1 registers.
    assert!(traps.iter().all(|&t| dsb < t && t < isb) && dsb < vttbr && vttbr < isb, "{log:?}");
    assert!(isb < load_host && load_host == log.len() - 4, "{log:?}");
    assert_eq!(log[log.len() - 3], Op::Write(Reg::Vmpidr, 0x8000_0003));
    // The host has exactly its registers back (where it resumes after its call included), and
    // the guest's EL1 state was kept.
    assert_eq!(hw.regs[..6], recorder(&[]).regs[..6]);
    assert_eq!(hw.regs[9..], recorder(&[]).regs[9..]);
    assert_eq!((hw.regs[index(Reg::IchHcr)], hw.regs[index(Reg::IchLr0)]), (0, 0));
    assert_eq!(hw.el1, recorder(&[]).el1);
    assert_eq!(vcpu.sys[reg::SCTLR_EL1], GUEST_SCTLR);
}

#[test]
fn the_guest_runs_under_its_own_controls_at_every_entry() {
    let script = [GuestStep::WritePmselr, GuestStep::Irq { overflow: false }, GuestStep::WritePmselr, GuestStep::Done];
    let (mut hw, vm, _, exit) = run_script(&script[..2], 2, PMU);
    assert_eq!(exit, Exit::HostInterrupt);
    hw.script.extend(&script[2..]);
    let mut vcpu = vcpu(2);
    let exit = run(&mut hw, &vm, &mut vcpu, HostEvents::default(), PMU);
    assert_eq!(exit, Exit::Done(7));
    assert_eq!(hw.entries.len(), 4);
    for (i, at) in hw.entries.iter().enumerate() {
        let r = |reg| at.regs[index(reg)];
        let hcr = HcrEl2::from_bits_retain(r(Reg::Hcr));
        assert!(hcr.contains(HcrEl2::VM | HcrEl2::RW | HcrEl2::IMO | HcrEl2::FMO | HcrEl2::TSC), "entry {i}: {hcr:?}");
        assert!(!hcr.intersects(HcrEl2::API | HcrEl2::APK), "entry {i}: the host's PAuth keys stay the host's");
        assert!(CptrEl2::from_bits_retain(r(Reg::Cptr)).contains(CptrEl2::TFP | CptrEl2::TZ | CptrEl2::TSM));
        let mdcr = MdcrEl2::from_bits_retain(r(Reg::Mdcr));
        assert!(mdcr.contains(MdcrEl2::TPM | MdcrEl2::TPMCR | MdcrEl2::TDA | MdcrEl2::TDOSA | MdcrEl2::TDRA));
        assert_eq!((r(Reg::Vttbr), r(Reg::Vmpidr), r(Reg::IchHcr)), (vm.vttbr(), 1 << 31 | 1, 1), "entry {i}");
        assert_eq!(at.sctlr_el1, GUEST_SCTLR, "entry {i}: the guest's EL1 registers");
        // The partition's PMU is on the CPU exactly from its first access to the end of the run.
        let loaded = i == 1 || i == 3;
        assert_eq!(at.pmu.hpmn_value, if loaded { 2 } else { 4 }, "entry {i}");
    }
    // Each run puts the host's PMU back.
    assert_eq!(hw.pmu.hpmn_value, 4);
    assert!(!vcpu.pmu.loaded);
}

#[test]
fn the_direct_mode_lifts_pmu_traps_only_while_the_partition_is_loaded() {
    for fgt in [false, true] {
        let cfg = RunPmu { access: Access::Direct { fgt }, ..PMU };
        let (hw, ..) = run_script(&[GuestStep::ReadPmcr, GuestStep::ReadPmcr, GuestStep::Done], 2, cfg);
        let trapped: Vec<_> = hw.entries.iter().map(|at| (at.pmu.partition_trapped, at.pmu.fgt_traps)).collect();
        assert_eq!(trapped, [(true, false), (false, fgt), (false, fgt)], "fgt={fgt}");
        assert_eq!((hw.pmu.partition_trapped, hw.pmu.fgt_traps), (true, false), "after the run, fgt={fgt}");
    }
    let (hw, ..) = run_script(&[GuestStep::ReadPmcr, GuestStep::Done], 2, PMU);
    assert!(hw.entries.iter().all(|at| at.pmu.partition_trapped && !at.pmu.fgt_traps));
}

/// Trapped, a read of an idle partition's PMU is answered from what EL2 keeps: the run never
/// loads it, the CPU's PMU is the host's throughout, and the guest reads its own PMCR_EL0 (N = 2).
/// In the direct mode the same read loads it.
#[test]
fn a_trapped_read_of_an_idle_pmu_does_not_load_it() {
    let script = [GuestStep::ReadPmcr, GuestStep::ReadPmcr, GuestStep::Irq { overflow: false }];
    let (hw, _, vcpu, exit) = run_script(&script, 2, PMU);
    assert_eq!(exit, Exit::HostInterrupt);
    assert!(hw.entries.iter().all(|at| at.pmu.hpmn_value == 4), "never loaded");
    assert_eq!(hw.pmu, recorder(&[]).pmu, "the host's PMU untouched");
    assert_eq!((vcpu.regs.regs[3] >> 11) & 0x1f, 2, "the partition's N");
    let script = [GuestStep::ReadPmcr, GuestStep::ReadPmcr, GuestStep::Done];
    let cfg = RunPmu { access: Access::Direct { fgt: true }, ..PMU };
    let (hw, ..) = run_script(&script, 2, cfg);
    assert_eq!(hw.entries.iter().map(|at| at.pmu.hpmn_value).collect::<Vec<_>>(), [4, 2, 2], "loaded at the first read");
}

#[test]
fn an_active_partition_is_loaded_from_the_first_entry() {
    // (its E, its enables, an overflow waiting to interrupt, one being delivered): loaded at the
    // first entry only if E is on and a counter counts or an overflow interrupt waits.
    let cases = [
        (1, 0b01, 0, 0, true),
        (1, 0b10, 0, 0, true),
        (1, 0, 0b10, 0, true),
        (1, 0, 0b10, 0b10, false),
        (0, 0, 0b10, 0, false),
        (1, 0, 0, 0, false),
        (0, 0b11, 0, 0, false),
        (1, 0b100, 0b100, 0, false),
    ];
    for (pmcr, cnten, interrupt, delivered, counting) in cases {
        for access in [Access::Trapped, Access::Direct { fgt: false }, Access::Direct { fgt: true }] {
            let script = [GuestStep::Irq { overflow: false }, GuestStep::Done];
            let (mut hw, vm, mut vcpu) = (recorder(&script), vm(), vcpu(2));
            (vcpu.pmu.pmcr, vcpu.pmu.cnten) = (pmcr, cnten);
            (vcpu.pmu.ovs, vcpu.pmu.inten, vcpu.pmu.irq_masked) = (interrupt, interrupt, delivered);
            let exit = run(&mut hw, &vm, &mut vcpu, HostEvents::default(), RunPmu { access, ..PMU });
            // The waiting overflow interrupt is the partition's: delivered, and the guest goes on.
            let raised = counting && interrupt & !delivered & 0b11 != 0;
            assert_eq!(exit, if raised { Exit::Done(7) } else { Exit::HostInterrupt });
            if raised {
                assert_eq!(hw.entries[1].regs[index(Reg::IchLr0)], list_register_pending(VIRTUAL_PMU_INTID));
            }
            let at = &hw.entries[0].pmu;
            let what = format!("E={pmcr} enables={cnten:#b} interrupt={interrupt:#b}/{delivered:#b} {access:?}");
            assert_eq!(at.hpmn_value, if counting { 2 } else { 4 }, "{what}");
            assert_eq!(at.partition_trapped, !counting || access == Access::Trapped, "{what}");
            assert_eq!(at.enabled() & 0b11 != 0, cnten & 0b11 != 0 && counting, "{what}");
            assert_eq!(at.interrupts() & 0b11 != 0, interrupt & !delivered & 0b11 != 0 && counting, "{what}");
            // And put back at the exit, with nothing of it left on the CPU.
            assert!(!vcpu.pmu.loaded);
            assert_eq!((hw.pmu.hpmn_value, hw.pmu.partition_trapped), (4, true), "{what}");
        }
    }
}

#[test]
fn a_partition_overflow_interrupt_goes_to_the_partition_not_the_host() {
    let script = [GuestStep::WritePmselr, GuestStep::Irq { overflow: true }, GuestStep::Done];
    let (hw, ..) = run_script(&script, 2, PMU);
    // The interrupt did not end the run: the guest went back in with the virtual PMU interrupt
    // pending in its list register, and the physical enable off.
    assert_eq!(hw.entries.len(), 3);
    assert_eq!(hw.entries[2].regs[index(Reg::IchLr0)], list_register_pending(VIRTUAL_PMU_INTID));
    assert_eq!(hw.entries[2].pmu.inten & 1, 0);
    // Neither exit changed the guest's EL1 registers: they were loaded once, before its stage-2.
    let loads: Vec<_> = hw.log.iter().filter(|op| **op == Op::LoadEl1(GUEST_SCTLR)).collect();
    assert_eq!(loads.len(), 1);
}

#[test]
fn an_exception_delivered_to_the_guest_is_loaded_before_it_runs_again() {
    let (hw, _, vcpu, exit) = run_script(&[GuestStep::Fpsimd, GuestStep::Done], 0, PMU);
    assert_eq!(exit, Exit::Done(7));
    // The undefined instruction went into the guest's EL1 registers (ESR_EL1: EC 0), and those
    // were loaded again after the exit was handled, before the second entry.
    let enters: Vec<_> = hw.log.iter().enumerate().filter(|(_, op)| **op == Op::Enter).map(|(i, _)| i).collect();
    let reloads: Vec<_> =
        hw.log.iter().enumerate().filter(|(_, op)| **op == Op::LoadEl1(GUEST_SCTLR)).map(|(i, _)| i).collect();
    assert_eq!(reloads.len(), 2, "{:?}", hw.log);
    assert!(enters[0] < reloads[1] && reloads[1] < enters[1], "{:?}", hw.log);
    assert_eq!(vcpu.sys[reg::ESR_EL1] >> 26, 0, "an unknown-reason exception");
    assert!(!vcpu.sys_changed);
}

#[test]
fn an_interrupt_with_no_partition_overflow_goes_to_the_host() {
    let (_, _, _, exit) = run_script(&[GuestStep::ReadPmcr, GuestStep::Irq { overflow: false }], 2, PMU);
    assert_eq!(exit, Exit::HostInterrupt);
}

#[test]
fn host_events_switch_around_the_run() {
    let (mut hw, vm, mut vcpu) = (recorder(&[GuestStep::Done]), vm(), vcpu(0));
    hw.pmu.cnten = 0b0011;
    let events = HostEvents { host_only: 0b0010, guest_only: 0b0100 };
    run(&mut hw, &vm, &mut vcpu, events, PMU);
    assert_eq!(hw.entries[0].pmu.cnten, 0b0101, "host-only stopped, guest-only started");
    assert_eq!(hw.pmu.cnten, 0b0011, "and back");
}
