// SPDX-License-Identifier: MIT OR Apache-2.0

//! The EL2 controls in force while the host runs at EL1: what is trapped, what the host's
//! stage-2 is, what the host may use directly. Computed from the CPU's ID registers so that the
//! choices are unit-tested; written to the CPU by `arch`.

use arm_sysregs::el2::registers::{CnthctlEl2, CptrEl2, HcrEl2, HcrxEl2, MdcrEl2};

/// The ID register values the configuration depends on.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuIds {
    pub id_aa64pfr0: u64,
    pub id_aa64pfr1: u64,
    pub id_aa64dfr0: u64,
    pub id_aa64mmfr0: u64,
    pub id_aa64mmfr1: u64,
    pub id_aa64isar2: u64,
    /// PMCR_EL0 as EL2 reads it (N in bits 15:11).
    pub pmcr: u64,
    /// Whether EL3 lets EL2 use HCRX_EL2 (SCR_EL3.HXEn): a fact about the platform's EL3, which
    /// EL2 cannot probe without risking an exception (`Platform::EL3_ENABLES_HCRX`). Irrelevant
    /// without EL3.
    pub el3_enables_hcrx: bool,
}

fn field(value: u64, shift: u32, width: u32) -> u64 {
    (value >> shift) & ((1 << width) - 1)
}

impl CpuIds {
    pub fn has_sve(&self) -> bool {
        field(self.id_aa64pfr0, 32, 4) != 0
    }
    pub fn has_sme(&self) -> bool {
        field(self.id_aa64pfr1, 24, 4) != 0
    }
    pub fn has_gicv3_sysregs(&self) -> bool {
        field(self.id_aa64pfr0, 24, 4) != 0
    }
    /// PMUVer: 0 = none, 0xF = IMPLEMENTATION DEFINED (not PMUv3).
    pub fn pmu_version(&self) -> u64 {
        field(self.id_aa64dfr0, 8, 4)
    }
    pub fn has_pmuv3(&self) -> bool {
        !matches!(self.pmu_version(), 0 | 0xf)
    }
    /// Number of PMU event counters.
    pub fn pmu_counters(&self) -> u64 {
        if self.has_pmuv3() { field(self.pmcr, 11, 5) } else { 0 }
    }
    pub fn has_spe(&self) -> bool {
        field(self.id_aa64dfr0, 32, 4) != 0
    }
    pub fn has_trbe(&self) -> bool {
        field(self.id_aa64dfr0, 44, 4) != 0
    }
    /// FEAT_HPMN0: MDCR_EL2.HPMN may be 0.
    pub fn has_hpmn0(&self) -> bool {
        field(self.id_aa64dfr0, 60, 4) != 0
    }
    pub fn has_fgt(&self) -> bool {
        field(self.id_aa64mmfr0, 56, 4) != 0
    }
    pub fn has_el3(&self) -> bool {
        field(self.id_aa64pfr0, 12, 4) != 0
    }
    /// FEAT_HCX: HCRX_EL2 exists.
    pub fn has_hcx(&self) -> bool {
        field(self.id_aa64mmfr1, 40, 4) != 0
    }
    /// FEAT_MOPS: the memcpy/memset instructions (CPY*, SET*).
    pub fn has_mops(&self) -> bool {
        field(self.id_aa64isar2, 16, 4) != 0
    }
    /// HCRX_EL2 can be written at EL2: the CPU has it, and no EL3 hides it.
    pub fn hcrx_usable(&self) -> bool {
        self.has_hcx() && (!self.has_el3() || self.el3_enables_hcrx)
    }
    pub fn parange(&self) -> u64 {
        field(self.id_aa64mmfr0, 0, 4)
    }
}

/// Register values for running the host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HostConfig {
    pub hcr: HcrEl2,
    pub mdcr: MdcrEl2,
    pub cptr: CptrEl2,
    pub cnthctl: CnthctlEl2,
    pub icc_sre: Option<u64>,
    /// HCRX_EL2, where EL2 can write it.
    pub hcrx: Option<HcrxEl2>,
    /// ZCR_EL2, when the CPU has SVE: the host may use the largest vector length.
    pub zcr: Option<u64>,
    /// SCTLR_EL1 for a host entered fresh: MMU and caches off, as the arm64 boot protocol wants.
    pub sctlr_el1: u64,
}

