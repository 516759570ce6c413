// SPDX-License-Identifier: MIT OR Apache-2.0

//! The partition PMU on a fake PMU: parking, isolation, emulation.

use super::*;
use crate::pmu::FakePmu;

/// Host: 4 counters (0..3) with 2 reserved (4, 5), events on 0, 1 and 3.
fn host_pmu() -> FakePmu {
    let mut hw = FakePmu::new(6);
    hw.hpmn_value = 4;
    hw.pmcr_value = PMCR_E | PMCR_LP;
    hw.program(0, 0x00, 100);
    hw.program(1, 0x00, 200);
    hw.program(3, 0x00, 400);
    hw.ovs = 0b10;
    hw
}

#[test]
fn load_parks_host_events_and_put_brings_them_back() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    g.values[0] = 7;
    g.types[0] = 0x08;
    g.cnten = 1;
    g.pmcr = PMCR_E;
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    // The partition's counters are its own; the host's 0 and 1 went to 4 and 5.
    assert_eq!(hw.hpmn_value, 2);
    assert_eq!((hw.values[0], hw.types[0], hw.cnten & 0b11), (7, 0x08, 1));
    assert_eq!((hw.values[4], hw.values[5]), (100, 200));
    assert_eq!(hw.cnten & 0b111000, 0b111000, "host events keep counting: parked 4, 5 and 3 in place");
    assert_eq!(hw.ovs & 0b110010, 0b100000, "the overflow flag moved with its event");
    assert!(hw.hpme);
    assert!(hw.hlp, "parked counters keep the host's width");
    // Host events count while the partition runs (SW_INCR stands in for real events).
    hw.software_increment(0b111000);
    // The partition counts too.
    hw.write_counter(0, 9);
    g.put(&mut hw, &host);
    assert_eq!(hw.hpmn_value, 4);
    assert_eq!((hw.values[0], hw.values[1], hw.values[3]), (101, 201, 401));
    assert_eq!(hw.cnten & 0b111111, 0b1011);
    assert_eq!(hw.ovs, 0b10);
    assert_eq!((hw.values[4], hw.values[5], hw.types[4]), (0, 0, 0), "parking place scrubbed");
    assert!(!hw.hpme);
    assert_eq!(hw.pmcr_value & PMCR_E, PMCR_E);
    assert_eq!((g.values[0], g.cnten), (9, 1), "the partition's state saved for next time");
}

/// A host counter that does nothing while the partition runs (disabled, no overflow interrupt
/// waiting) is not parked: the parking place stays in its reset state, and put gives the host its
/// event type, value, interrupt enable and overflow flag back.
#[test]
fn idle_host_counters_wait_in_memory_and_come_back() {
    let mut hw = FakePmu::new(6);
    hw.hpmn_value = 4;
    hw.pmcr_value = PMCR_E;
    // 0: idle, interrupt enabled. 1: idle, an overflow flag but no interrupt. 3: counting, in place.
    hw.program(0, 0x08, 100);
    hw.program(1, 0x11, 200);
    hw.program(3, 0x08, 400);
    hw.cnten &= !0b11;
    hw.inten = 0b1001;
    hw.ovs = 0b10;
    let before = hw.clone();
    let mut g = VPmu::new(2);
    g.values[0] = 7;
    g.types[0] = 0x08;
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!((hw.values[0], hw.types[0], hw.values[1], hw.types[1]), (7, 0x08, 0, 0), "the partition's counters");
    assert_eq!((hw.inten & 0b11, hw.ovs & 0b11), (0, 0), "nothing of the host's on the partition's counters");
    assert_eq!(&hw.values[4..6], &[0, 0], "nothing parked");
    assert_eq!(&hw.types[4..6], &[0, 0]);
    assert_eq!((hw.cnten | hw.inten | hw.ovs) & 0b110000, 0);
    hw.write_counter(0, 9);
    g.put(&mut hw, &host);
    assert_eq!(&hw.values[..6], &before.values[..6]);
    assert_eq!(&hw.types[..6], &before.types[..6]);
    assert_eq!((hw.cnten, hw.inten, hw.ovs), (before.cnten, before.inten, before.ovs));
    assert_eq!(g.values[0], 9);
}

