// SPDX-License-Identifier: MIT OR Apache-2.0

//! VM ownership across CPUs: the `Donations` table, the `VmSlot` locks and the host's stage-2, as
//! VM_CREATE, VM_LOAD, VCPU_RUN and VM_DESTROY (`vm/mod.rs`) change them.
//!
//! Each CPU runs a fixed script of host calls. A step is one acquisition or release of a lock
//! (`Donations.0`, a slot's `vm`), or one change to state other CPUs can see without a lock (the
//! host's stage-2). What a call computes under a lock only it holds is part of the step that
//! releases the lock or of the next one: no other CPU can see it in between, so splitting it
//! further would only add interleavings that are equivalent to these.
//!
//! Left out, because no other CPU can observe them: the argument checks before the first lock
//! (parameters, `within`, the firmware region), the VM's private stage-2 (`map_range`), zeroing,
//! TLB flushes, and the vCPU locks (taken only under the VM lock, so never contended). Left out
//! because the model has no use for them: `host_unmap`/`host_map` failing (see docs/security.md).
//!
//! Each step's label quotes the code of el2/src/vm/mod.rs it stands for (the function, then the
//! expression); the labels of the `Bug` variants start with BUG and describe the old code.

use super::Bug;
use super::explorer::{Model, Property, Step, Violation};
use crate::vm::{claim, donated};
use platform::Region;
use smc_interface::SmcccError;

/// Donations move in 2 MiB blocks; the model's RAM is `BLOCKS` of them.
const BLOCK: u64 = 2 << 20;
const BASE: u64 = 0x4000_0000;
const BLOCKS: u32 = 3;
const ALL_BLOCKS: u8 = (1 << BLOCKS) - 1;

/// `n` blocks from block `first`.
pub fn blocks(first: u64, n: u64) -> Region {
    Region::new(BASE + first * BLOCK, n * BLOCK)
}

/// The blocks `r` touches, as a bit mask (the host's stage-2 is kept as one).
fn bits(r: Region) -> u8 {
    (0..BLOCKS).filter(|&b| r.overlaps(&blocks(u64::from(b), 1))).fold(0, |m, b| m | 1 << b)
}

/// A host call in a CPU's script. `Load`, `Run` and `Destroy` act on the VM this CPU's last
/// successful `Create` made (and are skipped if there is none, as a host would);
/// `DestroyHandle` names a handle outright, whoever owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Create(Region),
    Load(Region),
    Run,
    /// Retried while it answers BUSY (a vCPU runs), as a host must to get its memory back.
    Destroy,
    DestroyHandle(u8),
}

/// Where a CPU is in its current call: the step it takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    /// Between calls.
    Next,
    CreateLockTable,
    CreateClaim,
    // Bug::CheckThenClaim: the old check, then the old claim.
    CreateLockForCheck,
    CreateCheck,
    CreateLockForClaim,
    CreateClaimSlot,
    CreateLockVm,
    // Bug::EarlyRelease: the old try_lock.
    CreateTryLockVm,
    CreateLockToRelease,
    CreateRelease,
    CreateUnmap,
    CreatePublish,
    CreateUnlockVm,
    LoadTryLockVm,
    LoadLockTable,
    LoadCheck,
    LoadCopy,
    LoadUnlockTable,
    LoadUnlockVm,
    RunTryLockVm,
    RunGuest,
    DestroyTryLockVm,
    DestroyTake,
    DestroyHostMap,
    DestroyUnlockVm,
    DestroyLockTable,
    DestroyRelease,
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cpu {
    /// The next call in the script.
    call: u8,
    pc: Pc,
    /// The slot of the VM this CPU's host created (its handle minus one).
    mine: Option<u8>,
    /// The current call's slot and memory (locals of the real functions).
    slot: u8,
    memory: Option<Region>,
}

/// What a VM slot's `vm` holds, as far as the protocol goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LiveVm {
    memory: Region,
    started: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// `Donations.0`: the table and which CPU holds its lock.
    donations: Vec<Option<Region>>,
    donations_lock: Option<u8>,
    /// Each `VmSlot.vm`: the VM and which CPU holds the lock.
    vms: Vec<Option<LiveVm>>,
    vm_locks: Vec<Option<u8>>,
    /// The blocks mapped in the host's stage-2.
    host_mapped: u8,
    cpus: Vec<Cpu>,
    /// A property a step broke (found when the step ran, e.g. a copy from a VM's memory).
    broken: Option<Violation>,
}

