// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's registers as the trap entry code saved them on the EL2 stack.

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

impl TrapFrame {
    /// x0..x17, as an SMCCC call sees them.
    pub fn smccc_regs(&self) -> [u64; SMCCC_REGS] {
        let mut regs = [0; SMCCC_REGS];
        regs.copy_from_slice(&self.regs[..SMCCC_REGS]);
        regs
    }

    /// Writes an SMCCC result: `results` go to x0 upwards, the other registers are untouched.
    pub fn set_smccc_results(&mut self, results: &[u64]) {
        self.regs[..results.len()].copy_from_slice(results);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_leave_other_registers_alone() {
        let mut frame = TrapFrame::default();
        frame.regs.iter_mut().enumerate().for_each(|(i, r)| *r = i as u64 + 100);
        frame.set_smccc_results(&[1, 2, 3, 4]);
        assert_eq!(&frame.regs[..5], &[1, 2, 3, 4, 104]);
        assert_eq!(frame.smccc_regs()[17], 117);
    }
}
