// SPDX-License-Identifier: MIT OR Apache-2.0

//! The Rust uapi against the C header it types: a small C program, compiled by the host's `cc`
//! against `include/uapi/linux/pmu_partition.h`, prints every struct's size and field offsets,
//! every ioctl number and constant; each must be the Rust side's.
//!
//! The header comes from the kernel series, `host-driver/linux/patches/*.patch` (the `+` lines of
//! the patch that creates it), or else from the file `PMUP_UAPI_HEADER` names. With neither the
//! test fails: the uapi must not go unchecked.

use pmup_run::uapi::*;
use std::collections::BTreeMap;
use std::mem::offset_of;
use std::path::{Path, PathBuf};
use std::process::Command;

const HEADER_PATH: &str = "include/uapi/linux/pmu_partition.h";

/// The text of the file `path` as the patch `patch` creates it (its `+` lines), if it does.
fn created_by_patch(patch: &str, path: &str) -> Option<String> {
    let mut lines = patch.lines();
    lines.find(|l| l.starts_with("diff --git ") && l.ends_with(&format!(" b/{path}")))?;
    let mut text = String::new();
    let mut in_hunk = false;
    for l in lines.by_ref() {
        if l.starts_with("diff --git ") || (in_hunk && l == "-- ") {
            break;
        }
        if l.starts_with("--- ") && !in_hunk && l != "--- /dev/null" {
            return None; // a change to the file, not its creation
        }
        if l.starts_with("@@ ") {
            in_hunk = true;
        } else if let (true, Some(added)) = (in_hunk, l.strip_prefix('+')) {
            text.push_str(added);
            text.push('\n');
        }
    }
    in_hunk.then_some(text)
}

fn header() -> (String, String) {
    let patches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../linux/patches");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&patches)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.extension().is_some_and(|e| e == "patch")).collect())
        .unwrap_or_default();
    files.sort();
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        if let Some(h) = created_by_patch(&text, HEADER_PATH) {
            return (h, p.display().to_string());
        }
    }
    if let Some(file) = std::env::var_os("PMUP_UAPI_HEADER") {
        let h = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("PMUP_UAPI_HEADER={}: {e}", file.display()));
        return (h, file.to_string_lossy().into_owned());
    }
    panic!(
        "no {HEADER_PATH}: no patch in {} creates it, and PMUP_UAPI_HEADER is not set",
        patches.display()
    );
}

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include "pmu_partition.h"
#define S(t) printf("sizeof " #t " %zu\n", sizeof(struct t))
#define O(t, f) printf("offsetof " #t "." #f " %zu\n", offsetof(struct t, f))
#define V(n) printf("value " #n " %llu\n", (unsigned long long)(n))
int main(void)
{
	S(pmup_info); O(pmup_info, abi_major); O(pmup_info, abi_minor); O(pmup_info, max_counters);
	O(pmup_info, max_vcpus); O(pmup_info, max_memory); O(pmup_info, guest_ram_base);
	S(pmup_create_vm); O(pmup_create_vm, memory_size); O(pmup_create_vm, flags);
	S(pmup_load); O(pmup_load, src); O(pmup_load, size); O(pmup_load, offset);
	S(pmup_create_vcpu); O(pmup_create_vcpu, entry); O(pmup_create_vcpu, arg);
	O(pmup_create_vcpu, counters); O(pmup_create_vcpu, index);
	S(pmup_run); O(pmup_run, vcpu); O(pmup_run, flags); O(pmup_run, exit_reason); O(pmup_run, pad);
	O(pmup_run, exit_args); O(pmup_run, entries); O(pmup_run, reservations); O(pmup_run, host_only);
	O(pmup_run, guest_only);
	V(PMUP_GET_INFO); V(PMUP_CREATE_VM); V(PMUP_LOAD); V(PMUP_CREATE_VCPU); V(PMUP_RUN);
	V(PMUP_IOCTL_BASE); V(PMUP_GUEST_RAM_BASE); V(PMUP_MEMORY_ALIGN); V(PMUP_MAX_MEMORY);
	V(PMUP_MAX_VCPUS); V(PMUP_EXIT_REPORT); V(PMUP_EXIT_DONE); V(PMUP_EXIT_FAULT);
	V(PMUP_EXIT_UNEXPECTED); V(PMUP_RUN_KEEP_COUNTERS);
	return 0;
}
"#;

