// SPDX-License-Identifier: MIT OR Apache-2.0

//! Writes the host configuration (`host_config`) and the host's stage-2 into this CPU.

use crate::host_config::{CpuIds, HostConfig};
use arm_sysregs::el0::accessors::read_pmcr_el0;
use arm_sysregs::el1::accessors::{
    read_id_aa64dfr0_el1, read_id_aa64isar2_el1, read_id_aa64mmfr0_el1, read_id_aa64mmfr1_el1,
    read_id_aa64pfr0_el1, read_id_aa64pfr1_el1, read_midr_el1, read_mpidr_el1, write_sctlr_el1,
};
use arm_sysregs::el1::registers::SctlrEl1;
use arm_sysregs::el2::accessors::*;
use arm_sysregs::el2::registers::*;
use core::arch::asm;
use platform::{Current, Platform};

pub fn read_ids() -> CpuIds {
    CpuIds {
        id_aa64pfr0: read_id_aa64pfr0_el1().bits(),
        id_aa64pfr1: read_id_aa64pfr1_el1().bits(),
        id_aa64dfr0: read_id_aa64dfr0_el1().bits(),
        id_aa64mmfr0: read_id_aa64mmfr0_el1().bits(),
        id_aa64mmfr1: read_id_aa64mmfr1_el1().bits(),
        id_aa64isar2: read_id_aa64isar2_el1().bits(),
        pmcr: read_pmcr_el0().bits(),
        el3_enables_hcrx: Current::EL3_ENABLES_HCRX,
    }
}

/// Configures this CPU's EL2 for running the host under the stage-2 at `vttbr` with `vtcr`, with
/// `host_counters` PMU event counters.
pub fn configure_for_host(ids: &CpuIds, vtcr: u64, vttbr: u64, host_counters: u8) {
    let cfg = HostConfig::new(ids, host_counters);
    // SAFETY: these registers control only how EL1/EL0 run and what traps to EL2; EL2's own
    // execution does not depend on them. The host is not running on this CPU yet.
    unsafe {
        write_vtcr_el2(VtcrEl2::from_bits_retain(vtcr));
        write_vttbr_el2(VttbrEl2::from_bits_retain(vttbr));
        write_hcr_el2(cfg.hcr);
        write_cptr_el2(cfg.cptr);
        if let Some(sre) = cfg.icc_sre {
            write_icc_sre_el2(IccSreEl2::from_bits_retain(sre));
            write_ich_hcr_el2(IchHcrEl2::from_bits_retain(0));
        }
        if let Some(hcrx) = cfg.hcrx {
            write_hcrx_el2(hcrx);
        }
        if let Some(zcr) = cfg.zcr {
            // ZCR_EL2 (not in arm-sysregs 0.5): the host may use the CPU's largest vector length.
            asm!("isb", "msr S3_4_C1_C2_0, {}", in(reg) zcr, options(nostack, preserves_flags));
        }
        write_sctlr_el1(SctlrEl1::from_bits_retain(cfg.sctlr_el1));
    }
    write_mdcr_el2(cfg.mdcr);
    write_cnthctl_el2(cfg.cnthctl);
    write_cntvoff_el2(CntvoffEl2::from_bits_retain(0));
    write_cnthp_ctl_el2(CnthpCtlEl2::from_bits_retain(0));
    write_hstr_el2(0);
    // The host reads its own MIDR/MPIDR through these.
    write_vpidr_el2(VpidrEl2::from_bits_retain(read_midr_el1().bits()));
    write_vmpidr_el2(VmpidrEl2::from_bits_retain(read_mpidr_el1().bits()));
    if ids.has_fgt() {
        // Fine-grained traps reset to UNKNOWN values: trap nothing. (TF-A sets SCR_EL3.FGTEn
        // when it enters a normal world at EL2 on a CPU with FGT, so these are accessible.)
        // SAFETY: as above, these only decide what the host's accesses trap to EL2.
        unsafe {
            write_hfgrtr_el2(HfgrtrEl2::from_bits_retain(0));
            write_hfgwtr_el2(HfgwtrEl2::from_bits_retain(0));
            write_hfgitr_el2(HfgitrEl2::from_bits_retain(0));
            write_hdfgrtr_el2(HdfgrtrEl2::from_bits_retain(0));
            write_hdfgwtr_el2(HdfgwtrEl2::from_bits_retain(0));
        }
    }
    // SAFETY: TLB maintenance and barriers have no effect on program state.
    unsafe { asm!("isb", "tlbi alle1", "dsb nsh", "isb", options(nostack, preserves_flags)) };
}
