// SPDX-License-Identifier: MIT OR Apache-2.0

//! The measurements (aarch64 only).

use core::arch::asm;
use host_driver::conduit::{Hvc, Smc};
use payload_rt::{finish, raw, say};
use smc_interface::{ids, pmu};

const RUNS: u64 = 1000;

/// The cycle counter (every instruction under `-icount shift=0`, at EL1, EL0 and EL2) and event
/// counter 3 (instructions retired at EL2 only), read together. Counter 3 because a partition of 2
/// counters (the world-switch measurement) takes 0 and 1, whose host events EL2 parks and, while
/// parked, keeps from counting EL2; 3 stays in place.
fn counts() -> (u64, u64) {
    let (cycles, el2): (u64, u64);
    // SAFETY: reading the PMU's counters has no side effects.
    unsafe { asm!("isb", "mrs {}, pmccntr_el0", "mrs {}, pmevcntr3_el0", out(reg) cycles, out(reg) el2, options(nostack)) };
    (cycles, el2)
}

fn start_counters() {
    // PMCCFILTR_EL0: count at EL1 and EL0 (P, U clear) and at EL2 (NSH set). PMEVTYPER3_EL0:
    // INST_RETIRED (0x08) at EL2 only (P and U set: not EL1, not EL0; NSH set). A CPU whose PMU
    // keeps EL2 out of the host's counters (MDCR_EL2.HPMD and HCCD, PMUv3p1 and p5 on) counts
    // nothing at EL2 in either: the EL2 column reads 0 there, which is the point.
    // SAFETY: the payload owns the host's PMU.
    unsafe {
        asm!(
            "msr pmccfiltr_el0, {filt}",
            "msr pmevtyper3_el0, {ev}",
            "mrs {t}, pmcr_el0",
            "orr {t}, {t}, #1",
            "msr pmcr_el0, {t}",
            "msr pmcntenset_el0, {c}",
            "isb",
            filt = in(reg) 1u64 << 27,
            ev = in(reg) 1u64 << 31 | 1 << 30 | 1 << 27 | 0x08,
            c = in(reg) 1u64 << 31 | 1 << 3,
            t = out(reg) _,
            options(nostack),
        )
    };
}

