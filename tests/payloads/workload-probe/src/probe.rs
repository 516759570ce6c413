// SPDX-License-Identifier: MIT OR Apache-2.0

//! The workload probe itself (aarch64 only).

use host_driver::{Client, conduit::Hvc};
use payload_rt::{check, finish, say};
use platform::{Current, Platform};
use smc_interface::{HostBundleHeader, vm, vm::Exit, vm::HostEvents};

const MB: u64 = 1 << 20;
/// The memory the host gives each VM: its own RAM, 2 MiB aligned.
const DONATE: [u64; 2] = [0x5000_0000, 0x5200_0000];
const SIZE: u64 = 2 * MB;
/// The workload's `arg`: rounds and forever (tests/payloads/workload, src/main.rs).
const fn arg(n: u64, rounds: u64, forever: bool) -> u64 {
    n | rounds << 32 | (forever as u64) << 63
}

fn el2() -> Client<Hvc> {
    Client::new(Hvc)
}

fn run(handle: u64, vcpu: u64) -> Result<Exit, smc_interface::SmcccError> {
    el2().vcpu_run(handle, vcpu, HostEvents { host_only: 0, guest_only: 0 })
}

/// A VM with the workload loaded and one vCPU per (k, arg), in that order.
fn vm(donate: u64, image: (u64, u64), vcpus: &[(u64, u64)]) -> u64 {
    let created = el2().vm_create(donate, SIZE);
    check("VM_CREATE", created.is_ok(), format_args!("{created:?}"));
    let handle = created.unwrap_or(0);
    check("VM_LOAD the workload", el2().vm_load(handle, image.0, image.1, 0).is_ok(), format_args!(""));
    for (i, &(k, arg)) in vcpus.iter().enumerate() {
        let r = el2().vcpu_create(handle, vm::GUEST_RAM_BASE, k, arg);
        check("VCPU_CREATE", r == Ok(i as u64), format_args!("k={k}: {r:?}"));
    }
    handle
}

/// Runs `rounds` rounds of vCPU `vcpu` (k counters, N iterations) and checks the protocol: k seen,
/// one report 2 per round (cycles 0 without a cycle counter), report 3 = N exactly. Prints the
/// counts: `WORKLOAD: k=.. n=.. round=.. instructions=.. cycles=..`.
fn rounds(handle: u64, vcpu: u64, k: u64, n: u64, rounds: u64) {
    let first = run(handle, vcpu);
    check("the workload sees its k counters", first == Ok(Exit::Report([1, k, n])), format_args!("k={k} n={n}: {first:x?}"));
    for round in 1..=rounds {
        let exit = run(handle, vcpu);
        let Ok(Exit::Report([2, instructions, cycles])) = exit else {
            check("report 2: instructions and cycles", false, format_args!("k={k} n={n} round {round}: {exit:x?}"));
            return;
        };
        say!("WORKLOAD: k={k} n={n} round={round} instructions={instructions} cycles={cycles}");
        if k < 2 {
            check("no cycle counter with one counter: cycles 0", cycles == 0, format_args!("{cycles}"));
        }
        if k >= 3 {
            let exit = run(handle, vcpu);
            check("report 3: exactly N software increments", exit == Ok(Exit::Report([3, n, 0])), format_args!("k={k} n={n} round {round}: {exit:x?}"));
        }
    }
}

fn done(handle: u64, vcpu: u64, status: u64) {
    let exit = run(handle, vcpu);
    check("the workload is done", exit == Ok(Exit::Done(status)), format_args!("vCPU {vcpu}: {exit:x?}"));
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(_dtb: u64) -> ! {
    say!("PROBE: start");
    // SAFETY: the platform loaded the bundle here, and EL2 validated it before booting us.
    let header = unsafe { core::slice::from_raw_parts(Current::HOST_BUNDLE_BASE as *const u8, 4096) };
    let Some(initrd) = HostBundleHeader::parse(header).ok().and_then(|h| h.initrd_range()) else {
        check("workload image in the bundle", false, format_args!(""));
        finish()
    };
    let image = (Current::HOST_BUNDLE_BASE + initrd.start, initrd.end - initrd.start);
    // The host's PMCR_EL0.E on, as a host whose perf has events would have it: EL2 keeps the
    // physical E the host's and the partition's E virtual, so with the host's E off a partition's
    // counters do not count at all (a limit of EL2: see tests/payloads/workload, src/main.rs).
    // SAFETY: the host's own PMU control register; no counter of its own is enabled.
    unsafe { core::arch::asm!("mrs {t}, pmcr_el0", "orr {t}, {t}, #1", "msr pmcr_el0, {t}", "isb", t = out(reg) _) };
    let reserved = el2().pmu_reserve(3);
    check("PMU_RESERVE(3)", reserved.is_ok(), format_args!("{reserved:?}"));

    // Exact counts: k = 2 and 3, N = 1000 (two rounds) and 50000 (one round).
    let runs = [(2, 1000, 2), (2, 50_000, 1), (3, 1000, 2), (3, 50_000, 1)];
    let handle = vm(DONATE[0], image, &runs.map(|(k, n, r)| (k, arg(n, r, false))));
    for (vcpu, (k, n, r)) in runs.into_iter().enumerate() {
        rounds(handle, vcpu as u64, k, n, r);
        done(handle, vcpu as u64, 0);
    }
    check("VM_DESTROY", el2().vm_destroy(handle).is_ok(), format_args!(""));

    // No PMU (k = 0): reported, then GUEST_DONE(1); one counter (k = 1, the defaults: N = 100000,
    // 3 rounds); forever, stopped by the host after 5 rounds.
    let handle = vm(DONATE[1], image, &[(0, 0), (1, 0), (3, arg(500, 0, true))]);
    let first = run(handle, 0);
    check("no PMU: the workload reports k = 0", first == Ok(Exit::Report([1, 0, 100_000])), format_args!("{first:x?}"));
    done(handle, 0, 1);
    rounds(handle, 1, 1, 100_000, 3);
    done(handle, 1, 0);
    rounds(handle, 2, 3, 500, 5);
    let more = run(handle, 2);
    check("forever: still running after 5 rounds", matches!(more, Ok(Exit::Report([2, _, _]))), format_args!("{more:x?}"));
    check("VM_DESTROY stops a forever workload", el2().vm_destroy(handle).is_ok(), format_args!(""));

    let back = el2().pmu_unreserve();
    check("PMU_UNRESERVE", back == reserved, format_args!("{back:?}"));
    finish()
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_index: u64) -> ! {
    payload_rt::cpu_off()
}
