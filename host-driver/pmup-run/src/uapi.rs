// SPDX-License-Identifier: MIT OR Apache-2.0

//! `include/uapi/linux/pmu_partition.h`, typed: the ioctl numbers and the structures they carry.
//! Where the header repeats the hypervisor's ABI (exit codes, guest memory, vCPUs) the values are
//! taken from `smc_interface::vm`; `tests/uapi_layout.rs` compares everything with the C header.

use smc_interface::vm;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const DEVICE: &str = "/dev/pmu-partition";

pub const PMUP_IOCTL_BASE: u32 = 0xB9;
pub const PMUP_GUEST_RAM_BASE: u64 = vm::GUEST_RAM_BASE;
pub const PMUP_MEMORY_ALIGN: u64 = vm::VM_MEMORY_GRANULE;
pub const PMUP_MAX_MEMORY: u64 = vm::MAX_VM_MEMORY;
pub const PMUP_MAX_VCPUS: u32 = vm::MAX_VCPUS as u32;
/// PMUP_RUN flag: keep the counters reserved while the thread stays on the CPU.
pub const PMUP_RUN_KEEP_COUNTERS: u32 = 1 << 0;

/// PMUP_GET_INFO: what the hypervisor offers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PmupInfo {
    pub abi_major: u32,
    pub abi_minor: u32,
    pub max_counters: u32,
    pub max_vcpus: u32,
    pub max_memory: u64,
    pub guest_ram_base: u64,
}

/// PMUP_CREATE_VM.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PmupCreateVm {
    pub memory_size: u64,
    pub flags: u64,
}

/// PMUP_LOAD: `size` bytes at the userspace address `src` into the VM's memory at `offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PmupLoad {
    pub src: u64,
    pub size: u64,
    pub offset: u64,
}

/// PMUP_CREATE_VCPU; `index` is out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PmupCreateVcpu {
    pub entry: u64,
    pub arg: u64,
    pub counters: u32,
    pub index: u32,
}

/// PMUP_RUN; everything from `exit_reason` on (but `pad`) is out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PmupRun {
    pub vcpu: u32,
    pub flags: u32,
    pub exit_reason: u32,
    pub pad: u32,
    pub exit_args: [u64; 3],
    pub entries: u64,
    pub reservations: u64,
    pub host_only: u64,
    pub guest_only: u64,
}

// The hypervisor's own exit codes (`smc_interface::vm::Exit`'s x1).
pub const PMUP_EXIT_REPORT: u32 = vm::Exit::Report([0; 3]).encode()[1] as u32;
pub const PMUP_EXIT_DONE: u32 = vm::Exit::Done(0).encode()[1] as u32;
pub const PMUP_EXIT_FAULT: u32 = vm::Exit::Stage2Fault { ipa: 0, esr: 0 }.encode()[1] as u32;
pub const PMUP_EXIT_UNEXPECTED: u32 = vm::Exit::Unexpected { esr: 0, pc: 0 }.encode()[1] as u32;

/// Why PMUP_RUN returned, decoded: the hypervisor's [`vm::Exit`] but for the host interrupt, which
/// the driver handles itself and never returns.
pub fn decode_exit(run: &PmupRun) -> Option<vm::Exit> {
    let [a, b, c] = run.exit_args;
    match vm::Exit::decode([0, run.exit_reason.into(), a, b, c]) {
        Ok(vm::Exit::HostInterrupt) | Err(_) => None,
        Ok(exit) => Some(exit),
    }
}

// The generic Linux ioctl encoding (asm-generic/ioctl.h), which arm64 and x86_64 both use:
// nr in bits 0..8, type in 8..16, size in 16..30, direction in 30..32.
pub const IOC_NONE: u32 = 0;
pub const IOC_WRITE: u32 = 1;
pub const IOC_READ: u32 = 2;

pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    assert!(size < 1 << 14 && ty < 256 && nr < 256 && dir < 4);
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

pub const PMUP_GET_INFO: u32 = ioc(IOC_READ, PMUP_IOCTL_BASE, 0x00, size_of::<PmupInfo>());
pub const PMUP_CREATE_VM: u32 = ioc(IOC_WRITE, PMUP_IOCTL_BASE, 0x01, size_of::<PmupCreateVm>());
pub const PMUP_LOAD: u32 = ioc(IOC_WRITE, PMUP_IOCTL_BASE, 0x02, size_of::<PmupLoad>());
pub const PMUP_CREATE_VCPU: u32 = ioc(IOC_READ | IOC_WRITE, PMUP_IOCTL_BASE, 0x03, size_of::<PmupCreateVcpu>());
pub const PMUP_RUN: u32 = ioc(IOC_READ | IOC_WRITE, PMUP_IOCTL_BASE, 0x04, size_of::<PmupRun>());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_decode_to_the_abis_exits() {
        let run = |reason, exit_args| PmupRun { exit_reason: reason, exit_args, ..Default::default() };
        assert_eq!(decode_exit(&run(1, [1, 2, 3])), Some(vm::Exit::Report([1, 2, 3])));
        assert_eq!(decode_exit(&run(2, [7, 0, 0])), Some(vm::Exit::Done(7)));
        assert_eq!(
            decode_exit(&run(4, [0x8000_0000, 0x9200_0007, 0])),
            Some(vm::Exit::Stage2Fault { ipa: 0x8000_0000, esr: 0x9200_0007 })
        );
        assert_eq!(decode_exit(&run(5, [0x200_0000, 0x4000_0010, 0])), Some(vm::Exit::Unexpected { esr: 0x200_0000, pc: 0x4000_0010 }));
        for reason in [0, 3, 6, u32::MAX] {
            assert_eq!(decode_exit(&run(reason, [0; 3])), None, "reason {reason}");
        }
    }

    #[test]
    fn constants_are_the_abis() {
        assert_eq!((PMUP_EXIT_REPORT, PMUP_EXIT_DONE, PMUP_EXIT_FAULT, PMUP_EXIT_UNEXPECTED), (1, 2, 4, 5));
        assert_eq!(PMUP_GUEST_RAM_BASE, 0x4000_0000);
        assert_eq!(PMUP_MAX_MEMORY, 64 << 20);
        assert_eq!(PMUP_MEMORY_ALIGN, 2 << 20);
        assert_eq!(PMUP_MAX_VCPUS, 4);
    }
}
