//! Counters the hub keeps about itself, read by `/metrics` and the benchmarks, and
//! whether the event log can be written now, read by `/readyz`.

use std::sync::Mutex;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};

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
    /// Times the writer found the log writable again after a fault.
    pub store_recoveries: AtomicU64,
    /// Whether the log can be written now (see [`StoreHealth`]).
    pub store: StoreHealth,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

/// The writer's verdict on the event log: available, or down with the reason. Only the
/// writer changes it (down when an append fails, up once a probe write and the check
/// of the log's tail succeed); `/readyz` and `/metrics` read it.
#[derive(Debug)]
pub struct StoreHealth {
    available: AtomicBool,
    /// What is wrong, while the log is down.
    reason: Mutex<Option<String>>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            available: AtomicBool::new(true),
            reason: Mutex::new(None),
        }
    }
}

impl StoreHealth {
    /// True unless the writer found the log failing and has not yet seen it recover.
    pub fn available(&self) -> bool {
        self.available.load(Acquire)
    }

    /// Why the log is down; `None` while it is available.
    pub fn reason(&self) -> Option<String> {
        if self.available() {
            return None;
        }
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The log failed: `reason` says how. The reason is stored before the flag drops,
    /// so a reader that sees "down" also sees why.
    pub fn down(&self, reason: &str) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        self.available.store(false, Release);
    }

    /// The log answers writes again.
    pub fn up(&self) {
        self.available.store(true, Release);
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
