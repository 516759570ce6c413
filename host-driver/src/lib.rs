// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host's half of the hypervisor ABI, written so that a kernel could embed it: `no_std`, no
//! allocation, and every call goes through a [`Conduit`] so the same code runs over HVC or SMC
//! on hardware and over an in-process model of EL2 in unit tests.

#![no_std]

pub mod client;
pub mod conduit;
pub mod handshake;
pub mod perf;

pub use client::{Client, HypInfo, ProbeError};
pub use conduit::Conduit;
pub use handshake::{CounterControl, Handshake, HandshakeError, Reservation};
pub use perf::{Assignment, Event, GroupPlacement, PerfCore, schedule};
