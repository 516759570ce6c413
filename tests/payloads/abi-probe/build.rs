// SPDX-License-Identifier: MIT OR Apache-2.0

//! Links the payload where the host bundle puts a kernel: 2 MiB above the bundle base.

use platform::{Current, Platform};
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let base = Current::HOST_BUNDLE_BASE + smc_interface_kernel_offset();
    fs::write(out.join("payload_base.ld"), format!("PAYLOAD_BASE = {base:#x};\n")).unwrap();
    println!("cargo:rerun-if-changed=image.ld");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-T{}", dir.join("image.ld").display());
    }
}

/// The bundle puts the kernel at the first 2 MiB boundary after its 4 KiB header.
fn smc_interface_kernel_offset() -> u64 {
    2 << 20
}
