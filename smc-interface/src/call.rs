// SPDX-License-Identifier: MIT OR Apache-2.0

//! The calls a host can make to EL2, as typed values: the firmware decodes them from the trapped
//! registers, a client encodes them into the registers it passes to HVC or SMC.

use crate::error::SmcccError;
use crate::function_id::FunctionId;
use crate::ids;
use crate::pmu;
use crate::vm;

/// Argument registers of a call: x0 (function identifier) to x17.
pub const CALL_REGS: usize = 18;

/// A call this ABI defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostCall {
    /// SMCCC_VERSION: no arguments.
    SmcccVersion,
    /// SMCCC_ARCH_FEATURES: w1 = the architecture function identifier asked about.
    ArchFeatures { function_id: u32 },
    /// One of the SMCCC_ARCH_WORKAROUND calls, which EL2 relays to EL3.
    ArchWorkaround(ArchWorkaround),
    /// HYP_FEATURES: w1 = the vendor hypervisor function identifier asked about.
    HypFeatures { function_id: u32 },
    /// HYP_CALL_UID: no arguments.
    HypCallUid,
    /// HYP_REVISION: no arguments.
    HypRevision,
    /// PMU_INFO: no arguments.
    PmuInfo,
    /// PMU_STATUS: no arguments.
    PmuStatus,
    /// PMU_RESERVE: x1 = number of counters (EL2 checks it against its limits).
    PmuReserve { count: u64 },
    /// PMU_UNRESERVE: no arguments.
    PmuUnreserve,
    /// VM_CREATE: donated memory.
    VmCreate { pa: u64, size: u64 },
    /// VM_LOAD: copy `size` bytes from host address `src` to `offset` in the VM's memory.
    VmLoad { handle: u64, src: u64, size: u64, offset: u64 },
    /// VCPU_CREATE.
    VcpuCreate { handle: u64, entry: u64, pmu_counters: u64, arg: u64 },
    /// VCPU_RUN.
    VcpuRun { handle: u64, vcpu: u64, events: crate::vm::HostEvents },
    /// VM_DESTROY.
    VmDestroy { handle: u64 },
}

/// The SMCCC architecture workaround calls. EL2 does not act on them: it only needs to know they
/// are well-formed before it passes them to EL3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArchWorkaround {
    /// SMCCC_ARCH_WORKAROUND_1: no arguments.
    Workaround1,
    /// SMCCC_ARCH_WORKAROUND_2: w1 = the requested mitigation state, interpreted by EL3 (zero
    /// disables the mitigation for the caller, non-zero enables it).
    Workaround2 { state: u32 },
    /// SMCCC_ARCH_WORKAROUND_3: no arguments.
    Workaround3,
}

impl ArchWorkaround {
    /// The call's function identifier.
    pub const fn function_id(self) -> FunctionId {
        FunctionId::new(match self {
            Self::Workaround1 => ids::SMCCC_ARCH_WORKAROUND_1,
            Self::Workaround2 { .. } => ids::SMCCC_ARCH_WORKAROUND_2,
            Self::Workaround3 => ids::SMCCC_ARCH_WORKAROUND_3,
        })
    }
}

/// The number of `id` within its block of 64 K IDs, which must be `block` (checked when the
/// constant is evaluated): what `HostCall::decode` matches once it has dispatched on the block.
const fn number_in(id: u32, block: u32) -> u32 {
    assert!(id >> 16 == block, "a function ID outside the block it is decoded in");
    id & 0xffff
}

