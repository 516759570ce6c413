// SPDX-License-Identifier: MIT OR Apache-2.0

//! SMCCC function identifiers (SMCCC 1.4, section 2.5): the value a caller puts in w0 to say which
//! call it makes, and the owning entity that the identifier belongs to.

use core::fmt;

/// A 32-bit SMCCC function identifier, always held with the SVE hint bit (bit 16) clear.
///
/// Keeping the hint out of the stored value means two identifiers compare equal exactly when they
/// name the same call, so dispatch can `match` on [`FunctionId::raw`] against the constants in
/// [`crate::ids`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionId(u32);

impl FunctionId {
    const FAST_CALL: u32 = 1 << 31;
    const SMC64: u32 = 1 << 30;
    const OWNER_SHIFT: u32 = 24;
    const OWNER_MASK: u32 = 0x3f;
    /// SMCCC 1.3 lets a caller set this to say it has no live SVE state beyond the FP/SIMD
    /// registers; it is a hint to the callee and never part of the call's identity.
    pub const SVE_HINT: u32 = 1 << 16;

    /// Wraps a 32-bit function identifier, dropping the SVE hint.
    #[inline]
    pub const fn new(raw: u32) -> Self {
        Self(raw & !Self::SVE_HINT)
    }

    /// Reads the identifier from x0 as a caller left it.
    ///
    /// Returns `None` when any of bits 63:32 is set: a function identifier is a 32-bit unsigned
    /// value, and a caller that sign-extended it (as Linux did before v4.16) or left garbage there
    /// is refused rather than guessed at. The firmware answers such a call with NOT_SUPPORTED.
    #[inline]
    pub const fn from_register(x0: u64) -> Option<Self> {
        if x0 >> 32 != 0 {
            None
        } else {
            Some(Self::new(x0 as u32))
        }
    }

    /// The identifier without the SVE hint, as it appears in [`crate::ids`].
    #[inline]
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Fast calls (bit 31) are atomic from the caller's point of view; yielding calls may be
    /// pre-empted. Every call of this ABI is fast.
    #[inline]
    pub const fn is_fast(self) -> bool {
        self.0 & Self::FAST_CALL != 0
    }

    /// SMC64/HVC64 calls (bit 30) take and return 64-bit values; SMC32/HVC32 calls use only the
    /// low 32 bits of each register.
    #[inline]
    pub const fn is_smc64(self) -> bool {
        self.0 & Self::SMC64 != 0
    }

    /// The owning entity number, bits 29:24.
    #[inline]
    pub const fn owner_number(self) -> u8 {
        ((self.0 >> Self::OWNER_SHIFT) & Self::OWNER_MASK) as u8
    }

    /// The owning entity, decoded.
    #[inline]
    pub const fn owner(self) -> Owner {
        Owner::from_number(self.owner_number())
    }

    /// The function number within the owner's range, bits 15:0.
    #[inline]
    pub const fn number(self) -> u16 {
        self.0 as u16
    }
}

impl From<FunctionId> for u32 {
    fn from(id: FunctionId) -> u32 {
        id.raw()
    }
}

impl From<FunctionId> for u64 {
    fn from(id: FunctionId) -> u64 {
        id.raw().into()
    }
}

impl fmt::Debug for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionId({:#010x})", self.0)
    }
}

impl fmt::Display for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// The owning entity of a function identifier (SMCCC 1.4, table 6-1). The payload of the
/// range variants is the raw owner number, so the conversion back to `u8` is lossless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Arm architecture calls: SMCCC_VERSION, SMCCC_ARCH_FEATURES, the workarounds.
    Arch,
    /// CPU service calls.
    Cpu,
    /// Silicon-partner (SiP) calls.
    Sip,
    /// OEM calls.
    Oem,
    /// Standard secure services: PSCI, TRNG, …
    Standard,
    /// Standard hypervisor services (e.g. paravirtualised time).
    StandardHyp,
    /// Vendor-specific hypervisor services: this hypervisor's own calls, and also KVM's. The Call
    /// UID tells which hypervisor answers.
    VendorHyp,
    /// Trusted application calls, owners 48 and 49.
    TrustedApp(u8),
    /// Trusted OS calls, owners 50 to 63.
    TrustedOs(u8),
    /// Owners 7 to 47, reserved by Arm; also any number that does not fit in 6 bits.
    Reserved(u8),
}

