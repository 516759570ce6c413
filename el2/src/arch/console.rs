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