impl HostCall {
    /// Decodes a call from x0..x17.
    ///
    /// Errors, which the firmware returns to the caller as they are:
    /// - NOT_SUPPORTED: x0 has any of bits 63:32 set, or names no call of this ABI (this includes
    ///   every call EL2 relays other than the workarounds, e.g. PSCI: the firmware routes by
    ///   [`FunctionId::owner`] before it gets here);
    /// - INVALID_PARAMETER: an argument the call uses is out of range; for these SMC32 calls, that
    ///   is any of bits 63:32 set. Registers a call does not use are ignored, as SMCCC requires.
    ///
    /// The SVE hint (bit 16 of x0) is ignored.
    #[inline(always)]
    pub fn decode(regs: &[u64; CALL_REGS]) -> Result<Self, SmcccError> {
        let raw = FunctionId::from_register(regs[0]).ok_or(SmcccError::NotSupported)?.raw();
        // By block of 64 K IDs first (the Arm architecture calls, this service's SMC32 and SMC64
        // calls), then within it: an unknown ID, the firmware's most common refusal, then costs a
        // compare or two instead of a search over every ID.
        match raw >> 16 {
            0x8000 => Self::decode_arch(raw, regs),
            0x8600 => Self::decode_hyp32(raw, regs),
            0xc600 => Self::decode_hyp64(raw, regs),
            _ => Err(SmcccError::NotSupported),
        }
    }

    #[inline(always)]
    fn decode_arch(raw: u32, regs: &[u64; CALL_REGS]) -> Result<Self, SmcccError> {
        // By the number within the block: small immediates, one compare each.
        const SMCCC_VERSION_N: u32 = number_in(ids::SMCCC_VERSION, 0x8000);
        const SMCCC_ARCH_FEATURES_N: u32 = number_in(ids::SMCCC_ARCH_FEATURES, 0x8000);
        const SMCCC_ARCH_WORKAROUND_1_N: u32 = number_in(ids::SMCCC_ARCH_WORKAROUND_1, 0x8000);
        const SMCCC_ARCH_WORKAROUND_2_N: u32 = number_in(ids::SMCCC_ARCH_WORKAROUND_2, 0x8000);
        const SMCCC_ARCH_WORKAROUND_3_N: u32 = number_in(ids::SMCCC_ARCH_WORKAROUND_3, 0x8000);
        Ok(match raw & 0xffff {
            SMCCC_VERSION_N => Self::SmcccVersion,
            SMCCC_ARCH_FEATURES_N => Self::ArchFeatures {
                function_id: arg32(regs[1])?,
            },
            SMCCC_ARCH_WORKAROUND_1_N => Self::ArchWorkaround(ArchWorkaround::Workaround1),
            SMCCC_ARCH_WORKAROUND_2_N => Self::ArchWorkaround(ArchWorkaround::Workaround2 {
                state: arg32(regs[1])?,
            }),
            SMCCC_ARCH_WORKAROUND_3_N => Self::ArchWorkaround(ArchWorkaround::Workaround3),
            _ => return Err(SmcccError::NotSupported),
        })
    }

    #[inline(always)]
    fn decode_hyp32(raw: u32, regs: &[u64; CALL_REGS]) -> Result<Self, SmcccError> {
        // By the number within the block: small immediates, one compare each.
        const HYP_FEATURES_N: u32 = number_in(ids::HYP_FEATURES, 0x8600);
        const HYP_CALL_UID_N: u32 = number_in(ids::HYP_CALL_UID, 0x8600);
        const HYP_REVISION_N: u32 = number_in(ids::HYP_REVISION, 0x8600);
        Ok(match raw & 0xffff {
            HYP_FEATURES_N => Self::HypFeatures {
                function_id: arg32(regs[1])?,
            },
            HYP_CALL_UID_N => Self::HypCallUid,
            HYP_REVISION_N => Self::HypRevision,
            _ => return Err(SmcccError::NotSupported),
        })
    }