impl HostConfig {
    /// `host_counters`: the PMU event counters the host owns (MDCR_EL2.HPMN).
    pub fn new(ids: &CpuIds, host_counters: u8) -> Self {
        // The host is an AArch64 EL1 under stage-2, with its SMCs trapped so EL2 can relay PSCI
        // and answer its own service's calls. Pointer authentication keys and instructions are
        // the host's own business (no trap). Interrupts stay with the host: IMO/FMO/AMO clear.
        let hcr = HcrEl2::RW | HcrEl2::VM | HcrEl2::TSC | HcrEl2::API | HcrEl2::APK;

        // The host sees the counters it owns (HPMN; the partition manager decides how many), and
        // the counters above are EL2's. EL2's own execution is not counted, so that EL2's work
        // does not show up in the host's counts: HPMD (PMUv3p1 and later) for the event
        // counters, HCCD (PMUv3p5 and later) for the cycle counter, which HPMD does not stop
        // there (before PMUv3p5 it does only with PMCR_EL0.DP, the host's bit). Statistical
        // profiling and trace buffers, if present, are the host's.
        let mut mdcr = MdcrEl2::empty().with_hpmn(host_counters.min(ids.pmu_counters() as u8));
        mdcr.set(MdcrEl2::HPMD, ids.pmu_version() >= 4 && ids.has_pmuv3());
        mdcr.set(MdcrEl2::HCCD, ids.pmu_version() >= 6 && ids.has_pmuv3());
        // E2PB and E2TB = 0b11: the buffers are owned by EL1, which may use them.
        if ids.has_spe() {
            mdcr.set_e2pb(0b11);
        }
        if ids.has_trbe() {
            mdcr.set_e2tb(0b11);
        }

        // FP/SIMD, SVE and trace are not trapped: EL2 never uses them, so the host's state stays
        // in the registers. SME stays trapped (TSM): enabling it would need EL3's cooperation that
        // TF-A 2.8 does not give, so the host is better off without it (run QEMU with sme=off).
        let mut cptr = CptrEl2::RES1 | CptrEl2::TSM;
        if !ids.has_sve() {
            cptr |= CptrEl2::TZ; // RES1 without SVE
        }
        let zcr = ids.has_sve().then_some(0xf);

        // EL1 may read the physical counter and use the physical timer (bits 0 and 1: EL1PCTEN
        // and EL1PCEN with HCR_EL2.E2H clear; arm-sysregs names bit 0 by its E2H = 1 meaning).
        let cnthctl = CnthctlEl2::EL0PCTEN | CnthctlEl2::EL1PCEN;
        // GIC system registers enabled for EL2 and EL1, with the bypasses disabled.
        let icc_sre = ids.has_gicv3_sysregs().then_some(0xf);

        // HCRX_EL2 resets to UNKNOWN: set what the host may use, nothing else. FEAT_MOPS needs
        // MSCEn, or every CPY*/SET* of the host (Linux 6.5 on uses them in userspace's memcpy)
        // is UNDEF; MCE2 stays clear, so their exceptions go to the host, not to EL2.
        let hcrx = ids.hcrx_usable().then(|| if ids.has_mops() { HcrxEl2::MSCEN } else { HcrxEl2::empty() });

        Self { hcr, mdcr, cptr, cnthctl, icc_sre, hcrx, zcr, sctlr_el1: crate::vm::vcpu::SCTLR_EL1_RESET }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cortex_a57_like() -> CpuIds {
        CpuIds {
            id_aa64pfr0: 0x1 << 24 | 0x2,
            id_aa64pfr1: 0,
            id_aa64dfr0: 0x1 << 8, // PMUv3
            id_aa64mmfr0: 0x4,
            id_aa64mmfr1: 0,
            id_aa64isar2: 0,
            pmcr: 6 << 11,
            el3_enables_hcrx: false,
        }
    }

    #[test]
    fn host_owns_all_counters_and_runs_under_stage2() {
        let c = HostConfig::new(&cortex_a57_like(), 6);
        assert_eq!(c.mdcr.hpmn(), 6);
        assert!(!c.mdcr.contains(MdcrEl2::HPMD), "PMUv3 has no HPMD");
        assert!(c.hcr.contains(HcrEl2::VM | HcrEl2::TSC | HcrEl2::RW));
        assert!(c.cptr.contains(CptrEl2::TZ));
        assert_eq!(c.zcr, None);
        assert_eq!(c.icc_sre, Some(0xf));
    }

    #[test]
    fn max_like_cpu() {
        let ids = CpuIds {
            id_aa64pfr0: 1 << 32 | 1 << 24,
            id_aa64pfr1: 1 << 24,
            id_aa64dfr0: 0x6 << 8,
            id_aa64mmfr0: 0x5,
            id_aa64mmfr1: 1 << 40,
            id_aa64isar2: 1 << 16,
            pmcr: 6 << 11,
            el3_enables_hcrx: true,
        };
        let c = HostConfig::new(&ids, 4);
        assert_eq!(c.mdcr.hpmn(), 4);
        assert!(c.mdcr.contains(MdcrEl2::HPMD));
        assert!(!c.cptr.contains(CptrEl2::TZ));
        assert!(c.cptr.contains(CptrEl2::TSM));
        assert_eq!(c.zcr, Some(0xf));
    }

    /// Issue 8, report 11: the host's cycle counter counted EL2 (309 instructions per null HVC on
    /// -cpu max). HCCD (PMUv3p5 on) stops it; HPMD (PMUv3p1 on) keeps EL2 out of the event
    /// counters.
    #[test]
    fn el2_is_counted_by_no_host_counter_where_the_pmu_can_say_so() {
        let mut ids = cortex_a57_like();
        for (pmuver, hpmd, hccd) in [(1, false, false), (4, true, false), (5, true, false), (6, true, true), (8, true, true), (0xf, false, false)] {
            ids.id_aa64dfr0 = pmuver << 8;
            let mdcr = HostConfig::new(&ids, 6).mdcr;
            assert_eq!((mdcr.contains(MdcrEl2::HPMD), mdcr.contains(MdcrEl2::HCCD)), (hpmd, hccd), "PMUVer {pmuver:#x}");
        }
    }

    #[test]
    fn no_pmu() {
        let mut ids = cortex_a57_like();
        ids.id_aa64dfr0 = 0xf << 8;
        assert_eq!(HostConfig::new(&ids, 6).mdcr.hpmn(), 0);
    }

    /// A host on a CPU with FEAT_MOPS gets HCRX_EL2.MSCEn, or its memcpy instructions UNDEF:
    /// Linux 6.12's userspace died of SIGILL on -cpu max before this. Without FEAT_HCX, or with an
    /// EL3 that keeps HCRX_EL2 from EL2, EL2 must not touch the register.
    #[test]
    fn mops_is_enabled_for_the_host_where_hcrx_can_be_written() {
        let mut ids = cortex_a57_like();
        assert_eq!(HostConfig::new(&ids, 6).hcrx, None, "no FEAT_HCX");
        ids.id_aa64mmfr1 = 1 << 40;
        ids.id_aa64isar2 = 1 << 16;
        assert_eq!(HostConfig::new(&ids, 6).hcrx, Some(HcrxEl2::MSCEN), "no EL3: HCRX is EL2's");
        ids.id_aa64pfr0 |= 1 << 12;
        assert_eq!(HostConfig::new(&ids, 6).hcrx, None, "an EL3 that does not enable HCRX_EL2");
        ids.el3_enables_hcrx = true;
        assert_eq!(HostConfig::new(&ids, 6).hcrx, Some(HcrxEl2::MSCEN));
        ids.id_aa64isar2 = 0;
        assert_eq!(HostConfig::new(&ids, 6).hcrx, Some(HcrxEl2::empty()), "FEAT_HCX without FEAT_MOPS");
    }
}
