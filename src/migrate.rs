//! `muster migrate-log`: turns a log written in an older event format into the current
//! one, in a new file. The old log is read (and its chain verified), every event is
//! read through the upcaster and written again in the current format, after a first
//! event, `log.migrated`, that records the old log's head hash: the old file then
//! proves what the new one started from. Password hashes the old events carried go to
//! the new log's credential store; it is the only way they leave the old file, which
//! the operator deletes once the new log is in service.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use muster_core::domain::ids::{AlertId, UserId};
use muster_core::engine::{Event, EventKind, Record, State};
use muster_log::credentials::{self, CredentialStore, SqliteCredentials};
use muster_log::sqlite::{SqliteLog, verify_blocking};
use muster_log::{EventLog, Snapshot, StoreError, StoredEvent, chain, record};

/// Events read and written per round.
const PAGE: usize = 4_096;

/// What a migration did.
#[derive(Debug, Serialize)]
pub struct Migrated {
    /// Events read from the old log (the new one holds one more: `log.migrated`).
    pub events: u64,
    /// The old log's head hash, recorded in the new log's first event.
    pub from_head: String,
    /// Accounts whose password hash moved to the credential store.
    pub passwords: usize,
}

/// Why a log could not be migrated.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0} already exists; migrate into a new file")]
    Exists(String),
    #[error("the old log's hash chain breaks at seq {0}; it cannot be migrated as it is")]
    Broken(u64),
    #[error("the old log is empty")]
    Empty,
    #[error("event {seq} cannot be read: {error}")]
    Unreadable { seq: u64, error: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Migrates the SQLite log at `from` into a new log at `to` (and the credential store
/// beside it). `now` is recorded as when it happened.
pub async fn migrate(from: &Path, to: &Path, now: DateTime<Utc>) -> Result<Migrated, MigrateError> {
    if to.exists() {
        return Err(MigrateError::Exists(to.display().to_string()));
    }
    let report = verify_blocking(from)?;
    if let Some(bad) = report.first_bad_seq {
        return Err(MigrateError::Broken(bad));
    }
    let old = SqliteLog::open_readonly(from)?;
    let (head, from_head) = old.head().await?;
    let first = old.read_from(0, 1).await?;
    let Some(first) = first.first() else {
        return Err(MigrateError::Empty);
    };
    let new = SqliteLog::open(to)?;
    let mut writer = Writer::new(&new);
    writer
        .push(Record {
            seq: 1,
            at: first.at,
            actor: UserId(muster_core::engine::event::SYSTEM_ACTOR.into()),
            command_id: None,
            event: Event::LogMigrated {
                from_head: from_head.clone(),
                from_events: head,
                migrated_at: now,
            },
        })
        .await?;
    let mut passwords = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = old.read_from(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for stored in &page {
            if let Some((user, hash)) = password_of(stored) {
                passwords.insert(user, hash);
            }
            writer.push(renumbered(stored)?).await?;
        }
    }
    writer.finish().await?;
    let hashes: Vec<(String, String)> = passwords.into_iter().collect();
    SqliteCredentials::open(&credentials::path_beside(to))?
        .put(&hashes)
        .await?;
    Ok(Migrated {
        events: head,
        from_head,
        passwords: hashes.len(),
    })
}

/// The old event read in the current format, one place later (after `log.migrated`).
/// Alerts are numbered by the event that raised them, so an acknowledgement names its
/// alert one place later too.
fn renumbered(stored: &StoredEvent) -> Result<Record, MigrateError> {
    let mut rec = record::decode(stored).map_err(|e| MigrateError::Unreadable {
        seq: stored.seq,
        error: e.to_string(),
    })?;
    rec.seq += 1;
    if let Event::AlertAcknowledged { alert_id, .. } = &mut rec.event
        && let Some(n) = alert_id
            .as_str()
            .strip_prefix("alr_")
            .and_then(|n| n.parse::<u64>().ok())
    {
        *alert_id = AlertId::at_seq(n + 1);
    }
    Ok(rec)
}

/// The password hash an old event carried: `user.created` (in its user) and
/// `user.password_changed` wrote them into the log before the credential store.
fn password_of(stored: &StoredEvent) -> Option<(String, String)> {
    let body: serde_json::Value = serde_json::from_str(&stored.body).ok()?;
    let (user, hash) = match EventKind::from_name(&stored.kind)? {
        EventKind::UserCreated => (&body["user"]["id"], &body["user"]["password_hash"]),
        EventKind::UserPasswordChanged => (&body["user_id"], &body["password_hash"]),
        _ => return None,
    };
    let hash = hash.as_str().filter(|h| !h.is_empty())?;
    Some((user.as_str()?.to_string(), hash.to_string()))
}

/// Chains, appends in pages and folds the new log, and leaves a snapshot of the end
/// so the hub's first start does not replay it all.
struct Writer<'a> {
    log: &'a SqliteLog,
    pending: Vec<StoredEvent>,
    prev_hash: String,
    state: State,
}

impl<'a> Writer<'a> {
    fn new(log: &'a SqliteLog) -> Writer<'a> {
        Writer {
            log,
            pending: Vec::new(),
            prev_hash: chain::GENESIS.to_string(),
            state: State::default(),
        }
    }

    async fn push(&mut self, rec: Record) -> Result<(), StoreError> {
        let stored = record::encode(&rec, &self.prev_hash);
        self.prev_hash.clone_from(&stored.hash);
        self.pending.push(stored);
        self.state.apply(&rec);
        if self.pending.len() >= PAGE {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            self.log.append(&self.pending).await?;
            self.pending.clear();
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(), StoreError> {
        self.flush().await?;
        let body = serde_json::to_string(&self.state).expect("the state serialises");
        self.log
            .save_snapshot(&Snapshot {
                seq: self.state.seq,
                body,
            })
            .await
    }
}
