// SPDX-License-Identifier: MIT OR Apache-2.0

//! `rd!` / `wr!` for system registers arm-sysregs does not cover (or that are switched by name,
//! in lists): EL1 and GIC registers in the world switch, EL2 controls, the boot probe.

/// Reads a system register by name or encoding.
macro_rules! rd {
    ($r:literal) => {{
        let v: u64;
        // SAFETY: reading a system register at EL2 has no side effects.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $r), out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }};
}

/// Writes a system register by name or encoding. Callers only write registers that control lower
/// exception levels (or EL2 state they put back), never anything EL2's own execution depends on.
macro_rules! wr {
    ($r:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: see the macro's documentation.
        unsafe { core::arch::asm!(concat!("msr ", $r, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
    }};
}
