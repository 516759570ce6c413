// SPDX-License-Identifier: MIT OR Apache-2.0

//! Every function identifier of the ABI, the values EL2 reports about itself (SMCCC version, Call
//! UID, revision), and the range kept for the PMU partition calls.

use core::ops::RangeInclusive;

// Arm architecture calls (owner 0, fast SMC32).

/// Returns the SMCCC version EL2 implements; see [`SMCCC_VERSION_1_2`].
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// Takes a function identifier in w1 and says whether that architecture call is implemented.
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
/// Branch-predictor invalidation (CVE-2017-5715). Relayed to EL3.
pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;
/// Speculative store bypass control (CVE-2018-3639); w1 selects the state. Relayed to EL3.
pub const SMCCC_ARCH_WORKAROUND_2: u32 = 0x8000_7FFF;
/// Branch history invalidation (CVE-2022-23960). Relayed to EL3.
pub const SMCCC_ARCH_WORKAROUND_3: u32 = 0x8000_3FFF;

/// The architecture workaround calls: EL2 classifies them and relays them to EL3, which knows
/// what the CPU needs.
pub const SMCCC_ARCH_WORKAROUNDS: [u32; 3] = [
    SMCCC_ARCH_WORKAROUND_1,
    SMCCC_ARCH_WORKAROUND_2,
    SMCCC_ARCH_WORKAROUND_3,
];

/// What EL2 answers to SMCCC_VERSION by HVC: 1.2 (major in bits 30:16, minor in bits 15:0). By
/// SMC, EL3 is the callee for architecture calls and answers with its own version.
pub const SMCCC_VERSION_1_2: u64 = 0x1_0002;

// This hypervisor's Vendor Specific Hypervisor Service (owner 6, fast SMC32).

/// Takes a function identifier in w1; answers 0 when this hypervisor implements it, NOT_SUPPORTED
/// otherwise. A host must ask before it makes any call other than the three discovery calls.
/// Only meaningful once HYP_CALL_UID has matched: KVM gives the same identifier another meaning.
pub const HYP_FEATURES: u32 = 0x8600_0000;
/// Deprecated by SMCCC and not implemented: answers NOT_SUPPORTED. Listed so nobody reuses it.
pub const HYP_CALL_COUNT: u32 = 0x8600_FF00;
/// Returns [`HYP_CALL_UID_WORDS`] in w0..w3.
pub const HYP_CALL_UID: u32 = 0x8600_FF01;
/// Returns [`HYP_REVISION_MAJOR`] in w0 and [`HYP_REVISION_MINOR`] in w1.
pub const HYP_REVISION: u32 = 0x8600_FF03;

/// The vendor hypervisor calls that HYP_FEATURES reports as implemented in this revision.
pub const HYP_CALLS: [u32; 3] = [HYP_FEATURES, HYP_CALL_UID, HYP_REVISION];

/// Function identifiers kept for the PMU partition calls and partitions (owner 6, fast SMC64).
/// ABI 0.3 defines the four PMU calls (`crate::pmu`), the five VM calls (`crate::vm`) and the two
/// guest calls (`crate::vm::guest`, guests only); the rest answer NOT_SUPPORTED.
pub const PMU_CALLS: RangeInclusive<u32> = 0xC600_0001..=0xC600_00FF;

/// ABI revision, major part. While it is 0 the ABI may change incompatibly from one minor revision
/// to the next; from 1.0 on, a minor revision only adds calls.
pub const HYP_REVISION_MAJOR: u32 = 0;
/// ABI revision, minor part.
pub const HYP_REVISION_MINOR: u32 = 3;

/// This hypervisor's Call UID, 9bababfc-0059-428d-8922-08290cd38e12, in the order the UUID
/// string is written (RFC 4122 byte order).
pub const HYP_CALL_UID_BYTES: [u8; 16] = [
    0x9b, 0xab, 0xab, 0xfc, 0x00, 0x59, 0x42, 0x8d, 0x89, 0x22, 0x08, 0x29, 0x0c, 0xd3, 0x8e, 0x12,
];