/// A disabled host counter whose overflow interrupt is waiting is parked, not kept in memory: the
/// host's interrupt stays raised while the partition runs, as it would without it.
#[test]
fn a_waiting_host_overflow_interrupt_is_parked() {
    let mut hw = host_pmu();
    hw.cnten &= !0b01;
    hw.inten = 0b01;
    hw.ovs = 0b01;
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!((hw.types[4], hw.values[4]), (0x00, 100), "counter 0 parked in 4");
    assert_eq!((hw.cnten & 1 << 4, hw.inten & 1 << 4, hw.ovs & 1 << 4), (0, 1 << 4, 1 << 4), "its interrupt with it");
    assert_eq!((hw.types[5], hw.values[5]), (0x00, 200), "counter 1 (counting) parked in 5");
    g.put(&mut hw, &host);
    assert_eq!((hw.values[0], hw.cnten & 1, hw.inten & 1, hw.ovs & 1), (100, 0, 1, 1));
    assert_eq!((hw.values[1], hw.cnten & 2), (200, 2));
    assert_eq!(&hw.values[4..6], &[0, 0], "parking place scrubbed");
}

#[test]
fn pmselr_and_pmuserenr_are_switched() {
    for access in [Access::Trapped, Access::Direct { fgt: false }] {
        let mut hw = host_pmu();
        hw.selr_value = 3;
        hw.userenr_value = 0xd;
        let mut g = VPmu::new(2);
        let host = g.load(&mut hw, 0b110000, 4, access);
        assert_eq!((hw.selr_value, hw.userenr_value), (0, 0));
        // The partition writes them directly (direct mode) or through EL2 (trapped: put does
        // not read them back, EL2 kept them).
        if access == Access::Trapped {
            emulate(&mut g, &mut hw, PmuReg::Selr, false, 1);
        } else {
            hw.selr_value = 1;
        }
        emulate(&mut g, &mut hw, PmuReg::Userenr, false, 1);
        g.put(&mut hw, &host);
        assert_eq!((hw.selr_value, hw.userenr_value), (3, 0xd), "{access:?}");
        assert_eq!((g.selr, g.userenr), (1, 1), "{access:?}");
    }
}

/// Trapped, the event types the partition wrote come back on the next load without `put`
/// reading them from the counters.
#[test]
fn trapped_event_types_survive_a_put_and_load() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    emulate(&mut g, &mut hw, PmuReg::EvTyper(1), false, 0x11);
    g.put(&mut hw, &host);
    assert_eq!(g.types[1], 0x11);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!(hw.types[1], 0x11);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvTyper(1), true, 0), Emulated::Done(0x11));
    g.put(&mut hw, &host);
}

fn emulate(g: &mut VPmu, hw: &mut FakePmu, reg: PmuReg, read: bool, value: u64) -> Emulated {
    g.emulate(hw, reg, read, value, false)
}

