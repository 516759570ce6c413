// SPDX-License-Identifier: MIT OR Apache-2.0

//! The redistributor pages EL2 emulates for the host (`crate::redist`), reached through EL2's own
//! stage-1, where they are identity-mapped as device memory.

use crate::redist::{Mmio, Width};

pub struct RedistMmio;

impl Mmio for RedistMmio {
    fn read(&mut self, addr: u64, width: Width) -> u64 {
        // SAFETY: `redist::handle` only passes addresses of the trapped redistributor pages, which
        // boot mapped for EL2 as device memory; the rule table allows reads of side-effect-free
        // registers only, at their natural size.
        unsafe {
            match width {
                Width::W32 => u64::from((addr as *const u32).read_volatile()),
                Width::W64 => (addr as *const u64).read_volatile(),
                // The rule table never passes narrower accesses through.
                Width::W8 | Width::W16 => 0,
            }
        }
    }

    fn write(&mut self, addr: u64, width: Width, value: u64) {
        // SAFETY: as for `read`: the pages are EL2-mapped device memory, and the rule table lets
        // through only writes that cannot enable LPIs or place their tables.
        unsafe {
            match width {
                Width::W32 => (addr as *mut u32).write_volatile(value as u32),
                Width::W64 => (addr as *mut u64).write_volatile(value),
                Width::W8 | Width::W16 => {}
            }
        }
    }
}
