// SPDX-License-Identifier: MIT OR Apache-2.0

//! Fuzzing `HostCall::decode` on arbitrary registers, against an oracle written from the tables
//! of docs/abi.md (sections 3, 5, 9 and 10) rather than from the crate's constants, so that the
//! crate and the document are checked against each other.
//!
//! For every x0..x17: decode never panics; an Ok names a call the ABI lists, with the fast bit
//! set, and carries exactly the registers that call uses; an Err is NOT_SUPPORTED for anything
//! that is not such a call (x0 bits 63:32 set, unknown or guest-only ID) and INVALID_PARAMETER
//! exactly when a used argument breaks its rule (bits 63:32 of an SMC32 argument, a flags word
//! that is not 0). Registers a call does not use never matter, and the SVE hint never does.

// One runner for every fuzz property of the workspace (el2's), so `make fuzz` sets them all.
#[path = "../../el2/tests/support/mod.rs"]
mod support;

use proptest::prelude::*;
use smc_interface::{CALL_REGS, FunctionId, HostCall, Owner, SmcccError};

/// How a call uses an argument register.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Arg {
    /// An SMC32 argument: bits 63:32 must be clear (abi.md section 3).
    W,
    /// A flags word: no flag is defined, so it must be 0.
    Flags,
    /// A full 64-bit value the call checks itself later (addresses, counts, handles).
    X,
}
use Arg::{Flags, W, X};

/// Every function ID the host may call, with the argument registers x1.. it uses (abi.md).
const CALLS: &[(u32, &[Arg])] = &[
    (0x8000_0000, &[]),        // SMCCC_VERSION
    (0x8000_0001, &[W]),       // SMCCC_ARCH_FEATURES
    (0x8000_8000, &[]),        // SMCCC_ARCH_WORKAROUND_1
    (0x8000_7fff, &[W]),       // SMCCC_ARCH_WORKAROUND_2
    (0x8000_3fff, &[]),        // SMCCC_ARCH_WORKAROUND_3
    (0x8600_0000, &[W]),       // HYP_FEATURES
    (0x8600_ff01, &[]),        // HYP_CALL_UID
    (0x8600_ff03, &[]),        // HYP_REVISION
    (0xc600_0001, &[]),        // PMU_INFO
    (0xc600_0002, &[]),        // PMU_STATUS
    (0xc600_0003, &[X, Flags]), // PMU_RESERVE
    (0xc600_0004, &[Flags]),   // PMU_UNRESERVE
    (0xc600_0010, &[X, X, Flags]), // VM_CREATE
    (0xc600_0011, &[X, X, X, X]), // VM_LOAD
    (0xc600_0012, &[X, X, X, X]), // VCPU_CREATE
    (0xc600_0013, &[X, X, X, X]), // VCPU_RUN
    (0xc600_0014, &[X]),       // VM_DESTROY
];

/// IDs close to the real ones, where a decoder is most likely to confuse two: the deprecated call
/// count, the guest-only calls, the undefined rest of each block, KVM's and PSCI's.
const NEIGHBOURS: &[u32] = &[
    0x8600_ff00, 0x8600_ff02, 0x8600_0001, 0xc600_0000, 0xc600_0005, 0xc600_000f, 0xc600_0015,
    0xc600_0080, 0xc600_0081, 0xc600_00ff, 0x0600_0000, 0x4600_0000, 0x8400_0000, 0xc400_0003,
    0x8000_0002, 0x8000_7ffe, 0x8000_8001, 0xc000_0000,
];
const SVE_HINT: u64 = 1 << 16;

fn known_id() -> impl Strategy<Value = u32> {
    prop::sample::select(CALLS.iter().map(|c| c.0).collect::<Vec<_>>())
}

fn x0() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => known_id().prop_map(u64::from),
        2 => known_id().prop_map(|id| u64::from(id) | SVE_HINT),
        2 => prop::sample::select(NEIGHBOURS.to_vec()).prop_map(u64::from),
        2 => (prop::sample::select(vec![0x8000_0000u32, 0x8600_0000, 0x8600_ff00, 0xc600_0000]), 0u32..0x100)
            .prop_map(|(base, n)| u64::from(base | n)),
        1 => (known_id(), 1u64..=u64::from(u32::MAX)).prop_map(|(id, hi)| u64::from(id) | hi << 32),
        1 => any::<u32>().prop_map(u64::from),
        1 => any::<u64>(),
    ]
}

/// Arguments: the values that sit on the rules' edges, and anything at all.
fn arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        2 => 0u64..8,
        1 => Just(1u64 << 32),
        1 => Just(u64::MAX),
        1 => Just(0xffff_ffff_8000_0000),
        1 => known_id().prop_map(u64::from),
        2 => any::<u32>().prop_map(u64::from),
        2 => any::<u64>(),
    ]
}