/// The Call UID as returned in w0..w3: `[0xfcabab9b, 0x8d425900, 0x29082289, 0x128ed30c]`.
pub const HYP_CALL_UID_WORDS: [u32; 4] = uuid_to_words(HYP_CALL_UID_BYTES);

/// Splits a UUID into the four words of a Call UID answer.
///
/// SMCCC returns a UUID as four 32-bit words where word n holds bytes 4n..4n+3 of the UUID read
/// little-endian; this is how Linux and KVM lay theirs out, so a host can compare word for word.
pub const fn uuid_to_words(bytes: [u8; 16]) -> [u32; 4] {
    let mut words = [0; 4];
    let mut i = 0;
    while i < 4 {
        let b = 4 * i;
        words[i] = u32::from_le_bytes([bytes[b], bytes[b + 1], bytes[b + 2], bytes[b + 3]]);
        i += 1;
    }
    words
}

/// The inverse of [`uuid_to_words`].
pub const fn words_to_uuid(words: [u32; 4]) -> [u8; 16] {
    let mut bytes = [0; 16];
    let mut i = 0;
    while i < 4 {
        let le = words[i].to_le_bytes();
        let mut j = 0;
        while j < 4 {
            bytes[4 * i + j] = le[j];
            j += 1;
        }
        i += 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function_id::{FunctionId, Owner};

    #[test]
    fn uid_encoding_matches_linux_kvm() {
        // KVM's UID 28b46fb6-2ec5-11e9-a9ca-4b564d003a74 and the four words Linux compares against
        // (ARM_SMCCC_VENDOR_HYP_UID_KVM_REG_0..3).
        let kvm = [
            0x28, 0xb4, 0x6f, 0xb6, 0x2e, 0xc5, 0x11, 0xe9, 0xa9, 0xca, 0x4b, 0x56, 0x4d, 0x00,
            0x3a, 0x74,
        ];
        assert_eq!(
            uuid_to_words(kvm),
            [0xb66fb428, 0xe911c52e, 0x564bcaa9, 0x743a004d]
        );
        assert_eq!(words_to_uuid(uuid_to_words(kvm)), kvm);
    }

    #[test]
    fn our_uid_words() {
        assert_eq!(
            HYP_CALL_UID_WORDS,
            [0xfcabab9b, 0x8d425900, 0x29082289, 0x128ed30c]
        );
        assert_eq!(words_to_uuid(HYP_CALL_UID_WORDS), HYP_CALL_UID_BYTES);
        // SMCCC reserves w0 = 0xFFFFFFFF to mean "no UID"; ours must not collide with it.
        assert_ne!(HYP_CALL_UID_WORDS[0], u32::MAX);
    }

    #[test]
    fn hyp_calls_belong_to_the_vendor_hyp_owner() {
        for id in HYP_CALLS.into_iter().chain([HYP_CALL_COUNT]) {
            let id = FunctionId::new(id);
            assert_eq!(id.owner(), Owner::VendorHyp);
            assert!(id.is_fast());
            assert!(!id.is_smc64());
        }
        for id in [*PMU_CALLS.start(), *PMU_CALLS.end()] {
            let id = FunctionId::new(id);
            assert_eq!(id.owner(), Owner::VendorHyp);
            assert!(id.is_fast());
            assert!(id.is_smc64());
        }
    }

    #[test]
    fn arch_calls_belong_to_the_arch_owner() {
        for id in [SMCCC_VERSION, SMCCC_ARCH_FEATURES]
            .into_iter()
            .chain(SMCCC_ARCH_WORKAROUNDS)
        {
            let id = FunctionId::new(id);
            assert_eq!(id.owner(), Owner::Arch);
            assert!(id.is_fast());
            assert!(!id.is_smc64());
        }
    }
}
