// SPDX-License-Identifier: MIT OR Apache-2.0

//! Workload probe: a bare-metal host payload that runs the workload guest (the bundle's initrd,
//! tests/payloads/workload) on this CPU's reserved PMU counters with 0, 1, 2 and 3 counters and
//! two loop lengths, checks the protocol and the counts that hold everywhere, and prints the
//! instruction and cycle counts (`WORKLOAD:` lines) for the test to check where they are exact.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("workload-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
