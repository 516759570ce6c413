// SPDX-License-Identifier: MIT OR Apache-2.0

//! Debian's own arm64 Linux kernel as the host at EL1, booted through TF-A and the firmware.

use integration::{Boot, Run, check_linux_host as check_linux};

#[test]
fn tfa_linux_cpu_max() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").run();
    check_linux(&out, true);
    eprintln!("TF-A + EL2 + Linux (-cpu max) to power-off: {:?}", out.elapsed);
}

#[test]
fn direct_linux_cortex_a57() {
    let out = Run::new(Boot::Direct, "cortex-a57", "host.bundle").run();
    check_linux(&out, false);
    eprintln!("EL2 + Linux (-cpu cortex-a57, direct) to power-off: {:?}", out.elapsed);
}

/// The same with two counters reserved at boot on every CPU: the reservation survives hotplug.
#[test]
fn tfa_linux_cpu_max_boot_reservation() {
    let out = Run::new(Boot::TfA, "max", "host.bundle").with_boot_reservation(2, "linux-r2").run();
    check_linux(&out, true);
}
