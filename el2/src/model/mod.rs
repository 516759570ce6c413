// SPDX-License-Identifier: MIT OR Apache-2.0

//! The concurrency of EL2's shared state, checked exhaustively (issue 8).
//!
//! Several CPUs call into EL2 at once. What they share is guarded by spin locks and atomics, which
//! loom cannot see, so these protocols are written again here as per-CPU step machines, one
//! atomic step per lock acquisition, lock release or atomic operation of the real code, and
//! [`explorer::explore`] runs every interleaving of those steps for two or three CPUs:
//!
//! - [`vm`]: VM ownership (`vm/mod.rs`: `Donations`, the `VmSlot` locks, VM_CREATE, VM_LOAD,
//!   VCPU_RUN, VM_DESTROY);
//! - [`power`]: the PSCI relay (`psci_relay.rs`, `percpu.rs`, the warm entries of
//!   `arch/boot.rs`), the per-CPU PMU lock of `arch/mod.rs::host_call`, and the PMU reservation
//!   (`pmu/partition.rs`) across reserve, unreserve, VCPU_RUN, CPU_OFF, CPU_ON and suspend.
//!
//! Where the real code is pure, the steps call it (`vm::claim`, `vm::donated`, `Region::overlaps`,
//! `CpuPartition::reserve`/`unreserve`/`apply` on a `FakePmu`); every step names the lines of the
//! real code it stands for. Each model can also run the code as it was before the fixes of issue 8
//! ([`Bug`]), and the tests check that each of those defects is found.

pub mod explorer;
pub mod power;
pub mod vm;

/// Which version of the code a model runs: today's, or one with a defect of issue 8 put back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The code as it is.
    None,
    /// Defect 1: VM_CREATE checks "already donated?" and claims a free slot under two separate
    /// acquisitions of the table lock, and VM_LOAD drops the lock between its source check and
    /// the copy.
    CheckThenClaim,
    /// Defect 2: the trap handler takes the CPU's PMU lock before routing the call, so a relayed
    /// CPU_OFF (or power-down suspend) leaves it held by a stack that is never resumed.
    LockAcrossCpuOff,
    /// Defect 8: VM_DESTROY frees the slot's donation entry before it drops the slot's VM lock,
    /// and VM_CREATE only *tries* that lock, answering BUSY when it is held.
    EarlyRelease,
    /// Defect 9: CPU_ON and CPU_SUSPEND keep the host's entry in one per-CPU slot.
    SharedEntrySlot,
    /// No claim: a CPU_ON writes the target's entry without first winning its claim flag, so a
    /// second CPU_ON can overwrite the entry of one EL3 already accepted.
    NoClaim,
}