pub struct VmModel {
    pub bug: Bug,
    pub slots: usize,
    pub scripts: Vec<Vec<Call>>,
}

impl VmModel {
    /// The call a CPU starts next, if its script has one it would make.
    fn start(&self, s: &State, cpu: usize) -> Option<(Pc, u8, Option<Region>)> {
        let c = &s.cpus[cpu];
        match *self.scripts[cpu].get(usize::from(c.call))? {
            Call::Create(m) => Some((
                if self.bug == Bug::CheckThenClaim { Pc::CreateLockForCheck } else { Pc::CreateLockTable },
                0,
                Some(m),
            )),
            Call::Load(src) => c.mine.map(|i| (Pc::LoadTryLockVm, i, Some(src))),
            Call::Run => c.mine.map(|i| (Pc::RunTryLockVm, i, None)),
            Call::Destroy => c.mine.map(|i| (Pc::DestroyTryLockVm, i, None)),
            Call::DestroyHandle(h) => Some((Pc::DestroyTryLockVm, h - 1, None)),
        }
    }

    /// BUSY from VM_CREATE means no slot is free. `own` is a slot this very call claimed.
    fn busy_answer(&self, s: &mut State, own: Option<u8>) {
        if let Some(free) = (0..self.slots).find(|&i| s.donations[i].is_none() || own == Some(i as u8)) {
            s.broken = Some(Violation::new(
                Property::BusyOnlyWhenFull,
                format!("VM_CREATE answered BUSY with slot {free} free"),
            ));
        }
    }

