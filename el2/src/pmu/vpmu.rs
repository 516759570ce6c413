// SPDX-License-Identifier: MIT OR Apache-2.0

//! A partition's PMU: its state while it is not on the CPU, the PMU half of the world switch, and
//! the trap-and-emulate path for its PMU register accesses.
//!
//! A vCPU with k counters sees PMCR_EL0.N = k and counters 0..k-1, which are the physical counters
//! 0..k-1 while it runs (HPMN = k). The host's events normally on those counters are *parked* in
//! the CPU's reserved counters for the time being (they keep counting there, above HPMN, enabled
//! by MDCR_EL2.HPME), and come back on exit with their counts, enables and overflow flags. A host
//! counter that does nothing meanwhile (disabled, no overflow interrupt waiting) is not parked:
//! its event type and value wait in EL2's memory, which costs a quarter of the PMU register
//! accesses (Linux leaves the counters it has no event for disabled). Host events on counters
//! k..H-1 stay where they are and keep counting. EL2's own execution is not counted, so moving a
//! counter loses nothing.
//!
//! A vCPU's PMU is loaded at the start of a run if it is active (its E and an enable, or an
//! overflow interrupt to raise), since its counters must count from the run's first instruction;
//! otherwise lazily, when it first touches it during the run (the first access traps in both
//! modes, so EL2 knows; in the trapped mode, its first write: a read of a PMU that is not loaded is
//! answered from its state here). It is put back when the run ends.
//!
//! The cycle counter is the host's: a partition has none (its PMCCNTR_EL0, PMCCFILTR_EL0 and bit 31
//! of its masks read as zero and ignore writes). The partition's E is virtual: its counters are
//! physically enabled only while its E and its PMCNTENSET bits say so, and the physical E, which
//! gates [0, HPMN) = the partition's counters, is on while its PMU is loaded, whatever the host's
//! E (Linux leaves it clear while perf has no event on the CPU). The physical E also gates the
//! host's cycle counter, so a host whose E is clear has its cycle counter's enable set aside for
//! the run, and MDCR_EL2.HPME, which runs the host's events above HPMN, follows the host's E: a
//! host whose E is clear has nothing counting, before, during and after the run.

use super::hw::{PmuHw, controls_off, counters_in, zero_types_and_values};

/// How a loaded partition reaches its counters: the enforcement mode as applied on a CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// Every PMU access traps (MDCR_EL2.TPM, TPMCR) and is emulated.
    #[default]
    Trapped,
    /// Its counters below HPMN are its own, with no trap; `fgt`: the CPU has FEAT_FGT, and
    /// what HPMN does not fence traps through it (`pmu::fgt`). Without FGT, PMCR_EL0 and PMCNTEN*
    /// are the partition's too ([`Access::direct_enables`]).
    Direct { fgt: bool },
}

impl Access {
    /// The partition writes PMCR_EL0 and PMCNTEN* to the hardware itself (the direct mode on a CPU
    /// without FGT to trap them): its E is then the physical E, which also gates the host's cycle
    /// counter, a documented limit of that configuration.
    pub fn direct_enables(self) -> bool {
        self == Access::Direct { fgt: false }
    }
}

/// PMEVTYPER bits a partition may not set: counting at EL2 (NSH), at EL3 (M), or in Secure state
/// (SH). Its events count at EL1 and EL0 only.
const TYPE_FORBIDDEN: u64 = TYPE_NSH | (1 << 26) | (1 << 24);
const TYPE_NSH: u64 = 1 << 27;
/// PMCR_EL0 bits a partition controls: E, LC (bit 6), LP (bit 7), DP (5), X (4), D (3).
const PMCR_GUEST_BITS: u64 = 0x1 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80;
const PMCR_E: u64 = 1;
const PMCR_P: u64 = 1 << 1;
const PMCR_LP: u64 = 1 << 7;
/// The cycle counter's bit in PMCNTENSET_EL0 and the other counter masks.
const CYCLE_COUNTER: u32 = 1 << 31;
/// PMCEID0_EL0's bit for CPU_CYCLES (event 0x11).
const CEID0_CPU_CYCLES: u64 = 1 << 0x11;