#[test]
fn a_partition_cannot_reach_the_hosts_counters() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    let before = (hw.values, hw.types, hw.cnten & !0b11, hw.inten & !0b11, hw.ovs & !0b11);
    // N reads as k.
    let Emulated::Done(pmcr) = emulate(&mut g, &mut hw, PmuReg::Pmcr, true, 0) else { panic!() };
    assert_eq!((pmcr >> 11) & 0x1f, 2);
    // Counters at or above k are undefined, directly or through PMSELR.
    for n in [2, 3, 4, 5, 30] {
        assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(n), true, 0), Emulated::Undefined);
        assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvTyper(n), false, 0x11), Emulated::Undefined);
        emulate(&mut g, &mut hw, PmuReg::Selr, false, u64::from(n));
        assert_eq!(emulate(&mut g, &mut hw, PmuReg::XevCntr, false, 5), Emulated::Undefined);
    }
    // Masks, PMSWINC and reset only ever touch the partition's counters.
    for reg in [PmuReg::CntenClr, PmuReg::IntenClr, PmuReg::OvsClr, PmuReg::OvsSet, PmuReg::IntenSet, PmuReg::CntenSet] {
        emulate(&mut g, &mut hw, reg, false, u64::from(u32::MAX));
    }
    emulate(&mut g, &mut hw, PmuReg::Swinc, false, u64::from(u32::MAX));
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_P | 1 << 2);
    // Clearing E stops the partition's counters only: the host's above HPMN run on HPME, and the
    // physical E (which also runs the host's cycle counter) stays on.
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, 0);
    assert_eq!(hw.pmcr_value & PMCR_E, PMCR_E);
    assert_eq!(hw.cnten & 0b11, 0);
    hw.software_increment(0b111000);
    let after_host = (hw.values, hw.types, hw.cnten & !0b11, hw.inten & !0b11, hw.ovs & !0b11);
    assert_eq!(after_host.1, before.1);
    assert_eq!((after_host.2, after_host.3, after_host.4), (before.2, before.3, before.4));
    assert_eq!(after_host.0[2..], {
        let mut v = before.0;
        v[3] += 1;
        v[4] += 1;
        v[5] += 1;
        v
    }[2..]);
    // The cycle counter is not the partition's.
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::Ccntr, true, 0), Emulated::Done(0));
    g.put(&mut hw, &host);
    assert_eq!((hw.values[0], hw.values[1]), (101, 201));
}

#[test]
fn a_partition_sees_the_cpus_common_events_but_cpu_cycles() {
    let mut hw = host_pmu();
    hw.ceid = [0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def0];
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    // CPU_CYCLES (0x11) would go on the cycle counter, which is the host's.
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::Ceid(0), true, 0), Emulated::Done(!(1 << 0x11)));
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::Ceid(1), true, 0), Emulated::Done(0x1234_5678_9abc_def0));
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::Ceid(0), false, 0), Emulated::Undefined);
    g.put(&mut hw, &host);
}

#[test]
fn a_partition_counts_on_its_counters() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    emulate(&mut g, &mut hw, PmuReg::EvTyper(1), false, TYPE_FORBIDDEN); // event 0x00 with every forbidden bit
    assert_eq!(hw.types[1], 0, "no counting at EL2, EL3 or Secure for a partition");
    emulate(&mut g, &mut hw, PmuReg::EvCntr(1), false, 10);
    emulate(&mut g, &mut hw, PmuReg::CntenSet, false, 0b10);
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_E);
    emulate(&mut g, &mut hw, PmuReg::EvTyper(0), false, 1 << 31); // event 0x00, P (exclude EL1)
    emulate(&mut g, &mut hw, PmuReg::CntenSet, false, 0b01);
    for _ in 0..5 {
        emulate(&mut g, &mut hw, PmuReg::Swinc, false, 0b10);
    }
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(1), true, 0), Emulated::Done(15));
    assert_eq!(hw.values[0], 0, "counter 0 filters EL1 out (P set): no count");
    // 32-bit counters wrap and flag an overflow.
    emulate(&mut g, &mut hw, PmuReg::EvCntr(1), false, 0xffff_ffff);
    emulate(&mut g, &mut hw, PmuReg::Swinc, false, 0b10);
    assert_eq!((hw.values[1], hw.ovs & 0b10), (0, 0b10));
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_E | PMCR_P);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(1), true, 0), Emulated::Done(0));
    g.put(&mut hw, &host);
    // Nothing of the partition's is left for the host to see.
    assert_eq!((hw.values[1], hw.values[4], hw.values[5]), (200, 0, 0));
    let again = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::CntenSet, true, 0), Emulated::Done(0b11));
    g.put(&mut hw, &again);
}

#[test]
fn el0_needs_pmuserenr() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!(g.emulate(&mut hw, PmuReg::EvCntr(0), true, 0, true), Emulated::Undefined);
    emulate(&mut g, &mut hw, PmuReg::Userenr, false, 1);
    assert!(matches!(g.emulate(&mut hw, PmuReg::EvCntr(0), true, 0, true), Emulated::Done(_)));
}

