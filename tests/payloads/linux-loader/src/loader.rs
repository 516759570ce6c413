// SPDX-License-Identifier: MIT OR Apache-2.0

//! The loader proper (see main.rs).

use core::{
    arch::{asm, global_asm},
    fmt::{self, Write},
    panic::PanicInfo,
    ptr, slice,
};
use dtoolkit::fdt_mut::FdtMut;
use platform::{Current, Platform};
use smc_interface::boot::{HEADER_SIZE, HostBundleHeader};

// Entry from BL31 at EL2, MMU and caches off, interrupts masked: a stack, .bss zeroed, Rust.
global_asm!(
    r#"
.section .text.entry, "ax"
.global _start
_start:
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:  adrp    x9, loader_stack_top
    add     x9, x9, :lo12:loader_stack_top
    mov     sp, x9
    bl      loader_main
    b       .

.section .bss.loader_stack, "aw", %nobits
.balign 16
    .space  0x4000
loader_stack_top:
"#
);

/// The PL011's console, polled.
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const DR: usize = 0;
        const FR: usize = 0x18 / 4;
        const FR_TXFF: u32 = 1 << 5;
        let uart = Current::UART_BASE as *mut u32;
        for b in s.bytes() {
            // SAFETY: the platform's UART registers, MMIO; nothing else uses them meanwhile.
            unsafe {
                while ptr::read_volatile(uart.add(FR)) & FR_TXFF != 0 {}
                ptr::write_volatile(uart.add(DR), u32::from(b));
            }
        }
        Ok(())
    }
}

macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(Console, $($arg)*);
    }};
}

/// PSCI SYSTEM_OFF, by SMC to EL3: QEMU exits.
fn power_off() -> ! {
    // SAFETY: an SMCCC call to EL3; SYSTEM_OFF does not return.
    unsafe { asm!("smc #0", in("x0") 0x8400_0008u64, options(nomem, nostack)) };
    loop {
        core::hint::spin_loop();
    }
}

/// PSCI_VERSION (SMC32): answered by EL3 (TF-A's BL31) itself.
const PSCI_VERSION: u64 = 0x8400_0000;

/// The generic timer's virtual count; under -icount shift=0 one instruction is one nanosecond.
#[inline(always)]
fn now() -> u64 {
    let t: u64;
    // SAFETY: reading the counter has no side effect; the ISB keeps it in program order.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) t, options(nomem, nostack, preserves_flags)) };
    t
}

/// EL3's own part of a relayed SMC, measured the way host-driver/linux/hyp_cost.c measures the
/// hypervisors' paths from the host: PSCI_VERSION by SMC straight from EL2, 16 times untimed, then
/// `ROUNDS` times back to back between two readings of the counter in a loop of `mov x0, <id>`,
/// `smc #0`, `subs`, `b.ne`; the last two and the two readings' own cost are taken off. The mean
/// in tenths of an instruction (exact to 16 / `ROUNDS`, rounded), and the version EL3 answered.
fn el3_round_trip() -> (u64, u64) {
    const ROUNDS: u64 = 4096;
    const LOOP_TENTHS: u64 = 20;
    let version: u64;
    // SAFETY: SMCCC fast calls to EL3 that change nothing; every register they may change is
    // declared clobbered.
    unsafe {
        asm!(
            "mov {n}, #16",
            "1: mov x0, {id}",
            "smc #0",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            id = in(reg) PSCI_VERSION, n = out(reg) _,
            out("x0") version, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
            out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nomem, nostack)
        )
    };
    let t0 = now();
    let read = now() - t0;
    let t0 = now();
    // SAFETY: as above.
    unsafe {
        asm!(
            "1: mov x0, {id}",
            "smc #0",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            id = in(reg) PSCI_VERSION, n = inout(reg) ROUNDS => _,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
            out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nomem, nostack)
        )
    };
    let ticks = now() - t0 - read;
    let freq: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) freq, options(nomem, nostack, preserves_flags)) };
    // Rounded to the nearest tenth: the readings' quantisation is at most 16 / `ROUNDS`.
    let per = freq.max(1) * ROUNDS;
    let tenths = ((ticks * 10 * 1_000_000_000 + per / 2) / per).saturating_sub(LOOP_TENTHS);
    (tenths, version)
}

fn current_el() -> u64 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effect.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack, preserves_flags)) };
    (el >> 2) & 3
}

/// Where to jump, and what to pass.
struct Kernel {
    entry: u64,
    dtb: u64,
}

fn prepare() -> Result<Kernel, &'static str> {
    let el = current_el();
    if el != 2 {
        say!("LOADER: entered at EL{el}");
        return Err("not entered at EL2: QEMU needs virtualization=on");
    }
    let (el3, version) = el3_round_trip();
    say!("LOADER: el3 smc PSCI_VERSION from EL2 a0={version:#x} cost={}.{}", el3 / 10, el3 % 10);
    let base = Current::HOST_BUNDLE_BASE;
    // SAFETY: RAM at the bundle's fixed address; only read, and only the header page.
    let page = unsafe { slice::from_raw_parts(base as *const u8, HEADER_SIZE) };
    let header = HostBundleHeader::parse(page).map_err(|e| {
        say!("LOADER: bundle at {base:#x}: {e}");
        "no valid host bundle (-device loader,file=...,addr=0x48000000,force-raw=on)"
    })?;
    let entry = base + header.kernel_mem_range().start;
    let initrd = header.initrd_range().map(|r| (base + r.start, base + r.end));
    let cmdline = header.cmdline_str();

    // SAFETY: the device tree's region at the start of RAM; nothing else touches it until Linux,
    // which is not running yet.
    let dt = unsafe { slice::from_raw_parts_mut(Current::DT_BASE as *mut u8, Current::DT_MAX_SIZE as usize) };
    let mut fdt = FdtMut::from_slice(dt).map_err(|_| "no device tree at the start of RAM")?;
    let mut chosen = fdt.find_node_mut("/chosen").ok_or("no /chosen in the device tree")?;
    let full = |_| "the device tree outgrew its 1 MiB";
    chosen.remove_property("bootargs");
    chosen.add_property("bootargs", cmdline).map_err(full)?;
    if let Some((start, end)) = initrd {
        chosen.remove_property("linux,initrd-start");
        chosen.add_property("linux,initrd-start", start).map_err(full)?;
        chosen.remove_property("linux,initrd-end");
        chosen.add_property("linux,initrd-end", end).map_err(full)?;
    }
    say!(
        "LOADER: entering Linux at EL{el}: kernel {entry:#x}, device tree {:#x}, initrd {initrd:x?}, command line \"{cmdline}\"",
        Current::DT_BASE
    );
    Ok(Kernel { entry, dtb: Current::DT_BASE })
}

#[unsafe(no_mangle)]
extern "C" fn loader_main() -> ! {
    match prepare() {
        // SAFETY: the arm64 boot protocol: x0 = the device tree, x1..x3 = 0, MMU and D-cache off
        // (never turned on here), interrupts masked (as BL31 left them), at the Image's start.
        Ok(k) => unsafe {
            asm!("br {entry}", entry = in(reg) k.entry, in("x0") k.dtb, in("x1") 0u64, in("x2") 0u64,
                 in("x3") 0u64, options(noreturn))
        },
        Err(why) => {
            say!("LOADER: error: {why}");
            power_off()
        }
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    say!("LOADER: error: panic: {info}");
    power_off()
}
