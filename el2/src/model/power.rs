// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PSCI relay, the per-CPU PMU state and the PMU reservation, across CPUs that turn each other
//! on and themselves off.
//!
//! EL2's side is one `PerCpu` per CPU (`percpu.rs`): the `on_entry` and `resume_entry` slots and
//! the CPU's `CpuPartition`. That was behind a lock; it is now a per-CPU cell that only its CPU
//! borrows (`PerCpu::partition`), for the same calls: the model's "lock" is that borrow, and what
//! it checks (never held across a call that does not return, never taken twice) is what the cell's
//! contract needs. EL3's side is each CPU's power state as TF-A's
//! PSCI keeps it (on, off, on pending, suspended), with its answers to CPU_ON. A relayed CPU_OFF
//! or power-down suspend does not return: the CPU's EL2 stack is abandoned *with whatever locks
//! it holds*, its PMU loses its state, and the CPU comes back, if ever, through a warm entry of
//! `arch/boot.rs`.
//!
//! Which calls take the PMU lock is not written into the model: it asks the real
//! `host_calls::route` (see [`takes_pmu_lock`]). The reservation steps run the real
//! `CpuPartition` on a `FakePmu`.
//!
//! Each step's label quotes the code it stands for: psci_relay.rs (`handle`, `cpu_on`, `suspend`),
//! percpu.rs (`HostEntry`), arch/mod.rs (`handle_host_call`), arch/boot.rs (`cpu_on_main`,
//! `cpu_resume_main`, `enter_host_on_this_cpu`); labels starting with BUG describe the old code.

use super::Bug;
use super::explorer::{Model, Property, Step, Violation};
use crate::host_calls::{self, Conduit, Reply};
use crate::monitor::fake::FakeMonitor;
use crate::percpu::CpuTable;
use crate::pmu::{CpuPartition, FakePmu, PmuConfig};
use crate::psci_relay::{PSCI_ALREADY_ON, PsciRelay, WarmEntries};
use smc_interface::{CounterMask, Enforcement};
use smccc::psci::{PSCI_CPU_OFF, PSCI_CPU_ON_64, PSCI_CPU_SUSPEND_64};

/// EL3's "ON_PENDING" answer to CPU_ON.
const PSCI_ON_PENDING: u64 = -5i64 as u64;

/// Whether `arch::handle_host_call` borrows the CPU's PMU state while it handles this call:
/// exactly when `host_calls::route` hands it to EL2's own calls, the only place outside the warm
/// entries where it is borrowed.
pub fn takes_pmu_lock(function_id: u32) -> bool {
    let cpus = CpuTable::new();
    let mut el3 = FakeMonitor::default();
    let mut relay = PsciRelay {
        monitor: &mut el3,
        cpus: &cpus,
        entries: WarmEntries { cpu_on: 0x1000, resume: 0x2000 },
        this_cpu: 0,
        host_owns: &|_| true,
    };
    // Arguments that decode (PMU_UNRESERVE refuses a non-zero x1 before taking anything).
    let mut regs = [0; 18];
    regs[0] = function_id.into();
    let mut taken = false;
    host_calls::route(&mut regs, Conduit::Smc, &mut relay, |_, _| {
        taken = true;
        Reply::Short([0; 4])
    });
    taken
}

/// A host call in a CPU's script. Entries are small tags standing for the host's entry point and
/// context id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Reserve(u8),
    Unreserve,
    /// VCPU_RUN of a vCPU that needs this many counters (the VM side is the VM model's).
    VcpuRun(u8),
    CpuOn { target: u8, entry: u8 },
    /// A CPU_SUSPEND that EL3 may treat as standby (it returns) or as power-down.
    Suspend { entry: u8 },
    CpuOff,
}

impl Op {
    fn function_id(self) -> u32 {
        match self {
            Op::Reserve(_) => smc_interface::pmu::PMU_RESERVE,
            Op::Unreserve => smc_interface::pmu::PMU_UNRESERVE,
            Op::VcpuRun(_) => smc_interface::vm::VCPU_RUN,
            Op::CpuOn { .. } => PSCI_CPU_ON_64,
            Op::Suspend { .. } => PSCI_CPU_SUSPEND_64,
            Op::CpuOff => PSCI_CPU_OFF,
        }
    }
}