/// A partition's PMU when it is not loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VPmu {
    /// Counters the partition has (its PMCR_EL0.N).
    pub k: u8,
    pub pmcr: u64,
    pub selr: u64,
    pub userenr: u64,
    pub values: [u64; 31],
    pub types: [u64; 31],
    pub cnten: u32,
    pub inten: u32,
    pub ovs: u32,
    /// Counters whose overflow interrupt EL2 is delivering to the partition as a virtual interrupt:
    /// their physical interrupt enable is off until the partition clears the overflow, so the
    /// physical line never reaches the host meanwhile. Part of the partition's PMINTENSET view.
    pub irq_masked: u32,
    /// On the CPU now (between `load` and `put`).
    pub loaded: bool,
    /// How it was loaded (see [`Access::direct_enables`]); `Trapped` while not loaded.
    access: Access,
    /// While loaded: the event types and values of the host's idle counters under the partition's
    /// ([`HostPmu::idle`]). Kept with the partition, which is loaded on one CPU at a time, rather
    /// than in `HostPmu`, which a run carries by value and would have to initialise each time.
    host_idle: [(u64, u64); 31],
}

/// What the host had on the CPU before a partition's PMU was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostPmu {
    pmcr: u64,
    selr: u64,
    userenr: u64,
    hpmn: u8,
    /// The host's enabled counters among those parked.
    enabled: u32,
    /// How the partition reached its counters while loaded: undone on put.
    access: Access,
    /// The host counters parked: the j-th of them went to the j-th counter of `parking`, lowest
    /// first (two masks, not a table, so that this stays small enough to pass around in
    /// registers).
    parked: u32,
    /// The host counters under the partition's that were idle: disabled, with no overflow
    /// interrupt waiting. Their types and values are in `VPmu::host_idle`, their interrupt
    /// enables and overflow flags in `idle_interrupts` and `idle_overflows`.
    idle: u32,
    idle_interrupts: u32,
    idle_overflows: u32,
    /// The reserved counters outside the partition's range: controls reset on load and on put.
    parking: u32,
    /// The parking place's counters that held a host event, whose types and values put resets
    /// (load reset the rest, which nothing writes during the run).
    parked_into: u32,
    /// Parked host events whose filter counted EL2 (NSH), cleared while they are parked.
    nsh: u32,
    /// Host events left in place on [k, H) whose NSH is cleared for the run, likewise.
    nsh_in_place: u32,
    /// The host's cycle counter enable (PMCNTENSET_EL0.C), given back on put.
    cycles: bool,
}

impl VPmu {
    pub fn new(k: u8) -> Self {
        Self { k, ..Default::default() }
    }

    /// Whether its PMU does anything while the partition runs, touched or not: with its E on, a
    /// counter counts (one of its enables), or an overflow interrupt waits to be raised (its
    /// overflow flag and interrupt enable, not yet delivered). Such a PMU has to be on the CPU for
    /// the whole of a run.
    pub fn active(&self) -> bool {
        if self.pmcr & PMCR_E == 0 {
            return false;
        }
        (self.cnten | (self.ovs & self.inten & !self.irq_masked)) & self.mask() != 0
    }

    fn mask(&self) -> u32 {
        if self.k == 0 { 0 } else { (1u32 << self.k) - 1 }
    }

