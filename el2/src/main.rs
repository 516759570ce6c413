// SPDX-License-Identifier: MIT OR Apache-2.0

//! The EL2 firmware image. Everything lives in the `el2` library; this binary only pulls it in
//! and lets the linker script (`image.ld`) place it, starting at `_start`.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
use el2 as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("el2 is firmware: build it with `make`, for aarch64-unknown-none-softfloat");
    std::process::exit(1);
}
