// SPDX-License-Identifier: MIT OR Apache-2.0

//! Fuzzing the VM manager (`Vms` and `Donations`) against a model machine that tracks which 2 MiB
//! blocks the host's stage-2 maps and which hold something the host must never see.
//!
//! Random sequences of VM_CREATE / VM_LOAD / VCPU_CREATE / VCPU_RUN / VM_DESTROY with (mostly
//! nasty) arguments, some made while another CPU runs the VM (its lock held), some with the host
//! unmap failing. After every step:
//! - every call succeeded exactly when no documented error applied (docs/abi.md section 10), and
//!   a refused one failed with one of the errors that applied;
//! - no donated byte is mapped for the host, and nothing else is unmapped; no byte is in two VMs;
//!   every live VM's memory is unmapped; live VMs and recorded donations are the same slots;
//! - the machine saw no forbidden operation: a copy from memory that is not the host's or into
//!   memory that is not the VM's, a double unmap, memory given back unzeroed, a guest run on
//!   memory the host still maps or with counters or masks the caller had to refuse.
//!
//! At the end every VM is destroyed: the host mapping is whole again and no slot is leaked.
//!
//! In the crate rather than in `el2/tests`, to read the donation table itself.

#[path = "../../tests/support/mod.rs"]
mod support;

use super::*;
use aarch64_paging::descriptor::VirtualAddress;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::format;
use std::string::String;
use std::vec::Vec;

const BLOCK: u64 = DONATION_GRANULE;
/// Host RAM: two banks. The first also holds EL2's memory, so that "not EL2's" is a check of its
/// own and not implied by "inside RAM".
const BANKS: [Region; 2] = [Region::new(0x4000_0000, 0x4000_0000), Region::new(0x1_0000_0000, 0x1000_0000)];
const FIRMWARE: Region = Region::new(0x6000_0000, 0x40_0000);

/// The blocks a byte range touches.
fn blocks(base: u64, len: u64) -> impl Iterator<Item = u64> {
    let last = if len == 0 { base / BLOCK } else { (base + len - 1) / BLOCK };
    (base / BLOCK..=last).filter(move |_| len != 0)
}

struct Machine {
    /// Blocks the host's stage-2 does not map.
    unmapped: BTreeSet<u64>,
    /// Blocks holding a guest's data (or an image copied in): never to reach the host unzeroed.
    dirty: BTreeSet<u64>,
    /// The next host_unmap fails.
    fail_unmap: bool,
    capacity: u8,
    host_mask: u64,
    /// What the next run's guest does: exit code and whether it calls GUEST_DONE.
    exit: u8,
    violations: Vec<String>,
}

impl Machine {
    fn host_maps(&self, base: u64, len: u64) -> bool {
        blocks(base, len).all(|b| !self.unmapped.contains(&b))
    }
}