    /// Puts the partition's counters on the CPU. `reserved` is the CPU's reserved mask (the
    /// parking place); `host_counters` the host's share H; `access` how the partition reaches
    /// them from now until `put` (the enforcement mode, applied here and nowhere else).
    /// Returns what `put` needs.
    pub fn load(&mut self, hw: &mut impl PmuHw, reserved: u32, host_counters: u8, access: Access) -> HostPmu {
        let mut host = HostPmu {
            pmcr: hw.pmcr(),
            selr: hw.selr(),
            userenr: hw.userenr(),
            hpmn: host_counters,
            access,
            ..Default::default()
        };
        let host_counting = host.pmcr & PMCR_E != 0;
        let mask = self.mask();
        // The parking place: reserved counters outside the partition's range. With k > H the
        // lowest reserved counters are the partition's own, so they cannot be it. It is always
        // big enough: the reserved counters are [H, N) and k <= N - H, so [max(H, k), N) has
        // N - max(H, k) >= min(H, k) counters, one for each host event to park.
        let parking = reserved & !mask;
        host.parking = parking;
        // Nothing in the reserved counters is anybody's now, whatever the host wrote there (a
        // CPU that does not enforce HPMN lets it) or left in their interrupt-enable and overflow
        // bits: HPME is about to make them count, and a parked event picks up the bits of its
        // counter. All of them start from their reset state.
        // At most 31 (k is), said again so that the compiler sees it: the loop below then needs no
        // check of the counter number at each register access.
        let moved = self.k.min(host_counters).min(31);
        // HPMD (where the host has it) keeps EL2 out of the counters below HPMN only. With the
        // partition's PMU loaded, HPMN = k and every host event sits at or above it, parked or in
        // place on [k, H): their filters must do what HPMD did, so NSH (count at EL2) goes for the
        // run and comes back on put. A CPU without HPMD lets the host count EL2 anyway.
        let strip_nsh = hw.el2_prohibited();
        // The host's controls of the counters it hands over, read once, before one write turns off
        // those of the partition's counters and the parking place (so nothing there counts or
        // interrupts). The event types and values follow: the parking place's once it is known
        // which counters the parking rewrote, the partition's own before anything counts.
        let (enabled, interrupts, overflows) = (hw.enabled(), hw.interrupts(), hw.overflows());
        host.cycles = enabled & CYCLE_COUNTER != 0;
        controls_off(hw, parking | mask);
        // A host counter that counts, or whose overflow interrupt is waiting, is parked; an idle
        // one only needs its type and value kept, here in memory.
        let live = enabled | (interrupts & overflows);
        let mut parking_left = counters_in(parking);
        for i in 0..moved {
            let bit = 1u32 << i;
            let ty = hw.read_type(i);
            let value = hw.read_counter(i);
            if live & bit == 0 {
                self.host_idle[usize::from(i)] = (ty, value);
                host.idle |= bit;
                continue;
            }
            // There is always one left (see `parking` above).
            let Some(t) = parking_left.next() else { break };
            // Above HPMN, MDCR_EL2.HPMD no longer keeps EL2 out of the count (it covers
            // [0, HPMN) only): the filter has to. NSH comes back with the event on put.
            if strip_nsh && ty & TYPE_NSH != 0 {
                host.nsh |= bit;
            }
            hw.write_type(t, if strip_nsh { ty & !TYPE_NSH } else { ty });
            hw.write_counter(t, value);
            if interrupts & bit != 0 {
                hw.enable_interrupts(1 << t);
            }
            if overflows & bit != 0 {
                hw.set_overflows(1 << t);
            }
            if enabled & bit != 0 {
                hw.enable(1 << t);
                host.enabled |= bit;
            }
            host.parked |= bit;
            host.parked_into |= 1 << t;
        }
        debug_assert_eq!(host.parked | host.idle, (1u32 << moved) - 1, "no parking place for every host counter");
        host.idle_interrupts = interrupts & host.idle;
        host.idle_overflows = overflows & host.idle;
        // What the parking did not rewrite goes back to its reset state.
        zero_types_and_values(hw, parking & !host.parked_into);
        if strip_nsh {
            let in_place = ((1u32 << host_counters) - 1) & !mask;
            for n in counters_in(in_place) {
                let ty = hw.read_type(n);
                if ty & TYPE_NSH != 0 {
                    hw.write_type(n, ty & !TYPE_NSH);
                    host.nsh_in_place |= 1 << n;
                }
            }
        }
        // The physical E is about to be on (or the partition's): the host's cycle counter, which
        // it gates too, must not start counting for a host whose E is clear.
        if !host_counting {
            hw.enable_cycle_counter(false);
        }
        // HPMN = k: the parked events, and the host's events in place on [k, H), count above it,
        // with the host's counter width, if the host's E says its events count at all.
        hw.set_hpmn_and_el2_counters(self.k, host_counting, host.pmcr & PMCR_LP != 0);
        for n in counters_in(mask) {
            hw.write_type(n, self.types[n as usize]);
            hw.write_counter(n, self.values[n as usize]);
        }
        hw.set_overflows(self.ovs & mask);
        hw.enable_interrupts(self.inten & mask & !self.irq_masked);
        if host.access.direct_enables() {
            hw.enable(self.cnten & mask);
            hw.set_pmcr((host.pmcr & !PMCR_GUEST_BITS) | (self.pmcr & PMCR_GUEST_BITS));
        } else {
            if self.pmcr & PMCR_E != 0 {
                hw.enable(self.cnten & mask);
            }
            // The partition's counter width (LP: counters below HPMN) and the physical E on, so
            // that its counters count as its virtual E and its enables say; the cycle counter's
            // bits stay the host's.
            hw.set_pmcr((host.pmcr & !PMCR_LP) | (self.pmcr & PMCR_LP) | PMCR_E);
        }
        // The partition's PMSELR and PMUSERENR (live for it in the direct mode).
        hw.set_selr(self.selr);
        hw.set_userenr(self.userenr);
        if let Access::Direct { fgt } = access {
            // From now on the partition's own counters are its to touch: HPMN = k, and the CPU
            // keeps it out of the rest. What HPMN does not fence keeps trapping (`pmu::fgt`).
            hw.trap_partition(false, fgt);
        }
        self.access = access;
        self.loaded = true;
        host
    }

