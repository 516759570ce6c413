// SPDX-License-Identifier: MIT OR Apache-2.0

//! The enforcement mode: how a partition is kept to its own counters. Chosen once at boot, from
//! what the CPU was seen to do (`arch::enforcement` probes it) and the device tree; applied by the
//! partition's PMU switch ([`VPmu::load`](super::vpmu::VPmu::load) and `put`, through
//! [`Access`]).
//!
//! - *Trapped*: every PMU access of a partition traps to EL2 and is emulated. Right on every CPU.
//! - *Direct*: the partition reaches its counters below MDCR_EL2.HPMN without trapping. Needs a
//!   CPU that keeps EL1 out of the counters at and above HPMN (the architecture leaves that
//!   CONSTRAINED UNPREDICTABLE without FEAT_FGT, and QEMU ignores HPMN), and FEAT_FGT to keep
//!   trapping what HPMN does not fence (`pmu::fgt`).

use super::vpmu::Access;
use smc_interface::Enforcement;

/// What the boot probe saw.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Probe {
    /// The read of a counter above HPMN went through at EL1.
    NotEnforced,
    /// EL1 took an undefined instruction, or the access trapped to EL2.
    Enforced,
    /// The probe could not run (fewer than 2 counters) or ended some other way.
    Unknown,
}

/// The device tree's choice (`/chosen/pmu-partition,enforcement`), if any.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Requested {
    Probe,
    Direct,
    Trapped,
}

impl Requested {
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None => Some(Self::Probe),
            Some("direct") => Some(Self::Direct),
            Some("trapped") => Some(Self::Trapped),
            Some(_) => None,
        }
    }
}

/// The mode partitions use, and whether it is unsafe on this CPU (a direct mode the device tree
/// forced where the CPU does not fence the host's counters).
pub fn choose(requested: Requested, probe: Probe, fgt: bool) -> (Enforcement, bool) {
    let direct_safe = probe == Probe::Enforced && fgt;
    let mode = match requested {
        Requested::Direct => Enforcement::Direct,
        Requested::Trapped => Enforcement::Trapped,
        Requested::Probe if direct_safe => Enforcement::Direct,
        Requested::Probe => Enforcement::Trapped,
    };
    (mode, mode == Enforcement::Direct && !direct_safe)
}

/// The mode as the PMU switch applies it on a CPU with (or without) FGT.
pub fn access(mode: Enforcement, fgt: bool) -> Access {
    match mode {
        Enforcement::Direct => Access::Direct { fgt },
        Enforcement::Trapped => Access::Trapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_picks_direct_only_where_it_is_safe() {
        use Probe::*;
        for (probe, fgt, want) in [
            (Enforced, true, Enforcement::Direct),
            (Enforced, false, Enforcement::Trapped),
            (NotEnforced, true, Enforcement::Trapped),
            (Unknown, true, Enforcement::Trapped),
        ] {
            assert_eq!(choose(Requested::Probe, probe, fgt), (want, false), "{probe:?} fgt={fgt}");
        }
    }

    #[test]
    fn the_device_tree_decides_and_an_unsafe_direct_mode_is_flagged() {
        assert_eq!(choose(Requested::Trapped, Probe::Enforced, true), (Enforcement::Trapped, false));
        assert_eq!(choose(Requested::Direct, Probe::Enforced, true), (Enforcement::Direct, false));
        assert_eq!(choose(Requested::Direct, Probe::NotEnforced, true), (Enforcement::Direct, true));
        assert_eq!(choose(Requested::Direct, Probe::Enforced, false), (Enforcement::Direct, true));
        assert_eq!(Requested::parse(Some("Direct")), None);
        assert_eq!(Requested::parse(None), Some(Requested::Probe));
    }

    #[test]
    fn access_carries_fgt_in_the_direct_mode_only() {
        assert_eq!(access(Enforcement::Direct, true), Access::Direct { fgt: true });
        assert_eq!(access(Enforcement::Direct, false), Access::Direct { fgt: false });
        assert_eq!(access(Enforcement::Trapped, true), Access::Trapped);
    }
}
