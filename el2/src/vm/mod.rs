// SPDX-License-Identifier: MIT OR Apache-2.0

//! Partitions: protected VMs made from memory the host donates, pKVM style.
//!
//! The host donates a range of its RAM (`VM_CREATE`): EL2 takes it out of the host's stage-2,
//! zeroes it, and maps it into the VM's own stage-2 at [`GUEST_RAM_BASE`]. The host may copy an
//! image in (`VM_LOAD`, only before the VM first runs), create vCPUs and run them one at a time on
//! the calling CPU (`VCPU_RUN`), and finally destroy the VM: EL2 scrubs the memory and gives it
//! back. The host never sees the VM's memory while the VM exists, and the VM never sees anything
//! but its memory.
//!
//! This module is the bookkeeping and the checks; what touches the CPU (memory copies, stage-2
//! activation, the world switch) comes through [`VmHw`].

pub mod exits;
pub mod switch;
pub mod vcpu;

use aarch64_paging::MapError;
use platform::Region;
use smc_interface::{
    SmcccError,
    vm::{Exit, GUEST_RAM_BASE, HostEvents, MAX_VM_MEMORY, VM_MEMORY_GRANULE},
};
use alloc::boxed::Box;
use spin::mutex::SpinMutex;
pub use vcpu::Vcpu;

pub const MAX_VMS: usize = 4;
pub use smc_interface::vm::MAX_VCPUS;
/// Donations move in whole 2 MiB blocks of the host's stage-2 (see `host_stage2::build`).
const DONATION_GRANULE: u64 = crate::host_stage2::BLOCK_2M;
const _: () = assert!(DONATION_GRANULE == VM_MEMORY_GRANULE);

/// A VM's stage-2: guest addresses [GUEST_RAM_BASE, + size) onto the donated memory.
pub use el2_page_tables::guest_stage2::GuestStage2;

/// One VM.
pub struct Vm {
    pub memory: Region,
    pub stage2: GuestStage2,
    pub vmid: u16,
    /// Set when a vCPU first runs: the image can no longer change.
    pub started: bool,
    pub vcpus: usize,
}

// SAFETY: the page tables behind the mapping are only reached through the slot's lock.
unsafe impl Send for Vm {}

impl Vm {
    /// VTTBR_EL2 for this VM.
    pub fn vttbr(&self) -> u64 {
        self.stage2.root_address() | (u64::from(self.vmid) << 48)
    }
}

/// A VM slot. `vm` is held for as long as one of its vCPUs runs, so every other call on the VM
/// only ever *tries* that lock (and answers BUSY).
///
/// A vCPU lives on EL2's heap (at most MAX_VMS * MAX_VCPUS of them, about 1.5 KiB each): an empty
/// slot is then all zeros, so the table costs the image nothing (it sits in .bss).
pub struct VmSlot {
    pub vm: SpinMutex<Option<Vm>>,
    pub vcpus: [SpinMutex<Option<Box<Vcpu>>>; MAX_VCPUS],
}

impl VmSlot {
    pub const fn new() -> Self {
        Self { vm: SpinMutex::new(None), vcpus: [const { SpinMutex::new(None) }; MAX_VCPUS] }
    }
}

impl Default for VmSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// Which memory each VM slot owns, all under one lock: checking a range against every donation
/// and recording a new one is then a single step, so two CPUs can never both donate the same
/// memory. The lock is held only for table updates and for VM_LOAD's copy (whose source must stay
/// the host's until the copy is done), never across a guest run.
///
/// An entry is recorded before its slot's VM exists and cleared only after the VM is gone and its
/// memory is back in the host's stage-2: a slot whose entry is free is free.
pub struct Donations(SpinMutex<[Option<Region>; MAX_VMS]>);

impl Donations {
    pub const fn new() -> Self {
        Self(SpinMutex::new([None; MAX_VMS]))
    }

    /// Whether any VM owns part of `r`.
    pub fn overlaps(&self, r: Region) -> bool {
        donated(&*self.0.lock(), r)
    }
}