#[test]
fn decodes_the_encodings_of_the_reference_table() {
    let iss = |op0: u64, op1: u64, crn: u64, crm: u64, op2: u64, read: bool| {
        op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | 3 << 5 | crm << 1 | u64::from(read)
    };
    let reg = |i| PmuReg::of(&SysregAccess::decode(i));
    assert_eq!(reg(iss(3, 3, 9, 12, 0, true)), Some(PmuReg::Pmcr));
    assert_eq!(reg(iss(3, 0, 9, 14, 1, false)), Some(PmuReg::IntenSet));
    assert_eq!(reg(iss(3, 3, 14, 8, 5, true)), Some(PmuReg::EvCntr(5)));
    assert_eq!(reg(iss(3, 3, 14, 11, 6, true)), Some(PmuReg::EvCntr(30)));
    assert_eq!(reg(iss(3, 3, 14, 13, 1, false)), Some(PmuReg::EvTyper(9)));
    assert_eq!(reg(iss(3, 3, 14, 15, 7, false)), Some(PmuReg::Ccfiltr));
    assert_eq!(reg(iss(3, 3, 9, 13, 0, true)), Some(PmuReg::Ccntr));
    assert_eq!(reg(iss(3, 0, 1, 0, 0, true)), None);
    let a = SysregAccess::decode(iss(3, 3, 9, 12, 4, false));
    assert_eq!((a.rt, a.read), (3, false));
}

#[test]
fn a_partitions_overflow_interrupt_is_its_own() {
    let mut hw = host_pmu();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert!(!g.take_overflow_interrupt(&mut hw), "nothing pending");
    emulate(&mut g, &mut hw, PmuReg::IntenSet, false, 0b01);
    emulate(&mut g, &mut hw, PmuReg::OvsSet, false, 0b01);
    assert!(g.take_overflow_interrupt(&mut hw));
    assert_eq!(hw.inten & 0b01, 0, "physical line off");
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::IntenSet, true, 0), Emulated::Done(0b01), "the partition still sees it enabled");
    assert!(!g.take_overflow_interrupt(&mut hw), "not again until handled");
    emulate(&mut g, &mut hw, PmuReg::OvsClr, false, 0b01);
    assert_eq!(hw.inten & 0b01, 0b01, "re-armed once handled");
    // The direct mode's path: the partition clears the flag itself, EL2 re-arms before entry.
    emulate(&mut g, &mut hw, PmuReg::OvsSet, false, 0b01);
    assert!(g.take_overflow_interrupt(&mut hw));
    hw.clear_overflows(0b01);
    g.rearm(&mut hw);
    assert_eq!((hw.inten & 0b01, g.irq_masked), (0b01, 0));
    // A host overflow (parked counter) is never the partition's.
    hw.ovs |= 1 << 4;
    hw.inten |= 1 << 4;
    assert!(!g.take_overflow_interrupt(&mut hw));
    g.put(&mut hw, &host);
}

// ---------------------------------------------------------------------------------------------
// Every layout (issue 8): the host's events survive a load and a put exactly, whatever N, the
// host's share H and the partition's k (k counters come out of the N - H reserved ones).

/// A host event for counter i of a layout: distinct type (event and filter bits) and value.
fn host_event(i: u8) -> (u64, u64) {
    ((0x08 + u64::from(i)) | (u64::from(i % 4) << 30), 1000 + 7 * u64::from(i))
}

/// A host using all of its H counters: every one programmed, a mix of interrupt enables and
/// overflow flags, and every fifth disabled (as Linux leaves a counter it has no event for): 1 and
/// 11 with their interrupt enabled, 6 with an overflow flag, 16 with neither (all idle), and 21
/// with both, an overflow interrupt waiting.
fn host_using(n: u8, h: u8) -> FakePmu {
    let mut hw = FakePmu::new(n);
    hw.hpmn_value = h;
    hw.pmcr_value = PMCR_E | PMCR_LP;
    for i in 0..h {
        let (ty, value) = host_event(i);
        hw.program(i, ty, value);
        if i % 2 == 0 {
            hw.inten &= !(1 << i);
        }
        if i % 3 == 0 {
            hw.ovs |= 1 << i;
        }
        if i % 5 == 1 {
            hw.cnten &= !(1 << i);
        }
    }
    hw
}

