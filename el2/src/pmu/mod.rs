// SPDX-License-Identifier: MIT OR Apache-2.0

//! PMU partitioning: the counters EL2 takes from the host for partitions and gives back.

pub mod enforcement;
#[cfg(any(test, feature = "fakes"))]
pub mod fake;
pub mod fgt;
pub mod hw;
pub mod partition;
pub mod vpmu;

#[cfg(any(test, feature = "fakes"))]
pub use fake::FakePmu;
pub use hw::PmuHw;
pub use vpmu::Access;
pub use partition::{ConfigError, CpuPartition, PmuConfig};
