// SPDX-License-Identifier: MIT OR Apache-2.0

//! The GIC redistributors' LPI registers, kept from the host.
//!
//! GICR_PROPBASER and GICR_PENDBASER give a redistributor the addresses of tables it reads and
//! writes by DMA once GICR_CTLR.EnableLPIs is set; stage-2 does not apply to those accesses. So
//! the first 4 KiB page of every redistributor frame, where those registers live, is left out of
//! the host's stage-2, and EL2 emulates the host's accesses to it: the registers Linux needs to
//! wake and run a redistributor with wired interrupts pass through, the host is told there are
//! no LPIs (GICR_TYPER.PLPIS = 0), and the LPI registers read as zero and ignore writes, so LPIs
//! never get enabled. (The ITS, which would need LPIs anyway, is hidden altogether.)
//!
//! Linux touches this page only when it brings a redistributor up or down (boot, CPU hotplug,
//! suspend), never on an interrupt path, so what each trap costs does not matter.
//!
//! The page is taken out at every 128 KiB step of a redistributor region. Without virtual LPIs
//! that is each redistributor's RD_base frame; with them (GICv4, 256 KiB redistributors) every
//! other step is the VLPI_base frame, whose GICR_VPROPBASER / GICR_VPENDBASER sit at the same
//! offsets as PROPBASER / PENDBASER and are refused the same way. So the layout needs no probing.

use crate::esr::Esr;
use crate::trap_frame::TrapFrame;
use alloc::vec::Vec;
use platform::Region;

/// The step between redistributor frames EL2 takes a page out of.
pub const FRAME_STEP: u64 = 0x2_0000;
/// What EL2 takes out of each frame: the registers below live in its first 4 KiB.
pub const PAGE: u64 = 0x1000;

/// The pages left out of the host's stage-2 for `regions` of redistributors.
pub fn trapped_pages(regions: &[Region]) -> Vec<Region> {
    regions
        .iter()
        .flat_map(|r| (r.base..r.end()).step_by(FRAME_STEP as usize).map(|base| Region::new(base, PAGE)))
        .collect()
}

/// Whether `ipa` lies in one of the pages [`trapped_pages`] gives for `regions`.
pub fn is_trapped(regions: &[Region], ipa: u64) -> bool {
    regions.iter().any(|r| r.contains(ipa) && (ipa - r.base) % FRAME_STEP < PAGE)
}

/// Access sizes the emulation serves.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Width {
    W8,
    W16,
    W32,
    W64,
}

impl Width {
    fn bits(self) -> u32 {
        match self {
            Width::W8 => 8,
            Width::W16 => 16,
            Width::W32 => 32,
            Width::W64 => 64,
        }
    }
}

/// What EL2 does with one access, by offset in the page, size and direction.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Action {
    /// Read the register and return it with `clear` bits cleared.
    Read { clear: u64 },
    /// Write the host's value with `clear` bits cleared.
    Write { clear: u64 },
    /// Reads as zero, writes are ignored.
    RazWi,
}

/// GICR_CTLR.EnableLPIs.
const CTLR_ENABLE_LPIS: u64 = 1 << 0;
/// GICR_TYPER bits that promise LPI support: PLPIS, VLPIS, Dirty, DirectLPI, RVPEID, VSGI.
const TYPER_LPI_BITS: u64 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 7) | (1 << 26);

const GICR_CTLR: u64 = 0x00;
const GICR_IIDR: u64 = 0x04;
const GICR_TYPER: u64 = 0x08;
const GICR_TYPER_HI: u64 = 0x0c;
const GICR_STATUSR: u64 = 0x10;
const GICR_WAKER: u64 = 0x14;

/// The rule table. Only what a host needs to run a redistributor with wired interrupts reaches
/// the hardware; everything else in the page (PROPBASER 0x70, PENDBASER 0x78, SETLPIR, CLRLPIR,
/// INVLPIR, INVALLR, SYNCR, MPAM, implementation-defined and reserved offsets) is RAZ/WI, which
/// also makes SYNCR read as "not busy" for a host that polls it.
pub fn decide(offset: u64, width: Width, write: bool) -> Action {
    match (offset, width, write) {
        (GICR_CTLR, Width::W32, false) => Action::Read { clear: CTLR_ENABLE_LPIS },
        (GICR_CTLR, Width::W32, true) => Action::Write { clear: CTLR_ENABLE_LPIS },
        (GICR_IIDR | GICR_TYPER_HI, Width::W32, false) => Action::Read { clear: 0 },
        (GICR_TYPER, Width::W32 | Width::W64, false) => Action::Read { clear: TYPER_LPI_BITS },
        (GICR_STATUSR | GICR_WAKER, Width::W32, _) if write => Action::Write { clear: 0 },
        (GICR_STATUSR | GICR_WAKER, Width::W32, _) => Action::Read { clear: 0 },
        _ => Action::RazWi,
    }
}

