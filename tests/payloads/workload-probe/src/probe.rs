// SPDX-License-Identifier: MIT OR Apache-2.0

//! The workload probe itself (aarch64 only).

use host_driver::{Client, conduit::Hvc};
use payload_rt::{bundle_initrd, check, finish, rd, say, wr};
use smc_interface::{vm, vm::Exit, vm::HostEvents};

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

/// What the host's PMU holds: PMCR_EL0, PMCNTENSET_EL0, its cycle counter and its counters 0 and 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HostPmu {
    pmcr: u64,
    cnten: u64,
    ccntr: u64,
    counters: [u64; 2],
}

fn host_pmu() -> HostPmu {
    HostPmu { pmcr: rd!("pmcr_el0"), cnten: rd!("pmcntenset_el0"), ccntr: rd!("pmccntr_el0"), counters: [rd!("pmevcntr0_el0"), rd!("pmevcntr2_el0")] }
}

/// The host as an idle Linux host leaves its PMU, on purpose: PMCR_EL0.E clear (arm_pmu clears it
/// while perf has no event on the CPU), so nothing of the host's counts. EL2 must make the
/// partition's counters count all the same, and must not let the host's count meanwhile: its
/// cycle counter and CPU_CYCLES on counter 0 (parked while a partition runs) and counter 2 (in
/// place above the partition's HPMN for k = 1, 2; parked for k = 3) are enabled, and must not
/// move across the runs.
fn host_pmu_idle() -> HostPmu {
    const CPU_CYCLES: u64 = 0x11;
    wr!("pmcr_el0", rd!("pmcr_el0") & !1);
    wr!("pmevtyper0_el0", CPU_CYCLES);
    wr!("pmevtyper2_el0", CPU_CYCLES);
    wr!("pmevcntr0_el0", 1000);
    wr!("pmevcntr2_el0", 2000);
    wr!("pmccntr_el0", 3000);
    wr!("pmcntenset_el0", 1 << 31 | 0b101);
    let host = host_pmu();
    check("the host's PMCR_EL0.E is clear", host.pmcr & 1 == 0, format_args!("{host:x?}"));
    host
}

fn host_pmu_unchanged(before: HostPmu, runs: &str) {
    let after = host_pmu();
    check("the host's PMU as it left it, nothing of it counted", after == before, format_args!("{runs}: {before:x?} -> {after:x?}"));
}

fn done(handle: u64, vcpu: u64, status: u64) {
    let exit = run(handle, vcpu);
    check("the workload is done", exit == Ok(Exit::Done(status)), format_args!("vCPU {vcpu}: {exit:x?}"));
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(_dtb: u64) -> ! {
    say!("PROBE: start");
    let Some(image) = bundle_initrd() else {
        check("workload image in the bundle", false, format_args!(""));
        finish()
    };
    let reserved = el2().pmu_reserve(3);
    check("PMU_RESERVE(3)", reserved.is_ok(), format_args!("{reserved:?}"));
    let host = host_pmu_idle();

    // Exact counts: k = 2 and 3, N = 1000 (two rounds) and 50000 (one round).
    let runs = [(2, 1000, 2), (2, 50_000, 1), (3, 1000, 2), (3, 50_000, 1)];
    let handle = vm(DONATE[0], image, &runs.map(|(k, n, r)| (k, arg(n, r, false))));
    for (vcpu, (k, n, r)) in runs.into_iter().enumerate() {
        rounds(handle, vcpu as u64, k, n, r);
        done(handle, vcpu as u64, 0);
    }
    check("VM_DESTROY", el2().vm_destroy(handle).is_ok(), format_args!(""));
    host_pmu_unchanged(host, "exact runs");

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
    host_pmu_unchanged(host, "k = 0, 1 and forever");

    let back = el2().pmu_unreserve();
    check("PMU_UNRESERVE", back == reserved, format_args!("{back:?}"));
    finish()
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_index: u64) -> ! {
    payload_rt::cpu_off()
}