    #[inline(always)]
    fn decode_hyp64(raw: u32, regs: &[u64; CALL_REGS]) -> Result<Self, SmcccError> {
        // By the number within the block: small immediates, one compare each.
        const PMU_INFO_N: u32 = number_in(pmu::PMU_INFO, 0xc600);
        const PMU_STATUS_N: u32 = number_in(pmu::PMU_STATUS, 0xc600);
        const PMU_RESERVE_N: u32 = number_in(pmu::PMU_RESERVE, 0xc600);
        const PMU_UNRESERVE_N: u32 = number_in(pmu::PMU_UNRESERVE, 0xc600);
        const VM_CREATE_N: u32 = number_in(vm::VM_CREATE, 0xc600);
        const VM_LOAD_N: u32 = number_in(vm::VM_LOAD, 0xc600);
        const VCPU_CREATE_N: u32 = number_in(vm::VCPU_CREATE, 0xc600);
        const VCPU_RUN_N: u32 = number_in(vm::VCPU_RUN, 0xc600);
        const VM_DESTROY_N: u32 = number_in(vm::VM_DESTROY, 0xc600);
        Ok(match raw & 0xffff {
            PMU_INFO_N => Self::PmuInfo,
            PMU_STATUS_N => Self::PmuStatus,
            PMU_RESERVE_N => {
                no_flags(regs[2])?;
                Self::PmuReserve { count: regs[1] }
            }
            PMU_UNRESERVE_N => {
                no_flags(regs[1])?;
                Self::PmuUnreserve
            }
            VM_CREATE_N => {
                no_flags(regs[3])?;
                Self::VmCreate { pa: regs[1], size: regs[2] }
            }
            VM_LOAD_N => Self::VmLoad { handle: regs[1], src: regs[2], size: regs[3], offset: regs[4] },
            VCPU_CREATE_N => Self::VcpuCreate { handle: regs[1], entry: regs[2], pmu_counters: regs[3], arg: regs[4] },
            VCPU_RUN_N => Self::VcpuRun {
                handle: regs[1],
                vcpu: regs[2],
                events: crate::vm::HostEvents { host_only: regs[3], guest_only: regs[4] },
            },
            VM_DESTROY_N => Self::VmDestroy { handle: regs[1] },
            _ => return Err(SmcccError::NotSupported),
        })
    }

    /// The registers a client loads before HVC or SMC; unused registers are zero.
    pub fn encode(&self) -> [u64; CALL_REGS] {
        let mut regs = [0; CALL_REGS];
        regs[0] = self.function_id().into();
        match *self {
            Self::ArchFeatures { function_id } | Self::HypFeatures { function_id } => {
                regs[1] = function_id.into();
            }
            Self::ArchWorkaround(ArchWorkaround::Workaround2 { state }) => regs[1] = state.into(),
            Self::PmuReserve { count } => regs[1] = count,
            Self::VmCreate { pa, size } => (regs[1], regs[2]) = (pa, size),
            Self::VmLoad { handle, src, size, offset } => {
                (regs[1], regs[2], regs[3], regs[4]) = (handle, src, size, offset)
            }
            Self::VcpuCreate { handle, entry, pmu_counters, arg } => {
                (regs[1], regs[2], regs[3], regs[4]) = (handle, entry, pmu_counters, arg)
            }
            Self::VcpuRun { handle, vcpu, events } => {
                (regs[1], regs[2], regs[3], regs[4]) = (handle, vcpu, events.host_only, events.guest_only)
            }
            Self::VmDestroy { handle } => regs[1] = handle,
            Self::SmcccVersion
            | Self::ArchWorkaround(_)
            | Self::HypCallUid
            | Self::HypRevision
            | Self::PmuInfo
            | Self::PmuStatus
            | Self::PmuUnreserve => {}
        }
        regs
    }