    /// Takes the partition's counters off the CPU (saved here, scrubbed there) and gives the host
    /// back exactly what it had.
    pub fn put(&mut self, hw: &mut impl PmuHw, host: &HostPmu) {
        if let Access::Direct { fgt } = host.access {
            hw.trap_partition(true, fgt);
        }
        let mask = self.mask();
        // Only the direct mode lets the partition write its event types, PMSELR and PMUSERENR
        // without EL2 seeing it; trapped, EL2 kept them as it emulated the writes.
        let direct = matches!(host.access, Access::Direct { .. });
        for n in counters_in(mask) {
            self.values[n as usize] = hw.read_counter(n);
            if direct {
                self.types[n as usize] = hw.read_type(n);
            }
        }
        if host.access.direct_enables() {
            self.pmcr = (self.pmcr & !PMCR_GUEST_BITS) | (hw.pmcr() & PMCR_GUEST_BITS);
            self.cnten = hw.enabled() & mask;
        } else if self.pmcr & PMCR_E != 0 {
            // Physical enables mirror the partition's while its E is on.
            self.cnten = hw.enabled() & mask;
        }
        // Everything the switch moved stops here, the partition's counters and the parked events
        // (at EL2, which the partition's events never count, and the host's only where the CPU
        // has no HPMD). Their interrupt enables and overflow flags are read once for both, after
        // that, so that no overflow comes between the read and the clear.
        let switched = mask | host.parking;
        hw.disable(switched);
        let (interrupts, overflows) = (hw.interrupts(), hw.overflows());
        hw.disable_interrupts(switched);
        hw.clear_overflows(switched);
        self.inten = (interrupts | self.irq_masked) & mask;
        self.ovs = overflows & mask;
        if direct {
            self.selr = hw.selr() & 0x1f;
            self.userenr = hw.userenr() & 0xf;
        }
        // The partition's event types and values go, except where a host event comes back below.
        zero_types_and_values(hw, mask & !(host.parked | host.idle));
        hw.set_pmcr(host.pmcr);
        // After the host's E is back: its cycle counter counts again only if the host's E says so.
        hw.enable_cycle_counter(host.cycles);
        hw.set_selr(host.selr);
        hw.set_userenr(host.userenr);
        // The host's HPMN, and nothing above it counts any more.
        hw.set_hpmn_and_el2_counters(host.hpmn, false, false);
        for (i, t) in counters_in(host.parked).zip(counters_in(host.parking)) {
            let bit = 1u32 << t;
            let nsh = if host.nsh & (1 << i) != 0 { TYPE_NSH } else { 0 };
            hw.write_type(i, hw.read_type(t) | nsh);
            hw.write_counter(i, hw.read_counter(t));
            if interrupts & bit != 0 {
                hw.enable_interrupts(1 << i);
            }
            if overflows & bit != 0 {
                hw.set_overflows(1 << i);
            }
            if host.enabled & (1 << i) != 0 {
                hw.enable(1 << i);
            }
        }
        for i in counters_in(host.idle) {
            let (ty, value) = self.host_idle[usize::from(i)];
            hw.write_type(i, ty);
            hw.write_counter(i, value);
        }
        hw.enable_interrupts(host.idle_interrupts);
        hw.set_overflows(host.idle_overflows);
        for n in counters_in(host.nsh_in_place) {
            hw.write_type(n, hw.read_type(n) | TYPE_NSH);
        }
        // The parking place back to its reset state: its controls went above; the types and
        // values of the counters that held a host event go now (load reset the others', and
        // nothing has written them since: they are out of the partition's reach, and the host
        // does not run).
        zero_types_and_values(hw, host.parked_into);
        self.access = Access::Trapped;
        self.loaded = false;
    }
}

