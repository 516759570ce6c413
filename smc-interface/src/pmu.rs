// SPDX-License-Identifier: MIT OR Apache-2.0

//! The PMU partition calls (ABI 0.2): what they take and return, packed into registers.
//!
//! All four are fast SMC64 calls of this hypervisor's service (owner 6) and act on the PMU of the
//! CPU that makes them. Counters are named by their physical index n (PMEVCNTR<n>_EL0); a set of
//! counters is a bit mask with bit n for counter n. The cycle counter is not partitioned.

use crate::error::SmcccError;
use crate::result::RESULT_REGS;

/// Reports the PMU and the partitioning limits: returns [`PmuInfo`].
pub const PMU_INFO: u32 = 0xC600_0001;
/// Reports this CPU's partition state: returns [`PmuStatus`].
pub const PMU_STATUS: u32 = 0xC600_0002;
/// x1 = number of counters, x2 = flags (must be 0). Takes the highest counters the host still
/// owns on this CPU for partitions; returns their mask in x1.
pub const PMU_RESERVE: u32 = 0xC600_0003;
/// x1 = flags (must be 0). Scrubs this CPU's reserved counters and gives them back to the host;
/// returns their mask in x1.
pub const PMU_UNRESERVE: u32 = 0xC600_0004;

/// The PMU calls of this revision.
pub const PMU_CALLS: [u32; 4] = [PMU_INFO, PMU_STATUS, PMU_RESERVE, PMU_UNRESERVE];

/// How EL2 keeps a partition's counters and the host's apart while a partition runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enforcement {
    /// The CPU itself refuses EL1 accesses to counters at or above MDCR_EL2.HPMN; EL2 does not trap
    /// PMU accesses.
    Direct = 1,
    /// The CPU does not (QEMU, for one): EL2 traps every PMU access from a partition
    /// (MDCR_EL2.TPM) and applies it to the partition's own counters.
    Trapped = 2,
}

impl Enforcement {
    pub const fn from_bits(bits: u64) -> Option<Self> {
        match bits {
            1 => Some(Self::Direct),
            2 => Some(Self::Trapped),
            _ => None,
        }
    }
}

/// PMU_INFO's answer.
///
/// x1: bits 4:0 event counters N; bits 11:8 PMUVer (ID_AA64DFR0_EL1.PMUVer); bits 23:16 width of
/// the event counters in bits (32, or 64 from PMUv3p5); bit 24 FEAT_HPMN0; bit 25 FEAT_FGT;
/// bit 26 the CPU was seen (by a probe at boot) to refuse EL1 accesses at or above HPMN;
/// bits 31:28 [`Enforcement`].
/// x2: bits 4:0 the most counters PMU_RESERVE grants on a CPU; bits 12:8 counters the host always
/// keeps; bits 20:16 counters reserved for partitions from boot on (not the host's at any time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PmuInfo {
    pub counters: u8,
    pub pmu_version: u8,
    pub counter_bits: u8,
    pub hpmn0: bool,
    pub fgt: bool,
    /// The boot probe saw the CPU keep EL1 out of counters at and above HPMN.
    pub cpu_enforces_hpmn: bool,
    pub enforcement: Enforcement,
    pub max_reserve: u8,
    pub host_minimum: u8,
    pub boot_reserved: u8,
}

