// SPDX-License-Identifier: MIT OR Apache-2.0

//! The fine-grained traps (FEAT_FGT: HDFGRTR_EL2 for reads, HDFGWTR_EL2 for writes) that the
//! direct enforcement mode keeps while a partition's PMU is loaded.
//!
//! In that mode MDCR_EL2.TPM is off and the CPU keeps the partition below HPMN. What HPMN does
//! not fence has to trap and go through the emulator (`vpmu::VPmu::emulate`) instead: the cycle
//! counter and its filter (the host's); bit 31 of the enable, interrupt-enable and overflow masks
//! (the host's cycle counter again; PMCNTEN also because the partition's PMCR_EL0.E is virtual,
//! applied through its enables); the event type filters (NSH, M and SH would let a partition
//! count EL2, EL3 or Secure state); PMSELR (SEL = 31 names the cycle counter's filter); PMCR_EL0
//! writes (C and P reach beyond HPMN, and E also runs the host's cycle counter); and PMCEID reads
//! (the partition is not offered CPU_CYCLES, which a driver puts on the cycle counter).

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
pub const DIRECT_READ_TRAPS: u64 = traps(&[
    PmuReg::Ccntr,
    PmuReg::Ccfiltr,
    PmuReg::CntenSet,
    PmuReg::IntenSet,
    PmuReg::OvsSet,
    PmuReg::EvTyper(0),
    PmuReg::Selr,
    PmuReg::Ceid(0),
]);
/// Writes that trap in the direct mode: the reads' registers (less PMCEID, read-only: its bit
/// is RES0 in HDFGWTR_EL2) and PMCR_EL0.
pub const DIRECT_WRITE_TRAPS: u64 =
    DIRECT_READ_TRAPS & !traps(&[PmuReg::Ceid(0)]) | traps(&[PmuReg::Pmcr]);

#[cfg(test)]
mod tests {
    use super::*;
    use PmuReg::*;

    /// Issue 8, report 11: in the direct mode a partition could reach the host's cycle-counter
    /// bits of PMINTEN and PMOVS, set NSH through an untrapped PMEVTYPER, and select the cycle
    /// counter's filter through PMSELR. Everything HPMN does not fence must trap, both ways.
    #[test]
    fn direct_mode_traps_what_hpmn_does_not_fence() {
        let unfenced = [Ccntr, Ccfiltr, CntenSet, CntenClr, IntenSet, IntenClr, OvsSet, OvsClr, EvTyper(0), EvTyper(30), XevTyper, Selr];
        for reg in unfenced {
            assert_ne!(DIRECT_READ_TRAPS & 1 << bit(reg), 0, "{reg:?} read");
            assert_ne!(DIRECT_WRITE_TRAPS & 1 << bit(reg), 0, "{reg:?} write");
        }
        assert_ne!(DIRECT_WRITE_TRAPS & 1 << bit(Pmcr), 0, "PMCR_EL0 write");
        // What HPMN does fence runs at hardware speed: the counters themselves and PMSWINC.
        for reg in [EvCntr(0), XevCntr, Swinc] {
            assert_eq!((DIRECT_READ_TRAPS | DIRECT_WRITE_TRAPS) & 1 << bit(reg), 0, "{reg:?}");
        }
        // PMCEID, so that the partition sees the same events in both modes.
        assert_ne!(DIRECT_READ_TRAPS & 1 << bit(Ceid(1)), 0, "PMCEID read");
        assert_eq!((DIRECT_READ_TRAPS, DIRECT_WRITE_TRAPS), (0xfe << 12 | 1 << 58, 0xfe << 12 | 1 << 21));
    }
}
