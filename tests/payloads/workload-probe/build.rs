// SPDX-License-Identifier: MIT OR Apache-2.0

//! Links the payload at the host bundle's kernel address (see ../rt/link.rs).

include!("../rt/link.rs");

fn main() {
    link_payload();
}
