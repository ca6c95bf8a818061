//! The single writer. One task owns the authoritative [`State`]; commands arrive on a
//! bounded channel; every command waiting is decided in order, their events are
//! appended as one batch (one transaction, one fsync), and only then are results
//! released and events published. If the append fails, every command of the batch
//! fails with `unavailable`, the state is rebuilt from the log, and nothing of the
//! batch is ever published.

use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{error, info, info_span, warn};

use super::{Published, journal::Journal, recovery};
use crate::engine::state::CommandOutcome;
use crate::engine::{Actor, Command, Engine, Error, Record, State, visibility};
use crate::store::{EventLog, Snapshot, StoreError};
use crate::time::Clock;

/// The most commands decided into one batch.
pub const MAX_BATCH: usize = 1_024;

/// A command on its way to the writer.
pub struct Submission {
    pub actor: Actor,
    /// The client's id; a repeated id returns the first result.
    pub command_id: Option<String>,
    pub command: Command,
    pub reply: oneshot::Sender<Result<CommandOutcome, Error>>,
}

/// What the writer needs, handed over by [`super::Hub::start`].
pub(super) struct Sequencer {
    pub engine: Engine,
    /// The writer's own state: ahead of the log only while a batch is being appended.
    pub state: State,
    pub head_hash: String,
    pub log: Arc<dyn EventLog>,
    pub clock: Arc<dyn Clock>,
    /// The state clients read: advanced only by durable batches.
    pub read: Arc<RwLock<State>>,
    pub journal: Arc<Journal>,
    pub events_tx: broadcast::Sender<Arc<Published>>,
    pub snapshot_every: u64,
    /// Set while the log is failing: the writer must reload before deciding anything.
    pub stale: bool,
}

impl Sequencer {
    pub async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        while let Some(first) = rx.recv().await {
            let mut batch = Vec::with_capacity(64);
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(s) => batch.push(s),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
        info!("sequencer stopped: every submitter is gone");
    }

    async fn process(&mut self, batch: Vec<Submission>) {
        if self.stale && !self.reload().await {
            for s in batch {
                let _ = s.reply.send(Err(unavailable()));
            }
            return;
        }
        let now = self.clock.now();
        let mut records: Vec<Record> = Vec::with_capacity(batch.len() * 2);
        let mut replies = Vec::with_capacity(batch.len());
        for s in batch {
            let result = self.decide(&s, now, &mut records);
            replies.push((s.reply, result));
        }
        if records.is_empty() {
            for (tx, r) in replies {
                let _ = tx.send(r);
            }
            return;
        }
        let stored: Vec<_> = records
            .iter()
            .map(|r| {
                let s = r.to_stored(&self.head_hash);
                self.head_hash.clone_from(&s.hash);
                s
            })
            .collect();
        match self.log.append(&stored).await {
            Ok(()) => {
                self.publish(&records, &stored);
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
                self.maybe_snapshot(records.len() as u64);
            }
            Err(e) => {
                error!(error = %e, events = records.len(), "append failed; refusing the batch and reloading");
                for (tx, _) in replies {
                    let _ = tx.send(Err(unavailable()));
                }
                self.stale = true;
                self.reload().await;
            }
        }
    }

    /// Decides one command, applying its events to the writer's state so the next
    /// command in the batch sees them.
    fn decide(
        &mut self,
        s: &Submission,
        now: chrono::DateTime<chrono::Utc>,
        out: &mut Vec<Record>,
    ) -> Result<CommandOutcome, Error> {
        let span = info_span!("command", id = s.command_id.as_deref().unwrap_or(""), kind = s.command.kind(),
            incident = s.command.incident_id().map(|i| i.as_str()).unwrap_or(""), user = %s.actor.user_id);
        let _enter = span.enter();
        if let Some(id) = &s.command_id
            && let Some(first) = self.state.result_of(&s.actor.user_id, id)
        {
            return Ok(first.clone());
        }
        let records = self.engine.records(
            &self.state,
            &s.command,
            &s.actor,
            s.command_id.as_deref(),
            now,
        )?;
        let mut outcome = CommandOutcome::default();
        for r in &records {
            self.state.apply(r);
            outcome.seq = r.seq;
            if let Some((name, id)) = r.event.created() {
                outcome.data.entry(name.to_string()).or_insert(id);
            }
        }
        out.extend(records);
        Ok(outcome)
    }

    /// After a durable append: advance the read state, keep the journal, fan out.
    fn publish(&mut self, records: &[Record], stored: &[crate::store::StoredEvent]) {
        let mut read = self.read.write().unwrap_or_else(|e| e.into_inner());
        let mut batch = Vec::with_capacity(records.len());
        for (rec, st) in records.iter().zip(stored) {
            read.apply(rec);
            batch.push(Arc::new(Published::new(
                rec,
                st,
                visibility::of(&read, rec),
                read.incident_of(&rec.event),
            )));
        }
        drop(read);
        self.journal.push(&batch, self.clock.now());
        for p in batch {
            // No receiver is fine: nobody is watching yet.
            let _ = self.events_tx.send(p);
        }
    }

    fn maybe_snapshot(&self, written: u64) {
        let seq = self.state.seq;
        if self.snapshot_every == 0
            || seq / self.snapshot_every == (seq - written) / self.snapshot_every
        {
            return;
        }
        let state = self.state.clone();
        let log = self.log.clone();
        tokio::spawn(async move {
            let body = tokio::task::spawn_blocking(move || serde_json::to_string(&state)).await;
            match body {
                Ok(Ok(body)) => match log.save_snapshot(&Snapshot { seq, body }).await {
                    Ok(()) => info!(seq, "snapshot saved"),
                    Err(e) => warn!(seq, error = %e, "snapshot not saved"),
                },
                _ => warn!(seq, "snapshot could not be serialised"),
            }
        });
    }

    /// Rebuilds the writer's state from the log, then publishes whatever the log holds
    /// beyond what clients have seen (a batch whose append reported failure may still
    /// have landed). True when the log answered.
    async fn reload(&mut self) -> bool {
        let result = async {
            let (state, hash) = recovery::load(self.log.as_ref()).await?;
            self.catch_up().await?;
            Ok::<_, StoreError>((state, hash))
        }
        .await;
        match result {
            Ok((state, hash)) => {
                info!(seq = state.seq, "state reloaded from the log");
                self.state = state;
                self.head_hash = hash;
                self.stale = false;
                true
            }
            Err(e) => {
                warn!(error = %e, "log still unavailable");
                false
            }
        }
    }

    /// Publishes every logged event the read state has not seen yet.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let after = self.read.read().unwrap_or_else(|e| e.into_inner()).seq;
            let stored = self.log.read_from(after, 4_096).await?;
            if stored.is_empty() {
                return Ok(());
            }
            let records = stored
                .iter()
                .map(Record::from_stored)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.publish(&records, &stored);
        }
    }
}

fn unavailable() -> Error {
    Error::Unavailable("the event log is unavailable; nothing was recorded, try again".into())
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Unavailable(e.to_string())
    }
}
