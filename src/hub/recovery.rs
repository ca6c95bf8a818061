//! Rebuilding the state from the log: the latest snapshot, then the tail.

use chrono::{DateTime, Utc};

use muster_core::engine::State;
use muster_log::{EventLog, StoreError};
use muster_vault::Vault;

/// How many events are read from the log per page while replaying.
const PAGE: usize = 4_096;

/// The state as of the log's head, and the head's hash.
pub async fn load(log: &dyn EventLog, vault: &Vault) -> Result<(State, String), StoreError> {
    let started = std::time::Instant::now();
    let mut state = match log.latest_snapshot().await? {
        Some(snap) => {
            let read = started.elapsed();
            let state = serde_json::from_str::<State>(&snap.body)
                .map_err(|e| StoreError::Corrupt(format!("snapshot at seq {}: {e}", snap.seq)))?;
            tracing::info!(
                seq = snap.seq,
                bytes = snap.body.len(),
                read_ms = read.as_millis() as u64,
                ms = started.elapsed().as_millis() as u64,
                "snapshot loaded"
            );
            state
        }
        None => State::default(),
    };
    let from = state.seq;
    // On a shared log other hubs may append while this one replays: replay again
    // until the head stands still at what was replayed.
    loop {
        replay(log, vault, &mut state, None).await?;
        let (head, hash) = log.head().await?;
        if head == state.seq {
            tracing::info!(
                seq = head,
                replayed = head - from,
                ms = started.elapsed().as_millis() as u64,
                "state rebuilt from the log"
            );
            return Ok((state, hash));
        }
        if head < state.seq || !log.shared() {
            return Err(StoreError::Corrupt(format!(
                "replayed to seq {}, but the log's head is {head}",
                state.seq
            )));
        }
    }
}

/// The state as it was at `until` (time travel): every event at or before it, from zero.
pub async fn state_at(
    log: &dyn EventLog,
    vault: &Vault,
    until: DateTime<Utc>,
) -> Result<State, StoreError> {
    let mut state = State::default();
    replay(log, vault, &mut state, Some(until)).await?;
    Ok(state)
}

/// Applies the log after `state.seq`, stopping before the first event later than `until`.
pub async fn replay(
    log: &dyn EventLog,
    vault: &Vault,
    state: &mut State,
    until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    loop {
        let page = log.read_from(state.seq, PAGE).await?;
        if page.is_empty() {
            return Ok(());
        }
        // On a shared log other hubs seal under keys they made: read those first.
        if log.shared() && vault.lacks_keys(&page) {
            vault.refresh(log).await?;
        }
        for stored in &page {
            if until.is_some_and(|u| stored.at > u) {
                return Ok(());
            }
            let rec = vault.decode(stored).map_err(StoreError::from)?;
            state.apply(&rec);
        }
    }
}
