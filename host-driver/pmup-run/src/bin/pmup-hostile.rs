// SPDX-License-Identifier: MIT OR Apache-2.0

//! `pmup-hostile`: tries on `/dev/pmu-partition` what its uapi header says must be refused.
//!
//!   pmup-hostile ioctls GUEST.bin            every refusal, and four threads at once
//!   pmup-hostile cycles N GUEST.bin MIB      N create/run/destroy cycles; MemFree must come back
//!
//! GUEST.bin is a guest that, with arg 0, reports a few values and finishes with status 0.
//! Exit code 0 when every case passed, 1 when one failed, 2 on a usage error.

use pmup_run::args::number;
use pmup_run::hostile::{self, Report};
use std::io::Write;

const USAGE: &str = "usage: pmup-hostile ioctls GUEST.bin\n       pmup-hostile cycles N GUEST.bin MIB";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| usage(&format!("{path}: {e}")))
}

fn usage(why: &str) -> ! {
    eprintln!("pmup-hostile: {why}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut out = std::io::stdout().lock();
    let mut report = Report::new(&mut out);
    match argv[..] {
        ["ioctls", guest] => hostile::ioctls(&mut report, &read(guest)),
        ["cycles", n, guest, mib] => {
            let n = number(n).unwrap_or_else(|| usage("N: not a number"));
            let mib = number(mib).unwrap_or_else(|| usage("MIB: not a number"));
            hostile::cycles(&mut report, n, &read(guest), mib)
        }
        _ => usage("unknown command"),
    }
    let code = report.done();
    let _ = out.flush();
    std::process::exit(code);
}