    /// The call's function identifier.
    pub const fn function_id(&self) -> FunctionId {
        FunctionId::new(match self {
            Self::SmcccVersion => ids::SMCCC_VERSION,
            Self::ArchFeatures { .. } => ids::SMCCC_ARCH_FEATURES,
            Self::ArchWorkaround(workaround) => return workaround.function_id(),
            Self::HypFeatures { .. } => ids::HYP_FEATURES,
            Self::HypCallUid => ids::HYP_CALL_UID,
            Self::HypRevision => ids::HYP_REVISION,
            Self::PmuInfo => pmu::PMU_INFO,
            Self::PmuStatus => pmu::PMU_STATUS,
            Self::PmuReserve { .. } => pmu::PMU_RESERVE,
            Self::PmuUnreserve => pmu::PMU_UNRESERVE,
            Self::VmCreate { .. } => vm::VM_CREATE,
            Self::VmLoad { .. } => vm::VM_LOAD,
            Self::VcpuCreate { .. } => vm::VCPU_CREATE,
            Self::VcpuRun { .. } => vm::VCPU_RUN,
            Self::VmDestroy { .. } => vm::VM_DESTROY,
        })
    }

    /// Whether the call belongs to this hypervisor's own service (owner 6) rather than to the Arm
    /// architecture calls.
    pub const fn is_hyp_service(&self) -> bool {
        matches!(
            self,
            Self::HypFeatures { .. }
                | Self::HypCallUid
                | Self::HypRevision
                | Self::PmuInfo
                | Self::PmuStatus
                | Self::PmuReserve { .. }
                | Self::PmuUnreserve
                | Self::VmCreate { .. }
                | Self::VmLoad { .. }
                | Self::VcpuCreate { .. }
                | Self::VcpuRun { .. }
                | Self::VmDestroy { .. }
        )
    }

    /// Whether EL2 passes the call on to EL3 instead of answering it itself.
    pub const fn is_relayed_to_el3(&self) -> bool {
        matches!(self, Self::ArchWorkaround(_))
    }
}

/// A flags argument: no flag is defined yet, so any set bit is refused rather than ignored (a
/// later revision can then give bits a meaning without old firmware silently dropping them).
fn no_flags(x: u64) -> Result<(), SmcccError> {
    if x == 0 { Ok(()) } else { Err(SmcccError::InvalidParameter) }
}

