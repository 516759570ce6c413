// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PMU registers EL2 uses to hand counters over, as a small trait: the partition logic runs
//! unchanged on the CPU (`arch::pmu_regs`) and on [`FakePmu`] in host tests and in the host
//! driver's in-process model of EL2.

/// EL2's view of this CPU's PMU. Counter masks have bit n for event counter n; bit 31 (the cycle
/// counter) is never part of a partition and never touched through these methods' masks.
pub trait PmuHw {
    /// PMCR_EL0.N as EL2 reads it: every event counter the CPU has.
    fn counters(&self) -> u8;
    fn read_counter(&self, n: u8) -> u64;
    fn write_counter(&mut self, n: u8, value: u64);
    fn read_type(&self, n: u8) -> u64;
    fn write_type(&mut self, n: u8, value: u64);
    /// PMCNTENSET_EL0.
    fn enabled(&self) -> u32;
    fn disable(&mut self, mask: u32);
    /// PMINTENSET_EL1.
    fn interrupts(&self) -> u32;
    fn disable_interrupts(&mut self, mask: u32);
    /// PMOVSSET_EL0.
    fn overflows(&self) -> u32;
    fn clear_overflows(&mut self, mask: u32);
    /// MDCR_EL2.HPMN, the first counter EL1 and EL0 cannot see.
    fn hpmn(&self) -> u8;
    fn set_hpmn(&mut self, hpmn: u8);

    // What the partition world switch and the trap emulator need besides.

    /// PMCNTENSET_EL0 / PMINTENSET_EL1 / PMOVSSET_EL0 writes.
    fn enable(&mut self, mask: u32);
    fn enable_interrupts(&mut self, mask: u32);
    fn set_overflows(&mut self, mask: u32);
    /// PMCR_EL0 as a whole.
    fn pmcr(&self) -> u64;
    fn set_pmcr(&mut self, value: u64);
    /// MDCR_EL2.HPME (counters at and above HPMN count) and MDCR_EL2.HLP (they are 64-bit).
    fn set_el2_counters(&mut self, enabled: bool, long: bool);
    /// PMCNTENSET_EL0.C (bit 31): the host's cycle counter enable, kept apart from the event
    /// counter masks above. Only the partition world switch touches it.
    fn cycle_counter_enabled(&self) -> bool;
    fn enable_cycle_counter(&mut self, on: bool);
    /// PMSELR_EL0 and PMUSERENR_EL0: EL0/EL1 state a partition owns while its PMU is loaded.
    fn selr(&self) -> u64;
    fn set_selr(&mut self, value: u64);
    fn userenr(&self) -> u64;
    fn set_userenr(&mut self, value: u64);
    /// Whether a partition's PMU accesses trap (MDCR_EL2.TPM and TPMCR) or, in the direct mode,
    /// reach its counters; `fgt`: the CPU has FEAT_FGT, whose traps (`pmu::fgt`) are on exactly
    /// when the others are off.
    fn trap_partition(&mut self, trap: bool, fgt: bool);
}

/// Returns every counter in `mask` to its reset state: not counting, no interrupt, no overflow,
/// event type 0 (filters included) and value 0. Nothing of what it counted remains.
pub fn scrub(hw: &mut impl PmuHw, mask: u32) {
    hw.disable(mask);
    hw.disable_interrupts(mask);
    for n in counters_in(mask) {
        hw.write_type(n, 0);
        hw.write_counter(n, 0);
    }
    hw.clear_overflows(mask);
}

/// The counter indices in `mask`, lowest first.
pub fn counters_in(mask: u32) -> impl Iterator<Item = u8> {
    (0..31u8).filter(move |n| mask & (1 << n) != 0)
}

/// PMCNTENSET_EL0.C, the cycle counter's enable.
const CYCLE_COUNTER: u32 = 1 << 31;

/// A PMU in memory, for tests: registers behave as the architecture says for EL2 (all counters
/// visible), with counters of `width` bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FakePmu {
    pub n: u8,
    pub selr_value: u64,
    pub userenr_value: u64,
    pub pmcr_value: u64,
    pub hpme: bool,
    pub hlp: bool,
    pub values: [u64; 31],
    pub types: [u64; 31],
    pub cnten: u32,
    pub inten: u32,
    pub ovs: u32,
    pub hpmn_value: u8,
    pub width: u32,
    /// The cycle counter's value; its enable is bit 31 of `cnten` (PMCNTENSET_EL0.C).
    pub ccntr: u64,
    /// MDCR_EL2.TPM and TPMCR (set while a guest runs, until a direct-mode load clears them).
    pub partition_trapped: bool,
    /// The direct mode's fine-grained traps are on.
    pub fgt_traps: bool,
}

