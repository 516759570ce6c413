// SPDX-License-Identifier: MIT OR Apache-2.0

//! A PMU in memory, for tests (ours, and those of crates that drive EL2's logic in process, like
//! host-driver): feature `fakes`, as arm-sysregs does it.

use super::hw::{PmuHw, counters_in};

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
    /// MDCR_EL2.HPMD (a PMUv3p1 or later CPU whose host config sets it).
    pub hpmd: bool,
    /// MDCR_EL2.TPM and TPMCR (set while a guest runs, until a direct-mode load clears them).
    pub partition_trapped: bool,
    /// The direct mode's fine-grained traps are on.
    pub fgt_traps: bool,
    /// PMCEID0_EL0 and PMCEID1_EL0.
    pub ceid: [u64; 2],
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
            hpmd: true,
            // SW_INCR, INST_RETIRED, CPU_CYCLES and a few more, as QEMU's cortex-a57 has them.
            ceid: [0x0000_0000_6002_4121, 0x0000_0000_0000_0000],
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
    fn set_hpmn_and_el2_counters(&mut self, hpmn: u8, enabled: bool, long: bool) {
        self.set_hpmn(hpmn);
        self.hpme = enabled;
        self.hlp = long;
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
    fn el2_prohibited(&self) -> bool {
        self.hpmd
    }
    fn event_ids(&self, n: u8) -> u64 {
        self.ceid[usize::from(n & 1)]
    }
    fn trap_partition(&mut self, trap: bool, fgt: bool) {
        self.partition_trapped = trap;
        self.fgt_traps = fgt && !trap;
    }
}
