// SPDX-License-Identifier: MIT OR Apache-2.0

//! The probe itself (aarch64 only).

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use host_driver::{
    Client,
    conduit::{Conduit, Hvc, Smc},
};
use payload_rt::{
    ABORTS, LAST_ELR, LAST_ESR, LAST_FAR, check, cpu_index, current_el, finish, psci_cpu_on, raw, say,
};
use platform::{Current, Platform};
use smc_interface::{CallUid, Revision, Version, ids};
use smccc::psci;

const NOT_SUPPORTED: u64 = -1i64 as u64;
const INVALID_PARAMETER: u64 = -3i64 as u64;
const PSCI_INVALID_PARAMETERS: u64 = -2i64 as u64;
const PSCI_ALREADY_ON: u64 = -4i64 as u64;

// ---------------------------------------------------------------------------------------------
// Calls

/// An HVC #0 with a full 64-bit x0 (the conduits take a 32-bit function ID).
fn hvc_x0(x0: u64) -> u64 {
    let mut x0 = x0;
    // SAFETY: an SMCCC call; EL2 answers it.
    unsafe { asm!("hvc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _) };
    x0
}

fn hvc_imm1(function: u64) -> u64 {
    let mut x0 = function;
    // SAFETY: an HVC with a non-zero immediate; EL2 answers it like any call.
    unsafe { asm!("hvc #1", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _) };
    x0
}

/// An HVC #1 or SMC #1 with x1..x17 = 0x1000 + n: the registers it returns in x0..x17.
fn imm1_all(smc: bool, function: u64) -> [u64; 18] {
    let mut r: [u64; 18] = core::array::from_fn(|n| 0x1000 + n as u64);
    r[0] = function;
    let [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17] = &mut r;
    macro_rules! call {
        ($insn:literal) => {
            // SAFETY: a call with a non-zero immediate, which is no SMCCC call; EL2 refuses it
            // and, for an SMC, resumes after it; every register in play is declared.
            unsafe {
                asm!($insn, inout("x0") *x0, inout("x1") *x1, inout("x2") *x2, inout("x3") *x3,
                    inout("x4") *x4, inout("x5") *x5, inout("x6") *x6, inout("x7") *x7,
                    inout("x8") *x8, inout("x9") *x9, inout("x10") *x10, inout("x11") *x11,
                    inout("x12") *x12, inout("x13") *x13, inout("x14") *x14, inout("x15") *x15,
                    inout("x16") *x16, inout("x17") *x17)
            }
        };
    }
    if smc {
        call!("smc #1");
    } else {
        call!("hvc #1");
    }
    r
}

/// An HVC #0 or SMC #0 (HYP_REVISION) with x18..x30 = 0x1800 + n: the values x18..x30 hold after
/// it. EL2's call path saves only the registers the Rust it runs may clobber, so this checks the
/// rest (x19..x29, callee-saved there) come back too. x19 and x29 are LLVM's and x30 is the link
/// register, so the asm keeps its caller's and sets and reads them itself.
fn high_registers_after(smc: bool) -> [u64; 13] {
    let mut r: [u64; 13] = core::array::from_fn(|n| 0x1812 + 0x100 * n as u64);
    let [x18, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30] = &mut r;
    macro_rules! call {
        ($insn:literal) => {
            // SAFETY: an SMCCC call (x0 = HYP_REVISION); x19, x29 and x30 are saved on the stack
            // and put back, and every other register in play is declared.
            unsafe {
                asm!(
                    "stp x19, x29, [sp, #-32]!",
                    "str x30, [sp, #16]",
                    "mov x19, {v19}", "mov x29, {v29}", "mov x30, {v30}",
                    $insn,
                    "mov {v19}, x19", "mov {v29}, x29", "mov {v30}, x30",
                    "ldr x30, [sp, #16]",
                    "ldp x19, x29, [sp], #32",
                    v19 = inout(reg) *x19, v29 = inout(reg) *x29, v30 = inout(reg) *x30,
                    inout("x0") u64::from(ids::HYP_REVISION) => _, out("x1") _, out("x2") _,
                    out("x3") _, inout("x18") *x18, inout("x20") *x20, inout("x21") *x21,
                    inout("x22") *x22, inout("x23") *x23, inout("x24") *x24, inout("x25") *x25,
                    inout("x26") *x26, inout("x27") *x27, inout("x28") *x28,
                )
            }
        };
    }
    if smc {
        call!("smc #0");
    } else {
        call!("hvc #0");
    }
    r
}

// ---------------------------------------------------------------------------------------------
// The checks

fn discovery() {
    say!("PROBE: CurrentEL={}", current_el());
    check("runs at EL1", current_el() == 1, format_args!("EL{}", current_el()));

    for (via, name) in [(0, "hvc"), (1, "smc")] {
        let (uid, rev, f_uid, f_unknown) = if via == 0 {
            let mut c = Client::new(Hvc);
            (c.call_uid(), c.revision(), c.features(ids::HYP_CALL_UID), c.features(0x8600_0042))
        } else {
            let mut c = Client::new(Smc);
            (c.call_uid(), c.revision(), c.features(ids::HYP_CALL_UID), c.features(0x8600_0042))
        };
        let words = uid.map(|u| u.0).unwrap_or_default();
        say!("PROBE: {name} uid {:08x} {:08x} {:08x} {:08x}", words[0], words[1], words[2], words[3]);
        check(name_of(name, "call-uid"), uid == Ok(CallUid::HYP), format_args!("{uid:x?}"));
        check(name_of(name, "revision"), rev == Ok(Revision::CURRENT), format_args!("{rev:?}"));
        check(name_of(name, "features(uid)"), f_uid.is_supported(), format_args!("{f_uid:?}"));
        check(name_of(name, "features(unknown)"), !f_unknown.is_supported(), format_args!("{f_unknown:?}"));
    }
    let v = Client::new(Hvc).smccc_version();
    check("hvc smccc-version 1.2", v == Ok(Version::CURRENT), format_args!("{v:?}"));
    let f = raw(&mut Hvc, &[ids::SMCCC_ARCH_FEATURES.into(), ids::SMCCC_VERSION.into()])[0];
    check("hvc arch-features(version)", f == 0, format_args!("{f:#x}"));
}

fn name_of(conduit: &str, what: &str) -> &'static str {
    // Static names keep `check` allocation-free.
    match (conduit, what) {
        ("hvc", "call-uid") => "hvc call-uid",
        ("hvc", "revision") => "hvc revision",
        ("hvc", "features(uid)") => "hvc features(uid)",
        ("hvc", "features(unknown)") => "hvc features(unknown)",
        ("smc", "call-uid") => "smc call-uid",
        ("smc", "revision") => "smc revision",
        ("smc", "features(uid)") => "smc features(uid)",
        _ => "smc features(unknown)",
    }
}

fn bad_input() {
    for fid in [0x8600_0042u64, 0xc600_0000, 0x8600_ff00, 0x8600_ff02, 0x8600_fffe, 0xc600_00ff] {
        let r = raw(&mut Hvc, &[fid, 1, 2, 3])[..4].to_owned_array();
        check("unknown id -> NOT_SUPPORTED, x1..x3 zero", r == [NOT_SUPPORTED, 0, 0, 0], format_args!("{fid:#x} -> {r:x?}"));
        let r = raw(&mut Smc, &[fid])[0];
        check("unknown id by smc -> NOT_SUPPORTED", r == NOT_SUPPORTED, format_args!("{fid:#x} -> {r:#x}"));
    }
    let r = hvc_x0((1 << 32) | u64::from(ids::HYP_CALL_UID));
    check("x0 bits 63:32 set -> NOT_SUPPORTED", r == NOT_SUPPORTED, format_args!("{r:#x}"));
    let r = raw(&mut Hvc, &[ids::HYP_FEATURES.into(), 1 << 32])[0];
    check("bad argument -> INVALID_PARAMETER", r == INVALID_PARAMETER, format_args!("{r:#x}"));
    let r = hvc_imm1(ids::HYP_CALL_UID.into());
    check("hvc #1 -> NOT_SUPPORTED", r == NOT_SUPPORTED, format_args!("{r:#x}"));
    for (insn, smc) in [("hvc #1", false), ("smc #1", true)] {
        let r = imm1_all(smc, ids::HYP_CALL_UID.into());
        let kept = (4..18).all(|n| r[n] == 0x1000 + n as u64);
        check(
            if smc { "smc #1 -> NOT_SUPPORTED, x1..x3 zero, x4..x17 kept, resumes after it" } else { "hvc #1 -> x1..x3 zero, x4..x17 kept" },
            r[0] == NOT_SUPPORTED && r[1..4] == [0, 0, 0] && kept,
            format_args!("{insn}: {r:x?}"),
        );
    }
    let r = raw(&mut Hvc, &[psci::PSCI_VERSION.into()])[0];
    check("psci by hvc -> NOT_SUPPORTED", r == NOT_SUPPORTED, format_args!("{r:#x}"));
    let r = raw(&mut Hvc, &[u64::from(ids::HYP_CALL_UID) | 1 << 16])[0];
    check("sve hint bit ignored", r == u64::from(CallUid::HYP.0[0]), format_args!("{r:#x}"));
    // SMCCC 1.1+: x4..x17 come back as they went in.
    let args: [u64; 18] = core::array::from_fn(|i| if i == 0 { ids::HYP_REVISION.into() } else { 0x1111 * i as u64 });
    let out = Hvc.call(args);
    check("x4..x17 preserved", out[4..] == args[4..], format_args!("{:x?}", &out[4..]));
    for (insn, smc) in [("hvc #0", false), ("smc #0", true)] {
        let r = high_registers_after(smc);
        let kept = r.iter().enumerate().all(|(n, &v)| v == 0x1812 + 0x100 * n as u64);
        let what = if smc { "smc #0 keeps x18..x30" } else { "hvc #0 keeps x18..x30" };
        check(what, kept, format_args!("{insn}: {r:x?}"));
    }
    // Every ID of this service's ranges with junk arguments gets a defined answer.
    let mut defined = true;
    for base in [0x8600_0000u64, 0xc600_0000, 0x8600_ff00] {
        for n in 0..0x20 {
            let r = raw(&mut Hvc, &[base + n, u64::MAX, 0x8000_0000_0000_0000, 7])[0] as i64;
            defined &= r >= 0 || matches!(r, -1 | -3);
        }
    }
    check("sweep of own ranges: only defined answers", defined, format_args!("see above"));
}

trait ToOwnedArray {
    fn to_owned_array(&self) -> [u64; 4];
}
impl ToOwnedArray for [u64] {
    fn to_owned_array(&self) -> [u64; 4] {
        [self[0], self[1], self[2], self[3]]
    }
}

fn firmware_memory() {
    let fw = Current::firmware_region();
    for (what, addr, write) in [
        ("read EL2 image", fw.base, false),
        ("write EL2 image", fw.base + 0x1000, true),
        ("read EL2 last word", fw.end() - 8, false),
        ("write EL2 heap", fw.base + fw.size / 2, true),
    ] {
        let (ok, esr) = refused(addr, write, true, 0xbad0_bad0);
        let far = LAST_FAR.load(SeqCst);
        say!("PROBE: {what} at {addr:#x}: esr={esr:#x} far={far:#x}");
        check("EL2 memory access refused with a synchronous external abort", ok, format_args!("{what}"));
    }
    // An instruction fetch from EL2's memory.
    let before = ABORTS.load(SeqCst);
    // SAFETY: the branch faults at the target; the handler returns to the link register.
    unsafe { asm!("blr {}", in(reg) fw.base, out("x30") _, clobber_abi("C")) };
    let esr = LAST_ESR.load(SeqCst);
    let ok = ABORTS.load(SeqCst) == before + 1 && esr >> 26 == 0x21 && LAST_ELR.load(SeqCst) == fw.base;
    check("EL2 memory fetch refused with an instruction abort", ok, format_args!("esr={esr:#x}"));
    // EL2 still serves calls.
    let uid = Client::new(Hvc).call_uid();
    check("calls still served after refused accesses", uid == Ok(CallUid::HYP), format_args!("{uid:x?}"));
}

// ---------------------------------------------------------------------------------------------
// The GIC: the ITS is refused, the redistributors have no LPIs
// (raw accesses, not arm-gic's: each checks what EL2 does at one register and access size)

/// An access of `wide` (64-bit) or 32-bit size; returns whether it was refused with a synchronous
/// external abort at `addr`, and the syndrome.
fn refused(addr: u64, write: bool, wide: bool, value: u64) -> (bool, u64) {
    let before = ABORTS.load(SeqCst);
    // SAFETY: a device register access the probe expects EL2 to refuse or to emulate; a refused
    // one is skipped by the abort handler.
    unsafe {
        match (write, wide) {
            (true, true) => (addr as *mut u64).write_volatile(value),
            (true, false) => (addr as *mut u32).write_volatile(value as u32),
            (false, true) => drop((addr as *const u64).read_volatile()),
            (false, false) => drop((addr as *const u32).read_volatile()),
        }
    }
    let (esr, far) = (LAST_ESR.load(SeqCst), LAST_FAR.load(SeqCst));
    let ok = ABORTS.load(SeqCst) == before + 1
        && esr >> 26 == 0x25
        && esr & 0x3f == 0x10
        && ((esr >> 6) & 1 == 1) == write
        && far == addr;
    (ok, esr)
}

fn rd32(addr: u64) -> u32 {
    // SAFETY: a redistributor register the host may read.
    unsafe { (addr as *const u32).read_volatile() }
}

fn rd64(addr: u64) -> u64 {
    // SAFETY: as for rd32.
    unsafe { (addr as *const u64).read_volatile() }
}

fn wr32(addr: u64, value: u32) {
    // SAFETY: a redistributor register the host may write.
    unsafe { (addr as *mut u32).write_volatile(value) }
}

fn wr64(addr: u64, value: u64) {
    // SAFETY: as for wr32.
    unsafe { (addr as *mut u64).write_volatile(value) }
}

fn gic(cpus: u64) {
    let fw = Current::firmware_region();
    // The ITS is a DMA engine: pointing its tables at EL2's memory must be impossible. Each access
    // has its register's own size, so that only EL2 (not the GIC) could refuse it.
    let its = Current::GIC_ITS[0].base;
    for (what, addr, write, wide) in [
        ("read GITS_CTLR", its, false, false),
        ("write GITS_CBASER", its + 0x80, true, true),
        ("write GITS_BASER0", its + 0x100, true, true),
    ] {
        let (ok, esr) = refused(addr, write, wide, fw.base | 1 << 63);
        say!("PROBE: {what} at {addr:#x}: esr={esr:#x}");
        check("ITS access refused with a synchronous external abort", ok, format_args!("{what}"));
    }

    // Redistributor i's RD_base frame (128 KiB apart on QEMU virt, GICv3 without virtual LPIs).
    let rd = |i: u64| Current::GICR_BASE + i * 0x2_0000;
    let typers: [u64; 4] = core::array::from_fn(|i| rd64(rd(i as u64) + 0x08));
    let typer_ok = (0..cpus).all(|i| {
        let t = typers[i as usize];
        t & 1 == 0 && (t >> 8) & 0xffff == i && ((t >> 4) & 1 == 1) == (i == cpus - 1) && t >> 32 == i
    });
    say!("PROBE: GICR_TYPER {typers:x?}");
    check("GICR_TYPER: PLPIS clear, number, Last and affinity as the hardware's", typer_ok, format_args!("{typers:x?}"));
    let (lo, hi) = (rd32(rd(1) + 0x08), rd32(rd(1) + 0x0c));
    check("GICR_TYPER as two 32-bit halves", lo & 1 == 0 && (lo >> 8) & 0xffff == 1 && hi == 1, format_args!("{hi:#x} {lo:#x}"));
    let iidr = rd32(rd(0) + 0x04);
    check("GICR_IIDR passes through (QEMU's implementer)", iidr & 0xfff == 0x43b, format_args!("{iidr:#x}"));
    let waker = rd(0) + 0x14;
    wr32(waker, rd32(waker) & !(1 << 1));
    let w = rd32(waker);
    check("GICR_WAKER passes through (redistributor awake)", w & 0b110 == 0, format_args!("{w:#x}"));

    // The LPI tables: EL2's address, and then the enable. Nothing sticks.
    for (what, offset, table) in [("GICR_PROPBASER", 0x70, fw.base | 0x78f), ("GICR_PENDBASER", 0x78, fw.base + 0x1_0000)] {
        wr64(rd(0) + offset, table);
        let back = rd64(rd(0) + offset);
        say!("PROBE: {what} <- {table:#x}, reads {back:#x}");
        check("LPI table base reads as zero, writes ignored", back == 0, format_args!("{what} {back:#x}"));
    }
    wr32(rd(0), rd32(rd(0)) | 1);
    let ctlr = rd32(rd(0));
    check("GICR_CTLR.EnableLPIs stays clear", ctlr & 1 == 0, format_args!("{ctlr:#x}"));

    // A load pair has no instruction syndrome: EL2 cannot emulate it and refuses it.
    let before = ABORTS.load(SeqCst);
    let addr = rd(0) + 0x70;
    // SAFETY: a load the probe expects EL2 to refuse; the abort handler skips it.
    unsafe { asm!("ldp {a}, {b}, [{addr}]", addr = in(reg) addr, a = out(reg) _, b = out(reg) _) };
    let (esr, far) = (LAST_ESR.load(SeqCst), LAST_FAR.load(SeqCst));
    let ok = ABORTS.load(SeqCst) == before + 1 && esr >> 26 == 0x25 && esr & 0x3f == 0x10 && far == addr;
    check("load pair from an emulated GIC page refused", ok, format_args!("esr={esr:#x} far={far:#x}"));

    let uid = Client::new(Hvc).call_uid();
    check("calls still served after GIC accesses", uid == Ok(CallUid::HYP), format_args!("{uid:x?}"));
}

// ---------------------------------------------------------------------------------------------
// Secondary CPUs

const MAX: usize = Current::MAX_CPUS;
static SECONDARY: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
const SEC_OK: u64 = 1;
const SEC_BAD: u64 = 2;

#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: u64) -> ! {
    let uid = Client::new(Hvc).call_uid();
    let ok = current_el() == 1 && uid == Ok(CallUid::HYP) && cpu_index() == index as usize;
    SECONDARY[index as usize].store(if ok { SEC_OK } else { SEC_BAD }, SeqCst);
    payload_rt::cpu_off()
}

