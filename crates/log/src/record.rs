//! The encoding of records: an engine [`Record`] as the log keeps it, chained to the
//! event before it, and back. Bodies are versioned: every record is written at
//! [`VERSION`]; older ones are brought up to it by [`crate::upcast`] as they are read.

use muster_core::domain::ids::UserId;
use muster_core::engine::Record;

use crate::{StoredEvent, chain, upcast};

/// The schema version of the bodies written now. 1: events carried whole read-model
/// objects (before versions were stored); 2: events are facts (what was given when it
/// happened; who and when are the envelope's).
pub const VERSION: u32 = 2;

/// Why a stored event could not be read back as a record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Written by a newer hub than this one: its shape is unknown here.
    #[error(
        "event {seq} has schema version {v}, newer than this hub reads (up to {VERSION}); \
         upgrade the hub"
    )]
    UnknownVersion { seq: u64, v: u32 },
    /// The body is not an event of its version.
    #[error("event {seq} (version {v}) does not read as an event: {source}")]
    Body {
        seq: u64,
        v: u32,
        #[source]
        source: serde_json::Error,
    },
}

/// The stored form of `record`, chained to `prev_hash`, at [`VERSION`].
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
        v: VERSION,
        hash: String::new(),
    };
    stored.hash = chain::link(prev_hash, &stored);
    stored
}

/// Reads a stored event back, upcasting an older version's body to [`VERSION`].
pub fn decode(stored: &StoredEvent) -> Result<Record, DecodeError> {
    let (seq, v) = (stored.seq, stored.v);
    let body = |source| DecodeError::Body { seq, v, source };
    let event = match v {
        VERSION => serde_json::from_str(&stored.body).map_err(body)?,
        v if v < VERSION => {
            let old: serde_json::Value = serde_json::from_str(&stored.body).map_err(body)?;
            serde_json::from_value(upcast::to_current(v, old)).map_err(body)?
        }
        v => return Err(DecodeError::UnknownVersion { seq, v }),
    };
    Ok(Record {
        seq,
        at: stored.at,
        actor: UserId(stored.actor.clone()),
        command_id: stored.command_id.clone(),
        event,
    })
}
