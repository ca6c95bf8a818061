//! Following a shared log: every hub on one Redis tails the stream (a blocking read
//! on a connection of its own) and hands what it reads to its sequencer, which applies
//! and publishes what other hubs wrote. The cursor never falls behind what this hub
//! already published, so its own events are mostly not read back at all.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use muster_core::engine::State;
use muster_log::{EventLog, StoredEvent, Tail};
use muster_vault::Vault;

/// Most events handed over at once.
const PAGE: usize = 1_024;

/// How long to wait before reading again after the log failed.
const RETRY: Duration = Duration::from_millis(200);

/// Starts the follower; the receiver goes to the sequencer. It stops when the
/// sequencer is gone.
pub(super) fn spawn(
    log: Arc<dyn EventLog>,
    vault: Arc<Vault>,
    read: Arc<RwLock<State>>,
) -> mpsc::Receiver<Vec<StoredEvent>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(run(log, vault, read, tx));
    rx
}

async fn run(
    log: Arc<dyn EventLog>,
    vault: Arc<Vault>,
    read: Arc<RwLock<State>>,
    tx: mpsc::Sender<Vec<StoredEvent>>,
) {
    let Some(mut tail) = open(log.as_ref(), &tx).await else {
        return;
    };
    let mut after = 0;
    let mut down = false;
    while !tx.is_closed() {
        after = after.max(published(&read));
        match tail.next_after(after, PAGE).await {
            Ok(events) => {
                if down {
                    info!(seq = after, "following the shared log again");
                    down = false;
                }
                let Some(last) = events.last().map(|e| e.seq) else {
                    continue;
                };
                after = last;
                // Another hub's events may be sealed under keys it made: read them
                // from the store before the sequencer opens the events.
                if vault.lacks_keys(&events)
                    && let Err(e) = vault.refresh(log.as_ref()).await
                {
                    warn!(error = %e, "cannot read the shared log's data keys");
                }
                if tx.send(events).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                if !down {
                    warn!(error = %e, "cannot follow the shared log; retrying");
                    down = true;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// The tail, retried until the log answers or the sequencer is gone.
async fn open(log: &dyn EventLog, tx: &mpsc::Sender<Vec<StoredEvent>>) -> Option<Box<dyn Tail>> {
    loop {
        match log.tail().await {
            Ok(t) => return Some(t),
            Err(e) if !tx.is_closed() => {
                warn!(error = %e, "cannot open the shared log's tail; retrying");
                tokio::time::sleep(RETRY).await;
            }
            Err(_) => return None,
        }
    }
}

/// The seq this hub has published (its read state's).
fn published(read: &RwLock<State>) -> u64 {
    read.read().unwrap_or_else(|e| e.into_inner()).seq
}
