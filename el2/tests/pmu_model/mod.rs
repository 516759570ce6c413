// SPDX-License-Identifier: MIT OR Apache-2.0

//! What the PMU fuzz properties share: a random CPU (N counters, the partitioning policy, whatever
//! the host left in the counters before EL2 started), the host's own writes to its counters, and
//! the layout invariants of docs/design.md section 11 that must hold after every step.

#![allow(dead_code, reason = "each fuzz test uses part of it")]

use el2::pmu::hw::PmuHw;
use el2::pmu::{CpuPartition, FakePmu, PmuConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use smc_interface::Enforcement;

/// The cycle counter's bit in PMCNTEN*, PMINTEN*, PMOVS*: the host's, always.
pub const CYCLE: u32 = 1 << 31;

/// A CPU as the boot code would find it.
#[derive(Clone, Debug)]
pub struct Cpu {
    pub n: u8,
    pub pmu_version: u8,
    pub hpmn0: bool,
    pub host_minimum: u8,
    pub boot_reserved: u8,
    pub width32: bool,
    /// What the counters hold before EL2 sets the layout up (firmware before it, a previous boot).
    pub values: [u64; 31],
    pub types: [u64; 31],
    pub cnten: u32,
    pub inten: u32,
    pub ovs: u32,
}

pub fn cpu() -> impl Strategy<Value = Cpu> {
    (
        (1u8..=31, prop::sample::select(vec![1u8, 4, 5, 6, 7, 8, 0xf]), any::<bool>(), 0u8..=31, 0u8..=31, any::<bool>()),
        (prop::array::uniform31(counter_value()), prop::array::uniform31(any::<u64>()), any::<u32>(), any::<u32>(), any::<u32>()),
    )
        .prop_map(|((n, pmu_version, hpmn0, host_min, boot, width32), (values, types, cnten, inten, ovs))| Cpu {
            n,
            pmu_version,
            hpmn0,
            // Mostly values that make a valid policy, sometimes any.
            host_minimum: host_min % (n + 1),
            boot_reserved: if boot < 24 { boot % (n + 1) } else { boot },
            width32,
            values,
            types,
            cnten,
            inten,
            ovs,
        })
}

/// Counter values on the edges (0, the 32-bit and 64-bit wrap) and anywhere.
pub fn counter_value() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(0xffff_ffff), Just(u64::MAX), any::<u64>()]
}

impl Cpu {
    /// PMU_INFO's policy, or why the boot code refuses it.
    pub fn config(&self) -> Result<PmuConfig, el2::pmu::ConfigError> {
        PmuConfig::new(self.n, self.pmu_version, self.hpmn0, true, false, Enforcement::Trapped, self.host_minimum, self.boot_reserved)
    }

    /// The PMU as EL2 finds it: the counters hold junk, HPMN = N.
    pub fn hw(&self) -> FakePmu {
        let mut hw = FakePmu::new(self.n);
        hw.width = if self.width32 { 32 } else { 64 };
        let valid = all(self.n);
        for i in 0..self.n {
            hw.write_counter(i, self.values[i as usize]);
            hw.write_type(i, self.types[i as usize]);
        }
        // The cycle counter is on for the host whatever it left elsewhere.
        hw.cnten = self.cnten & valid | CYCLE;
        hw.inten = self.inten & valid;
        hw.ovs = self.ovs & valid;
        hw
    }
}

/// Every event counter of a CPU with `n`.
pub fn all(n: u8) -> u32 {
    low(n)
}

/// Counters [0, h).
pub fn low(h: u8) -> u32 {
    if h >= 32 { u32::MAX } else { (1u32 << h) - 1 }
}

/// A write the host makes to its PMU registers at EL1.
#[derive(Clone, Copy, Debug)]
pub enum HostWrite {
    CntenSet(u32),
    CntenClr(u32),
    IntenSet(u32),
    IntenClr(u32),
    OvsSet(u32),
    OvsClr(u32),
    Type(u8, u64),
    Value(u8, u64),
}

pub fn host_write() -> impl Strategy<Value = HostWrite> {
    use HostWrite::*;
    // Masks: a single counter (as perf sets them) or any bits.
    let mask = || prop_oneof![(0u32..32).prop_map(|b| 1u32 << b), any::<u32>()];
    prop_oneof![
        mask().prop_map(CntenSet),
        mask().prop_map(CntenClr),
        mask().prop_map(IntenSet),
        mask().prop_map(IntenClr),
        mask().prop_map(OvsSet),
        mask().prop_map(OvsClr),
        (0u8..31, any::<u64>()).prop_map(|(n, v)| Type(n, v)),
        (0u8..31, counter_value()).prop_map(|(n, v)| Value(n, v)),
    ]
}

