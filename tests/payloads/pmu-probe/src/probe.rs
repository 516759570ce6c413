// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PMU probe itself (aarch64 only).

use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use host_driver::{
    Client, Event, GroupPlacement, Handshake, HandshakeError, PerfCore, conduit::Hvc,
    handshake::PmuRegisters, perf::Assignment, schedule,
};
use payload_rt::{check, cpu_index, finish, psci_cpu_on, raw, say, wait_until};
use smc_interface::{CounterMask, Enforcement, PmuInfo, PmuStatus, SmcccError, pmu};

// ---------------------------------------------------------------------------------------------
// The PMU as EL1 sees it. Counters are reached through PMSELR_EL0 / PMXEV*: the host owns
// PMSELR, and one code path serves every counter index.

mod pmu_el1 {
    use payload_rt::{rd, wr};

    pub fn pmcr() -> u64 {
        rd!("pmcr_el0")
    }
    /// PMCR_EL0.N: the event counters EL1 sees (MDCR_EL2.HPMN).
    pub fn n() -> u8 {
        ((pmcr() >> 11) & 0x1f) as u8
    }
    pub fn enable_all() {
        wr!("pmcr_el0", pmcr() | 1);
    }
    pub fn cnten() -> u32 {
        rd!("pmcntenset_el0") as u32
    }
    pub fn inten() -> u32 {
        rd!("pmintenset_el1") as u32
    }
    pub fn ovs() -> u32 {
        rd!("pmovsset_el0") as u32
    }
    pub fn set_cnten(mask: u32) {
        wr!("pmcntenset_el0", u64::from(mask));
    }
    pub fn clear_cnten(mask: u32) {
        wr!("pmcntenclr_el0", u64::from(mask));
    }
    pub fn set_inten(mask: u32) {
        wr!("pmintenset_el1", u64::from(mask));
    }
    pub fn clear_inten(mask: u32) {
        wr!("pmintenclr_el1", u64::from(mask));
    }
    pub fn set_ovs(mask: u32) {
        wr!("pmovsset_el0", u64::from(mask));
    }
    pub fn swinc(mask: u32) {
        wr!("pmswinc_el0", u64::from(mask));
    }
    fn select(n: u8) {
        wr!("pmselr_el0", u64::from(n));
    }
    pub fn counter(n: u8) -> u64 {
        select(n);
        rd!("pmxevcntr_el0")
    }
    pub fn set_counter(n: u8, v: u64) {
        select(n);
        wr!("pmxevcntr_el0", v);
    }
    pub fn evtype(n: u8) -> u64 {
        select(n);
        rd!("pmxevtyper_el0")
    }
    pub fn set_evtype(n: u8, v: u64) {
        select(n);
        wr!("pmxevtyper_el0", v);
    }
    pub fn id_aa64dfr0() -> u64 {
        rd!("id_aa64dfr0_el1")
    }
    pub fn id_aa64mmfr0() -> u64 {
        rd!("id_aa64mmfr0_el1")
    }
}

const SW_INCR: u64 = 0x00;

/// The host's own event, on counter 0: software increments, so the expected count is exact.
struct HostEvent {
    expected: u64,
}

impl HostEvent {
    fn start() -> Self {
        pmu_el1::clear_cnten(1);
        pmu_el1::set_evtype(0, SW_INCR);
        pmu_el1::set_counter(0, 0);
        pmu_el1::enable_all();
        pmu_el1::set_cnten(1);
        Self { expected: 0 }
    }

    /// Counts `n` more events and checks the counter has every one of them.
    fn bump_and_check(&mut self, when: &str, n: u64) {
        for _ in 0..n {
            pmu_el1::swinc(1);
        }
        self.expected += n;
        let got = pmu_el1::counter(0);
        check_at(when, "host event counted exactly", got == self.expected, got, self.expected);
    }
}

fn check_at(when: &str, what: &str, ok: bool, got: impl core::fmt::Debug, want: impl core::fmt::Debug) {
    if !ok {
        say!("PROBE: cpu {} {when}: {what}: got {got:?}, want {want:?}", cpu_index());
    }
    check(what, ok, format_args!("{when}"));
}

