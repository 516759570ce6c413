// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's stage-2 translation: an identity map of RAM and devices that leaves out EL2's own
//! memory and the GIC registers that take DMA addresses. Any host access to EL2's memory (image,
//! stacks, heap, page tables) or to the GIC's ITS faults to EL2 as a stage-2 translation fault
//! and is refused (see `inject`); the redistributors' LPI register pages are emulated (`redist`).

use aarch64_paging::{
    MapError,
    descriptor::Stage2Attributes,
    idmap::IdMap,
    paging::{MemoryRegion, Stage2},
};
use alloc::vec::Vec;
use platform::Region;

/// Root at level 1 with 4 KiB granules: a 39-bit IPA space (512 GiB) in one root table.
pub const ROOT_LEVEL: usize = 1;
pub const IPA_BITS: u64 = 39;

/// Normal write-back memory, read/write/execute: the host's RAM, and a VM's.
pub const RAM: Stage2Attributes = Stage2Attributes::VALID
    .union(Stage2Attributes::MEMATTR_NORMAL_INNER_WB)
    .union(Stage2Attributes::MEMATTR_NORMAL_OUTER_WB)
    .union(Stage2Attributes::SH_INNER)
    .union(Stage2Attributes::S2AP_ACCESS_RW)
    .union(Stage2Attributes::ACCESS_FLAG);

// Device memory is never executable, whatever the host's stage-1 says.
const DEVICE: Stage2Attributes = Stage2Attributes::VALID
    .union(Stage2Attributes::MEMATTR_DEVICE_nGnRE)
    .union(Stage2Attributes::S2AP_ACCESS_RW)
    .union(Stage2Attributes::ACCESS_FLAG)
    .union(Stage2Attributes::XN);

/// `region` minus `hole`: zero, one or two pieces.
pub fn subtract(region: Region, hole: Region) -> [Option<Region>; 2] {
    if !region.overlaps(&hole) {
        return [Some(region), None];
    }
    let below = (hole.base > region.base).then(|| Region::new(region.base, hole.base - region.base));
    let above = (hole.end() < region.end()).then(|| Region::new(hole.end(), region.end() - hole.end()));
    [below, above]
}

/// `region` minus every one of `holes`, in address order.
pub fn subtract_all(region: Region, holes: &[Region]) -> Vec<Region> {
    // Already in order, no sort needed: the pieces are disjoint and ascending, and each is
    // replaced in place by what is below the hole, then what is above it.
    let mut pieces = alloc::vec![region];
    for &hole in holes {
        pieces = pieces.into_iter().flat_map(|p| subtract(p, hole).into_iter().flatten()).collect();
    }
    pieces
}

/// Builds the host stage-2 map: `ram` as normal memory and `devices` as device memory, both
/// without `holes` (EL2's memory, the ITS frames, the redistributor pages EL2 emulates).
///
/// RAM is mapped with blocks of at most 2 MiB (never 1 GiB): RAM given to a VM leaves the live map
/// in whole 2 MiB blocks, and turning a valid block entry invalid (or back) needs no
/// break-before-make, where splitting a 1 GiB block would. Holes in device space are 4 KiB pages
/// where they must be: the crate maps whatever granule each piece allows.
#[inline(never)]
pub fn build(ram: &[Region], devices: &[Region], holes: &[Region]) -> Result<IdMap<Stage2>, MapError> {
    let mut map = IdMap::new(ROOT_LEVEL, Stage2);
    let limit = 1u64 << IPA_BITS;
    for (regions, attrs) in [(ram, RAM), (devices, DEVICE)] {
        for &region in regions {
            for piece in subtract_all(region, holes) {
                if piece.base >= limit {
                    continue;
                }
                let end = piece.end().min(limit);
                let step = if attrs == RAM { BLOCK_2M } else { end - piece.base };
                let mut start = piece.base;
                while start < end {
                    let chunk_end = ((start / step + 1) * step).min(end);
                    map.map_range(&MemoryRegion::new(start as usize, chunk_end as usize), attrs)?;
                    start = chunk_end;
                }
            }
        }
    }
    Ok(map)
}

/// The granule in which RAM moves between the host and VMs.
pub const BLOCK_2M: u64 = 2 << 20;

/// Gives `region` of RAM to the host (`present`) or takes it away. The map may be live: the
/// crate does break-before-make and per-entry TLB maintenance; the caller still has to drop
/// stage-1+2 combined TLB entries (`tlbi vmalls12e1is`).
#[inline(never)]
pub fn set_ram(map: &mut IdMap<Stage2>, region: Region, present: bool) -> Result<(), MapError> {
    let range = MemoryRegion::new(region.base as usize, region.end() as usize);
    map.map_range(&range, if present { RAM } else { Stage2Attributes::empty() })
}

/// VTCR_EL2 for this map: 4 KiB granule, 39-bit IPA starting at level 1, inner-shareable
/// write-back walks, and an output size no larger than the CPU's (`parange` from
/// ID_AA64MMFR0_EL1.PARange, capped at 48 bits since nothing here lies above that).
pub fn vtcr(parange: u64) -> u64 {
    const RES1: u64 = 1 << 31;
    let t0sz = 64 - IPA_BITS;
    let sl0 = 1 << 6; // start at level 1 (4 KiB granule)
    let irgn0 = 1 << 8;
    let orgn0 = 1 << 10;
    let sh0 = 3 << 12;
    let ps = parange.min(0b101) << 16;
    RES1 | ps | sh0 | orgn0 | irgn0 | sl0 | t0sz
}

