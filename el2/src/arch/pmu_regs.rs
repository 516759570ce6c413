// SPDX-License-Identifier: MIT OR Apache-2.0

//! The real PMU registers, as EL2 sees them (every counter, whatever MDCR_EL2.HPMN says), through
//! arm-sysregs' accessors and, where it has none, ours (`sysregs`).

use super::sysregs::{self, *};
use crate::pmu::fgt::{DIRECT_READ_TRAPS, DIRECT_WRITE_TRAPS};
use crate::pmu::PmuHw;
use arm_sysregs::el0::{accessors::*, registers::PmcrEl0};
use arm_sysregs::el2::accessors::*;
use arm_sysregs::el2::registers::{HdfgrtrEl2, HdfgwtrEl2, MdcrEl2};

/// This CPU's PMU.
pub struct CpuPmu;

/// PMCNTENSET_EL0.C.
const CYCLE_COUNTER: u64 = 1 << 31;

/// Changes MDCR_EL2 (its PMU fields; a world switch owns the rest) and makes the change take
/// effect before EL2's next PMU access.
fn update_mdcr(f: impl FnOnce(MdcrEl2) -> MdcrEl2) {
    write_mdcr_el2(f(read_mdcr_el2()));
    sysregs::isb();
}

impl PmuHw for CpuPmu {
    #[inline]
    fn counters(&self) -> u8 {
        read_pmcr_el0().n()
    }

    #[inline]
    fn read_counter(&self, n: u8) -> u64 {
        read_pmevcntr(n)
    }

    #[inline]
    fn write_counter(&mut self, n: u8, v: u64) {
        write_pmevcntr(n, v);
    }

    #[inline]
    fn read_type(&self, n: u8) -> u64 {
        read_pmevtyper(n)
    }

    #[inline]
    fn write_type(&mut self, n: u8, v: u64) {
        write_pmevtyper(n, v);
    }

    #[inline]
    fn enabled(&self) -> u32 {
        read_pmcntenset_el0() as u32
    }

    #[inline]
    fn disable(&mut self, mask: u32) {
        write_pmcntenclr_el0(mask.into());
    }

    #[inline]
    fn interrupts(&self) -> u32 {
        read_pmintenset_el1() as u32
    }

    #[inline]
    fn disable_interrupts(&mut self, mask: u32) {
        write_pmintenclr_el1(mask.into());
    }

    #[inline]
    fn overflows(&self) -> u32 {
        read_pmovsset_el0() as u32
    }

    #[inline]
    fn clear_overflows(&mut self, mask: u32) {
        write_pmovsclr_el0(mask.into());
    }

    #[inline]
    fn hpmn(&self) -> u8 {
        read_mdcr_el2().hpmn()
    }

    #[inline]
    fn el2_prohibited(&self) -> bool {
        read_mdcr_el2().contains(MdcrEl2::HPMD)
    }

    #[inline]
    fn set_hpmn(&mut self, hpmn: u8) {
        update_mdcr(|mut mdcr| {
            mdcr.set_hpmn(hpmn);
            mdcr
        });
    }

    #[inline]
    fn enable(&mut self, mask: u32) {
        write_pmcntenset_el0(mask.into());
    }

    #[inline]
    fn enable_interrupts(&mut self, mask: u32) {
        write_pmintenset_el1(mask.into());
    }

    #[inline]
    fn set_overflows(&mut self, mask: u32) {
        write_pmovsset_el0(mask.into());
    }

    #[inline]
    fn pmcr(&self) -> u64 {
        read_pmcr_el0().bits()
    }

    #[inline]
    fn set_pmcr(&mut self, value: u64) {
        write_pmcr_el0(PmcrEl0::from_bits_retain(value));
        sysregs::isb();
    }

    #[inline]
    fn set_hpmn_and_el2_counters(&mut self, hpmn: u8, enabled: bool, long: bool) {
        update_mdcr(|mut mdcr| {
            mdcr.set_hpmn(hpmn);
            mdcr.set(MdcrEl2::HPME, enabled);
            mdcr.set(MdcrEl2::HLP, long);
            mdcr
        });
    }

    #[inline]
    fn enable_cycle_counter(&mut self, on: bool) {
        if on {
            write_pmcntenset_el0(CYCLE_COUNTER);
        } else {
            write_pmcntenclr_el0(CYCLE_COUNTER);
        }
    }

    #[inline]
    fn selr(&self) -> u64 {
        read_pmselr_el0()
    }

    #[inline]
    fn set_selr(&mut self, value: u64) {
        write_pmselr_el0(value);
    }

    #[inline]
    fn userenr(&self) -> u64 {
        read_pmuserenr_el0()
    }

    #[inline]
    fn set_userenr(&mut self, value: u64) {
        write_pmuserenr_el0(value);
    }

    #[inline]
    fn event_ids(&self, n: u8) -> u64 {
        if n == 0 { read_pmceid0_el0() } else { read_pmceid1_el0() }
    }

    #[inline]
    fn trap_partition(&mut self, trap: bool, fgt: bool) {
        update_mdcr(|mut mdcr| {
            mdcr.set(MdcrEl2::TPM | MdcrEl2::TPMCR, trap);
            mdcr
        });
        if fgt {
            let (mut read, mut write) = (read_hdfgrtr_el2(), read_hdfgwtr_el2());
            read.set(HdfgrtrEl2::from_bits_retain(DIRECT_READ_TRAPS), !trap);
            write.set(HdfgwtrEl2::from_bits_retain(DIRECT_WRITE_TRAPS), !trap);
            // SAFETY: these decide only which EL1/EL0 debug and PMU accesses trap to EL2.
            unsafe {
                write_hdfgrtr_el2(read);
                write_hdfgwtr_el2(write);
            }
            sysregs::isb();
        }
    }
}
