// SPDX-License-Identifier: MIT OR Apache-2.0

//! The ABI between the PMU-partitioning EL2 firmware and its host at EL1, defined once for both
//! sides: the firmware decodes [`HostCall`]s and encodes results, a client encodes calls and decodes
//! results, from the same definitions. `docs/abi.md` describes the same ABI for C programmers.
//!
//! - [`function_id`]: SMCCC function identifiers and their owners;
//! - [`ids`]: every identifier of the ABI, the Call UID and the revision;
//! - [`error`]: the status codes returned in x0;
//! - [`call`]: the calls as typed values, to and from x0..x17;
//! - [`result`]: the answers as typed values, to and from x0..x3;
//! - [`pmu`]: the PMU partition calls (ABI 0.2) and their answers;
//! - [`vm`]: the VM calls, VCPU_RUN's exits and the guests' own calls (ABI 0.3);
//! - [`boot`]: the header of the host boot bundle the firmware starts the host from.

#![no_std]

pub mod boot;
pub mod call;
pub mod error;
pub mod function_id;
pub mod ids;
pub mod pmu;
pub mod result;
pub mod vm;

pub use boot::{BundleError, HostBundleHeader, LogLevel};
pub use call::{ArchWorkaround, CALL_REGS, HostCall};
pub use error::{SUCCESS, SmcccError};
pub use function_id::{FunctionId, Owner};
pub use pmu::{CounterMask, Enforcement, PmuInfo, PmuStatus};
pub use result::{CallUid, Features, RESULT_REGS, Revision, Version, encode_error};
