// SPDX-License-Identifier: MIT OR Apache-2.0

//! Who owns which PMU counter on a CPU, and the reserve / unreserve handshake with the host.
//!
//! Layout (see docs/design.md, "PMU partitioning"): the host owns the low counters
//! [0, host_counters), which is what MDCR_EL2.HPMN is while the host runs; counters reserved for
//! partitions are the ones above, up to N. Counters reserved at boot sit at the very top and never
//! belong to the host; PMU_RESERVE takes the highest counters the host still owns, just below them,
//! so the host's share always stays one contiguous range starting at 0 — the only shape HPMN can
//! express — and the host's remaining events keep their counter indices.

use super::hw::{PmuHw, scrub};
use smc_interface::{CounterMask, Enforcement, PmuInfo, PmuStatus, SmcccError};

/// Facts about the PMU and the partitioning policy, fixed at boot: exactly what PMU_INFO
/// publishes (`counters`, `host_minimum`, `boot_reserved`, ... through `Deref`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmuConfig(PmuInfo);

impl core::ops::Deref for PmuConfig {
    type Target = PmuInfo;
    fn deref(&self) -> &PmuInfo {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    NoPmu,
    /// The boot reservation leaves the host fewer counters than its minimum.
    BootReservationTooLarge { requested: u8, allowed: u8 },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPmu => f.write_str("no PMU counters"),
            Self::BootReservationTooLarge { requested, allowed } => {
                write!(f, "boot reservation of {requested} counters is above the {allowed} allowed")
            }
        }
    }
}

impl PmuConfig {
    /// Checks the policy against the hardware; `host_minimum` is raised to 1 without FEAT_HPMN0.
    #[allow(clippy::too_many_arguments, reason = "one argument per published PMU_INFO fact")]
    pub fn new(
        counters: u8,
        pmu_version: u8,
        hpmn0: bool,
        fgt: bool,
        cpu_enforces_hpmn: bool,
        enforcement: Enforcement,
        host_minimum: u8,
        boot_reserved: u8,
    ) -> Result<Self, ConfigError> {
        if counters == 0 {
            return Err(ConfigError::NoPmu);
        }
        let host_minimum = host_minimum.max(u8::from(!hpmn0)).min(counters);
        let allowed = counters - host_minimum;
        if boot_reserved > allowed {
            return Err(ConfigError::BootReservationTooLarge { requested: boot_reserved, allowed });
        }
        // PMUv3p5 (PMUVer 6) and later have 64-bit event counters.
        let counter_bits = if pmu_version >= 6 && pmu_version != 0xf { 64 } else { 32 };
        Ok(Self(PmuInfo {
            counters,
            pmu_version,
            counter_bits,
            hpmn0,
            fgt,
            cpu_enforces_hpmn,
            enforcement,
            max_reserve: counters - boot_reserved - host_minimum,
            host_minimum,
            boot_reserved,
        }))
    }

    /// How partitions on this machine reach their counters once loaded.
    pub fn access(&self) -> super::Access {
        super::enforcement::access(self.enforcement, self.fgt)
    }

    /// What the host owns when nothing is reserved dynamically.
    pub fn host_counters_at_boot(&self) -> u8 {
        self.counters - self.boot_reserved
    }

    pub fn boot_reserved_mask(&self) -> u32 {
        CounterMask::range(self.host_counters_at_boot(), self.boot_reserved).0
    }

    pub fn info(&self) -> PmuInfo {
        self.0
    }
}

/// One CPU's partition state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuPartition {
    /// Counters the host owns: MDCR_EL2.HPMN while the host runs.
    host_counters: u8,
    /// What PMU_RESERVE granted and PMU_UNRESERVE gives back.
    dynamic: u32,
}

impl CpuPartition {
    /// Before the boot CPU has read the PMU's configuration.
    pub const UNSET: Self = Self { host_counters: 0, dynamic: 0 };

    pub fn new(cfg: &PmuConfig) -> Self {
        Self { host_counters: cfg.host_counters_at_boot(), dynamic: 0 }
    }

    pub fn host_counters(&self) -> u8 {
        self.host_counters
    }

    /// Every counter partitions own on this CPU.
    pub fn reserved_mask(&self, cfg: &PmuConfig) -> u32 {
        self.dynamic | cfg.boot_reserved_mask()
    }