fn secondaries(cpus: usize) {
    let entry = payload_rt::secondary_start as *const () as u64;
    let mut results = [0u64; MAX];
    for (i, result) in results.iter_mut().enumerate().take(cpus).skip(1) {
        *result = psci_cpu_on(i);
    }
    payload_rt::wait_until(10, || (1..cpus).all(|i| SECONDARY[i].load(SeqCst) != 0));
    // Reported only now: EL2 logs on the same UART while the secondaries come up.
    for (i, &r) in results.iter().enumerate().take(cpus).skip(1) {
        check("psci cpu_on", r == 0, format_args!("cpu {i}: {r:#x}"));
    }
    for (i, status) in SECONDARY.iter().enumerate().take(cpus).skip(1) {
        let s = status.load(SeqCst);
        say!("PROBE: cpu {i} status {s}");
        check("secondary reached EL1 through EL2 and was served", s == SEC_OK, format_args!("cpu {i} status {s}"));
    }
    let r = raw(&mut Smc, &[psci::PSCI_CPU_ON_64.into(), payload_rt::mpidr() & 0xff_ffff, entry, 0])[0];
    check("cpu_on of a running cpu -> ALREADY_ON", r == PSCI_ALREADY_ON, format_args!("{r:#x}"));
    let r = raw(&mut Smc, &[psci::PSCI_CPU_ON_64.into(), 0xff, entry, 0])[0];
    check("cpu_on of a cpu that does not exist -> INVALID_PARAMETERS", r == PSCI_INVALID_PARAMETERS, format_args!("{r:#x}"));
}

// ---------------------------------------------------------------------------------------------

#[unsafe(no_mangle)]
extern "C" fn primary_main(dtb: u64) -> ! {
    say!("PROBE: start (dtb {dtb:#x})");
    discovery();
    bad_input();
    firmware_memory();
    // The number of CPUs comes from the device tree in a real host; the tests run with -smp 4.
    gic(4);
    secondaries(4);
    finish()
}