/// Whether a donation in `table` (the locked `Donations`) overlaps `r`.
pub(crate) fn donated(table: &[Option<Region>], r: Region) -> bool {
    table.iter().flatten().any(|m| m.overlaps(&r))
}

/// VM_CREATE's claim on the locked `Donations` table: refuses `memory` if any VM owns part of it,
/// else records it in the first free slot. One function so that the check and the claim can only
/// ever run under one lock (and so that the concurrency model in `crate::model` runs this code).
pub(crate) fn claim(table: &mut [Option<Region>], memory: Region) -> Result<usize, SmcccError> {
    if donated(table, memory) {
        return Err(SmcccError::Denied);
    }
    let index = table.iter().position(Option::is_none).ok_or(SmcccError::Busy)?;
    table[index] = Some(memory);
    Ok(index)
}

impl Default for Donations {
    fn default() -> Self {
        Self::new()
    }
}

/// What the VM logic needs from the machine.
pub trait VmHw {
    /// Host RAM the host may donate or copy from (RAM minus EL2's own memory).
    fn host_ram(&self) -> &[Region];
    fn firmware(&self) -> Region;
    /// Removes `region` from the host's stage-2 (and its TLB entries), or puts it back.
    fn host_unmap(&mut self, region: Region) -> Result<(), MapError>;
    fn host_map(&mut self, region: Region) -> Result<(), MapError>;
    fn zero(&mut self, pa: u64, len: u64);
    fn copy(&mut self, dst: u64, src: u64, len: u64);
    /// Drops every TLB entry of the VM with this VTTBR value.
    fn flush_guest_tlb(&mut self, vttbr: u64);
    /// PMU counters reserved on this CPU, which a vCPU's counters need.
    fn pmu_capacity(&self) -> u8;
    /// The host's counters on this CPU (bit 31: the cycle counter).
    fn host_counter_mask(&self) -> u64;
    /// Runs the vCPU until it exits to the host, switching the host's `events` on entry and exit.
    fn run(&mut self, vm: &Vm, vcpu: &mut Vcpu, events: HostEvents) -> Exit;
}

fn within(r: Region, ram: &[Region]) -> bool {
    ram.iter().any(|m| r.base >= m.base && r.end() <= m.end())
}

/// Every VM slot and the memory the VMs own: EL2's one store of VM state.
pub struct VmStore {
    slots: [VmSlot; MAX_VMS],
    donations: Donations,
}

impl VmStore {
    pub const fn new() -> Self {
        Self { slots: [const { VmSlot::new() }; MAX_VMS], donations: Donations::new() }
    }

    /// The calls on the store.
    pub fn vms(&self) -> Vms<'_> {
        Vms { slots: &self.slots, donations: &self.donations }
    }

    pub fn donations(&self) -> &Donations {
        &self.donations
    }
}

impl Default for VmStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The table of VMs and the calls on it.
pub struct Vms<'a> {
    pub slots: &'a [VmSlot; MAX_VMS],
    pub donations: &'a Donations,
}

