// SPDX-License-Identifier: MIT OR Apache-2.0

//! How a call reaches EL2.

use smc_interface::CALL_REGS;

/// Something that makes an SMCCC call: x0..x17 in, x0..x17 out.
pub trait Conduit {
    fn call(&mut self, regs: [u64; CALL_REGS]) -> [u64; CALL_REGS];
}

/// HVC: the host is at EL1 and EL2 is the callee.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Hvc;

#[cfg(target_arch = "aarch64")]
impl Conduit for Hvc {
    fn call(&mut self, regs: [u64; CALL_REGS]) -> [u64; CALL_REGS] {
        let mut args = [0; 17];
        args.copy_from_slice(&regs[1..]);
        smccc::hvc64(regs[0] as u32, args)
    }
}

/// SMC: EL2 traps it (HCR_EL2.TSC) and answers its own service's calls itself.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Smc;

#[cfg(target_arch = "aarch64")]
impl Conduit for Smc {
    fn call(&mut self, regs: [u64; CALL_REGS]) -> [u64; CALL_REGS] {
        let mut args = [0; 17];
        args.copy_from_slice(&regs[1..]);
        smccc::smc64(regs[0] as u32, args)
    }
}
