// SPDX-License-Identifier: MIT OR Apache-2.0

//! A workload guest: runs at EL1 inside a VM (MMU off) and measures a loop on its own partitioned
//! PMU counters. The bare-metal test host (tests/payloads/workload-probe) runs it, and so does a
//! Linux host's userspace runner (`pmup-run --cpu 1 --counters 2 workload.bin`).
//!
//! # Protocol
//!
//! `arg` is VCPU_CREATE's x4 (the guest's x1 at entry):
//!
//! | bits | meaning |
//! | --- | --- |
//! | 0..31 | loop iterations N; 0 means 100000 |
//! | 32..39 | rounds R; 0 means 3 |
//! | 63 | forever: repeat rounds until the host stops running the vCPU (or destroys the VM) |
//!
//! The guest's calls, in order (GUEST_REPORT x1, x2, x3):
//!
//! 1. `report(1, k, N)`: k = `PMCR_EL0.N` as the guest sees it, the partition's counter count.
//!    A vCPU with no PMU (k = 0: reading `PMCR_EL0` is an undefined instruction) reports
//!    `(1, 0, N)` and then calls `GUEST_DONE(1)` without touching the PMU again; in forever mode
//!    it reports `(1, 0, N)` again and again instead (what `pmup-run --bench` times).
//! 2. The guest programs counter 0 = INST_RETIRED (0x08), counter 1 = CPU_CYCLES (0x11) and, when
//!    k >= 3, counter 2 = SW_INCR (0x00), all counting at EL1 and EL0 only (filter bits clear),
//!    from zero, enabled (`PMCR_EL0.E`). Counters from 3 up are left alone. With k = 1 there is no
//!    cycle counter to program and cycles are reported as 0.
//! 3. Each round r = 1..R:
//!    - `report(2, instructions, cycles)`: the deltas of counters 0 and 1 over a register-only
//!      loop of N iterations (`subs`, `b.ne`) between two reads of the counters. Under QEMU with
//!      `-icount shift=0` both are exact: **instructions = 2N + 3 and cycles = 2N + 3** (QEMU's
//!      cycle count is virtual time, there one nanosecond per instruction, at 1 GHz); with k = 1
//!      **instructions = 2N + 2** (one read fewer) and cycles 0. The same in the trapped and the
//!      direct enforcement mode, on `-cpu cortex-a57` and `-cpu max`
//!      (tests/integration/tests/workload.rs checks it for N = 500, 1000, 50000 and 100000).
//!      Without `-icount` QEMU counts no instructions (0) and cycles from the host's clock; real
//!      CPUs count what they count.
//!    - if k >= 3, `report(3, software increments, 0)`: counter 2's delta over N writes of
//!      `PMSWINC_EL0` (bit 2); exactly N everywhere, with or without `-icount`.
//!
//!    Deltas are taken modulo 2^32 (the counters are 32 bits wide on PMUv3): keep 2N + 3 below
//!    2^32.
//! 4. `GUEST_DONE(0)` after R rounds; in forever mode the guest never finishes.
//!
//! The loop and the reads around it (src/workload.rs): `mrs` counter 0, `mrs` counter 1, `mov` of
//! N, N times (`subs`, `b.ne`), `mrs` counter 0, `mrs` counter 1. The constant is what QEMU makes
//! of that (the `mov` and the reads between the two of each counter), measured, not derived: 3,
//! and 2 with counter 0 alone.
//!
//! # The host's part
//!
//! VCPU_CREATE with k counters and `arg`, PMU_RESERVE(k) (at least) on the CPU that runs it, then
//! VCPU_RUN until GUEST_DONE (docs/abi.md, section 10). The host's `PMCR_EL0.E` does not matter:
//! EL2 turns the physical E on while the partition's PMU is loaded (its E is virtual), so the
//! partition counts on an idle Linux host too; tests/payloads/workload-probe keeps it clear.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
mod workload;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("workload is an aarch64 bare-metal guest payload; build it with `make`");
    std::process::exit(1);
}
