// SPDX-License-Identifier: MIT OR Apache-2.0

//! QEMU's `virt` machine (`-machine virt,secure=on,virtualization=on,gic-version=3`), booted
//! through TF-A's `PLAT=qemu` port, or directly with `-kernel`.

use crate::{Platform, Region, affinity};

/// QEMU `virt`.
pub enum Qemu {}

impl Platform for Qemu {
    const NAME: &'static str = "qemu-virt";

    // TF-A's NS_IMAGE_OFFSET for PLAT=qemu: BL31 enters BL33 here at EL2.
    const LOAD_ADDRESS: u64 = 0x6000_0000;
    const FIRMWARE_SIZE: u64 = 0x40_0000;

    // `-m 1024`; the device tree's memory node overrides it.
    const DEFAULT_RAM: Region = Region::new(0x4000_0000, 0x4000_0000);
    // QEMU writes its device tree at the start of RAM (TF-A's PLAT_QEMU_DT_BASE), and TF-A
    // reserves 1 MiB for it (PLAT_QEMU_DT_MAX_SIZE).
    const DT_BASE: u64 = 0x4000_0000;
    const DT_MAX_SIZE: u64 = 0x10_0000;
    // Loaded by `-device loader,file=host.bundle,addr=0x48000000,force-raw=on`.
    const HOST_BUNDLE_BASE: u64 = 0x4800_0000;

    const UART_BASE: u64 = 0x0900_0000;
    const GICD_BASE: u64 = 0x0800_0000;
    const GICR_BASE: u64 = 0x080a_0000;
    // Room for 123 redistributors of 128 KiB (QEMU's VIRT_GIC_REDIST; more CPUs use a second,
    // high region that the device tree describes).
    const GICR_SIZE: u64 = 0xf6_0000;
    const GIC_ITS: &'static [Region] = &[Region::new(0x0808_0000, 0x2_0000)];
    // Everything below RAM is MMIO or flash on `virt`; the high GIC redistributor and PCIe
    // windows sit at 256 GiB and above.
    const DEVICE_REGIONS: &'static [Region] = &[
        Region::new(0, 0x4000_0000),
        Region::new(0x40_0000_0000, 0x40_0000_0000),
    ];

    const MAX_CPUS: usize = 8;
    const PMU_INTID: u32 = 23;

    fn cpu_index(mpidr: u64) -> Option<usize> {
        // `virt` numbers CPUs in clusters of 8 (Aff0) for GICv3.
        let (aff0, aff1, aff2, aff3) = affinity(mpidr);
        if aff2 != 0 || aff3 != 0 || aff0 >= 8 {
            return None;
        }
        let index = (aff1 * 8 + aff0) as usize;
        (index < Self::MAX_CPUS).then_some(index)
    }
}
