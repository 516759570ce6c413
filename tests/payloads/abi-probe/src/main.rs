// SPDX-License-Identifier: MIT OR Apache-2.0

//! ABI probe: a bare-metal host payload that the EL2 firmware boots at EL1 in place of Linux.
//!
//! It checks, exactly, what the host sees of EL2: the discovery calls and their values on both
//! conduits, the error answers to bad function IDs and arguments, that EL2's memory is refused
//! with an abort (reads, writes, instruction fetches) while EL2 keeps serving calls, that the GIC's
//! ITS is refused the same way and the redistributors offer no LPIs, and that every CPU it turns
//! on through PSCI arrives at EL1 under the same EL2. Each check prints a
//! `PROBE:` line; the run ends with `PROBE: RESULT pass=N fail=M` and a PSCI SYSTEM_OFF.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("abi-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
