// SPDX-License-Identifier: MIT OR Apache-2.0

//! EL2's own stage-1 translation: identity mapped, with EL2's code read-only and everything else
//! never executable.

use aarch64_paging::{
    MapError,
    descriptor::El23Attributes,
    idmap::IdMap,
    paging::{El2, MemoryRegion},
};
use platform::Region;

/// Root at level 1 with 4 KiB granules: a 39-bit VA space.
pub const ROOT_LEVEL: usize = 1;
const VA_BITS: u64 = 39;

/// MAIR_EL2: attribute 0 is Device-nGnRE, attribute 1 Normal write-back read/write-allocate.
pub const MAIR: u64 = 0x04 | (0xff << 8);

const BASE: El23Attributes = El23Attributes::VALID
    .union(El23Attributes::ACCESSED)
    // AP[1] is RES1 in the EL2 (non-VHE) regime.
    .union(El23Attributes::USER_RES1);
const NORMAL: El23Attributes =
    BASE.union(El23Attributes::ATTRIBUTE_INDEX_1).union(El23Attributes::INNER_SHAREABLE);
const DEVICE: El23Attributes =
    BASE.union(El23Attributes::ATTRIBUTE_INDEX_0).union(El23Attributes::XN);

pub const CODE: El23Attributes = NORMAL.union(El23Attributes::READ_ONLY);
pub const RODATA: El23Attributes = NORMAL.union(El23Attributes::READ_ONLY).union(El23Attributes::XN);
pub const DATA: El23Attributes = NORMAL.union(El23Attributes::XN);

/// Where the image's sections are, from the linker script.
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    pub firmware: Region,
    pub text_end: u64,
    pub rodata_end: u64,
}

/// Builds EL2's map: all RAM as data (EL2 reads the device tree and the host bundle, and later
/// guest memory), EL2's image with per-section permissions, and the devices EL2 drives.
#[inline(never)]
pub fn build(ram: &[Region], image: &ImageLayout, devices: &[Region]) -> Result<IdMap<El2>, MapError> {
    let mut map = IdMap::new(ROOT_LEVEL, El2);
    let r = |a: u64, b: u64| MemoryRegion::new(a as usize, b as usize);
    for region in ram {
        map.map_range(&r(region.base, region.end()), DATA)?;
    }
    let fw = image.firmware;
    map.map_range(&r(fw.base, image.text_end), CODE)?;
    map.map_range(&r(image.text_end, image.rodata_end), RODATA)?;
    map.map_range(&r(image.rodata_end, fw.end()), DATA)?;
    for dev in devices {
        map.map_range(&r(dev.base, dev.end()), DEVICE)?;
    }
    Ok(map)
}

/// TCR_EL2 for this map: 39-bit VA, 4 KiB granule, inner-shareable write-back walks.
pub fn tcr(parange: u64) -> u64 {
    const RES1: u64 = (1 << 31) | (1 << 23);
    let t0sz = 64 - VA_BITS;
    let irgn0 = 1 << 8;
    let orgn0 = 1 << 10;
    let sh0 = 3 << 12;
    let ps = parange.min(0b101) << 16;
    RES1 | ps | sh0 | orgn0 | irgn0 | t0sz
}

/// SCTLR_EL2 with the MMU, data and instruction caches, stack alignment checks and
/// write-implies-execute-never on (RES1 bits as in `arch/asm_macros.S`).
pub const SCTLR: u64 = 0x30c5_0830 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_permissions() {
        let image = ImageLayout {
            firmware: Region::new(0x6000_0000, 0x40_0000),
            text_end: 0x6001_0000,
            rodata_end: 0x6001_4000,
        };
        let ram = [Region::new(0x4000_0000, 0x4000_0000)];
        let map = build(&ram, &image, &[Region::new(0x0900_0000, 0x1000)]).unwrap();
        let flags = |addr: usize| {
            let mut out = None;
            map.walk_range(&MemoryRegion::new(addr, addr + 1), &mut |_, d, level| {
                if d.is_valid() && (level == 3 || !d.flags().contains(El23Attributes::TABLE_OR_PAGE)) {
                    out = Some(d.flags());
                }
                Ok(())
            })
            .unwrap();
            out.unwrap()
        };
        assert!(flags(0x6000_0000).contains(El23Attributes::READ_ONLY));
        assert!(!flags(0x6000_0000).contains(El23Attributes::XN));
        assert!(flags(0x6001_0000).contains(El23Attributes::READ_ONLY | El23Attributes::XN));
        assert!(!flags(0x6001_4000).contains(El23Attributes::READ_ONLY));
        assert!(flags(0x6001_4000).contains(El23Attributes::XN));
        assert!(flags(0x4800_0000).contains(El23Attributes::XN));
        assert!(flags(0x0900_0000).contains(El23Attributes::XN));
    }
}
