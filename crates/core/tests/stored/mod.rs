//! The stored form of a test world's log, through muster-log (a dev-dependency of
//! muster-core): to check that a log replays from what the stores keep.

#![allow(dead_code)]

use muster_core::engine::{Record, State};
use muster_log::{StoredEvent, chain};

/// The stored, hash-chained form of a log, starting from the genesis hash.
pub fn to_stored(log: &[Record]) -> Vec<StoredEvent> {
    let mut prev = chain::GENESIS.to_string();
    log.iter()
        .map(|r| {
            let s = muster_log::record::encode(r, &prev);
            prev = s.hash.clone();
            s
        })
        .collect()
}

/// Folds stored events (read back from their JSON bodies) into `state`.
pub fn replay_stored(mut state: State, stored: &[StoredEvent]) -> State {
    for s in stored {
        let r = muster_log::record::decode(s).expect("stored events read back");
        state.apply(&r);
    }
    state
}