/// The counters in `mask` are in their reset state as EL1 sees them (QEMU lets EL1 read counters
/// at or above HPMN; real hardware would not, and this check is for QEMU).
fn scrubbed(mask: u32) -> bool {
    let clean_bits = (pmu_el1::cnten() | pmu_el1::inten() | pmu_el1::ovs()) & mask == 0;
    let clean_regs = (0..31u8).filter(|n| mask & (1 << n) != 0).all(|n| pmu_el1::counter(n) == 0 && pmu_el1::evtype(n) == 0);
    clean_bits && clean_regs
}

fn err_of<T>(r: Result<T, SmcccError>) -> Option<SmcccError> {
    r.err()
}

/// The host's cycle counter and EL2 (issue 8, report 11). With its filter set to count at EL2 and
/// nowhere else (NSH set, P and U set), it counts exactly what EL2 lets it count of a null HVC:
/// nothing from PMUv3p5 on, where EL2 sets MDCR_EL2.HCCD; EL2's own path before that (PMUv3 has
/// no control for it, a documented limit).
fn el2_cycles(pmuver: u8) {
    use payload_rt::{rd, wr};
    const P: u64 = 1 << 31;
    const U: u64 = 1 << 30;
    const NSH: u64 = 1 << 27;
    // PMCR_EL0.DP clear, as Linux's driver leaves it: with DP set (TF-A's reset value), HPMD alone
    // would stop the cycle counter at EL2 too.
    const DP: u64 = 1 << 5;
    let pmcr = pmu_el1::pmcr();
    wr!("pmcr_el0", (pmcr & !DP) | 1);
    wr!("pmccfiltr_el0", P | U | NSH);
    pmu_el1::set_cnten(1 << 31);
    let before = rd!("pmccntr_el0");
    raw(&mut Hvc, &[smc_interface::ids::HYP_REVISION.into()]);
    let after = rd!("pmccntr_el0");
    pmu_el1::clear_cnten(1 << 31);
    wr!("pmccfiltr_el0", 0u64);
    wr!("pmcr_el0", pmcr);
    if pmuver >= 6 {
        check_at("hccd", "the host's cycle counter does not count EL2 (HCCD)", after == before, after - before, 0);
    } else {
        check_at("hccd", "before PMUv3p5 the host's cycle counter counts EL2 (documented limit)", after > before, after - before, "> 0");
    }
}

// ---------------------------------------------------------------------------------------------
// The sequence every CPU runs.

