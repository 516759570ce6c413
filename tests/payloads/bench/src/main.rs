// SPDX-License-Identifier: MIT OR Apache-2.0

//! Path-length benchmark: a bare-metal host payload that times EL2's paths in instructions.
//!
//! Run under QEMU with `-icount shift=0` (`make bench`), where the cycle counter advances exactly
//! once per instruction. The counter is set to count at EL1 and EL2 (PMCCFILTR_EL0.NSH), so a
//! measured call covers the host's call sequence, the trap, EL2's handling and the return; EL3
//! (Secure state) is never counted. Each path runs many times and the result is the exact mean,
//! printed as `BENCH: <name> <instructions per call>`.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod bench;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("bench is an aarch64 bare-metal payload; build it with `make bench`");
    std::process::exit(1);
}
