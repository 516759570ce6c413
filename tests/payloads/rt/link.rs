// SPDX-License-Identifier: MIT OR Apache-2.0

// Shared by the payloads' build scripts (`include!`d): links the payload where the host bundle
// puts a kernel, 2 MiB above the platform's bundle base, with the runtime's linker script.

#[allow(dead_code)]
fn link_payload() {
    use platform::{Current, Platform};
    link_payload_at(Current::HOST_BUNDLE_BASE + (2 << 20));
}

/// Links the payload at `base` (a guest: where it finds its memory).
fn link_payload_at(base: u64) {
    use std::{env, fs, path::PathBuf};

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("payload_base.ld"), format!("PAYLOAD_BASE = {base:#x};\n")).unwrap();
    let rt = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../rt");
    println!("cargo:rerun-if-changed={}", rt.join("image.ld").display());
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-T{}", rt.join("image.ld").display());
    }
}
