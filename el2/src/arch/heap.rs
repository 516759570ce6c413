// SPDX-License-Identifier: MIT OR Apache-2.0

//! EL2's heap: page tables (aarch64-paging allocates them) and the device tree being rebuilt.
//! A fixed pool inside EL2's memory, so the host's stage-2 leaves it out with the rest.

use super::reserved::Reserved;
use buddy_system_allocator::LockedHeap;

const HEAP_SIZE: usize = 2 << 20;

#[repr(C, align(4096))]
struct Pool([u8; HEAP_SIZE]);

static POOL: Reserved<Pool> = Reserved::new(Pool([0; HEAP_SIZE]));

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Hands the pool to the allocator. Called once, on the boot CPU, before anything allocates.
pub fn init() {
    // SAFETY: called once before any allocation; the pool is used by nothing but the allocator.
    unsafe { HEAP.lock().init(POOL.as_mut_ptr() as usize, HEAP_SIZE) };
}
