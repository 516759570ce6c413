// SPDX-License-Identifier: MIT OR Apache-2.0

//! PSCI relay: the host's PSCI calls go to EL3 through EL2.
//!
//! The calls that make a CPU start executing somewhere new — CPU_ON, and CPU_SUSPEND /
//! SYSTEM_SUSPEND when they power the CPU down — must not let a CPU reach the host without
//! passing through EL2 first, or that CPU would run the host with no stage-2 and no EL2 vectors.
//! So EL2 keeps the host's entry point and context id for the CPU, gives EL3 its own warm entry
//! point and the CPU's `PerCpu` address as the context id, and when the CPU arrives at EL2 it
//! sets EL2 up and enters the host at the host's entry point with the host's context id in x0.
//! The host cannot tell the difference. Every other PSCI call goes to EL3 unchanged.

use crate::monitor::{Monitor, SmcRegs};
use crate::percpu::CpuTable;
use smc_interface::FunctionId;
use smccc::psci::{
    PSCI_CPU_ON_32, PSCI_CPU_ON_64, PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64,
    PSCI_SYSTEM_SUSPEND_32, PSCI_SYSTEM_SUSPEND_64,
};

/// PSCI return codes EL2 produces itself.
pub const PSCI_INVALID_PARAMETERS: u64 = -2i64 as u64;
pub const PSCI_ALREADY_ON: u64 = -4i64 as u64;
pub const PSCI_INVALID_ADDRESS: u64 = -9i64 as u64;

/// EL2's warm entry points, as physical addresses.
#[derive(Clone, Copy, Debug)]
pub struct WarmEntries {
    pub cpu_on: u64,
    pub resume: u64,
}

/// Is this function ID one of PSCI's (Standard Secure Service, function numbers 0x00..0x1F)?
pub fn is_psci(function_id: u32) -> bool {
    matches!(function_id & !0x4000_0000, 0x8400_0000..=0x8400_001f)
}

/// Is this one of the PSCI calls the relay changes on its way to EL3 (those that name an entry
/// point: CPU_ON, CPU_SUSPEND, SYSTEM_SUSPEND, in either convention, SVE hint or not)? Every
/// other SMC goes to EL3 unchanged.
#[inline]
pub fn intercepts(function_id: u32) -> bool {
    matches!(
        FunctionId::new(function_id).raw(),
        PSCI_CPU_ON_32
            | PSCI_CPU_ON_64
            | PSCI_CPU_SUSPEND_32
            | PSCI_CPU_SUSPEND_64
            | PSCI_SYSTEM_SUSPEND_32
            | PSCI_SYSTEM_SUSPEND_64
    )
}

/// A 32-bit PSCI call takes its arguments in w registers: the upper halves are not part of them.
fn arg(function_id: u32, value: u64) -> u64 {
    if function_id & 0x4000_0000 == 0 { value & 0xffff_ffff } else { value }
}

pub struct PsciRelay<'a, M: Monitor> {
    pub monitor: &'a mut M,
    pub cpus: &'a CpuTable,
    pub entries: WarmEntries,
    /// The calling CPU's index.
    pub this_cpu: usize,
    /// Whether the host owns the memory at this physical address (its RAM, not EL2's, not a
    /// VM's). EL3 only ever sees EL2's own warm entry points, so it cannot vet the host's: EL2
    /// answers INVALID_ADDRESS itself, as EL3 would for an entry outside non-secure RAM.
    pub host_owns: &'a dyn Fn(u64) -> bool,
}