// ---------------------------------------------------------------------------------------------
// Trap emulation (MDCR_EL2.TPM): decoding the syndrome, applying the access to the partition.

/// A trapped PMU register access (ESR_EL2.EC 0x18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysregAccess {
    pub op0: u8,
    pub op1: u8,
    pub crn: u8,
    pub crm: u8,
    pub op2: u8,
    pub rt: u8,
    pub read: bool,
}

impl SysregAccess {
    pub fn decode(iss: u64) -> Self {
        Self {
            op0: ((iss >> 20) & 3) as u8,
            op2: ((iss >> 17) & 7) as u8,
            op1: ((iss >> 14) & 7) as u8,
            crn: ((iss >> 10) & 0xf) as u8,
            rt: ((iss >> 5) & 0x1f) as u8,
            crm: ((iss >> 1) & 0xf) as u8,
            read: iss & 1 != 0,
        }
    }
}

/// The PMU registers, by encoding: one table for decode and documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmuReg {
    Pmcr,
    CntenSet,
    CntenClr,
    OvsClr,
    Swinc,
    Selr,
    Ceid(u8),
    Ccntr,
    XevTyper,
    XevCntr,
    Userenr,
    IntenSet,
    IntenClr,
    OvsSet,
    EvCntr(u8),
    EvTyper(u8),
    Ccfiltr,
    Mmir,
}

impl PmuReg {
    pub fn of(a: &SysregAccess) -> Option<Self> {
        use PmuReg::*;
        Some(match (a.op0, a.op1, a.crn, a.crm, a.op2) {
            (3, 3, 9, 12, 0) => Pmcr,
            (3, 3, 9, 12, 1) => CntenSet,
            (3, 3, 9, 12, 2) => CntenClr,
            (3, 3, 9, 12, 3) => OvsClr,
            (3, 3, 9, 12, 4) => Swinc,
            (3, 3, 9, 12, 5) => Selr,
            (3, 3, 9, 12, 6) => Ceid(0),
            (3, 3, 9, 12, 7) => Ceid(1),
            (3, 3, 9, 13, 0) => Ccntr,
            (3, 3, 9, 13, 1) => XevTyper,
            (3, 3, 9, 13, 2) => XevCntr,
            (3, 3, 9, 14, 0) => Userenr,
            (3, 0, 9, 14, 1) => IntenSet,
            (3, 0, 9, 14, 2) => IntenClr,
            (3, 3, 9, 14, 3) => OvsSet,
            (3, 0, 9, 14, 6) => Mmir,
            (3, 3, 14, 8..=11, op2) => EvCntr((a.crm - 8) * 8 + op2),
            (3, 3, 14, 15, 7) => Ccfiltr,
            (3, 3, 14, 12..=15, op2) => EvTyper((a.crm - 12) * 8 + op2),
            _ => return None,
        })
    }
}

/// What became of a trapped access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulated {
    /// Done; for a read, this is the value for Rt.
    Done(u64),
    /// Not allowed for this partition: an undefined instruction, as on a CPU without it.
    Undefined,
}

