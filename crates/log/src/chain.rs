//! The tamper-evident hash chain: each event's hash covers the previous hash and the
//! whole event (envelope and body), so editing, removing or reordering any event
//! breaks every hash after it.

use sha2::{Digest, Sha256};

use super::StoredEvent;

/// The "previous hash" of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `sha256(prev_hash || canonical event)`, hex. The canonical event is its fields
/// joined with a newline, so no field can bleed into the next:
/// `prev \n seq \n at \n actor \n command_id \n kind \n v \n body` for a record of
/// version 2 or later; a version 1 record (written before versions existed) has no
/// `v` line, so old logs verify as they always did.
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
    if event.v >= 2 {
        h.update(itoa::Buffer::new().format(event.v).as_bytes());
        h.update(b"\n");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(v: u32) -> StoredEvent {
        StoredEvent {
            seq: 7,
            at: chrono::DateTime::parse_from_rfc3339("2026-12-07T03:00:00.123Z")
                .unwrap()
                .to_utc(),
            actor: "usr_1".into(),
            command_id: None,
            kind: "incident.closed".into(),
            body: r#"{"kind":"incident.closed","incident_id":"inc_2"}"#.into(),
            v,
            hash: String::new(),
        }
    }

    #[test]
    fn version_1_hashes_as_before_versions_and_later_ones_cover_the_version() {
        let old = "abc\n7\n2026-12-07T03:00:00.123Z\nusr_1\n\nincident.closed\n\
                   {\"kind\":\"incident.closed\",\"incident_id\":\"inc_2\"}";
        assert_eq!(link("abc", &event(1)), hex::encode(Sha256::digest(old)));
        let v2 = "abc\n7\n2026-12-07T03:00:00.123Z\nusr_1\n\nincident.closed\n2\n\
                  {\"kind\":\"incident.closed\",\"incident_id\":\"inc_2\"}";
        assert_eq!(link("abc", &event(2)), hex::encode(Sha256::digest(v2)));
        assert_ne!(link("abc", &event(2)), link("abc", &event(3)));
    }
}
