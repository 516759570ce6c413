// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stress probe itself (aarch64 only). The payload runs with its MMU off, where exclusive
//! accesses are not guaranteed: every shared word below has one writer (its CPU), and the others
//! only read it.

use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use host_driver::Client;
use host_driver::conduit::{Hvc, Smc};
use payload_rt::{ABORTS, bump, bundle_initrd, check, finish, raw, say, secondary_start, wait_until};
use smc_interface::vm::{Exit, GUEST_RAM_BASE, HostEvents};
use smc_interface::SmcccError;
use smccc::psci::{PSCI_AFFINITY_INFO_64, PSCI_CPU_ON_64};

pub const ROUNDS: u64 = 1000;
const CPUS: usize = 4;
/// Counters each CPU reserves per round, and its partition's.
const K: u64 = 2;
const MB2: u64 = 2 << 20;
/// Runs of the vCPU per round (each loads and puts the partition's PMU).
const RUNS: u64 = 2;
/// A secondary turns itself off every this many rounds, mid-round.
const OFF_EVERY: u64 = 100;
/// The guest's argument: touch the PMU, then report 101 and exit, forever (tests/payloads/guest).
const GUEST_PMU_LOOP: u64 = 0b1000;
/// The VMs EL2 holds at once (docs/design.md, the partition limits).
const VM_SLOTS: usize = 4;

/// Each CPU's own 2 MiB to donate.
fn donation(cpu: usize) -> u64 {
    0x5000_0000 + cpu as u64 * 2 * MB2
}

/// Per CPU: rounds done, unexpected answers (and the first one), its VM handle across a CPU_OFF,
/// times it was turned off, hostile donations of another CPU's memory that went through, its own
/// donations denied because another CPU held the memory at that instant, and whether it has
/// finished.
struct Progress {
    rounds: AtomicU64,
    errors: AtomicU64,
    first_error: AtomicU64,
    vm: AtomicU64,
    offs: AtomicU64,
    stolen: AtomicU64,
    denied: AtomicU64,
    done: AtomicU64,
}

static PROGRESS: [Progress; CPUS] = [const {
    Progress {
        rounds: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: AtomicU64::new(0),
        vm: AtomicU64::new(0),
        offs: AtomicU64::new(0),
        stolen: AtomicU64::new(0),
        denied: AtomicU64::new(0),
        done: AtomicU64::new(0),
    }
}; CPUS];
static IMAGE: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
/// What PMU_STATUS said on each CPU before the stress (boot-time reservations included).
static STATUS_BEFORE: [AtomicU64; CPUS] = [const { AtomicU64::new(u64::MAX) }; CPUS];

/// Records an unexpected answer: `what` identifies the step, `x0` the answer.
fn bad(cpu: usize, what: u64, x0: u64) {
    let p = &PROGRESS[cpu];
    if p.errors.load(SeqCst) == 0 {
        p.first_error.store(what << 56 | (x0 & 0x00ff_ffff_ffff_ffff), SeqCst);
    }
    bump(&p.errors);
}

/// PMU_STATUS by HVC #1 or SMC #1, which are no SMCCC calls: EL2 takes them on its full trap path
/// (every other call here takes the short one) and refuses them: x0..x3 = NOT_SUPPORTED, 0, 0, 0.
fn not_a_call(smc: bool) -> [u64; 4] {
    let mut r = [u64::from(smc_interface::pmu::PMU_STATUS), 1, 2, 3];
    let [x0, x1, x2, x3] = &mut r;
    // SAFETY: an HVC or SMC EL2 refuses; the registers it may change are declared.
    unsafe {
        if smc {
            core::arch::asm!("smc #1", inout("x0") *x0, inout("x1") *x1, inout("x2") *x2, inout("x3") *x3);
        } else {
            core::arch::asm!("hvc #1", inout("x0") *x0, inout("x1") *x1, inout("x2") *x2, inout("x3") *x3);
        }
    }
    r
}

fn err_code(e: SmcccError) -> u64 {
    e.to_register()
}

fn status_word(el2: &mut Client<Hvc>) -> u64 {
    el2.pmu_status().map_or(u64::MAX, |s| u64::from(s.reserved_mask) << 32 | u64::from(s.dynamic_mask))
}