impl VPmu {
    /// After a physical interrupt while the partition's PMU is loaded: if its own counters have
    /// an enabled overflow, that interrupt is the partition's. Their physical interrupt enables go
    /// off (so the line drops and the host never sees it) and the caller injects the virtual PMU
    /// interrupt. Returns whether there was one.
    pub fn take_overflow_interrupt(&mut self, hw: &mut impl PmuHw) -> bool {
        let pending = hw.overflows() & hw.interrupts() & self.mask();
        if pending == 0 {
            return false;
        }
        hw.disable_interrupts(pending);
        self.irq_masked |= pending;
        true
    }

    /// In the direct mode EL2 does not see the partition clear an overflow (PMOVSCLR does not
    /// trap): before each entry, counters whose overflow was delivered and is now clear get their
    /// physical interrupt enable back.
    pub fn rearm(&mut self, hw: &mut impl PmuHw) {
        let rearm = self.irq_masked & !hw.overflows();
        if rearm != 0 {
            self.irq_masked &= !rearm;
            hw.enable_interrupts(rearm);
        }
    }

    /// PMSWINC_EL0, done by EL2 in software: a PMSWINC write at EL2 would be an event *at EL2*,
    /// which a partition's counters never count. A counter counts the increment when it is
    /// enabled (PMCR_EL0.E and its PMCNTENSET bit), counts SW_INCR (event 0), and its filter admits
    /// the partition's exception level (P for EL1, U for EL0).
    fn software_increment(&self, hw: &mut impl PmuHw, mask: u32, from_el0: bool) {
        if self.pmcr & PMCR_E == 0 {
            return;
        }
        let filter = if from_el0 { 1u64 << 30 } else { 1u64 << 31 };
        for n in counters_in(mask & self.cnten) {
            let ty = hw.read_type(n);
            if ty & 0xffff != 0 || ty & filter != 0 {
                continue;
            }
            let long = self.pmcr & PMCR_LP != 0;
            let next = hw.read_counter(n).wrapping_add(1);
            let wrapped = if long { next == 0 } else { next & 0xffff_ffff == 0 };
            hw.write_counter(n, if long { next } else { next & 0xffff_ffff });
            if wrapped {
                hw.set_overflows(1 << n);
            }
        }
    }

