// SPDX-License-Identifier: MIT OR Apache-2.0

//! VM bookkeeping against a recording machine.

use super::*;
use std::vec::Vec;

struct Machine {
    ram: [Region; 1],
    unmapped: Vec<Region>,
    zeroed: Vec<(u64, u64)>,
    copies: Vec<(u64, u64, u64)>,
    runs: usize,
}

impl Machine {
    fn new() -> Self {
        Self { ram: [Region::new(0x4000_0000, 0x2000_0000)], unmapped: Vec::new(), zeroed: Vec::new(), copies: Vec::new(), runs: 0 }
    }
}

impl VmHw for Machine {
    fn host_ram(&self) -> &[Region] {
        &self.ram
    }
    fn firmware(&self) -> Region {
        Region::new(0x6000_0000, 0x40_0000)
    }
    fn host_unmap(&mut self, region: Region) -> Result<(), MapError> {
        self.unmapped.push(region);
        Ok(())
    }
    fn host_map(&mut self, region: Region) -> Result<(), MapError> {
        self.unmapped.retain(|r| *r != region);
        Ok(())
    }
    fn zero(&mut self, pa: u64, len: u64) {
        self.zeroed.push((pa, len));
    }
    fn copy(&mut self, dst: u64, src: u64, len: u64) {
        self.copies.push((dst, src, len));
    }
    fn flush_guest_tlb(&mut self, _vttbr: u64) {}
    fn pmu_capacity(&self) -> u8 {
        2
    }
    fn host_counter_mask(&self) -> u64 {
        0b1111 | 1 << 31
    }
    fn run(&mut self, _vm: &Vm, vcpu: &mut Vcpu, _events: HostEvents) -> Exit {
        self.runs += 1;
        vcpu.done = true;
        Exit::Done(0)
    }
}

const MB: u64 = 2 << 20; // the donation granule

fn table() -> ([VmSlot; MAX_VMS], Donations) {
    ([const { VmSlot::new() }; MAX_VMS], Donations::new())
}

#[test]
fn lifecycle() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let mut m = Machine::new();
    let h = vms.create(&mut m, 0x5000_0000, 16 * MB).unwrap();
    assert_eq!(h, 1);
    assert_eq!(m.unmapped, [Region::new(0x5000_0000, 16 * MB)]);
    assert_eq!(m.zeroed, [(0x5000_0000, 16 * MB)]);
    vms.load(&mut m, h, 0x4a00_0000, 0x1000, 0).unwrap();
    assert_eq!(m.copies, [(0x5000_0000, 0x4a00_0000, 0x1000)]);
    let big = vms.vcpu_create(h, GUEST_RAM_BASE, 3, 0, 5).unwrap();
    assert_eq!(vms.vcpu_run(&mut m, h, big, HostEvents::default()), Err(SmcccError::NotReserved), "more counters than reserved");
    let bad = [HostEvents { host_only: 1 << 4, guest_only: 0 }, HostEvents { host_only: 1, guest_only: 1 }, HostEvents { host_only: 0, guest_only: 1 << 32 }];
    for events in bad {
        assert_eq!(vms.vcpu_run(&mut m, h, big, events), Err(SmcccError::InvalidParameter), "{events:?}");
    }
    let v = vms.vcpu_create(h, GUEST_RAM_BASE, 2, 0, 5).unwrap();
    assert_eq!(vms.vcpu_run(&mut m, h, v, HostEvents::default()), Ok(Exit::Done(0)));
    // Done vCPUs do not run again, and a started VM takes no more images.
    assert_eq!(vms.vcpu_run(&mut m, h, v, HostEvents::default()), Err(SmcccError::Denied));
    assert_eq!(vms.load(&mut m, h, 0x4a00_0000, 0x1000, 0), Err(SmcccError::Denied));
    vms.destroy(&mut m, h).unwrap();
    assert!(m.unmapped.is_empty());
    assert_eq!(m.zeroed.len(), 2, "scrubbed on the way back");
    assert_eq!(vms.vcpu_run(&mut m, h, v, HostEvents::default()), Err(SmcccError::InvalidParameter));
    assert_eq!(vms.destroy(&mut m, h), Err(SmcccError::InvalidParameter));
    // The slot and the memory can be used again.
    assert_eq!(vms.create(&mut m, 0x5000_0000, 16 * MB), Ok(1));
}

