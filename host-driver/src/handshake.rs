// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's half of the per-CPU counter handshake: how perf gives counters to EL2
//! (PMU_RESERVE) and takes them back (PMU_UNRESERVE) without a live event ever sitting on a
//! counter it does not own.
//!
//! EL2 is the authority on who owns a counter; it refuses to take a counter the host has not
//! vacated (BUSY). The host's job is to vacate exactly the counters EL2 will take — the top
//! `count` of its current share — before asking, and to put everything back as it was if EL2
//! says no. `docs/handshake.md` describes the sequence and how it maps onto Linux's arm_pmu.
//!
//! A [`Handshake`] is one CPU's: every call it makes acts on the CPU it runs on, so it must run
//! there, with nothing else scheduling perf events on that CPU until it returns.

use crate::client::Client;
use crate::conduit::Conduit;
use crate::perf::{EVENT_COUNTERS, PerfCore};
use core::fmt;
use smc_interface::{CounterMask, PmuInfo, PmuStatus, SmcccError};

/// The register-level side of vacating counters. It is separate from [`PerfCore`] because it is
/// not a scheduling decision but a fact about the PMU that EL2 checks: after perf has moved its
/// events away, the counters EL2 takes must have their PMCNTENSET and PMINTENSET bits clear, even
/// if something outside perf's bookkeeping left them set.
pub trait CounterControl {
    /// Stops every counter of `mask` and masks its overflow interrupt: writes `mask` to
    /// PMCNTENCLR_EL0 and PMINTENCLR_EL1. Bit 31 (the cycle counter) is never in `mask`.
    fn disable_counters(&mut self, mask: u32);
}

/// [`CounterControl`] on the real PMU registers, for a host at EL1.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug, Default)]
pub struct PmuRegisters;

#[cfg(target_arch = "aarch64")]
impl CounterControl for PmuRegisters {
    fn disable_counters(&mut self, mask: u32) {
        let mask = u64::from(mask & EVENT_COUNTERS);
        // SAFETY: writing ones to PMCNTENCLR_EL0 and PMINTENCLR_EL1 only stops those counters and
        // masks their overflow interrupts; it touches no memory. The ISB makes sure the counters
        // have stopped before the call to EL2 that follows.
        unsafe {
            core::arch::asm!(
                "msr pmcntenclr_el0, {m}",
                "msr pmintenclr_el1, {m}",
                "isb",
                m = in(reg) mask,
                options(nostack, preserves_flags),
            );
        }
    }
}

/// Why a handshake step failed. Whatever the error, the host is left in a consistent state:
/// perf's counter mask never includes a counter EL2 may own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// EL2 refused, or the host refused locally for a reason EL2 would give (INVALID_PARAMETER,
    /// ALREADY_RESERVED): the SMCCC status. After a refused PMU_RESERVE, perf's mask and event
    /// placement are exactly what they were before the call.
    Smccc(SmcccError),
    /// Perf's counter mask includes event counters at or above the host's share
    /// ([0, `host_counters`) by PMU_STATUS): host and EL2 disagree about who owns what, and the
    /// handshake will not guess. Nothing was changed.
    MaskOutsideShare { mask: u32, host_counters: u8 },
    /// EL2 granted other counters than the ones the host vacated. The handshake asked for them
    /// back at once; `released` says whether EL2 agreed. If it did, everything is as before the
    /// call. If not, the reservation stands (a later [`Handshake::unreserve`] retries) and perf
    /// stays off both sets of counters.
    UnexpectedGrant { expected: CounterMask, granted: CounterMask, released: bool },
}