fn sequence() {
    let cpu = cpu_index();
    let mut el2 = Client::new(Hvc);
    let mut host = HostEvent::start();
    host.bump_and_check("start", 10);

    // Discovery.
    let info: PmuInfo = match el2.pmu_info() {
        Ok(i) => i,
        Err(e) => {
            check("PMU_INFO answers", false, format_args!("{e:?}"));
            return;
        }
    };
    let n_el1 = pmu_el1::n();
    say!("PROBE: cpu {cpu} info {info:?} PMCR.N(EL1)={n_el1}");
    let hpmn0 = (pmu_el1::id_aa64dfr0() >> 60) & 0xf != 0;
    let fgt = (pmu_el1::id_aa64mmfr0() >> 56) & 0xf != 0;
    let pmuver = ((pmu_el1::id_aa64dfr0() >> 8) & 0xf) as u8;
    check_at("info", "PMU_INFO counters = host's N + boot reservation", info.counters == n_el1 + info.boot_reserved, info.counters, n_el1 + info.boot_reserved);
    check_at("info", "PMU_INFO FEAT_HPMN0 / FEAT_FGT / PMUVer match the ID registers", (info.hpmn0, info.fgt, info.pmu_version) == (hpmn0, fgt, pmuver), (info.hpmn0, info.fgt, info.pmu_version), (hpmn0, fgt, pmuver));
    let bits = if pmuver >= 6 { 64 } else { 32 };
    check_at("info", "PMU_INFO counter width", info.counter_bits == bits, info.counter_bits, bits);
    check_at("info", "PMU_INFO enforcement: trapped (the mode in use)", info.enforcement == Enforcement::Trapped, info.enforcement, Enforcement::Trapped);
    // QEMU lets EL1 at counters above HPMN, and the boot probe must have seen that.
    check_at("info", "PMU_INFO: the boot probe saw QEMU not enforcing HPMN", !info.cpu_enforces_hpmn, info.cpu_enforces_hpmn, false);
    let max = info.counters - info.boot_reserved - info.host_minimum;
    check_at("info", "PMU_INFO limit = N - boot reservation - host minimum", info.max_reserve == max, info.max_reserve, max);
    el2_cycles(pmuver);
    let boot_mask = CounterMask::range(info.counters - info.boot_reserved, info.boot_reserved).0;
    let initial = PmuStatus { reserved_mask: boot_mask, host_counters: n_el1, dynamic_mask: 0 };
    check_at("status", "PMU_STATUS at start", el2.pmu_status() == Ok(initial), el2.pmu_status(), initial);
    check_at("boot", "boot-reserved counters scrubbed", scrubbed(boot_mask), boot_mask, "");

    // Refusals: each one a documented error, and nothing changes.
    let unchanged = |el2: &mut Client<Hvc>, what: &str| {
        let ok = el2.pmu_status() == Ok(initial) && pmu_el1::n() == n_el1;
        check_at(what, "a refused call changes nothing", ok, (el2.pmu_status(), pmu_el1::n()), (initial, n_el1));
    };
    check_at("k=0", "PMU_RESERVE(0) -> INVALID_PARAMETER", err_of(el2.pmu_reserve(0)) == Some(SmcccError::InvalidParameter), el2.pmu_status(), "");
    unchanged(&mut el2, "k=0");
    let r = el2.pmu_reserve(u64::from(max) + 1);
    check_at("k>limit", "PMU_RESERVE(limit + 1) -> INVALID_PARAMETER", err_of(r) == Some(SmcccError::InvalidParameter), r, "");
    unchanged(&mut el2, "k>limit");
    let r = raw(&mut Hvc, &[pmu::PMU_RESERVE.into(), 1, 1])[0];
    check_at("flags", "PMU_RESERVE with unknown flag bits -> INVALID_PARAMETER", r == SmcccError::InvalidParameter.to_register(), r as i64, -3);
    unchanged(&mut el2, "flags");
    let r = el2.pmu_unreserve();
    check_at("unreserve", "PMU_UNRESERVE without a reservation -> NOT_RESERVED", err_of(r) == Some(SmcccError::NotReserved), r, "");
    unchanged(&mut el2, "unreserve");
    host.bump_and_check("after refusals", 7);

    // The host has not vacated the top counter: BUSY, and its event keeps its counter.
    let k: u8 = 2.min(max);
    let top = n_el1 - 1;
    pmu_el1::set_evtype(top, SW_INCR);
    pmu_el1::set_counter(top, 40);
    pmu_el1::set_cnten(1 << top);
    let r = el2.pmu_reserve(k.into());
    check_at("busy", "PMU_RESERVE of a counter still in use -> BUSY", err_of(r) == Some(SmcccError::Busy), r, "");
    unchanged(&mut el2, "busy");
    pmu_el1::swinc(1 << top);
    check_at("busy", "the host's event on the wanted counter kept counting", pmu_el1::counter(top) == 41, pmu_el1::counter(top), 41);
    // Interrupt enable alone also counts as in use.
    pmu_el1::clear_cnten(1 << top);
    pmu_el1::set_inten(1 << top);
    let r = el2.pmu_reserve(k.into());
    check_at("busy-int", "PMU_RESERVE of a counter with its interrupt enabled -> BUSY", err_of(r) == Some(SmcccError::Busy), r, "");
    unchanged(&mut el2, "busy-int");
    pmu_el1::clear_inten(1 << top);
    host.bump_and_check("after busy", 5);

    // Vacated: reserve. HPMN drops, the counters are reset (the host left a value and a type).
    let want = CounterMask::range(n_el1 - k, k);
    let r = el2.pmu_reserve(k.into());
    check_at("reserve", "PMU_RESERVE(k) grants the top k of the host's counters", r == Ok(want), r, want);
    let n_after = pmu_el1::n();
    check_at("reserve", "PMCR_EL0.N at EL1 follows HPMN", n_after == n_el1 - k, n_after, n_el1 - k);
    let st = PmuStatus { reserved_mask: boot_mask | want.0, host_counters: n_el1 - k, dynamic_mask: want.0 };
    check_at("reserve", "PMU_STATUS after reserve", el2.pmu_status() == Ok(st), el2.pmu_status(), st);
    check_at("reserve", "reserved counters were reset", scrubbed(want.0), want, "");
    let r = el2.pmu_reserve(1);
    check_at("double", "second PMU_RESERVE -> ALREADY_RESERVED", err_of(r) == Some(SmcccError::AlreadyReserved), r, "");
    check_at("double", "refused second reserve changed nothing", el2.pmu_status() == Ok(st) && pmu_el1::n() == n_el1 - k, el2.pmu_status(), st);
    host.bump_and_check("while reserved", 13);

    // The host writes into counters it no longer owns (QEMU does not stop it): values, types,
    // enables, interrupt enables, overflow flags. Unreserve must still hand back clean counters.
    for c in 0..31u8 {
        if want.0 & (1 << c) != 0 {
            pmu_el1::set_evtype(c, 0x11);
            pmu_el1::set_counter(c, 0xdead_beef);
        }
    }
    pmu_el1::set_cnten(want.0);
    pmu_el1::set_inten(want.0);
    pmu_el1::set_ovs(want.0);
    let r = el2.pmu_unreserve();
    check_at("unreserve", "PMU_UNRESERVE gives back exactly the reserved counters", r == Ok(want), r, want);
    check_at("unreserve", "counters scrubbed: values, types, enable/interrupt/overflow bits", scrubbed(want.0), want, "");
    check_at("unreserve", "PMCR_EL0.N back to the host's share", pmu_el1::n() == n_el1, pmu_el1::n(), n_el1);
    check_at("unreserve", "PMU_STATUS back to the start", el2.pmu_status() == Ok(initial), el2.pmu_status(), initial);
    host.bump_and_check("after unreserve", 3);

    // The whole handshake again, through the host driver's client, with the largest k.
    let r = el2.pmu_reserve(max.into());
    check_at("max", "PMU_RESERVE(limit) succeeds", r == Ok(CounterMask::range(n_el1 - max, max)), r, "");
    check_at("max", "host keeps its minimum", pmu_el1::n() == info.host_minimum, pmu_el1::n(), info.host_minimum);
    host.bump_and_check("at the limit", 2);
    check_at("max", "PMU_UNRESERVE after limit", el2.pmu_unreserve().is_ok() && pmu_el1::n() == n_el1, pmu_el1::n(), n_el1);
    host.bump_and_check("end", 1);
    pmu_el1::clear_cnten(1);
}