/// An SMC32 argument: the caller must leave bits 63:32 clear.
fn arg32(x: u64) -> Result<u32, SmcccError> {
    u32::try_from(x).map_err(|_| SmcccError::InvalidParameter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [HostCall; 10] = [
        HostCall::SmcccVersion,
        HostCall::ArchFeatures {
            function_id: ids::SMCCC_ARCH_WORKAROUND_1,
        },
        HostCall::ArchFeatures {
            function_id: u32::MAX,
        },
        HostCall::ArchWorkaround(ArchWorkaround::Workaround1),
        HostCall::ArchWorkaround(ArchWorkaround::Workaround2 { state: 1 }),
        HostCall::ArchWorkaround(ArchWorkaround::Workaround2 { state: 0 }),
        HostCall::ArchWorkaround(ArchWorkaround::Workaround3),
        HostCall::HypFeatures {
            function_id: ids::HYP_REVISION,
        },
        HostCall::HypCallUid,
        HostCall::HypRevision,
    ];

    fn regs(x0: u64, x1: u64) -> [u64; CALL_REGS] {
        let mut regs = [0; CALL_REGS];
        regs[0] = x0;
        regs[1] = x1;
        regs
    }

    #[test]
    fn every_call_round_trips() {
        for call in ALL {
            let regs = call.encode();
            assert_eq!(regs[0], u64::from(call.function_id()));
            assert!(regs[2..].iter().all(|&x| x == 0), "{call:?}");
            assert_eq!(HostCall::decode(&regs), Ok(call));
        }
    }

    #[test]
    fn encoding_puts_the_argument_in_x1() {
        assert_eq!(
            HostCall::HypFeatures {
                function_id: ids::HYP_CALL_UID
            }
            .encode(),
            regs(0x8600_0000, 0x8600_FF01)
        );
        assert_eq!(
            HostCall::ArchWorkaround(ArchWorkaround::Workaround2 { state: 1 }).encode(),
            regs(0x8000_7FFF, 1)
        );
        assert_eq!(HostCall::SmcccVersion.encode(), regs(0x8000_0000, 0));
    }

    #[test]
    fn pmu_calls() {
        let mut r = regs(crate::pmu::PMU_RESERVE.into(), 2);
        assert_eq!(HostCall::decode(&r), Ok(HostCall::PmuReserve { count: 2 }));
        assert_eq!(HostCall::PmuReserve { count: 2 }.encode(), r);
        r[2] = 1;
        assert_eq!(HostCall::decode(&r), Err(SmcccError::InvalidParameter), "flags are refused");
        let mut r = regs(crate::pmu::PMU_UNRESERVE.into(), 0);
        assert_eq!(HostCall::decode(&r), Ok(HostCall::PmuUnreserve));
        r[1] = 1 << 40;
        assert_eq!(HostCall::decode(&r), Err(SmcccError::InvalidParameter));
        assert_eq!(HostCall::decode(&regs(crate::pmu::PMU_INFO.into(), 7)), Ok(HostCall::PmuInfo));
        assert!(HostCall::PmuStatus.is_hyp_service());
    }

    #[test]
    fn unknown_ids_are_not_supported() {
        for x0 in [
            0x8600_FF00, // deprecated call count
            0x8600_FF02, // unassigned in the UID/revision block
            0x8600_0001, // KVM's PTP call: not ours
            0xC600_0005, // PMU range, first undefined call
            0xC600_00FF, // PMU range, last
            0xC600_0000, // the SMC64 twin of HYP_FEATURES
            0x8400_0000, // PSCI_VERSION: relayed, never decoded here
            0x0600_0000, // yielding twin of HYP_FEATURES
            0x8000_0002, // SMCCC_ARCH_SOC_ID
        ] {
            assert_eq!(
                HostCall::decode(&regs(x0, 0)),
                Err(SmcccError::NotSupported),
                "{x0:#x}"
            );
        }
    }

    #[test]
    fn upper_half_of_x0_is_not_supported() {
        assert_eq!(
            HostCall::decode(&regs(0xFFFF_FFFF_8000_0000, 0)),
            Err(SmcccError::NotSupported)
        );
        assert_eq!(
            HostCall::decode(&regs(0x1_8600_FF01, 0)),
            Err(SmcccError::NotSupported)
        );
    }

    #[test]
    fn sve_hint_bit_is_ignored() {
        for call in ALL {
            let mut regs = call.encode();
            regs[0] |= u64::from(FunctionId::SVE_HINT);
            assert_eq!(HostCall::decode(&regs), Ok(call));
        }
    }

    #[test]
    fn used_argument_with_upper_bits_is_invalid() {
        for x0 in [
            ids::SMCCC_ARCH_FEATURES,
            ids::SMCCC_ARCH_WORKAROUND_2,
            ids::HYP_FEATURES,
        ] {
            for x1 in [1 << 32, 0xFFFF_FFFF_8000_0000] {
                assert_eq!(
                    HostCall::decode(&regs(x0.into(), x1)),
                    Err(SmcccError::InvalidParameter),
                    "{x0:#x} {x1:#x}"
                );
            }
        }
    }

    #[test]
    fn unused_registers_are_ignored() {
        for call in ALL {
            let mut regs = call.encode();
            let first_unused = match call {
                HostCall::ArchFeatures { .. }
                | HostCall::HypFeatures { .. }
                | HostCall::ArchWorkaround(ArchWorkaround::Workaround2 { .. }) => 2,
                _ => 1,
            };
            regs[first_unused..].fill(u64::MAX);
            assert_eq!(HostCall::decode(&regs), Ok(call));
        }
    }

    #[test]
    fn classification() {
        for call in ALL {
            let id = call.function_id();
            assert_eq!(
                call.is_hyp_service(),
                id.owner() == crate::Owner::VendorHyp,
                "{call:?}"
            );
            assert_eq!(
                call.is_relayed_to_el3(),
                ids::SMCCC_ARCH_WORKAROUNDS.contains(&id.raw()),
                "{call:?}"
            );
        }
    }
}