impl PmuInfo {
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        let x1 = (self.counters as u64 & 0x1f)
            | ((self.pmu_version as u64 & 0xf) << 8)
            | ((self.counter_bits as u64) << 16)
            | ((self.hpmn0 as u64) << 24)
            | ((self.fgt as u64) << 25)
            | ((self.cpu_enforces_hpmn as u64) << 26)
            | ((self.enforcement as u64) << 28);
        let x2 = (self.max_reserve as u64 & 0x1f)
            | ((self.host_minimum as u64 & 0x1f) << 8)
            | ((self.boot_reserved as u64 & 0x1f) << 16);
        [0, x1, x2, 0]
    }

    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        check64(regs[0])?;
        let (x1, x2) = (regs[1], regs[2]);
        Ok(Self {
            counters: (x1 & 0x1f) as u8,
            pmu_version: ((x1 >> 8) & 0xf) as u8,
            counter_bits: ((x1 >> 16) & 0xff) as u8,
            hpmn0: x1 & (1 << 24) != 0,
            fgt: x1 & (1 << 25) != 0,
            cpu_enforces_hpmn: x1 & (1 << 26) != 0,
            enforcement: Enforcement::from_bits((x1 >> 28) & 0xf).ok_or(SmcccError::Unknown(0))?,
            max_reserve: (x2 & 0x1f) as u8,
            host_minimum: ((x2 >> 8) & 0x1f) as u8,
            boot_reserved: ((x2 >> 16) & 0x1f) as u8,
        })
    }
}

/// PMU_STATUS's answer: x1 = every counter reserved for partitions on this CPU (boot and
/// PMU_RESERVE), x2 = counters the host owns now (MDCR_EL2.HPMN while the host runs), x3 = the
/// mask PMU_RESERVE granted and PMU_UNRESERVE would give back (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PmuStatus {
    pub reserved_mask: u32,
    pub host_counters: u8,
    pub dynamic_mask: u32,
}

impl PmuStatus {
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        [0, self.reserved_mask as u64, self.host_counters as u64, self.dynamic_mask as u64]
    }

    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        check64(regs[0])?;
        Ok(Self {
            reserved_mask: regs[1] as u32,
            host_counters: regs[2] as u8,
            dynamic_mask: regs[3] as u32,
        })
    }
}

/// PMU_RESERVE's and PMU_UNRESERVE's answer: the counters that changed hands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterMask(pub u32);

impl CounterMask {
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        [0, self.0 as u64, 0, 0]
    }

    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        check64(regs[0])?;
        Ok(Self(regs[1] as u32))
    }

    /// The mask of counters [first, first + count).
    pub const fn range(first: u8, count: u8) -> Self {
        if count == 0 {
            return Self(0);
        }
        let ones = if count >= 32 { u32::MAX } else { (1u32 << count) - 1 };
        Self(ones << first)
    }

    pub const fn count(&self) -> u32 {
        self.0.count_ones()
    }
}

/// SMC64 results: x0 is a 64-bit value, negative for errors.
fn check64(x0: u64) -> Result<(), SmcccError> {
    match SmcccError::from_register(x0) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trip() {
        let info = PmuInfo {
            counters: 6,
            pmu_version: 6,
            counter_bits: 64,
            hpmn0: true,
            fgt: true,
            cpu_enforces_hpmn: false,
            enforcement: Enforcement::Trapped,
            max_reserve: 5,
            host_minimum: 1,
            boot_reserved: 0,
        };
        let regs = info.encode();
        assert_eq!(regs[1], 6 | 6 << 8 | 64 << 16 | 1 << 24 | 1 << 25 | 2 << 28);
        assert_eq!(regs[2], 5 | 1 << 8);
        assert_eq!(PmuInfo::decode(regs), Ok(info));
        assert_eq!(PmuInfo::decode([-1i64 as u64, 0, 0, 0]), Err(SmcccError::NotSupported));
    }

    #[test]
    fn status_and_masks() {
        let s = PmuStatus { reserved_mask: 0b110000, host_counters: 4, dynamic_mask: 0b110000 };
        assert_eq!(PmuStatus::decode(s.encode()), Ok(s));
        assert_eq!(CounterMask::range(4, 2), CounterMask(0b110000));
        assert_eq!(CounterMask::range(0, 0), CounterMask(0));
        assert_eq!(CounterMask::range(0, 31).count(), 31);
        assert_eq!(CounterMask::decode([-5i64 as u64, 0, 0, 0]), Err(SmcccError::Busy));
    }
}
