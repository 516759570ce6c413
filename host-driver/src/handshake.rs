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
