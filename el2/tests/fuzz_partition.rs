// SPDX-License-Identifier: MIT OR Apache-2.0

//! Fuzzing the PMU partition state machine (`CpuPartition` on `FakePmu`): a random CPU and policy,
//! the boot layout, then random PMU_RESERVE / PMU_UNRESERVE calls between random writes of the host
//! (and of whoever else reaches the reserved counters), with every invariant of docs/design.md
//! section 11 and docs/abi.md section 9 checked after every step:
//!
//! - the host's counters and the reserved ones are disjoint and cover the CPU; HPMN = H;
//! - reserved counters are reset when reserved and scrubbed when given back, the boot ones at boot
//!   and whenever the CPU comes back through EL2;
//! - a call touches only the counters it hands over;
//! - a call succeeds exactly when no documented error applies, and a refusal leaves the PMU and the
//!   partition state exactly as they were.

mod pmu_model;
mod support;

use el2::pmu::hw::PmuHw;
use el2::pmu::{ConfigError, CpuPartition};
use pmu_model::{HostWrite, check_layout, check_reset, check_untouched, host_write, low, snapshot};
use proptest::prelude::*;
use smc_interface::{CounterMask, SmcccError};

#[derive(Clone, Debug)]
enum Step {
    Reserve(u64),
    Unreserve,
    /// The host's own write, kept below HPMN by the CPU.
    Host(HostWrite),
    /// A write that reaches any counter: a partition on its counters, or EL1 on a CPU that does not
    /// enforce HPMN (QEMU).
    Anywhere(HostWrite),
    /// The CPU comes back through EL2 (CPU_ON, resume from a power-down suspend).
    Apply,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..8).prop_map(Step::Reserve),
        1 => prop_oneof![Just(u64::MAX), Just(1 << 32), any::<u64>(), 8u64..40].prop_map(Step::Reserve),
        3 => Just(Step::Unreserve),
        // The host vacating counters (perf's sched-out) is what lets a reservation through.
        2 => (0u32..32).prop_map(|n| Step::Host(HostWrite::CntenClr(!0 << n))),
        1 => (0u32..32).prop_map(|n| Step::Host(HostWrite::IntenClr(!0 << n))),
        6 => host_write().prop_map(Step::Host),
        2 => host_write().prop_map(Step::Anywhere),
        1 => Just(Step::Apply),
    ]
}

fn run(cpu: pmu_model::Cpu, steps: Vec<Step>) -> Result<u64, TestCaseError> {
    let cfg = match cpu.config() {
        Ok(cfg) => cfg,
        Err(ConfigError::BootReservationTooLarge { requested, allowed }) => {
            // Refused exactly when the boot reservation eats into the host's minimum.
            let minimum = cpu.host_minimum.max(u8::from(!cpu.hpmn0)).min(cpu.n);
            prop_assert_eq!((requested, allowed), (cpu.boot_reserved, cpu.n - minimum));
            prop_assert!(cpu.boot_reserved > cpu.n - minimum);
            return Ok(1);
        }
        Err(e) => return Err(TestCaseError::fail(format!("{e:?} for {cpu:?}"))),
    };
    prop_assert!(cfg.max_reserve as u32 + cfg.host_minimum as u32 + cfg.boot_reserved as u32 == cpu.n as u32);
    let mut hw = cpu.hw();
    let mut p = CpuPartition::new(&cfg);
    p.apply(&cfg, &mut hw);
    check_layout(&cfg, &p, &hw)?;
    check_reset(&hw, cfg.boot_reserved_mask(), "boot")?;

    for step in &steps {
        let (before, before_hw) = (p, hw.clone());
        let h = p.host_counters();
        let dynamic = p.status(&cfg).dynamic_mask;
        match *step {
            Step::Reserve(k) => {
                let got = p.reserve(&cfg, &mut hw, k);
                // Every documented reason to refuse (abi.md section 9), without assuming an order.
                let mut reasons = Vec::new();
                if dynamic != 0 {
                    reasons.push(SmcccError::AlreadyReserved);
                }
                let valid = k != 0 && k <= u64::from(cfg.max_reserve);
                if !valid {
                    reasons.push(SmcccError::InvalidParameter);
                }
                if valid && dynamic == 0 {
                    let wanted = low(h) & !low(h - k as u8);
                    if (before_hw.enabled() | before_hw.interrupts()) & wanted != 0 {
                        reasons.push(SmcccError::Busy);
                    }
                }
                match got {
                    Ok(mask) => {
                        prop_assert!(reasons.is_empty(), "reserve({}) granted despite {:?}", k, reasons);
                        let k = k as u8;
                        prop_assert_eq!(mask, CounterMask::range(h - k, k), "not the top of the host's share");
                        prop_assert_eq!(p.host_counters(), h - k);
                        check_reset(&hw, mask.0, "reserve")?;
                        check_untouched(&before_hw, &hw, mask.0, "reserve")?;
                    }
                    Err(e) => {
                        prop_assert!(reasons.contains(&e), "reserve({}) refused with {:?}, expected one of {:?}", k, e, reasons);
                        prop_assert_eq!(p, before, "a refusal changed the partition");
                        prop_assert_eq!(snapshot(&hw), snapshot(&before_hw), "a refusal changed the PMU");
                    }
                }
            }
            Step::Unreserve => match p.unreserve(&mut hw) {
                Ok(mask) => {
                    prop_assert_ne!(dynamic, 0);
                    prop_assert_eq!(mask.0, dynamic, "gave back something else than it granted");
                    prop_assert_eq!(p.host_counters(), h + dynamic.count_ones() as u8);
                    check_reset(&hw, mask.0, "unreserve")?;
                    check_untouched(&before_hw, &hw, mask.0, "unreserve")?;
                }
                Err(e) => {
                    prop_assert_eq!(e, SmcccError::NotReserved);
                    prop_assert_eq!(dynamic, 0);
                    prop_assert_eq!(p, before, "a refusal changed the partition");
                    prop_assert_eq!(snapshot(&hw), snapshot(&before_hw), "a refusal changed the PMU");
                }
            },
            Step::Host(w) => w.apply(&mut hw, true),
            Step::Anywhere(w) => w.apply(&mut hw, false),
            Step::Apply => {
                p.apply(&cfg, &mut hw);
                prop_assert_eq!(p, before);
                check_reset(&hw, p.reserved_mask(&cfg), "apply")?;
                check_untouched(&before_hw, &hw, p.reserved_mask(&cfg), "apply")?;
            }
        }
        check_layout(&cfg, &p, &hw)?;
    }
    Ok(steps.len() as u64 + 1)
}

#[test]
fn fuzz_partition() {
    let input = (pmu_model::cpu(), prop::collection::vec(step(), 1..200));
    support::fuzz("partition", file!(), 2000, input, |(cpu, steps)| run(cpu, steps));
}
