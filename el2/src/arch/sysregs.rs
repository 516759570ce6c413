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
/// number. An MRS or MSR names its register in the instruction, so a run-time n needs a table of
/// 31 instructions; it is generated from the one encoding formula (op0 3, op1 3, CRn 14, CRm = 8 +
/// n / 8 for a counter and 12 + n / 8 for a type, op2 = n % 8) and entered by a computed branch:
/// five instructions an access, where a `match` compiled to a call and a jump table cost twelve
/// (the PMU switch makes some 40 of them a run; inlined, the tables cost 3.5 KB of text, and a
/// call to one shared copy made the switch slower than the `match`). EL2 never goes through
/// PMSELR_EL0 and PMXEV*: PMSELR is the world's register, and EL2 must not change it behind the
/// world's back.
macro_rules! event_register_table {
    // `$insn`: the MRS (0xd53b_0000) or MSR (0xd51b_0000) of op0 3, op1 3, CRn 14, Rt = x0;
    // `$crm`: the CRm of n = 0. Each entry is the access and a branch out: 8 bytes.
    ($insn:literal, $crm:literal) => {
        concat!(
            "adr {t}, 2f\n",
            "add {t}, {t}, {n}, lsl #3\n",
            "br {t}\n",
            "2:\n",
            ".set .Lpmu_n, 0\n",
            ".rept 31\n",
            ".inst ", $insn, " | (14 << 12) | ((", $crm, " + .Lpmu_n / 8) << 8) | ((.Lpmu_n % 8) << 5)\n",
            "b 3f\n",
            ".set .Lpmu_n, .Lpmu_n + 1\n",
            ".endr\n",
            "3:",
        )
    };
}

/// PMEVCNTR<n>_EL0; 0 for n above 30.
#[inline(always)]
pub fn read_pmevcntr(n: u8) -> u64 {
    read_event_register::<false>(n)
}

/// PMEVTYPER<n>_EL0; 0 for n above 30.
#[inline(always)]
pub fn read_pmevtyper(n: u8) -> u64 {
    read_event_register::<true>(n)
}

/// Writes PMEVCNTR<n>_EL0; nothing for n above 30.
#[inline(always)]
pub fn write_pmevcntr(n: u8, value: u64) {
    write_event_register::<false>(n, value);
}

/// Writes PMEVTYPER<n>_EL0; nothing for n above 30.
#[inline(always)]
pub fn write_pmevtyper(n: u8, value: u64) {
    write_event_register::<true>(n, value);
}

#[inline(always)]
fn read_event_register<const TYPE: bool>(n: u8) -> u64 {
    if n > 30 {
        return 0;
    }
    let value: u64;
    // SAFETY: n <= 30, so the branch lands on one of the 31 entries, each of which reads one PMU
    // register (no side effects at EL2) into x0 and leaves the table.
    unsafe {
        if TYPE {
            core::arch::asm!(event_register_table!("0xd53b0000", "12"), t = out(reg) _, n = in(reg) u64::from(n),
                out("x0") value, options(nomem, nostack))
        } else {
            core::arch::asm!(event_register_table!("0xd53b0000", "8"), t = out(reg) _, n = in(reg) u64::from(n),
                out("x0") value, options(nomem, nostack))
        }
    };
    value
}

#[inline(always)]
fn write_event_register<const TYPE: bool>(n: u8, value: u64) {
    if n > 30 {
        return;
    }
    // SAFETY: as for reading; each entry writes x0 to one PMU register (see the module
    // documentation) and leaves the table.
    unsafe {
        if TYPE {
            core::arch::asm!(event_register_table!("0xd51b0000", "12"), t = out(reg) _, n = in(reg) u64::from(n),
                in("x0") value, options(nostack))
        } else {
            core::arch::asm!(event_register_table!("0xd51b0000", "8"), t = out(reg) _, n = in(reg) u64::from(n),
                in("x0") value, options(nostack))
        }
    };
}

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
