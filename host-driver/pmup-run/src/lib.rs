// SPDX-License-Identifier: MIT OR Apache-2.0

//! Linux userspace for `/dev/pmu-partition` (the pmu_partition driver of
//! `host-driver/linux/patches`): `pmup-run` runs a partition guest, `pmup-hostile` checks the
//! driver's refusals against its uapi header. Both are static aarch64 ELFs for the host's busybox
//! initramfs (`make target/out/qemu/pmup-run`); everything but the device itself is unit-tested on
//! the build machine.

pub mod args;
pub mod device;
pub mod hostile;
pub mod runner;
pub mod sys;
pub mod uapi;
