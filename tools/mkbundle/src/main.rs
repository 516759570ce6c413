// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mkbundle --kernel Image [--initrd initrd.cpio.gz] [--cmdline "..."] [--el2-log info] -o out`
//!
//! Lays out a host boot bundle (see `smc_interface::boot`): the header page, the kernel at a
//! 2 MiB offset, the initrd after the kernel's whole memory footprint. For an arm64 Linux Image
//! the footprint comes from its header; for a bare-metal payload it is the file size unless
//! `--kernel-mem-size` says more (a payload's .bss).

use smc_interface::boot::{HostBundleHeader, LogLevel, arm64_image_mem_size};
use std::{fs, process::exit};
use zerocopy::IntoBytes;

fn usage() -> ! {
    eprintln!(
        "usage: mkbundle --kernel FILE [--initrd FILE] [--cmdline TEXT] \
         [--el2-log error|warn|info|debug|trace] [--kernel-mem-size BYTES] -o OUT"
    );
    exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut kernel, mut initrd, mut cmdline, mut out) = (None, None, String::new(), None);
    let mut log = LogLevel::BuildDefault;
    let mut mem_size: Option<u64> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--kernel" => kernel = Some(value()),
            "--initrd" => initrd = Some(value()),
            "--cmdline" => cmdline = value(),
            "-o" => out = Some(value()),
            "--kernel-mem-size" => mem_size = Some(value().parse().unwrap_or_else(|_| usage())),
            "--el2-log" => {
                log = match value().as_str() {
                    "error" => LogLevel::Error,
                    "warn" => LogLevel::Warn,
                    "info" => LogLevel::Info,
                    "debug" => LogLevel::Debug,
                    "trace" => LogLevel::Trace,
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    let (Some(kernel), Some(out)) = (kernel, out) else { usage() };
    let read = |path: &str| fs::read(path).unwrap_or_else(|e| {
        eprintln!("mkbundle: {path}: {e}");
        exit(1)
    });
    let kernel = read(&kernel);
    let initrd = initrd.map(|p| read(&p)).unwrap_or_default();
    let footprint = arm64_image_mem_size(&kernel)
        .or(mem_size)
        .unwrap_or(kernel.len() as u64)
        .max(kernel.len() as u64);
    let header = HostBundleHeader::new(kernel.len() as u64, footprint, initrd.len() as u64, &cmdline, log)
        .unwrap_or_else(|e| {
            eprintln!("mkbundle: {e}");
            exit(1)
        });
    let mut bundle = vec![0u8; header.kernel_offset() as usize];
    bundle[..header.as_bytes().len()].copy_from_slice(header.as_bytes());
    bundle.extend_from_slice(&kernel);
    if let Some(r) = header.initrd_range() {
        bundle.resize(r.start as usize, 0);
        bundle.extend_from_slice(&initrd);
    }
    fs::write(&out, &bundle).unwrap_or_else(|e| {
        eprintln!("mkbundle: {out}: {e}");
        exit(1)
    });
}