impl VmHw for Machine {
    fn host_ram(&self) -> &[Region] {
        &BANKS
    }
    fn firmware(&self) -> Region {
        FIRMWARE
    }
    fn host_unmap(&mut self, r: Region) -> Result<(), MapError> {
        if !r.base.is_multiple_of(BLOCK) || !r.size.is_multiple_of(BLOCK) || r.size == 0 {
            self.violations.push(format!("unmap of a partial block {r:x?}"));
        }
        if !self.host_maps(r.base, r.size) {
            self.violations.push(format!("unmap of memory the host does not have {r:x?}"));
        }
        if core::mem::take(&mut self.fail_unmap) {
            return Err(MapError::AddressRange(VirtualAddress(r.base as usize)));
        }
        self.unmapped.extend(blocks(r.base, r.size));
        Ok(())
    }
    fn host_map(&mut self, r: Region) -> Result<(), MapError> {
        for b in blocks(r.base, r.size) {
            if !self.unmapped.remove(&b) {
                self.violations.push(format!("map of block {b:#x}, which the host has"));
            }
            if self.dirty.contains(&b) {
                self.violations.push(format!("block {b:#x} back to the host with a guest's data"));
            }
        }
        Ok(())
    }
    fn zero(&mut self, pa: u64, len: u64) {
        if !blocks(pa, len).all(|b| self.unmapped.contains(&b)) {
            self.violations.push(format!("zeroing memory the host maps {pa:#x}+{len:#x}"));
        }
        // Donations are whole blocks, and so is every zeroing.
        for b in blocks(pa, len) {
            self.dirty.remove(&b);
        }
    }
    fn copy(&mut self, dst: u64, src: u64, len: u64) {
        let host_ram = BANKS.iter().any(|m| src >= m.base && src + len <= m.end());
        if !host_ram || Region::new(src, len).overlaps(&FIRMWARE) || !self.host_maps(src, len) {
            self.violations.push(format!("copy from {src:#x}+{len:#x}: not the host's"));
        }
        if !blocks(dst, len).all(|b| self.unmapped.contains(&b)) {
            self.violations.push(format!("copy to {dst:#x}+{len:#x}: memory the host maps"));
        }
        self.dirty.extend(blocks(dst, len));
    }
    fn flush_guest_tlb(&mut self, _vttbr: u64) {}
    fn pmu_capacity(&self) -> u8 {
        self.capacity
    }
    fn host_counter_mask(&self) -> u64 {
        self.host_mask
    }
    fn run(&mut self, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents) -> Exit {
        if !blocks(vm.memory.base, vm.memory.size).all(|b| self.unmapped.contains(&b)) {
            self.violations.push(format!("a guest runs on memory the host maps {:x?}", vm.memory));
        }
        if vcpu.pmu_counters > self.capacity || vcpu.done {
            self.violations.push(format!("vCPU run with {} counters for {}, done {}", vcpu.pmu_counters, self.capacity, vcpu.done));
        }
        if (events.host_only | events.guest_only) & !self.host_mask != 0 || events.host_only & events.guest_only != 0 {
            self.violations.push(format!("run with bad masks {events:x?}"));
        }
        self.dirty.extend(blocks(vm.memory.base, vm.memory.size));
        match self.exit % 5 {
            0 => {
                vcpu.done = true;
                Exit::Done(7)
            }
            1 => Exit::Report([1, 2, 3]),
            2 => Exit::HostInterrupt,
            3 => Exit::Stage2Fault { ipa: 0, esr: 0 },
            _ => Exit::Unexpected { esr: 0, pc: 0 },
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Create { pa: u64, size: u64, unmap_fails: bool },
    Load { handle: u64, src: u64, size: u64, offset: u64 },
    VcpuCreate { handle: u64, entry: u64, k: u64 },
    Run { handle: u64, vcpu: u64, host_only: u64, guest_only: u64, exit: u8 },
    Destroy { handle: u64 },
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// Another CPU runs this slot's VM meanwhile (holds its lock), if it has one.
    held: Option<usize>,
}

fn handle() -> impl Strategy<Value = u64> {
    // Mostly the slots that are in use (the first free one is taken first).
    prop_oneof![8 => 1u64..=2, 4 => 0u64..=6, 1 => any::<u64>(), 1 => Just(u64::MAX)]
}

fn donation() -> impl Strategy<Value = (u64, u64)> {
    let in_bank = (0usize..2, 0u64..128).prop_map(|(b, i)| BANKS[b].base + i * BLOCK % BANKS[b].size);
    let edges = prop::sample::select(vec![
        FIRMWARE.base - BLOCK,
        FIRMWARE.base,
        FIRMWARE.end(),
        BANKS[0].base - BLOCK,
        BANKS[0].end() - BLOCK,
        BANKS[1].end() - 2 * BLOCK,
        BANKS[1].end(),
        0,
        u64::MAX - BLOCK + 1,
    ]);
    let pa = prop_oneof![6 => in_bank, 2 => edges, 1 => any::<u64>(), 1 => 0x4000_0000u64..0x8000_0000];
    let size = prop_oneof![6 => (1u64..=4).prop_map(|n| n * BLOCK), 3 => (0u64..=34).prop_map(|n| n * BLOCK), 1 => Just(0x1000u64), 1 => any::<u64>()];
    (pa, size)
}

fn op() -> impl Strategy<Value = Op> {
    let addr = prop_oneof![
        4 => (0u64..0x4000_0000).prop_map(|o| BANKS[0].base + o),
        2 => (0u64..0x1000_0000).prop_map(|o| BANKS[1].base + (o & !0xfff)),
        1 => Just(FIRMWARE.base),
        1 => any::<u64>(),
    ];
    let len = prop_oneof![4 => 1u64..0x1_0000, 2 => (1u64..=32).prop_map(|n| n * BLOCK), 1 => Just(0u64), 1 => any::<u64>()];
    let mask = prop_oneof![6 => Just(0u64), 3 => 0u64..0x40, 1 => Just(1u64 << 31), 1 => any::<u64>()];
    prop_oneof![
        4 => (donation(), prop::bool::weighted(0.1)).prop_map(|((pa, size), unmap_fails)| Op::Create { pa, size, unmap_fails }),
        2 => (handle(), addr, len.clone(), prop_oneof![3 => 0u64..0x40_0000, 1 => any::<u64>()])
            .prop_map(|(handle, src, size, offset)| Op::Load { handle, src, size, offset }),
        3 => (handle(), prop_oneof![6 => (0u64..0x10_0000).prop_map(|o| GUEST_RAM_BASE + 4 * o), 1 => (0u64..0x40_0000).prop_map(|o| GUEST_RAM_BASE + o), 1 => any::<u64>()], prop_oneof![6 => 0u64..4, 2 => 4u64..9, 1 => any::<u64>()])
            .prop_map(|(handle, entry, k)| Op::VcpuCreate { handle, entry, k }),
        4 => (handle(), prop_oneof![5 => 0u64..2, 2 => 0u64..5, 1 => any::<u64>()], mask.clone(), mask, any::<u8>())
            .prop_map(|(handle, vcpu, host_only, guest_only, exit)| Op::Run { handle, vcpu, host_only, guest_only, exit }),
        2 => handle().prop_map(|handle| Op::Destroy { handle }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (op(), prop_oneof![6 => Just(None), 1 => (0usize..MAX_VMS).prop_map(Some)]).prop_map(|(op, held)| Step { op, held })
}

/// What the model knows about a live VM.
#[derive(Clone, Copy, Debug)]
struct Live {
    memory: Region,
    started: bool,
    /// Counters of each vCPU, and whether it called GUEST_DONE.
    vcpus: [(u64, bool); MAX_VCPUS],
    count: usize,
}

/// What the model expects of the VM table.
struct Model {
    vms: [Option<Live>; MAX_VMS],
    max_counters: u8,
}

fn within(r: Region) -> bool {
    BANKS.iter().any(|m| r.base >= m.base && r.end() <= m.end())
}

impl Model {
    /// The live VM a handle names, if any.
    fn live(&self, handle: u64) -> Option<(usize, Live)> {
        let i = usize::try_from(handle.checked_sub(1)?).ok()?;
        self.vms.get(i).copied().flatten().map(|l| (i, l))
    }

    fn overlaps_a_vm(&self, r: Region) -> bool {
        self.vms.iter().flatten().any(|l| l.memory.overlaps(&r))
    }

    /// Applies one call; checks its answer against every documented reason to refuse it.
    fn apply(&mut self, vms: &Vms<'_>, m: &mut Machine, op: &Op, held: Option<usize>) -> Result<(), TestCaseError> {
        use SmcccError::*;
        let mut reasons: Vec<SmcccError> = Vec::new();
        let busy = |i: usize| held == Some(i);
        match *op {
            Op::Create { pa, size, unmap_fails } => {
                let ok_shape = size != 0 && size <= MAX_VM_MEMORY && pa % BLOCK == 0 && size % BLOCK == 0 && pa.checked_add(size).is_some();
                if !ok_shape {
                    reasons.push(InvalidParameter);
                } else {
                    let r = Region::new(pa, size);
                    if !within(r) || r.overlaps(&FIRMWARE) {
                        reasons.push(InvalidParameter);
                    }
                    if self.overlaps_a_vm(r) {
                        reasons.push(Denied);
                    }
                }
                if self.vms.iter().all(Option::is_some) {
                    reasons.push(Busy);
                }
                m.fail_unmap = unmap_fails;
                let got = vms.create(m, pa, size);
                m.fail_unmap = false;
                if reasons.is_empty() && unmap_fails {
                    reasons.push(Busy);
                }
                match got {
                    Ok(h) => {
                        prop_assert!(reasons.is_empty(), "create({:#x}, {:#x}) granted despite {:?}", pa, size, reasons);
                        let i = self.vms.iter().position(Option::is_none).unwrap();
                        prop_assert_eq!(h, i as u64 + 1, "not the first free slot");
                        self.vms[i] = Some(Live { memory: Region::new(pa, size), started: false, vcpus: [(0, false); MAX_VCPUS], count: 0 });
                    }
                    Err(e) => prop_assert!(reasons.contains(&e), "create({:#x}, {:#x}): {:?}, expected one of {:?}", pa, size, e, reasons),
                }
            }
            Op::Load { handle, src, size, offset } => {
                match self.live(handle) {
                    None => reasons.push(InvalidParameter),
                    Some((i, l)) => {
                        if busy(i) {
                            reasons.push(Busy);
                        }
                        if l.started {
                            reasons.push(Denied);
                        }
                        let source_ok = src.checked_add(size).is_some_and(|_| {
                            let s = Region::new(src, size);
                            within(s) && !s.overlaps(&FIRMWARE) && !self.overlaps_a_vm(s)
                        });
                        if size == 0 || offset.checked_add(size).is_none_or(|end| end > l.memory.size) || !source_ok {
                            reasons.push(InvalidParameter);
                        }
                    }
                }
                match vms.load(m, handle, src, size, offset) {
                    Ok(()) => prop_assert!(reasons.is_empty(), "load granted despite {:?}", reasons),
                    Err(e) => prop_assert!(reasons.contains(&e), "load: {:?}, expected one of {:?}", e, reasons),
                }
            }
            Op::VcpuCreate { handle, entry, k } => {
                match self.live(handle) {
                    None => reasons.push(InvalidParameter),
                    Some((i, l)) => {
                        if busy(i) || l.count == MAX_VCPUS {
                            reasons.push(Busy);
                        }
                        if entry < GUEST_RAM_BASE || entry >= GUEST_RAM_BASE + l.memory.size || entry % 4 != 0 || k > u64::from(self.max_counters) {
                            reasons.push(InvalidParameter);
                        }
                    }
                }
                match vms.vcpu_create(handle, entry, k, 0, self.max_counters) {
                    Ok(v) => {
                        prop_assert!(reasons.is_empty(), "vcpu_create granted despite {:?}", reasons);
                        let live = self.vms[handle as usize - 1].as_mut().unwrap();
                        prop_assert_eq!(v, live.count as u64);
                        live.vcpus[live.count] = (k, false);
                        live.count += 1;
                    }
                    Err(e) => prop_assert!(reasons.contains(&e), "vcpu_create: {:?}, expected one of {:?}", e, reasons),
                }
            }
            Op::Run { handle, vcpu, host_only, guest_only, exit } => {
                if (host_only | guest_only) & !m.host_mask != 0 || host_only & guest_only != 0 {
                    reasons.push(InvalidParameter);
                }
                match self.live(handle) {
                    None => reasons.push(InvalidParameter),
                    Some((i, l)) => {
                        if busy(i) {
                            reasons.push(Busy);
                        }
                        match usize::try_from(vcpu).ok().filter(|&v| v < l.count) {
                            None => reasons.push(InvalidParameter),
                            Some(v) => {
                                if l.vcpus[v].1 {
                                    reasons.push(Denied);
                                }
                                if l.vcpus[v].0 > u64::from(m.capacity) {
                                    reasons.push(NotReserved);
                                }
                            }
                        }
                    }
                }
                m.exit = exit;
                match vms.vcpu_run(m, handle, vcpu, HostEvents { host_only, guest_only }) {
                    Ok(e) => {
                        prop_assert!(reasons.is_empty(), "run granted despite {:?}", reasons);
                        let live = self.vms[handle as usize - 1].as_mut().unwrap();
                        live.started = true;
                        live.vcpus[vcpu as usize].1 = matches!(e, Exit::Done(_));
                    }
                    Err(e) => prop_assert!(reasons.contains(&e), "run: {:?}, expected one of {:?}", e, reasons),
                }
            }
            Op::Destroy { handle } => {
                match self.live(handle) {
                    None => reasons.push(InvalidParameter),
                    Some((i, _)) if busy(i) => reasons.push(Busy),
                    Some(_) => {}
                }
                match vms.destroy(m, handle) {
                    Ok(()) => {
                        prop_assert!(reasons.is_empty(), "destroy granted despite {:?}", reasons);
                        self.vms[handle as usize - 1] = None;
                    }
                    Err(e) => prop_assert!(reasons.contains(&e), "destroy: {:?}, expected one of {:?}", e, reasons),
                }
            }
        }
        Ok(())
    }

    /// The memory invariants, from the manager's own tables and the machine.
    fn check(&self, vms: &Vms<'_>, m: &Machine) -> Result<(), TestCaseError> {
        prop_assert!(m.violations.is_empty(), "{:?}", m.violations);
        let table = *vms.donations.0.lock();
        let mut donated = BTreeSet::new();
        for (i, d) in table.iter().enumerate() {
            let vm = vms.slots[i].vm.try_lock();
            prop_assert!(vm.is_some(), "slot {} left locked", i);
            let vm = vm.unwrap();
            match (d, vm.as_ref(), self.vms[i]) {
                (None, None, None) => {
                    for v in &vms.slots[i].vcpus {
                        prop_assert!(v.lock().is_none(), "a vCPU outlived its VM in slot {}", i);
                    }
                }
                (Some(d), Some(vm), Some(live)) => {
                    prop_assert_eq!(*d, vm.memory);
                    prop_assert_eq!(vm.memory, live.memory);
                    prop_assert_eq!((vm.started, vm.vcpus), (live.started, live.count));
                    for b in blocks(d.base, d.size) {
                        prop_assert!(m.unmapped.contains(&b), "block {:#x} of VM {} mapped for the host", b, i + 1);
                        prop_assert!(donated.insert(b), "block {:#x} in two VMs", b);
                    }
                }
                (d, vm, live) => prop_assert!(false, "slot {}: donation {:x?}, VM {}, model {:?}", i, d, vm.is_some(), live),
            }
        }
        prop_assert_eq!(&donated, &m.unmapped, "the host lost memory no VM has");
        Ok(())
    }
}

fn run(setup: (u8, u8, u64), steps: Vec<Step>) -> Result<u64, TestCaseError> {
    let (capacity, max_counters, host_mask) = setup;
    let (slots, donations) = ([const { VmSlot::new() }; MAX_VMS], Donations::new());
    let vms = Vms { slots: &slots, donations: &donations };
    let mut model = Model { vms: [None; MAX_VMS], max_counters };
    let mut m = Machine { unmapped: BTreeSet::new(), dirty: BTreeSet::new(), fail_unmap: false, capacity, host_mask, exit: 0, violations: Vec::new() };
    for step in &steps {
        // Another CPU in VCPU_RUN on this VM: only a live VM can be running (an empty slot's lock
        // is taken by VM_CREATE, which would wait for it).
        let held = step.held.filter(|&i| model.vms[i].is_some());
        let guard = held.map(|i| slots[i].vm.lock());
        let result = model.apply(&vms, &mut m, &step.op, held);
        drop(guard);
        result?;
        model.check(&vms, &m)?;
    }
    // Everything destroyed: the host has all its memory back, every slot is free.
    for h in 1..=MAX_VMS as u64 {
        model.apply(&vms, &mut m, &Op::Destroy { handle: h }, None)?;
        prop_assert!(model.vms[h as usize - 1].is_none(), "VM {} survived VM_DESTROY", h);
    }
    model.check(&vms, &m)?;
    prop_assert!(m.unmapped.is_empty());
    prop_assert!(donations.0.lock().iter().all(Option::is_none), "a slot leaked");
    Ok(steps.len() as u64 + MAX_VMS as u64)
}

#[test]
fn fuzz_vms() {
    let setup = (0u8..6, 0u8..8, prop_oneof![Just(0b1111u64 | 1 << 31), Just(0u64), any::<u32>().prop_map(u64::from)]);
    let input = (setup, prop::collection::vec(step(), 1..80));
    support::fuzz("vms", file!(), 1000, input, |(setup, steps)| run(setup, steps));
}
