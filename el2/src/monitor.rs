// SPDX-License-Identifier: MIT OR Apache-2.0

//! The secure monitor (EL3) as EL2 sees it: something that takes an SMC.
//!
//! A trait so that the host-call and PSCI-relay logic runs unchanged in host unit tests against a
//! recording fake, and on hardware through the `smccc` crate's SMC conduit.

/// x0..x17 of an SMCCC call or result.
pub type SmcRegs = [u64; 18];

pub trait Monitor {
    /// Makes an SMC with x0..x17 = `regs`; returns x0..x17 as EL3 left them.
    fn smc(&mut self, regs: SmcRegs) -> SmcRegs;

    /// Convenience: an SMC with a function ID and up to three arguments, returning x0.
    fn call(&mut self, function: u32, args: &[u64]) -> u64 {
        let mut regs = [0; 18];
        regs[0] = function.into();
        regs[1..=args.len()].copy_from_slice(args);
        self.smc(regs)[0]
    }
}

/// The real EL3, reached with the SMC instruction.
#[cfg(target_arch = "aarch64")]
pub struct El3;

#[cfg(target_arch = "aarch64")]
impl Monitor for El3 {
    fn smc(&mut self, regs: SmcRegs) -> SmcRegs {
        let mut args = [0; 17];
        args.copy_from_slice(&regs[1..]);
        // SMC64 ABI: x0..x17 in, x0..x17 out. The function ID's own bits (fast/64-bit) are
        // passed through untouched; `smc64` only chooses the register width.
        smccc::smc64(regs[0] as u32, args)
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
        fn smc(&mut self, regs: SmcRegs) -> SmcRegs {
            self.calls.push(regs);
            if self.answers.is_empty() { [0; 18] } else { self.answers.remove(0) }
        }
    }
}