impl From<SmcccError> for HandshakeError {
    fn from(e: SmcccError) -> Self {
        Self::Smccc(e)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smccc(e) => write!(f, "{e}"),
            Self::MaskOutsideShare { mask, host_counters } => {
                write!(f, "perf counter mask {mask:#x} reaches beyond the host's {host_counters} counters")
            }
            Self::UnexpectedGrant { expected, granted, released } => write!(
                f,
                "EL2 granted counters {:#x} instead of {:#x} ({})",
                granted.0,
                expected.0,
                if *released { "given back" } else { "still reserved" }
            ),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// A reservation this handshake holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The counters EL2 took.
    pub granted: CounterMask,
    /// Perf's counter mask before the reservation, restored on PMU_UNRESERVE.
    pub restore_mask: u32,
}

/// Which counters PMU_RESERVE(`count`) will take, or the error EL2 would return, decided from
/// EL2's own published facts so a doomed request never disturbs perf. Same order of checks as
/// EL2: a standing reservation first, then the count. The answer is the top `count` counters of
/// the host's current share, `[host_counters - count, host_counters)`.
pub fn counters_to_vacate(info: &PmuInfo, status: &PmuStatus, count: u64) -> Result<CounterMask, SmcccError> {
    if status.dynamic_mask != 0 {
        return Err(SmcccError::AlreadyReserved);
    }
    // The second test can only fail if EL2's two answers disagree; it keeps the subtraction
    // below from wrapping whatever EL2 says.
    if count == 0 || count > u64::from(info.max_reserve) || count > u64::from(status.host_counters) {
        return Err(SmcccError::InvalidParameter);
    }
    let count = count as u8;
    Ok(CounterMask::range(status.host_counters - count, count))
}

/// One CPU's handshake: a client of EL2, perf on this CPU, and the PMU's enable registers.
pub struct Handshake<C: Conduit, P: PerfCore, H: CounterControl> {
    client: Client<C>,
    perf: P,
    hw: H,
    /// PMU_INFO's answer, fixed from boot on, asked once.
    info: Option<PmuInfo>,
    reservation: Option<Reservation>,
}

impl<C: Conduit, P: PerfCore, H: CounterControl> Handshake<C, P, H> {
    /// A handshake that holds no reservation. If EL2 holds one for this CPU already (say, from a
    /// previous instance of the driver), [`Handshake::reserve`] reports ALREADY_RESERVED and
    /// [`Handshake::unreserve`] takes it back.
    pub fn new(conduit: C, perf: P, hw: H) -> Self {
        Self { client: Client::new(conduit), perf, hw, info: None, reservation: None }
    }

    /// Gives the top `count` counters of the host's share on this CPU to EL2.
    ///
    /// In order: decide which counters EL2 will take (refusing what EL2 would refuse); perf
    /// sched-out; shrink perf's mask by exactly those counters; sched-in, so the events move to
    /// what is left (groups that no longer fit stay off the PMU until [`Handshake::unreserve`]);
    /// clear the counters' enable and interrupt bits; PMU_RESERVE. If EL2 refuses, perf's mask
    /// and placement are restored before the error is returned.
    pub fn reserve(&mut self, count: u64) -> Result<CounterMask, HandshakeError> {
        if self.reservation.is_some() {
            return Err(SmcccError::AlreadyReserved.into());
        }
        let info = self.info()?;
        let status = self.client.pmu_status()?;
        let wanted = counters_to_vacate(&info, &status, count)?;
        let before = self.perf.counter_mask();
        let share = CounterMask::range(0, status.host_counters).0;
        if before & EVENT_COUNTERS & !share != 0 {
            return Err(HandshakeError::MaskOutsideShare { mask: before, host_counters: status.host_counters });
        }

        let shrunk = before & !wanted.0;
        self.rearrange(shrunk);
        // Perf no longer schedules anything there; make the PMU agree even for bits perf did
        // not know it had left set. EL2 checks exactly these two registers.
        self.hw.disable_counters(wanted.0);

        match self.client.pmu_reserve(count) {
            Err(e) => {
                self.rearrange(before);
                Err(e.into())
            }
            Ok(granted) if granted == wanted => {
                self.reservation = Some(Reservation { granted, restore_mask: before });
                Ok(granted)
            }
            Ok(granted) => {
                // Cannot happen with this firmware; if it does, the host must not guess which
                // counters it still owns.
                let released = self.client.pmu_unreserve().is_ok();
                if released {
                    self.rearrange(before);
                } else {
                    self.reservation = Some(Reservation { granted, restore_mask: before });
                    if granted.0 & shrunk != 0 {
                        self.rearrange(shrunk & !granted.0);
                    }
                }
                Err(HandshakeError::UnexpectedGrant { expected: wanted, granted, released })
            }
        }
    }

    /// Takes this CPU's reserved counters back (EL2 scrubs them first) and lets perf use them
    /// again: perf's mask goes back to what it was before [`Handshake::reserve`], and groups that
    /// did not fit in the meantime are scheduled again. If EL2 refuses (NOT_RESERVED, for one),
    /// nothing changes.
    ///
    /// Without a reservation of its own, the handshake still asks EL2: a reservation left by a
    /// previous owner of this CPU's handshake is taken back and its counters added to perf's mask.
    pub fn unreserve(&mut self) -> Result<CounterMask, HandshakeError> {
        let returned = self.client.pmu_unreserve()?;
        let restore = match self.reservation.take() {
            Some(r) => r.restore_mask,
            None => self.perf.counter_mask() | returned.0,
        };
        self.rearrange(restore);
        Ok(returned)
    }

    /// The reservation this handshake holds, if any.
    pub fn reservation(&self) -> Option<Reservation> {
        self.reservation
    }

    pub fn is_reserved(&self) -> bool {
        self.reservation.is_some()
    }

    /// PMU_INFO, asked on first use and kept: it does not change after boot.
    pub fn info(&mut self) -> Result<PmuInfo, SmcccError> {
        if let Some(info) = self.info {
            return Ok(info);
        }
        let info = self.client.pmu_info()?;
        self.info = Some(info);
        Ok(info)
    }

