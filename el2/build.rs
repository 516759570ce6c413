// SPDX-License-Identifier: MIT OR Apache-2.0

//! Links the image at the selected platform's load address: writes `platform.ld` with the
//! platform's numbers and hands the linker `image.ld`, which includes it.

use platform::{Current, Platform};
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(
        out.join("platform.ld"),
        format!(
            "FW_BASE = {:#x};\nFW_SIZE = {:#x};\n",
            Current::LOAD_ADDRESS,
            Current::FIRMWARE_SIZE
        ),
    )
    .unwrap();
    println!("cargo:rerun-if-changed=image.ld");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-T{}", dir.join("image.ld").display());
    }
}
