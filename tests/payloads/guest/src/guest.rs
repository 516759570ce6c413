// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest's steps (aarch64 only). The host (tests/payloads/vm-probe) expects exactly these
//! reports, in this order: step number in x1.

use arm_gic::gicv3::GicCpuInterface;
use core::arch::asm;
use core::sync::atomic::Ordering::SeqCst;
use host_driver::conduit::{Hvc, Smc};
use payload_rt::{ABORTS, LAST_ESR, LAST_FAR, finish, raw, rd, wr};
use smc_interface::{ids, pmu, vm};

fn report(a: u64, b: u64, c: u64) {
    raw(&mut Hvc, &[vm::guest::GUEST_REPORT.into(), a, b, c]);
}

/// Reads `addr`; returns (aborts taken, last ESR).
fn probe_read(addr: u64) -> (u64, u64) {
    let before = ABORTS.load(SeqCst);
    // SAFETY: the read may fault; the runtime's handler skips it.
    unsafe {
        let _ = (addr as *const u64).read_volatile();
    }
    (ABORTS.load(SeqCst) - before, LAST_ESR.load(SeqCst))
}

// ---------------------------------------------------------------------------------------------
// vCPU 1: a partition with PMU counters. Every access below traps to EL2 (trapped mode) and is
// applied to this vCPU's counters only.

fn undefined(f: impl FnOnce()) -> u64 {
    let before = ABORTS.load(SeqCst);
    f();
    ABORTS.load(SeqCst) - before
}

/// `arg` from the host: bit 0 the direct mode is in use, bit 1 the CPU enforces HPMN, bit 4 the
/// CPU has FEAT_FGT.
fn pmu_partition(arg: u64) -> ! {
    // 10: what the partition sees.
    let n = (rd!("pmcr_el0") >> 11) & 0x1f;
    report(10, n, rd!("pmcntenset_el0"));
    // 21: the common events it is offered.
    report(21, rd!("pmceid0_el0"), rd!("pmceid1_el0"));

    // 11: software increments on counter 0, instructions on counter 1.
    wr!("pmevtyper0_el0", 0x00u64);
    wr!("pmevtyper1_el0", 0x08u64);
    wr!("pmevcntr0_el0", 0u64);
    wr!("pmevcntr1_el0", 0u64);
    wr!("pmcr_el0", 1u64);
    wr!("pmcntenset_el0", 0b11u64);
    for _ in 0..1000 {
        wr!("pmswinc_el0", 1u64);
    }
    report(11, rd!("pmevcntr0_el0"), 0);
    // 12: the count survived the exit to the host and back; 500 more.
    for _ in 0..500 {
        wr!("pmswinc_el0", 1u64);
    }
    report(12, rd!("pmevcntr0_el0"), 0);

    // 13: instructions, exactly (under -icount shift=0; 0 where QEMU does not count them): the
    // counter read, `mov` and N iterations of (subs, b.ne), read again: 2N for the loop plus a
    // fixed 2 for the measurement (QEMU counts the `mov` and one of the two trapped reads).
    let measure = |n: u64| -> u64 {
        let (a, b): (u64, u64);
        // SAFETY: counter reads (emulated by EL2) around a register-only loop.
        unsafe {
            asm!(
                "mrs {a}, pmevcntr1_el0",
                "mov {n}, {count}",
                "1:",
                "subs {n}, {n}, #1",
                "b.ne 1b",
                "mrs {b}, pmevcntr1_el0",
                a = out(reg) a, b = out(reg) b, n = out(reg) _, count = in(reg) n,
                options(nostack, nomem),
            )
        };
        b - a
    };
    report(13, measure(1000), measure(3000));

    // 20: counters that count go on counting in a run that touches no PMU register, from its
    // first instruction: counter 1 (instructions) across an exit and back into N loop iterations
    // before the next access. 2N and a fixed few (0 where QEMU does not count instructions).
    let a = rd!("pmevcntr1_el0");
    report(20, 0, 0);
    // SAFETY: a register-only loop.
    unsafe {
        asm!("mov {n}, #1000", "1:", "subs {n}, {n}, #1", "b.ne 1b", n = out(reg) _, options(nostack, nomem))
    };
    report(20, 1, rd!("pmevcntr1_el0") - a);

    // 14: the host's counters are out of reach: beyond k is undefined, directly and through
    // PMSELR; PMSWINC, P (reset) and E (stop) only affect this partition's counters. In the direct
    // mode that is the CPU's job; on a CPU that does not do it (QEMU) the step is skipped: no
    // report (the host counts it as skipped).
    if arg & 0b11 != 0b01 {
        hostile_pmu();
    }
    overflow_and_rounds(arg)
}