#[test]
fn donation_checks() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let mut m = Machine::new();
    let bad = [
        (0x5000_0001, MB),               // unaligned
        (0x5010_0000, MB),               // not on a 2 MiB boundary
        (0x5000_0000, 0),                // empty
        (0x5000_0000, 0x1000),           // not whole 2 MiB blocks
        (0x5000_0000, MAX_VM_MEMORY + 4096), // too big
        (0x5fe0_0000, 2 * MB),           // runs into EL2's memory
        (0x6000_0000, MB),               // EL2's memory
        (0x0800_0000, MB),               // MMIO
        (0x7fe0_0000, 2 * MB),           // past the end of RAM
        (u64::MAX - (MB - 1), MB),       // overflow
    ];
    for (pa, size) in bad {
        assert_eq!(vms.create(&mut m, pa, size), Err(SmcccError::InvalidParameter), "{pa:#x}+{size:#x}");
    }
    assert!(m.unmapped.is_empty() && m.zeroed.is_empty(), "refusals change nothing");
    let h = vms.create(&mut m, 0x5000_0000, MB).unwrap();
    assert_eq!(vms.create(&mut m, 0x5000_0000, 2 * MB), Err(SmcccError::Denied), "already donated");
    // A VM's own memory, or EL2's, is no source for an image.
    assert_eq!(vms.load(&mut m, h, 0x5000_0000, 4096, 0), Err(SmcccError::InvalidParameter));
    assert_eq!(vms.load(&mut m, h, 0x6000_0000, 4096, 0), Err(SmcccError::InvalidParameter));
    assert_eq!(vms.load(&mut m, h, 0x4a00_0000, 4096, MB), Err(SmcccError::InvalidParameter), "past the VM's memory");
    assert_eq!(vms.load(&mut m, h, 0x4a00_0000, u64::MAX, 0), Err(SmcccError::InvalidParameter));
    assert_eq!(vms.load(&mut m, 9, 0x4a00_0000, 4096, 0), Err(SmcccError::InvalidParameter));
    assert_eq!(vms.vcpu_create(h, 0x3fff_fffc, 0, 0, 5), Err(SmcccError::InvalidParameter), "entry outside");
    assert_eq!(vms.vcpu_create(h, GUEST_RAM_BASE, 6, 0, 5), Err(SmcccError::InvalidParameter), "too many counters");
    for _ in 0..MAX_VCPUS {
        vms.vcpu_create(h, GUEST_RAM_BASE, 0, 0, 5).unwrap();
    }
    assert_eq!(vms.vcpu_create(h, GUEST_RAM_BASE, 0, 0, 5), Err(SmcccError::Busy));
    assert_eq!(vms.vcpu_run(&mut m, h, MAX_VCPUS as u64, HostEvents::default()), Err(SmcccError::InvalidParameter));
    for i in 1..MAX_VMS as u64 {
        vms.create(&mut m, 0x5000_0000 + i * MB, MB).unwrap();
    }
    assert_eq!(vms.create(&mut m, 0x5800_0000, MB), Err(SmcccError::Busy), "no free slot");
}

#[test]
fn a_running_vm_cannot_be_destroyed() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let mut m = Machine::new();
    let h = vms.create(&mut m, 0x5000_0000, MB).unwrap();
    let _running = slots[0].vm.lock();
    assert_eq!(vms.destroy(&mut m, h), Err(SmcccError::Busy));
    assert_eq!(vms.vcpu_run(&mut m, h, 0, HostEvents::default()), Err(SmcccError::Busy));
    assert_eq!(vms.load(&mut m, h, 0x4a00_0000, 4096, 0), Err(SmcccError::Busy));
    // Another CPU can still create VMs meanwhile.
    assert_eq!(vms.create(&mut m, 0x5100_0000, MB), Ok(2));
}

// ---------------------------------------------------------------------------------------------
// Races between CPUs (issue 8, defects 1 and 8), with threads standing in for CPUs. Each claim is
// checked against what a correct EL2 guarantees: a VM is counted live only between a successful
// VM_CREATE and the VM_DESTROY that follows it, so two live VMs on one range mean two CPUs were
// both given the memory.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

const ROUNDS: usize = 20_000;

/// The recording machine with hooks for the race tests: `start` lines the CPUs up just before
/// VM_CREATE's checks (`host_ram` is read right before them), and `copy` watches `donated` for as
/// long as a real copy would take.
struct Racer<'a> {
    m: Machine,
    /// Two CPUs spin here until both have arrived for this round (a spinning barrier lines them
    /// up within nanoseconds; a sleeping one wakes them microseconds apart).
    start: Option<&'a AtomicUsize>,
    round: std::cell::Cell<usize>,
    donated: &'a AtomicBool,
    bad: &'a AtomicUsize,
}

