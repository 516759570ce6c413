// SPDX-License-Identifier: MIT OR Apache-2.0

//! The real PMU registers, as EL2 sees them (every counter, whatever MDCR_EL2.HPMN says).
//!
//! Event counters and types are read and written through their own encodings
//! (PMEVCNTR<n>_EL0 = S3_3_C14_C(8 + n/8)_(n%8), PMEVTYPER<n>_EL0 = S3_3_C14_C(12 + n/8)_(n%8)),
//! never through PMSELR_EL0 and PMXEV*: PMSELR is the host's register, and EL2 must not change it
//! behind the host's back. arm-sysregs 0.5 has none of these registers, hence the inline assembly.

use crate::pmu::PmuHw;
use arm_sysregs::el2::accessors::{read_mdcr_el2, write_mdcr_el2};
use arm_sysregs::el2::registers::MdcrEl2;
use core::arch::asm;

/// This CPU's PMU.
pub struct CpuPmu;

const HPMN_MASK: u64 = 0x1f;
/// PMCNTENSET_EL0.C.
const CYCLE_COUNTER: u32 = 1 << 31;

macro_rules! read_pmu_sysreg {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reading a PMU control register at EL2 has no side effects.
        unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags)) };
        v as u32
    }};
}

impl PmuHw for CpuPmu {
    fn counters(&self) -> u8 {
        ((read_pmu_sysreg!("pmcr_el0") >> 11) & 0x1f) as u8
    }

