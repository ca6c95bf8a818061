//! The recent-events window: published events kept in memory so a client that
//! reconnects is served from RAM, not the log. Bounded by count and by age.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use super::Published;

/// A bounded ring of the latest published events, oldest first.
pub struct Journal {
    events: RwLock<VecDeque<Arc<Published>>>,
    /// The most events kept, whatever their age.
    capacity: usize,
    /// Events older than this are dropped.
    max_age: Duration,
}

/// What the journal can give a client resuming after `seq`.
pub enum Backlog {
    /// Every event after the seq asked for (possibly none).
    Events(Vec<Arc<Published>>),
    /// The journal no longer reaches back that far.
    TooOld,
}

impl Journal {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Journal {
            events: RwLock::new(VecDeque::with_capacity(capacity.min(65_536))),
            capacity,
            max_age,
        }
    }

    /// Adds a durable batch, dropping what is too old or beyond capacity.
    pub fn push(&self, batch: &[Arc<Published>], now: DateTime<Utc>) {
        let mut events = self.events.write().unwrap_or_else(|e| e.into_inner());
        events.extend(batch.iter().cloned());
        while events.len() > self.capacity
            || events.front().is_some_and(|e| now - e.at > self.max_age)
        {
            events.pop_front();
        }
    }

    /// Forgets every event kept (after an erasure: the frames hold the erased data).
    /// A client resuming from before then is sent a fresh snapshot instead.
    pub fn clear(&self) {
        self.events
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Events with `seq > after`, if the window still covers `after + 1`.
    pub fn after(&self, after: u64, head: u64) -> Backlog {
        let events = self.events.read().unwrap_or_else(|e| e.into_inner());
        if after >= head {
            return Backlog::Events(Vec::new());
        }
        match events.front() {
            Some(first) if first.seq <= after + 1 => {
                let start = events.partition_point(|e| e.seq <= after);
                Backlog::Events(events.range(start..).cloned().collect())
            }
            _ => Backlog::TooOld,
        }
    }

    /// The oldest time the journal still covers, if it holds anything.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .front()
            .map(|e| e.at)
    }
}
