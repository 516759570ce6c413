// SPDX-License-Identifier: MIT OR Apache-2.0

//! Links the loader where TF-A's BL2 loads BL33 and BL31 enters it (see ../rt/link.rs).

include!("../rt/link.rs");

fn main() {
    use platform::{Current, Platform};
    link_payload_at(Current::LOAD_ADDRESS);
}