impl VmHw for Racer<'_> {
    fn host_ram(&self) -> &[Region] {
        if let Some(arrived) = self.start {
            let round = self.round.get() + 1;
            self.round.set(round);
            arrived.fetch_add(1, SeqCst);
            while arrived.load(SeqCst) < 2 * round {
                std::hint::spin_loop();
            }
        }
        self.m.host_ram()
    }
    fn firmware(&self) -> Region {
        self.m.firmware()
    }
    fn host_unmap(&mut self, r: Region) -> Result<(), MapError> {
        self.m.host_unmap(r)
    }
    fn host_map(&mut self, r: Region) -> Result<(), MapError> {
        self.m.host_map(r)
    }
    fn zero(&mut self, pa: u64, len: u64) {
        self.m.zero(pa, len)
    }
    fn copy(&mut self, _dst: u64, _src: u64, _len: u64) {
        for _ in 0..2000 {
            if self.donated.load(SeqCst) {
                self.bad.fetch_add(1, SeqCst);
                return;
            }
            std::hint::spin_loop();
        }
    }
    fn flush_guest_tlb(&mut self, _: u64) {}
    fn pmu_capacity(&self) -> u8 {
        0
    }
    fn host_counter_mask(&self) -> u64 {
        0
    }
    fn run(&mut self, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents) -> Exit {
        self.m.run(vm, vcpu, events)
    }
}

#[test]
fn concurrent_creates_on_the_same_memory_never_both_succeed() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let (live, created, twice) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let (start, unused, none) = (AtomicUsize::new(0), AtomicBool::new(false), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for cpu in 0..2u64 {
            let (vms, live, created, twice) = (&vms, &live, &created, &twice);
            let mut m = Racer { m: Machine::new(), start: Some(&start), round: 0.into(), donated: &unused, bad: &none };
            s.spawn(move || {
                for _ in 0..ROUNDS {
                    // The same 2 MiB, or a 4 MiB range overlapping it.
                    let (pa, size) = if cpu == 0 { (0x5000_0000, MB) } else { (0x4fe0_0000, 2 * MB) };
                    if let Ok(h) = vms.create(&mut m, pa, size) {
                        created.fetch_add(1, SeqCst);
                        if live.fetch_add(1, SeqCst) != 0 {
                            twice.fetch_add(1, SeqCst);
                        }
                        live.fetch_sub(1, SeqCst);
                        vms.destroy(&mut m, h).unwrap();
                    }
                }
            });
        }
    });
    assert!(created.load(SeqCst) > 0);
    assert_eq!(twice.load(SeqCst), 0, "memory donated to two VMs at once");
    assert!(!donations.overlaps(Region::new(0, u64::MAX)), "a donation leaked");
}

#[test]
fn busy_only_when_every_slot_is_taken() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let busy = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // Two CPUs, each creating and destroying its own VM on its own memory: two slots at most
        // are ever in use, so BUSY ("no free slot") is never the right answer.
        for cpu in 0..2u64 {
            let (vms, busy) = (&vms, &busy);
            s.spawn(move || {
                let mut m = Machine::new();
                for _ in 0..ROUNDS {
                    match vms.create(&mut m, 0x5000_0000 + cpu * 4 * MB, MB) {
                        Ok(h) => vms.destroy(&mut m, h).unwrap(),
                        Err(SmcccError::Busy) => _ = busy.fetch_add(1, SeqCst),
                        Err(e) => panic!("{e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(busy.load(SeqCst), 0, "BUSY with free slots");
}

/// A VM_LOAD's source that another CPU donates meanwhile: the copy must never read memory that a
/// VM owns.
#[test]
fn load_never_copies_from_memory_a_vm_owns() {
    let (slots, donations) = table();
    let vms = Vms { slots: &slots, donations: &donations };
    let (donated, bad) = (AtomicBool::new(false), AtomicUsize::new(0));
    let source = 0x5400_0000;
    let target = vms.create(&mut Machine::new(), 0x5000_0000, MB).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut m = Machine::new();
            for _ in 0..ROUNDS {
                if let Ok(h) = vms.create(&mut m, source, MB) {
                    // Marked donated only while the VM surely exists.
                    donated.store(true, SeqCst);
                    for _ in 0..2000 {
                        std::hint::spin_loop();
                    }
                    donated.store(false, SeqCst);
                    vms.destroy(&mut m, h).unwrap();
                }
            }
            stop.store(true, SeqCst);
        });
        s.spawn(|| {
            let mut m = Racer { m: Machine::new(), start: None, round: 0.into(), donated: &donated, bad: &bad };
            while !stop.load(SeqCst) {
                let _ = vms.load(&mut m, target, source, 4096, 0);
            }
        });
    });
    assert_eq!(bad.load(SeqCst), 0, "VM_LOAD copied from a VM's memory");
}