    /// How many counters partitions own on this CPU: the reserved counters are always the top
    /// ones, [H, N) (boot's at the very top, a reservation just below), so this is N - H, with no
    /// population count (which AArch64 does in software before FEAT_CSSC).
    pub fn reserved_count(&self, cfg: &PmuConfig) -> u8 {
        cfg.counters - self.host_counters
    }

    pub fn status(&self, cfg: &PmuConfig) -> PmuStatus {
        PmuStatus {
            reserved_mask: self.reserved_mask(cfg),
            host_counters: self.host_counters,
            dynamic_mask: self.dynamic,
        }
    }

    /// Puts this layout in place on the CPU: every reserved counter scrubbed, HPMN set. Run each
    /// time a CPU comes (back) through EL2 before the host runs there: at boot, and after CPU_ON
    /// or a power-down suspend, when the PMU's state was lost anyway.
    pub fn apply(&self, cfg: &PmuConfig, hw: &mut impl PmuHw) {
        scrub(hw, self.reserved_mask(cfg));
        hw.set_hpmn(self.host_counters);
    }

    /// PMU_RESERVE: takes the `count` highest counters the host owns. The host must have stopped
    /// using them (PMCNTENSET and PMINTENSET clear for each): EL2 will not take a counter out from
    /// under a live host event. On success they are reset and invisible to the host. On failure
    /// nothing changes.
    pub fn reserve(&mut self, cfg: &PmuConfig, hw: &mut impl PmuHw, count: u64) -> Result<CounterMask, SmcccError> {
        if self.dynamic != 0 {
            return Err(SmcccError::AlreadyReserved);
        }
        if count == 0 || count > u64::from(cfg.max_reserve) {
            return Err(SmcccError::InvalidParameter);
        }
        let count = count as u8;
        let first = self.host_counters - count;
        let mask = CounterMask::range(first, count);
        if (hw.enabled() | hw.interrupts()) & mask.0 != 0 {
            return Err(SmcccError::Busy);
        }
        // Whatever the host left in them (values, event types, overflow flags) goes.
        scrub(hw, mask.0);
        hw.set_hpmn(first);
        self.host_counters = first;
        self.dynamic = mask.0;
        Ok(mask)
    }

