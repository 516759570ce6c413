// SPDX-License-Identifier: MIT OR Apache-2.0

//! The firmware's log: the `log` crate onto the platform's PL011.
//!
//! Release builds log warnings and errors only unless the host bundle asks for more; debug builds
//! log at debug level. Every line is prefixed with the CPU and level so interleaved output from
//! several CPUs stays readable.

use core::fmt::Write;
use log::{LevelFilter, Log, Metadata, Record};
use smc_interface::boot::LogLevel;
use spin::mutex::SpinMutex;

/// The level a build logs at when nobody asks for another.
pub const BUILD_DEFAULT: LevelFilter =
    if cfg!(debug_assertions) { LevelFilter::Debug } else { LevelFilter::Warn };

/// The level the host bundle asked for, or the build's default.
pub fn level_for(requested: LogLevel) -> LevelFilter {
    match requested {
        LogLevel::BuildDefault => BUILD_DEFAULT,
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    }
}

/// A logger over any `fmt::Write` sink, serialised by a spin lock.
pub struct Logger<W: Write + Send> {
    sink: SpinMutex<Option<W>>,
    cpu: fn() -> usize,
}

impl<W: Write + Send> Logger<W> {
    pub const fn new(cpu: fn() -> usize) -> Self {
        Self { sink: SpinMutex::new(None), cpu }
    }

    pub fn set_sink(&self, sink: W) {
        *self.sink.lock() = Some(sink);
    }

    /// Writes straight to the sink, bypassing levels: for the panic path.
    pub fn write_raw(&self, args: core::fmt::Arguments<'_>) {
        // A panic while the lock is held (inside a log call) must still get its message out.
        let mut guard = match self.sink.try_lock() {
            Some(g) => g,
            None => {
                // SAFETY-free fallback: force the lock; the CPU that held it is this one,
                // which is not going to resume the interrupted write.
                unsafe { self.sink.force_unlock() };
                self.sink.lock()
            }
        };
        if let Some(sink) = guard.as_mut() {
            let _ = sink.write_fmt(args);
        }
    }
}

impl<W: Write + Send> Log for Logger<W> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Some(sink) = self.sink.lock().as_mut() {
            let _ = writeln!(sink, "EL2[{}] {:<5} {}", (self.cpu)(), record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn levels() {
        assert_eq!(level_for(LogLevel::Info), LevelFilter::Info);
        assert_eq!(level_for(LogLevel::BuildDefault), BUILD_DEFAULT);
    }

    #[test]
    fn formats_lines() {
        let logger: Logger<String> = Logger::new(|| 3);
        logger.set_sink(String::new());
        log::set_max_level(LevelFilter::Info);
        logger.log(&Record::builder().level(log::Level::Info).args(format_args!("hello")).build());
        logger.log(&Record::builder().level(log::Level::Debug).args(format_args!("hidden")).build());
        assert_eq!(logger.sink.lock().as_deref(), Some("EL2[3] INFO  hello\n"));
    }
}