/// Every (N, H, k): N up to 31, H from 0 to N, k from 1 to N - H.
fn layouts() -> impl Iterator<Item = (u8, u8, u8)> {
    (1..=31u8).flat_map(|n| (0..=n).flat_map(move |h| (1..=n - h).map(move |k| (n, h, k))))
}

fn reserved(n: u8, h: u8) -> u32 {
    (((1u64 << n) - 1) as u32) & !(((1u64 << h) - 1) as u32)
}

#[test]
fn every_layout_keeps_the_hosts_events_across_load_and_put() {
    let mut count = 0;
    for (n, h, k) in layouts() {
        let mut hw = host_using(n, h);
        let host_mask = ((1u64 << h) - 1) as u32;
        let before = hw.clone();
        let mut g = VPmu::new(k);
        for i in 0..k {
            g.values[i as usize] = 50 + u64::from(i);
            g.types[i as usize] = 0x11;
        }
        let host = g.load(&mut hw, reserved(n, h), h, Access::Trapped);
        let at = format!("N={n} H={h} k={k}");
        assert_eq!(hw.hpmn_value, k, "{at}");
        for i in 0..k as usize {
            assert_eq!((hw.values[i], hw.types[i]), (50 + i as u64, 0x11), "{at}: the partition's counter {i}");
        }
        // Every host event that counts is live above the partition's range, where it keeps
        // counting (HPME).
        assert!(hw.hpme, "{at}");
        for i in (0..h).filter(|i| before.cnten & 1 << i != 0) {
            let (ty, value) = host_event(i);
            let live = (k..n).any(|c| hw.types[c as usize] == ty && hw.values[c as usize] == value && hw.cnten & (1 << c) != 0);
            assert!(live, "{at}: host event {i} not counting above HPMN while the partition runs");
        }
        g.put(&mut hw, &host);
        assert_eq!(hw.hpmn_value, h, "{at}");
        assert_eq!(&hw.values[..h as usize], &before.values[..h as usize], "{at}: values");
        assert_eq!(&hw.types[..h as usize], &before.types[..h as usize], "{at}: types");
        assert_eq!(
            (hw.cnten & host_mask, hw.inten & host_mask, hw.ovs & host_mask),
            (before.cnten & host_mask, before.inten & host_mask, before.ovs & host_mask),
            "{at}: enables, interrupt enables, overflow flags"
        );
        assert_eq!((hw.cnten | hw.inten | hw.ovs) & reserved(n, h), 0, "{at}: reserved counters left clean");
        assert!(!hw.hpme, "{at}");
        count += 1;
    }
    assert_eq!(count, 5456, "every layout of up to 31 counters");
}

/// Junk in every reserved counter: what a host leaves there on a CPU that does not keep EL1 away
/// from counters at or above HPMN (QEMU), or what it programs there before VCPU_RUN.
fn junk_reserved(hw: &mut FakePmu, reserved: u32) {
    for c in counters_in(reserved) {
        hw.types[c as usize] = 0x11 | 1 << 27;
        hw.values[c as usize] = 0xbad0 + u64::from(c);
    }
    hw.cnten |= reserved;
    hw.inten |= reserved;
    hw.ovs |= reserved;
}

