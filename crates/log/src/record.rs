//! The encoding of records: an engine [`Record`] as the log keeps it, chained to the
//! event before it, and back.

use muster_core::domain::ids::UserId;
use muster_core::engine::Record;

use crate::{StoredEvent, chain};

/// The stored form of `record`, chained to `prev_hash`.
pub fn encode(record: &Record, prev_hash: &str) -> StoredEvent {
    let body = serde_json::to_string(&record.event).expect("events always serialise");
    encode_body(record, body, prev_hash)
}

/// The stored form of `record` with `body` (its event as the log keeps it: the vault
/// passes the body with personal data sealed), chained to `prev_hash`.
pub fn encode_body(record: &Record, body: String, prev_hash: &str) -> StoredEvent {
    let mut stored = StoredEvent {
        seq: record.seq,
        at: record.at,
        actor: record.actor.0.clone(),
        command_id: record.command_id.clone(),
        kind: record.event.kind().as_str().to_string(),
        body,
        hash: String::new(),
    };
    stored.hash = chain::link(prev_hash, &stored);
    stored
}

/// Reads a stored event back.
pub fn decode(stored: &StoredEvent) -> Result<Record, serde_json::Error> {
    Ok(Record {
        seq: stored.seq,
        at: stored.at,
        actor: UserId(stored.actor.clone()),
        command_id: stored.command_id.clone(),
        event: serde_json::from_str(&stored.body)?,
    })
}
