// SPDX-License-Identifier: MIT OR Apache-2.0

//! Links the workload where a guest finds its memory.

include!("../rt/link.rs");

fn main() {
    link_payload_at(smc_interface::vm::GUEST_RAM_BASE);
}