#[test]
fn reserved_counters_not_used_for_parking_are_disabled_and_scrubbed() {
    for (n, h, k) in layouts() {
        let mut hw = host_using(n, h);
        let reserved = reserved(n, h);
        junk_reserved(&mut hw, reserved);
        let mut g = VPmu::new(k);
        let host = g.load(&mut hw, reserved, h, Access::Trapped);
        let at = format!("N={n} H={h} k={k}");
        // Reserved counters above the partition's range either hold a parked host event or are
        // in their reset state: nothing counts the partition for the host with HPME on.
        for c in counters_in(reserved & !g.mask()) {
            let parked = (0..h).any(|i| (hw.types[c as usize], hw.values[c as usize]) == host_event(i));
            if !parked {
                let bit = 1 << c;
                assert_eq!(
                    (hw.types[c as usize], hw.values[c as usize], hw.cnten & bit, hw.inten & bit, hw.ovs & bit),
                    (0, 0, 0, 0, 0),
                    "{at}: spare reserved counter {c}"
                );
            }
        }
        g.put(&mut hw, &host);
    }
}

#[test]
fn host_junk_in_reserved_counters_never_reaches_host_counters() {
    for (n, h, k) in layouts() {
        let mut hw = host_using(n, h);
        let host_mask = ((1u64 << h) - 1) as u32;
        let before = hw.clone();
        let reserved = reserved(n, h);
        junk_reserved(&mut hw, reserved);
        let mut g = VPmu::new(k);
        let host = g.load(&mut hw, reserved, h, Access::Trapped);
        g.put(&mut hw, &host);
        let at = format!("N={n} H={h} k={k}");
        assert_eq!(
            (hw.cnten & host_mask, hw.inten & host_mask, hw.ovs & host_mask),
            (before.cnten & host_mask, before.inten & host_mask, before.ovs & host_mask),
            "{at}: the host's enables, interrupt enables and overflow flags"
        );
        assert_eq!(&hw.types[..h as usize], &before.types[..h as usize], "{at}");
        assert_eq!(&hw.values[..h as usize], &before.values[..h as usize], "{at}");
    }
}

/// Issue 8, report 3 as found: N = 6, H = 2, k = 3; host counter 0 (event 0x08, value 1000) came
/// back as event 0, value 0.
#[test]
fn issue_8_3_more_partition_counters_than_host_counters() {
    let mut hw = FakePmu::new(6);
    hw.hpmn_value = 2;
    hw.pmcr_value = PMCR_E;
    hw.program(0, 0x08, 1000);
    let mut g = VPmu::new(3);
    let host = g.load(&mut hw, 0b111100, 2, Access::Trapped);
    g.put(&mut hw, &host);
    assert_eq!((hw.types[0], hw.values[0], hw.cnten & 1), (0x08, 1000, 1));
}

/// Issue 8, report 4 as found: H = 4, k = 1; counter 5 (reserved, not needed for parking) programmed
/// by the host before the run counted the partition.
#[test]
fn issue_8_4_spare_reserved_counter_does_not_count_the_partition() {
    let mut hw = host_pmu();
    hw.program(5, 0x00, 0);
    let mut g = VPmu::new(1);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    hw.software_increment(1 << 5);
    assert_eq!((hw.values[5], hw.cnten & 1 << 5, hw.inten & 1 << 5), (0, 0, 0));
    g.put(&mut hw, &host);
    assert_eq!((hw.values[5], hw.types[5]), (0, 0));
}

/// Issue 8, report 5 as found: interrupt-enable and overflow bits in the parking place came back on
/// the host's counters 0 and 1.
#[test]
fn issue_8_5_parking_place_junk_stays_off_host_counters() {
    let mut hw = host_pmu();
    hw.inten = 0b001000 | 0b110000;
    hw.ovs = 0b110000;
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    g.put(&mut hw, &host);
    assert_eq!((hw.inten, hw.ovs), (0b001000, 0));
}

/// HPMD keeps EL2 out of the counters below HPMN only: a parked host event whose filter counts EL2
/// (NSH) would count EL2's own work above HPMN. It is parked without NSH and gets it back.
#[test]
fn parked_host_events_do_not_count_el2() {
    let mut hw = host_pmu();
    hw.types[0] = 0x11 | TYPE_NSH;
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!(hw.types[4], 0x11);
    g.put(&mut hw, &host);
    assert_eq!(hw.types[0], 0x11 | TYPE_NSH);
}