impl HostWrite {
    /// Applies the write as the CPU does for EL1 when it keeps EL1 below HPMN (`enforced`): bits
    /// and counters at and above HPMN are out of reach (RAZ/WI, or trapped). Not enforced, it
    /// reaches any counter the CPU has: what QEMU lets EL1 do, and what a partition does to the
    /// reserved counters while it runs on them. The cycle counter (bit 31) is the host's always.
    pub fn apply(self, hw: &mut FakePmu, enforced: bool) {
        let reach = if enforced { low(hw.hpmn()) } else { all(hw.counters()) } | CYCLE;
        let counter = |n: u8| n < hw.counters() && reach & (1 << n) != 0;
        match self {
            HostWrite::CntenSet(m) => hw.cnten |= m & reach,
            HostWrite::CntenClr(m) => hw.cnten &= !(m & reach),
            HostWrite::IntenSet(m) => hw.inten |= m & reach,
            HostWrite::IntenClr(m) => hw.inten &= !(m & reach),
            HostWrite::OvsSet(m) => hw.ovs |= m & reach,
            HostWrite::OvsClr(m) => hw.ovs &= !(m & reach),
            HostWrite::Type(n, v) if counter(n) => hw.write_type(n, v),
            HostWrite::Value(n, v) if counter(n) => hw.write_counter(n, v),
            HostWrite::Type(..) | HostWrite::Value(..) => {}
        }
    }
}

/// The layout of design.md section 11 on this CPU: the host owns [0, H) and HPMN = H; partitions
/// own the rest, the boot reservation at the very top and PMU_RESERVE's grant just below it; the
/// host keeps at least its minimum; the cycle counter is never reserved (that EL2 leaves its bits
/// alone is `check_untouched`'s part).
pub fn check_layout(cfg: &PmuConfig, cpu: &CpuPartition, hw: &FakePmu) -> Result<(), TestCaseError> {
    let h = cpu.host_counters();
    let status = cpu.status(cfg);
    let host = low(h);
    let reserved = cpu.reserved_mask(cfg);
    prop_assert_eq!(hw.hpmn(), h, "HPMN is the host's counter count");
    prop_assert_eq!(host & reserved, 0, "a counter both the host's and reserved");
    prop_assert_eq!(host | reserved, all(cfg.counters), "a counter nobody owns");
    prop_assert!(h >= cfg.host_minimum, "the host below its minimum: {} < {}", h, cfg.host_minimum);
    let boot = cfg.boot_reserved_mask();
    prop_assert_eq!(boot, all(cfg.counters) & !low(cfg.counters - cfg.boot_reserved));
    prop_assert_eq!(status.dynamic_mask, reserved & !boot, "PMU_RESERVE's grant is what is not boot's");
    prop_assert_eq!(status.reserved_mask, reserved);
    prop_assert_eq!(status.host_counters, h);
    prop_assert_eq!(reserved & CYCLE, 0);
    Ok(())
}

/// Every counter of `mask` in its reset state: value 0, event type 0, no enable, no interrupt
/// enable, no overflow.
pub fn check_reset(hw: &FakePmu, mask: u32, what: &str) -> Result<(), TestCaseError> {
    for n in el2::pmu::hw::counters_in(mask) {
        prop_assert_eq!((hw.values[n as usize], hw.types[n as usize]), (0, 0), "{}: counter {} not reset", what, n);
    }
    prop_assert_eq!((hw.cnten | hw.inten | hw.ovs) & mask, 0, "{}: enable/interrupt/overflow bits left", what);
    Ok(())
}

/// Everything outside `mask` is as in `before`: a call that acts on `mask` touches nothing else.
pub fn check_untouched(before: &FakePmu, hw: &FakePmu, mask: u32, what: &str) -> Result<(), TestCaseError> {
    for n in 0..hw.n {
        if mask & (1 << n) == 0 {
            let i = n as usize;
            prop_assert_eq!((hw.values[i], hw.types[i]), (before.values[i], before.types[i]), "{}: counter {} changed", what, n);
        }
    }
    for (name, a, b) in [("PMCNTEN", before.cnten, hw.cnten), ("PMINTEN", before.inten, hw.inten), ("PMOVS", before.ovs, hw.ovs)] {
        prop_assert_eq!(a & !mask, b & !mask, "{}: {} bits outside the counters it acts on", what, name);
    }
    prop_assert_eq!((before.pmcr_value, before.selr_value, before.userenr_value), (hw.pmcr_value, hw.selr_value, hw.userenr_value));
    Ok(())
}

/// The PMU as a whole, for "a refusal changes nothing": every field, through `Debug`, so a field
/// added to the fake later is compared too.
pub fn snapshot(hw: &FakePmu) -> String {
    format!("{hw:?}")
}
