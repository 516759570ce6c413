// SPDX-License-Identifier: MIT OR Apache-2.0

//! The perf-core side of the counter handshake: what the host's perf subsystem must be able to do
//! on one CPU ([`PerfCore`]), a deliberately small model of its events ([`Event`]), and the
//! deterministic scheduler ([`schedule`]) that decides which event counts on which counter.
//!
//! The model keeps only what matters for handing counters over: an event needs one counter, any
//! counter of the current mask will do, and a group needs all of its counters at once (perf's
//! group semantics: every member counts, or none does). Pinned groups are placed before the
//! others, as perf does, so that shrinking the mask costs the flexible events first.
//!
//! Everything here is `no_std` and allocation-free: a CPU has at most 31 event counters, and the
//! scheduler works on fixed arrays of at most [`MAX_EVENTS`] events.

use smc_interface::CounterMask;

/// Event counters an Armv8 PMU can have (PMCR_EL0.N is at most 31).
pub const MAX_COUNTERS: usize = 31;

/// The bits of a counter mask that name event counters. Bit 31 is the cycle counter in
/// PMCNTENSET_EL0 and in Linux's `cntr_mask`; it is never partitioned, so the scheduler never
/// hands it to a modelled event and the handshake never takes it away.
pub const EVENT_COUNTERS: u32 = (1 << MAX_COUNTERS) - 1;

/// How many events [`schedule`] considers on one CPU. More events than counters is normal (perf
/// multiplexes them), so this is larger than [`MAX_COUNTERS`]; it only bounds the fixed arrays of
/// an [`Assignment`].
pub const MAX_EVENTS: usize = 64;

/// One perf event on this CPU, as far as counter allocation is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Identifies the event; unique among the events handed to [`schedule`].
    pub id: u32,
    /// The group the event belongs to. A lone event is a group of one. Members of a group need
    /// not be adjacent in the event list.
    pub group: u32,
    /// Whether the event must be on a counter whenever it can be. Only the group leader's flag
    /// counts (the first member in the list), because perf reads `pinned` from the leader.
    pub pinned: bool,
}

/// What became of one group in a scheduling pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupPlacement {
    /// Every member has a counter; these are the group's counters.
    Scheduled(CounterMask),
    /// Not enough free counters in the mask for the whole group, so none of it counts.
    Unschedulable,
}

/// The outcome of [`schedule`]: a counter (or none) for every event, and a placement for every
/// group, in the order the groups first appear in the event list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// (event id, its counter), in event-list order.
    events: [(u32, Option<u8>); MAX_EVENTS],
    event_count: usize,
    /// (group id, its placement), in order of first appearance.
    groups: [(u32, GroupPlacement); MAX_EVENTS],
    group_count: usize,
}

impl Assignment {
    /// No events at all: what a CPU has before anything was scheduled.
    pub const EMPTY: Self = Self {
        events: [(0, None); MAX_EVENTS],
        event_count: 0,
        groups: [(0, GroupPlacement::Unschedulable); MAX_EVENTS],
        group_count: 0,
    };

    /// The counter event `id` was given, if it has one.
    pub fn counter_of(&self, id: u32) -> Option<u8> {
        self.events().find(|&(e, _)| e == id).and_then(|(_, c)| c)
    }

    /// What became of group `group`; `None` if no scheduled event belongs to it.
    pub fn group(&self, group: u32) -> Option<GroupPlacement> {
        self.groups().find(|&(g, _)| g == group).map(|(_, p)| p)
    }

    /// Every event considered, with its counter, in event-list order.
    pub fn events(&self) -> impl Iterator<Item = (u32, Option<u8>)> + '_ {
        self.events[..self.event_count].iter().copied()
    }

    /// Every group considered, with its placement, in order of first appearance.
    pub fn groups(&self) -> impl Iterator<Item = (u32, GroupPlacement)> + '_ {
        self.groups[..self.group_count].iter().copied()
    }

    /// The groups that did not fit.
    pub fn unschedulable(&self) -> impl Iterator<Item = u32> + '_ {
        self.groups().filter(|&(_, p)| p == GroupPlacement::Unschedulable).map(|(g, _)| g)
    }

    /// Every counter some event was given. A counter of the mask outside this set stays disabled.
    pub fn used(&self) -> u32 {
        self.events().filter_map(|(_, c)| c).fold(0, |m, c| m | 1 << c)
    }
}

