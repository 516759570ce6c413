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

    /// Writes straight to the sink, bypassing levels: for the fatal and panic paths.
    ///
    /// The lock is never forced: a CPU that panicked inside a log call still holds it, and
    /// another CPU may be mid-line. After a bounded wait the text goes to `emergency` instead, a
    /// sink that shares no Rust state with the logger's (see `console::Emergency`).
    pub fn write_raw(&self, args: core::fmt::Arguments<'_>, emergency: &mut dyn Write) {
        for _ in 0..RAW_LOCK_ATTEMPTS {
            if let Some(mut guard) = self.sink.try_lock() {
                if let Some(sink) = guard.as_mut() {
                    let _ = sink.write_fmt(args);
                }
                return;
            }
            core::hint::spin_loop();
        }
        let _ = emergency.write_fmt(args);
    }
}

/// How often the fatal paths try the logger's lock before they give up on it: long enough for
/// another CPU to finish a line at 115200 baud (~10 ms), short enough not to matter on a panic.
const RAW_LOCK_ATTEMPTS: usize = 1 << 22;

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

    #[test]
    fn raw_writes_never_break_a_held_lock() {
        let logger: Logger<String> = Logger::new(|| 0);
        logger.set_sink(String::new());
        let mut emergency = String::new();
        let held = logger.sink.lock();
        logger.write_raw(format_args!("fatal\n"), &mut emergency);
        assert_eq!(emergency, "fatal\n", "went to the emergency sink");
        assert_eq!(held.as_deref(), Some(""), "the holder's line was not touched");
        drop(held);
        logger.write_raw(format_args!("fatal\n"), &mut emergency);
        assert_eq!(logger.sink.lock().as_deref(), Some("fatal\n"));
    }
}
