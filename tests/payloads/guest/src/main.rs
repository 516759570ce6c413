// SPDX-License-Identifier: MIT OR Apache-2.0

//! A guest for the VM tests: runs at EL1 inside a VM with the MMU off, talks to EL2 only through
//! its own calls (GUEST_REPORT, GUEST_DONE), and tries what a hostile guest would: the host's
//! calls, EL3, memory outside its own (EL2's and the host's addresses, MMIO), the PMU and FP/SIMD
//! it was not given. Each step is one GUEST_REPORT the host checks; the run ends with GUEST_DONE.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod guest;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("guest is an aarch64 bare-metal guest payload; build it with `make`");
    std::process::exit(1);
}
