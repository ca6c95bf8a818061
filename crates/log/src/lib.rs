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
pub mod upcast;

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
    /// The schema version of `body` ([`record::VERSION`] for records written now; `1`
    /// for records written before versions existed). Covered by the hash from 2 on.
    pub v: u32,
    /// Hex SHA-256 over the previous hash and this event (see [`chain`]).
    pub hash: String,
}

/// A data key of the vault, wrapped (encrypted) by the master key, under its scope
/// (e.g. `contact:con_84/caller_details`). Data keys are kept beside the log and outside
/// its hash chain, so erasing one leaves every event's bytes and hash as they were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub scope: String,
    pub wrapped: Vec<u8>,
}

/// A scope's fingerprint: the first 128 bits of its SHA-256. The sets and maps of every
/// scope a log holds are keyed by it, so that probing or growing them never reads a
/// scope again (they hold a key per caller and incident, and the writer looks several
/// up per sealed event). Two scopes sharing one, a 2^-128 chance for a pair, is not a
/// case to plan for.
pub fn scope_fingerprint(scope: &str) -> u128 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(scope.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// The scopes an erasure names: exact scopes, and prefixes ending in `/` (every scope
/// under one). Matched by lookups of a scope and its own prefixes, so that a retention
/// sweep naming thousands of scopes costs a few lookups per key held, not one
/// comparison per name.
pub struct ScopeNames<'a> {
    exact: std::collections::HashSet<&'a str>,
    prefixes: std::collections::HashSet<&'a str>,
}

impl<'a> ScopeNames<'a> {
    pub fn of(scopes: &'a [String]) -> ScopeNames<'a> {
        let (prefixes, exact) = scopes
            .iter()
            .map(String::as_str)
            .partition(|s| s.ends_with('/'));
        ScopeNames { exact, prefixes }
    }

    /// True when `scope` is named, or is under a named prefix.
    pub fn name(&self, scope: &str) -> bool {
        self.exact.contains(scope)
            || scope
                .match_indices('/')
                .any(|(i, _)| self.prefixes.contains(&scope[..=i]))
    }
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

    /// [`append_owned`](Self::append_owned) (on a shared log
    /// [`append_after`](Self::append_after) `prev_hash`) that also keeps `keys`, the
    /// data keys the batch is the first to use, in the same transaction: a batch is
    /// never durable without the keys that open it. A scope already kept fails the
    /// append ([`StoreError::Conflict`] on a shared log, where another hub made it
    /// first). The default keeps no keys and refuses any.
    async fn append_with_keys(
        &self,
        prev_hash: &str,
        batch: Arc<Vec<StoredEvent>>,
        keys: Arc<Vec<WrappedKey>>,
    ) -> Result<(), StoreError> {
        if !keys.is_empty() {
            return Err(StoreError::Unavailable(
                "this store keeps no data keys".into(),
            ));
        }
        if self.shared() {
            self.append_after(prev_hash, &batch).await
        } else {
            self.append_owned(batch).await
        }
    }

    /// Every data key kept (wrapped), in no particular order.
    async fn load_keys(&self) -> Result<Vec<WrappedKey>, StoreError> {
        Ok(Vec::new())
    }

    /// Deletes data keys for good: each entry of `scopes` is an exact scope, or a
    /// prefix ending in `/` that erases every scope under it. Returns the scopes
    /// erased. Stores overwrite the freed bytes where they can.
    async fn erase_keys(&self, scopes: &[String]) -> Result<Vec<String>, StoreError> {
        let _ = scopes;
        Ok(Vec::new())
    }

    /// Keeps `keys`, replacing any kept under the same scopes, all or nothing: a
    /// master-key rotation re-wraps every data key this way (the events are not
    /// touched), and the vault keeps its check value so.
    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        Err(StoreError::Unavailable(
            "this store keeps no data keys".into(),
        ))
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