    fn read_counter(&self, n: u8) -> u64 {
        let v: u64;
        // SAFETY: n is below N (callers only name counters the CPU has); reading has no side
        // effects.
        unsafe {
            match n {
            0 => asm!("mrs {}, S3_3_C14_C8_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            1 => asm!("mrs {}, S3_3_C14_C8_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            2 => asm!("mrs {}, S3_3_C14_C8_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            3 => asm!("mrs {}, S3_3_C14_C8_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            4 => asm!("mrs {}, S3_3_C14_C8_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            5 => asm!("mrs {}, S3_3_C14_C8_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            6 => asm!("mrs {}, S3_3_C14_C8_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            7 => asm!("mrs {}, S3_3_C14_C8_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            8 => asm!("mrs {}, S3_3_C14_C9_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            9 => asm!("mrs {}, S3_3_C14_C9_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            10 => asm!("mrs {}, S3_3_C14_C9_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            11 => asm!("mrs {}, S3_3_C14_C9_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            12 => asm!("mrs {}, S3_3_C14_C9_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            13 => asm!("mrs {}, S3_3_C14_C9_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            14 => asm!("mrs {}, S3_3_C14_C9_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            15 => asm!("mrs {}, S3_3_C14_C9_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            16 => asm!("mrs {}, S3_3_C14_C10_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            17 => asm!("mrs {}, S3_3_C14_C10_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            18 => asm!("mrs {}, S3_3_C14_C10_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            19 => asm!("mrs {}, S3_3_C14_C10_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            20 => asm!("mrs {}, S3_3_C14_C10_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            21 => asm!("mrs {}, S3_3_C14_C10_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            22 => asm!("mrs {}, S3_3_C14_C10_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            23 => asm!("mrs {}, S3_3_C14_C10_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            24 => asm!("mrs {}, S3_3_C14_C11_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            25 => asm!("mrs {}, S3_3_C14_C11_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            26 => asm!("mrs {}, S3_3_C14_C11_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            27 => asm!("mrs {}, S3_3_C14_C11_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            28 => asm!("mrs {}, S3_3_C14_C11_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            29 => asm!("mrs {}, S3_3_C14_C11_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            30 => asm!("mrs {}, S3_3_C14_C11_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            _ => v = 0,
            }
        }
        v
    }

    fn write_counter(&mut self, n: u8, v: u64) {
        // SAFETY: writes one event counter EL2 owns at this point.
        unsafe {
            match n {
            0 => asm!("msr S3_3_C14_C8_0, {}", in(reg) v, options(nostack, preserves_flags)),
            1 => asm!("msr S3_3_C14_C8_1, {}", in(reg) v, options(nostack, preserves_flags)),
            2 => asm!("msr S3_3_C14_C8_2, {}", in(reg) v, options(nostack, preserves_flags)),
            3 => asm!("msr S3_3_C14_C8_3, {}", in(reg) v, options(nostack, preserves_flags)),
            4 => asm!("msr S3_3_C14_C8_4, {}", in(reg) v, options(nostack, preserves_flags)),
            5 => asm!("msr S3_3_C14_C8_5, {}", in(reg) v, options(nostack, preserves_flags)),
            6 => asm!("msr S3_3_C14_C8_6, {}", in(reg) v, options(nostack, preserves_flags)),
            7 => asm!("msr S3_3_C14_C8_7, {}", in(reg) v, options(nostack, preserves_flags)),
            8 => asm!("msr S3_3_C14_C9_0, {}", in(reg) v, options(nostack, preserves_flags)),
            9 => asm!("msr S3_3_C14_C9_1, {}", in(reg) v, options(nostack, preserves_flags)),
            10 => asm!("msr S3_3_C14_C9_2, {}", in(reg) v, options(nostack, preserves_flags)),
            11 => asm!("msr S3_3_C14_C9_3, {}", in(reg) v, options(nostack, preserves_flags)),
            12 => asm!("msr S3_3_C14_C9_4, {}", in(reg) v, options(nostack, preserves_flags)),
            13 => asm!("msr S3_3_C14_C9_5, {}", in(reg) v, options(nostack, preserves_flags)),
            14 => asm!("msr S3_3_C14_C9_6, {}", in(reg) v, options(nostack, preserves_flags)),
            15 => asm!("msr S3_3_C14_C9_7, {}", in(reg) v, options(nostack, preserves_flags)),
            16 => asm!("msr S3_3_C14_C10_0, {}", in(reg) v, options(nostack, preserves_flags)),
            17 => asm!("msr S3_3_C14_C10_1, {}", in(reg) v, options(nostack, preserves_flags)),
            18 => asm!("msr S3_3_C14_C10_2, {}", in(reg) v, options(nostack, preserves_flags)),
            19 => asm!("msr S3_3_C14_C10_3, {}", in(reg) v, options(nostack, preserves_flags)),
            20 => asm!("msr S3_3_C14_C10_4, {}", in(reg) v, options(nostack, preserves_flags)),
            21 => asm!("msr S3_3_C14_C10_5, {}", in(reg) v, options(nostack, preserves_flags)),
            22 => asm!("msr S3_3_C14_C10_6, {}", in(reg) v, options(nostack, preserves_flags)),
            23 => asm!("msr S3_3_C14_C10_7, {}", in(reg) v, options(nostack, preserves_flags)),
            24 => asm!("msr S3_3_C14_C11_0, {}", in(reg) v, options(nostack, preserves_flags)),
            25 => asm!("msr S3_3_C14_C11_1, {}", in(reg) v, options(nostack, preserves_flags)),
            26 => asm!("msr S3_3_C14_C11_2, {}", in(reg) v, options(nostack, preserves_flags)),
            27 => asm!("msr S3_3_C14_C11_3, {}", in(reg) v, options(nostack, preserves_flags)),
            28 => asm!("msr S3_3_C14_C11_4, {}", in(reg) v, options(nostack, preserves_flags)),
            29 => asm!("msr S3_3_C14_C11_5, {}", in(reg) v, options(nostack, preserves_flags)),
            30 => asm!("msr S3_3_C14_C11_6, {}", in(reg) v, options(nostack, preserves_flags)),
            _ => {}
            }
        }
    }

    fn read_type(&self, n: u8) -> u64 {
        let v: u64;
        // SAFETY: as read_counter.
        unsafe {
            match n {
            0 => asm!("mrs {}, S3_3_C14_C12_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            1 => asm!("mrs {}, S3_3_C14_C12_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            2 => asm!("mrs {}, S3_3_C14_C12_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            3 => asm!("mrs {}, S3_3_C14_C12_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            4 => asm!("mrs {}, S3_3_C14_C12_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            5 => asm!("mrs {}, S3_3_C14_C12_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            6 => asm!("mrs {}, S3_3_C14_C12_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            7 => asm!("mrs {}, S3_3_C14_C12_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            8 => asm!("mrs {}, S3_3_C14_C13_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            9 => asm!("mrs {}, S3_3_C14_C13_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            10 => asm!("mrs {}, S3_3_C14_C13_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            11 => asm!("mrs {}, S3_3_C14_C13_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            12 => asm!("mrs {}, S3_3_C14_C13_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            13 => asm!("mrs {}, S3_3_C14_C13_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            14 => asm!("mrs {}, S3_3_C14_C13_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            15 => asm!("mrs {}, S3_3_C14_C13_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            16 => asm!("mrs {}, S3_3_C14_C14_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            17 => asm!("mrs {}, S3_3_C14_C14_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            18 => asm!("mrs {}, S3_3_C14_C14_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            19 => asm!("mrs {}, S3_3_C14_C14_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            20 => asm!("mrs {}, S3_3_C14_C14_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            21 => asm!("mrs {}, S3_3_C14_C14_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            22 => asm!("mrs {}, S3_3_C14_C14_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            23 => asm!("mrs {}, S3_3_C14_C14_7", out(reg) v, options(nomem, nostack, preserves_flags)),
            24 => asm!("mrs {}, S3_3_C14_C15_0", out(reg) v, options(nomem, nostack, preserves_flags)),
            25 => asm!("mrs {}, S3_3_C14_C15_1", out(reg) v, options(nomem, nostack, preserves_flags)),
            26 => asm!("mrs {}, S3_3_C14_C15_2", out(reg) v, options(nomem, nostack, preserves_flags)),
            27 => asm!("mrs {}, S3_3_C14_C15_3", out(reg) v, options(nomem, nostack, preserves_flags)),
            28 => asm!("mrs {}, S3_3_C14_C15_4", out(reg) v, options(nomem, nostack, preserves_flags)),
            29 => asm!("mrs {}, S3_3_C14_C15_5", out(reg) v, options(nomem, nostack, preserves_flags)),
            30 => asm!("mrs {}, S3_3_C14_C15_6", out(reg) v, options(nomem, nostack, preserves_flags)),
            _ => v = 0,
            }
        }
        v
    }

    fn write_type(&mut self, n: u8, v: u64) {
        // SAFETY: as write_counter.
        unsafe {
            match n {
            0 => asm!("msr S3_3_C14_C12_0, {}", in(reg) v, options(nostack, preserves_flags)),
            1 => asm!("msr S3_3_C14_C12_1, {}", in(reg) v, options(nostack, preserves_flags)),
            2 => asm!("msr S3_3_C14_C12_2, {}", in(reg) v, options(nostack, preserves_flags)),
            3 => asm!("msr S3_3_C14_C12_3, {}", in(reg) v, options(nostack, preserves_flags)),
            4 => asm!("msr S3_3_C14_C12_4, {}", in(reg) v, options(nostack, preserves_flags)),
            5 => asm!("msr S3_3_C14_C12_5, {}", in(reg) v, options(nostack, preserves_flags)),
            6 => asm!("msr S3_3_C14_C12_6, {}", in(reg) v, options(nostack, preserves_flags)),
            7 => asm!("msr S3_3_C14_C12_7, {}", in(reg) v, options(nostack, preserves_flags)),
            8 => asm!("msr S3_3_C14_C13_0, {}", in(reg) v, options(nostack, preserves_flags)),
            9 => asm!("msr S3_3_C14_C13_1, {}", in(reg) v, options(nostack, preserves_flags)),
            10 => asm!("msr S3_3_C14_C13_2, {}", in(reg) v, options(nostack, preserves_flags)),
            11 => asm!("msr S3_3_C14_C13_3, {}", in(reg) v, options(nostack, preserves_flags)),
            12 => asm!("msr S3_3_C14_C13_4, {}", in(reg) v, options(nostack, preserves_flags)),
            13 => asm!("msr S3_3_C14_C13_5, {}", in(reg) v, options(nostack, preserves_flags)),
            14 => asm!("msr S3_3_C14_C13_6, {}", in(reg) v, options(nostack, preserves_flags)),
            15 => asm!("msr S3_3_C14_C13_7, {}", in(reg) v, options(nostack, preserves_flags)),
            16 => asm!("msr S3_3_C14_C14_0, {}", in(reg) v, options(nostack, preserves_flags)),
            17 => asm!("msr S3_3_C14_C14_1, {}", in(reg) v, options(nostack, preserves_flags)),
            18 => asm!("msr S3_3_C14_C14_2, {}", in(reg) v, options(nostack, preserves_flags)),
            19 => asm!("msr S3_3_C14_C14_3, {}", in(reg) v, options(nostack, preserves_flags)),
            20 => asm!("msr S3_3_C14_C14_4, {}", in(reg) v, options(nostack, preserves_flags)),
            21 => asm!("msr S3_3_C14_C14_5, {}", in(reg) v, options(nostack, preserves_flags)),
            22 => asm!("msr S3_3_C14_C14_6, {}", in(reg) v, options(nostack, preserves_flags)),
            23 => asm!("msr S3_3_C14_C14_7, {}", in(reg) v, options(nostack, preserves_flags)),
            24 => asm!("msr S3_3_C14_C15_0, {}", in(reg) v, options(nostack, preserves_flags)),
            25 => asm!("msr S3_3_C14_C15_1, {}", in(reg) v, options(nostack, preserves_flags)),
            26 => asm!("msr S3_3_C14_C15_2, {}", in(reg) v, options(nostack, preserves_flags)),
            27 => asm!("msr S3_3_C14_C15_3, {}", in(reg) v, options(nostack, preserves_flags)),
            28 => asm!("msr S3_3_C14_C15_4, {}", in(reg) v, options(nostack, preserves_flags)),
            29 => asm!("msr S3_3_C14_C15_5, {}", in(reg) v, options(nostack, preserves_flags)),
            30 => asm!("msr S3_3_C14_C15_6, {}", in(reg) v, options(nostack, preserves_flags)),
            _ => {}
            }
        }
    }

    fn enabled(&self) -> u32 {
        read_pmu_sysreg!("pmcntenset_el0")
    }

    fn disable(&mut self, mask: u32) {
        // SAFETY: clears enable bits of counters EL2 is taking or scrubbing.
        unsafe { asm!("msr pmcntenclr_el0, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn interrupts(&self) -> u32 {
        read_pmu_sysreg!("pmintenset_el1")
    }

    fn disable_interrupts(&mut self, mask: u32) {
        // SAFETY: as disable.
        unsafe { asm!("msr pmintenclr_el1, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn overflows(&self) -> u32 {
        read_pmu_sysreg!("pmovsset_el0")
    }

    fn clear_overflows(&mut self, mask: u32) {
        // SAFETY: as disable.
        unsafe { asm!("msr pmovsclr_el0, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn hpmn(&self) -> u8 {
        (read_mdcr_el2().bits() & HPMN_MASK) as u8
    }

    fn enable(&mut self, mask: u32) {
        // SAFETY: enables counters EL2 is handing to a world.
        unsafe { asm!("msr pmcntenset_el0, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn enable_interrupts(&mut self, mask: u32) {
        // SAFETY: as enable.
        unsafe { asm!("msr pmintenset_el1, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn set_overflows(&mut self, mask: u32) {
        // SAFETY: as enable.
        unsafe { asm!("msr pmovsset_el0, {}", in(reg) u64::from(mask), options(nostack, preserves_flags)) };
    }

    fn pmcr(&self) -> u64 {
        let v: u64;
        // SAFETY: reading PMCR_EL0 has no side effects.
        unsafe { asm!("mrs {}, pmcr_el0", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }

    fn set_pmcr(&mut self, value: u64) {
        // SAFETY: the caller decides which world's PMCR this is; EL2 does not count.
        unsafe { asm!("msr pmcr_el0, {}", "isb", in(reg) value, options(nostack, preserves_flags)) };
    }

    fn set_el2_counters(&mut self, enabled: bool, long: bool) {
        const HPME: u64 = 1 << 7;
        const HLP: u64 = 1 << 26;
        let mut mdcr = read_mdcr_el2().bits() & !(HPME | HLP);
        if enabled {
            mdcr |= HPME;
        }
        if long {
            mdcr |= HLP;
        }
        write_mdcr_el2(MdcrEl2::from_bits_retain(mdcr));
        // SAFETY: a barrier only.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }

    fn cycle_counter_enabled(&self) -> bool {
        read_pmu_sysreg!("pmcntenset_el0") & CYCLE_COUNTER != 0
    }

    fn enable_cycle_counter(&mut self, on: bool) {
        let bit = u64::from(CYCLE_COUNTER);
        // SAFETY: the host's cycle counter enable, set aside for a partition's run and given back.
        unsafe {
            if on {
                asm!("msr pmcntenset_el0, {}", in(reg) bit, options(nostack, preserves_flags));
            } else {
                asm!("msr pmcntenclr_el0, {}", in(reg) bit, options(nostack, preserves_flags));
            }
        }
    }

    fn selr(&self) -> u64 {
        u64::from(read_pmu_sysreg!("pmselr_el0"))
    }

    fn set_selr(&mut self, value: u64) {
        // SAFETY: the world whose PMU is being loaded owns PMSELR_EL0.
        unsafe { asm!("msr pmselr_el0, {}", in(reg) value, options(nostack, preserves_flags)) };
    }

    fn userenr(&self) -> u64 {
        u64::from(read_pmu_sysreg!("pmuserenr_el0"))
    }

    fn set_userenr(&mut self, value: u64) {
        // SAFETY: as set_selr.
        unsafe { asm!("msr pmuserenr_el0, {}", in(reg) value, options(nostack, preserves_flags)) };
    }

    fn set_hpmn(&mut self, hpmn: u8) {
        let mdcr = (read_mdcr_el2().bits() & !HPMN_MASK) | u64::from(hpmn);
        write_mdcr_el2(MdcrEl2::from_bits_retain(mdcr));
        // SAFETY: a barrier only.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }
}
