// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's registers as the trap entry code saved them on the EL2 stack, for every trap but
//! an HVC #0 or SMC #0: those take a shorter path that saves only what a call uses (its frame is
//! described in `arch/vectors.S`, `host_call_path`; Rust sees its x0..x17 as `SmcRegs`).

use crate::monitor::SmcRegs;

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

impl TrapFrame {
    /// x0..x17: an SMCCC call's function ID, arguments and results.
    pub fn smccc(&mut self) -> &mut SmcRegs {
        self.regs.first_chunk_mut().expect("x0..x30 hold x0..x17")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_registers_are_the_frames_first_eighteen() {
        let mut frame = TrapFrame::default();
        frame.regs.iter_mut().enumerate().for_each(|(i, r)| *r = i as u64 + 100);
        (frame.elr, frame.spsr) = (0x4000, 0x3c5);
        let call = frame.smccc();
        assert_eq!((call[0], call[17]), (100, 117));
        call[..2].copy_from_slice(&[1, 2]);
        assert_eq!(&frame.regs[..3], &[1, 2, 102]);
    }
}