impl<M: Monitor> PsciRelay<'_, M> {
    /// Handles a PSCI call from the host in `regs` (x0..x17 for the host afterwards).
    pub fn handle(&mut self, regs: &mut SmcRegs) {
        // Bit 16 (SMCCC 1.3's SVE hint) is no part of the call's identity, and EL3 masks it
        // before dispatching: a CPU_ON with it set is a CPU_ON, and must not reach EL3 with the
        // host's entry point (the CPU would enter the host at EL2).
        let fid = FunctionId::new(regs[0] as u32).raw();
        let a = |i: usize| arg(fid, regs[i]);
        let x0 = match fid {
            PSCI_CPU_ON_32 | PSCI_CPU_ON_64 => self.cpu_on(fid, a(1), a(2), a(3)),
            PSCI_CPU_SUSPEND_32 | PSCI_CPU_SUSPEND_64 => self.suspend(fid, &[a(1)], a(2), a(3)),
            PSCI_SYSTEM_SUSPEND_32 | PSCI_SYSTEM_SUSPEND_64 => self.suspend(fid, &[], a(1), a(2)),
            _ => return self.monitor.smc(regs),
        };
        // x1..x3 are not results of these calls; SMCCC 1.1 lets them be anything, and EL2 keeps
        // the host's own values rather than whatever EL3 left.
        regs[0] = x0;
    }

    fn cpu_on(&mut self, fid: u32, target: u64, entry: u64, context: u64) -> u64 {
        let Some(cpu) = self.cpus.by_mpidr(target) else {
            return PSCI_INVALID_PARAMETERS;
        };
        if !(self.host_owns)(entry) {
            return PSCI_INVALID_ADDRESS;
        }
        if !cpu.on_entry.claim() {
            return PSCI_ALREADY_ON;
        }
        cpu.on_entry.set(entry, context);
        let ret = self.monitor.call(fid, &[target, self.entries.cpu_on, cpu.context_id()]);
        if ret != 0 {
            // EL3 refused (already on, on pending, denied...): the CPU will not come through
            // EL2, so the slot is free again.
            cpu.on_entry.release();
        }
        ret
    }

    /// CPU_SUSPEND (`extra` = [power_state]) and SYSTEM_SUSPEND (`extra` = []).
    fn suspend(&mut self, fid: u32, extra: &[u64], entry: u64, context: u64) -> u64 {
        let Some(cpu) = self.cpus.get(self.this_cpu) else {
            return PSCI_INVALID_PARAMETERS;
        };
        // A standby state never uses the entry point, but EL3 vets it for every call too.
        if !(self.host_owns)(entry) {
            return PSCI_INVALID_ADDRESS;
        }
        // Only this CPU uses its own resume slot, so no claim is needed. If the state is a
        // standby or EL3 refuses, the SMC returns here and the slot is simply unused.
        cpu.resume_entry.set(entry, context);
        let mut args = [0u64; 3];
        args[..extra.len()].copy_from_slice(extra);
        args[extra.len()] = self.entries.resume;
        args[extra.len() + 1] = cpu.context_id();
        self.monitor.call(fid, &args[..extra.len() + 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::fake::FakeMonitor;
    use smccc::psci::{PSCI_CPU_OFF, PSCI_SYSTEM_OFF, PSCI_VERSION};

    const ENTRIES: WarmEntries = WarmEntries { cpu_on: 0x6000_1000, resume: 0x6000_2000 };

    /// The host's RAM in these tests: 0x4000_0000..0x6000_0000 (EL2 sits above it).
    fn host_ram(pa: u64) -> bool {
        (0x4000_0000..0x6000_0000).contains(&pa)
    }

    impl<M: Monitor> PsciRelay<'_, M> {
        /// `handle`, on a copy: x0..x17 afterwards.
        fn call(&mut self, mut regs: SmcRegs) -> SmcRegs {
            self.handle(&mut regs);
            regs
        }
    }

    fn regs(fid: u32, args: &[u64]) -> SmcRegs {
        let mut r = [0; 18];
        r[0] = fid.into();
        r[1..=args.len()].copy_from_slice(args);
        r
    }

    #[test]
    fn classifies_psci_ids() {
        assert!(is_psci(PSCI_VERSION));
        assert!(is_psci(PSCI_CPU_ON_64));
        assert!(is_psci(PSCI_SYSTEM_SUSPEND_32));
        assert!(!is_psci(0x8400_0020));
        assert!(!is_psci(0x8600_ff01));
    }

    #[test]
    fn cpu_on_substitutes_el2_entry_and_keeps_the_host_one() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::answering(&[0]);
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        let out = relay.call(regs(PSCI_CPU_ON_64, &[0x8000_0002, 0x4020_0000, 0xabcd]));
        assert_eq!(out[0], 0);
        let cpu2 = cpus.get(2).unwrap();
        assert_eq!(mon.calls.len(), 1);
        assert_eq!(&mon.calls[0][..4], &[PSCI_CPU_ON_64.into(), 0x8000_0002, ENTRIES.cpu_on, cpu2.context_id()]);
        assert_eq!(cpu2.on_entry.get(), (0x4020_0000, 0xabcd));
        // A second CPU_ON before the CPU has come up is refused by EL2 without asking EL3.
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[2, 0x4000_0000, 0x2]))[0], PSCI_ALREADY_ON);
        assert_eq!(mon.calls.len(), 1);
        assert_eq!(cpu2.on_entry.get(), (0x4020_0000, 0xabcd));
    }

    #[test]
    fn cpu_on_failure_releases_the_slot() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::answering(&[PSCI_ALREADY_ON, 0]);
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[1, 0x4000_0010, 0x20]))[0], PSCI_ALREADY_ON);
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[1, 0x4000_0030, 0x40]))[0], 0);
        assert_eq!(cpus.get(1).unwrap().on_entry.get(), (0x4000_0030, 0x40));
    }

    #[test]
    fn cpu_on_unknown_cpu_is_invalid() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::default();
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[0xff, 0x4000_0000, 0x20]))[0], PSCI_INVALID_PARAMETERS);
        assert!(mon.calls.is_empty());
    }

    #[test]
    fn cpu_on_32_ignores_upper_halves() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::default();
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        relay.call(regs(PSCI_CPU_ON_32, &[0xdead_0000_0000_0001, 0xffff_ffff_4000_1000, 0x1_0000_0007]));
        assert_eq!(cpus.get(1).unwrap().on_entry.get(), (0x4000_1000, 7));
    }

    #[test]
    fn suspend_substitutes_resume_entry() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::answering(&[0, 0]);
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 3, host_owns: &host_ram };
        relay.call(regs(PSCI_CPU_SUSPEND_64, &[0x1_0000, 0x4100_0000, 0x55]));
        relay.call(regs(PSCI_SYSTEM_SUSPEND_64, &[0x4200_0000, 0x66]));
        let cpu3 = cpus.get(3).unwrap();
        assert_eq!(&mon.calls[0][..4], &[PSCI_CPU_SUSPEND_64.into(), 0x1_0000, ENTRIES.resume, cpu3.context_id()]);
        assert_eq!(&mon.calls[1][..3], &[PSCI_SYSTEM_SUSPEND_64.into(), ENTRIES.resume, cpu3.context_id()]);
        assert_eq!(cpu3.resume_entry.get(), (0x4200_0000, 0x66));
    }

    #[test]
    fn everything_else_passes_through() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::answering(&[0x1_0001]);
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_VERSION, &[]))[0], 0x1_0001);
        relay.call(regs(PSCI_CPU_OFF, &[]));
        relay.call(regs(PSCI_SYSTEM_OFF, &[]));
        assert_eq!(mon.calls.len(), 3);
        assert_eq!(mon.calls[2][0], u64::from(PSCI_SYSTEM_OFF));
    }

    /// Defect 7 of issue 8: entries EL3 would refuse (0, EL2's own memory, outside RAM, a VM's
    /// memory) get INVALID_ADDRESS from EL2, and nothing reaches EL3 or the CPU's slot.
    #[test]
    fn entries_outside_host_memory_are_invalid_addresses() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::default();
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        for bad in [0, ENTRIES.cpu_on, 0x6000_0000, 0x0900_0000, 0x3fff_fffc, u64::MAX] {
            assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[1, bad, 0]))[0], PSCI_INVALID_ADDRESS, "{bad:#x}");
            assert_eq!(relay.call(regs(PSCI_CPU_SUSPEND_64, &[0x1_0000, bad, 0]))[0], PSCI_INVALID_ADDRESS);
            assert_eq!(relay.call(regs(PSCI_SYSTEM_SUSPEND_64, &[bad, 0]))[0], PSCI_INVALID_ADDRESS);
        }
        assert!(mon.calls.is_empty());
        // The slot was never claimed: a valid CPU_ON goes through.
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[1, 0x4000_0000, 0]))[0], 0);
    }

    /// Defect 9 of issue 8: a CPU_ON aimed at a CPU that has a power-down suspend pending (EL3
    /// answers ALREADY_ON) leaves that CPU's resume entry alone.
    #[test]
    fn cpu_on_does_not_clobber_a_pending_resume() {
        let cpus = CpuTable::new();
        let mut mon = FakeMonitor::answering(&[0, PSCI_ALREADY_ON]);
        // CPU 2 suspends itself...
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 2, host_owns: &host_ram };
        relay.call(regs(PSCI_CPU_SUSPEND_64, &[0x1_0002, 0x4100_0000, 0x77]));
        // ...and CPU 0 aims a CPU_ON at it before it is back.
        let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
        assert_eq!(relay.call(regs(PSCI_CPU_ON_64, &[2, 0x4200_0000, 0x99]))[0], PSCI_ALREADY_ON);
        assert_eq!(cpus.get(2).unwrap().resume_entry.get(), (0x4100_0000, 0x77));
    }

    /// Found by fuzzing (`el2/tests/fuzz_host_calls.rs`): with the SVE hint bit set in x0, the
    /// calls that carry an entry point went to EL3 unchanged, with the host's entry point, which
    /// TF-A (masking the hint, as SMCCC 1.3 says) honoured: the CPU entered the host at EL2.
    #[test]
    fn the_sve_hint_does_not_hide_an_entry_point() {
        const HINT: u32 = 1 << 16;
        for (fid, args, at, ours) in [
            (PSCI_CPU_ON_64, &[1, 0x4000_0000, 0x20][..], 2, ENTRIES.cpu_on),
            (PSCI_CPU_ON_32, &[1, 0x4000_0000, 0x20], 2, ENTRIES.cpu_on),
            (PSCI_CPU_SUSPEND_64, &[0x1_0000, 0x4100_0000, 0x55], 2, ENTRIES.resume),
            (PSCI_CPU_SUSPEND_32, &[0x1_0000, 0x4100_0000, 0x55], 2, ENTRIES.resume),
            (PSCI_SYSTEM_SUSPEND_64, &[0x4200_0000, 0x66], 1, ENTRIES.resume),
            (PSCI_SYSTEM_SUSPEND_32, &[0x4200_0000, 0x66], 1, ENTRIES.resume),
        ] {
            let cpus = CpuTable::new();
            let mut mon = FakeMonitor::default();
            let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
            assert_eq!(relay.call(regs(fid | HINT, args))[0], 0);
            assert_eq!(mon.calls.len(), 1);
            assert_eq!(mon.calls[0][at], ours, "{fid:#x}: EL3 must get EL2's entry point");
            // And outside the host's memory it is refused like any other.
            let mut relay = PsciRelay { monitor: &mut mon, cpus: &cpus, entries: ENTRIES, this_cpu: 0, host_owns: &host_ram };
            let mut bad = args.to_vec();
            bad[at - 1] = 0x6000_0000;
            assert_eq!(relay.call(regs(fid | HINT, &bad))[0], PSCI_INVALID_ADDRESS, "{fid:#x}");
            assert_eq!(mon.calls.len(), 1);
        }
    }
}