/// Likewise a host event left in place on [k, H): above HPMN for the run, so its NSH goes too
/// (found by the bench on `-cpu max`: the host's counter 3 counted 734 EL2 instructions per run).
#[test]
fn host_events_in_place_do_not_count_el2() {
    let mut hw = host_pmu();
    hw.types[3] = 0x08 | TYPE_NSH;
    hw.types[2] = 0x08;
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!((hw.types[2], hw.types[3]), (0x08, 0x08));
    g.put(&mut hw, &host);
    assert_eq!((hw.types[2], hw.types[3]), (0x08, 0x08 | TYPE_NSH));
}

/// Without HPMD (PMUv3 before p1) nothing keeps the host's counters from EL2 at any time: their
/// filters stay as the host set them.
#[test]
fn without_hpmd_filters_stay_the_hosts() {
    let mut hw = host_pmu();
    hw.hpmd = false;
    hw.types[0] = 0x11 | TYPE_NSH;
    hw.types[3] = 0x08 | TYPE_NSH;
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert_eq!((hw.types[4], hw.types[3]), (0x11 | TYPE_NSH, 0x08 | TYPE_NSH));
    g.put(&mut hw, &host);
    assert_eq!((hw.types[0], hw.types[3]), (0x11 | TYPE_NSH, 0x08 | TYPE_NSH));
}

// ---------------------------------------------------------------------------------------------
// The host's PMCR_EL0.E. Linux leaves it clear while perf has no event on the CPU; a partition's
// counters must count all the same, and a host whose E is clear must have nothing counting.

const CPU_CYCLES: u64 = 0x11;

/// The host of `host_pmu` with CPU_CYCLES on its counters 0 (parked for k = 2) and 3 (in place,
/// above the partition's HPMN), its cycle counter enabled, and its E as given.
fn cycles_host(e: bool) -> FakePmu {
    let mut hw = host_pmu();
    hw.pmcr_value = if e { PMCR_E | PMCR_LP } else { PMCR_LP };
    hw.types[0] = CPU_CYCLES;
    hw.types[3] = CPU_CYCLES;
    hw.cnten |= 1 << 31;
    hw.ccntr = 5000;
    hw.selr_value = 3;
    hw.userenr_value = 0xd;
    hw
}

/// The partition counts CPU_CYCLES on its counter 0 and enables it, through the emulator.
fn count_cycles(g: &mut VPmu, hw: &mut FakePmu) {
    emulate(g, hw, PmuReg::EvTyper(0), false, CPU_CYCLES);
    emulate(g, hw, PmuReg::EvCntr(0), false, 0);
    emulate(g, hw, PmuReg::CntenSet, false, 0b01);
    emulate(g, hw, PmuReg::Pmcr, false, PMCR_E);
}

#[test]
fn host_e_clear_a_partition_counts_and_the_host_counts_nothing() {
    let mut hw = cycles_host(false);
    let before = hw.clone();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    // Nothing of the host's counts with its E clear, HPME included.
    assert!(!hw.hpme, "HPME follows the host's E");
    assert_eq!(hw.cnten & 1 << 31, 0, "the host's cycle counter is set aside for the run");
    count_cycles(&mut g, &mut hw);
    assert_eq!(hw.pmcr_value & PMCR_E, PMCR_E, "the physical E is on for the partition");
    let Emulated::Done(pmcr) = emulate(&mut g, &mut hw, PmuReg::Pmcr, true, 0) else { panic!() };
    assert_eq!(pmcr & PMCR_E, PMCR_E, "the partition reads its own E");
    hw.run_cycles(50);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(0), true, 0), Emulated::Done(50), "the partition counts");
    assert_eq!(hw.ccntr, 5000, "the host's cycle counter does not count");
    assert_eq!((hw.values[4], hw.values[3]), (100, 400), "the host's parked and in-place events do not count");
    // Its E off again: the partition's counter stops, the physical E stays on.
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, 0);
    hw.run_cycles(10);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(0), true, 0), Emulated::Done(50));
    let Emulated::Done(pmcr) = emulate(&mut g, &mut hw, PmuReg::Pmcr, true, 0) else { panic!() };
    assert_eq!(pmcr & PMCR_E, 0, "the partition reads its own E");
    g.put(&mut hw, &host);
    assert_eq!(hw, before, "the host's PMU exactly as it was: PMCR, enables, HPME, cycle counter, events");
    assert_eq!((g.values[0], g.types[0], g.cnten, g.pmcr & PMCR_E), (50, CPU_CYCLES, 1, 0));
    // The next run takes up where it left off, the partition's E still its own.
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_E);
    hw.run_cycles(7);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(0), true, 0), Emulated::Done(57));
    g.put(&mut hw, &host);
    assert_eq!(hw, before);
}