    /// One step of `cpu` from `s`, if it has one enabled (a CPU waiting for a lock has none).
    fn step(&self, s: &State, cpu: usize) -> Option<(&'static str, State)> {
        let mut t = s.clone();
        let me = cpu as u8;
        let c = &s.cpus[cpu];
        let slot = usize::from(c.slot);
        let memory = c.memory;
        let table_free = s.donations_lock.is_none();
        let vm_free = s.vm_locks.get(slot).is_some_and(Option::is_none);
        let buggy = |b| self.bug == b;
        // The old VM_CREATE only tried the slot's lock.
        let lock_vm = if buggy(Bug::EarlyRelease) { Pc::CreateTryLockVm } else { Pc::CreateLockVm };
        // Ends the current call and moves to the next one.
        let done = |t: &mut State| {
            t.cpus[cpu].pc = Pc::Next;
            t.cpus[cpu].call += 1;
            t.cpus[cpu].memory = None;
        };
        let what = match c.pc {
            Pc::Next => {
                match self.start(s, cpu) {
                    Some((pc, slot, memory)) => {
                        t.cpus[cpu].pc = pc;
                        t.cpus[cpu].slot = slot;
                        t.cpus[cpu].memory = memory;
                    }
                    None if usize::from(c.call) < self.scripts[cpu].len() => done(&mut t),
                    None => t.cpus[cpu].pc = Pc::Done,
                }
                "host: next call"
            }
            Pc::Done => return None,

            // ---- VM_CREATE (vm/mod.rs `create`) ----
            Pc::CreateLockTable => {
                if !table_free {
                    return None;
                }
                t.donations_lock = Some(me);
                t.cpus[cpu].pc = Pc::CreateClaim;
                "create: claim(&mut *self.donations.0.lock(), ..): lock"
            }
            Pc::CreateClaim => {
                // The real overlap check and claim, on the table this CPU holds.
                let r = claim(&mut t.donations, memory.unwrap());
                t.donations_lock = None;
                match r {
                    Ok(i) => {
                        t.cpus[cpu].slot = i as u8;
                        t.cpus[cpu].pc = lock_vm;
                    }
                    Err(e) => {
                        if e == SmcccError::Busy {
                            self.busy_answer(&mut t, None);
                        }
                        done(&mut t);
                    }
                }
                "create: claim(..): donated(..) check, first free slot, record; the lock drops"
            }
            Pc::CreateLockForCheck => {
                if !table_free {
                    return None;
                }
                t.donations_lock = Some(me);
                t.cpus[cpu].pc = Pc::CreateCheck;
                "BUG create (old donated_overlaps): lock the table"
            }
            Pc::CreateCheck => {
                t.donations_lock = None;
                if donated(&t.donations, memory.unwrap()) {
                    done(&mut t);
                } else {
                    t.cpus[cpu].pc = Pc::CreateLockForClaim;
                }
                "BUG create (old donated_overlaps): check overlap, unlock the table"
            }
            Pc::CreateLockForClaim => {
                if !table_free {
                    return None;
                }
                t.donations_lock = Some(me);
                t.cpus[cpu].pc = Pc::CreateClaimSlot;
                "BUG create (old claim of a free slot): lock the table again"
            }
            Pc::CreateClaimSlot => {
                t.donations_lock = None;
                match t.donations.iter().position(Option::is_none) {
                    Some(i) => {
                        t.donations[i] = memory;
                        t.cpus[cpu].slot = i as u8;
                        t.cpus[cpu].pc = lock_vm;
                    }
                    None => {
                        self.busy_answer(&mut t, None);
                        done(&mut t);
                    }
                }
                "BUG create (old claim of a free slot): record it without checking again, unlock"
            }
            Pc::CreateLockVm => {
                if !vm_free {
                    return None;
                }
                t.vm_locks[slot] = Some(me);
                t.cpus[cpu].pc = Pc::CreateUnmap;
                "create: slot.vm.lock() (waits)"
            }
            Pc::CreateTryLockVm => {
                if vm_free {
                    t.vm_locks[slot] = Some(me);
                    t.cpus[cpu].pc = Pc::CreateUnmap;
                } else {
                    self.busy_answer(&mut t, Some(c.slot));
                    t.cpus[cpu].pc = Pc::CreateLockToRelease;
                }
                "BUG create (old): try_lock the slot's vm, BUSY if held"
            }
            Pc::CreateLockToRelease => {
                if !table_free {
                    return None;
                }
                t.donations_lock = Some(me);
                t.cpus[cpu].pc = Pc::CreateRelease;
                "create: release(): self.donations.0.lock()"
            }
            Pc::CreateRelease => {
                t.donations[slot] = None;
                t.donations_lock = None;
                done(&mut t);
                "create: release(): [index] = None; the lock drops"
            }
            Pc::CreateUnmap => {
                t.host_mapped &= !bits(memory.unwrap());
                t.cpus[cpu].pc = Pc::CreatePublish;
                "create: hw.host_unmap(memory)"
            }
            Pc::CreatePublish => {
                t.vms[slot] = Some(LiveVm { memory: memory.unwrap(), started: false });
                t.cpus[cpu].pc = Pc::CreateUnlockVm;
                "create: hw.zero(..); *guard = Some(Vm { .. })"
            }
            Pc::CreateUnlockVm => {
                t.vm_locks[slot] = None;
                t.cpus[cpu].mine = Some(c.slot);
                done(&mut t);
                "create: Ok(index + 1); guard drops"
            }

            // ---- VM_LOAD (vm/mod.rs `load`) ----
            Pc::LoadTryLockVm => {
                if vm_free {
                    t.vm_locks[slot] = Some(me);
                    t.cpus[cpu].pc = Pc::LoadLockTable;
                } else {
                    done(&mut t);
                }
                "load: slot.vm.try_lock() (BUSY if held)"
            }
            Pc::LoadLockTable => match s.vms[slot] {
                Some(LiveVm { started: false, .. }) => {
                    if !table_free {
                        return None;
                    }
                    t.donations_lock = Some(me);
                    t.cpus[cpu].pc = Pc::LoadCheck;
                    "load: VM there, not started; self.donations.0.lock()"
                }
                _ => {
                    t.vm_locks[slot] = None;
                    done(&mut t);
                    "load: no VM or started: Err, guard drops"
                }
            },
            Pc::LoadCheck => {
                let owned = donated(&t.donations, memory.unwrap());
                if owned {
                    t.donations_lock = None;
                    t.cpus[cpu].pc = Pc::LoadUnlockVm;
                } else if buggy(Bug::CheckThenClaim) {
                    // The old code checked under the lock and copied without it.
                    t.donations_lock = None;
                    t.cpus[cpu].pc = Pc::LoadCopy;
                } else {
                    t.cpus[cpu].pc = Pc::LoadCopy;
                }
                if buggy(Bug::CheckThenClaim) {
                    "BUG load (old): donated_overlaps(source): the lock drops before the copy"
                } else if owned {
                    "load: donated(&*table, source): Err, table drops"
                } else {
                    "load: donated(&*table, source) is false"
                }
            }
            Pc::LoadCopy => {
                let src = memory.unwrap();
                let host = bits(src) & !t.host_mapped == 0;
                let vm = t.vms.iter().flatten().any(|v| v.memory.overlaps(&src));
                if !host || vm {
                    t.broken = Some(Violation::new(
                        Property::LoadFromHost,
                        format!("VM_LOAD copies from {src:x?}, which a VM owns"),
                    ));
                }
                t.cpus[cpu].pc = if buggy(Bug::CheckThenClaim) { Pc::LoadUnlockVm } else { Pc::LoadUnlockTable };
                "load: hw.copy(.., src, size)"
            }
            Pc::LoadUnlockTable => {
                t.donations_lock = None;
                t.cpus[cpu].pc = Pc::LoadUnlockVm;
                "load: drop(table)"
            }
            Pc::LoadUnlockVm => {
                t.vm_locks[slot] = None;
                done(&mut t);
                "load: Ok(()) / Err; guard drops"
            }

            // ---- VCPU_RUN (vm/mod.rs `vcpu_run`) ----
            Pc::RunTryLockVm => {
                if vm_free {
                    t.vm_locks[slot] = Some(me);
                    t.cpus[cpu].pc = Pc::RunGuest;
                } else {
                    done(&mut t);
                }
                "vcpu_run: slot.vm.try_lock() (BUSY if held)"
            }
            Pc::RunGuest => {
                // The guest runs between the two steps; here it has exited.
                if let Some(vm) = &mut t.vms[slot] {
                    vm.started = true;
                }
                t.vm_locks[slot] = None;
                done(&mut t);
                "vcpu_run: vm.started = true; hw.run(..) returns; vm_guard drops"
            }

            // ---- VM_DESTROY (vm/mod.rs `destroy`) ----
            Pc::DestroyTryLockVm => {
                // The host retries while it is BUSY: a failed try is no change of state, so the
                // CPU simply waits for the lock here.
                if !vm_free {
                    return None;
                }
                t.vm_locks[slot] = Some(me);
                t.cpus[cpu].pc = Pc::DestroyTake;
                "destroy: slot.vm.try_lock() (the host retries on BUSY)"
            }
            Pc::DestroyTake => match t.vms[slot].take() {
                Some(vm) => {
                    t.cpus[cpu].memory = Some(vm.memory);
                    t.cpus[cpu].pc = Pc::DestroyHostMap;
                    "destroy: guard.take(); vCPUs cleared; TLB flush; hw.zero(..)"
                }
                None => {
                    t.vm_locks[slot] = None;
                    if c.mine == Some(c.slot) {
                        t.cpus[cpu].mine = None;
                    }
                    done(&mut t);
                    "destroy: guard.take() is None: INVALID_PARAMETER; guard drops"
                }
            },
            Pc::DestroyHostMap => {
                t.host_mapped |= bits(memory.unwrap());
                t.cpus[cpu].pc = if buggy(Bug::EarlyRelease) { Pc::DestroyLockTable } else { Pc::DestroyUnlockVm };
                "destroy: hw.host_map(vm.memory)"
            }
            Pc::DestroyUnlockVm => {
                t.vm_locks[slot] = None;
                if buggy(Bug::EarlyRelease) {
                    if c.mine == Some(c.slot) {
                        t.cpus[cpu].mine = None;
                    }
                    done(&mut t);
                    "BUG destroy (old): return (guard dropped last)"
                } else {
                    t.cpus[cpu].pc = Pc::DestroyLockTable;
                    "destroy: drop(guard)"
                }
            }
            Pc::DestroyLockTable => {
                if !table_free {
                    return None;
                }
                t.donations_lock = Some(me);
                t.cpus[cpu].pc = Pc::DestroyRelease;
                "destroy: self.donations.0.lock()"
            }
            Pc::DestroyRelease => {
                t.donations[slot] = None;
                t.donations_lock = None;
                if buggy(Bug::EarlyRelease) {
                    t.cpus[cpu].pc = Pc::DestroyUnlockVm;
                    "BUG destroy (old): free the entry while still holding vm, unlock Donations"
                } else {
                    if c.mine == Some(c.slot) {
                        t.cpus[cpu].mine = None;
                    }
                    done(&mut t);
                    "destroy: [index] = None; the lock drops"
                }
            }
        };
        Some((what, t))
    }
}