/// A CPU's power state as EL3 sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Power {
    On,
    Off,
    /// CPU_ON accepted; EL3 has yet to start the CPU at EL2's warm entry.
    OnPending,
    /// In a power-down suspend: "on" for PSCI (CPU_ON gets ALREADY_ON), back at the resume entry.
    Suspended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    /// The host runs at EL1; it makes its next call, if it has one.
    Host,
    /// Bug::LockAcrossCpuOff: the old trap handler's `cpu.pmu.lock()` before routing.
    LockBeforeRoute,
    UnlockAfterRoute,
    // EL2's own calls.
    OwnLock,
    OwnCall,
    // CPU_ON (psci_relay.rs `cpu_on`).
    OnClaim,
    OnSet,
    OnEl3,
    OnRelease,
    // CPU_SUSPEND (psci_relay.rs `suspend`).
    SuspendSet,
    SuspendEl3,
    // CPU_OFF (passed to EL3 unchanged).
    OffEl3,
    /// Off or powered down: this CPU's EL2 stack is gone.
    Down,
    // arch/boot.rs warm entries.
    WarmOnGet,
    WarmOnRelease,
    WarmResumeGet,
    WarmLock,
    WarmApply,
}

/// One `HostEntry`: the claim flag and the entry (entry point and context id, as one tag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Slot {
    claimed: bool,
    entry: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cpu {
    // EL2's PerCpu.
    on_entry: Slot,
    resume_entry: Slot,
    /// `pmu`'s lock: held by this CPU's EL2 stack, live or abandoned (no other CPU takes it).
    pmu_locked: bool,
    partition: CpuPartition,
    // The hardware.
    hw: FakePmu,
    power: Power,
    // What the CPU runs: the host's script, where it is in it, the EL2 step it takes next.
    op: u8,
    pc: Pc,
    /// The answer of the call in progress, and the entry the warm path read.
    ret: u64,
    read: u8,
    // Ghosts: what the CPU must come back with.
    /// The entry of the CPU_ON that EL3 accepted for this CPU, until the CPU reads it.
    accepted: Option<u8>,
    /// The entry of this CPU's own power-down suspend, until it resumes.
    suspended: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    cpus: Vec<Cpu>,
    broken: Option<Violation>,
}

pub struct PowerModel {
    pub bug: Bug,
    pub cfg: PmuConfig,
    pub scripts: Vec<Vec<Op>>,
    /// Per script op: whether the real router takes the PMU lock for it.
    locks: Vec<Vec<bool>>,
}

/// A CPU's PMU after power-down: reset, so HPMN shows the host every counter, and junk left in
/// the top one; EL2 must put the partition back before the host runs.
fn lost_pmu(cfg: &PmuConfig) -> FakePmu {
    let mut hw = FakePmu::new(cfg.counters);
    hw.program(cfg.counters - 1, 0x11, 42);
    hw
}

impl PowerModel {
    pub fn new(bug: Bug, cfg: PmuConfig, scripts: Vec<Vec<Op>>) -> Self {
        let locks = scripts.iter().map(|s| s.iter().map(|op| takes_pmu_lock(op.function_id())).collect()).collect();
        Self { bug, cfg, scripts, locks }
    }

