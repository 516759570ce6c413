// SPDX-License-Identifier: MIT OR Apache-2.0

//! What a call returns in x0..x3, as typed values: the firmware encodes them, a client decodes them.
//!
//! The discovery calls decoded here are SMC32, so only the low 32 bits of each result register are
//! meaningful (the PMU and VM calls are SMC64: see `crate::pmu` and `crate::vm`). The firmware
//! still writes all 64 bits in a fixed way, for callers that read the whole register:
//! - values are zero-extended. A UID word such as 0xfcabab9b must read back as 0xfcabab9b when C
//!   code compares an `unsigned long` register with a `u32` constant, as Linux does for Call UIDs;
//! - error codes are sign-extended, so -1 reads as -1 both as a 64-bit `long` and as `(int)` of
//!   the register, which is how Linux tests SMC32 results.
//!
//! Result registers a call does not use are written as zero: EL2 never hands back whatever they
//! held before. Decoding ignores them, and ignores bits 63:32, so a client tolerates firmwares that
//! are less strict.

use crate::error::SmcccError;
use crate::ids;

/// Result registers the calls of this ABI use: x0..x3.
pub const RESULT_REGS: usize = 4;

/// The registers of a call that failed.
#[inline]
pub const fn encode_error(error: SmcccError) -> [u64; RESULT_REGS] {
    [error.to_register(), 0, 0, 0]
}

/// The error in w0, if any.
fn check(regs: &[u64; RESULT_REGS]) -> Result<(), SmcccError> {
    match SmcccError::from_register32(regs[0]) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Answer to SMCCC_VERSION: major in bits 30:16, minor in bits 15:0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version(pub u32);

impl Version {
    /// What EL2 answers.
    pub const CURRENT: Self = Self(ids::SMCCC_VERSION_1_2 as u32);

    /// The major version.
    #[inline]
    pub const fn major(self) -> u16 {
        ((self.0 >> 16) & 0x7fff) as u16
    }

    /// The minor version.
    #[inline]
    pub const fn minor(self) -> u16 {
        self.0 as u16
    }

    /// x0..x3 as EL2 returns them.
    #[inline]
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        [self.0 as u64, 0, 0, 0]
    }

    /// Reads the answer; a negative w0 (a firmware older than SMCCC 1.1) is the error.
    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        check(&regs)?;
        Ok(Self(regs[0] as u32))
    }
}

/// Answer to SMCCC_ARCH_FEATURES or HYP_FEATURES.
///
/// `Ok(0)` means the queried call is implemented. Some architecture queries answer a positive
/// value with a call-specific meaning (for the workarounds, 1 means this CPU is not affected), so
/// the success value is kept. A negative answer is part of the result, not a failure to decode:
/// [`Features::decode`] never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features(pub Result<u32, SmcccError>);

impl Features {
    /// The queried call is implemented.
    pub const SUPPORTED: Self = Self(Ok(0));
    /// The queried call is not implemented.
    pub const NOT_SUPPORTED: Self = Self(Err(SmcccError::NotSupported));

    /// What HYP_FEATURES answers for `function_id` in this revision of the ABI.
    pub fn for_hyp_call(function_id: u32) -> Self {
        if ids::HYP_CALLS.contains(&function_id)
            || crate::pmu::PMU_CALLS.contains(&function_id)
            || crate::vm::VM_CALLS.contains(&function_id)
        {
            Self::SUPPORTED
        } else {
            Self::NOT_SUPPORTED
        }
    }

    /// Whether the queried call may be made.
    #[inline]
    pub const fn is_supported(&self) -> bool {
        self.0.is_ok()
    }

    /// x0..x3 as EL2 returns them.
    #[inline]
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        match self.0 {
            Ok(value) => [value as u64, 0, 0, 0],
            Err(error) => encode_error(error),
        }
    }

    /// Reads the answer. Always `Ok`: see the type's documentation.
    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        Ok(Self(check(&regs).map(|()| regs[0] as u32)))
    }
}

/// Answer to HYP_CALL_UID: the UUID as four words, see [`ids::uuid_to_words`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallUid(pub [u32; 4]);

impl CallUid {
    /// This hypervisor's UID.
    pub const HYP: Self = Self(ids::HYP_CALL_UID_WORDS);

    /// From the UUID in the order its string form is written.
    #[inline]
    pub const fn from_uuid(bytes: [u8; 16]) -> Self {
        Self(ids::uuid_to_words(bytes))
    }

    /// The UUID in the order its string form is written.
    #[inline]
    pub const fn to_uuid(self) -> [u8; 16] {
        ids::words_to_uuid(self.0)
    }

    /// x0..x3 as EL2 returns them.
    #[inline]
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        let [w0, w1, w2, w3] = self.0;
        [w0 as u64, w1 as u64, w2 as u64, w3 as u64]
    }

    /// Reads the answer. SMCCC reserves w0 = 0xFFFFFFFF for "no UID", which decodes as
    /// NOT_SUPPORTED; every other value, including ones with bit 31 set, is a UID word.
    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        let [w0, w1, w2, w3] = regs.map(|x| x as u32);
        if w0 == u32::MAX {
            return Err(SmcccError::NotSupported);
        }
        Ok(Self([w0, w1, w2, w3]))
    }
}

/// Answer to HYP_REVISION: the ABI revision, major in w0 and minor in w1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision {
    pub major: u32,
    pub minor: u32,
}

impl Revision {
    /// The revision this crate defines.
    pub const CURRENT: Self = Self {
        major: ids::HYP_REVISION_MAJOR,
        minor: ids::HYP_REVISION_MINOR,
    };