    /// PMU_STATUS for this CPU, as EL2 sees it now.
    pub fn status(&mut self) -> Result<PmuStatus, SmcccError> {
        self.client.pmu_status()
    }

    pub fn perf(&self) -> &P {
        &self.perf
    }

    pub fn perf_mut(&mut self) -> &mut P {
        &mut self.perf
    }

    pub fn counter_control(&self) -> &H {
        &self.hw
    }

    pub fn client_mut(&mut self) -> &mut Client<C> {
        &mut self.client
    }

    /// Moves perf's events onto the counters of `mask`. The mask changes only while no event is
    /// on the PMU, so no event ever sits on a counter outside it.
    fn rearrange(&mut self, mask: u32) {
        self.perf.sched_out();
        self.perf.set_counter_mask(mask);
        self.perf.sched_in();
    }
}

#[cfg(test)]
mod tests {
    //! The handshake against the firmware's own call handling and partition logic, in process.
    //! EL2 and the host's perf model share one `FakePmu`, so whether the host really vacated a
    //! counter is judged by EL2's real checks, not by the test.

    extern crate std;
    use super::*;
    use crate::perf::{Assignment, Event, GroupPlacement, schedule};
    use el2::host_calls::{self, Conduit as Via, PmuCalls};
    use el2::pmu::{CpuPartition, FakePmu, PmuConfig};
    use smc_interface::Enforcement;
    use smc_interface::pmu::{PMU_INFO, PMU_RESERVE, PMU_STATUS, PMU_UNRESERVE};
    use std::{cell::RefCell, rc::Rc, vec, vec::Vec};

    const CYCLE_COUNTER: u32 = 1 << 31;

    /// What happened, in order, across EL2, perf and the PMU registers.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Step {
        Call(u32),
        SchedOut,
        SetMask(u32),
        SchedIn,
        Disable(u32),
    }

    /// One CPU: EL2's state and the PMU both sides drive.
    struct Machine {
        cfg: Option<PmuConfig>,
        cpu: CpuPartition,
        pmu: FakePmu,
        /// Fault injection: enable / interrupt bits the host's disable paths fail to clear.
        stuck_enable: u32,
        stuck_interrupt: u32,
        log: Vec<Step>,
    }

    type Shared = Rc<RefCell<Machine>>;

    impl Machine {
        /// The host's disable paths (perf sched-out and `CounterControl`) on the shared PMU.
        fn host_disable(&mut self, mask: u32) {
            self.pmu.cnten &= !(mask & !self.stuck_enable);
            self.pmu.inten &= !(mask & !self.stuck_interrupt);
        }
    }

    /// The firmware's call handling over the shared machine, with optional tampering for the
    /// paths the real firmware never takes.
    #[derive(Clone)]
    struct Wire {
        m: Shared,
        /// PMU_RESERVE answers this error without reaching EL2.
        reserve_error: Option<SmcccError>,
        /// PMU_RESERVE reaches EL2, but the host is told this mask instead of EL2's.
        reserve_reports: Option<u32>,
        /// PMU_UNRESERVE answers this error without reaching EL2.
        unreserve_error: Option<SmcccError>,
    }

    impl Wire {
        fn el2(&mut self, regs: [u64; 18]) -> [u64; 18] {
            let mut guard = self.m.borrow_mut();
            let Machine { cfg, cpu, pmu, .. } = &mut *guard;
            let mut calls = PmuCalls { cfg: cfg.as_ref(), cpu, hw: pmu };
            host_calls::answer_in_process(regs, Via::Hvc, &mut calls)
        }
    }

    fn error_regs(e: SmcccError) -> [u64; 18] {
        let mut r = [0; 18];
        r[0] = e.to_register();
        r
    }

    impl Conduit for Wire {
        fn call(&mut self, regs: [u64; 18]) -> [u64; 18] {
            let id = regs[0] as u32;
            self.m.borrow_mut().log.push(Step::Call(id));
            match id {
                PMU_RESERVE if self.reserve_error.is_some() => error_regs(self.reserve_error.unwrap()),
                PMU_UNRESERVE if self.unreserve_error.is_some() => error_regs(self.unreserve_error.unwrap()),
                PMU_RESERVE => {
                    let mut out = self.el2(regs);
                    if let (0, Some(mask)) = (out[0], self.reserve_reports) {
                        out[1] = mask.into();
                    }
                    out
                }
                _ => self.el2(regs),
            }
        }
    }

    /// Perf core on the CPU: events placed by `schedule` and programmed into the shared PMU as
    /// arm_pmu would (event type, enable, overflow interrupt).
    struct Perf {
        m: Shared,
        events: Vec<Event>,
        mask: u32,
        placed: Assignment,
        on_pmu: bool,
    }

