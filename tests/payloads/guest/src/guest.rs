// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest's steps (aarch64 only). The host (tests/payloads/vm-probe) expects exactly these
//! reports, in this order: step number in x1.

use core::arch::asm;
use core::sync::atomic::Ordering::SeqCst;
use host_driver::conduit::{Hvc, Smc};
use payload_rt::{ABORTS, LAST_ESR, LAST_FAR, finish, raw};
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

#[unsafe(no_mangle)]
extern "C" fn primary_main(memory_size: u64) -> ! {
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
    // back here as an external abort.
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
