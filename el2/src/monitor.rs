// SPDX-License-Identifier: MIT OR Apache-2.0

//! The secure monitor (EL3) as EL2 sees it: something that takes an SMC.
//!
//! A trait so that the host-call and PSCI-relay logic runs unchanged in host unit tests against a
//! recording fake, and on hardware through the `smccc` crate's SMC conduit.

/// x0..x17 of an SMCCC call or result.
pub type SmcRegs = [u64; 18];

pub trait Monitor {
    /// Makes an SMC with x0..x17 = `regs`, which then hold x0..x17 as EL3 left them.
    fn smc(&mut self, regs: &mut SmcRegs);

    /// Convenience: an SMC with a function ID and up to three arguments, returning x0.
    fn call(&mut self, function: u32, args: &[u64]) -> u64 {
        let mut regs = [0; 18];
        regs[0] = function.into();
        regs[1..=args.len()].copy_from_slice(args);
        self.smc(&mut regs);
        regs[0]
    }
}

/// The real EL3, reached with the SMC instruction.
#[cfg(target_arch = "aarch64")]
pub struct El3;

#[cfg(target_arch = "aarch64")]
impl Monitor for El3 {
    /// By hand rather than `smccc::smc64`, which takes and returns the registers by value: a
    /// relayed call then costs two more copies of all 18, and this is the host's hot path.
    fn smc(&mut self, regs: &mut SmcRegs) {
        let [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17] = regs;
        // SAFETY: SMC64 with x0..x17 in and out, SMCCC 1.2's register set; EL3 preserves
        // everything else (x18..x30, SP_EL2) and does not touch EL2's memory.
        unsafe {
            core::arch::asm!(
                "smc #0",
                inout("x0") *x0, inout("x1") *x1, inout("x2") *x2, inout("x3") *x3,
                inout("x4") *x4, inout("x5") *x5, inout("x6") *x6, inout("x7") *x7,
                inout("x8") *x8, inout("x9") *x9, inout("x10") *x10, inout("x11") *x11,
                inout("x12") *x12, inout("x13") *x13, inout("x14") *x14, inout("x15") *x15,
                inout("x16") *x16, inout("x17") *x17,
                options(nostack),
            )
        };
    }
}

#[cfg(test)]
pub mod fake {
    //! A monitor that records what EL2 asked of it and answers from a script.

    use super::*;
    use std::vec::Vec;

    #[derive(Default)]
    pub struct FakeMonitor {
        pub calls: Vec<SmcRegs>,
        /// Answers, consumed in order; when empty, x0 = 0 and the rest are zero.
        pub answers: Vec<SmcRegs>,
    }

    impl FakeMonitor {
        pub fn answering(x0s: &[u64]) -> Self {
            let answers = x0s
                .iter()
                .map(|&x0| {
                    let mut r = [0; 18];
                    r[0] = x0;
                    r
                })
                .collect();
            Self { calls: Vec::new(), answers }
        }
    }

    impl Monitor for FakeMonitor {
        fn smc(&mut self, regs: &mut SmcRegs) {
            self.calls.push(*regs);
            *regs = if self.answers.is_empty() { [0; 18] } else { self.answers.remove(0) };
        }
    }
}
