// SPDX-License-Identifier: MIT OR Apache-2.0

//! The system registers EL2 uses that arm-sysregs 0.5 does not have, declared with its own
//! `read_write_sysreg!` so they read like the crate's accessors: the PMU's enable, interrupt,
//! overflow, select and user-enable registers, the numbered event counters and types, and the one
//! GIC list register EL2 uses. (They are plain PMUv3 / GICv3 registers; they belong upstream in
//! arm-sysregs, which generates its accessors from Arm's register database.) The world switch's
//! EL1 block goes by name in one list (`arch::world`): EL2 only moves those values.
//!
//! Everything here is safe to read and write *at EL2*: these registers only decide what EL1 and
//! EL0 see and count, never how EL2 itself runs.

use arm_sysregs::{read_sysreg, read_write_sysreg};

read_write_sysreg!(pmcntenset_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmcntenclr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmintenset_el1, u64, safe_read, safe_write);
read_write_sysreg!(pmintenclr_el1, u64, safe_read, safe_write);
read_write_sysreg!(pmovsset_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmovsclr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmselr_el0, u64, safe_read, safe_write);
read_write_sysreg!(pmuserenr_el0, u64, safe_read, safe_write);
read_sysreg!(pmceid0_el0, u64, safe);
read_sysreg!(pmceid1_el0, u64, safe);
read_write_sysreg!(ich_lr0_el2: s3_4_c12_c12_0, u64, safe_read, safe_write);

// The event counters and their types, PMEVCNTR<n>_EL0 and PMEVTYPER<n>_EL0 for n in 0..=30, by
// number. An MRS or MSR names its register in the instruction, so a run-time n needs a table of
// 31 instructions (`pmu_event_regs.S`, generated from the encoding formula), entered by a
// computed BLR: five instructions an access, where a `match` compiled to a call and a jump table
// cost twelve. The PMU switch makes some 40 of them a run. EL2 never goes through PMSELR_EL0 and
// PMXEV*: PMSELR is the world's register, and EL2 must not change it behind the world's back.
unsafe extern "C" {
    // Not functions Rust may call: each entry moves x0 to or from one register and returns,
    // preserving every other register. Entered only by `event_register!`.
    fn pmu_read_pmevcntr_table();
    fn pmu_read_pmevtyper_table();
    fn pmu_write_pmevcntr_table();
    fn pmu_write_pmevtyper_table();
}

/// Enters entry `$n` of `$table`, with x0 in or out as `$x0` says.
macro_rules! event_register {
    ($table:ident, $n:expr, $($x0:tt)*) => {
        // SAFETY: the caller checked n <= 30, so the branch lands on one of the table's 31
        // entries, which moves x0 to or from one PMU register (safe at EL2, see the module
        // documentation) and returns; x30 is the only other register it changes.
        unsafe {
            core::arch::asm!(
                "adr {t}, {table}",
                "add {t}, {t}, {n}, lsl #3",
                "blr {t}",
                table = sym $table, t = out(reg) _, n = in(reg) u64::from($n), $($x0)*, out("x30") _,
                options(nostack),
            )
        }
    };
}

/// Defines the reader and the writer of one family of numbered registers, through its two tables.
macro_rules! event_registers {
    ($name:literal, $read:ident, $read_table:ident, $write:ident, $write_table:ident) => {
        #[doc = concat!($name, "; 0 for n above 30.")]
        #[inline(always)]
        pub fn $read(n: u8) -> u64 {
            if n > 30 {
                return 0;
            }
            let value: u64;
            event_register!($read_table, n, out("x0") value);
            value
        }

        #[doc = concat!("Writes ", $name, "; nothing for n above 30.")]
        #[inline(always)]
        pub fn $write(n: u8, value: u64) {
            if n <= 30 {
                event_register!($write_table, n, in("x0") value);
            }
        }
    };
}

event_registers!("PMEVCNTR<n>_EL0", read_pmevcntr, pmu_read_pmevcntr_table, write_pmevcntr,
    pmu_write_pmevcntr_table);
event_registers!("PMEVTYPER<n>_EL0", read_pmevtyper, pmu_read_pmevtyper_table, write_pmevtyper,
    pmu_write_pmevtyper_table);

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