impl Vms<'_> {
    fn slot(&self, handle: u64) -> Result<&VmSlot, SmcccError> {
        handle.checked_sub(1).and_then(|i| self.slots.get(i as usize)).ok_or(SmcccError::InvalidParameter)
    }

    pub fn create(&self, hw: &mut impl VmHw, pa: u64, size: u64) -> Result<u64, SmcccError> {
        let granule = |x: u64| x.is_multiple_of(DONATION_GRANULE);
        if size == 0 || size > MAX_VM_MEMORY || !granule(pa) || !granule(size) || pa.checked_add(size).is_none() {
            return Err(SmcccError::InvalidParameter);
        }
        let memory = Region::new(pa, size);
        // Only the host's own RAM can be donated: not EL2's, not MMIO, not another VM's.
        if !within(memory, hw.host_ram()) || memory.overlaps(&hw.firmware()) {
            return Err(SmcccError::InvalidParameter);
        }
        // The overlap check and the claim of a free slot, in one step (the lock is dropped at the
        // end of this statement).
        let index = claim(&mut *self.donations.0.lock(), memory)?;
        let slot = &self.slots[index];
        let release = || self.donations.0.lock()[index] = None;
        // The slot is free (its donation entry was), so at most a call naming its empty handle
        // holds this lock, for a moment: wait rather than fail.
        let mut guard = slot.vm.lock();
        let stage2 = match GuestStage2::new(GUEST_RAM_BASE, pa, size) {
            Ok(stage2) if hw.host_unmap(memory).is_ok() => stage2,
            _ => {
                drop(guard);
                release();
                return Err(SmcccError::Busy);
            }
        };
        // The host's data must not reach the guest either.
        hw.zero(pa, size);
        *guard = Some(Vm { memory, stage2, vmid: index as u16 + 1, started: false, vcpus: 0 });
        Ok(index as u64 + 1)
    }

    pub fn load(&self, hw: &mut impl VmHw, handle: u64, src: u64, size: u64, offset: u64) -> Result<(), SmcccError> {
        let slot = self.slot(handle)?;
        let guard = slot.vm.try_lock().ok_or(SmcccError::Busy)?;
        let vm = guard.as_ref().ok_or(SmcccError::InvalidParameter)?;
        if vm.started {
            return Err(SmcccError::Denied);
        }
        let end = offset.checked_add(size).ok_or(SmcccError::InvalidParameter)?;
        let source = Region::new(src, size);
        if size == 0 || end > vm.memory.size || src.checked_add(size).is_none() || !within(source, hw.host_ram()) {
            return Err(SmcccError::InvalidParameter);
        }
        if source.overlaps(&hw.firmware()) {
            return Err(SmcccError::InvalidParameter);
        }
        // The source must be the host's, not any VM's (this one's included), and stay the host's
        // until the copy is done: the donation table stays locked across the copy, so no VM_CREATE
        // on another CPU can take the source memory meanwhile.
        let table = self.donations.0.lock();
        if donated(&*table, source) {
            return Err(SmcccError::InvalidParameter);
        }
        hw.copy(vm.memory.base + offset, src, size);
        drop(table);
        Ok(())
    }

    pub fn vcpu_create(&self, handle: u64, entry: u64, pmu_counters: u64, arg: u64, max_counters: u8) -> Result<u64, SmcccError> {
        let slot = self.slot(handle)?;
        let mut guard = slot.vm.try_lock().ok_or(SmcccError::Busy)?;
        let vm = guard.as_mut().ok_or(SmcccError::InvalidParameter)?;
        if entry < GUEST_RAM_BASE || entry >= GUEST_RAM_BASE + vm.memory.size || !entry.is_multiple_of(4) {
            return Err(SmcccError::InvalidParameter);
        }
        if pmu_counters > u64::from(max_counters) {
            return Err(SmcccError::InvalidParameter);
        }
        if vm.vcpus == MAX_VCPUS {
            return Err(SmcccError::Busy);
        }
        let index = vm.vcpus;
        let mut vcpu = Vcpu::new(index, entry, pmu_counters as u8);
        // A guest learns how much memory it has from x0 at its entry point, and gets the host's
        // value in x1.
        vcpu.regs.regs[0] = vm.memory.size;
        vcpu.regs.regs[1] = arg;
        *slot.vcpus[index].lock() = Some(Box::new(vcpu));
        vm.vcpus += 1;
        Ok(index as u64)
    }

    pub fn vcpu_run(&self, hw: &mut impl VmHw, handle: u64, vcpu: u64, events: HostEvents) -> Result<Exit, SmcccError> {
        let slot = self.slot(handle)?;
        // The masks name the host's own counters only, and no counter twice.
        let host = hw.host_counter_mask();
        if (events.host_only | events.guest_only) & !host != 0 || events.host_only & events.guest_only != 0 {
            return Err(SmcccError::InvalidParameter);
        }
        // The VM stays locked while its vCPU runs: it cannot be destroyed or loaded meanwhile
        // (those calls get BUSY), and the vCPU cannot run on two CPUs at once.
        let mut vm_guard = slot.vm.try_lock().ok_or(SmcccError::Busy)?;
        let vm = vm_guard.as_mut().ok_or(SmcccError::InvalidParameter)?;
        let index = usize::try_from(vcpu).ok().filter(|&i| i < vm.vcpus).ok_or(SmcccError::InvalidParameter)?;
        let mut vcpu_guard = slot.vcpus[index].lock();
        let vcpu = vcpu_guard.as_deref_mut().ok_or(SmcccError::InvalidParameter)?;
        if vcpu.done {
            return Err(SmcccError::Denied);
        }
        // The vCPU's counters come out of this CPU's reservation.
        if vcpu.pmu_counters > hw.pmu_capacity() {
            return Err(SmcccError::NotReserved);
        }
        vm.started = true;
        Ok(hw.run(vm, vcpu, events))
    }

    pub fn destroy(&self, hw: &mut impl VmHw, handle: u64) -> Result<(), SmcccError> {
        let slot = self.slot(handle)?;
        let index = handle as usize - 1;
        let mut guard = slot.vm.try_lock().ok_or(SmcccError::Busy)?;
        let vm = guard.take().ok_or(SmcccError::InvalidParameter)?;
        for v in &slot.vcpus {
            *v.lock() = None;
        }
        hw.flush_guest_tlb(vm.vttbr());
        // Nothing of the guest's goes back to the host.
        hw.zero(vm.memory.base, vm.memory.size);
        let returned = hw.host_map(vm.memory).is_ok();
        drop(guard);
        drop(vm);
        if returned {
            // Last: only now is the slot free for a VM_CREATE, and the memory the host's again.
            self.donations.0.lock()[index] = None;
        } else {
            // The memory stays EL2's (and stays recorded as donated); the VM is gone either way.
            if let Some(region) = self.donations.0.lock()[index] {
                log::error!("could not return {region} to the host");
            }
        }
        Ok(())
    }
}

