// SPDX-License-Identifier: MIT OR Apache-2.0

//! The fine-grained traps (FEAT_FGT: HDFGRTR_EL2 for reads, HDFGWTR_EL2 for writes) that the
//! direct enforcement mode keeps while a partition's PMU is loaded.
//!
//! In that mode MDCR_EL2.TPM is off and the CPU keeps the partition below HPMN. Still trapped: the
//! cycle counter and its filter (the host's), PMCNTEN (the partition's PMCR_EL0.E is virtual,
//! applied through its enables), and PMCR_EL0 writes.

use super::vpmu::PmuReg;

/// The HDFGRTR_EL2 / HDFGWTR_EL2 bit that traps an access to `reg` (the two registers use the
/// same positions; PMSWINC and PMCR_EL0 exist in the write one only, PMMIR and PMCEID in the read
/// one only).
pub const fn bit(reg: PmuReg) -> u32 {
    use PmuReg::*;
    match reg {
        EvCntr(_) | XevCntr => 12,
        EvTyper(_) | XevTyper => 13,
        Ccfiltr => 14,
        Ccntr => 15,
        CntenSet | CntenClr => 16,
        IntenSet | IntenClr => 17,
        OvsSet | OvsClr => 18,
        Selr => 19,
        Swinc => 20,
        Pmcr => 21,
        Mmir => 22,
        Userenr => 57,
        Ceid(_) => 58,
    }
}

const fn traps(regs: &[PmuReg]) -> u64 {
    let mut mask = 0;
    let mut i = 0;
    while i < regs.len() {
        mask |= 1 << bit(regs[i]);
        i += 1;
    }
    mask
}

/// Reads that trap in the direct mode.
pub const DIRECT_READ_TRAPS: u64 = traps(&[PmuReg::Ccntr, PmuReg::Ccfiltr, PmuReg::CntenSet]);
/// Writes that trap in the direct mode: the reads' registers and PMCR_EL0.
pub const DIRECT_WRITE_TRAPS: u64 = DIRECT_READ_TRAPS | traps(&[PmuReg::Pmcr]);