    /// PMU_UNRESERVE: scrubs the counters PMU_RESERVE granted and gives them back to the host.
    pub fn unreserve(&mut self, hw: &mut impl PmuHw) -> Result<CounterMask, SmcccError> {
        if self.dynamic == 0 {
            return Err(SmcccError::NotReserved);
        }
        let mask = self.dynamic;
        scrub(hw, mask);
        self.host_counters += mask.count_ones() as u8;
        hw.set_hpmn(self.host_counters);
        self.dynamic = 0;
        Ok(CounterMask(mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pmu::FakePmu;

    fn cfg(boot: u8) -> PmuConfig {
        PmuConfig::new(6, 6, true, true, false, Enforcement::Trapped, 1, boot).unwrap()
    }

    #[test]
    fn config_limits() {
        let c = cfg(0);
        assert_eq!((c.max_reserve, c.counter_bits, c.boot_reserved_mask()), (5, 64, 0));
        let c = cfg(2);
        assert_eq!((c.max_reserve, c.boot_reserved_mask()), (3, 0b110000));
        // Without FEAT_HPMN0 the host keeps at least one counter, whatever the platform says.
        let c = PmuConfig::new(6, 1, false, false, false, Enforcement::Trapped, 0, 0).unwrap();
        assert_eq!((c.host_minimum, c.counter_bits), (1, 32));
        assert_eq!(
            PmuConfig::new(6, 6, true, true, false, Enforcement::Direct, 2, 5),
            Err(ConfigError::BootReservationTooLarge { requested: 5, allowed: 4 })
        );
        assert_eq!(PmuConfig::new(0, 6, true, true, false, Enforcement::Direct, 1, 0), Err(ConfigError::NoPmu));
    }

    #[test]
    fn boot_layout() {
        let c = cfg(2);
        let mut hw = FakePmu::new(6);
        hw.program(5, 0x11, 1234);
        let p = CpuPartition::new(&c);
        p.apply(&c, &mut hw);
        assert_eq!(hw.hpmn_value, 4);
        assert_eq!((hw.values[5], hw.types[5], hw.cnten, hw.inten), (0, 0, 0, 0));
        assert_eq!(p.status(&c), PmuStatus { reserved_mask: 0b110000, host_counters: 4, dynamic_mask: 0 });
    }

    #[test]
    fn reserve_takes_the_top_of_the_hosts_share_and_resets_it() {
        let c = cfg(0);
        let mut hw = FakePmu::new(6);
        hw.program(0, 0x08, 500); // a live host event stays where it is
        hw.types[4] = 0x11; // left behind by the host, but disabled
        hw.values[4] = 99;
        hw.ovs = 1 << 4;
        let mut p = CpuPartition::new(&c);
        assert_eq!(p.reserve(&c, &mut hw, 2), Ok(CounterMask(0b110000)));
        assert_eq!(hw.hpmn_value, 4);
        assert_eq!((hw.values[4], hw.types[4], hw.ovs), (0, 0, 0));
        assert_eq!((hw.values[0], hw.cnten & 1), (500, 1));
        assert_eq!(p.status(&c).host_counters, 4);
    }

    /// The reserved counters are [H, N) in every layout a reservation can make.
    #[test]
    fn the_reserved_counters_are_the_top_ones() {
        for boot in 0..=2 {
            let c = cfg(boot);
            for count in 1..=u64::from(c.max_reserve) {
                let mut hw = FakePmu::new(6);
                let mut p = CpuPartition::new(&c);
                let layouts = [p, { p.reserve(&c, &mut hw, count).unwrap(); p }];
                for p in layouts {
                    let top = (1u32 << c.counters) - (1u32 << p.host_counters());
                    assert_eq!(p.reserved_mask(&c), top, "boot {boot}, count {count}");
                    assert_eq!(u32::from(p.reserved_count(&c)), top.count_ones());
                }
            }
        }
    }

    #[test]
    fn every_refusal_changes_nothing() {
        let c = cfg(0);
        let mut hw = FakePmu::new(6);
        hw.program(5, 0x11, 7);
        let mut p = CpuPartition::new(&c);
        let before = (p, hw.clone().values, hw.hpmn_value);
        assert_eq!(p.reserve(&c, &mut hw, 0), Err(SmcccError::InvalidParameter));
        assert_eq!(p.reserve(&c, &mut hw, 6), Err(SmcccError::InvalidParameter));
        assert_eq!(p.reserve(&c, &mut hw, u64::MAX), Err(SmcccError::InvalidParameter));
        assert_eq!(p.reserve(&c, &mut hw, 1), Err(SmcccError::Busy), "counter 5 still enabled");
        hw.cnten = 0;
        assert_eq!(p.reserve(&c, &mut hw, 1), Err(SmcccError::Busy), "counter 5 still interrupts");
        assert_eq!(p.unreserve(&mut hw), Err(SmcccError::NotReserved));
        assert_eq!((p, hw.values, hw.hpmn_value), before);
        hw.inten = 0;
        assert!(p.reserve(&c, &mut hw, 1).is_ok());
        let after = (p, hw.values, hw.hpmn_value);
        assert_eq!(p.reserve(&c, &mut hw, 1), Err(SmcccError::AlreadyReserved));
        assert_eq!((p, hw.values, hw.hpmn_value), after);
    }

    #[test]
    fn unreserve_scrubs_everything_and_gives_back() {
        let c = cfg(1);
        let mut hw = FakePmu::new(6);
        let mut p = CpuPartition::new(&c);
        p.apply(&c, &mut hw);
        let mask = p.reserve(&c, &mut hw, 3).unwrap();
        assert_eq!(mask, CounterMask(0b011100));
        assert_eq!(p.reserved_mask(&c), 0b111100);
        // A partition used them.
        for n in 2..5 {
            hw.program(n, 0x08, 1000 + u64::from(n));
        }
        hw.ovs = 0b11100;
        assert_eq!(p.unreserve(&mut hw), Ok(mask));
        for n in 2..5 {
            assert_eq!((hw.values[n as usize], hw.types[n as usize]), (0, 0));
        }
        assert_eq!((hw.cnten, hw.inten, hw.ovs, hw.hpmn_value), (0, 0, 0, 5));
        assert_eq!(p.status(&c), PmuStatus { reserved_mask: 0b100000, host_counters: 5, dynamic_mask: 0 });
    }
}
