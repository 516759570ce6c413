// SPDX-License-Identifier: MIT OR Apache-2.0

//! Stress probe: a bare-metal host payload in which all 4 CPUs hammer EL2 at once, each for
//! [`probe::ROUNDS`] rounds of PMU_RESERVE, VM_CREATE, VM_LOAD, VCPU_CREATE, VCPU_RUN (the guest
//! touches its partitioned PMU and exits), VM_DESTROY and PMU_UNRESERVE, with hostile donations of
//! each other's memory in between, and the secondaries turning themselves off mid-round (holding a
//! reservation and a VM) to be turned on again by CPU 0. It ends with a consistency check: every
//! CPU's PMU_STATUS back to its boot state, every donated range back with the host, and all VM
//! slots free. Each CPU's summary is a `PROBE:` line; the run ends with `PROBE: RESULT`.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("stress-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
