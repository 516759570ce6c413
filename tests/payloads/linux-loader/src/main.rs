// SPDX-License-Identifier: MIT OR Apache-2.0

//! A BL33 that is no hypervisor: it enters Linux at EL2, so that Linux's own KVM takes EL2 (pKVM
//! with `kvm-arm.mode=protected`). `make bench` puts it in a flash image of its own with the very
//! same TF-A (BL1, BL2, BL31) as the firmware's, and boots the same host bundle at 0x4800_0000 that
//! the firmware boots: that is how it measures pKVM side by side with this firmware
//! (docs/performance.md).
//!
//! What it does, once, on the boot CPU, MMU off: checks it runs at EL2, reads the bundle header
//! (`smc_interface::boot`), writes the bundle's command line and initrd into `/chosen` of the
//! device tree QEMU wrote and TF-A's BL2 completed at the start of RAM (in place, growing it
//! within the 1 MiB TF-A leaves it), and jumps to the kernel with x0 = the device tree, as the
//! arm64 boot protocol asks. Secondary CPUs never see it: Linux starts them with PSCI CPU_ON,
//! which TF-A enters at EL2 at Linux's own entry. On any error it prints `LOADER: error: ...`
//! and powers the machine off.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod loader;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("linux-loader is an aarch64 BL33; `make bench` builds it into target/out/qemu/flash-pkvm.bin");
    std::process::exit(1);
}
