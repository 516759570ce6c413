// SPDX-License-Identifier: MIT OR Apache-2.0

//! The runner every fuzz property of this crate shares, so that one knob sets every run length:
//! a few thousand cases inside `cargo test`, `PROPTEST_CASES` cases under `make fuzz`.
//!
//! Each property reports how many calls or steps it applied (an *execution*); the runner prints
//! the total, which `make fuzz` adds up across properties. A plain `cargo test` hides the line
//! (it captures stdout); `-- --nocapture` shows it.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Runs `property` on `default_cases` generated inputs (or `PROPTEST_CASES` of them, when set)
/// and panics with the smallest failing input proptest finds. `property` returns the number of
/// executions it made. `file` is the caller's `file!()`: where proptest keeps failing seeds
/// (`*.proptest-regressions` beside it), so a failure is replayed first on the next run.
pub fn fuzz<S: Strategy>(
    name: &str,
    file: &'static str,
    default_cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<u64, TestCaseError>,
) {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    // Beside the test's own file: `SourceParallel`, the default, looks for a lib.rs above it,
    // which an integration test does not have.
    config.source_file = Some(file);
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions")));
    let cases = config.cases;
    let executions = AtomicU64::new(0);
    let start = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| {
        executions.fetch_add(property(input)?, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    println!(
        "FUZZ {name}: {cases} cases, {} executions, {:.1} s",
        executions.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}
