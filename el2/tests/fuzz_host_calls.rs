// SPDX-License-Identifier: MIT OR Apache-2.0

//! Fuzzing the host call surface above `HostCall::decode`: routing, EL2's own answers, the PMU
//! calls on a live partition state, and the PSCI relay.
//!
//! - `fuzz_answer_in_process`: arbitrary x0..x17 on both conduits, between host writes to its
//!   counters, on a random CPU (or one without a PMU). Every call gets an answer and never a
//!   panic; x0 is a value (non-negative) or one of the codes docs/abi.md section 6 lists (PSCI's
//!   own codes for relayed PSCI calls); errors clear x1..x3; x4..x17 come back as the host left
//!   them; the answers the ABI fixes (UID, revision, version, features, decode errors) are those;
//!   only a successful PMU_RESERVE or PMU_UNRESERVE changes the PMU or the partition state, and the
//!   layout invariants hold after every call; the SVE hint bit changes nothing.
//! - `fuzz_psci_relay`: the same routing with a recording EL3 that reads function IDs as TF-A
//!   does (SVE hint masked): whatever the host passes, EL3 never receives a host-chosen entry
//!   point for CPU_ON, CPU_SUSPEND or SYSTEM_SUSPEND (the CPU would enter the host at EL2), nor
//!   one of this hypervisor's own calls.

mod pmu_model;
mod support;

use el2::host_calls::{self, Conduit, PmuCalls};
use el2::monitor::{Monitor, SmcRegs};
use el2::percpu::CpuTable;
use el2::pmu::{CpuPartition, FakePmu, PmuConfig};
use el2::psci_relay::{PsciRelay, WarmEntries};
use pmu_model::{HostWrite, check_layout, host_write, snapshot};
use proptest::prelude::*;
use smc_interface::HostCall;

const SVE_HINT: u64 = 1 << 16;
const NOT_SUPPORTED: u64 = -1i64 as u64;

/// Function IDs: this hypervisor's (mostly the PMU calls, which have state), the architecture's,
/// PSCI's (with and without the SVE hint and the reserved bits 23:17), and anything.
fn x0() -> impl Strategy<Value = u64> {
    let ours = vec![
        0x8600_0000u32, 0x8600_ff01, 0x8600_ff03, 0x8600_ff00, 0xc600_0001, 0xc600_0002, 0xc600_0003, 0xc600_0003,
        0xc600_0003, 0xc600_0004, 0xc600_0004, 0xc600_0005, 0xc600_0010, 0xc600_0013, 0xc600_0080,
    ];
    let arch = vec![0x8000_0000u32, 0x8000_0001, 0x8000_0002, 0x8000_8000, 0x8000_7fff, 0x8000_3fff];
    prop_oneof![
        6 => prop::sample::select(ours).prop_map(u64::from),
        2 => prop::sample::select(arch).prop_map(u64::from),
        3 => psci_id().prop_map(u64::from),
        1 => any::<u32>().prop_map(u64::from),
        1 => any::<u64>(),
    ]
}

fn psci_id() -> impl Strategy<Value = u32> {
    (0u32..0x20, any::<bool>(), prop_oneof![4 => Just(0u32), 2 => Just(1 << 16), 1 => (17u32..24).prop_map(|b| 1 << b)])
        .prop_map(|(n, smc64, extra)| 0x8400_0000 | u32::from(smc64) << 30 | extra | n)
}

fn arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(0u64),
        4 => 0u64..8,
        1 => 8u64..40,
        1 => prop::sample::select(vec![0x8600_ff01u64, 0xc600_0003, 0x8000_8000, 0x8001_0000]),
        1 => Just(1u64 << 32),
        1 => any::<u32>().prop_map(u64::from),
        1 => any::<u64>(),
    ]
}

fn registers() -> impl Strategy<Value = SmcRegs> {
    (x0(), prop::array::uniform4(arg()), any::<u64>()).prop_map(|(x0, used, seed)| {
        let mut regs = [0; 18];
        regs[0] = x0;
        regs[1..5].copy_from_slice(&used);
        // x5..x17: no call uses them, EL2 must hand them back; one value spread over them.
        for (i, x) in regs[5..].iter_mut().enumerate() {
            *x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i as u32 * 7) ^ i as u64;
        }
        regs
    })
}

#[derive(Clone, Debug)]
enum Step {
    Call { regs: SmcRegs, smc: bool },
    Host(HostWrite),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (registers(), any::<bool>()).prop_map(|(regs, smc)| Step::Call { regs, smc }),
        2 => host_write().prop_map(Step::Host),
    ]
}

