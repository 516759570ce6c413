// SPDX-License-Identifier: MIT OR Apache-2.0

//! The power probe itself (aarch64 only).

use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use host_driver::conduit::{Hvc, Smc};
use payload_rt::{ABORTS, LAST_ESR, check, finish, raw, say, secondary_start, wait_until};
use smccc::psci::{PSCI_AFFINITY_INFO_64, PSCI_CPU_ON_64};

/// Rounds of CPU_OFF / CPU_ON for CPU 1.
const ROUNDS: u64 = 5;
/// Counters CPU 1 reserves in its first round and keeps across every power cycle.
const RESERVE: u64 = 2;
/// The memory CPU 1 donates to its VM (its own RAM, 2 MiB aligned), and CPU 0's VM.
const DONATE_CPU1: u64 = 0x5200_0000;
const DONATE_CPU0: u64 = 0x5000_0000;
const MB2: u64 = 2 << 20;
const PSCI_ALREADY_ON: u64 = -4i64 as u64;
const PSCI_INVALID_ADDRESS: u64 = -9i64 as u64;
/// AFFINITY_INFO's answer for a CPU that is off.
const AFF_OFF: u64 = 1;

/// Rounds CPU 1 has finished, and its VM's handle.
static ROUND_DONE: AtomicU64 = AtomicU64::new(0);
/// The round CPU 0 has finished checking: CPU 1 turns itself off only then.
static MAY_GO_OFF: AtomicU64 = AtomicU64::new(0);
static CPU1_VM: AtomicU64 = AtomicU64::new(0);

fn cpu_on(index: u64, entry: u64) -> u64 {
    raw(&mut Smc, &[PSCI_CPU_ON_64.into(), index, entry, index])[0]
}

fn affinity_info(index: u64) -> u64 {
    raw(&mut Smc, &[PSCI_AFFINITY_INFO_64.into(), index, 0])[0]
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(dtb: u64) -> ! {
    say!("PROBE: start (dtb {dtb:#x})");
    let mut el2 = host_driver::Client::new(Hvc);

    // CPU_ON entries the host does not own: EL2 answers INVALID_ADDRESS without asking EL3.
    let vm0 = el2.vm_create(DONATE_CPU0, MB2);
    check("VM_CREATE on cpu 0", vm0.is_ok(), format_args!("{vm0:?}"));
    for (what, entry) in [
        ("CPU_ON entry zero refused", 0),
        ("CPU_ON entry in EL2's memory refused", 0x6000_0000),
        ("CPU_ON entry in MMIO (the UART) refused", 0x0900_0000),
        ("CPU_ON entry beyond RAM refused", 0x1_0000_0000),
        ("CPU_ON entry in a VM's memory refused", DONATE_CPU0 + 0x1000),
    ] {
        let r = cpu_on(1, entry);
        check(what, r == PSCI_INVALID_ADDRESS, format_args!("{r:#x}"));
    }
    let _ = vm0.map(|h| el2.vm_destroy(h));

    for round in 1..=ROUNDS {
        let r = cpu_on(1, secondary_start as *const () as u64);
        check("CPU_ON of cpu 1", r == 0, format_args!("round {round}: {:#x}", r));
        let back = wait_until(10, || ROUND_DONE.load(SeqCst) >= round);
        check("cpu 1 came back through EL2", back, format_args!("round {round}: stuck"));
        if !back {
            break;
        }
        // Turned on and not yet off: a second CPU_ON is ALREADY_ON (EL3's answer, or EL2's while
        // the first is in flight).
        let again = cpu_on(1, secondary_start as *const () as u64);
        check("CPU_ON of a running cpu 1", again == PSCI_ALREADY_ON, format_args!("{:#x}", again));
        MAY_GO_OFF.store(round, SeqCst);
        let off = wait_until(10, || affinity_info(1) == AFF_OFF);
        check("cpu 1 turned itself off", off, format_args!("round {round}"));
    }
    say!("PROBE: rounds {}", ROUND_DONE.load(SeqCst));
    finish()
}

/// CPU 1, once per round: reserve and create a VM in the first round, check both survived every
/// power cycle since, release them in the last, then turn itself off.
#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: u64) -> ! {
    if index == 1 {
        let round = ROUND_DONE.load(SeqCst) + 1;
        let mut el2 = host_driver::Client::new(Hvc);
        if round == 1 {
            let r = el2.pmu_reserve(RESERVE);
            check("cpu 1: PMU_RESERVE", r.is_ok(), format_args!("{r:?}"));
            let vm = el2.vm_create(DONATE_CPU1, MB2);
            check("cpu 1: VM_CREATE", vm.is_ok(), format_args!("{vm:?}"));
            CPU1_VM.store(vm.unwrap_or(0), SeqCst);
        }
        // Under EL2's stage-2 again: EL2's memory is refused with an abort.
        let before = ABORTS.load(SeqCst);
        // SAFETY: the read faults; the runtime's handler skips it.
        let _ = unsafe { (0x6000_0000 as *const u64).read_volatile() };
        let refused = ABORTS.load(SeqCst) == before + 1 && LAST_ESR.load(SeqCst) >> 26 == 0x25;
        check("cpu 1: under EL2's stage-2", refused, format_args!("round {round}"));
        let status = el2.pmu_status();
        // The dynamic part: counters reserved at boot come on top.
        let kept = status.is_ok_and(|s| s.dynamic_mask.count_ones() as u64 == RESERVE);
        check("cpu 1: reservation kept across CPU_OFF/CPU_ON", kept, format_args!("round {round}: {status:?}"));
        // The VM still exists: its memory cannot be donated twice.
        let twice = el2.vm_create(DONATE_CPU1, MB2);
        check("cpu 1: VM kept across CPU_OFF/CPU_ON", twice == Err(smc_interface::SmcccError::Denied), format_args!("{twice:?}"));
        if round == ROUNDS {
            let r = el2.pmu_unreserve();
            check("cpu 1: PMU_UNRESERVE", r.is_ok(), format_args!("{r:?}"));
            let d = el2.vm_destroy(CPU1_VM.load(SeqCst));
            check("cpu 1: VM_DESTROY", d.is_ok(), format_args!("{d:?}"));
        }
        ROUND_DONE.store(round, SeqCst);
        if !wait_until(10, || MAY_GO_OFF.load(SeqCst) >= round) {
            say!("PROBE: FAIL cpu 1: cpu 0 never finished round {round}");
        }
    }
    payload_rt::cpu_off()
}