    impl PerfCore for Perf {
        fn sched_out(&mut self) {
            assert!(self.on_pmu, "sched-out twice");
            let mut m = self.m.borrow_mut();
            m.log.push(Step::SchedOut);
            let used = self.placed.used();
            m.host_disable(used);
            self.placed = Assignment::EMPTY;
            self.on_pmu = false;
        }

        fn sched_in(&mut self) {
            assert!(!self.on_pmu, "sched-in twice");
            let mut m = self.m.borrow_mut();
            m.log.push(Step::SchedIn);
            self.placed = schedule(&self.events, self.mask);
            for (id, counter) in self.placed.events() {
                if let Some(c) = counter {
                    // From EL1, counters at or above HPMN are RAZ/WI: programming one would
                    // silently count nothing. The handshake must never let perf get there.
                    assert!(c < m.pmu.hpmn_value, "perf given counter {c}, EL2 hides it (HPMN {})", m.pmu.hpmn_value);
                    m.pmu.program(c, 0x1000 + u64::from(id), 0);
                }
            }
            self.on_pmu = true;
        }

        fn counter_mask(&self) -> u32 {
            self.mask
        }

        fn set_counter_mask(&mut self, mask: u32) {
            assert!(!self.on_pmu, "mask changed under live events");
            self.m.borrow_mut().log.push(Step::SetMask(mask));
            self.mask = mask;
        }
    }

    /// The PMU's enable registers, as the host's payload would write them.
    struct Regs(Shared);

    impl CounterControl for Regs {
        fn disable_counters(&mut self, mask: u32) {
            let mut m = self.0.borrow_mut();
            m.log.push(Step::Disable(mask));
            m.host_disable(mask);
        }
    }

    type Hs = Handshake<Wire, Perf, Regs>;

    const fn ev(id: u32, group: u32, pinned: bool) -> Event {
        Event { id, group, pinned }
    }

    /// `counters` event counters, `boot` of them reserved from boot, the host keeping at least
    /// one; perf probed with the host's share (plus the cycle counter) and `events` scheduled.
    fn cpu_with(counters: u8, boot: u8, events: &[Event]) -> Hs {
        let cfg = PmuConfig::new(counters, 6, true, true, false, Enforcement::Trapped, 1, boot).unwrap();
        let cpu = CpuPartition::new(&cfg);
        let mut pmu = FakePmu::new(counters);
        cpu.apply(&cfg, &mut pmu);
        let m = Rc::new(RefCell::new(Machine {
            cfg: Some(cfg),
            cpu,
            pmu,
            stuck_enable: 0,
            stuck_interrupt: 0,
            log: vec![],
        }));
        let wire = Wire { m: m.clone(), reserve_error: None, reserve_reports: None, unreserve_error: None };
        let mask = CounterMask::range(0, cfg.host_counters_at_boot()).0 | CYCLE_COUNTER;
        let mut perf = Perf { m: m.clone(), events: events.to_vec(), mask, placed: Assignment::EMPTY, on_pmu: false };
        perf.sched_in();
        m.borrow_mut().log.clear();
        Handshake::new(wire, perf, Regs(m))
    }

    fn machine(hs: &Hs) -> Shared {
        hs.counter_control().0.clone()
    }

    fn log(hs: &Hs) -> Vec<Step> {
        machine(hs).borrow_mut().log.drain(..).collect()
    }

    fn wire(hs: &mut Hs) -> &mut Wire {
        hs.client_mut().conduit()
    }