fn conduit(smc: bool) -> Conduit {
    if smc { Conduit::Smc } else { Conduit::Hvc }
}

/// What the host gets back for one call.
fn answer(regs: SmcRegs, smc: bool, cfg: Option<&PmuConfig>, cpu: &mut CpuPartition, hw: &mut FakePmu) -> SmcRegs {
    host_calls::answer_in_process(regs, conduit(smc), &mut PmuCalls { cfg, cpu, hw })
}

/// The answer to one call, checked against docs/abi.md.
fn check_call(regs: SmcRegs, smc: bool, cfg: Option<&PmuConfig>, p: &mut CpuPartition, hw: &mut FakePmu) -> Result<(), TestCaseError> {
    let (p0, hw0) = (*p, hw.clone());
    let out = answer(regs, smc, cfg, p, hw);
    let changed = *p != p0 || snapshot(hw) != snapshot(&hw0);
    let x0 = out[0] as i64;
    let preserved = out[4..] == regs[4..];
    let id = regs[0] as u32 & !(SVE_HINT as u32);
    let owner = (id >> 24) & 0x3f;
    let ctx = || format!("x0..x4 {:#x?} by {} -> {:#x?}", &regs[..5], if smc { "SMC" } else { "HVC" }, &out[..4]);

    if regs[0] >> 32 != 0 {
        prop_assert_eq!(&out[..4], &[NOT_SUPPORTED, 0, 0, 0], "{}", ctx());
        prop_assert!(preserved && !changed, "{}", ctx());
        return Ok(());
    }
    let own = owner == 6 || (owner == 0 && !smc);
    if !own {
        prop_assert!(!changed, "{}", ctx());
        if !smc {
            prop_assert_eq!(&out[..4], &[NOT_SUPPORTED, 0, 0, 0], "{}", ctx());
            prop_assert!(preserved, "{}", ctx());
        } else if el2::psci_relay::is_psci(id) {
            // EL3 here implements nothing (NOT_SUPPORTED); EL2's own PSCI answers are
            // INVALID_PARAMETERS, ALREADY_ON and INVALID_ADDRESS (abi.md section 2).
            prop_assert!([-1, -2, -4, -9].contains(&x0), "{}", ctx());
        } else {
            prop_assert_eq!(out, { let mut r = [0; 18]; r[0] = NOT_SUPPORTED; r }, "relayed unchanged: {}", ctx());
        }
        return Ok(());
    }

    // EL2 is the callee.
    prop_assert!(x0 >= 0 || (-7..=-1).contains(&x0), "undocumented x0: {}", ctx());
    if x0 < 0 {
        prop_assert_eq!(&out[1..4], &[0, 0, 0], "an error leaves results behind: {}", ctx());
    }
    prop_assert!(preserved, "x4..x17 not preserved: {}", ctx());
    let call = match HostCall::decode(&regs) {
        Err(e) => {
            prop_assert_eq!(out[0], e.to_register(), "{}", ctx());
            prop_assert!(!changed);
            return Ok(());
        }
        Ok(call) => call,
    };
    let pmu_ok = |r: [u64; 4]| if cfg.is_some() { r } else { [NOT_SUPPORTED, 0, 0, 0] };
    match call {
        HostCall::SmcccVersion => prop_assert_eq!(&out[..4], &[0x1_0002, 0, 0, 0]),
        HostCall::HypCallUid => prop_assert_eq!(&out[..4], &[0xfcab_ab9b, 0x8d42_5900, 0x2908_2289, 0x128e_d30c]),
        HostCall::HypRevision => prop_assert_eq!(&out[..4], &[0, 3, 0, 0]),
        HostCall::HypFeatures { function_id } => {
            // abi.md section 5; in process there are no VMs, so no VM call is implemented.
            let implemented = [0x8600_0000, 0x8600_ff01, 0x8600_ff03].contains(&function_id)
                || cfg.is_some() && (0xc600_0001..=0xc600_0004).contains(&function_id);
            prop_assert_eq!(out[0], if implemented { 0 } else { NOT_SUPPORTED }, "{}", ctx());
        }
        HostCall::ArchFeatures { function_id } => {
            let f = function_id & !(SVE_HINT as u32);
            prop_assert_eq!(out[0], if f == 0x8000_0000 || f == 0x8000_0001 { 0 } else { NOT_SUPPORTED }, "{}", ctx());
        }
        HostCall::PmuInfo => {
            if let Some(cfg) = cfg {
                prop_assert_eq!(out[0], 0);
                prop_assert_eq!((out[1] & 0x1f) as u8, cfg.counters);
            } else {
                prop_assert_eq!(out[0], NOT_SUPPORTED);
            }
        }
        HostCall::PmuStatus => {
            let want = cfg.map(|c| p.status(c));
            let got = want.map_or([NOT_SUPPORTED, 0, 0, 0], |s| [0, s.reserved_mask.into(), s.host_counters.into(), s.dynamic_mask.into()]);
            prop_assert_eq!(&out[..4], &pmu_ok(got)[..]);
        }
        HostCall::PmuReserve { .. } | HostCall::PmuUnreserve => {
            if cfg.is_none() {
                prop_assert_eq!(out[0], NOT_SUPPORTED);
            }
            if x0 == 0 {
                prop_assert_eq!(out[1], u64::from(if matches!(call, HostCall::PmuReserve { .. }) { p.status(cfg.unwrap()).dynamic_mask } else { p0.status(cfg.unwrap()).dynamic_mask }));
            }
            prop_assert!(x0 == 0 || !changed, "a refused PMU call changed something: {}", ctx());
            return Ok(());
        }
        // No VMs in process; the workarounds go to an EL3 that implements nothing.
        _ => prop_assert_eq!(&out[..4], &[NOT_SUPPORTED, 0, 0, 0], "{}", ctx()),
    }
    prop_assert!(!changed, "{:?} changed the PMU or the partition", call);
    Ok(())
}

