// SPDX-License-Identifier: MIT OR Apache-2.0

//! Finding the host to boot: the host boot bundle the platform loaded at a fixed address (see
//! `smc_interface::boot` and `docs/booting.md`).
//!
//! The bundle is checked before anything in it is used: the header must be valid, and the
//! kernel's whole footprint and the initrd must lie in RAM and outside EL2's memory.

use platform::Region;
use smc_interface::boot::{BundleError, HEADER_SIZE, HostBundleHeader, LogLevel};

/// What EL2 boots.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HostImage<'a> {
    /// Where the kernel starts (2 MiB aligned) and is entered.
    pub entry: u64,
    pub kernel: Region,
    /// [start, end) of the initrd.
    pub initrd: Option<(u64, u64)>,
    pub cmdline: &'a str,
    pub log_level: LogLevel,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum HostImageError {
    Header(BundleError),
    /// The bundle reaches outside RAM or into EL2's memory.
    OutOfBounds,
}

impl core::fmt::Display for HostImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Header(e) => write!(f, "{e}"),
            Self::OutOfBounds => f.write_str("the bundle reaches outside RAM or into EL2's memory"),
        }
    }
}

fn inside_ram(r: Region, ram: &[Region]) -> bool {
    ram.iter().any(|m| r.base >= m.base && r.end() <= m.end())
}

/// Validates the bundle whose first `HEADER_SIZE` bytes are `header`, loaded at `base`.
pub fn parse<'a>(
    base: u64,
    header: &'a [u8],
    ram: &[Region],
    firmware: Region,
) -> Result<HostImage<'a>, HostImageError> {
    let h = HostBundleHeader::parse(header).map_err(HostImageError::Header)?;
    let total = Region::new(base, h.total_size());
    if base.checked_add(h.total_size()).is_none() || !inside_ram(total, ram) || total.overlaps(&firmware) {
        return Err(HostImageError::OutOfBounds);
    }
    let k = h.kernel_mem_range();
    Ok(HostImage {
        entry: base + k.start,
        kernel: Region::new(base + k.start, k.end - k.start),
        initrd: h.initrd_range().map(|r| (base + r.start, base + r.end)),
        cmdline: h.cmdline_str(),
        log_level: h.log_level(),
    })
}

/// Bytes EL2 reads to validate a bundle.
pub const HEADER_BYTES: usize = HEADER_SIZE;

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    const RAM: [Region; 1] = [Region::new(0x4000_0000, 0x4000_0000)];
    const FW: Region = Region::new(0x6000_0000, 0x40_0000);

    #[test]
    fn valid_bundle() {
        let h = HostBundleHeader::new(0x1000, 0x3000, 0x800, "console=ttyAMA0", LogLevel::Info).unwrap();
        let img = parse(0x4800_0000, h.as_bytes(), &RAM, FW).unwrap();
        assert_eq!(img.entry, 0x4820_0000);
        assert_eq!(img.kernel, Region::new(0x4820_0000, 0x3000));
        assert_eq!(img.cmdline, "console=ttyAMA0");
        let (s, e) = img.initrd.unwrap();
        assert_eq!(e - s, 0x800);
        assert!(s >= 0x4820_3000);
        assert_eq!(img.log_level, LogLevel::Info);
    }

    #[test]
    fn refuses_bundles_over_firmware_or_outside_ram() {
        let h = HostBundleHeader::new(0x1000, 0x100_0000, 0, "", LogLevel::BuildDefault).unwrap();
        assert_eq!(parse(0x5fe0_0000, h.as_bytes(), &RAM, FW), Err(HostImageError::OutOfBounds));
        assert_eq!(parse(0x7fe0_0000, h.as_bytes(), &RAM, FW), Err(HostImageError::OutOfBounds));
        assert_eq!(parse(0xffff_ffff_ffff_0000, h.as_bytes(), &RAM, FW), Err(HostImageError::OutOfBounds));
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(parse(0x4800_0000, &[0u8; 4096], &RAM, FW), Err(HostImageError::Header(_))));
    }
}
