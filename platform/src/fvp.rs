// SPDX-License-Identifier: MIT OR Apache-2.0

//! Arm's `FVP_Base_RevC-2xAEMvA` model, booted through TF-A's `PLAT=fvp` port.

use crate::{MPIDR_MT, Platform, Region, affinity};

/// Arm FVP Base RevC, 2 clusters of 4 cores.
pub enum Fvp {}

const CORES_PER_CLUSTER: u64 = 4;
const CLUSTERS: u64 = 2;

impl Platform for Fvp {
    const NAME: &'static str = "fvp-base-revc";

    // TF-A's PLAT_ARM_NS_IMAGE_BASE for FVP (DRAM1 base + 0x0800_0000).
    const LOAD_ADDRESS: u64 = 0x8800_0000;
    const FIRMWARE_SIZE: u64 = 0x40_0000;

    // DRAM0: 2 GiB at 0x8000_0000 (the top 16 MiB are TF-A's secure DRAM on FVP: the device
    // tree TF-A's fdts/fvp-base-gicv3-psci.dts describes stops below it).
    const DEFAULT_RAM: Region = Region::new(0x8000_0000, 0x7f00_0000);
    // Where TF-A's FVP port expects a preloaded device tree (ARM_PRELOADED_DTB_BASE).
    const DT_BASE: u64 = 0x8200_0000;
    const DT_MAX_SIZE: u64 = 0x10_0000;
    // Loaded with `--data cluster0.cpu0=host.bundle@0x90000000`.
    const HOST_BUNDLE_BASE: u64 = 0x9000_0000;

    const UART_BASE: u64 = 0x1c09_0000;
    const GICD_BASE: u64 = 0x2f00_0000;
    const GICR_BASE: u64 = 0x2f10_0000;
    // As TF-A's fdts/fvp-base-gicv3-psci-common.dtsi describes them.
    const GICR_SIZE: u64 = 0x20_0000;
    const GIC_ITS: &'static [Region] = &[Region::new(0x2f02_0000, 0x2_0000)];
    const DEVICE_REGIONS: &'static [Region] = &[Region::new(0, 0x8000_0000)];

    const MAX_CPUS: usize = (CORES_PER_CLUSTER * CLUSTERS) as usize;
    const PMU_INTID: u32 = 23;

    fn cpu_index(mpidr: u64) -> Option<usize> {
        let (aff0, aff1, aff2, aff3) = affinity(mpidr);
        // With MPIDR.MT set the model numbers threads in Aff0, cores in Aff1, clusters in Aff2.
        let (core, cluster, rest) = if mpidr & MPIDR_MT != 0 {
            (aff1, aff2, aff0 | aff3)
        } else {
            (aff0, aff1, aff2 | aff3)
        };
        if rest != 0 || core >= CORES_PER_CLUSTER || cluster >= CLUSTERS {
            return None;
        }
        Some((cluster * CORES_PER_CLUSTER + core) as usize)
    }
}
