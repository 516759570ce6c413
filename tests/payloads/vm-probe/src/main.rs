// SPDX-License-Identifier: MIT OR Apache-2.0

//! VM probe: a bare-metal host payload that makes a VM from its own memory, loads the guest
//! (the bundle's initrd), runs it and checks every exit, then destroys it and checks the memory
//! came back scrubbed; and that every bad request is refused with the documented error.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("vm-probe is an aarch64 bare-metal payload; build it with `make`");
    std::process::exit(1);
}
