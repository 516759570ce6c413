// SPDX-License-Identifier: MIT OR Apache-2.0

//! Data cache maintenance for memory that a CPU with its MMU (and so its caches) off will read:
//! the device tree for the host, and what the warm entry code reads before turning its MMU on.

use arm_sysregs::el0::accessors::read_ctr_el0;
use core::arch::asm;

/// The smallest data cache line, in bytes (CTR_EL0.DminLine is its log2 in words).
fn line_size() -> usize {
    4 << read_ctr_el0().dminline()
}

/// Cleans [start, start + len) to the point of coherency.
pub fn clean_to_poc(start: usize, len: usize) {
    let line = line_size();
    let mut addr = start & !(line - 1);
    while addr < start + len {
        // SAFETY: cleaning a line writes back dirty data; it never changes what memory holds
        // from the program's point of view.
        unsafe { asm!("dc cvac, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += line;
    }
    // SAFETY: a barrier only orders memory accesses.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

pub fn clean_object<T>(object: &T) {
    clean_to_poc(object as *const T as usize, size_of::<T>());
}
