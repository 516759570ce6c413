// SPDX-License-Identifier: MIT OR Apache-2.0

//! The protected EL2 firmware that owns the partitioning of the Arm PMU counters.
//!
//! TF-A boots it as BL33 at EL2 (or QEMU does, directly); it keeps EL2, builds the host's stage-2
//! without its own memory, fixes up the device tree, and runs the host kernel at EL1. From then on
//! it only runs when the host traps to it: HVC and SMC calls (its own service, the PSCI relay,
//! relays to EL3) and refused memory accesses.
//!
//! Everything but `arch` is plain Rust that runs in host unit tests; `arch` holds the aarch64
//! entry points, vectors and the glue that touches the real CPU.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg(target_arch = "aarch64")]
pub mod arch;
pub use el2_devicetree as devicetree;
pub use el2_page_tables::el2_mmu;
pub mod esr;
pub mod host_calls;
pub mod host_config;
pub mod host_image;
pub use el2_page_tables::host_stage2;
pub mod host_trap;
pub mod inject;
pub mod logger;
#[cfg(test)]
mod model;
pub mod monitor;
pub mod percpu;
pub mod pmu;
pub mod psci_relay;
pub mod redist;
pub mod trap_frame;
pub mod vm;