/// The VM calls as the host-call dispatcher sees them (object safe, so the dispatcher need not be
/// generic over the machine).
pub trait VmService {
    fn create(&mut self, pa: u64, size: u64) -> Result<u64, SmcccError>;
    fn load(&mut self, handle: u64, src: u64, size: u64, offset: u64) -> Result<(), SmcccError>;
    fn vcpu_create(&mut self, handle: u64, entry: u64, pmu_counters: u64, arg: u64) -> Result<u64, SmcccError>;
    fn vcpu_run(&mut self, handle: u64, vcpu: u64, events: HostEvents) -> Result<Exit, SmcccError>;
    fn destroy(&mut self, handle: u64) -> Result<(), SmcccError>;
}

/// The VM table on a machine.
pub struct VmCalls<'a, H: VmHw> {
    pub vms: Vms<'a>,
    pub hw: H,
    /// The most PMU counters a vCPU may ask for.
    pub max_counters: u8,
}

impl<H: VmHw> VmService for VmCalls<'_, H> {
    fn create(&mut self, pa: u64, size: u64) -> Result<u64, SmcccError> {
        self.vms.create(&mut self.hw, pa, size)
    }
    fn load(&mut self, handle: u64, src: u64, size: u64, offset: u64) -> Result<(), SmcccError> {
        self.vms.load(&mut self.hw, handle, src, size, offset)
    }
    fn vcpu_create(&mut self, handle: u64, entry: u64, pmu_counters: u64, arg: u64) -> Result<u64, SmcccError> {
        self.vms.vcpu_create(handle, entry, pmu_counters, arg, self.max_counters)
    }
    fn vcpu_run(&mut self, handle: u64, vcpu: u64, events: HostEvents) -> Result<Exit, SmcccError> {
        self.vms.vcpu_run(&mut self.hw, handle, vcpu, events)
    }
    fn destroy(&mut self, handle: u64) -> Result<(), SmcccError> {
        self.vms.destroy(&mut self.hw, handle)
    }
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
