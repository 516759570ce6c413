// SPDX-License-Identifier: MIT OR Apache-2.0

//! Power probe: a bare-metal host payload that turns a CPU off and on again, round after round,
//! while that CPU holds a PMU reservation and owns a VM, and checks that it comes back through
//! EL2 every time with its reservation intact (issue 8, defect 2: a relayed CPU_OFF used to leave
//! the CPU's PMU lock held, so the CPU spun in EL2 forever on its next CPU_ON). It also checks
//! that CPU_ON entry points outside the host's own memory get INVALID_ADDRESS (defect 7). Each
//! check prints a `PROBE:` line; the run ends with `PROBE: RESULT pass=N fail=M`.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("power-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