fn run_calls(cpu: Option<pmu_model::Cpu>, steps: Vec<Step>) -> Result<u64, TestCaseError> {
    let cfg = match &cpu {
        Some(c) => match c.config() {
            Ok(cfg) => Some(cfg),
            Err(_) => return Ok(0), // fuzz_partition covers the refused policies
        },
        None => None,
    };
    // Without a PMU the state is never looked at; any will do.
    let mut hw = cpu.as_ref().map_or_else(|| FakePmu::new(1), |c| c.hw());
    let mut p = cfg.as_ref().map_or(CpuPartition::UNSET, CpuPartition::new);
    if let Some(cfg) = &cfg {
        p.apply(cfg, &mut hw);
    }
    let mut executions = 0;
    for step in steps {
        match step {
            Step::Host(w) => w.apply(&mut hw, true),
            Step::Call { regs, smc } => {
                // The SVE hint is only a hint: the same call without (or with) it, on the same
                // state, gets the same answer and leaves the same state.
                let (mut p2, mut hw2) = (p, hw.clone());
                check_call(regs, smc, cfg.as_ref(), &mut p, &mut hw)?;
                if regs[0] >> 32 == 0 {
                    let mut other = regs;
                    other[0] ^= SVE_HINT;
                    let (a, b) = (answer(regs, smc, cfg.as_ref(), &mut p2.clone(), &mut hw2.clone()), answer(other, smc, cfg.as_ref(), &mut p2, &mut hw2));
                    prop_assert_eq!(a, b, "the SVE hint changed the answer to {:#x} by {}", regs[0], if smc { "SMC" } else { "HVC" });
                    prop_assert_eq!((p, snapshot(&hw)), (p2, snapshot(&hw2)), "the SVE hint changed the state");
                    executions += 2;
                }
                executions += 1;
            }
        }
        if let Some(cfg) = &cfg {
            check_layout(cfg, &p, &hw)?;
        }
    }
    Ok(executions)
}

#[test]
fn fuzz_answer_in_process() {
    let cpu = prop_oneof![9 => pmu_model::cpu().prop_map(Some), 1 => Just(None)];
    let input = (cpu, prop::collection::vec(step(), 1..64));
    support::fuzz("answer_in_process", file!(), 2000, input, |(cpu, steps)| run_calls(cpu, steps));
}

// ---------------------------------------------------------------------------------------------
// The PSCI relay against an EL3 that decodes like TF-A.

const ENTRIES: WarmEntries = WarmEntries { cpu_on: 0x6000_1000, resume: 0x6000_2000 };
/// The host's RAM: what `host_owns` says yes to.
const HOST_RAM: core::ops::Range<u64> = 0x4000_0000..0x6000_0000;

/// EL3: records what it receives, answers from a script.
struct El3 {
    calls: Vec<SmcRegs>,
    answers: Vec<u64>,
}