impl Owner {
    /// Decodes an owner number; numbers above 63 cannot come from a function identifier and
    /// are reported as reserved.
    #[inline]
    pub const fn from_number(number: u8) -> Self {
        match number {
            0 => Self::Arch,
            1 => Self::Cpu,
            2 => Self::Sip,
            3 => Self::Oem,
            4 => Self::Standard,
            5 => Self::StandardHyp,
            6 => Self::VendorHyp,
            48..=49 => Self::TrustedApp(number),
            50..=63 => Self::TrustedOs(number),
            _ => Self::Reserved(number),
        }
    }

    /// The raw owner number.
    #[inline]
    pub const fn number(self) -> u8 {
        match self {
            Self::Arch => 0,
            Self::Cpu => 1,
            Self::Sip => 2,
            Self::Oem => 3,
            Self::Standard => 4,
            Self::StandardHyp => 5,
            Self::VendorHyp => 6,
            Self::TrustedApp(n) | Self::TrustedOs(n) | Self::Reserved(n) => n,
        }
    }
}

impl From<u8> for Owner {
    fn from(number: u8) -> Self {
        Self::from_number(number)
    }
}

impl From<Owner> for u8 {
    fn from(owner: Owner) -> u8 {
        owner.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_fast_smc32_vendor_hyp_call() {
        let id = FunctionId::new(0x8600_FF01);
        assert!(id.is_fast());
        assert!(!id.is_smc64());
        assert_eq!(id.owner(), Owner::VendorHyp);
        assert_eq!(id.owner_number(), 6);
        assert_eq!(id.number(), 0xFF01);
    }

    #[test]
    fn fields_of_a_fast_smc64_call() {
        let id = FunctionId::new(0xC400_0003); // PSCI CPU_ON, SMC64
        assert!(id.is_fast());
        assert!(id.is_smc64());
        assert_eq!(id.owner(), Owner::Standard);
        assert_eq!(id.number(), 3);
    }

    #[test]
    fn yielding_call_is_not_fast() {
        let id = FunctionId::new(0x3200_0001);
        assert!(!id.is_fast());
        assert!(!id.is_smc64());
        assert_eq!(id.owner(), Owner::TrustedOs(50));
    }

    #[test]
    fn sve_hint_is_ignored() {
        let with_hint = FunctionId::from_register(0x8001_0000).unwrap();
        assert_eq!(with_hint, FunctionId::new(0x8000_0000));
        assert_eq!(with_hint.raw(), 0x8000_0000);
        assert_eq!(with_hint.number(), 0);
    }

    #[test]
    fn upper_half_of_x0_is_refused() {
        assert_eq!(FunctionId::from_register(0xFFFF_FFFF_8000_0000), None);
        assert_eq!(FunctionId::from_register(1 << 32), None);
        assert_eq!(
            FunctionId::from_register(0x0000_0000_8000_0000),
            Some(FunctionId::new(0x8000_0000))
        );
    }

    #[test]
    fn owner_numbers_round_trip() {
        for n in 0..=u8::MAX {
            assert_eq!(Owner::from(n).number(), n);
        }
        assert_eq!(Owner::from(7), Owner::Reserved(7));
        assert_eq!(Owner::from(47), Owner::Reserved(47));
        assert_eq!(Owner::from(48), Owner::TrustedApp(48));
        assert_eq!(Owner::from(49), Owner::TrustedApp(49));
        assert_eq!(Owner::from(63), Owner::TrustedOs(63));
        assert_eq!(Owner::from(64), Owner::Reserved(64));
    }
}