fn hostile_pmu() {
    let mut undef = 0;
    undef += undefined(|| {
        let _ = rd!("pmevcntr2_el0");
    });
    undef += undefined(|| wr!("pmevcntr3_el0", 0xdeadu64));
    undef += undefined(|| wr!("pmevtyper5_el0", 0x11u64));
    undef += undefined(|| {
        wr!("pmselr_el0", 4u64);
        let _ = rd!("pmxevcntr_el0");
    });
    wr!("pmselr_el0", 0u64);
    wr!("pmswinc_el0", u64::from(u32::MAX));
    wr!("pmcntenset_el0", u64::from(u32::MAX));
    let cnten = rd!("pmcntenset_el0");
    let before_reset = rd!("pmevcntr0_el0");
    wr!("pmcr_el0", 0b11u64); // E and P: reset this partition's counters
    let after_reset = rd!("pmevcntr0_el0");
    wr!("pmcr_el0", 0u64); // E clear: stops this partition only
    report(14, undef, cnten << 32 | before_reset << 16 | after_reset);
}

fn overflow_and_rounds(arg: u64) -> ! {
    // 15: an overflow of this partition's counter 0 interrupts this partition: a virtual PMU
    // interrupt (INTID 23) through its GIC virtual CPU interface, not the host's.
    // Its (virtual) GIC CPU interface: every priority let through, group 1 on.
    GicCpuInterface::set_priority_mask(0xff);
    GicCpuInterface::enable_group1(true);
    // SAFETY: a barrier only: both writes take effect before the counters start.
    unsafe { asm!("isb", options(nostack)) };
    wr!("pmcntenclr_el0", 0b11u64);
    wr!("pmovsclr_el0", 0b11u64);
    wr!("pmevtyper0_el0", 0x00u64);
    wr!("pmevcntr0_el0", 0xffff_fff0u64);
    wr!("pmintenset_el1", 1u64);
    wr!("pmcr_el0", 1u64);
    wr!("pmcntenset_el0", 1u64);
    // Raw, not arm_gic::irq_enable: that unmasks debug, SError and FIQ too; this step wants IRQ.
    // SAFETY: interrupts on at EL1 (the runtime's vector acknowledges them).
    unsafe { asm!("msr daifclr, #2", "isb") };
    for _ in 0..32 {
        wr!("pmswinc_el0", 1u64);
    }
    let mut spins = 0u64;
    while payload_rt::IRQS.load(SeqCst) == 0 && spins < 10_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    // SAFETY: interrupts off again.
    unsafe { asm!("msr daifset, #2", "isb") };
    let ovs = rd!("pmovsset_el0") & 1;
    wr!("pmovsclr_el0", 1u64);
    wr!("pmintenclr_el1", 1u64);
    report(15, payload_rt::IRQS.load(SeqCst), payload_rt::LAST_INTID.load(SeqCst) << 8 | ovs);

    // 16: many exits and re-entries: 50 rounds of 10 increments on counter 1, each reported
    // (every round loads the PMU again on its first access and puts it back at the exit).
    wr!("pmcntenclr_el0", 0b11u64);
    wr!("pmevtyper1_el0", 0x00u64);
    wr!("pmevcntr1_el0", 0u64);
    wr!("pmcr_el0", 1u64);
    wr!("pmcntenset_el0", 0b10u64);
    for round in 1..=50u64 {
        for _ in 0..10 {
            wr!("pmswinc_el0", 0b10u64);
        }
        report(16, round, rd!("pmevcntr1_el0"));
    }

    // 17 and 18 are trapped in both modes (the direct mode by FGT); without FGT they cannot be, a
    // documented limit: both skipped, no report (the host counts them as skipped).
    if arg & 0b1_0001 != 0b0_0001 {
        cycle_counter_is_the_hosts();
    }
    read_cost()
}