/// x0..x17. No call uses more than x1..x4, so x5..x17 come from one value (spread by a
/// multiplicative hash): generating 13 more values per call would only slow the fuzzing down.
fn registers() -> impl Strategy<Value = [u64; CALL_REGS]> {
    (x0(), prop::array::uniform4(arg()), any::<u64>()).prop_map(|(x0, used, seed)| {
        let mut regs = [0; CALL_REGS];
        regs[0] = x0;
        regs[1..5].copy_from_slice(&used);
        for (i, x) in regs[5..].iter_mut().enumerate() {
            *x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i as u32 * 5) ^ i as u64;
        }
        regs
    })
}

/// What docs/abi.md says `decode` must answer.
fn expected(regs: &[u64; CALL_REGS]) -> Result<(u32, &'static [Arg]), SmcccError> {
    if regs[0] >> 32 != 0 {
        return Err(SmcccError::NotSupported);
    }
    let id = regs[0] as u32 & !(SVE_HINT as u32);
    let (_, args) = CALLS.iter().find(|c| c.0 == id).ok_or(SmcccError::NotSupported)?;
    for (i, kind) in args.iter().enumerate() {
        let x = regs[1 + i];
        let bad = match kind {
            W => x >> 32 != 0,
            Flags => x != 0,
            X => false,
        };
        if bad {
            return Err(SmcccError::InvalidParameter);
        }
    }
    Ok((id, args))
}

fn check(regs: &[u64; CALL_REGS]) -> Result<(), TestCaseError> {
    let got = HostCall::decode(regs);
    match (expected(regs), got) {
        (Err(want), got) => prop_assert_eq!(got, Err(want), "x0..x4 = {:#x?}", &regs[..5]),
        (Ok((id, _)), Err(e)) => prop_assert!(false, "{id:#x} refused with {e:?}: {:#x?}", &regs[..5]),
        (Ok((id, args)), Ok(call)) => {
            let fid = call.function_id();
            prop_assert_eq!(fid.raw(), id);
            prop_assert!(fid.is_fast(), "every call of this ABI is a fast call");
            prop_assert_eq!(call.is_hyp_service(), fid.owner() == Owner::VendorHyp);
            prop_assert_eq!(call.is_relayed_to_el3(), [0x8000_8000, 0x8000_7fff, 0x8000_3fff].contains(&id));
            // SMC32 arguments only on SMC32 calls (the table is right), and the call carries
            // exactly the registers it uses: the used ones as given, flags as 0, nothing else.
            prop_assert!(!args.contains(&W) || !fid.is_smc64());
            let enc = call.encode();
            prop_assert_eq!(enc[0], u64::from(id));
            for i in 1..CALL_REGS {
                let want = if i <= args.len() { regs[i] } else { 0 };
                prop_assert_eq!(enc[i], want, "x{} of {:?}", i, call);
            }
            prop_assert_eq!(HostCall::decode(&enc), Ok(call));
            // The SVE hint and unused registers change nothing.
            let mut other = *regs;
            other[0] ^= SVE_HINT;
            for x in &mut other[1 + args.len()..] {
                *x = !*x;
            }
            prop_assert_eq!(HostCall::decode(&other), Ok(call));
        }
    }
    // FunctionId agrees with decode about x0's upper half.
    prop_assert_eq!(FunctionId::from_register(regs[0]).is_none(), regs[0] >> 32 != 0);
    Ok(())
}

#[test]
fn fuzz_decode() {
    // A batch per case: generating a case costs far more than decoding one.
    let batch = prop::collection::vec(registers(), 1..64);
    support::fuzz("decode", file!(), 2000, batch, |calls| {
        for regs in &calls {
            check(regs)?;
        }
        Ok(calls.len() as u64)
    });
}

/// The oracle itself, on the examples docs/abi.md gives, so that a wrong table cannot make the
/// property vacuous.
#[test]
fn oracle_matches_the_document() {
    let regs = |x0: u64, x1: u64, x2: u64| {
        let mut r = [0; CALL_REGS];
        (r[0], r[1], r[2]) = (x0, x1, x2);
        r
    };
    assert!(expected(&regs(0x8600_ff01, 0, 0)).is_ok());
    assert_eq!(expected(&regs(0x8600_ff00, 0, 0)), Err(SmcccError::NotSupported));
    assert_eq!(expected(&regs(0xc600_0080, 0, 0)), Err(SmcccError::NotSupported), "guest only");
    assert_eq!(expected(&regs(0x8600_0000, 1 << 32, 0)), Err(SmcccError::InvalidParameter));
    assert_eq!(expected(&regs(0xc600_0003, 1 << 32, 1)), Err(SmcccError::InvalidParameter));
    assert!(expected(&regs(0xc600_0003, 1 << 32, 0)).is_ok(), "SMC64: a full 64-bit count");
    assert_eq!(expected(&regs(0x1_8600_ff01, 0, 0)), Err(SmcccError::NotSupported));
}