impl Default for Assignment {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// Places `events` on the counters of `mask`: pinned groups first, then the others, each group in
/// the order its first member appears in `events`, each member on the lowest free counter.
///
/// A group is placed only if the whole of it fits in the counters still free at its turn;
/// otherwise it is [`GroupPlacement::Unschedulable`] and takes nothing, and later (smaller)
/// groups still get their chance. Bit 31 (the cycle counter) and bits outside `mask` are never
/// used. Only the first [`MAX_EVENTS`] events are considered; a group with a member beyond them
/// cannot be complete and is unschedulable.
///
/// The result depends on nothing but `events` and `mask`. That is what lets the handshake undo a
/// refused reservation exactly: restoring the old mask and scheduling again puts every event back
/// on the counter it had. Lowest-first placement keeps events away from the top of the host's
/// share, which is where EL2 takes counters from, so a small reservation usually moves nobody.
pub fn schedule(events: &[Event], mask: u32) -> Assignment {
    let (considered, beyond) = events.split_at(events.len().min(MAX_EVENTS));
    let mut out = Assignment::EMPTY;
    // Each group's pinned flag, taken from its leader, alongside `out.groups`.
    let mut pinned = [false; MAX_EVENTS];
    for e in considered {
        out.events[out.event_count] = (e.id, None);
        out.event_count += 1;
        if !out.groups[..out.group_count].iter().any(|&(g, _)| g == e.group) {
            out.groups[out.group_count] = (e.group, GroupPlacement::Unschedulable);
            pinned[out.group_count] = e.pinned;
            out.group_count += 1;
        }
    }

    let mut free = mask & EVENT_COUNTERS;
    for pass_pinned in [true, false] {
        for (gi, &group_pinned) in pinned[..out.group_count].iter().enumerate() {
            if group_pinned != pass_pinned {
                continue;
            }
            let group = out.groups[gi].0;
            let need = considered.iter().filter(|e| e.group == group).count();
            let truncated = beyond.iter().any(|e| e.group == group);
            if truncated || need > free.count_ones() as usize {
                continue; // stays Unschedulable, takes nothing
            }
            let mut taken = 0u32;
            for (i, e) in considered.iter().enumerate() {
                if e.group == group {
                    let c = free.trailing_zeros() as u8;
                    free &= !(1 << c);
                    taken |= 1 << c;
                    out.events[i].1 = Some(c);
                }
            }
            out.groups[gi].1 = GroupPlacement::Scheduled(CounterMask(taken));
        }
    }
    out
}

/// Perf core on one CPU, as the handshake needs it. In Linux this is arm_pmu plus the perf core's
/// context scheduling for that CPU; in tests it is a model driving a fake PMU.
///
/// The handshake calls these only on the CPU they are about, with nothing else able to schedule
/// events there in between (in Linux: interrupts off and the perf context locked, as
/// `perf_pmu_resched_update()` in the KVM partitioning series does).
pub trait PerfCore {
    /// Takes every event of this CPU off its counter: counts are read and kept, and each counter
    /// the events used is disabled (its PMCNTENSET and PMINTENSET bits cleared).
    fn sched_out(&mut self);
    /// Puts the events back on counters of [`PerfCore::counter_mask`], deciding placement afresh
    /// (pinned groups first; see [`schedule`]), and reprograms and enables the counters given out.
    /// Groups that do not fit stay off the PMU until the next sched-in.
    fn sched_in(&mut self);
    /// The counters perf may allocate on this CPU: Linux's `cntr_mask` (made per CPU).
    fn counter_mask(&self) -> u32;
    /// Changes that set. Called only between [`PerfCore::sched_out`] and [`PerfCore::sched_in`],
    /// so that no event is ever on a counter outside the mask.
    fn set_counter_mask(&mut self, mask: u32);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const fn ev(id: u32, group: u32, pinned: bool) -> Event {
        Event { id, group, pinned }
    }