/// Mean instructions of `f`, less the cost of an empty measurement: in all, and at EL2 (from the
/// host's trap to EL2's ERET; nothing of the caller's).
fn measure(name: &str, mut f: impl FnMut()) {
    let empty = {
        let t0 = counts();
        for _ in 0..RUNS {
            core::hint::black_box(());
        }
        counts().0 - t0.0
    };
    let t0 = counts();
    for _ in 0..RUNS {
        f();
    }
    let t1 = counts();
    let total = t1.0 - t0.0 - empty;
    let el2 = t1.1 - t0.1;
    say!("BENCH: {name} {}.{:03} el2={}.{:03}", total / RUNS, (total % RUNS) * 1000 / RUNS, el2 / RUNS, (el2 % RUNS) * 1000 / RUNS);
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(_dtb: u64) -> ! {
    start_counters();
    let r = raw(&mut Hvc, &[ids::HYP_REVISION.into()]);
    say!("BENCH: revision {}.{}", r[0], r[1]);
    // A null call: a function of this hypervisor's service (owner 6) that does not exist.
    measure("hvc-null", || {
        core::hint::black_box(raw(&mut Hvc, &[0x8600_0042]));
    });
    measure("hvc-hyp-revision", || {
        core::hint::black_box(raw(&mut Hvc, &[ids::HYP_REVISION.into()]));
    });
    measure("smc-hyp-revision", || {
        core::hint::black_box(raw(&mut Smc, &[ids::HYP_REVISION.into()]));
    });
    measure("smc-relayed-psci-version", || {
        core::hint::black_box(raw(&mut Smc, &[smccc::psci::PSCI_VERSION.into()]));
    });
    measure("hvc-pmu-status", || {
        core::hint::black_box(raw(&mut Hvc, &[pmu::PMU_STATUS.into()]));
    });
    measure("hvc-pmu-reserve-2+unreserve", || {
        let a = raw(&mut Hvc, &[pmu::PMU_RESERVE.into(), 2]);
        let b = raw(&mut Hvc, &[pmu::PMU_UNRESERVE.into()]);
        core::hint::black_box((a, b));
    });
    world_switch();
    finish()
}

/// VCPU_RUN round trips into a guest that exits straight back (GUEST_REPORT): the world switch
/// both ways, without the partition's PMU, with its idle PMU loaded at its first access (a trapped
/// PMSELR_EL0 write), and with its counting PMU loaded as the run begins, each put at the exit;
/// and with a trapped PMCR_EL0 read of its idle PMU, answered without loading it (the trapped
/// mode, which the bench's cortex-a57 uses); and with its counting PMU read once a run (a trapped
/// PMEVCNTR0_EL0 read of the loaded PMU: less the counting row, what one emulated read costs).
fn world_switch() {
    use smc_interface::vm;
    let Some((image, size)) = payload_rt::bundle_initrd() else {
        say!("BENCH: no guest image in the bundle");
        return;
    };
    let handle = raw(&mut Hvc, &[vm::VM_CREATE.into(), 0x5000_0000, 2 << 20, 0])[1];
    raw(&mut Hvc, &[vm::VM_LOAD.into(), handle, image, size, 0]);
    let plain = raw(&mut Hvc, &[vm::VCPU_CREATE.into(), handle, vm::GUEST_RAM_BASE, 0, 0b100])[1];
    let with_pmu = raw(&mut Hvc, &[vm::VCPU_CREATE.into(), handle, vm::GUEST_RAM_BASE, 2, 0b1000])[1];
    let counting = raw(&mut Hvc, &[vm::VCPU_CREATE.into(), handle, vm::GUEST_RAM_BASE, 2, 0x100])[1];
    let reading = raw(&mut Hvc, &[vm::VCPU_CREATE.into(), handle, vm::GUEST_RAM_BASE, 2, 0x200])[1];
    // A VM has at most MAX_VCPUS (4): the fifth is another VM's.
    let second = raw(&mut Hvc, &[vm::VM_CREATE.into(), 0x5020_0000, 2 << 20, 0])[1];
    raw(&mut Hvc, &[vm::VM_LOAD.into(), second, image, size, 0]);
    let counting_read = raw(&mut Hvc, &[vm::VCPU_CREATE.into(), second, vm::GUEST_RAM_BASE, 2, 0x500])[1];
    raw(&mut Hvc, &[pmu::PMU_RESERVE.into(), 2]);
    let run = |vcpu: u64| raw(&mut Hvc, &[vm::VCPU_RUN.into(), handle, vcpu, 0, 0]);
    let run_second = |vcpu: u64| raw(&mut Hvc, &[vm::VCPU_RUN.into(), second, vcpu, 0, 0]);
    // First runs: the guest's start-up code, out of the measurement.
    run(plain);
    run(with_pmu);
    run(counting);
    run(reading);
    run_second(counting_read);
    measure("vcpu-run-round-trip", || {
        core::hint::black_box(run(plain));
    });
    measure("vcpu-run-round-trip+pmu-load-put", || {
        core::hint::black_box(run(with_pmu));
    });
    measure("vcpu-run-round-trip+pmu-counting", || {
        core::hint::black_box(run(counting));
    });
    measure("vcpu-run-round-trip+pmu-read", || {
        core::hint::black_box(run(reading));
    });
    measure("vcpu-run-round-trip+pmu-counting+counter-read", || {
        core::hint::black_box(run_second(counting_read));
    });
    raw(&mut Hvc, &[pmu::PMU_UNRESERVE.into()]);
    raw(&mut Hvc, &[vm::VM_DESTROY.into(), handle]);
    raw(&mut Hvc, &[vm::VM_DESTROY.into(), second]);
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_index: u64) -> ! {
    payload_rt::cpu_off()
}
