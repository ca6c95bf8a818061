//! The muster crate's tests use the one test world, `muster_core::testing` (the
//! shipped demo centre seeded through ordinary commands, actors and viewers by
//! username, command builders). What is here needs this crate's place on disk or the
//! log's encoding.

#![allow(dead_code)]

use std::path::PathBuf;

pub use muster_core::testing::*;

use muster::engine::{Record, State};
use muster::store::{StoredEvent, chain};

/// A path inside the crate, independent of the working directory.
pub fn crate_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The stored, hash-chained form of a log, starting from the genesis hash.
pub fn to_stored(log: &[Record]) -> Vec<StoredEvent> {
    let mut prev = chain::GENESIS.to_string();
    log.iter()
        .map(|r| {
            let s = muster::store::record::encode(r, &prev);
            prev = s.hash.clone();
            s
        })
        .collect()
}

/// Folds stored events (read back from their JSON bodies) into `state`.
pub fn replay_stored(mut state: State, stored: &[StoredEvent]) -> State {
    for s in stored {
        let r = muster::store::record::decode(s).expect("stored events read back");
        state.apply(&r);
    }
    state
}