    #[test]
    fn pinned_groups_go_first_wherever_they_are_listed() {
        let events = [ev(1, 1, false), ev(2, 2, false), ev(3, 3, true)];
        let a = schedule(&events, 0b11);
        assert_eq!(a.counter_of(3), Some(0));
        assert_eq!(a.counter_of(1), Some(1));
        assert_eq!(a.counter_of(2), None);
        assert_eq!(a.group(2), Some(GroupPlacement::Unschedulable));
        assert_eq!(a.unschedulable().collect::<Vec<_>>(), [2]);
        assert_eq!(a.used(), 0b11);
    }

    #[test]
    fn groups_are_all_or_nothing_and_smaller_ones_still_fit() {
        // Group 10 has three members, not adjacent in the list; group 20 has two.
        let events = [ev(1, 10, false), ev(2, 20, false), ev(3, 10, false), ev(4, 20, false), ev(5, 10, false)];
        let a = schedule(&events, 0b1111);
        assert_eq!(a.group(10), Some(GroupPlacement::Scheduled(CounterMask(0b0111))));
        assert_eq!((a.counter_of(1), a.counter_of(3), a.counter_of(5)), (Some(0), Some(1), Some(2)));
        assert_eq!(a.group(20), Some(GroupPlacement::Unschedulable));
        assert_eq!(a.used(), 0b0111, "counter 3 stays unused: half a group is no group");
        // With one counter fewer, the big group fails and the small one takes its place.
        let a = schedule(&events, 0b0011);
        assert_eq!(a.group(10), Some(GroupPlacement::Unschedulable));
        assert_eq!(a.group(20), Some(GroupPlacement::Scheduled(CounterMask(0b11))));
        assert_eq!((a.counter_of(2), a.counter_of(4)), (Some(0), Some(1)));
    }

    #[test]
    fn the_leader_decides_whether_a_group_is_pinned() {
        let events = [ev(1, 1, false), ev(2, 2, false), ev(3, 2, true), ev(4, 3, true)];
        let a = schedule(&events, 0b1);
        assert_eq!(a.counter_of(4), Some(0), "group 3 is pinned, group 2 is not");
        assert_eq!(a.group(2), Some(GroupPlacement::Unschedulable));
        assert_eq!(a.group(1), Some(GroupPlacement::Unschedulable));
    }

    #[test]
    fn only_event_counters_of_the_mask_are_used() {
        let events = [ev(1, 1, true), ev(2, 2, true), ev(3, 3, false)];
        // Holes in the mask are skipped; bit 31 (the cycle counter) is never handed out.
        let a = schedule(&events, 1 << 31 | 0b1010_0000);
        assert_eq!((a.counter_of(1), a.counter_of(2), a.counter_of(3)), (Some(5), Some(7), None));
        let a = schedule(&events, 0);
        assert_eq!(a.used(), 0);
        assert_eq!(a.unschedulable().count(), 3);
        assert_eq!(schedule(&[], u32::MAX), Assignment::EMPTY);
    }

    #[test]
    fn a_pure_function_of_events_and_mask() {
        let events = [ev(7, 1, false), ev(8, 1, false), ev(9, 2, true)];
        assert_eq!(schedule(&events, 0b111), schedule(&events, 0b111));
        let full = schedule(&events, EVENT_COUNTERS);
        let _ = schedule(&events, 0b1); // nothing is remembered between passes
        assert_eq!(schedule(&events, EVENT_COUNTERS), full);
    }

    #[test]
    fn events_beyond_the_limit_are_not_considered() {
        let mut events = [ev(0, 0, false); MAX_EVENTS + 2];
        for (i, e) in events.iter_mut().enumerate() {
            *e = ev(i as u32, i as u32, false);
        }
        // The last considered event shares its group with one past the limit.
        events[MAX_EVENTS].group = (MAX_EVENTS - 1) as u32;
        let a = schedule(&events, EVENT_COUNTERS);
        assert_eq!(a.events().count(), MAX_EVENTS);
        assert_eq!(a.groups().count(), MAX_EVENTS);
        assert_eq!(a.group((MAX_EVENTS - 1) as u32), Some(GroupPlacement::Unschedulable));
        assert_eq!(a.counter_of(MAX_EVENTS as u32 + 1), None);
        assert_eq!(a.used(), EVENT_COUNTERS, "the first 31 single-event groups fill the PMU");
    }
}
