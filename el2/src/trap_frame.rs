// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's registers as the trap entry code saved them on the EL2 stack: all of them for most
//! traps ([`TrapFrame`]), fewer for a call ([`CallFrame`]).

use crate::monitor::SmcRegs;
use core::mem::MaybeUninit;

/// Layout shared with `arch/vectors.S` (FRAME_SIZE, FRAME_ELR, FRAME_SPSR).
#[repr(C)]
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct TrapFrame {
    /// x0..x30.
    pub regs: [u64; 31],
    /// ELR_EL2: where the host resumes.
    pub elr: u64,
    /// SPSR_EL2: the host's PSTATE at the trap.
    pub spsr: u64,
    _pad: u64,
}

const _: () = assert!(size_of::<TrapFrame>() == 272);
const _: () = assert!(core::mem::offset_of!(TrapFrame, elr) == 248);
const _: () = assert!(core::mem::offset_of!(TrapFrame, spsr) == 256);

/// Registers of an SMCCC call: x0 is the function ID, x1..x17 the arguments.
pub const SMCCC_REGS: usize = 18;

/// The frame of an HVC #0 or SMC #0 from the host (`arch/vectors.S`, `host_call_path`): x0..x17
/// where a [`TrapFrame`] has them, then x18 and x30 in the next two slots, and nothing else.
/// x19..x29 are callee-saved in the AAPCS64, so the code a call runs preserves them; since it
/// takes no exception at EL2 it preserves ELR_EL2 and SPSR_EL2 too (a VCPU_RUN's world switch
/// puts the host's back), and a trapped SMC's return address moves in ELR_EL2 itself. No call
/// reads or writes anything but `smccc`; the hot path saves and restores thirteen registers fewer
/// for it.
#[repr(C)]
pub struct CallFrame {
    /// x0..x17: the call's function ID, arguments, and results.
    pub smccc: SmcRegs,
    /// x18 and x30 on the call path; x18..x30, ELR_EL2 and SPSR_EL2 in a [`TrapFrame`] seen as a
    /// call frame. Only the assembly reads them.
    _rest: [MaybeUninit<u64>; 16],
}

const _: () = assert!(size_of::<CallFrame>() == size_of::<TrapFrame>());

impl TrapFrame {
    /// The frame as a call sees it.
    pub fn as_call_frame(&mut self) -> &mut CallFrame {
        // SAFETY: the two types have the same size and layout (asserted above), and every field
        // of CallFrame accepts any initialised u64.
        unsafe { &mut *(self as *mut TrapFrame).cast::<CallFrame>() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trap_frame_is_a_call_frame_with_every_register() {
        let mut frame = TrapFrame::default();
        frame.regs.iter_mut().enumerate().for_each(|(i, r)| *r = i as u64 + 100);
        (frame.elr, frame.spsr) = (0x4000, 0x3c5);
        let call = frame.as_call_frame();
        assert_eq!((call.smccc[0], call.smccc[17]), (100, 117));
        call.smccc[..2].copy_from_slice(&[1, 2]);
        assert_eq!(&frame.regs[..3], &[1, 2, 102]);
    }
}
