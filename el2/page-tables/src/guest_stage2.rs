// SPDX-License-Identifier: MIT OR Apache-2.0

//! A VM's own stage-2: its guest-physical RAM at a fixed base onto the memory the host donated.

use crate::host_stage2::RAM;
use aarch64_paging::{
    MapError, Mapping,
    descriptor::{PhysicalAddress, Stage2Attributes},
    idmap::IdTranslation,
    paging::{Constraints, MemoryRegion, Stage2},
};
use core::mem::ManuallyDrop;

type Map = Mapping<IdTranslation<Stage2Attributes>, Stage2>;

/// A VM's stage-2 tables, freed when it is dropped.
///
/// The map is dropped here, by hand, so that the page-table crate's code for it is compiled in
/// this crate (for size) and not in the firmware's (where dropping a field would put it).
pub struct GuestStage2(ManuallyDrop<Map>);

impl GuestStage2 {
    /// [ipa, ipa + size) onto [pa, pa + size), normal write-back memory, read/write/execute.
    pub fn new(ipa: u64, pa: u64, size: u64) -> Result<Self, MapError> {
        let mut map = Map::new(IdTranslation::new(), 1, Stage2);
        let range = MemoryRegion::new(ipa as usize, (ipa + size) as usize);
        map.map_range(&range, PhysicalAddress(pa as usize), RAM, Constraints::empty())?;
        Ok(Self(ManuallyDrop::new(map)))
    }

    /// The physical address of the root table (VTTBR_EL2.BADDR).
    pub fn root_address(&self) -> u64 {
        self.0.root_address().0 as u64
    }
}

impl Drop for GuestStage2 {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the map is not used after.
        unsafe { ManuallyDrop::drop(&mut self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output address of the leaf entry mapping `ipa`, with the size it maps.
    fn leaf(s2: &GuestStage2, ipa: usize) -> Option<(usize, usize)> {
        let mut found = None;
        s2.0.walk_range(&MemoryRegion::new(ipa, ipa + 1), &mut |_, d, level| {
            if d.is_valid() && (level == 3 || !d.flags().contains(Stage2Attributes::TABLE_OR_PAGE)) {
                found = Some((d.output_address().0, if level == 3 { 0x1000 } else { 1 << (39 - 9 * level) }));
            }
            Ok(())
        })
        .unwrap();
        found
    }

    #[test]
    fn maps_the_donated_memory_at_the_guest_base_and_nothing_else() {
        let s2 = GuestStage2::new(0x4000_0000, 0x5000_0000, 2 << 20).unwrap();
        assert_ne!(s2.root_address(), 0);
        let (out, size) = leaf(&s2, 0x4010_0000).unwrap();
        assert_eq!(out, 0x5010_0000 & !(size - 1));
        assert_eq!(leaf(&s2, 0x4020_0000), None);
        assert_eq!(leaf(&s2, 0x3fff_f000), None);
    }
}