#[test]
fn host_e_set_everything_counts_as_before() {
    let mut hw = cycles_host(true);
    let before = hw.clone();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    assert!(hw.hpme);
    assert_ne!(hw.cnten & 1 << 31, 0);
    count_cycles(&mut g, &mut hw);
    hw.run_cycles(50);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(0), true, 0), Emulated::Done(50));
    assert_eq!(hw.ccntr, 5050, "the host's cycle counter keeps counting");
    assert_eq!((hw.values[4], hw.values[3]), (150, 450), "the host's parked and in-place events keep counting");
    // The partition's E off stops its counters only.
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, 0);
    hw.run_cycles(10);
    assert_eq!(emulate(&mut g, &mut hw, PmuReg::EvCntr(0), true, 0), Emulated::Done(50));
    assert_eq!((hw.ccntr, hw.values[4], hw.values[3]), (5060, 160, 460));
    g.put(&mut hw, &host);
    let mut expected = before;
    expected.ccntr = 5060;
    expected.values[0] = 160;
    expected.values[3] = 460;
    assert_eq!(hw, expected);
}

/// The direct mode without FGT: the partition writes PMCR_EL0 and PMCNTEN* itself, so the physical
/// E is its own while it runs, the run's first (trapped) access included.
#[test]
fn host_e_clear_direct_enables() {
    for first_write in [true, false] {
        let mut hw = cycles_host(false);
        let before = hw.clone();
        let mut g = VPmu::new(2);
        let host = g.load(&mut hw, 0b110000, 4, Access::Direct { fgt: false });
        assert_eq!((hw.hpme, hw.cnten & 1 << 31), (false, 0));
        if first_write {
            // The run's first access (trapped): the rest go to the hardware directly.
            emulate(&mut g, &mut hw, PmuReg::CntenSet, false, 0b01);
            emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_E);
        } else {
            emulate(&mut g, &mut hw, PmuReg::Pmcr, true, 0);
            hw.enable(0b01);
            hw.pmcr_value |= PMCR_E;
        }
        hw.types[0] = CPU_CYCLES;
        hw.run_cycles(50);
        assert_eq!(hw.values[0], 50, "the partition counts (first access a write: {first_write})");
        assert_eq!((hw.ccntr, hw.values[4], hw.values[3]), (5000, 100, 400), "the host counts nothing");
        g.put(&mut hw, &host);
        assert_eq!(hw, before);
        assert_eq!((g.values[0], g.cnten, g.pmcr & PMCR_E), (50, 1, PMCR_E));
    }
}

/// Whatever the host's PMCR held besides E (D, X, DP, LC) it gets back, whatever the partition
/// wrote to its own (reset and cycle-counter reset included).
#[test]
fn host_e_clear_the_hosts_pmcr_is_given_back() {
    let mut hw = cycles_host(false);
    hw.pmcr_value |= 0x8 | 0x10 | 0x20 | 0x40;
    let before = hw.clone();
    let mut g = VPmu::new(2);
    let host = g.load(&mut hw, 0b110000, 4, Access::Trapped);
    emulate(&mut g, &mut hw, PmuReg::Pmcr, false, PMCR_E | PMCR_P | (1 << 2));
    g.put(&mut hw, &host);
    assert_eq!(hw, before);
}
