// SPDX-License-Identifier: MIT OR Apache-2.0

//! Partitions: minimal protected VMs the host creates from memory it donates, and runs one vCPU at
//! a time on the calling CPU (ABI 0.3). Host calls are fast SMC64 calls of this hypervisor's
//! service; a guest's own calls (made by HVC from the guest) are listed in [`guest`].

use crate::error::SmcccError;
use crate::result::RESULT_REGS;

/// x1 = physical address of the donated memory, x2 = its size (both multiples of
/// [`VM_MEMORY_GRANULE`], size not 0 and at most [`MAX_VM_MEMORY`]), x3 = flags (0). The memory leaves the host's stage-2 and is zeroed; the guest sees it at
/// [`GUEST_RAM_BASE`]. Returns the VM handle in x1.
pub const VM_CREATE: u32 = 0xC600_0010;
/// x1 = handle, x2 = physical address of a host buffer, x3 = size, x4 = offset in the VM's memory.
/// Copies the buffer into the VM. Only before the VM's first vCPU first runs.
pub const VM_LOAD: u32 = 0xC600_0011;
/// x1 = handle, x2 = entry point (guest address), x3 = PMU event counters the vCPU gets (its
/// PMCR_EL0.N), x4 = a value for the guest. Returns the vCPU index in x1. The vCPU starts at EL1h
/// with every exception masked, its MMU off, x0 = the size of the VM's memory and x1 = the value.
pub const VCPU_CREATE: u32 = 0xC600_0012;
/// x1 = handle, x2 = vCPU index, x3 = host counters to stop while the guest runs, x4 = host
/// counters that count only while the guest runs ([`HostEvents`]). Runs the vCPU on the calling
/// CPU until it exits; returns an [`Exit`] in x1..x4.
pub const VCPU_RUN: u32 = 0xC600_0013;
/// x1 = handle. Scrubs the VM's memory and gives it back to the host.
pub const VM_DESTROY: u32 = 0xC600_0014;

pub const VM_CALLS: [u32; 5] = [VM_CREATE, VM_LOAD, VCPU_CREATE, VCPU_RUN, VM_DESTROY];

/// The host's events that must not count the guest (perf `:H`, exclude-guest) and those that must
/// count only the guest (`:G`), as masks of the host's counters (bit n = counter n, bit 31 = the
/// cycle counter). EL2 stops the first and starts the second when the guest is entered, and the
/// reverse when it exits to the host: the pKVM `events_host` / `events_guest` idea.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostEvents {
    pub host_only: u64,
    pub guest_only: u64,
}

/// Where a guest finds its memory.
pub const GUEST_RAM_BASE: u64 = 0x4000_0000;
/// The most memory one VM may have.
pub const MAX_VM_MEMORY: u64 = 64 << 20;
/// A VM's memory (its physical address and its size) comes in multiples of this: the host's
/// stage-2 donates whole 2 MiB blocks.
pub const VM_MEMORY_GRANULE: u64 = 2 << 20;
/// The most vCPUs one VM may have: VCPU_CREATE answers BUSY for another.
pub const MAX_VCPUS: usize = 4;

/// Why VCPU_RUN returned. x1 = the reason's code, x2..x4 = its details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The guest called GUEST_REPORT with these three values.
    Report([u64; 3]),
    /// The guest called GUEST_DONE with this status. Running it again is refused.
    Done(u64),
    /// A physical interrupt arrived while the guest ran: it is the host's, and pending.
    HostInterrupt,
    /// The guest touched a guest address outside its memory.
    Stage2Fault { ipa: u64, esr: u64 },
    /// Anything EL2 does not handle for a guest, with its syndrome and guest PC.
    Unexpected { esr: u64, pc: u64 },
}

impl Exit {
    pub const fn encode(&self) -> [u64; RESULT_REGS + 1] {
        match *self {
            Exit::Report([a, b, c]) => [0, 1, a, b, c],
            Exit::Done(status) => [0, 2, status, 0, 0],
            Exit::HostInterrupt => [0, 3, 0, 0, 0],
            Exit::Stage2Fault { ipa, esr } => [0, 4, ipa, esr, 0],
            Exit::Unexpected { esr, pc } => [0, 5, esr, pc, 0],
        }
    }

    pub fn decode(regs: [u64; RESULT_REGS + 1]) -> Result<Self, SmcccError> {
        if let Some(e) = SmcccError::from_register(regs[0]) {
            return Err(e);
        }
        Ok(match regs[1] {
            1 => Exit::Report([regs[2], regs[3], regs[4]]),
            2 => Exit::Done(regs[2]),
            3 => Exit::HostInterrupt,
            4 => Exit::Stage2Fault { ipa: regs[2], esr: regs[3] },
            5 => Exit::Unexpected { esr: regs[2], pc: regs[3] },
            other => return Err(SmcccError::Unknown(other as i64)),
        })
    }
}

/// The calls a guest makes, by HVC #0, and what EL2 answers.
pub mod guest {
    /// SMCCC_VERSION and HYP_CALL_UID / HYP_REVISION are answered as for the host. Every host
    /// call (PMU_*, VM_*, VCPU_*) answers NOT_SUPPORTED to a guest.
    ///
    /// x1..x3 = values: the vCPU exits to the host with `Exit::Report`; on the next run the call
    /// returns 0.
    pub const GUEST_REPORT: u32 = 0xC600_0080;
    /// x1 = status: the vCPU exits with `Exit::Done` and is finished.
    pub const GUEST_DONE: u32 = 0xC600_0081;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_round_trip() {
        for e in [
            Exit::Report([1, 2, 3]),
            Exit::Done(7),
            Exit::HostInterrupt,
            Exit::Stage2Fault { ipa: 0x1000, esr: 0x9200_0007 },
            Exit::Unexpected { esr: 0x1, pc: 0x4000_0000 },
        ] {
            assert_eq!(Exit::decode(e.encode()), Ok(e));
        }
        assert_eq!(Exit::decode([-5i64 as u64, 0, 0, 0, 0]), Err(SmcccError::Busy));
    }
}
