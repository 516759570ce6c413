// SPDX-License-Identifier: MIT OR Apache-2.0

//! The error codes a call can return in x0: the three SMCCC defines for every service, and the ones
//! this hypervisor reserves for its PMU partition calls.

use core::fmt;

/// x0 of a call that succeeded and has nothing else to say.
pub const SUCCESS: u64 = 0;

/// A negative status in x0.
///
/// The codes are signed 64-bit values. They are always returned sign-extended to 64 bits, even for
/// SMC32 calls: that way a caller reading the whole of x0 as a signed 64-bit value and a caller
/// reading only w0 as a signed 32-bit value (Linux does `(int)res.a0`) both see the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmcccError {
    /// -1: the function identifier is not implemented (or not on this conduit).
    NotSupported,
    /// -2: the call is implemented but not needed on this system (SMCCC workaround queries).
    NotRequired,
    /// -3: an argument the call uses is out of range.
    InvalidParameter,
    /// -4: the caller may not make this call now. Used by the VM calls from ABI 0.3 on.
    Denied,
    /// -5: the resource is in use, or the host has not vacated it yet. Used from ABI 0.2 on.
    Busy,
    /// -6: the resource is already reserved. Used from ABI 0.2 on.
    AlreadyReserved,
    /// -7: the resource is not reserved, so it cannot be released or used. Used from ABI 0.2 on.
    NotReserved,
    /// A negative code that this version of the ABI does not define, kept as read so a client can
    /// report it. The firmware never returns one; [`SmcccError::from_register`] produces it only for
    /// negative values not listed above.
    Unknown(i64),
}

impl SmcccError {
    /// The signed code.
    #[inline]
    pub const fn code(self) -> i64 {
        match self {
            Self::NotSupported => -1,
            Self::NotRequired => -2,
            Self::InvalidParameter => -3,
            Self::Denied => -4,
            Self::Busy => -5,
            Self::AlreadyReserved => -6,
            Self::NotReserved => -7,
            Self::Unknown(code) => code,
        }
    }

    /// The code as x0 carries it: two's complement, sign-extended to 64 bits.
    #[inline]
    pub const fn to_register(self) -> u64 {
        self.code() as u64
    }

    /// Interprets a full 64-bit x0. `None` means x0 is not negative, i.e. not an error.
    #[inline]
    pub const fn from_register(x0: u64) -> Option<Self> {
        let code = x0 as i64;
        Some(match code {
            0.. => return None,
            -1 => Self::NotSupported,
            -2 => Self::NotRequired,
            -3 => Self::InvalidParameter,
            -4 => Self::Denied,
            -5 => Self::Busy,
            -6 => Self::AlreadyReserved,
            -7 => Self::NotReserved,
            _ => Self::Unknown(code),
        })
    }

    /// Interprets w0 of an SMC32 call, where only the low 32 bits are meaningful. This accepts
    /// both a sign-extended code (what this firmware returns) and a zero-extended one.
    #[inline]
    pub const fn from_register32(x0: u64) -> Option<Self> {
        Self::from_register(x0 as u32 as i32 as i64 as u64)
    }
}

impl fmt::Display for SmcccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::NotSupported => "NOT_SUPPORTED",
            Self::NotRequired => "NOT_REQUIRED",
            Self::InvalidParameter => "INVALID_PARAMETER",
            Self::Denied => "DENIED",
            Self::Busy => "BUSY",
            Self::AlreadyReserved => "ALREADY_RESERVED",
            Self::NotReserved => "NOT_RESERVED",
            Self::Unknown(_) => "unknown error",
        };
        write!(f, "{name} ({})", self.code())
    }
}

impl core::error::Error for SmcccError {}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [(SmcccError, i64); 7] = [
        (SmcccError::NotSupported, -1),
        (SmcccError::NotRequired, -2),
        (SmcccError::InvalidParameter, -3),
        (SmcccError::Denied, -4),
        (SmcccError::Busy, -5),
        (SmcccError::AlreadyReserved, -6),
        (SmcccError::NotReserved, -7),
    ];

    #[test]
    fn codes_are_the_abi_values() {
        for (error, code) in KNOWN {
            assert_eq!(error.code(), code);
            assert_eq!(error.to_register(), code as u64);
            assert_eq!(SmcccError::from_register(code as u64), Some(error));
        }
        assert_eq!(
            SmcccError::NotSupported.to_register(),
            0xFFFF_FFFF_FFFF_FFFF
        );
    }

    #[test]
    fn non_negative_is_not_an_error() {
        assert_eq!(SmcccError::from_register(SUCCESS), None);
        assert_eq!(SmcccError::from_register(0x1_0002), None);
        assert_eq!(SmcccError::from_register(i64::MAX as u64), None);
    }

    #[test]
    fn unknown_negative_codes_are_kept() {
        assert_eq!(
            SmcccError::from_register(-8i64 as u64),
            Some(SmcccError::Unknown(-8))
        );
        assert_eq!(SmcccError::Unknown(-8).to_register(), -8i64 as u64);
    }

    #[test]
    fn a_32bit_reader_sees_the_same_code() {
        for (error, code) in KNOWN {
            let x0 = error.to_register();
            assert_eq!(x0 as u32 as i32, code as i32);
            assert_eq!(SmcccError::from_register32(x0), Some(error));
            // A zero-extended code from another firmware still reads as the error in w0.
            assert_eq!(SmcccError::from_register32(x0 & 0xFFFF_FFFF), Some(error));
        }
        assert_eq!(SmcccError::from_register32(0x7FFF_FFFF), None);
    }
}