impl Model for VmModel {
    type State = State;

    fn init(&self) -> State {
        let cpu = Cpu { call: 0, pc: Pc::Next, mine: None, slot: 0, memory: None };
        State {
            donations: vec![None; self.slots],
            donations_lock: None,
            vms: vec![None; self.slots],
            vm_locks: vec![None; self.slots],
            host_mapped: ALL_BLOCKS,
            cpus: vec![cpu; self.scripts.len()],
            broken: None,
        }
    }

    fn successors(&self, s: &State, out: &mut Vec<(Step, State)>) {
        for cpu in 0..s.cpus.len() {
            if let Some((what, t)) = self.step(s, cpu) {
                out.push((Step { cpu, what }, t));
            }
        }
    }

    fn check(&self, s: &State) -> Result<(), Violation> {
        if let Some(v) = &s.broken {
            return Err(v.clone());
        }
        let live: Vec<_> = s.vms.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v.memory))).collect();
        for (n, &(i, a)) in live.iter().enumerate() {
            for &(j, b) in &live[n + 1..] {
                if a.overlaps(&b) {
                    return Err(Violation::new(
                        Property::DisjointVms,
                        format!("VMs {} and {} both own {a:x?} / {b:x?}", i + 1, j + 1),
                    ));
                }
            }
            if bits(a) & s.host_mapped != 0 {
                return Err(Violation::new(
                    Property::HostUnmapped,
                    format!("VM {}'s memory {a:x?} is mapped for the host", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn finished(&self, s: &State) -> bool {
        s.cpus.iter().all(|c| c.pc == Pc::Done)
    }

    fn check_final(&self, s: &State) -> Result<(), Violation> {
        let clean = s.donations.iter().all(Option::is_none)
            && s.vms.iter().all(Option::is_none)
            && s.vm_locks.iter().all(Option::is_none)
            && s.donations_lock.is_none()
            && s.host_mapped == ALL_BLOCKS;
        if clean { Ok(()) } else { Err(Violation::new(Property::NoLeak, "every host call done, yet something is still taken")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::explorer::checks::{self, Situation};
    use Call::*;


    /// Two CPUs: CPU 0 makes a VM on block 0, loads it from block 1, runs it and destroys it;
    /// CPU 1 donates block 1 (VM_LOAD's source) and then block 0 (CPU 0's VM), with two slots,
    /// so BUSY is never right.
    fn two_cpus(bug: Bug) -> VmModel {
        VmModel {
            bug,
            slots: 2,
            scripts: vec![
                vec![Create(blocks(0, 1)), Load(blocks(1, 1)), Run, Destroy],
                vec![Create(blocks(1, 1)), Destroy, Create(blocks(0, 1)), Destroy],
            ],
        }
    }

    /// Three CPUs and two slots, so BUSY does happen: a third CPU donates blocks 1 and 2 at
    /// once, after trying to destroy VM 1 by handle (a VM that may not exist yet, or be CPU 0's).
    fn three_cpus(bug: Bug) -> VmModel {
        VmModel {
            bug,
            slots: 2,
            scripts: vec![
                vec![Create(blocks(0, 1)), Load(blocks(1, 1)), Run, Destroy],
                vec![Create(blocks(1, 1)), Destroy],
                vec![DestroyHandle(1), Create(blocks(1, 2)), Destroy],
            ],
        }
    }

    fn holds(model: VmModel, name: &str) {
        checks::holds("vm model", &model, name);
    }

    /// Situations the three-CPU scripts must reach for the search to mean something.
    #[test]
    fn three_cpus_reach_every_race() {
        let model = three_cpus(Bug::None);
        let waits = |s: &State, pc, i: usize| {
            let c = &s.cpus[i];
            c.pc == pc && s.vm_locks[usize::from(c.slot)].is_some_and(|h| usize::from(h) != i)
        };
        let at = |s: &State, pc, i: usize| s.cpus[i].pc == pc && s.donations_lock == Some(i as u8);
        let src_donated = |s: &State, i: usize| donated(&s.donations, s.cpus[i].memory.unwrap());
        let situations: [Situation<State>; 6] = [
            ("VM_LOAD copies", &|s, i| s.cpus[i].pc == Pc::LoadCopy),
            ("VM_LOAD refuses a donated source", &|s, i| s.cpus[i].pc == Pc::LoadCheck && src_donated(s, i)),
            ("VM_CREATE finds every slot taken", &|s, i| at(s, Pc::CreateClaim, i) && s.donations.iter().all(Option::is_some)),
            ("VM_CREATE finds its memory donated", &|s, i| at(s, Pc::CreateClaim, i) && src_donated(s, i)),
            ("VM_CREATE waits for a slot lock held elsewhere", &|s, i| waits(s, Pc::CreateLockVm, i)),
            ("VM_DESTROY waits for a running vCPU", &|s, i| {
                waits(s, Pc::DestroyTryLockVm, i) && s.vms[usize::from(s.cpus[i].slot)].is_some()
            }),
        ];
        checks::reaches(&model, model.scripts.len(), &situations);
    }

    fn finds(model: VmModel, expected: &[Property]) {
        checks::finds("vm model", &model, model.bug, expected);
    }

    #[test]
    fn every_property_holds_for_two_cpus() {
        holds(two_cpus(Bug::None), "2 CPUs");
    }

    #[test]
    fn every_property_holds_for_three_cpus() {
        holds(three_cpus(Bug::None), "3 CPUs");
    }

    /// Defect 1, VM_CREATE half: two CPUs donating overlapping memory both pass the check.
    #[test]
    fn check_then_claim_donates_memory_twice() {
        let model = VmModel {
            bug: Bug::CheckThenClaim,
            slots: 2,
            scripts: vec![vec![Create(blocks(0, 1)), Destroy], vec![Create(blocks(0, 2)), Destroy]],
        };
        finds(model, &[Property::DisjointVms]);
    }

    /// Defect 1, VM_LOAD half: the source is donated between the check and the copy.
    #[test]
    fn check_then_copy_reads_a_vms_memory() {
        let model = VmModel {
            bug: Bug::CheckThenClaim,
            slots: 2,
            scripts: vec![vec![Create(blocks(0, 1)), Load(blocks(1, 1)), Destroy], vec![Create(blocks(1, 1)), Destroy]],
        };
        finds(model, &[Property::LoadFromHost]);
    }

    /// The whole two-CPU scripts with defect 1 break one of the ownership properties.
    #[test]
    fn check_then_claim_is_found_in_the_full_scripts() {
        finds(two_cpus(Bug::CheckThenClaim), &[Property::DisjointVms, Property::LoadFromHost, Property::HostUnmapped]);
    }

    /// Defect 8: a VM_CREATE racing a VM_DESTROY gets BUSY while a slot is free.
    #[test]
    fn early_release_answers_busy_with_a_free_slot() {
        finds(two_cpus(Bug::EarlyRelease), &[Property::BusyOnlyWhenFull]);
    }

    #[test]
    fn the_psci_defects_do_not_touch_vm_ownership() {
        holds(two_cpus(Bug::LockAcrossCpuOff), "2 CPUs, lock across CPU_OFF");
        holds(two_cpus(Bug::SharedEntrySlot), "2 CPUs, shared entry slot");
        holds(two_cpus(Bug::NoClaim), "2 CPUs, no claim");
    }
}
