// SPDX-License-Identifier: MIT OR Apache-2.0

//! The workload itself (aarch64 only); the protocol is in main.rs.

use core::arch::asm;
use core::sync::atomic::Ordering::SeqCst;
use host_driver::conduit::Hvc;
use payload_rt::{ABORTS, raw, rd, wr};
use smc_interface::vm::guest::{GUEST_DONE, GUEST_REPORT};

const INST_RETIRED: u64 = 0x08;
const CPU_CYCLES: u64 = 0x11;
const SW_INCR: u64 = 0x00;

fn report(a: u64, b: u64, c: u64) {
    raw(&mut Hvc, &[GUEST_REPORT.into(), a, b, c]);
}

fn done(status: u64) -> ! {
    loop {
        raw(&mut Hvc, &[GUEST_DONE.into(), status]);
    }
}

/// The partition's counter count: `PMCR_EL0.N`, or 0 when there is no PMU (the read is an
/// undefined instruction, which the runtime's handler skips).
fn counters() -> u64 {
    let before = ABORTS.load(SeqCst);
    let pmcr: u64;
    // SAFETY: reading PMCR_EL0 has no side effects; EL2 answers it or makes it undefined.
    unsafe { asm!("mov {0}, xzr", "mrs {0}, pmcr_el0", out(reg) pmcr, options(nostack)) };
    if ABORTS.load(SeqCst) != before { 0 } else { (pmcr >> 11) & 0x1f }
}

/// The deltas of counters 0 and 1 over N iterations of a register-only loop (N >= 1).
fn measure2(n: u64) -> (u64, u64) {
    let (a0, a1, b0, b1): (u64, u64, u64, u64);
    // SAFETY: counter reads around a loop on registers only.
    unsafe {
        asm!(
            "mrs {a0}, pmevcntr0_el0",
            "mrs {a1}, pmevcntr1_el0",
            "mov {n}, {count}",
            "1:",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            "mrs {b0}, pmevcntr0_el0",
            "mrs {b1}, pmevcntr1_el0",
            a0 = out(reg) a0, a1 = out(reg) a1, b0 = out(reg) b0, b1 = out(reg) b1,
            n = out(reg) _, count = in(reg) n,
            options(nostack, nomem),
        )
    };
    (b0.wrapping_sub(a0) & 0xffff_ffff, b1.wrapping_sub(a1) & 0xffff_ffff)
}

/// The same with counter 0 only (k = 1: counter 1 does not exist).
fn measure1(n: u64) -> u64 {
    let (a0, b0): (u64, u64);
    // SAFETY: as above.
    unsafe {
        asm!(
            "mrs {a0}, pmevcntr0_el0",
            "mov {n}, {count}",
            "1:",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            "mrs {b0}, pmevcntr0_el0",
            a0 = out(reg) a0, b0 = out(reg) b0, n = out(reg) _, count = in(reg) n,
            options(nostack, nomem),
        )
    };
    b0.wrapping_sub(a0) & 0xffff_ffff
}

/// Counter 2's delta over N software increments.
fn software_increments(n: u64) -> u64 {
    let a = rd!("pmevcntr2_el0");
    for _ in 0..n {
        wr!("pmswinc_el0", 1u64 << 2);
    }
    rd!("pmevcntr2_el0").wrapping_sub(a) & 0xffff_ffff
}

fn program(k: u64) {
    wr!("pmcntenclr_el0", u64::from(u32::MAX));
    wr!("pmevtyper0_el0", INST_RETIRED);
    wr!("pmevcntr0_el0", 0u64);
    if k >= 2 {
        wr!("pmevtyper1_el0", CPU_CYCLES);
        wr!("pmevcntr1_el0", 0u64);
    }
    if k >= 3 {
        wr!("pmevtyper2_el0", SW_INCR);
        wr!("pmevcntr2_el0", 0u64);
    }
    wr!("pmcr_el0", 1u64);
    wr!("pmcntenset_el0", (1u64 << k.min(3)) - 1);
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(_memory_size: u64, arg: u64) -> ! {
    let n = match arg & 0xffff_ffff {
        0 => 100_000,
        n => n,
    };
    let rounds = match (arg >> 32) & 0xff {
        0 => 3,
        r => r,
    };
    let forever = arg >> 63 != 0;
    let k = counters();
    report(1, k, n);
    if k == 0 {
        // Forever without a PMU: a guest that reports and nothing else (the runner's cost).
        if forever {
            loop {
                report(1, 0, n);
            }
        }
        done(1)
    }
    program(k);
    let mut round = 0;
    while forever || round < rounds {
        round += 1;
        let (instructions, cycles) = if k >= 2 { measure2(n) } else { (measure1(n), 0) };
        report(2, instructions, cycles);
        if k >= 3 {
            report(3, software_increments(n), 0);
        }
    }
    done(0)
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_index: u64) -> ! {
    done(2)
}
