// SPDX-License-Identifier: MIT OR Apache-2.0

//! PMU probe: a bare-metal host payload that runs the PMU reserve / unreserve handshake against
//! EL2 on every CPU, and checks exactly what the host sees: PMU_INFO and PMU_STATUS, PMCR_EL0.N
//! following HPMN, every error answer (and that a refused call changes nothing), counters reset
//! when reserved and scrubbed when given back even after the host wrote into them, and a host
//! event that keeps counting exactly through it all. Ends with `PROBE: RESULT pass=N fail=M`.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("pmu-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
