// SPDX-License-Identifier: MIT OR Apache-2.0

//! `pmup-run`: runs a bare-metal guest image as a partition on `/dev/pmu-partition`.
//! Exit codes: 0 done with status 0 (or stopped after --reports), 2 done with another status,
//! 3 the guest faulted, 130 SIGINT/SIGTERM, 1 any error.

use pmup_run::args::{self, Command, RunArgs};
use pmup_run::device::Device;
use pmup_run::runner::{self, EXIT_ERROR, LoopOptions, fail, say};
use pmup_run::sys;
use pmup_run::uapi::{PMUP_GUEST_RAM_BASE, PMUP_RUN_KEEP_COUNTERS};
use std::io::{self, Write};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut out = io::stdout().lock();
    let code = match args::parse(&argv) {
        Ok(Command::Help) => {
            let _ = writeln!(out, "{}", args::USAGE);
            0
        }
        Ok(Command::Info) => info(&mut out),
        Ok(Command::Run(run)) => run_guest(&run, &mut out),
        Err(e) => {
            eprintln!("pmup-run: {e}\n{}", args::USAGE);
            EXIT_ERROR
        }
    };
    let _ = out.flush();
    std::process::exit(code);
}

fn info(out: &mut dyn Write) -> i32 {
    let info = match Device::open().and_then(|d| d.info()) {
        Ok(info) => info,
        Err(e) => return fail(out, "info", &e),
    };
    say(
        out,
        format_args!(
            "info abi={}.{} max-counters={} max-vcpus={} max-memory={}",
            info.abi_major, info.abi_minor, info.max_counters, info.max_vcpus, info.max_memory
        ),
    );
    0
}

fn run_guest(args: &RunArgs, out: &mut dyn Write) -> i32 {
    if let Some(cpu) = args.cpu
        && let Err(e) = sys::pin_to_cpu(cpu)
    {
        return fail(out, "affinity", &e);
    }
    let image = match std::fs::read(&args.guest) {
        Ok(image) => image,
        Err(e) => return fail(out, "read", &e),
    };
    let device = match Device::open() {
        Ok(d) => d,
        Err(e) => return fail(out, "open", &e),
    };
    // A size that does not fit is the driver's EINVAL, said without asking it.
    let memory = args.memory_mib.checked_mul(1 << 20).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL));
    if let Err(e) = memory.and_then(|m| device.create_vm(m)) {
        return fail(out, "create-vm", &e);
    }
    if let Err(e) = device.load(&image, 0) {
        return fail(out, "load", &e);
    }
    let vcpu = match device.create_vcpu(PMUP_GUEST_RAM_BASE, args.arg, args.counters) {
        Ok(v) => v,
        Err(e) => return fail(out, "create-vcpu", &e),
    };
    let cpu = match sys::current_cpu() {
        Ok(c) => c,
        Err(e) => return fail(out, "cpu", &e),
    };
    say(out, format_args!("vm memory={} vcpu={vcpu} counters={} cpu={cpu}", args.memory_mib << 20, args.counters));
    if let Err(e) = sys::catch_stop_signals() {
        return fail(out, "signals", &e);
    }
    let flags = if args.keep { PMUP_RUN_KEEP_COUNTERS } else { 0 };
    if let Some(runs) = args.bench {
        return runner::bench(|| device.run_with(vcpu, flags), runs, sys::counter, out);
    }
    let options = LoopOptions { reports: args.reports, quiet: args.quiet };
    // The device (and with it the VM) is closed when this returns, before the process exits.
    runner::run_loop(|| device.run_with(vcpu, flags), sys::stop_requested, &options, out)
}