    /// The slot a suspend leaves its resume entry in.
    fn resume_slot<'c>(&self, c: &'c mut Cpu) -> &'c mut Slot {
        if self.bug == Bug::SharedEntrySlot { &mut c.on_entry } else { &mut c.resume_entry }
    }

    fn step(&self, s: &State, cpu: usize) -> Option<(&'static str, State)> {
        let mut t = s.clone();
        let c = &s.cpus[cpu];
        let op = self.scripts[cpu].get(usize::from(c.op)).copied();
        let bug = self.bug;
        // The call is over: the host resumes after it.
        let next = |t: &mut State| {
            t.cpus[cpu].pc = Pc::Host;
            t.cpus[cpu].op += 1;
        };
        // Where a relayed call goes once routed (and, for Bug::LockAcrossCpuOff, locked).
        let relay_pc = |op| match op {
            Op::CpuOn { .. } => Pc::OnClaim,
            Op::Suspend { .. } => Pc::SuspendSet,
            Op::CpuOff => Pc::OffEl3,
            _ => unreachable!(),
        };
        let what = match c.pc {
            Pc::Host => {
                let op = op?;
                let locks = self.locks[cpu][usize::from(c.op)];
                t.cpus[cpu].pc = match (locks, bug) {
                    (true, _) => Pc::OwnLock,
                    (false, Bug::LockAcrossCpuOff) => Pc::LockBeforeRoute,
                    (false, _) => relay_pc(op),
                };
                "host: SMC/HVC; arch/mod.rs host_call -> host_calls::route"
            }
            Pc::LockBeforeRoute => {
                if c.pmu_locked {
                    return None;
                }
                t.cpus[cpu].pmu_locked = true;
                t.cpus[cpu].pc = relay_pc(op.unwrap());
                "BUG handle_host_trap (old): cpu.pmu.lock() before routing anything"
            }
            Pc::UnlockAfterRoute => {
                t.cpus[cpu].pmu_locked = false;
                next(&mut t);
                "BUG handle_host_trap (old): return; the PMU guard drops"
            }

            // ---- EL2's own calls: arch/mod.rs host_call, the `own` closure ----
            Pc::OwnLock => {
                if c.pmu_locked {
                    return None;
                }
                t.cpus[cpu].pmu_locked = true;
                t.cpus[cpu].pc = Pc::OwnCall;
                "arch/mod.rs host_call, own closure: cpu.pmu.lock()"
            }
            Pc::OwnCall => {
                let me = &mut t.cpus[cpu];
                let what = match op.unwrap() {
                    Op::Reserve(k) => {
                        let _ = me.partition.reserve(&self.cfg, &mut me.hw, k.into());
                        "own_call PmuReserve: pmu.cpu.reserve(cfg, hw, count); the PMU guard drops"
                    }
                    Op::Unreserve => {
                        let _ = me.partition.unreserve(&mut me.hw);
                        "own_call PmuUnreserve: pmu.cpu.unreserve(hw); the PMU guard drops"
                    }
                    Op::VcpuRun(k) => {
                        // vm::Vms::vcpu_run: the vCPU's counters come out of this CPU's reservation
                        // (ArchVmHw::pmu_capacity: reserved.count_ones()). The guest runs on the top k
                        // reserved counters, which must not be the host's.
                        let reserved = me.partition.reserved_mask(&self.cfg);
                        if u32::from(k) <= reserved.count_ones() {
                            let top = (0..31).rev().filter(|n| reserved & 1 << n != 0).take(k.into());
                            let guest = top.fold(0u32, |m, n| m | 1 << n);
                            let host = CounterMask::range(0, me.partition.host_counters()).0;
                            if guest & host != 0 {
                                t.broken = Some(Violation::new(
                                    Property::MasksDisjoint,
                                    format!("cpu{cpu}: a guest runs on host counters {:#x}", guest & host),
                                ));
                            }
                        }
                        "vcpu_run: vcpu.pmu_counters > hw.pmu_capacity()? hw.run(..); the PMU guard drops"
                    }
                    _ => unreachable!(),
                };
                t.cpus[cpu].pmu_locked = false;
                next(&mut t);
                what
            }

            // ---- CPU_ON: psci_relay.rs cpu_on, on the *target's* PerCpu ----
            Pc::OnClaim => {
                let Op::CpuOn { target, .. } = op.unwrap() else { unreachable!() };
                let tg = usize::from(target);
                // HostEntry::claim: one compare-exchange on the target's flag (which the NoClaim
                // variant skips, as if the slot had no claim flag at all).
                let won = bug == Bug::NoClaim || !s.cpus[tg].on_entry.claimed;
                if won {
                    t.cpus[tg].on_entry.claimed = true;
                    if s.cpus[tg].accepted.is_some() {
                        t.broken = Some(Violation::new(
                            Property::SecondCpuOnAlreadyOn,
                            format!("a CPU_ON to cpu{tg} claimed its slot while an accepted one is unread"),
                        ));
                    }
                    t.cpus[cpu].pc = Pc::OnSet;
                } else {
                    t.cpus[cpu].ret = PSCI_ALREADY_ON;
                    if bug == Bug::LockAcrossCpuOff {
                        t.cpus[cpu].pc = Pc::UnlockAfterRoute;
                    } else {
                        next(&mut t);
                    }
                }
                "cpu_on: cpu.on_entry.claim() (compare_exchange), else ALREADY_ON"
            }
            Pc::OnSet => {
                let Op::CpuOn { target, entry } = op.unwrap() else { unreachable!() };
                t.cpus[usize::from(target)].on_entry.entry = entry;
                t.cpus[cpu].pc = Pc::OnEl3;
                "cpu_on: cpu.on_entry.set(entry, context)"
            }
            Pc::OnEl3 => {
                let Op::CpuOn { target, entry } = op.unwrap() else { unreachable!() };
                let tg = &mut t.cpus[usize::from(target)];
                // TF-A's psci_cpu_on: only an OFF CPU is turned on.
                t.cpus[cpu].ret = match tg.power {
                    Power::Off => {
                        tg.power = Power::OnPending;
                        tg.accepted = Some(entry);
                        0
                    }
                    Power::OnPending => PSCI_ON_PENDING,
                    Power::On | Power::Suspended => PSCI_ALREADY_ON,
                };
                t.cpus[cpu].pc = Pc::OnRelease;
                "cpu_on: self.monitor.call(CPU_ON, [target, entries.cpu_on, context_id])"
            }
            Pc::OnRelease => {
                let Op::CpuOn { target, .. } = op.unwrap() else { unreachable!() };
                if c.ret != 0 {
                    t.cpus[usize::from(target)].on_entry.claimed = false;
                }
                if bug == Bug::LockAcrossCpuOff {
                    t.cpus[cpu].pc = Pc::UnlockAfterRoute;
                } else {
                    next(&mut t);
                }
                "cpu_on: if ret != 0 { cpu.on_entry.release() }; ret"
            }

            // ---- CPU_SUSPEND: psci_relay.rs suspend ----
            Pc::SuspendSet => {
                let Op::Suspend { entry } = op.unwrap() else { unreachable!() };
                let me = &mut t.cpus[cpu];
                self.resume_slot(me).entry = entry;
                me.suspended = Some(entry);
                me.pc = Pc::SuspendEl3;
                "suspend: cpu.resume_entry.set(entry, context)"
            }
            Pc::SuspendEl3 => {
                // Two outcomes, both explored (see `successors`): this is the power-down one.
                let me = &mut t.cpus[cpu];
                me.power = Power::Suspended;
                me.pc = Pc::Down;
                me.hw = lost_pmu(&self.cfg);
                me.op += 1;
                "suspend: self.monitor.call(..): EL3 powers the CPU down (stack abandoned)"
            }

            // ---- CPU_OFF: route -> PsciRelay::handle -> monitor.smc, to EL3 unchanged ----
            Pc::OffEl3 => {
                let me = &mut t.cpus[cpu];
                me.power = Power::Off;
                me.pc = Pc::Down;
                me.hw = lost_pmu(&self.cfg);
                me.op += 1;
                "handle: self.monitor.smc(regs) (CPU_OFF): EL3 turns the CPU off (stack abandoned)"
            }

            // ---- EL3 brings the CPU (back) to EL2 ----
            Pc::Down => match c.power {
                Power::OnPending => {
                    t.cpus[cpu].power = Power::On;
                    t.cpus[cpu].pc = Pc::WarmOnGet;
                    "EL3: the CPU starts at cpu_on_entry (entry.S) -> cpu_on_main"
                }
                Power::Suspended => {
                    t.cpus[cpu].power = Power::On;
                    t.cpus[cpu].pc = Pc::WarmResumeGet;
                    "EL3: wake-up at cpu_resume_entry (entry.S) -> cpu_resume_main"
                }
                _ => return None,
            },
            Pc::WarmOnGet => {
                let me = &mut t.cpus[cpu];
                me.read = me.on_entry.entry;
                if me.accepted != Some(me.read) {
                    t.broken = Some(Violation::new(
                        Property::ComesBackOn,
                        format!("cpu{cpu} comes back at entry {} instead of {:?}", me.read, me.accepted),
                    ));
                }
                me.accepted = None;
                me.pc = Pc::WarmOnRelease;
                "cpu_on_main: cpu.on_entry.get()"
            }
            Pc::WarmOnRelease => {
                t.cpus[cpu].on_entry.claimed = false;
                t.cpus[cpu].pc = Pc::WarmLock;
                "cpu_on_main: cpu.on_entry.release()"
            }
            Pc::WarmResumeGet => {
                let me = &mut t.cpus[cpu];
                me.read = self.resume_slot(me).entry;
                if me.suspended != Some(me.read) {
                    t.broken = Some(Violation::new(
                        Property::ResumeEntryKept,
                        format!("cpu{cpu} resumes at entry {} instead of {:?}", me.read, me.suspended),
                    ));
                }
                me.suspended = None;
                me.pc = Pc::WarmLock;
                "cpu_resume_main: cpu.resume_entry.get()"
            }
            Pc::WarmLock => {
                if c.pmu_locked {
                    return None;
                }
                t.cpus[cpu].pmu_locked = true;
                t.cpus[cpu].pc = Pc::WarmApply;
                "enter_host_on_this_cpu: cpu.pmu.lock()"
            }
            Pc::WarmApply => {
                let me = &mut t.cpus[cpu];
                let partition = me.partition;
                partition.apply(&self.cfg, &mut me.hw);
                me.pmu_locked = false;
                me.pc = Pc::Host;
                "enter_host_on_this_cpu: configure_for_host; partition.apply; drop(partition); enter_host"
            }
        };
        Some((what, t))
    }
}