/// The second half of a round: destroy the VM, release the counters.
fn finish_round(cpu: usize, el2: &mut Client<Hvc>) {
    let p = &PROGRESS[cpu];
    if let Err(e) = el2.vm_destroy(p.vm.load(SeqCst)) {
        bad(cpu, 6, err_code(e));
    }
    p.vm.store(0, SeqCst);
    if let Err(e) = el2.pmu_unreserve() {
        bad(cpu, 7, err_code(e));
    }
    bump(&p.rounds);
}

/// The rounds of one CPU, from wherever it left off. A secondary returns `true` when it should
/// turn itself off now (mid-round, holding a reservation and a VM).
fn rounds(cpu: usize) -> bool {
    let p = &PROGRESS[cpu];
    let mut el2 = Client::new(Hvc);
    if p.vm.load(SeqCst) != 0 {
        // Back from a CPU_OFF in the middle of a round.
        finish_round(cpu, &mut el2);
    }
    let (image, size) = (IMAGE[0].load(SeqCst), IMAGE[1].load(SeqCst));
    while p.rounds.load(SeqCst) < ROUNDS {
        let round = p.rounds.load(SeqCst);
        if let Err(e) = el2.pmu_reserve(K) {
            bad(cpu, 1, err_code(e));
        }
        // The full trap path, racing the other CPUs' calls and runs.
        for smc in [false, true] {
            let r = not_a_call(smc);
            if r != [err_code(SmcccError::NotSupported), 0, 0, 0] {
                bad(cpu, 10, r[0]);
            }
        }
        // Another CPU may hold this memory for a moment (its hostile donation below): DENIED is
        // then the right answer, and the memory is free again once that CPU gives it back.
        let mut create = el2.vm_create(donation(cpu), MB2);
        let mut tries = 0;
        while create == Err(SmcccError::Denied) && tries < 100_000 {
            tries += 1;
            bump(&p.denied);
            create = el2.vm_create(donation(cpu), MB2);
        }
        let vm = match create {
            Ok(h) => h,
            Err(e) => {
                bad(cpu, 2, err_code(e));
                p.rounds.store(round + 1, SeqCst);
                let _ = el2.pmu_unreserve();
                continue;
            }
        };
        p.vm.store(vm, SeqCst);
        if let Err(e) = el2.vm_load(vm, image, size, 0) {
            bad(cpu, 3, err_code(e));
        }
        match el2.vcpu_create(vm, GUEST_RAM_BASE, K, GUEST_PMU_LOOP) {
            Ok(0) => {
                for _ in 0..RUNS {
                    match el2.vcpu_run(vm, 0, HostEvents::default()) {
                        Ok(Exit::Report([101, 0, 0])) => {}
                        Ok(_) => bad(cpu, 5, 0),
                        Err(e) => bad(cpu, 5, err_code(e)),
                    }
                }
            }
            Ok(other) => bad(cpu, 4, other),
            Err(e) => bad(cpu, 4, err_code(e)),
        }
        // Hostile: donate the next CPU's memory. Its VM may or may not exist at this instant:
        // DENIED while it does; if the donation goes through, give it straight back.
        match el2.vm_create(donation((cpu + 1) % CPUS), MB2) {
            Ok(h) => {
                bump(&p.stolen);
                if let Err(e) = el2.vm_destroy(h) {
                    bad(cpu, 8, err_code(e));
                }
            }
            Err(SmcccError::Denied) => {}
            Err(e) => bad(cpu, 8, err_code(e)),
        }
        if cpu != 0 && round % OFF_EVERY == OFF_EVERY / 2 && p.offs.load(SeqCst) <= round / OFF_EVERY {
            bump(&p.offs);
            return true;
        }
        finish_round(cpu, &mut el2);
        if cpu == 0 {
            wake_secondaries();
        }
    }
    // Back to what it was before the stress: no reservation of this CPU's own, no VM.
    let after = status_word(&mut el2);
    if after != STATUS_BEFORE[cpu].load(SeqCst) {
        bad(cpu, 9, after);
    }
    p.done.store(1, SeqCst);
    false
}

