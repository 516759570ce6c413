// SPDX-License-Identifier: MIT OR Apache-2.0

//! Decoding of ESR_EL2, the syndrome of an exception taken to EL2.

/// The exception classes EL2 acts on (ESR_EL2.EC, bits 31:26).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExceptionClass {
    /// EC 0x16: HVC from AArch64. ELR_EL2 already points past the HVC.
    Hvc64,
    /// EC 0x17: SMC from AArch64 trapped by HCR_EL2.TSC. ELR_EL2 points at the SMC itself.
    Smc64,
    /// EC 0x18: MSR/MRS/system instruction trapped.
    SysReg,
    /// EC 0x20: instruction abort from a lower EL.
    InstructionAbortLower,
    /// EC 0x24: data abort from a lower EL.
    DataAbortLower,
    /// Anything else, with its raw EC.
    Other(u8),
}

/// A decoded ESR_EL2 value.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Esr(pub u64);

impl Esr {
    #[inline]
    pub fn ec(self) -> u8 {
        ((self.0 >> 26) & 0x3f) as u8
    }

    #[inline]
    pub fn class(self) -> ExceptionClass {
        match self.ec() {
            0x16 => ExceptionClass::Hvc64,
            0x17 => ExceptionClass::Smc64,
            0x18 => ExceptionClass::SysReg,
            0x20 => ExceptionClass::InstructionAbortLower,
            0x24 => ExceptionClass::DataAbortLower,
            ec => ExceptionClass::Other(ec),
        }
    }

    /// ISS, bits 24:0.
    #[inline]
    pub fn iss(self) -> u64 {
        self.0 & 0x1ff_ffff
    }

    /// IL: the trapped instruction was 32 bits wide.
    #[inline]
    pub fn il(self) -> bool {
        self.0 & (1 << 25) != 0
    }

    /// For HVC/SMC: the 16-bit immediate.
    #[inline]
    pub fn imm16(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// For aborts: the fault status code (xFSC, bits 5:0).
    #[inline]
    pub fn fault_status(self) -> u8 {
        (self.0 & 0x3f) as u8
    }

    /// For data aborts: WnR, the access was a write.
    #[inline]
    pub fn is_write(self) -> bool {
        self.0 & (1 << 6) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(Esr(0x5a00_0000).class(), ExceptionClass::Hvc64);
        assert_eq!(Esr(0x5e00_0000).class(), ExceptionClass::Smc64);
        assert_eq!(Esr(0x6200_0000).class(), ExceptionClass::SysReg);
        assert_eq!(Esr(0x8200_0006).class(), ExceptionClass::InstructionAbortLower);
        assert_eq!(Esr(0x9200_0046).class(), ExceptionClass::DataAbortLower);
        assert_eq!(Esr(0x0200_0000).class(), ExceptionClass::Other(0));
    }

    #[test]
    fn fields() {
        let esr = Esr(0x9200_0046);
        assert!(esr.il());
        assert!(esr.is_write());
        assert_eq!(esr.fault_status(), 0x06);
        assert_eq!(Esr(0x5a00_1234).imm16(), 0x1234);
    }
}