    /// Applies a trapped access: to the CPU's PMU with the partition's loaded, or, a read only, to
    /// what EL2 keeps of it when it is not (nothing of it counts then, so that is all of it). `value`
    /// is Rt for a write; `from_el0` says the access came from the partition's EL0, which
    /// PMUSERENR_EL0 governs.
    pub fn emulate(&mut self, hw: &mut impl PmuHw, reg: PmuReg, read: bool, value: u64, from_el0: bool) -> Emulated {
        use PmuReg::*;
        debug_assert!(self.loaded || read, "a write to a partition's PMU that is not loaded");
        let mask = self.mask();
        if from_el0 && self.userenr & 1 == 0 && !(reg == Userenr && read) {
            return Emulated::Undefined;
        }
        let done = Emulated::Done;
        let counter = |n: u8| (n < self.k).then_some(n);
        match (reg, read) {
            (Pmcr, true) => {
                let live = hw.pmcr();
                done((live & !(0x1f << 11) & !PMCR_GUEST_BITS) | (u64::from(self.k) << 11) | (self.pmcr & PMCR_GUEST_BITS))
            }
            (Pmcr, false) => {
                let was_on = self.pmcr & PMCR_E != 0;
                self.pmcr = value & PMCR_GUEST_BITS;
                if value & PMCR_P != 0 {
                    // Resets the partition's counters only, never the host's.
                    for n in counters_in(mask) {
                        hw.write_counter(n, 0);
                    }
                }
                // C (the cycle counter reset) does nothing: the cycle counter is the host's.
                let live = hw.pmcr();
                if self.access.direct_enables() {
                    // The run's first access in the direct mode without FGT: from now on the
                    // partition writes PMCR_EL0 itself, so its bits (E included) go to the
                    // hardware now, as later writes will; its enables already are physical.
                    hw.set_pmcr((live & !PMCR_GUEST_BITS) | (self.pmcr & PMCR_GUEST_BITS));
                    return done(0);
                }
                // E is applied to the partition's counters only (the physical E, on while the
                // partition's PMU is loaded, gates the host's cycle counter too).
                hw.set_pmcr((live & !PMCR_LP) | (self.pmcr & PMCR_LP));
                match (was_on, self.pmcr & PMCR_E != 0) {
                    (false, true) => hw.enable(self.cnten & mask),
                    (true, false) => hw.disable(mask),
                    _ => {}
                }
                done(0)
            }
            (CntenSet | CntenClr, true) => done(u64::from(self.cnten & mask)),
            (CntenSet, false) => {
                self.cnten |= value as u32 & mask;
                if self.pmcr & PMCR_E != 0 || self.access.direct_enables() {
                    hw.enable(value as u32 & mask);
                }
                done(0)
            }
            (CntenClr, false) => {
                self.cnten &= !(value as u32 & mask);
                hw.disable(value as u32 & mask);
                done(0)
            }
            (IntenSet | IntenClr, true) => {
                let inten = if self.loaded { hw.interrupts() | self.irq_masked } else { self.inten };
                done(u64::from(inten & mask))
            }
            (IntenSet, false) => {
                hw.enable_interrupts(value as u32 & mask & !self.irq_masked);
                done(0)
            }
            (IntenClr, false) => {
                hw.disable_interrupts(value as u32 & mask);
                self.irq_masked &= !(value as u32);
                done(0)
            }
            (OvsSet | OvsClr, true) => done(u64::from(if self.loaded { hw.overflows() } else { self.ovs } & mask)),
            (OvsSet, false) => {
                hw.set_overflows(value as u32 & mask);
                done(0)
            }
            (OvsClr, false) => {
                hw.clear_overflows(value as u32 & mask);
                // The partition has handled the overflow: its interrupt may fire again.
                let rearm = self.irq_masked & value as u32 & mask;
                self.irq_masked &= !rearm;
                hw.enable_interrupts(rearm);
                done(0)
            }
            (Swinc, false) => {
                self.software_increment(hw, value as u32 & mask, from_el0);
                done(0)
            }
            (Swinc, true) => Emulated::Undefined,
            (Selr, true) => done(self.selr),
            (Selr, false) => {
                self.selr = value & 0x1f;
                hw.set_selr(self.selr);
                done(0)
            }
            (XevTyper, _) => self.emulate(hw, if self.selr == 31 { Ccfiltr } else { EvTyper(self.selr as u8) }, read, value, false),
            (XevCntr, _) if self.selr == 31 => Emulated::Undefined,
            (XevCntr, _) => self.emulate(hw, EvCntr(self.selr as u8), read, value, false),
            (EvCntr(n), true) => counter(n).map_or(Emulated::Undefined, |n| {
                done(if self.loaded { hw.read_counter(n) } else { self.values[n as usize] })
            }),
            (EvCntr(n), false) => counter(n).map_or(Emulated::Undefined, |n| {
                hw.write_counter(n, value);
                done(0)
            }),
            (EvTyper(n), true) => counter(n).map_or(Emulated::Undefined, |n| {
                done(if self.loaded { hw.read_type(n) } else { self.types[n as usize] })
            }),
            (EvTyper(n), false) => counter(n).map_or(Emulated::Undefined, |n| {
                // Kept here too: with every access trapped, `put` need not read it back.
                self.types[n as usize] = value & !TYPE_FORBIDDEN;
                hw.write_type(n, self.types[n as usize]);
                done(0)
            }),
            (Ccntr | Ccfiltr, true) => done(0),
            (Ccntr | Ccfiltr, false) => done(0),
            (Userenr, true) => done(self.userenr),
            (Userenr, false) => {
                self.userenr = value & 0xf;
                hw.set_userenr(self.userenr);
                done(0)
            }
            // Which events exist is not a secret, and a guest's perf driver offers only the common
            // events they list (Linux refuses the others). Less CPU_CYCLES: a driver puts that on
            // the cycle counter, which is the host's and reads as zero here, so it would count
            // nothing; without it, the guest asks for cycles on an event counter, by number, or
            // not at all. PMMIR says nothing.
            (Ceid(n), true) => done(hw.event_ids(n) & if n == 0 { !CEID0_CPU_CYCLES } else { !0 }),
            (Mmir, true) => done(0),
            (Ceid(_) | Mmir, false) => Emulated::Undefined,
        }
    }
}

#[cfg(test)]
mod tests;
