// SPDX-License-Identifier: MIT OR Apache-2.0

//! The system registers EL2 uses that arm-sysregs 0.5 does not have, declared with its own
//! `read_write_sysreg!` so they read like the crate's accessors: the PMU's enable, interrupt,
//! overflow, select and user-enable registers, the numbered event counters and types, the one GIC
//! list register EL2 uses, and the EL0 registers of the world switch's EL1 block. (They are plain
//! PMUv3 / GICv3 registers; they belong upstream in arm-sysregs, which generates its accessors
//! from Arm's register database.)
//!
//! Everything here is safe to read and write *at EL2*: these registers only decide what EL1 and
//! EL0 see and count, never how EL2 itself runs.

use arm_sysregs::read_write_sysreg;

read_write_sysreg!(pmcntenset_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmcntenclr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmintenset_el1, u64, safe_read, safe_write);
read_write_sysreg!(pmintenclr_el1, u64, safe_read, safe_write);
read_write_sysreg!(pmovsset_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmovsclr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmselr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmuserenr_el0, u64, safe_read, safe_write);
read_write_sysreg!(ich_lr0_el2: s3_4_c12_c12_0, u64, safe_read, safe_write);

/// The event counters and their types, PMEVCNTR<n>_EL0 and PMEVTYPER<n>_EL0 for n in 0..=30, by
/// number. Their encodings are one formula (op0 3, op1 3, CRn 14, CRm = 8 + n / 8 for a counter
/// and 12 + n / 8 for a type, op2 = n % 8), spelled out here once and expanded for every n: an
/// MRS/MSR names its register in the instruction, so a run-time n needs one instruction per
/// register. EL2 never goes through PMSELR_EL0 and PMXEV*: PMSELR is the world's register, and EL2
/// must not change it behind the world's back.
macro_rules! event_registers {
    ($($n:literal)*) => {
        /// PMEVCNTR<n>_EL0; 0 for n above 30.
        pub fn read_pmevcntr(n: u8) -> u64 {
            match n {
                $($n => event_register!(mrs, 8, $n),)*
                _ => 0,
            }
        }
        /// PMEVTYPER<n>_EL0; 0 for n above 30.
        pub fn read_pmevtyper(n: u8) -> u64 {
            match n {
                $($n => event_register!(mrs, 12, $n),)*
                _ => 0,
            }
        }
        /// Writes PMEVCNTR<n>_EL0; nothing for n above 30.
        pub fn write_pmevcntr(n: u8, value: u64) {
            match n {
                $($n => event_register!(msr, 8, $n, value),)*
                _ => {}
            }
        }
        /// Writes PMEVTYPER<n>_EL0; nothing for n above 30.
        pub fn write_pmevtyper(n: u8, value: u64) {
            match n {
                $($n => event_register!(msr, 12, $n, value),)*
                _ => {}
            }
        }
    };
}

/// One event counter or type access: `crm_base` is 8 (counters) or 12 (types).
macro_rules! event_register {
    (mrs, $crm_base:literal, $n:literal) => {{
        let value: u64;
        // SAFETY: reading a PMU register at EL2 has no side effects.
        unsafe {
            core::arch::asm!("mrs {v}, S3_3_C14_C{crm}_{op2}", v = out(reg) value,
                crm = const $crm_base + $n / 8, op2 = const $n % 8, options(nomem, nostack, preserves_flags))
        };
        value
    }};
    (msr, $crm_base:literal, $n:literal, $value:expr) => {{
        // SAFETY: see the module documentation.
        unsafe {
            core::arch::asm!("msr S3_3_C14_C{crm}_{op2}, {v}", v = in(reg) $value,
                crm = const $crm_base + $n / 8, op2 = const $n % 8, options(nostack, preserves_flags))
        }
    }};
}

event_registers!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30);

/// The barriers the world switch and the PMU switch need.
pub fn isb() {
    // SAFETY: a barrier only.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// Completes translation table walks of the EL1&0 regime this CPU started (non-shareable).
pub fn dsb_nsh() {
    // SAFETY: a barrier only.
    unsafe { core::arch::asm!("dsb nsh", options(nostack, preserves_flags)) };
}
