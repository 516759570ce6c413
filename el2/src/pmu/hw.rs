// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PMU registers EL2 uses to hand counters over, as a small trait: the partition logic runs
//! unchanged on the CPU (`arch::pmu_regs`) and on `pmu::fake::FakePmu` (feature `fakes`) in host
//! tests and in the host driver's in-process model of EL2.

/// EL2's view of this CPU's PMU. Counter masks have bit n for event counter n; bit 31 (the cycle
/// counter) is never part of a partition and never touched through these methods' masks.
pub trait PmuHw {
    /// PMCR_EL0.N as EL2 reads it: every event counter the CPU has.
    fn counters(&self) -> u8;
    fn read_counter(&self, n: u8) -> u64;
    fn write_counter(&mut self, n: u8, value: u64);
    fn read_type(&self, n: u8) -> u64;
    fn write_type(&mut self, n: u8, value: u64);
    /// PMCNTENSET_EL0.
    fn enabled(&self) -> u32;
    fn disable(&mut self, mask: u32);
    /// PMINTENSET_EL1.
    fn interrupts(&self) -> u32;
    fn disable_interrupts(&mut self, mask: u32);
    /// PMOVSSET_EL0.
    fn overflows(&self) -> u32;
    fn clear_overflows(&mut self, mask: u32);
    /// MDCR_EL2.HPMN, the first counter EL1 and EL0 cannot see.
    fn hpmn(&self) -> u8;
    /// MDCR_EL2.HPMD (PMUv3p1 on): counters below HPMN never count at EL2, whatever their filter.
    fn el2_prohibited(&self) -> bool;
    fn set_hpmn(&mut self, hpmn: u8);

    // What the partition world switch and the trap emulator need besides.

    /// PMCNTENSET_EL0 / PMINTENSET_EL1 / PMOVSSET_EL0 writes.
    fn enable(&mut self, mask: u32);
    fn enable_interrupts(&mut self, mask: u32);
    fn set_overflows(&mut self, mask: u32);
    /// PMCR_EL0 as a whole.
    fn pmcr(&self) -> u64;
    fn set_pmcr(&mut self, value: u64);
    /// MDCR_EL2.HPMN, with HPME (counters at and above it count) and HLP (they are 64-bit), in
    /// one update: a partition's PMU load and put change all three, and each update of MDCR_EL2
    /// costs a synchronisation.
    fn set_hpmn_and_el2_counters(&mut self, hpmn: u8, enabled: bool, long: bool);
    /// Sets or clears PMCNTENSET_EL0.C (bit 31), the host's cycle counter enable, which the
    /// event counter masks above leave alone. Only the partition world switch touches it (and reads
    /// it as bit 31 of `enabled`).
    fn enable_cycle_counter(&mut self, on: bool);
    /// PMSELR_EL0 and PMUSERENR_EL0: EL0/EL1 state a partition owns while its PMU is loaded.
    fn selr(&self) -> u64;
    fn set_selr(&mut self, value: u64);
    fn userenr(&self) -> u64;
    fn set_userenr(&mut self, value: u64);
    /// PMCEID0_EL0 (`n` = 0) or PMCEID1_EL0: the common events the CPU implements.
    fn event_ids(&self, n: u8) -> u64;
    /// Whether a partition's PMU accesses trap (MDCR_EL2.TPM and TPMCR) or, in the direct mode,
    /// reach its counters; `fgt`: the CPU has FEAT_FGT, whose traps (`pmu::fgt`) are on exactly
    /// when the others are off.
    fn trap_partition(&mut self, trap: bool, fgt: bool);
}

/// Returns every counter in `mask` to its reset state: not counting, no interrupt, no overflow,
/// event type 0 (filters included) and value 0. Nothing of what it counted remains.
pub fn scrub(hw: &mut impl PmuHw, mask: u32) {
    controls_off(hw, mask);
    zero_types_and_values(hw, mask);
}

/// The counters in `mask` stop and neither interrupt nor show an overflow; their event types and
/// values stay (the PMU switch writes or zeroes them itself, only where it has to: each write
/// saved is five instructions).
pub fn controls_off(hw: &mut impl PmuHw, mask: u32) {
    hw.disable(mask);
    hw.disable_interrupts(mask);
    hw.clear_overflows(mask);
}

/// The event types (filters included) and values of the counters in `mask` to 0, the rest of
/// their reset state being the caller's to see to.
pub fn zero_types_and_values(hw: &mut impl PmuHw, mask: u32) {
    for n in counters_in(mask) {
        hw.write_type(n, 0);
        hw.write_counter(n, 0);
    }
}

/// The event counter indices in `mask` (bits 0..=30), lowest first: one step per counter, not per
/// bit, since the masks on the hot paths have a few bits set.
pub fn counters_in(mask: u32) -> impl Iterator<Item = u8> {
    let mut left = mask & !(1 << 31);
    // Tested for zero first: a test and a branch, where testing the index afterwards cost two
    // more instructions a counter.
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.trailing_zeros() as u8;
        left &= left - 1;
        Some(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn controls_off_leaves_types_and_values_and_zeroing_them_takes_only_the_mask() {
        let mut hw = crate::pmu::fake::FakePmu::new(6);
        for n in 0..6 {
            hw.program(n, 0x11, 100 + u64::from(n));
        }
        hw.cnten = 0b11_1111;
        hw.inten = 0b11_1111;
        hw.ovs = 0b11_1111;
        controls_off(&mut hw, 0b11_1100);
        zero_types_and_values(&mut hw, 0b11_0000);
        assert_eq!((hw.cnten, hw.inten, hw.ovs), (0b11, 0b11, 0b11), "controls of all of the mask cleared");
        assert_eq!(hw.values[..6], [100, 101, 102, 103, 0, 0]);
        assert_eq!(hw.types[..6], [0x11, 0x11, 0x11, 0x11, 0, 0]);
        scrub(&mut hw, 0b1100);
        assert_eq!((hw.values[2], hw.types[3]), (0, 0));
    }

    #[test]
    fn counters_in_lists_the_event_counters_of_a_mask_lowest_first() {
        assert_eq!(counters_in(0).count(), 0);
        assert_eq!(counters_in(0b1011_0000).collect::<Vec<_>>(), [4, 5, 7]);
        assert_eq!(counters_in(1 << 31 | 1 << 30 | 1).collect::<Vec<_>>(), [0, 30], "bit 31 is the cycle counter");
        assert_eq!(counters_in(u32::MAX).count(), 31);
    }
}