// ---------------------------------------------------------------------------------------------
// The same handshake as the host driver runs it: a small perf core on the real counters.

const EVENTS: usize = 6;

/// One software-increment event per counter, each its own group; event 0 is pinned. Counts are
/// carried across sched-out / sched-in the way perf does it: read out, written back wherever the
/// event lands next.
struct ProbePerf {
    events: [Event; EVENTS],
    count: usize,
    saved: [u64; EVENTS],
    placed: Assignment,
    mask: u32,
}

impl ProbePerf {
    fn new(count: usize, mask: u32) -> Self {
        let events = core::array::from_fn(|i| Event { id: i as u32, group: i as u32, pinned: i == 0 });
        Self { events, count, saved: [0; EVENTS], placed: Assignment::EMPTY, mask }
    }

    /// Each event's count so far.
    fn counts(&self) -> [u64; EVENTS] {
        let mut out = self.saved;
        for (id, counter) in self.placed.events() {
            if let Some(c) = counter {
                out[id as usize] = pmu_el1::counter(c);
            }
        }
        out
    }

    fn unschedulable(&self) -> u32 {
        self.placed.unschedulable().fold(0, |m, g| m | 1 << g)
    }
}

impl PerfCore for ProbePerf {
    fn sched_out(&mut self) {
        self.saved = self.counts();
        pmu_el1::clear_cnten(self.placed.used());
        pmu_el1::clear_inten(self.placed.used());
        self.placed = Assignment::EMPTY;
    }

    fn sched_in(&mut self) {
        self.placed = schedule(&self.events[..self.count], self.mask);
        for (id, counter) in self.placed.events() {
            if let Some(c) = counter {
                pmu_el1::set_evtype(c, SW_INCR);
                pmu_el1::set_counter(c, self.saved[id as usize]);
            }
        }
        pmu_el1::set_cnten(self.placed.used());
    }

