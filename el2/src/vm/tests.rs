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

#[test]
fn lifecycle() {
    let slots = [const { VmSlot::new() }; MAX_VMS];
    let vms = Vms { slots: &slots };
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
    let slots = [const { VmSlot::new() }; MAX_VMS];
    let vms = Vms { slots: &slots };
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
    let slots = [const { VmSlot::new() }; MAX_VMS];
    let vms = Vms { slots: &slots };
    let mut m = Machine::new();
    let h = vms.create(&mut m, 0x5000_0000, MB).unwrap();
    let _running = slots[0].vm.lock();
    assert_eq!(vms.destroy(&mut m, h), Err(SmcccError::Busy));
    assert_eq!(vms.vcpu_run(&mut m, h, 0, HostEvents::default()), Err(SmcccError::Busy));
    assert_eq!(vms.load(&mut m, h, 0x4a00_0000, 4096, 0), Err(SmcccError::Busy));
    // Another CPU can still create VMs meanwhile.
    assert_eq!(vms.create(&mut m, 0x5100_0000, MB), Ok(2));
}