    /// Everything the host can observe on this CPU, and EL2's view.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Snapshot {
        mask: u32,
        placed: Assignment,
        cnten: u32,
        inten: u32,
        types: [u64; 31],
        values: [u64; 31],
        hpmn: u8,
        status: PmuStatus,
    }

    fn snapshot(hs: &Hs) -> Snapshot {
        let m = machine(hs);
        let m = m.borrow();
        Snapshot {
            mask: hs.perf().mask,
            placed: hs.perf().placed,
            cnten: m.pmu.cnten,
            inten: m.pmu.inten,
            types: m.pmu.types,
            values: m.pmu.values,
            hpmn: m.pmu.hpmn_value,
            status: m.cpu.status(m.cfg.as_ref().unwrap()),
        }
    }

    /// Counter indices of the events, in order.
    fn counters(hs: &Hs, ids: &[u32]) -> Vec<Option<u8>> {
        ids.iter().map(|&id| hs.perf().placed.counter_of(id)).collect()
    }

    #[test]
    fn local_plan_is_what_el2_does() {
        // For a range of layouts and every count, the host's prediction is EL2's answer, from a
        // fresh CPU and from one that already holds a reservation.
        for (n, min, boot, hpmn0) in
            [(6, 1, 0, true), (6, 1, 2, true), (4, 0, 0, true), (4, 0, 1, false), (8, 3, 1, true), (31, 1, 0, true)]
        {
            let cfg = PmuConfig::new(n, 6, hpmn0, true, false, Enforcement::Direct, min, boot).unwrap();
            let info = cfg.info();
            let mut counts: Vec<u64> = (0..=u64::from(n) + 1).collect();
            counts.extend([32, 255, 256, u64::MAX]);
            for held in [None, Some(1)] {
                for &count in &counts {
                    let mut pmu = FakePmu::new(n);
                    let mut cpu = CpuPartition::new(&cfg);
                    cpu.apply(&cfg, &mut pmu);
                    if let Some(k) = held {
                        cpu.reserve(&cfg, &mut pmu, k).unwrap();
                    }
                    let planned = counters_to_vacate(&info, &cpu.status(&cfg), count);
                    assert_eq!(
                        planned,
                        cpu.reserve(&cfg, &mut pmu, count),
                        "N={n} boot={boot} count={count} held={held:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn reserve_vacates_exactly_what_el2_takes() {
        let events = [ev(1, 1, true), ev(2, 2, false), ev(3, 3, false)];
        let mut hs = cpu_with(6, 0, &events);
        assert_eq!(counters(&hs, &[1, 2, 3]), [Some(0), Some(1), Some(2)]);

        assert_eq!(hs.reserve(2), Ok(CounterMask(0b110000)));
        let sequence = [
            Step::Call(PMU_INFO),
            Step::Call(PMU_STATUS),
            Step::SchedOut,
            Step::SetMask(0b001111 | CYCLE_COUNTER),
            Step::SchedIn,
            Step::Disable(0b110000),
            Step::Call(PMU_RESERVE),
        ];
        assert_eq!(log(&hs), sequence);
        assert_eq!(
            hs.reservation(),
            Some(Reservation { granted: CounterMask(0b110000), restore_mask: 0b111111 | CYCLE_COUNTER })
        );
        let s = snapshot(&hs);
        assert_eq!(s.hpmn, 4, "EL2 hides counters 4 and 5 from EL1");
        assert_eq!(s.status, PmuStatus { reserved_mask: 0b110000, host_counters: 4, dynamic_mask: 0b110000 });
        assert_eq!(s.mask, 0b001111 | CYCLE_COUNTER, "the cycle counter is not partitioned");
        // Nobody sat on the top counters, so nobody moved.
        assert_eq!(counters(&hs, &[1, 2, 3]), [Some(0), Some(1), Some(2)]);
        assert_eq!(s.cnten, 0b111);

        assert_eq!(hs.unreserve(), Ok(CounterMask(0b110000)));
        assert_eq!(
            log(&hs),
            [Step::Call(PMU_UNRESERVE), Step::SchedOut, Step::SetMask(0b111111 | CYCLE_COUNTER), Step::SchedIn]
        );
        assert_eq!(snapshot(&hs).hpmn, 6);
        assert!(!hs.is_reserved());

        // PMU_INFO is asked once; PMU_STATUS every time, since it is per CPU and changes.
        assert_eq!(hs.reserve(1), Ok(CounterMask(0b100000)));
        assert_eq!(log(&hs)[..2], [Step::Call(PMU_STATUS), Step::SchedOut]);
    }

    #[test]
    fn count_zero_is_refused_without_disturbing_perf() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        let before = snapshot(&hs);
        assert_eq!(hs.reserve(0), Err(HandshakeError::Smccc(SmcccError::InvalidParameter)));
        assert_eq!(log(&hs), [Step::Call(PMU_INFO), Step::Call(PMU_STATUS)]);
        assert_eq!(snapshot(&hs), before);
        assert!(!hs.is_reserved());
    }

    #[test]
    fn counts_above_the_limit_are_refused_without_disturbing_perf() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        assert_eq!(hs.info().map(|i| i.max_reserve), Ok(5), "6 counters, the host keeps one");
        let before = snapshot(&hs);
        for count in [6, 7, 31, 32, 256, u64::MAX] {
            assert_eq!(hs.reserve(count), Err(HandshakeError::Smccc(SmcccError::InvalidParameter)), "{count}");
        }
        assert!(log(&hs).iter().all(|s| *s == Step::Call(PMU_INFO) || *s == Step::Call(PMU_STATUS)));
        assert_eq!(snapshot(&hs), before);
        // The limit itself is fine.
        assert_eq!(hs.reserve(5), Ok(CounterMask(0b111110)));
    }

    #[test]
    fn a_second_reserve_is_already_reserved() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        hs.reserve(2).unwrap();
        log(&hs);
        let held = snapshot(&hs);
        assert_eq!(hs.reserve(1), Err(HandshakeError::Smccc(SmcccError::AlreadyReserved)));
        assert_eq!(log(&hs), [], "the handshake knows; no need to ask");
        assert_eq!(snapshot(&hs), held);
        assert_eq!(hs.reservation().map(|r| r.granted), Some(CounterMask(0b110000)));
    }

    #[test]
    fn a_reservation_made_elsewhere_is_already_reserved_and_can_be_taken_back() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        // Someone else on this CPU reserves behind the handshake's back.
        let mut other = Client::new(wire(&mut hs).clone());
        assert_eq!(other.pmu_reserve(2), Ok(CounterMask(0b110000)));
        log(&hs);
        let before = snapshot(&hs);
        assert_eq!(hs.reserve(1), Err(HandshakeError::Smccc(SmcccError::AlreadyReserved)));
        assert_eq!(log(&hs), [Step::Call(PMU_INFO), Step::Call(PMU_STATUS)], "refused before perf is touched");
        assert_eq!(snapshot(&hs), before);
        // Unreserve takes it back and hands the counters to perf (already in its mask here).
        assert_eq!(hs.unreserve(), Ok(CounterMask(0b110000)));
        assert_eq!(hs.perf().mask, 0b111111 | CYCLE_COUNTER);
        assert_eq!(snapshot(&hs).hpmn, 6);
    }

    #[test]
    fn unreserve_without_a_reservation_is_not_reserved() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, true), ev(2, 2, false)]);
        let before = snapshot(&hs);
        assert_eq!(hs.unreserve(), Err(HandshakeError::Smccc(SmcccError::NotReserved)));
        assert_eq!(log(&hs), [Step::Call(PMU_UNRESERVE)], "perf is left alone");
        assert_eq!(snapshot(&hs), before);
    }

    #[test]
    fn a_counter_left_enabled_is_busy_and_everything_is_undone() {
        // Six single events fill the PMU; counter 5 is the one EL2 would take.
        let events: Vec<Event> = (1..=6).map(|i| ev(i, i, false)).collect();
        for (enable, interrupt) in [(1 << 5, 0), (0, 1 << 5), (1 << 5, 1 << 5)] {
            let mut hs = cpu_with(6, 0, &events);
            assert_eq!(hs.perf().placed.counter_of(6), Some(5));
            let before = snapshot(&hs);
            {
                let m = machine(&hs);
                let mut m = m.borrow_mut();
                m.stuck_enable = enable;
                m.stuck_interrupt = interrupt;
            }
            assert_eq!(hs.reserve(1), Err(HandshakeError::Smccc(SmcccError::Busy)), "{enable:#x} {interrupt:#x}");
            assert_eq!(
                log(&hs),
                [
                    Step::Call(PMU_INFO),
                    Step::Call(PMU_STATUS),
                    Step::SchedOut,
                    Step::SetMask(0b011111 | CYCLE_COUNTER),
                    Step::SchedIn,
                    Step::Disable(0b100000),
                    Step::Call(PMU_RESERVE),
                    Step::SchedOut,
                    Step::SetMask(0b111111 | CYCLE_COUNTER),
                    Step::SchedIn,
                ]
            );
            assert_eq!(snapshot(&hs), before, "mask, placement, PMU and EL2 exactly as before");
            assert!(!hs.is_reserved());
        }
    }

    #[test]
    fn any_refusal_from_el2_is_undone() {
        let events = [ev(1, 1, true), ev(2, 2, false), ev(3, 2, false), ev(4, 3, false), ev(5, 4, false)];
        for error in [SmcccError::Denied, SmcccError::Busy, SmcccError::NotSupported, SmcccError::Unknown(-42)] {
            let mut hs = cpu_with(6, 0, &events);
            let before = snapshot(&hs);
            wire(&mut hs).reserve_error = Some(error);
            assert_eq!(hs.reserve(3), Err(HandshakeError::Smccc(error)));
            assert_eq!(snapshot(&hs), before);
            assert!(!hs.is_reserved());
        }
    }

    #[test]
    fn an_unexpected_grant_is_given_back_and_undone() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false), ev(2, 2, false), ev(3, 3, false), ev(4, 4, false)]);
        let before = snapshot(&hs);
        wire(&mut hs).reserve_reports = Some(0b001000);
        assert_eq!(
            hs.reserve(2),
            Err(HandshakeError::UnexpectedGrant {
                expected: CounterMask(0b110000),
                granted: CounterMask(0b001000),
                released: true
            })
        );
        let steps = log(&hs);
        assert_eq!(steps[6..8], [Step::Call(PMU_RESERVE), Step::Call(PMU_UNRESERVE)]);
        assert_eq!(snapshot(&hs), before, "EL2 gave the counters back; perf is as before");
        assert!(!hs.is_reserved());
    }

    #[test]
    fn an_unexpected_grant_that_cannot_be_given_back_keeps_perf_off_it() {
        let events: Vec<Event> = (1..=4).map(|i| ev(i, i, false)).collect();
        let mut hs = cpu_with(6, 0, &events);
        let before = snapshot(&hs);
        wire(&mut hs).reserve_reports = Some(0b001100);
        wire(&mut hs).unreserve_error = Some(SmcccError::Denied);
        assert_eq!(
            hs.reserve(2),
            Err(HandshakeError::UnexpectedGrant {
                expected: CounterMask(0b110000),
                granted: CounterMask(0b001100),
                released: false
            })
        );
        assert_eq!(hs.perf().mask, 0b000011 | CYCLE_COUNTER, "off what it vacated and what EL2 claims");
        assert_eq!(hs.perf().placed.used(), 0b11);
        assert_eq!(hs.perf().placed.unschedulable().count(), 2);
        assert!(hs.is_reserved());
        // Once EL2 lets go, unreserve puts everything back.
        let w = wire(&mut hs);
        (w.reserve_reports, w.unreserve_error) = (None, None);
        assert_eq!(hs.unreserve(), Ok(CounterMask(0b110000)));
        assert_eq!(snapshot(&hs), before);
    }

    #[test]
    fn a_pinned_event_on_a_wanted_counter_is_moved() {
        // Pinned: event 1 (group 1), group 2 of three events, event 5 (group 3).
        let events = [ev(1, 1, true), ev(2, 2, true), ev(3, 2, true), ev(4, 2, true), ev(5, 3, true)];
        let mut hs = cpu_with(6, 0, &events);
        assert_eq!(counters(&hs, &[1, 2, 3, 4, 5]), [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        // EL2 takes counters 3, 4 and 5, leaving three: group 2 no longer fits, and event 5 —
        // which sat on counter 4 — moves to counter 1 instead of being dropped.
        assert_eq!(hs.reserve(3), Ok(CounterMask(0b111000)));
        assert_eq!(counters(&hs, &[1, 2, 3, 4, 5]), [Some(0), None, None, None, Some(1)]);
        assert_eq!(hs.perf().placed.group(3), Some(GroupPlacement::Scheduled(CounterMask(0b10))));
        let m = machine(&hs);
        {
            let m = m.borrow();
            assert_eq!((m.pmu.types[1], m.pmu.cnten, m.pmu.inten), (0x1005, 0b11, 0b11), "moved and counting");
            assert_eq!(m.pmu.hpmn_value, 3);
        }
        hs.unreserve().unwrap();
        assert_eq!(counters(&hs, &[1, 2, 3, 4, 5]), [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn a_group_that_no_longer_fits_is_unschedulable_until_unreserve() {
        // A pinned single event, a flexible group of four, and a flexible single event.
        let events =
            [ev(1, 1, true), ev(2, 2, false), ev(3, 2, false), ev(4, 2, false), ev(5, 2, false), ev(6, 3, false)];
        let mut hs = cpu_with(6, 0, &events);
        let before = snapshot(&hs);
        assert_eq!(before.placed.group(2), Some(GroupPlacement::Scheduled(CounterMask(0b011110))));
        assert_eq!(before.placed.counter_of(6), Some(5));

        assert_eq!(hs.reserve(3), Ok(CounterMask(0b111000)));
        let placed = hs.perf().placed;
        assert_eq!(placed.group(2), Some(GroupPlacement::Unschedulable), "four events, two counters left");
        assert_eq!(counters(&hs, &[2, 3, 4, 5]), [None; 4], "no member counts on its own");
        assert_eq!(placed.counter_of(1), Some(0), "the pinned event stays");
        assert_eq!(placed.counter_of(6), Some(1), "the single flexible event takes a free counter");
        assert_eq!(placed.unschedulable().collect::<Vec<_>>(), [2]);
        // Still unschedulable for as long as the reservation lasts, however often perf
        // reschedules (context switches, rotation).
        hs.perf_mut().sched_out();
        hs.perf_mut().sched_in();
        assert_eq!(hs.perf().placed.group(2), Some(GroupPlacement::Unschedulable));

        assert_eq!(hs.unreserve(), Ok(CounterMask(0b111000)));
        let after = snapshot(&hs);
        assert_eq!(after.placed, before.placed, "the group is scheduled again, everything where it was");
        assert_eq!((after.mask, after.cnten, after.inten, after.hpmn), (before.mask, before.cnten, before.inten, 6));
        assert_eq!(after.types[1..5], [0x1002, 0x1003, 0x1004, 0x1005]);
    }

    #[test]
    fn unreserve_returns_the_counters_scrubbed() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        hs.reserve(2).unwrap();
        // A partition used counters 4 and 5 (EL2 writes them while it runs).
        let m = machine(&hs);
        {
            let mut m = m.borrow_mut();
            m.pmu.program(4, 0x11, 123_456);
            m.pmu.program(5, 0x08, 789);
            m.pmu.ovs = 0b110000;
        }
        assert_eq!(hs.unreserve(), Ok(CounterMask(0b110000)));
        let m = m.borrow();
        assert_eq!((m.pmu.values[4], m.pmu.types[4], m.pmu.values[5], m.pmu.types[5]), (0, 0, 0, 0));
        assert_eq!((m.pmu.cnten, m.pmu.inten, m.pmu.ovs), (0b1, 0b1, 0), "only the host's own event is on");
        assert_eq!(m.pmu.hpmn_value, 6);
        assert_eq!(m.pmu.types[0], 0x1001);
    }

    #[test]
    fn boot_reserved_counters_are_never_the_hosts() {
        // Two counters belong to partitions from boot on: the host's share is 0..4.
        let mut hs = cpu_with(6, 2, &[ev(1, 1, false), ev(2, 2, false)]);
        assert_eq!(hs.perf().mask, 0b1111 | CYCLE_COUNTER);
        assert_eq!(snapshot(&hs).hpmn, 4);
        assert_eq!(hs.reserve(4), Err(HandshakeError::Smccc(SmcccError::InvalidParameter)), "the host keeps one");
        assert_eq!(hs.reserve(3), Ok(CounterMask(0b1110)), "the top of the host's share, below the boot reservation");
        assert_eq!((hs.perf().mask, snapshot(&hs).hpmn), (0b0001 | CYCLE_COUNTER, 1));
        assert_eq!(counters(&hs, &[1, 2]), [Some(0), None]);
        assert_eq!(hs.unreserve(), Ok(CounterMask(0b1110)));
        assert_eq!((hs.perf().mask, snapshot(&hs).hpmn), (0b1111 | CYCLE_COUNTER, 4));
        assert_eq!(counters(&hs, &[1, 2]), [Some(0), Some(1)]);
    }

    #[test]
    fn a_perf_mask_beyond_the_hosts_share_is_refused() {
        let mut hs = cpu_with(6, 2, &[ev(1, 1, false)]);
        // As if perf had been probed before the boot reservation was in place.
        hs.perf_mut().sched_out();
        hs.perf_mut().set_counter_mask(0b111111);
        // The fake perf refuses to program counters EL2 hides; lift HPMN just for this set-up.
        machine(&hs).borrow_mut().pmu.hpmn_value = 6;
        hs.perf_mut().sched_in();
        machine(&hs).borrow_mut().pmu.hpmn_value = 4;
        log(&hs);
        let before = snapshot(&hs);
        assert_eq!(hs.reserve(1), Err(HandshakeError::MaskOutsideShare { mask: 0b111111, host_counters: 4 }));
        assert_eq!(log(&hs), [Step::Call(PMU_INFO), Step::Call(PMU_STATUS)]);
        assert_eq!(snapshot(&hs), before);
    }

    #[test]
    fn an_unreserve_el2_refuses_changes_nothing() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false), ev(2, 2, false)]);
        hs.reserve(3).unwrap();
        log(&hs);
        let held = snapshot(&hs);
        wire(&mut hs).unreserve_error = Some(SmcccError::NotReserved);
        assert_eq!(hs.unreserve(), Err(HandshakeError::Smccc(SmcccError::NotReserved)));
        assert_eq!(log(&hs), [Step::Call(PMU_UNRESERVE)]);
        assert_eq!(snapshot(&hs), held, "the counters may still be EL2's: perf stays off them");
        assert!(hs.is_reserved());
        wire(&mut hs).unreserve_error = None;
        assert_eq!(hs.unreserve(), Ok(CounterMask(0b111000)));
    }

    #[test]
    fn repeated_reservations_leave_no_trace() {
        // Reserve and unreserve around every vCPU run, as a vcpu_load / vcpu_put hook would.
        let events = [ev(1, 1, true), ev(2, 2, false), ev(3, 2, false), ev(4, 3, false), ev(5, 4, true)];
        let mut hs = cpu_with(8, 1, &events);
        let initial = snapshot(&hs);
        for round in 0..50u64 {
            let k = round % 6 + 1;
            let granted = hs.reserve(k).unwrap();
            assert_eq!(granted, CounterMask::range(7 - k as u8, k as u8));
            assert_eq!(hs.perf().placed.used() & granted.0, 0, "round {round}");
            assert_eq!(hs.unreserve(), Ok(granted));
            assert_eq!(snapshot(&hs), initial, "round {round}");
        }
        assert_eq!(log(&hs).iter().filter(|s| **s == Step::Call(PMU_INFO)).count(), 1);
    }

    #[test]
    fn without_a_pmu_the_calls_are_not_supported() {
        let mut hs = cpu_with(6, 0, &[ev(1, 1, false)]);
        machine(&hs).borrow_mut().cfg = None;
        let before = hs.perf().placed;
        assert_eq!(hs.reserve(1), Err(HandshakeError::Smccc(SmcccError::NotSupported)));
        assert_eq!(hs.unreserve(), Err(HandshakeError::Smccc(SmcccError::NotSupported)));
        assert_eq!(log(&hs), [Step::Call(PMU_INFO), Step::Call(PMU_UNRESERVE)]);
        assert_eq!((hs.perf().placed, hs.perf().mask), (before, 0b111111 | CYCLE_COUNTER));
    }
}
