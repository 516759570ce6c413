// SPDX-License-Identifier: MIT OR Apache-2.0

//! The FVP build (the model cannot run here): the firmware is linked at TF-A's FVP BL33 address
//! and packed into a FIP with TF-A's FVP images and device tree.

use std::path::PathBuf;

fn fvp_out() -> PathBuf {
    let dir = PathBuf::from(std::env::var_os("PMUP_FVP_OUT").expect("run with `make test` (PMUP_FVP_OUT)"));
    assert!(dir.is_dir(), "{} missing", dir.display());
    dir
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn firmware_is_linked_at_the_fvp_bl33_address() {
    let elf = std::fs::read(fvp_out().join("el2.elf")).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(le64(&elf, 24), 0x8800_0000, "ELF entry point");
    let bin = std::fs::read(fvp_out().join("el2.bin")).unwrap();
    assert!(!bin.is_empty() && bin.len() < 4 << 20);
}

#[test]
fn fip_holds_bl2_bl31_hw_config_and_the_firmware() {
    let dir = fvp_out();
    let fip = std::fs::read(dir.join("fip.bin")).unwrap();
    // FIP ToC header: name 0xAA640001.
    assert_eq!(u32::from_le_bytes(fip[..4].try_into().unwrap()), 0xaa64_0001);
    let bin = std::fs::read(dir.join("el2.bin")).unwrap();
    assert!(fip.windows(bin.len().min(256)).any(|w| w == &bin[..bin.len().min(256)]), "BL33 not in the FIP");
    assert!(std::fs::metadata(dir.join("bl1.bin")).unwrap().len() > 0);
    let dtb = std::fs::read(dir.join("fvp-base.dtb")).unwrap();
    assert_eq!(&dtb[..4], &[0xd0, 0x0d, 0xfe, 0xed]);
}
