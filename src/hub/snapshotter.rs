//! Snapshots without stalling the writer: a thread of its own folds every durable
//! batch into its own copy of the state and, every N events, serialises and saves it.
//! The writer only hands it batches through a bounded queue; when the queue is full
//! the snapshotter is told it lost track, and refolds from the log before its next
//! snapshot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use super::recovery;
use muster_core::engine::{Record, State};
use muster_log::{EventLog, Snapshot};
use muster_vault::Vault;

/// Batches the writer may be ahead of the snapshotter before it loses track.
const QUEUE: usize = 1_024;

/// The writer's handle on the snapshotter.
pub struct Snapshotter {
    tx: SyncSender<Arc<[Record]>>,
    lost: Arc<AtomicBool>,
}

impl Snapshotter {
    /// Starts the thread, which folds from a copy of `read` (the publisher's state) it
    /// makes itself: a copy of a large state takes a fifth of a second or more, and the
    /// hub is ready without waiting for it (a batch published meanwhile waits for the
    /// read lock). Batches the copy already holds are skipped. `every == 0` starts
    /// nothing.
    pub fn start(
        read: Arc<RwLock<State>>,
        log: Arc<dyn EventLog>,
        vault: Arc<Vault>,
        every: u64,
    ) -> Option<Snapshotter> {
        if every == 0 {
            return None;
        }
        let (tx, rx) = sync_channel(QUEUE);
        let lost = Arc::new(AtomicBool::new(false));
        let handle = tokio::runtime::Handle::current();
        let thread_lost = lost.clone();
        std::thread::Builder::new()
            .name("muster-snapshots".into())
            .spawn(move || {
                let state = read.read().unwrap_or_else(|e| e.into_inner()).clone();
                drop(read);
                run(state, log, vault, every, rx, thread_lost, handle)
            })
            .ok()?;
        Some(Snapshotter { tx, lost })
    }

    /// Hands over a durable batch; never waits.
    pub fn offer(&self, batch: Arc<[Record]>) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(batch) {
            self.lost.store(true, Ordering::Relaxed);
        }
    }
}

fn run(
    mut state: State,
    log: Arc<dyn EventLog>,
    vault: Arc<Vault>,
    every: u64,
    rx: Receiver<Arc<[Record]>>,
    lost: Arc<AtomicBool>,
    rt: tokio::runtime::Handle,
) {
    while let Ok(batch) = rx.recv() {
        if lost.swap(false, Ordering::Relaxed) {
            // Missed batches: start again from what the log holds.
            match rt.block_on(recovery::load(log.as_ref(), &vault)) {
                Ok((s, _)) => state = s,
                Err(e) => {
                    warn!(error = %e, "snapshotter cannot reload; retrying later");
                    lost.store(true, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let before = state.seq;
        for rec in batch.iter() {
            if rec.seq > state.seq {
                state.apply(rec);
            }
        }
        if state.seq / every != before / every {
            save(&state, log.as_ref(), &rt);
        }
    }
}

fn save(state: &State, log: &dyn EventLog, rt: &tokio::runtime::Handle) {
    let seq = state.seq;
    let body = match serde_json::to_string(state) {
        Ok(b) => b,
        Err(e) => return warn!(seq, error = %e, "snapshot could not be serialised"),
    };
    match rt.block_on(log.save_snapshot(&Snapshot { seq, body })) {
        Ok(()) => info!(seq, "snapshot saved"),
        Err(e) => warn!(seq, error = %e, "snapshot not saved"),
    }
}