fn cycle_counter_is_the_hosts() {
    // 17: the cycle counter is the host's: writes ignored, reads zero, PMCR_EL0.C does nothing.
    wr!("pmccntr_el0", 0u64);
    wr!("pmcr_el0", (1u64 << 2) | 1);
    report(17, rd!("pmccntr_el0"), rd!("pmccfiltr_el0"));

    // 18: nor its overflow flag, interrupt enable or filter (bit 31 of the masks, which HPMN does
    // not fence; PMSELR = 31 and PMXEVTYPER), and no event filter of this partition counts EL2
    // (NSH). The first access loads the PMU (and ends the traps of a direct-mode run); then the
    // host's overflow flag (set before this run) goes first, so that the interrupt enable cannot
    // fire.
    let _ = rd!("pmcr_el0");
    wr!("pmovsclr_el0", 1u64 << 31);
    wr!("pmintenset_el1", 1u64 << 31);
    wr!("pmselr_el0", 31u64);
    wr!("pmxevtyper_el0", (1u64 << 31) | (1 << 30));
    wr!("pmselr_el0", 0u64);
    wr!("pmevtyper0_el0", 0x11u64 | 1 << 27);
    let nsh = rd!("pmevtyper0_el0") & (1 << 27);
    report(18, nsh, (rd!("pmintenset_el1") | rd!("pmovsset_el0")) >> 31);
}