/// The redistributor's registers as EL2 reaches them.
pub trait Mmio {
    fn read(&mut self, addr: u64, width: Width) -> u64;
    fn write(&mut self, addr: u64, width: Width, value: u64);
}

/// A single load or store the host made, from a data abort's syndrome.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Access {
    pub ipa: u64,
    pub width: Width,
    pub write: bool,
    /// The general-purpose register (31: the zero register).
    pub reg: u8,
    /// Loads: sign-extend the value (SSE).
    pub sign_extend: bool,
    /// Loads: the register is 64 bits wide (SF); a W register gets the upper half cleared.
    pub reg64: bool,
}

const ISS_ISV: u64 = 1 << 24;
const ISS_FNV: u64 = 1 << 10;
const ISS_CM: u64 = 1 << 8;
const ISS_S1PTW: u64 = 1 << 7;
/// DFSC 0b0001xx: translation fault, any level.
const DFSC_TRANSLATION: u8 = 0b00_0100;

/// Decodes a stage-2 data abort at `ipa` into an access EL2 can emulate. Only a translation
/// fault with a valid instruction syndrome (ISV: a single load or store of a general-purpose
/// register, no writeback) from AArch64 qualifies; pairs, atomics, exclusives, SIMD registers,
/// cache maintenance and table walks do not, and get the usual abort.
pub fn decode(esr: Esr, ipa: u64, spsr: u64) -> Option<Access> {
    const SPSR_AARCH32: u64 = 1 << 4;
    let iss = esr.iss();
    if iss & ISS_ISV == 0 || iss & (ISS_FNV | ISS_CM | ISS_S1PTW) != 0 || spsr & SPSR_AARCH32 != 0 {
        return None;
    }
    if esr.fault_status() & !0b11 != DFSC_TRANSLATION {
        return None;
    }
    let width = [Width::W8, Width::W16, Width::W32, Width::W64][((iss >> 22) & 3) as usize];
    Some(Access {
        ipa,
        width,
        write: esr.is_write(),
        reg: ((iss >> 16) & 0x1f) as u8,
        sign_extend: iss & (1 << 21) != 0,
        reg64: iss & (1 << 15) != 0,
    })
}

fn mask(width: Width) -> u64 {
    u64::MAX >> (64 - width.bits())
}

/// Carries out `access` to a trapped page at `page` for the host whose registers are in `frame`,
/// and steps the host past the instruction (always 32 bits: AArch64 only).
pub fn emulate(access: &Access, page: u64, frame: &mut TrapFrame, mmio: &mut impl Mmio) {
    let offset = access.ipa - page;
    let action = decide(offset, access.width, access.write);
    if access.write {
        let value = if access.reg == 31 { 0 } else { frame.regs[access.reg as usize] } & mask(access.width);
        if let Action::Write { clear } = action {
            mmio.write(access.ipa, access.width, value & !clear);
        }
    } else {
        let raw = match action {
            Action::Read { clear } => mmio.read(access.ipa, access.width) & mask(access.width) & !clear,
            _ => 0,
        };
        let shift = 64 - access.width.bits();
        let mut value = if access.sign_extend { (((raw << shift) as i64) >> shift) as u64 } else { raw };
        if !access.reg64 {
            value &= 0xffff_ffff;
        }
        if access.reg != 31 {
            frame.regs[access.reg as usize] = value;
        }
    }
    frame.elr += 4;
}