    /// Whether a firmware answering `self` provides the ABI a client written for `required`
    /// expects. Before 1.0 any minor revision may break the previous one, so the revisions must
    /// be equal; from 1.0 on, the majors must be equal and the firmware's minor at least as high.
    #[inline]
    pub const fn is_compatible_with(self, required: Self) -> bool {
        if self.major != required.major {
            false
        } else if self.major == 0 {
            self.minor == required.minor
        } else {
            self.minor >= required.minor
        }
    }

    /// x0..x3 as EL2 returns them.
    #[inline]
    pub const fn encode(&self) -> [u64; RESULT_REGS] {
        [self.major as u64, self.minor as u64, 0, 0]
    }

    /// Reads the answer; a negative w0 is the error.
    pub fn decode(regs: [u64; RESULT_REGS]) -> Result<Self, SmcccError> {
        check(&regs)?;
        Ok(Self {
            major: regs[0] as u32,
            minor: regs[1] as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERRORS: [SmcccError; 8] = [
        SmcccError::NotSupported,
        SmcccError::NotRequired,
        SmcccError::InvalidParameter,
        SmcccError::Denied,
        SmcccError::Busy,
        SmcccError::AlreadyReserved,
        SmcccError::NotReserved,
        SmcccError::Unknown(-42),
    ];

    #[test]
    fn version_round_trips() {
        let regs = Version::CURRENT.encode();
        assert_eq!(regs, [0x1_0002, 0, 0, 0]);
        assert_eq!(Version::decode(regs), Ok(Version::CURRENT));
        assert_eq!((Version::CURRENT.major(), Version::CURRENT.minor()), (1, 2));
    }

    #[test]
    fn features_round_trip() {
        for features in [
            Features::SUPPORTED,
            Features(Ok(1)),
            Features(Ok(i32::MAX as u32)),
        ]
        .into_iter()
        .chain(ERRORS.map(|e| Features(Err(e))))
        {
            assert_eq!(Features::decode(features.encode()), Ok(features));
        }
        assert_eq!(Features::NOT_SUPPORTED.encode(), [u64::MAX, 0, 0, 0]);
        assert_eq!(Features(Ok(1)).encode(), [1, 0, 0, 0]);
    }

    #[test]
    fn hyp_features_lists_exactly_the_hyp_calls() {
        for id in ids::HYP_CALLS.into_iter().chain(crate::pmu::PMU_CALLS) {
            assert_eq!(Features::for_hyp_call(id), Features::SUPPORTED);
        }
        for id in [
            ids::HYP_CALL_COUNT,
            0xC600_0005,
            *ids::PMU_CALLS.end(),
            ids::SMCCC_VERSION,
            0x8600_0001,
        ] {
            assert_eq!(Features::for_hyp_call(id), Features::NOT_SUPPORTED);
        }
    }

    #[test]
    fn call_uid_round_trips() {
        let regs = CallUid::HYP.encode();
        assert_eq!(regs, [0xfcabab9b, 0x8d425900, 0x29082289, 0x128ed30c]);
        assert_eq!(CallUid::decode(regs), Ok(CallUid::HYP));
        assert_eq!(CallUid::HYP.to_uuid(), ids::HYP_CALL_UID_BYTES);
        assert_eq!(CallUid::from_uuid(ids::HYP_CALL_UID_BYTES), CallUid::HYP);
    }

    #[test]
    fn call_uid_words_are_zero_extended() {
        // Bit 31 of w0 is set in our UID: a sign-extended word would not compare equal to the
        // 32-bit constant in a C client's `res.a0 == 0xfcabab9b`.
        assert!(CallUid::HYP.encode().iter().all(|&x| x >> 32 == 0));
    }

    #[test]
    fn call_uid_not_supported() {
        assert_eq!(
            CallUid::decode(encode_error(SmcccError::NotSupported)),
            Err(SmcccError::NotSupported)
        );
        assert_eq!(
            CallUid::decode([0xFFFF_FFFF, 0, 0, 0]),
            Err(SmcccError::NotSupported)
        );
    }

    #[test]
    fn revision_round_trips() {
        let regs = Revision::CURRENT.encode();
        assert_eq!(regs, [0, 3, 0, 0]);
        assert_eq!(Revision::decode(regs), Ok(Revision::CURRENT));
    }

    #[test]
    fn revision_compatibility() {
        let r = |major, minor| Revision { major, minor };
        assert!(r(0, 1).is_compatible_with(r(0, 1)));
        assert!(!r(0, 2).is_compatible_with(r(0, 1)));
        assert!(!r(0, 1).is_compatible_with(r(0, 2)));
        assert!(r(1, 3).is_compatible_with(r(1, 2)));
        assert!(!r(1, 1).is_compatible_with(r(1, 2)));
        assert!(!r(2, 0).is_compatible_with(r(1, 0)));
    }

    #[test]
    fn errors_decode_to_the_right_code() {
        for error in ERRORS {
            let regs = encode_error(error);
            assert_eq!(regs[1..], [0, 0, 0]);
            assert_eq!(Version::decode(regs), Err(error));
            assert_eq!(Revision::decode(regs), Err(error));
            assert_eq!(Features::decode(regs), Ok(Features(Err(error))));
        }
    }

    #[test]
    fn decoding_ignores_the_upper_half_and_unused_registers() {
        let regs = [
            0xDEAD_0000_0001_0002,
            0xDEAD_0000_0000_0001,
            u64::MAX,
            u64::MAX,
        ];
        assert_eq!(Version::decode(regs), Ok(Version(0x1_0002)));
        assert_eq!(
            Revision::decode(regs),
            Ok(Revision {
                major: 0x1_0002,
                minor: 1
            })
        );
        // A zero-extended -1 from a less careful firmware is still an error.
        assert_eq!(
            Version::decode([0xFFFF_FFFF, 0, 0, 0]),
            Err(SmcccError::NotSupported)
        );
    }
}
