// SPDX-License-Identifier: MIT OR Apache-2.0

//! EL2's heap: page tables (aarch64-paging allocates them) and the device tree being rebuilt.
//! A fixed pool inside EL2's memory, so the host's stage-2 leaves it out with the rest.

use buddy_system_allocator::LockedHeap;
use core::ptr::addr_of_mut;

const HEAP_SIZE: usize = 2 << 20;

#[repr(C, align(4096))]
struct Pool([u8; HEAP_SIZE]);

static mut POOL: Pool = Pool([0; HEAP_SIZE]);

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Hands the pool to the allocator. Called once, on the boot CPU, before anything allocates.
pub fn init() {
    // SAFETY: called once before any allocation; POOL is used by nothing else.
    unsafe {
        let pool = addr_of_mut!(POOL);
        HEAP.lock().init(pool as usize, HEAP_SIZE);
    }
}