impl Model for PowerModel {
    type State = State;

    fn init(&self) -> State {
        let partition = CpuPartition::new(&self.cfg);
        let mut hw = FakePmu::new(self.cfg.counters);
        partition.apply(&self.cfg, &mut hw);
        let cpu = Cpu {
            on_entry: Slot::default(),
            resume_entry: Slot::default(),
            pmu_locked: false,
            partition,
            hw,
            power: Power::On,
            op: 0,
            pc: Pc::Host,
            ret: 0,
            read: 0,
            accepted: None,
            suspended: None,
        };
        State { cpus: vec![cpu; self.scripts.len()], broken: None }
    }

    fn successors(&self, s: &State, out: &mut Vec<(Step, State)>) {
        for cpu in 0..s.cpus.len() {
            if let Some((what, t)) = self.step(s, cpu) {
                out.push((Step { cpu, what }, t));
            }
            // EL3's other answer to a suspend: a standby state, from which the SMC returns.
            if s.cpus[cpu].pc == Pc::SuspendEl3 {
                let mut t = s.clone();
                let me = &mut t.cpus[cpu];
                me.suspended = None;
                if self.bug == Bug::LockAcrossCpuOff {
                    me.pc = Pc::UnlockAfterRoute;
                } else {
                    me.pc = Pc::Host;
                    me.op += 1;
                }
                out.push((Step { cpu, what: "suspend: self.monitor.call(..): EL3 stands by and returns" }, t));
            }
        }
    }