/// 19: what 1000 reads of counter 0 cost, in ticks of the virtual count (CNTVCT_EL0, which EL2
/// does not trap), and the count's frequency. Under QEMU's `-icount shift=0` the count follows
/// every instruction executed, EL2's included: in the trapped mode each read is a trap to EL2 and
/// its emulation, in the direct mode a read is one instruction of the loop. The run's first PMU
/// access (which traps in both modes) comes before the measurement.
fn read_cost() -> ! {
    let _ = rd!("pmevcntr0_el0");
    let (t0, t1): (u64, u64);
    // SAFETY: counter and virtual count reads around a register-only loop.
    unsafe {
        asm!(
            "isb",
            "mrs {t0}, cntvct_el0",
            "mov {n}, #1000",
            "1:",
            "mrs {x}, pmevcntr0_el0",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            "isb",
            "mrs {t1}, cntvct_el0",
            t0 = out(reg) t0, t1 = out(reg) t1, n = out(reg) _, x = out(reg) _,
            options(nostack, nomem),
        )
    };
    report(19, t1 - t0, rd!("cntfrq_el0"));
    finish()
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(memory_size: u64, arg: u64) -> ! {
    // Benchmarks (tests/payloads/bench): exit to the host at once, every time; with bit 3, write
    // a PMU register first (PMSELR_EL0, to the 0 it holds: each run loads the partition's idle PMU
    // at that access, and puts it); with bit 9, read one first (PMCR_EL0: trapped, answered from
    // what EL2 keeps of the idle PMU, which stays off the CPU).
    if arg & 0b100 != 0 {
        loop {
            report(100, 0, 0);
        }
    }
    if arg & 0b1000 != 0 {
        loop {
            wr!("pmselr_el0", 0u64);
            report(101, 0, 0);
        }
    }
    if arg & 0x200 != 0 {
        loop {
            let _ = rd!("pmcr_el0");
            report(103, 0, 0);
        }
    }
    // With bit 8, count instructions on counter 0 from here on: every run after this one loads
    // the partition's PMU as it begins (it is counting) and puts it at the exit, with no trap;
    // with bit 10 as well, each run reads the counter once (trapped, from the loaded PMU).
    if arg & 0x100 != 0 {
        wr!("pmevtyper0_el0", 0x08u64);
        wr!("pmcntenset_el0", 1u64);
        wr!("pmcr_el0", 1u64);
        if arg & 0x400 != 0 {
            loop {
                let _ = rd!("pmevcntr0_el0");
                report(104, 0, 0);
            }
        }
        loop {
            report(102, 0, 0);
        }
    }
    // The vCPU's index is in MPIDR_EL1 (VMPIDR_EL2): vCPU 1 is the PMU partition.
    if payload_rt::mpidr() & 0xff == 1 {
        pmu_partition(arg);
    }
    // 1: the calls a guest has.
    let v = raw(&mut Hvc, &[ids::SMCCC_VERSION.into()])[0];
    let uid = raw(&mut Hvc, &[ids::HYP_CALL_UID.into()])[0];
    report(1, v, uid);

    // 2: the host's calls and EL3 are not a guest's.
    let create = raw(&mut Hvc, &[vm::VM_CREATE.into(), 0x5000_0000, 2 << 20])[0];
    let reserve = raw(&mut Hvc, &[pmu::PMU_RESERVE.into(), 1])[0];
    let psci = raw(&mut Smc, &[smccc::psci::PSCI_CPU_ON_64.into(), 1, 0x4000_0000, 0])[0];
    report(2, create, reserve ^ psci);

    // 3: its own memory works: a pattern over 1 MiB above the image, read back.
    let base = vm::GUEST_RAM_BASE + (1 << 20);
    let mut sum = 0u64;
    for i in 0..(1u64 << 17) {
        // SAFETY: inside the guest's memory, above its image and stack.
        unsafe { ((base + i * 8) as *mut u64).write_volatile(i * 3 + 1) };
    }
    for i in 0..(1u64 << 17) {
        // SAFETY: as above.
        sum = sum.wrapping_add(unsafe { ((base + i * 8) as *const u64).read_volatile() });
    }
    report(3, sum, memory_size);

    // 4..6: outside its memory. Each access exits to the host (Stage2Fault) first, then comes
    // back here as an external abort. Raw reads, the UART's (0x0900_0000) too: the exit is what
    // is tested, not a device.
    for (step, addr) in [(4, 0x6000_0000u64), (5, 0x4820_0000), (6, 0x0900_0000)] {
        let (aborts, esr) = probe_read(addr);
        report(step, aborts, esr);
    }
    let (aborts, esr) = probe_read(vm::GUEST_RAM_BASE + memory_size);
    report(7, aborts, LAST_FAR.load(SeqCst) ^ esr);

    // 8: the PMU (this vCPU has none) and FP/SIMD: undefined instructions.
    let before = ABORTS.load(SeqCst);
    // SAFETY: traps to EL2, which makes it an undefined instruction; the handler skips it.
    unsafe { asm!("mrs {}, pmcr_el0", out(reg) _) };
    let pmu_undef = ABORTS.load(SeqCst) - before;
    // FP/SIMD enabled at EL1 (CPACR_EL1.FPEN), so that only EL2's CPTR_EL2.TFP stands in the way.
    // SAFETY: as above.
    unsafe { asm!("msr cpacr_el1, {}", "isb", ".arch_extension fp", "fmov d0, xzr", in(reg) 3u64 << 20) };
    report(8, pmu_undef, ABORTS.load(SeqCst) - before);

    finish()
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_index: u64) -> ! {
    finish()
}
