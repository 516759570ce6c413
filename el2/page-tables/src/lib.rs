// SPDX-License-Identifier: MIT OR Apache-2.0

//! EL2's stage-1 map, the host's stage-2 map and the VMs' (el2's `el2_mmu`, `host_stage2` and
//! `guest_stage2`).
//!
//! A crate of its own so that the release build compiles it, and the page-table crate's generic
//! code it instantiates, for size (the workspace's `Cargo.toml`): the tables are built at boot
//! and changed only by the VM calls that donate or return memory, never on a hot path. The
//! builders are never inlined, so that they stay built for size in the firmware's boot code.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod el2_mmu;
pub mod guest_stage2;
pub mod host_stage2;