    fn check(&self, s: &State) -> Result<(), Violation> {
        if let Some(v) = &s.broken {
            return Err(v.clone());
        }
        for (i, c) in s.cpus.iter().enumerate() {
            let reserved = c.partition.reserved_mask(&self.cfg);
            // What EL2 records, at all times.
            if CounterMask::range(0, c.partition.host_counters()).0 & reserved != 0 {
                return Err(Violation::new(Property::MasksDisjoint, format!("cpu{i}: {:?}", c.partition)));
            }
            // What the hardware lets the host reach, whenever the host runs.
            if c.pc == Pc::Host && CounterMask::range(0, c.hw.hpmn_value).0 & reserved != 0 {
                return Err(Violation::new(
                    Property::MasksDisjoint,
                    format!("cpu{i}: the host runs with HPMN {} over reserved {reserved:#x}", c.hw.hpmn_value),
                ));
            }
            // An accepted CPU_ON's entry stays until its CPU reads it; a suspend's too.
            if c.accepted.is_some_and(|e| c.on_entry.entry != e) {
                return Err(Violation::new(
                    Property::SecondCpuOnAlreadyOn,
                    format!("cpu{i}'s accepted CPU_ON entry was overwritten"),
                ));
            }
            let mut c = c.clone();
            if c.suspended.is_some_and(|e| self.resume_slot(&mut c).entry != e) {
                return Err(Violation::new(
                    Property::ResumeEntryKept,
                    format!("cpu{i}'s pending resume entry was overwritten"),
                ));
            }
        }
        Ok(())
    }

