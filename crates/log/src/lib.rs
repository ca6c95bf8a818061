//! The event log: the single truth. A trait with two implementations, SQLite (the
//! embedded default) and Redis (production, several hubs).
//!
//! The store knows stored events (sequence number, envelope, JSON body and hash) and
//! nothing above them: it never parses a body.
//!
//! Ordering contract every implementation keeps: `append` is all-or-nothing, the first
//! event of a batch has `seq == head + 1`, sequence numbers are dense, and when
//! `append` returns `Ok` the whole batch is durable.

pub mod chain;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod credentials;
pub mod record;
pub mod redis;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event as it is kept in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Global, dense, increasing position in the log, from 1.
    pub seq: u64,
    /// When the hub accepted the command that caused it.
    pub at: DateTime<Utc>,
    /// The user id (or `system`) whose command caused it.
    pub actor: String,
    /// The client's command id, for de-duplication; `None` for events no command caused.
    pub command_id: Option<String>,
    /// The event kind, e.g. `incident.opened`.
    pub kind: String,
    /// The event's canonical JSON (including `kind`).
    pub body: String,
    /// Hex SHA-256 over the previous hash and this event (see [`chain`]).
    pub hash: String,
}

/// A serialised state as of `seq`, so start-up replays only the tail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last event folded into `body`; replay resumes after it.
    pub seq: u64,
    /// The serialised state; opaque to the store.
    pub body: String,
}

/// What walking the hash chain found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// True when every event links to the one before it.
    pub ok: bool,
    /// How many events were checked; when `ok` is false this includes the bad one.
    pub events: u64,
    /// The first seq that is missing, out of order or fails its hash, when `ok` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<u64>,
}

/// How durable the store is configured to be, for `/readyz` and the start-up log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    /// `sqlite` or `redis`.
    pub store: String,
    /// True when an acknowledged command survives a power cut.
    pub durable: bool,
    /// Human-readable detail, e.g. `WAL, synchronous=FULL`.
    pub detail: String,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or refused the write; nothing of the batch is kept.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// Another writer appended first: the log's head is not what the writer expected.
    #[error("log head is at seq {found}, the writer expected {expected}")]
    Conflict { expected: u64, found: u64 },
    /// The stored data cannot be read back as written.
    #[error("event log corrupt: {0}")]
    Corrupt(String),
}

/// An append-only, hash-chained event log.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends a batch atomically; returns when it is durable. The first event's `seq`
    /// must be the head's plus one, else [`StoreError::Conflict`].
    async fn append(&self, batch: &[StoredEvent]) -> Result<(), StoreError>;

    /// Up to `limit` events with `seq > after`, in order.
    async fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// The last event's `seq` and hash; `(0, chain::GENESIS)` for an empty log.
    async fn head(&self) -> Result<(u64, String), StoreError>;

    /// The newest snapshot, if any.
    async fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError>;

    /// Keeps a snapshot; older ones may be dropped.
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Walks the whole chain and reports the first event whose hash does not match.
    async fn verify(&self) -> Result<VerifyReport, StoreError>;

    /// How durable this store is configured to be.
    async fn durability(&self) -> Result<Durability, StoreError>;

    /// [`append`](Self::append) of a batch the caller gives away: a store that hands
    /// the batch to another thread can take it as it is instead of copying it.
    async fn append_owned(&self, batch: Arc<Vec<StoredEvent>>) -> Result<(), StoreError> {
        self.append(&batch).await
    }

    /// Like [`append`](Self::append), and the head's hash must be `prev_hash` too.
    /// Stores that only one writer uses need not check it (the default).
    async fn append_after(&self, prev_hash: &str, batch: &[StoredEvent]) -> Result<(), StoreError> {
        let _ = prev_hash;
        self.append(batch).await
    }

    /// True when other hubs may append to the same log, so this hub must follow it
    /// ([`tail`](Self::tail)) and retry its appends on [`StoreError::Conflict`].
    fn shared(&self) -> bool {
        false
    }

    /// Like [`read_from`](Self::read_from), leaving out events whose kind is in `skip`
    /// (the kind is part of the envelope, so the store still never parses a body):
    /// up to `limit` of the others. Readers that need a few kinds of a long log (the
    /// review) read much less. The default filters a plain read.
    async fn read_from_skipping(
        &self,
        after: u64,
        limit: usize,
        skip: &'static [&'static str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut after = after;
        loop {
            let page = self.read_from(after, limit).await?;
            let Some(end) = page.last().map(|e| e.seq) else {
                return Ok(page);
            };
            let kept: Vec<StoredEvent> = page
                .into_iter()
                .filter(|e| !skip.contains(&e.kind.as_str()))
                .collect();
            // A page wholly skipped is not the end: read on from its last event.
            if !kept.is_empty() {
                return Ok(kept);
            }
            after = end;
        }
    }

    /// After a failed write: drops whatever the store holds open and opens it again.
    /// A failed fsync leaves a file handle whose dirty pages the kernel may already
    /// have thrown away, so it must never be trusted for another write. The default
    /// (a store with nothing of its own to reopen) does nothing.
    async fn reopen(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether a write would succeed now, without appending an event: the hub calls it
    /// (with backoff) while the log is down, and accepts commands again once it
    /// passes. The default reads the head; a store whose reads can work while its
    /// writes fail (a full or read-only disk) should write something instead.
    async fn probe(&self) -> Result<(), StoreError> {
        self.head().await.map(|_| ())
    }

    /// After an erasure: keeps `snapshot` (a state with the erased data blanked) as the
    /// only snapshot, and has the store drop its own stale copies of deleted data:
    /// SQLite (which zeroes deleted content, `secure_delete`) truncates its WAL;
    /// Redis rewrites its append-only file. The events themselves stay: the hash chain
    /// covers them (their personal data is sealed under keys that are erased).
    async fn scrub(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.save_snapshot(snapshot).await
    }

    /// A follower of the events appended from now on, by this hub or others.
    async fn tail(&self) -> Result<Box<dyn Tail>, StoreError> {
        Err(StoreError::Unavailable(
            "this store has one writer; there is nothing to follow".into(),
        ))
    }
}

/// Follows a shared log: waits (briefly) for events appended after a seq.
#[async_trait]
pub trait Tail: Send + 'static {
    /// Up to `limit` events with `seq > after`, waiting up to about a second for the
    /// first; empty when none came.
    async fn next_after(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;
}
