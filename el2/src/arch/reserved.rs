// SPDX-License-Identifier: MIT OR Apache-2.0

//! Memory EL2 sets aside in its image and hands out by address only: the per-CPU stacks and the
//! heap's pool. Never a Rust reference to it, so no aliasing rule can be broken; the one owner of
//! each (`boot` for the stacks, `heap` for the pool) decides who uses which part.

use core::cell::UnsafeCell;

#[repr(transparent)]
pub struct Reserved<T>(UnsafeCell<T>);

// SAFETY: the contents are reached only through the raw pointer `as_mut_ptr` gives, by the owner
// described above, which hands disjoint parts to disjoint users.
unsafe impl<T> Sync for Reserved<T> {}

impl<T> Reserved<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    pub const fn as_mut_ptr(&self) -> *mut T {
        self.0.get()
    }
}
