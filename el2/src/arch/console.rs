// SPDX-License-Identifier: MIT OR Apache-2.0

//! The log's sink: the platform's PL011, left configured as the previous stage set it up (TF-A,
//! or QEMU's reset state), so EL2 never changes the host's console settings.

use crate::logger::Logger;
use arm_pl011_uart::{PL011Registers, Uart, UniqueMmioPointer};
use arm_sysregs::el1::accessors::read_mpidr_el1;
use core::ptr::NonNull;
use platform::{Current, Platform};

/// The UART, owned by the logger.
pub struct Console(Uart<'static>);

// SAFETY: the UART is only ever used behind the logger's lock.
unsafe impl Send for Console {}

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for line in s.split_inclusive('\n') {
            if let Some(text) = line.strip_suffix('\n') {
                self.0.write_str(text)?;
                self.0.write_str("\r\n")?;
            } else {
                self.0.write_str(line)?;
            }
        }
        Ok(())
    }
}

fn cpu_number() -> usize {
    Current::cpu_index(read_mpidr_el1().bits()).unwrap_or(usize::MAX)
}

pub static LOGGER: Logger<Console> = Logger::new(cpu_number);

pub fn init(level: log::LevelFilter) {
    // SAFETY: UART_BASE is the platform's PL011; EL2 maps it as device memory and nothing else in
    // EL2 touches it.
    let regs = unsafe {
        UniqueMmioPointer::new(NonNull::new(Current::UART_BASE as *mut PL011Registers).unwrap())
    };
    LOGGER.set_sink(Console(Uart::new(regs)));
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// The console of last resort, for the fatal paths when the logger's lock cannot be had (a CPU
/// panicked inside a log call, or another CPU stopped mid-line). Hand-written rather than a second
/// `arm_pl011_uart::Uart`: that type's `UniqueMmioPointer` promises it is the only handle on the
/// UART, which the logger's already is. This writes the data register with volatile stores
/// through a raw pointer and never forms a reference to the logger's state; at worst its
/// characters interleave with another CPU's on the wire.
pub struct Emergency;

impl core::fmt::Write for Emergency {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let base = Current::UART_BASE as *mut u32;
        for b in s.bytes() {
            if b == b'\n' {
                put(base, b'\r');
            }
            put(base, b);
        }
        Ok(())
    }
}

/// PL011: DR at 0x00, FR at 0x18 (bit 5 TXFF: transmit FIFO full).
fn put(base: *mut u32, b: u8) {
    // SAFETY: UART_BASE is the platform's PL011, mapped as device memory for EL2; DR and FR are
    // 32-bit registers in its first page.
    unsafe {
        while base.byte_add(0x18).read_volatile() & (1 << 5) != 0 {
            core::hint::spin_loop();
        }
        base.write_volatile(u32::from(b));
    }
}