/// Emulates the host's data abort if it hit a trapped redistributor page and can be emulated;
/// `false` leaves it to the caller (an abort for the host).
pub fn handle(regions: &[Region], esr: Esr, ipa: u64, frame: &mut TrapFrame, mmio: &mut impl Mmio) -> bool {
    if !is_trapped(regions, ipa) {
        return false;
    }
    let Some(access) = decode(esr, ipa, frame.spsr) else { return false };
    emulate(&access, ipa & !(PAGE - 1), frame, mmio);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use aarch64_paging::descriptor::Stage2Attributes;
    use std::collections::BTreeMap;

    const RD: Region = Region::new(0x080a_0000, 0x8_0000);

    /// A redistributor that remembers what reached it.
    #[derive(Default)]
    struct FakeRedist {
        regs: BTreeMap<u64, u64>,
        writes: Vec<(u64, Width, u64)>,
    }

    impl Mmio for FakeRedist {
        fn read(&mut self, addr: u64, _: Width) -> u64 {
            self.regs.get(&addr).copied().unwrap_or(0)
        }
        fn write(&mut self, addr: u64, width: Width, value: u64) {
            self.writes.push((addr, width, value));
            self.regs.insert(addr, value);
        }
    }

    /// A data-abort syndrome: translation fault level 3, ISV, SAS, SRT, SF, WnR.
    fn esr(sas: u64, reg: u64, write: bool, sf: bool) -> Esr {
        let iss = ISS_ISV | sas << 22 | reg << 16 | u64::from(sf) << 15 | u64::from(write) << 6 | 0x07;
        Esr((0x24 << 26) | (1 << 25) | iss)
    }

    #[test]
    fn pages_are_the_first_4k_of_every_128k() {
        let pages = trapped_pages(&[RD]);
        assert_eq!(pages.len(), 4);
        assert_eq!(pages[1], Region::new(0x080c_0000, PAGE));
        assert!(is_trapped(&[RD], 0x080a_0070));
        assert!(is_trapped(&[RD], 0x080e_0fff));
        assert!(!is_trapped(&[RD], 0x080a_1000));
        // SGI_base frame: the host's own, untouched.
        assert!(!is_trapped(&[RD], 0x080b_0100));
        assert!(!is_trapped(&[RD], 0x0812_0000));
    }

    #[test]
    fn rule_table() {
        use Action::*;
        use Width::*;
        let cases = [
            (0x00, W32, false, Read { clear: CTLR_ENABLE_LPIS }),
            (0x00, W32, true, Write { clear: CTLR_ENABLE_LPIS }),
            (0x00, W64, false, RazWi),
            (0x04, W32, false, Read { clear: 0 }),
            (0x04, W32, true, RazWi),
            (0x08, W64, false, Read { clear: TYPER_LPI_BITS }),
            (0x08, W32, false, Read { clear: TYPER_LPI_BITS }),
            (0x0c, W32, false, Read { clear: 0 }),
            (0x08, W64, true, RazWi),
            (0x10, W32, true, Write { clear: 0 }),
            (0x14, W32, false, Read { clear: 0 }),
            (0x14, W32, true, Write { clear: 0 }),
            (0x14, W8, true, RazWi),
            (0x40, W64, true, RazWi),
            (0x48, W64, true, RazWi),
            (0x70, W64, true, RazWi),
            (0x70, W64, false, RazWi),
            (0x74, W32, true, RazWi),
            (0x78, W64, true, RazWi),
            (0x78, W32, false, RazWi),
            (0xa0, W64, true, RazWi),
            (0xb0, W64, true, RazWi),
            (0xc0, W32, false, RazWi),
            (0x24, W32, true, RazWi),
            (0xffc, W32, true, RazWi),
        ];
        for (offset, width, write, want) in cases {
            assert_eq!(decide(offset, width, write), want, "{offset:#x} {width:?} write={write}");
        }
    }

    #[test]
    fn decode_refuses_what_it_cannot_emulate() {
        let ipa = RD.base;
        assert_eq!(
            decode(esr(3, 5, true, true), ipa, 0x3c5),
            Some(Access { ipa, width: Width::W64, write: true, reg: 5, sign_extend: false, reg64: true })
        );
        // No syndrome (ldp, atomics, writeback...).
        assert_eq!(decode(Esr(0x9200_0047), ipa, 0x3c5), None);
        // From AArch32.
        assert_eq!(decode(esr(2, 0, false, false), ipa, 0x10), None);
        // A permission fault, a stage-1 walk, cache maintenance.
        assert_eq!(decode(Esr(esr(2, 0, false, false).0 & !0x3f | 0x0f), ipa, 0x3c5), None);
        assert_eq!(decode(Esr(esr(2, 0, false, false).0 | ISS_S1PTW), ipa, 0x3c5), None);
        assert_eq!(decode(Esr(esr(2, 0, false, false).0 | ISS_CM), ipa, 0x3c5), None);
    }

    #[test]
    fn lpis_cannot_be_enabled_nor_tables_placed() {
        let mut rd = FakeRedist::default();
        rd.regs.insert(RD.base + 0x08, 0x0000_0001_0000_0139); // PLPIS, DirectLPI, Last, DPGS, cpu 1
        rd.regs.insert(RD.base, 0x8000_0000);
        let mut frame = TrapFrame::default();
        frame.elr = 0x4000_0000;
        frame.spsr = 0x3c5;
        // PROPBASER and PENDBASER with EL2's address: nothing reaches the redistributor.
        frame.regs[1] = 0x6000_0000 | 0x78f;
        for offset in [0x70, 0x78] {
            assert!(handle(&[RD], esr(3, 1, true, true), RD.base + offset, &mut frame, &mut rd));
        }
        assert!(rd.writes.is_empty());
        frame.regs[2] = 0xdead;
        assert!(handle(&[RD], esr(3, 2, false, true), RD.base + 0x70, &mut frame, &mut rd));
        assert_eq!(frame.regs[2], 0);
        // EnableLPIs is dropped on the way in and hidden on the way out.
        frame.regs[3] = 1 | 1 << 24;
        assert!(handle(&[RD], esr(2, 3, true, false), RD.base, &mut frame, &mut rd));
        assert_eq!(rd.writes, [(RD.base, Width::W32, 1 << 24)]);
        rd.regs.insert(RD.base, 0x8000_0001);
        assert!(handle(&[RD], esr(2, 4, false, false), RD.base, &mut frame, &mut rd));
        assert_eq!(frame.regs[4], 0x8000_0000);
        // TYPER: no LPIs, the rest as the hardware says.
        assert!(handle(&[RD], esr(3, 5, false, true), RD.base + 0x08, &mut frame, &mut rd));
        assert_eq!(frame.regs[5], 0x0000_0001_0000_0130);
        assert_eq!(frame.elr, 0x4000_0000 + 6 * 4, "each emulated access steps past its instruction");
    }

    #[test]
    fn loads_fill_registers_as_the_instruction_would() {
        let mut rd = FakeRedist::default();
        rd.regs.insert(RD.base + 0x14, 0x8000_0006);
        let mut frame = TrapFrame::default();
        frame.regs[7] = u64::MAX;
        // ldr w7: zero-extended.
        assert!(handle(&[RD], esr(2, 7, false, false), RD.base + 0x14, &mut frame, &mut rd));
        assert_eq!(frame.regs[7], 0x8000_0006);
        // ldrsw x7: sign-extended.
        let sse = Esr(esr(2, 7, false, true).0 | 1 << 21);
        assert!(handle(&[RD], sse, RD.base + 0x14, &mut frame, &mut rd));
        assert_eq!(frame.regs[7], 0xffff_ffff_8000_0006);
        // Loads into xzr and stores of xzr.
        let before = frame.regs;
        assert!(handle(&[RD], esr(2, 31, false, false), RD.base + 0x14, &mut frame, &mut rd));
        assert_eq!(frame.regs, before);
        assert!(handle(&[RD], esr(2, 31, true, false), RD.base + 0x14, &mut frame, &mut rd));
        assert_eq!(rd.writes, [(RD.base + 0x14, Width::W32, 0)]);
    }

    #[test]
    fn elsewhere_is_not_claimed() {
        let mut rd = FakeRedist::default();
        let mut frame = TrapFrame::default();
        assert!(!handle(&[RD], esr(2, 0, false, false), 0x6000_0000, &mut frame, &mut rd));
        assert!(!handle(&[RD], esr(2, 0, false, false), RD.base + 0x1_0000, &mut frame, &mut rd));
        assert!(!handle(&[RD], Esr(0x9200_0007), RD.base, &mut frame, &mut rd));
        assert_eq!(frame.elr, 0);
    }

    /// The host's stage-2 with the pages this module emulates taken out (`host_stage2::build`).
    #[test]
    fn gic_its_and_lpi_pages_are_not_mapped() {
        // QEMU virt: the ITS, four redistributors, and the device space around them.
        let ram = [Region::new(0x4000_0000, 0x4000_0000)];
        let dev = [Region::new(0, 0x4000_0000)];
        let its = Region::new(0x0808_0000, 0x2_0000);
        let redists = [Region::new(0x080a_0000, 0x8_0000)];
        let mut holes = alloc::vec![Region::new(0x6000_0000, 0x40_0000), its];
        holes.extend(trapped_pages(&redists));
        let map = crate::host_stage2::build(&ram, &dev, &holes).unwrap();
        let mapped = |addr: usize| {
            let mut valid = false;
            map.walk_range(&aarch64_paging::paging::MemoryRegion::new(addr, addr + 1), &mut |_, d, level| {
                if d.is_valid() && (level == 3 || !d.flags().contains(Stage2Attributes::TABLE_OR_PAGE)) {
                    valid = true;
                }
                Ok(())
            })
            .unwrap();
            valid
        };
        for addr in [0x0808_0000, 0x0808_0080, 0x0809_0040, 0x0809_ffff, 0x080a_0000, 0x080a_0070, 0x080c_0078, 0x080e_0fff] {
            assert!(!mapped(addr), "{addr:#x} must not be mapped");
        }
        // The distributor, each redistributor's other pages and SGI frame, the UART stay the host's.
        for addr in [0x0800_0000, 0x0807_ffff, 0x080a_1000, 0x080a_ffe8, 0x080b_0100, 0x080c_1000, 0x0900_0000] {
            assert!(mapped(addr), "{addr:#x} must be mapped");
        }
    }
}
