// SPDX-License-Identifier: MIT OR Apache-2.0

//! The Rust half of the prerequisites, proved from nothing: `scripts/rust-toolchain.sh` runs
//! against a throwaway, empty RUSTUP_HOME, where its check must first report every piece of
//! rust-toolchain.toml missing, then its install must bring each one (toolchain, every target,
//! every component), as a fresh machine needs. A machine that already has the toolchain cannot
//! hide a broken install path from this test.

use std::path::Path;
use std::process::Command;

fn script(home: &Path, check: bool) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/rust-toolchain.sh"));
    if check {
        cmd.arg("--check");
    }
    // rustup (the proxy in CARGO_HOME/bin) stays the machine's; only its data home is fresh.
    cmd.env("RUSTUP_HOME", home).env_remove("RUSTUP_TOOLCHAIN").env_remove("RUSTC").env_remove("CARGO");
    cmd.output().expect("bash")
}

fn toolchain_file() -> (String, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rust-toolchain.toml")).unwrap();
    let value = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('=')).unwrap().trim().to_owned()
    };
    let list = |key: &str| -> Vec<String> {
        value(key).trim_matches(['[', ']']).split(',').map(|s| s.trim().trim_matches('"').to_owned()).collect()
    };
    (value("channel").trim_matches('"').to_owned(), list("targets"), list("components"))
}

#[test]
fn rust_toolchain_installs_from_an_empty_rustup_home() {
    let (channel, targets, components) = toolchain_file();
    assert!(targets.iter().any(|t| t == "aarch64-unknown-none-softfloat"));
    let home = std::env::temp_dir().join(format!("pmup-rustup-home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();

    let before = script(&home, true);
    let said = String::from_utf8_lossy(&before.stdout).into_owned();
    assert_eq!(before.status.code(), Some(1), "check passed on an empty RUSTUP_HOME:\n{said}");
    assert!(said.contains(&format!("missing: toolchain {channel}")), "{said}");
    for t in &targets {
        assert!(said.contains(&format!("missing: target {t}\n")), "target {t} not reported:\n{said}");
    }
    for c in &components {
        assert!(said.contains(&format!("missing: component {c}\n")), "component {c} not reported:\n{said}");
    }

    let install = script(&home, false);
    assert!(
        install.status.success(),
        "install from nothing failed:\n{}{}",
        String::from_utf8_lossy(&install.stdout),
        String::from_utf8_lossy(&install.stderr)
    );
    let after = script(&home, true);
    assert!(after.status.success(), "still missing after install:\n{}", String::from_utf8_lossy(&after.stdout));

    // Ask rustup itself, not the script, that each piece is there.
    let rustup = |args: &[&str]| {
        let out = Command::new("rustup").args(args).env("RUSTUP_HOME", &home).output().expect("rustup");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let installed = rustup(&["target", "list", "--installed", "--toolchain", &channel]);
    for t in &targets {
        assert!(installed.lines().any(|l| l == t), "rustup does not list target {t}: {installed}");
    }
    let comps = rustup(&["component", "list", "--installed", "--toolchain", &channel]);
    for c in &components {
        assert!(comps.lines().any(|l| l.starts_with(&format!("{c}-"))), "rustup does not list {c}: {comps}");
    }

    // Remove one target: the check names exactly that one and the install puts it back.
    let out = Command::new("rustup")
        .args(["target", "remove", "--toolchain", &channel, "aarch64-unknown-none-softfloat"])
        .env("RUSTUP_HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success());
    let gap = script(&home, true);
    assert_eq!(String::from_utf8_lossy(&gap.stdout), "missing: target aarch64-unknown-none-softfloat\n");
    assert!(script(&home, false).status.success());
    assert!(script(&home, true).status.success());
    let _ = std::fs::remove_dir_all(&home);
}
