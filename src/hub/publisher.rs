//! The publisher: the stage after the log. It receives durable batches from the writer
//! in order, advances the read state, builds each event's frame once, keeps the
//! journal, fans events out (frames to the sockets, the typed records to the hub's
//! reactions), and only then answers the commands of the batch (a
//! command's result arrives after its own events). Running it beside the writer lets
//! deciding the next batch overlap with publishing the last one.

use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::snapshotter::Snapshotter;
use super::{Published, Records, journal::Journal};
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Error, Record, State, visibility};
use muster_core::time::Clock;
use muster_log::StoredEvent;

pub(super) type Reply = (
    oneshot::Sender<Result<CommandOutcome, Error>>,
    Result<CommandOutcome, Error>,
);

/// A batch that is durable in the log, with the answers owed for it.
pub(super) struct Durable {
    pub records: Vec<Record>,
    pub stored: Arc<Vec<StoredEvent>>,
    /// Each record's [`Published::client_body`] when made already, else empty.
    pub client: Vec<String>,
    pub replies: Vec<Reply>,
}

pub(super) struct Publisher {
    /// The state clients read: advanced only by durable batches.
    pub read: Arc<RwLock<State>>,
    pub journal: Arc<Journal>,
    pub events_tx: broadcast::Sender<Arc<Published>>,
    pub records_tx: broadcast::Sender<Records>,
    pub snapshots: Option<Snapshotter>,
    pub clock: Arc<dyn Clock>,
}

impl Publisher {
    pub async fn run(mut self, mut rx: mpsc::Receiver<Durable>) {
        while let Some(batch) = rx.recv().await {
            self.publish(batch);
        }
    }

    fn publish(&mut self, batch: Durable) {
        if !batch.records.is_empty() {
            let mut read = self.read.write().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::with_capacity(batch.records.len());
            let mut client = batch.client.into_iter();
            for (rec, st) in batch.records.iter().zip(batch.stored.iter()) {
                read.apply(rec);
                let body = client
                    .next()
                    .unwrap_or_else(|| Published::client_body(rec, st, None));
                out.push(Arc::new(Published::with_body(
                    rec,
                    st,
                    &body,
                    visibility::of(&read, rec),
                    read.incident_of(&rec.event),
                )));
            }
            drop(read);
            // An erasure: the frames of earlier events hold what it erased.
            if batch
                .records
                .iter()
                .any(|r| super::privacy::erases(r.event.kind()))
            {
                self.journal.clear();
            }
            self.journal.push(&out, self.clock.now());
            for p in out {
                // No receiver is fine: nobody is watching yet.
                let _ = self.events_tx.send(p);
            }
            // One shared copy of the records for the snapshotter and every reaction.
            if self.snapshots.is_some() || self.records_tx.receiver_count() > 0 {
                let records: Records = batch.records.into();
                if let Some(s) = &self.snapshots {
                    s.offer(records.clone());
                }
                let _ = self.records_tx.send(records);
            }
        }
        for (tx, result) in batch.replies {
            let _ = tx.send(result);
        }
    }
}
