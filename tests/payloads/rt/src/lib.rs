// SPDX-License-Identifier: MIT OR Apache-2.0

//! Runtime shared by the bare-metal EL1 payloads the integration tests boot as the host: entry
//! points and vectors (`entry.S`), the console, pass/fail bookkeeping with `PROBE:` lines, a record
//! of the aborts EL2 reflects, and a few register helpers. A payload provides
//! `primary_main(dtb)` and `secondary_main(index)`, and ends with [`finish`].

#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_os = "none")]
mod runtime;
#[cfg(target_os = "none")]
pub use runtime::*;
