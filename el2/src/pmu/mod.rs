// SPDX-License-Identifier: MIT OR Apache-2.0

//! PMU partitioning: the counters EL2 takes from the host for partitions and gives back.

pub mod enforcement;
pub mod fgt;
pub mod hw;
pub mod partition;
pub mod vpmu;

pub use hw::{FakePmu, PmuHw};
pub use vpmu::Access;
pub use partition::{ConfigError, CpuPartition, PmuConfig};