#[cfg(test)]
mod tests {
    use super::*;
    use aarch64_paging::descriptor::Stage2Attributes as A;

    const FW: Region = Region::new(0x6000_0000, 0x40_0000);

    #[test]
    fn subtraction() {
        let ram = Region::new(0x4000_0000, 0x4000_0000);
        assert_eq!(
            subtract(ram, FW),
            [Some(Region::new(0x4000_0000, 0x2000_0000)), Some(Region::new(0x6040_0000, 0x1fc0_0000))]
        );
        assert_eq!(subtract(Region::new(0, 0x1000), FW), [Some(Region::new(0, 0x1000)), None]);
        assert_eq!(subtract(FW, FW), [None, None]);
    }

    #[test]
    fn firmware_is_not_mapped_and_ram_is() {
        let ram = [Region::new(0x4000_0000, 0x4000_0000)];
        let dev = [Region::new(0, 0x4000_0000)];
        let map = build(&ram, &dev, &[FW]).unwrap();
        let mapped = |addr: usize| {
            let mut valid_leaf = None;
            map.walk_range(&MemoryRegion::new(addr, addr + 1), &mut |range, d, level| {
                if d.is_valid() && (level == 3 || !d.flags().contains(A::TABLE_OR_PAGE)) {
                    valid_leaf = Some((range.start().0, d.flags()));
                }
                Ok(())
            })
            .unwrap();
            valid_leaf
        };
        for addr in [0x6000_0000, 0x6000_1000, 0x603f_ffff] {
            assert_eq!(mapped(addr), None, "{addr:#x} must not be mapped");
        }
        let (_, f) = mapped(0x5fff_ffff).unwrap();
        assert!(f.contains(A::S2AP_ACCESS_RW | A::MEMATTR_NORMAL_INNER_WB));
        assert!(!f.contains(A::XN));
        let (_, f) = mapped(0x6040_0000).unwrap();
        assert!(f.contains(A::MEMATTR_NORMAL_OUTER_WB));
        let (_, f) = mapped(0x0900_0000).unwrap();
        assert!(f.contains(A::XN));
        assert_eq!(f & A::MEMATTR_NORMAL_INNER_WB, A::MEMATTR_DEVICE_nGnRE);
    }

    #[test]
    fn subtraction_of_many_holes() {
        let dev = Region::new(0x0800_0000, 0x10_0000);
        let holes = [Region::new(0x0808_0000, 0x2_0000), Region::new(0x0800_0000, 0x1000), Region::new(0x1000_0000, 0x1000)];
        assert_eq!(
            subtract_all(dev, &holes),
            [Region::new(0x0800_1000, 0x7_f000), Region::new(0x080a_0000, 0x6_0000)]
        );
        assert_eq!(subtract_all(dev, &[]), [dev]);
    }

    proptest::proptest! {
        /// The pieces come out ascending and disjoint (nothing sorts them), and cover exactly
        /// the region's addresses that no hole holds; probed at every hole and piece edge.
        #[test]
        fn subtraction_is_ordered_and_exact(holes in proptest::collection::vec((0u64..64, 1u64..16), 0..6)) {
            let region = Region::new(16, 32);
            let holes: Vec<Region> = holes.into_iter().map(|(b, s)| Region::new(b, s)).collect();
            let pieces = subtract_all(region, &holes);
            for w in pieces.windows(2) {
                proptest::prop_assert!(w[0].end() < w[1].base, "{pieces:?}");
            }
            for addr in 0..96 {
                let kept = region.contains(addr) && !holes.iter().any(|h| h.contains(addr));
                proptest::prop_assert_eq!(pieces.iter().any(|p| p.contains(addr)), kept, "{:#x}", addr);
            }
        }
    }

    #[test]
    fn ram_can_be_taken_away_and_given_back() {
        let ram = [Region::new(0x4000_0000, 0x4000_0000)];
        let mut map = build(&ram, &[], &[FW]).unwrap();
        map.mark_active();
        let valid = |map: &IdMap<Stage2>, addr: usize| {
            let mut v = false;
            map.walk_range(&MemoryRegion::new(addr, addr + 1), &mut |_, d, level| {
                if d.is_valid() && (level == 3 || !d.flags().contains(A::TABLE_OR_PAGE)) {
                    v = true;
                }
                Ok(())
            })
            .unwrap();
            v
        };
        let donated = Region::new(0x5020_0000, 0x40_0000);
        set_ram(&mut map, donated, false).unwrap();
        for addr in [0x5020_0000, 0x5028_0000, 0x505f_ffff] {
            assert!(!valid(&map, addr), "{addr:#x}");
        }
        for addr in [0x501f_ffff, 0x5060_0000, 0x4000_0000] {
            assert!(valid(&map, addr), "{addr:#x}");
        }
        set_ram(&mut map, donated, true).unwrap();
        assert!(valid(&map, 0x5028_0000));
        map.mark_inactive();
    }

    #[test]
    fn vtcr_fields() {
        let v = vtcr(0b0101);
        assert_eq!(v & 0x3f, 25);
        assert_eq!((v >> 6) & 3, 1);
        assert_eq!((v >> 16) & 7, 0b101);
        assert_eq!(vtcr(0b0110) >> 16 & 7, 0b101);
    }
}