/// What the C side says: "sizeof pmup_info" -> 32, ...
fn c_side() -> BTreeMap<String, u64> {
    let (text, from) = header();
    let dir = std::env::temp_dir().join(format!("pmup-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pmu_partition.h"), text).unwrap();
    std::fs::write(dir.join("layout.c"), PROGRAM).unwrap();
    let cc = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(dir.join("layout"))
        .arg(dir.join("layout.c"))
        .output()
        .expect("cc");
    assert!(cc.status.success(), "the header from {from} does not compile:\n{}", String::from_utf8_lossy(&cc.stderr));
    let run = Command::new(dir.join("layout")).output().unwrap();
    assert!(run.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

macro_rules! layout {
    ($map:ident, $c:literal, $t:ty, $($f:ident),*) => {
        $map.insert(concat!("sizeof ", $c).to_owned(), size_of::<$t>() as u64);
        $($map.insert(concat!("offsetof ", $c, ".", stringify!($f)).to_owned(), offset_of!($t, $f) as u64);)*
    };
}
macro_rules! values {
    ($map:ident, $($n:ident),*) => { $($map.insert(concat!("value ", stringify!($n)).to_owned(), $n as u64);)* };
}

fn rust_side() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    layout!(m, "pmup_info", PmupInfo, abi_major, abi_minor, max_counters, max_vcpus, max_memory, guest_ram_base);
    layout!(m, "pmup_create_vm", PmupCreateVm, memory_size, flags);
    layout!(m, "pmup_load", PmupLoad, src, size, offset);
    layout!(m, "pmup_create_vcpu", PmupCreateVcpu, entry, arg, counters, index);
    layout!(m, "pmup_run", PmupRun, vcpu, flags, exit_reason, pad, exit_args, entries, reservations, host_only, guest_only);
    values!(m, PMUP_GET_INFO, PMUP_CREATE_VM, PMUP_LOAD, PMUP_CREATE_VCPU, PMUP_RUN);
    values!(m, PMUP_IOCTL_BASE, PMUP_GUEST_RAM_BASE, PMUP_MEMORY_ALIGN, PMUP_MAX_MEMORY, PMUP_MAX_VCPUS);
    values!(m, PMUP_EXIT_REPORT, PMUP_EXIT_DONE, PMUP_EXIT_FAULT, PMUP_EXIT_UNEXPECTED, PMUP_RUN_KEEP_COUNTERS);
    m
}

#[test]
fn the_rust_uapi_is_the_c_headers() {
    let (c, rust) = (c_side(), rust_side());
    assert_eq!(c.len(), rust.len(), "the C program and the Rust side list different things");
    for (key, value) in &rust {
        assert_eq!(c.get(key), Some(value), "{key}: C says {:?}, Rust {value}", c.get(key));
    }
}

#[test]
fn a_created_header_is_taken_from_its_patch() {
    let patch = "Subject: x\n---\n include/uapi/linux/pmu_partition.h | 2 ++\n\
        diff --git a/drivers/x.c b/drivers/x.c\n--- a/drivers/x.c\n+++ b/drivers/x.c\n@@ -1 +1 @@\n-a\n+b\n\
        diff --git a/include/uapi/linux/pmu_partition.h b/include/uapi/linux/pmu_partition.h\n\
        new file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/include/uapi/linux/pmu_partition.h\n\
        @@ -0,0 +1,2 @@\n+#define A 1\n+\n-- \n2.39.5\n";
    assert_eq!(created_by_patch(patch, HEADER_PATH).as_deref(), Some("#define A 1\n\n"));
    assert_eq!(created_by_patch(patch, "include/uapi/linux/other.h"), None);
    // A later patch that changes the header does not create it.
    let change = "diff --git a/include/uapi/linux/pmu_partition.h b/include/uapi/linux/pmu_partition.h\n\
        --- a/include/uapi/linux/pmu_partition.h\n+++ b/include/uapi/linux/pmu_partition.h\n@@ -1 +1 @@\n-a\n+b\n";
    assert_eq!(created_by_patch(change, HEADER_PATH), None);
}