    fn finished(&self, s: &State) -> bool {
        // Every CPU is either in the host with nothing left to call, or off for good.
        s.cpus.iter().enumerate().all(|(i, c)| {
            c.pc == Pc::Host && usize::from(c.op) == self.scripts[i].len() || c.pc == Pc::Down && c.power == Power::Off
        })
    }

    fn stuck(&self, s: &State) -> Violation {
        match s.cpus.iter().position(|c| c.pc == Pc::WarmLock) {
            Some(i) => Violation::new(
                Property::ComesBackOn,
                format!("cpu{i} was brought back by EL3 but waits forever for its PMU lock, held by its abandoned stack"),
            ),
            None => Violation::new(Property::Deadlock, format!("no CPU can move: {s:?}")),
        }
    }

    fn check_final(&self, s: &State) -> Result<(), Violation> {
        // Nothing in flight is left behind: no claimed slot, no lock held by a CPU in the host.
        for (i, c) in s.cpus.iter().enumerate() {
            if c.on_entry.claimed || c.pc == Pc::Host && c.pmu_locked {
                return Err(Violation::new(Property::NoLeak, format!("cpu{i} ends with a claim or a lock held")));
            }
        }
        Ok(())
    }
}

/// N = 4 counters, one reserved at boot, the host keeps at least one: PMU_RESERVE may take 1 or 2.
pub fn config() -> PmuConfig {
    PmuConfig::new(4, 6, true, true, false, Enforcement::Trapped, 1, 1).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::explorer::checks::{self, Situation};
    use Op::*;


    #[test]
    fn only_own_calls_take_the_pmu_lock() {
        assert!(takes_pmu_lock(smc_interface::pmu::PMU_RESERVE));
        assert!(takes_pmu_lock(smc_interface::vm::VCPU_RUN));
        assert!(!takes_pmu_lock(PSCI_CPU_OFF));
        assert!(!takes_pmu_lock(PSCI_CPU_ON_64));
        assert!(!takes_pmu_lock(PSCI_CPU_SUSPEND_64));
    }

    /// CPU 0 turns CPU 1 on twice; CPU 1 reserves counters, suspends, runs a vCPU, turns itself
    /// off and, if turned on again, gives its counters back and runs a vCPU without them.
    fn two_cpus(bug: Bug) -> PowerModel {
        PowerModel::new(
            bug,
            config(),
            vec![
                vec![CpuOn { target: 1, entry: 1 }, CpuOn { target: 1, entry: 2 }],
                vec![Reserve(1), Suspend { entry: 3 }, VcpuRun(2), CpuOff, Unreserve, VcpuRun(1)],
            ],
        )
    }

    /// A third CPU races CPU 0's CPU_ONs with its own, and reserves and runs on its own counters.
    fn three_cpus(bug: Bug) -> PowerModel {
        let mut m = two_cpus(bug);
        m.scripts.push(vec![CpuOn { target: 1, entry: 4 }, Reserve(2), VcpuRun(2), CpuOff]);
        PowerModel::new(bug, m.cfg, m.scripts)
    }

    fn holds(model: PowerModel, name: &str) {
        checks::holds("power model", &model, name);
    }

    fn finds(model: PowerModel, expected: Property) {
        checks::finds("power model", &model, model.bug, &[expected]);
    }

    /// Situations the three-CPU scripts must reach for the search to mean something.
    #[test]
    fn three_cpus_reach_every_race() {
        let model = three_cpus(Bug::None);
        let cfg = model.cfg;
        let target_claimed = |s: &State, i: usize| match model.scripts[i].get(usize::from(s.cpus[i].op)) {
            Some(CpuOn { target, .. }) => s.cpus[usize::from(*target)].on_entry.claimed,
            _ => false,
        };
        let situations: [Situation<State>; 6] = [
            ("a CPU comes back through CPU_ON", &|s, i| s.cpus[i].pc == Pc::WarmOnGet),
            ("a CPU resumes from a power-down suspend", &|s, i| s.cpus[i].pc == Pc::WarmResumeGet),
            ("EL2 answers ALREADY_ON to a CPU_ON in flight", &|s, i| s.cpus[i].pc == Pc::OnClaim && target_claimed(s, i)),
            ("EL3 refuses a CPU_ON to a suspended CPU", &|s, i| {
                s.cpus[i].pc == Pc::OnEl3 && s.cpus.iter().any(|c| c.power == Power::Suspended)
            }),
            ("a reservation survives CPU_OFF and CPU_ON", &|s, i| {
                s.cpus[i].pc == Pc::WarmApply && s.cpus[i].partition.status(&cfg).dynamic_mask != 0
            }),
            ("a vCPU runs on reserved counters", &|s, i| {
                s.cpus[i].pc == Pc::OwnCall
                    && matches!(model.scripts[i].get(usize::from(s.cpus[i].op)),
                        Some(VcpuRun(k)) if u32::from(*k) <= s.cpus[i].partition.reserved_mask(&cfg).count_ones())
            }),
        ];
        checks::reaches(&model, model.scripts.len(), &situations);
    }

    #[test]
    fn every_property_holds_for_two_cpus() {
        holds(two_cpus(Bug::None), "2 CPUs");
    }

    #[test]
    fn every_property_holds_for_three_cpus() {
        holds(three_cpus(Bug::None), "3 CPUs");
    }

    /// Defect 2: CPU 1's PMU lock, taken before its CPU_OFF (or power-down suspend) was routed,
    /// is never released; its warm entry spins on it.
    #[test]
    fn lock_across_cpu_off_never_comes_back() {
        finds(two_cpus(Bug::LockAcrossCpuOff), Property::ComesBackOn);
    }

    /// Defect 2 with CPU_OFF alone (no suspend in the script).
    #[test]
    fn lock_across_cpu_off_alone() {
        let model = PowerModel::new(Bug::LockAcrossCpuOff, config(), vec![vec![CpuOn { target: 1, entry: 1 }], vec![CpuOff]]);
        finds(model, Property::ComesBackOn);
    }

    /// Defect 9: CPU 0's CPU_ON reaches CPU 1 while it is suspended and overwrites its resume
    /// entry (EL3 then answers ALREADY_ON, too late).
    #[test]
    fn shared_entry_slot_loses_the_resume_entry() {
        finds(two_cpus(Bug::SharedEntrySlot), Property::ResumeEntryKept);
    }

    /// Without the claim, two CPU_ONs aimed at one CPU both write its entry: the second one
    /// overwrites the entry of the first, which EL3 has already accepted.
    #[test]
    fn no_claim_lets_a_second_cpu_on_overwrite_the_first() {
        finds(three_cpus(Bug::NoClaim), Property::SecondCpuOnAlreadyOn);
    }

    #[test]
    fn the_vm_defects_do_not_touch_power() {
        holds(two_cpus(Bug::CheckThenClaim), "2 CPUs, check then claim");
        holds(two_cpus(Bug::EarlyRelease), "2 CPUs, early release");
    }
}
