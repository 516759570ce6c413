// SPDX-License-Identifier: MIT OR Apache-2.0

//! Per-platform facts the firmware is built for: memory map, UART, GIC, CPUs, load address.
//!
//! Exactly one platform is selected at build time with a cargo feature (`qemu`, the default, or
//! `fvp`); `Current` names it. The firmware reads everything platform-specific through the
//! [`Platform`] trait so that adding a board is adding one module.

#![no_std]

mod fvp;
mod qemu;

pub use fvp::Fvp;
pub use qemu::Qemu;

#[cfg(all(feature = "qemu", feature = "fvp"))]
compile_error!("select exactly one platform feature: `qemu` or `fvp`");

/// The platform this build is for.
#[cfg(feature = "fvp")]
pub type Current = Fvp;
/// The platform this build is for.
#[cfg(all(feature = "qemu", not(feature = "fvp")))]
pub type Current = Qemu;

/// A physical address range `[base, base + size)`.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    pub const fn end(&self) -> u64 {
        self.base + self.size
    }

    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }

    pub const fn overlaps(&self, other: &Region) -> bool {
        self.base < other.end() && other.base < self.end()
    }
}

/// `0xbase..0xend`, the form EL2's log uses.
impl core::fmt::Display for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}..{:#x}", self.base, self.end())
    }
}

/// A list of regions for the log, `[0xa..0xb, 0xc..0xd]`: `Display` rather than the slice's
/// `Debug`, whose machinery (and str escaping) a firmware image need not carry.
pub struct Regions<'a>(pub &'a [Region]);

impl core::fmt::Display for Regions<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[")?;
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str("]")
    }
}

/// What the firmware needs to know about a board.
pub trait Platform {
    /// Name printed in the boot banner.
    const NAME: &'static str;

    /// Where the firmware image is linked and loaded: TF-A's BL33 address.
    const LOAD_ADDRESS: u64;
    /// The memory the firmware owns from `LOAD_ADDRESS` on: image, stacks, heap, page tables.
    /// It is left out of the host's stage-2 and reserved (no-map) in the host's device tree.
    const FIRMWARE_SIZE: u64;

    /// Normal memory the platform is assumed to have when the device tree does not say.
    const DEFAULT_RAM: Region;
    /// Where the device tree is when the previous stage did not pass it in x0.
    const DT_BASE: u64;
    /// The most the firmware lets the fixed-up device tree grow to, in place at `DT_BASE`.
    const DT_MAX_SIZE: u64;
    /// Where the platform loads the host boot bundle (see `smc_interface::boot`).
    const HOST_BUNDLE_BASE: u64;

    /// PL011 UART used for the firmware's log.
    const UART_BASE: u64;
    /// GICv3 distributor and redistributors.
    const GICD_BASE: u64;
    const GICR_BASE: u64;
    /// Size of the redistributor region at `GICR_BASE`, used when the device tree does not say.
    const GICR_SIZE: u64;
    /// The GIC's ITS register frames (control and translation). EL2 hides them from the host
    /// whatever the device tree says: an ITS writes its tables wherever it is told to.
    const GIC_ITS: &'static [Region];
    /// Device (MMIO) space the host may reach through its stage-2, identity mapped.
    const DEVICE_REGIONS: &'static [Region];

    /// The most CPUs the firmware keeps state for.
    const MAX_CPUS: usize;
    /// INTID of the PMU overflow interrupt (a PPI).
    const PMU_INTID: u32;
    /// PMU event counters reserved for partitions from boot on, on every CPU: the host never sees
    /// them (an unmodified host simply finds fewer counters). The device tree's
    /// `/chosen/pmu-partition,reserved-counters` overrides it.
    const PMU_BOOT_RESERVED: u8 = 0;
    /// PMU event counters the host always keeps on every CPU.
    const PMU_HOST_MINIMUM: u8 = 1;
    /// EL3 sets SCR_EL3.HXEn, so EL2 may program HCRX_EL2 on CPUs with FEAT_HCX (TF-A built with
    /// ENABLE_FEAT_HCX=1, as scripts/tfa.sh and scripts/tfa-fvp.sh do). Without it a host on a
    /// CPU with FEAT_MOPS cannot use those instructions (boot Linux with `arm64.nomops`).
    const EL3_ENABLES_HCRX: bool = true;

    /// Linear CPU index for an MPIDR_EL1 value, or `None` for a CPU this platform does not have.
    fn cpu_index(mpidr: u64) -> Option<usize>;

    /// The firmware's own memory.
    fn firmware_region() -> Region {
        Region::new(Self::LOAD_ADDRESS, Self::FIRMWARE_SIZE)
    }
}

/// Affinity fields of an MPIDR_EL1 value.
pub const fn affinity(mpidr: u64) -> (u64, u64, u64, u64) {
    (mpidr & 0xff, (mpidr >> 8) & 0xff, (mpidr >> 16) & 0xff, (mpidr >> 32) & 0xff)
}

/// MPIDR_EL1.MT: affinity level 0 names threads, not cores.
pub const MPIDR_MT: u64 = 1 << 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_is_inside_default_ram() {
        for (fw, ram) in [
            (Qemu::firmware_region(), Qemu::DEFAULT_RAM),
            (Fvp::firmware_region(), Fvp::DEFAULT_RAM),
        ] {
            assert!(fw.base >= ram.base && fw.end() <= ram.end());
        }
    }

    #[test]
    fn bundle_and_dt_do_not_overlap_firmware() {
        let dt = Region::new(Qemu::DT_BASE, Qemu::DT_MAX_SIZE);
        assert!(!dt.overlaps(&Qemu::firmware_region()));
        const { assert!(Qemu::HOST_BUNDLE_BASE < Qemu::LOAD_ADDRESS) };
        let dt = Region::new(Fvp::DT_BASE, Fvp::DT_MAX_SIZE);
        assert!(!dt.overlaps(&Fvp::firmware_region()));
        assert!(Fvp::HOST_BUNDLE_BASE > Fvp::firmware_region().end());
    }

    #[test]
    fn cpu_indices() {
        assert_eq!(Qemu::cpu_index(0x8000_0000), Some(0));
        assert_eq!(Qemu::cpu_index(0x8000_0003), Some(3));
        // Index 8 would be past MAX_CPUS.
        assert_eq!(Qemu::cpu_index(0x8000_0100), None);
        assert_eq!(Qemu::cpu_index(0x8000_0007), Some(7));
        assert_eq!(Qemu::cpu_index(0x8000_0000 | 0xff), None);
        assert_eq!(Qemu::cpu_index(1 << 32), None);
        // FVP with MT: Aff1 = core, Aff2 = cluster.
        assert_eq!(Fvp::cpu_index(0x8100_0000), Some(0));
        assert_eq!(Fvp::cpu_index(0x8100_0300), Some(3));
        assert_eq!(Fvp::cpu_index(0x8101_0100), Some(5));
        // FVP without MT: Aff0 = core, Aff1 = cluster.
        assert_eq!(Fvp::cpu_index(0x8000_0102), Some(6));
        assert_eq!(Fvp::cpu_index(0x8000_0200), None);
    }
}
