//! The tamper-evident hash chain: each event's hash covers the previous hash and the
//! whole event (envelope and body), so editing, removing or reordering any event
//! breaks every hash after it.

use sha2::{Digest, Sha256};

use super::StoredEvent;

/// The "previous hash" of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `sha256(prev_hash || canonical event)`, hex. The canonical event is its fields
/// joined with a newline, so no field can bleed into the next.
pub fn link(prev_hash: &str, event: &StoredEvent) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(itoa::Buffer::new().format(event.seq).as_bytes());
    h.update(b"\n");
    h.update(muster_core::time::rfc3339(event.at).as_bytes());
    h.update(b"\n");
    h.update(event.actor.as_bytes());
    h.update(b"\n");
    h.update(event.command_id.as_deref().unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(event.kind.as_bytes());
    h.update(b"\n");
    h.update(event.body.as_bytes());
    hex::encode(h.finalize())
}

/// Walks events in order from `prev_hash`; returns the first seq whose hash or
/// sequence does not follow, and the hash reached.
pub fn check<'a>(
    mut prev_seq: u64,
    mut prev_hash: String,
    events: impl IntoIterator<Item = &'a StoredEvent>,
) -> Result<(u64, String), u64> {
    for e in events {
        if e.seq != prev_seq + 1 || link(&prev_hash, e) != e.hash {
            return Err(prev_seq + 1);
        }
        prev_seq = e.seq;
        prev_hash = e.hash.clone();
    }
    Ok((prev_seq, prev_hash))
}
