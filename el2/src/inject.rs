// SPDX-License-Identifier: MIT OR Apache-2.0

//! Reflecting a refused host access back into the host as a synchronous external abort.
//!
//! The host's stage-2 leaves out EL2's memory; when the host touches it, EL2 takes the stage-2
//! fault and makes it look to the host as if the access had faulted at EL1: the host's abort
//! handler runs with ESR_EL1/FAR_EL1 describing a synchronous external abort at the faulting
//! address. EL2 keeps running, and nothing about EL2's memory (contents, layout) leaks.

use crate::esr::{Esr, ExceptionClass};

/// PSTATE/SPSR bits used here.
const SPSR_M_MASK: u64 = 0x1f;
const SPSR_M_EL0T: u64 = 0b00000;
const SPSR_M_EL1T: u64 = 0b00100;
const SPSR_M_EL1H: u64 = 0b00101;
const SPSR_M_AARCH32: u64 = 1 << 4;
const SPSR_DAIF: u64 = 0xf << 6;
const SPSR_PAN: u64 = 1 << 22;
const SPSR_DIT: u64 = 1 << 24;
const SPSR_SSBS: u64 = 1 << 12;
const SCTLR_EL1_SPAN: u64 = 1 << 23;

/// Synchronous External abort, not on a translation table walk.
const FSC_SYNC_EXTERNAL: u64 = 0x10;
const ESR_IL: u64 = 1 << 25;
const ESR_WNR: u64 = 1 << 6;

/// The host state the injection starts from.
#[derive(Clone, Copy, Debug)]
pub struct HostFault {
    pub esr_el2: Esr,
    pub far_el2: u64,
    pub elr_el2: u64,
    pub spsr_el2: u64,
    pub vbar_el1: u64,
    pub sctlr_el1: u64,
}

/// What EL2 writes so that the host takes the abort at EL1.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Injection {
    pub esr_el1: u64,
    pub far_el1: u64,
    pub elr_el1: u64,
    pub spsr_el1: u64,
    pub elr_el2: u64,
    pub spsr_el2: u64,
}

/// Where the host's vector table takes an exception coming from the state in `spsr`.
fn vector_offset(spsr: u64) -> u64 {
    if spsr & SPSR_M_AARCH32 != 0 {
        0x600
    } else {
        match spsr & SPSR_M_MASK {
            SPSR_M_EL1T => 0x000,
            SPSR_M_EL1H => 0x200,
            _ => 0x400,
        }
    }
}

fn from_el1(spsr: u64) -> bool {
    spsr & SPSR_M_AARCH32 == 0 && spsr & SPSR_M_MASK != SPSR_M_EL0T
}

/// An exception taken to the host's EL1 with `esr_el1` and `far_el1`: where it was goes to
/// ELR_EL1 / SPSR_EL1, and it resumes at its own vector at EL1h with every exception masked, PAN
/// as SCTLR_EL1.SPAN says, DIT and SSBS kept, as the architecture takes exceptions.
fn take_at_el1(fault: &HostFault, esr_el1: u64, far_el1: u64) -> Injection {
    let mut spsr_el2 = SPSR_M_EL1H | SPSR_DAIF | (fault.spsr_el2 & (SPSR_DIT | SPSR_SSBS));
    if fault.sctlr_el1 & SCTLR_EL1_SPAN == 0 {
        spsr_el2 |= SPSR_PAN;
    } else {
        spsr_el2 |= fault.spsr_el2 & SPSR_PAN;
    }
    Injection {
        esr_el1,
        far_el1,
        elr_el1: fault.elr_el2,
        spsr_el1: fault.spsr_el2,
        elr_el2: fault.vbar_el1 + vector_offset(fault.spsr_el2),
        spsr_el2,
    }
}

/// Builds the EL1 view of an external abort for a host stage-2 fault.
pub fn external_abort(fault: &HostFault) -> Injection {
    let same_el = from_el1(fault.spsr_el2);
    let ec: u64 = match (fault.esr_el2.class(), same_el) {
        (ExceptionClass::InstructionAbortLower, false) => 0x20,
        (ExceptionClass::InstructionAbortLower, true) => 0x21,
        (_, false) => 0x24,
        (_, true) => 0x25,
    };
    let mut iss = FSC_SYNC_EXTERNAL;
    if ec >= 0x24 && fault.esr_el2.is_write() {
        iss |= ESR_WNR;
    }
    take_at_el1(fault, (ec << 26) | ESR_IL | iss, fault.far_el2)
}

/// Builds the EL1 view of an undefined instruction (EC 0x00) for a trap EL2 does not handle.
pub fn undefined(fault: &HostFault) -> Injection {
    take_at_el1(fault, ESR_IL, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(esr: u64, spsr: u64) -> HostFault {
        HostFault {
            esr_el2: Esr(esr),
            far_el2: 0x6000_0000,
            elr_el2: 0x4820_1000,
            spsr_el2: spsr,
            vbar_el1: 0x4830_0000,
            sctlr_el1: 0,
        }
    }

    #[test]
    fn data_abort_from_el1h_write() {
        // Stage-2 translation fault, level 1, write, from EL1h.
        let inj = external_abort(&fault(0x9200_0045, 0x3c5));
        assert_eq!(inj.esr_el1, (0x25 << 26) | ESR_IL | ESR_WNR | 0x10);
        assert_eq!(inj.far_el1, 0x6000_0000);
        assert_eq!(inj.elr_el1, 0x4820_1000);
        assert_eq!(inj.spsr_el1, 0x3c5);
        assert_eq!(inj.elr_el2, 0x4830_0200);
        assert_eq!(inj.spsr_el2, 0x3c5 | SPSR_PAN);
    }

    #[test]
    fn data_abort_from_el0_read() {
        let inj = external_abort(&fault(0x9200_0005, 0x0));
        assert_eq!(inj.esr_el1 >> 26, 0x24);
        assert_eq!(inj.esr_el1 & ESR_WNR, 0);
        assert_eq!(inj.elr_el2, 0x4830_0400);
    }

    #[test]
    fn instruction_abort_offsets() {
        let inj = external_abort(&fault(0x8200_0005, 0x3c4));
        assert_eq!(inj.esr_el1 >> 26, 0x21);
        assert_eq!(inj.elr_el2, 0x4830_0000);
        let inj = external_abort(&fault(0x8200_0005, 0x10));
        assert_eq!(inj.esr_el1 >> 26, 0x20);
        assert_eq!(inj.elr_el2, 0x4830_0600);
    }

    #[test]
    fn pan_follows_span() {
        let mut f = fault(0x9200_0005, 0x3c5);
        f.sctlr_el1 = SCTLR_EL1_SPAN;
        assert_eq!(external_abort(&f).spsr_el2 & SPSR_PAN, 0);
        f.spsr_el2 |= SPSR_PAN;
        assert_eq!(external_abort(&f).spsr_el2 & SPSR_PAN, SPSR_PAN);
    }

    #[test]
    fn undefined_instruction() {
        let inj = undefined(&fault(0x6200_0000, 0x3c5));
        assert_eq!(inj.esr_el1, ESR_IL);
        assert_eq!(inj.elr_el1, 0x4820_1000);
        assert_eq!(inj.elr_el2, 0x4830_0200);
    }
}