impl FakePmu {
    pub fn new(n: u8) -> Self {
        Self {
            n,
            selr_value: 0,
            userenr_value: 0,
            pmcr_value: u64::from(n) << 11,
            hpme: false,
            hlp: false,
            values: [0; 31],
            types: [0; 31],
            cnten: 0,
            inten: 0,
            ovs: 0,
            hpmn_value: n,
            width: 64,
            ccntr: 0,
            partition_trapped: true,
            fgt_traps: false,
        }
    }

    fn valid(&self) -> u32 {
        (1u32 << self.n) - 1
    }

    /// PMSWINC_EL0 written at EL1 or EL0 (the host's software increments, in tests).
    pub fn software_increment(&mut self, mask: u32) {
        for n in counters_in(mask & self.valid() & self.cnten) {
            // Counting rules of the architecture: [0, HPMN) need PMCR_EL0.E, the rest HPME.
            let on = if n < self.hpmn_value { self.pmcr_value & 1 != 0 } else { self.hpme };
            if on && self.types[n as usize] & 0xffff == 0 {
                self.values[n as usize] = self.values[n as usize].wrapping_add(1);
            }
        }
    }

    /// `cycles` processor cycles at EL1 or EL0 (the host's or a partition's, in tests): the cycle
    /// counter and every counter of event CPU_CYCLES (0x11) count them when the architecture says
    /// they count: the cycle counter and [0, HPMN) need PMCR_EL0.E, [HPMN, N) need HPME.
    pub fn run_cycles(&mut self, cycles: u64) {
        if self.pmcr_value & 1 != 0 && self.cnten & CYCLE_COUNTER != 0 {
            self.ccntr = self.ccntr.wrapping_add(cycles);
        }
        for n in counters_in(self.valid() & self.cnten) {
            let on = if n < self.hpmn_value { self.pmcr_value & 1 != 0 } else { self.hpme };
            if on && self.types[n as usize] & 0xffff == 0x11 {
                self.values[n as usize] = self.values[n as usize].wrapping_add(cycles);
            }
        }
    }

    /// A counter as the host would leave it while using it.
    pub fn program(&mut self, n: u8, event: u64, value: u64) {
        self.types[n as usize] = event;
        self.values[n as usize] = value;
        self.cnten |= 1 << n;
        self.inten |= 1 << n;
    }
}

impl PmuHw for FakePmu {
    fn counters(&self) -> u8 {
        self.n
    }
    fn read_counter(&self, n: u8) -> u64 {
        self.values[n as usize]
    }
    fn write_counter(&mut self, n: u8, value: u64) {
        let mask = if self.width == 64 { u64::MAX } else { (1 << self.width) - 1 };
        self.values[n as usize] = value & mask;
    }
    fn read_type(&self, n: u8) -> u64 {
        self.types[n as usize]
    }
    fn write_type(&mut self, n: u8, value: u64) {
        self.types[n as usize] = value;
    }
    fn enabled(&self) -> u32 {
        self.cnten
    }
    fn disable(&mut self, mask: u32) {
        self.cnten &= !(mask & self.valid());
    }
    fn interrupts(&self) -> u32 {
        self.inten
    }
    fn disable_interrupts(&mut self, mask: u32) {
        self.inten &= !(mask & self.valid());
    }
    fn overflows(&self) -> u32 {
        self.ovs
    }
    fn clear_overflows(&mut self, mask: u32) {
        self.ovs &= !(mask & self.valid());
    }
    fn hpmn(&self) -> u8 {
        self.hpmn_value
    }
    fn set_hpmn(&mut self, hpmn: u8) {
        self.hpmn_value = hpmn;
    }
    fn enable(&mut self, mask: u32) {
        self.cnten |= mask & self.valid();
    }
    fn enable_interrupts(&mut self, mask: u32) {
        self.inten |= mask & self.valid();
    }
    fn set_overflows(&mut self, mask: u32) {
        self.ovs |= mask & self.valid();
    }
    fn pmcr(&self) -> u64 {
        (self.pmcr_value & !(0x1f << 11)) | (u64::from(self.n) << 11)
    }
    fn set_pmcr(&mut self, value: u64) {
        self.pmcr_value = value & !(0x1f << 11);
    }
    fn set_el2_counters(&mut self, enabled: bool, long: bool) {
        self.hpme = enabled;
        self.hlp = long;
    }
    fn cycle_counter_enabled(&self) -> bool {
        self.cnten & CYCLE_COUNTER != 0
    }
    fn enable_cycle_counter(&mut self, on: bool) {
        self.cnten = (self.cnten & !CYCLE_COUNTER) | if on { CYCLE_COUNTER } else { 0 };
    }
    fn selr(&self) -> u64 {
        self.selr_value
    }
    fn set_selr(&mut self, value: u64) {
        self.selr_value = value;
    }
    fn userenr(&self) -> u64 {
        self.userenr_value
    }
    fn set_userenr(&mut self, value: u64) {
        self.userenr_value = value;
    }
    fn trap_partition(&mut self, trap: bool, fgt: bool) {
        self.partition_trapped = trap;
        self.fgt_traps = fgt && !trap;
    }
}