impl Monitor for El3 {
    fn smc(&mut self, regs: &mut SmcRegs) {
        let mut out = [0; 18];
        out[0] = self.answers.get(self.calls.len() % self.answers.len().max(1)).copied().unwrap_or(0);
        self.calls.push(*regs);
        *regs = out;
    }
}

/// What TF-A does with an SMC: the function ID is w0 with the SVE hint masked (SMCCC 1.3), and a
/// fast call with any of bits 23:17 set is refused as unknown. `None` for the latter.
fn as_tf_a_reads_it(x0: u64) -> Option<u32> {
    let fid = x0 as u32 & !(SVE_HINT as u32);
    (fid & 0x00fe_0000 == 0).then_some(fid)
}

fn check_el3_call(regs: &SmcRegs) -> Result<(), TestCaseError> {
    let Some(fid) = as_tf_a_reads_it(regs[0]) else { return Ok(()) };
    let w = |x: u64| if fid & 1 << 30 == 0 { x & 0xffff_ffff } else { x };
    use smccc::psci::*;
    let entry = match fid {
        PSCI_CPU_ON_32 | PSCI_CPU_ON_64 => Some((w(regs[2]), ENTRIES.cpu_on)),
        PSCI_CPU_SUSPEND_32 | PSCI_CPU_SUSPEND_64 => Some((w(regs[2]), ENTRIES.resume)),
        PSCI_SYSTEM_SUSPEND_32 | PSCI_SYSTEM_SUSPEND_64 => Some((w(regs[1]), ENTRIES.resume)),
        _ => None,
    };
    if let Some((got, el2s)) = entry {
        prop_assert_eq!(got, el2s, "EL3 got a PSCI call {:#x} with the host's entry point: the CPU would enter the host at EL2", regs[0]);
    }
    prop_assert_ne!((fid >> 24) & 0x3f, 6, "one of EL2's own calls reached EL3: {:#x}", regs[0]);
    Ok(())
}

fn psci_registers() -> impl Strategy<Value = SmcRegs> {
    let mpidr = prop_oneof![0u64..6, (0u64..4).prop_map(|c| c | 0x8000_0000), any::<u64>()];
    let entry = prop_oneof![HOST_RAM, 0u64..0x4000_0000, Just(ENTRIES.cpu_on), any::<u64>(), (HOST_RAM).prop_map(|a| a | 0xffff_ffff_0000_0000)];
    let any_x0 = prop_oneof![4 => psci_id().prop_map(u64::from), 1 => x0()];
    (any_x0, mpidr, entry.clone(), entry, any::<u64>()).prop_map(|(x0, a1, a2, a3, seed)| {
        let mut regs = [0; 18];
        // CPU_ON: target, entry, context; CPU_SUSPEND: state, entry, context; SYSTEM_SUSPEND:
        // entry, context. Entries in both x1 and x2 cover all three.
        (regs[0], regs[1], regs[2], regs[3]) = (x0, if seed & 1 == 0 { a1 } else { a3 }, a2, seed);
        regs
    })
}

#[test]
fn fuzz_psci_relay() {
    let input = (
        prop::collection::vec((psci_registers(), any::<bool>(), 0usize..4), 1..32),
        prop::collection::vec(prop::sample::select(vec![0u64, NOT_SUPPORTED, -2i64 as u64, -4i64 as u64]), 1..4),
    );
    support::fuzz("psci_relay", file!(), 2000, input, |(calls, answers)| {
        let cpus = CpuTable::new();
        let mut el3 = El3 { calls: Vec::new(), answers };
        let host_owns = |pa: u64| HOST_RAM.contains(&pa);
        let (mut hw, mut p) = (FakePmu::new(1), CpuPartition::UNSET);
        for &(regs, smc, this_cpu) in &calls {
            let seen = el3.calls.len();
            let mut relay = PsciRelay { monitor: &mut el3, cpus: &cpus, entries: ENTRIES, this_cpu, host_owns: &host_owns };
            let mut out = regs;
            host_calls::handle(&mut out, conduit(smc), &mut relay, &mut PmuCalls { cfg: None, cpu: &mut p, hw: &mut hw });
            for relayed in &el3.calls[seen..] {
                check_el3_call(relayed)?;
            }
            // An entry point outside the host's RAM is refused by EL2 itself, and goes nowhere.
            if out[0] == el2::psci_relay::PSCI_INVALID_ADDRESS {
                prop_assert_eq!(el3.calls.len(), seen);
            }
        }
        Ok(calls.len() as u64)
    });
}
