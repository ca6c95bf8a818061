//! Counters the hub keeps about itself, read by `/metrics` and the benchmarks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Monotonic counters; each is updated by exactly one task.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Commands decided (accepted, refused or de-duplicated).
    pub commands: AtomicU64,
    /// Commands refused with an error.
    pub rejected: AtomicU64,
    /// Events made durable.
    pub events: AtomicU64,
    /// Appends (group commits) made durable.
    pub batches: AtomicU64,
    /// Appends that failed.
    pub append_failures: AtomicU64,
    /// Appends that lost the race to another hub on a shared log (and were retried).
    pub append_conflicts: AtomicU64,
    /// Total time spent in durable appends, microseconds.
    pub append_micros: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
