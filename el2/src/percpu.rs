// SPDX-License-Identifier: MIT OR Apache-2.0

//! Per-CPU state: the EL2 stack and where the host wants this CPU to enter when EL3 next brings
//! it up (CPU_ON) or back (a power-down CPU_SUSPEND / SYSTEM_SUSPEND).

use crate::pmu::CpuPartition;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use platform::{Current, Platform};

/// Bytes of EL2 stack per CPU. Trap handling is shallow; the deepest path (boot, device tree
/// fix-up) runs on the boot CPU's separate boot stack.
pub const STACK_SIZE: usize = 16 * 1024;

/// The host's entry point and context id for a CPU, handed over through PSCI.
#[derive(Debug, Default)]
pub struct HostEntry {
    /// Held from the moment a CPU_ON for this CPU is accepted until the CPU has read `entry` and
    /// `context`: a second CPU_ON in between must not overwrite them.
    claimed: AtomicBool,
    entry: AtomicU64,
    context: AtomicU64,
}

impl HostEntry {
    pub const fn new() -> Self {
        Self { claimed: AtomicBool::new(false), entry: AtomicU64::new(0), context: AtomicU64::new(0) }
    }

    /// Reserves the slot for a CPU_ON; `false` if one is already in flight.
    pub fn claim(&self) -> bool {
        self.claimed.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    pub fn release(&self) {
        self.claimed.store(false, Ordering::Release);
    }

    pub fn set(&self, entry: u64, context: u64) {
        self.entry.store(entry, Ordering::Relaxed);
        self.context.store(context, Ordering::Release);
    }

    pub fn get(&self) -> (u64, u64) {
        let context = self.context.load(Ordering::Acquire);
        (self.entry.load(Ordering::Relaxed), context)
    }
}

/// What EL2 keeps while a guest runs on this CPU (`arch/guest.S`): its own callee-saved registers,
/// stack pointer and link register, to come back to when the guest exits, and where the guest's
/// registers go.
#[repr(C)]
#[derive(Debug, Default)]
pub struct WorldSave {
    /// x19..x30.
    pub callee_saved: [u64; 12],
    pub sp: u64,
    /// The running vCPU's register block (a `TrapFrame`).
    pub guest_regs: u64,
}

/// One CPU's EL2 state. `stack_top` must stay the first field: the warm entry code reads it with
/// the MMU off, through the context id EL3 hands back (the address of this struct). `world` is at
/// a fixed offset for the guest entry and exit code.
///
/// Everything written after the table is created is an atomic, a lock, or an `UnsafeCell` that
/// only its own CPU touches: the table is an immutable static shared by all CPUs.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Set once by the boot CPU before any other CPU starts.
    pub stack_top: AtomicU64,
    /// Written by `arch/guest.S` on this CPU only, while this CPU runs a guest.
    world: UnsafeCell<WorldSave>,
    /// Where the host wants this CPU to start after a CPU_ON (claimed by whichever CPU asks).
    pub on_entry: HostEntry,
    /// Where the host wants this CPU to resume after a power-down CPU_SUSPEND or SYSTEM_SUSPEND
    /// (set only by this CPU itself). Separate from `on_entry`: a CPU_ON aimed at this CPU while
    /// it is running (which EL3 refuses with ALREADY_ON) must not overwrite its pending resume.
    pub resume_entry: HostEntry,
    /// Which PMU counters the host owns on this CPU: set by the boot CPU before any other CPU
    /// starts, then only ever touched by this CPU (PMU calls act on the calling CPU), so it needs
    /// no lock, which every PMU call would pay for (see [`PerCpu::partition`]).
    pmu: UnsafeCell<CpuPartition>,
}

// SAFETY: `world` and `pmu` are the only fields without their own synchronisation; each is
// accessed only by the CPU that owns this entry (guest.S through TPIDR_EL2; `partition`'s
// contract), never shared between CPUs.
unsafe impl Sync for PerCpu {}

const _: () = assert!(core::mem::offset_of!(PerCpu, stack_top) == 0);
// PERCPU_WORLD and the WorldSave offsets in arch/guest.S.
const _: () = assert!(core::mem::offset_of!(PerCpu, world) == 8);
const _: () = assert!(core::mem::offset_of!(WorldSave, sp) == 96);
const _: () = assert!(core::mem::offset_of!(WorldSave, guest_regs) == 104);

impl PerCpu {
    const fn new() -> Self {
        Self {
            stack_top: AtomicU64::new(0),
            world: UnsafeCell::new(WorldSave { callee_saved: [0; 12], sp: 0, guest_regs: 0 }),
            on_entry: HostEntry::new(),
            resume_entry: HostEntry::new(),
            pmu: UnsafeCell::new(CpuPartition::UNSET),
        }
    }

    /// The value EL2 gives EL3 as the context id for this CPU's warm entry.
    pub fn context_id(&self) -> u64 {
        self as *const Self as u64
    }

    pub fn stack_top(&self) -> u64 {
        self.stack_top.load(Ordering::Relaxed)
    }

    /// This CPU's PMU partition state.
    ///
    /// # Safety
    ///
    /// Either the caller runs on the CPU this entry belongs to, or it is the boot CPU and no other
    /// CPU has started; and no other reference from this function is live (EL2 runs with
    /// interrupts masked and never re-enters a host call, so a caller that does not keep the
    /// reference past its own call has this).
    #[allow(clippy::mut_from_ref, reason = "a per-CPU cell: exclusive by the caller's contract")]
    pub unsafe fn partition(&self) -> &mut CpuPartition {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.pmu.get() }
    }
}

/// All CPUs' state, indexed by the platform's linear CPU index. A new table is all zeros (it goes
/// in `.bss`, not in the image): a CPU's index is where it is in the table.
pub struct CpuTable {
    cpus: [PerCpu; Current::MAX_CPUS],
}

impl CpuTable {
    pub const fn new() -> Self {
        Self { cpus: [const { PerCpu::new() }; Current::MAX_CPUS] }
    }

    pub fn get(&self, index: usize) -> Option<&PerCpu> {
        self.cpus.get(index)
    }

    /// The index of `cpu`, an entry of this table.
    pub fn index_of(&self, cpu: &PerCpu) -> usize {
        let offset = (cpu as *const PerCpu as usize).wrapping_sub(self.cpus.as_ptr() as usize);
        debug_assert!(offset < size_of_val(&self.cpus), "not an entry of this table");
        offset / size_of::<PerCpu>()
    }

    /// The CPU with this MPIDR_EL1 value (affinity fields only), if the platform has it.
    pub fn by_mpidr(&self, mpidr: u64) -> Option<&PerCpu> {
        Current::cpu_index(mpidr & MPIDR_AFFINITY_MASK).and_then(|i| self.get(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = &PerCpu> {
        self.cpus.iter()
    }
}

impl Default for CpuTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Aff3 (39:32), Aff2..Aff0 (23:0) and MT (24) of MPIDR_EL1.
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_01ff_ffff;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_is_exclusive() {
        let e = HostEntry::new();
        assert!(e.claim());
        assert!(!e.claim());
        e.release();
        assert!(e.claim());
    }

    #[test]
    fn lookup_by_mpidr() {
        let t = CpuTable::new();
        assert_eq!(t.index_of(t.by_mpidr(0x8000_0002).unwrap()), 2);
        assert!(t.by_mpidr(0x8000_00ff).is_none());
    }
}