    fn counter_mask(&self) -> u32 {
        self.mask
    }

    fn set_counter_mask(&mut self, mask: u32) {
        self.mask = mask;
    }
}

fn driver_sequence() {
    let n = pmu_el1::n();
    let count = (n as usize).min(EVENTS);
    let mut perf = ProbePerf::new(count, (1 << n) - 1);
    perf.sched_in();
    let mut expected = [0u64; EVENTS];
    let bump = |perf: &ProbePerf, times: u64, expected: &mut [u64; EVENTS]| {
        for _ in 0..times {
            pmu_el1::swinc(perf.placed.used());
        }
        for (id, counter) in perf.placed.events() {
            if counter.is_some() {
                expected[id as usize] += times;
            }
        }
    };
    bump(&perf, 5, &mut expected);
    pmu_el1::enable_all();
    let mut hs = Handshake::new(Hvc, perf, PmuRegisters);
    let max = hs.info().map(|i| i.max_reserve).unwrap_or(0);

    // A refused request leaves perf exactly as it was.
    let before = hs.perf().placed.used();
    let r = hs.reserve(u64::from(max) + 1);
    let refused = matches!(r, Err(HandshakeError::Smccc(SmcccError::InvalidParameter)));
    check_at("driver", "driver: over-limit request refused", refused, r, "INVALID_PARAMETER");
    check_at("driver", "driver: refusal left perf's counters alone", hs.perf().placed.used() == before && hs.perf().mask == (1 << n) - 1, hs.perf().placed.used(), before);

    // Reserve two: the two groups on the top counters no longer fit and wait.
    let k = 2.min(max);
    let want = CounterMask::range(n - k, k);
    let r = hs.reserve(k.into());
    check_at("driver", "driver: reserve through sched-out / mask / sched-in", r == Ok(want), r, want);
    check_at("driver", "driver: PMCR_EL0.N follows", pmu_el1::n() == n - k, pmu_el1::n(), n - k);
    let waiting = hs.perf().unschedulable();
    let want_waiting = ((1u32 << count) - 1) & !((1u32 << (n - k)) - 1);
    check_at("driver", "driver: groups that no longer fit are unschedulable", waiting == want_waiting, waiting, want_waiting);
    let pinned_on = hs.perf().placed.group(0);
    check_at("driver", "driver: the pinned event keeps a counter", matches!(pinned_on, Some(GroupPlacement::Scheduled(_))), pinned_on, "");
    bump(hs.perf(), 100, &mut expected);
    check_at("driver", "driver: every scheduled event counted", hs.perf().counts() == expected, hs.perf().counts(), expected);

    // Give them back: everything is scheduled again, with the counts it had.
    let r = hs.unreserve();
    check_at("driver", "driver: unreserve", r == Ok(want), r, want);
    check_at("driver", "driver: every group schedulable again", hs.perf().unschedulable() == 0, hs.perf().unschedulable(), 0);
    check_at("driver", "driver: PMCR_EL0.N restored", pmu_el1::n() == n, pmu_el1::n(), n);
    bump(hs.perf(), 10, &mut expected);
    check_at("driver", "driver: no count lost across the handshake", hs.perf().counts() == expected, hs.perf().counts(), expected);
    hs.perf_mut().sched_out();
}

// ---------------------------------------------------------------------------------------------

const CPUS: usize = 4;
static DONE: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: u64) -> ! {
    say!("PROBE: cpu {index} start");
    sequence();
    driver_sequence();
    DONE[index as usize].store(1, SeqCst);
    payload_rt::cpu_off()
}

#[unsafe(no_mangle)]
extern "C" fn primary_main(dtb: u64) -> ! {
    say!("PROBE: start (dtb {dtb:#x})");
    say!("PROBE: cpu 0 start");
    sequence();
    driver_sequence();
    // One CPU at a time: the checks' bookkeeping is not meant for concurrent CPUs.
    for (cpu, cpu_done) in DONE.iter().enumerate().take(CPUS).skip(1) {
        let r = psci_cpu_on(cpu);
        let done = r == 0 && wait_until(20, || cpu_done.load(SeqCst) != 0);
        check("cpu ran the sequence", done, format_args!("cpu {cpu}: CPU_ON {r:#x}"));
    }
    finish()
}