fn cpu_on(cpu: usize) -> u64 {
    raw(&mut Smc, &[PSCI_CPU_ON_64.into(), cpu as u64, secondary_start as *const () as u64, cpu as u64])[0]
}

/// CPU 0 turns every secondary that turned itself off (and has not finished) on again.
fn wake_secondaries() {
    for (cpu, p) in PROGRESS.iter().enumerate().skip(1) {
        let off = raw(&mut Smc, &[PSCI_AFFINITY_INFO_64.into(), cpu as u64, 0])[0] == 1;
        if off && p.done.load(SeqCst) == 0 {
            let r = cpu_on(cpu);
            if r != 0 {
                bad(0, 10, r);
            }
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(_dtb: u64) -> ! {
    say!("PROBE: start");
    let Some((image, size)) = bundle_initrd() else {
        check("guest image in the bundle", false, format_args!(""));
        finish()
    };
    IMAGE[0].store(image, SeqCst);
    IMAGE[1].store(size, SeqCst);
    STATUS_BEFORE[0].store(status_word(&mut Client::new(Hvc)), SeqCst);

    for cpu in 1..CPUS {
        let r = cpu_on(cpu);
        check("CPU_ON", r == 0, format_args!("cpu {cpu}: {r:#x}"));
    }
    let started = wait_until(10, || (1..CPUS).all(|c| STATUS_BEFORE[c].load(SeqCst) != u64::MAX));
    check("all CPUs started", started, format_args!(""));
    rounds(0);
    // The secondaries finish; CPU 0 keeps turning them on when they go off.
    let all_done = wait_until(300, || {
        wake_secondaries();
        (0..CPUS).all(|c| PROGRESS[c].done.load(SeqCst) != 0)
    });
    check("every CPU finished its rounds", all_done, format_args!(""));

    for (cpu, p) in PROGRESS.iter().enumerate() {
        let (rounds, errors, offs) = (p.rounds.load(SeqCst), p.errors.load(SeqCst), p.offs.load(SeqCst));
        say!(
            "PROBE: cpu {cpu} rounds={rounds} errors={errors} offs={offs} stolen={} denied={}",
            p.stolen.load(SeqCst),
            p.denied.load(SeqCst)
        );
        let first = p.first_error.load(SeqCst);
        check(
            "rounds without an unexpected answer",
            rounds == ROUNDS && errors == 0,
            format_args!("cpu {cpu}: {rounds} rounds, {errors} errors, first: step {} x0 {:#x}", first >> 56, first & 0x00ff_ffff_ffff_ffff),
        );
    }
    let offs: u64 = PROGRESS[1..].iter().map(|p| p.offs.load(SeqCst)).sum();
    check("secondaries turned off and on mid-round", offs >= 3 * (ROUNDS / OFF_EVERY), format_args!("{offs}"));

    // Consistency: every donated range is the host's again (readable without an abort), and all
    // slots are free (MAX_VMS VMs fit again), and nothing else was left behind.
    let aborts = ABORTS.load(SeqCst);
    for cpu in 0..CPUS {
        // SAFETY: host RAM the host donated and got back.
        let _ = unsafe { (donation(cpu) as *const u64).read_volatile() };
    }
    check("every donated range back with the host", ABORTS.load(SeqCst) == aborts, format_args!(""));
    let mut el2 = Client::new(Hvc);
    let handles: [_; VM_SLOTS] = core::array::from_fn(|i| el2.vm_create(donation(i), MB2));
    check("no VM slot leaked", handles.iter().all(Result::is_ok), format_args!("{handles:?}"));
    for h in handles.into_iter().flatten() {
        let _ = el2.vm_destroy(h);
    }
    finish()
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: u64) -> ! {
    let cpu = index as usize;
    if cpu < CPUS {
        if STATUS_BEFORE[cpu].load(SeqCst) == u64::MAX {
            STATUS_BEFORE[cpu].store(status_word(&mut Client::new(Hvc)), SeqCst);
        }
        let _ = rounds(cpu);
    }
    payload_rt::cpu_off()
}
