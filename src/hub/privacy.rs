//! Erasure beyond the read state. Once a `privacy.erased` or `privacy.swept` is
//! durable (the publisher has already blanked the read state and emptied the journal
//! of the events before it, so no client can resume into the erased data), this task:
//!
//! 1. erases the data keys of the scopes it covers ([`Hub::erase_keys`]);
//! 2. writes a fresh snapshot of the (blanked) state and has the store drop every
//!    older copy ([`EventLog::scrub`]: SQLite old snapshots zeroed and WAL truncated,
//!    Redis append-only file rewritten).
//!
//! At start it erases again every scope the state says was erased: a key store
//! restored from a backup taken before an erasure would otherwise bring data back.

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::Hub;
use muster_core::engine::{EventKind, Record};
use muster_core::privacy::erase;
use muster_log::{Snapshot, StoreError};

/// Whether an event erases personal data.
pub fn erases(kind: EventKind) -> bool {
    matches!(kind, EventKind::PrivacyErased | EventKind::PrivacySwept)
}

/// Starts the task; `done` is set to the seq of each erasure once it reached every
/// copy (tests wait on it).
pub(super) fn spawn(hub: Hub, done: watch::Sender<u64>) {
    let mut batches = hub.subscribe_records();
    tokio::spawn(async move {
        let erased: Vec<String> = hub.with_state(|s| s.privacy.erased.iter().cloned().collect());
        if !erased.is_empty() {
            match hub.erase_keys(&erased).await {
                Ok(gone) if !gone.is_empty() => tracing::warn!(
                    keys = gone.len(),
                    "data keys of erased data were back (a restored key store?) and are erased again"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "erased scopes could not be erased again at start")
                }
            }
        }
        loop {
            match batches.recv().await {
                Ok(records) => {
                    if let Some(seq) = reach_every_copy(&hub, &records).await {
                        let _ = done.send(seq);
                    }
                }
                // Missed batches: scrub from the state as it is (it holds every erasure).
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed_batches = missed,
                        "privacy task fell behind; scrubbing"
                    );
                    let all: Vec<String> =
                        hub.with_state(|s| s.privacy.erased.iter().cloned().collect());
                    if let Err(e) = erase_and_scrub(&hub, &all).await {
                        tracing::error!(error = %e, "erased data could not be scrubbed");
                    } else {
                        let _ = done.send(hub.seq());
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Handles the erasures in one durable batch; the last one's seq when there was any.
async fn reach_every_copy(hub: &Hub, records: &[Record]) -> Option<u64> {
    let last = records.iter().rev().find(|r| erases(r.event.kind()))?.seq;
    let scopes: Vec<String> = hub.with_state(|s| {
        records
            .iter()
            .flat_map(|r| erase::scopes(&r.event, s))
            .collect()
    });
    if let Err(e) = erase_and_scrub(hub, &scopes).await {
        tracing::error!(seq = last, error = %e, "an erasure did not reach every copy; it is retried at the next start");
        return None;
    }
    Some(last)
}

/// Erases the keys, then replaces the snapshots with the state as it is now.
pub async fn erase_and_scrub(hub: &Hub, scopes: &[String]) -> Result<(), StoreError> {
    hub.erase_keys(scopes).await?;
    let snapshot =
        hub.with_state(|s| serde_json::to_string(s).map(|body| Snapshot { seq: s.seq, body }));
    let snapshot = snapshot.map_err(|e| StoreError::Corrupt(format!("state: {e}")))?;
    hub.log.scrub(&snapshot).await?;
    tracing::info!(
        seq = snapshot.seq,
        scopes = scopes.len(),
        "erasure reached the key store and the snapshots"
    );
    Ok(())
}
