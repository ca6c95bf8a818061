//! The single writer. One task owns the authoritative [`State`]; commands arrive on a
//! bounded channel; every command waiting is decided in order and their events are
//! appended as one batch (one transaction, one fsync). Only then are results released
//! and events published.
//!
//! Group commit is pipelined one deep: while batch *k* is being made durable, the
//! writer decides batch *k + 1* against the state that includes *k*. If *k*'s append
//! fails, *k + 1* is refused too (it was decided on state that never became true),
//! every command of both fails with `unavailable`, the state is rebuilt from the log,
//! and nothing of either batch is ever published.
//!
//! On a shared log (Redis, several hubs) two more things happen. Events other hubs
//! wrote arrive from the tail; when nothing of this hub's is in flight they are
//! applied to the writer's state and handed to the publisher like its own (events at
//! or below the durable seq are this hub's own, and skipped). And an append can lose
//! the optimistic race ([`StoreError::Conflict`]): the writer then catches up from the
//! log, re-decides the same commands against the new state and appends again, up to
//! [`CONFLICT_RETRIES`] times, before answering `conflict`. A log with one writer
//! (SQLite) never conflicts, and keeps none of this on its path.
//!
//! A failed append (a full or read-only disk, a data directory removed, a failed
//! fsync, Redis gone) puts the writer in recovery ([`Sequencer::recover`]): the store
//! health `/readyz` reads goes down with the reason, every command is refused with
//! `unavailable` at once, and with backoff the writer reopens the log, checks that it
//! still holds every event it acknowledged, probes a write, and reloads its state
//! from it. The failed batch is never appended again: it may or may not
//! have landed, and the reload publishes it if it did. Only then does it accept
//! commands again. The writer never stops for a failing log; it only stops when every
//! submitter is gone.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info, info_span, warn};

use super::Published;
use super::metrics::Metrics;
use super::publisher::{Durable, Reply};
use super::recovery;
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, Command, Engine, Error, Record, State};
use muster_core::time::Clock;
use muster_log::{EventLog, StoreError, StoredEvent, chain};
use muster_vault::{NewKeys, Sealed, Vault};

/// The most commands decided into one batch.
pub const MAX_BATCH: usize = 1_024;

/// How many times a batch that lost the race to another hub is re-decided and
/// appended again before its commands are answered `conflict`.
pub const CONFLICT_RETRIES: u32 = 5;

/// The random pause before a retry after a conflict is up to this many microseconds
/// per attempt so far.
const CONFLICT_BACKOFF_MICROS: u64 = 1_000;

/// How long the writer waits after a failed attempt to recover the log before the
/// next; doubled after each failure up to [`RECOVER_RETRY_MAX`].
const RECOVER_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);

/// The longest wait between attempts to recover the log: once a disk has room again
/// the hub writes again within about this long.
const RECOVER_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// A command on its way to the writer.
pub struct Submission {
    pub actor: Actor,
    /// The client's id; a repeated id returns the first result.
    pub command_id: Option<String>,
    pub command: Command,
    pub reply: oneshot::Sender<Result<CommandOutcome, Error>>,
    /// More commands decided right after this one, all or none, into the same append
    /// ([`super::Hub::submit_batch`]); empty for a single command.
    pub more: Vec<(Option<String>, Command)>,
    /// Decide only on the state at this seq (the caller checked the commands there and
    /// named what they create): else the whole submission is refused with `conflict`.
    pub at_seq: Option<u64>,
}

/// A command kept so it can be decided again after a conflict.
struct Redo {
    actor: Actor,
    command_id: Option<String>,
    command: Command,
    more: Vec<(Option<String>, Command)>,
    at_seq: Option<u64>,
}

/// A decided batch: its records, their stored (chained) form once the append task has
/// made it, and the replies to send once it is durable.
#[derive(Default)]
struct Batch {
    records: Vec<Record>,
    stored: Arc<Vec<StoredEvent>>,
    /// The records as clients get them ([`Published::client_body`]), made by the
    /// append task while the log writes; empty for events read from the log.
    client: Vec<String>,
    replies: Vec<Reply>,
    /// Shared logs only: the commands, in the order of `replies`, to re-decide.
    redo: Vec<Redo>,
    /// The head hash the batch follows (a shared log's append checks it).
    prev_hash: String,
    /// How many times this batch's commands lost the race to another hub.
    attempts: u32,
    /// Password hashes the batch's commands set, `(user_id, hash)`: stored once the
    /// batch is durable (see [`Sequencer::spawn_append`]).
    credentials: Vec<(String, String)>,
    /// Each record with its personal data sealed (`None`: nothing to seal), sealed as
    /// it was decided so the work overlaps the previous batch's append.
    bodies: Vec<Option<Sealed>>,
    /// The data keys the batch is the first to use, written with it.
    keys: NewKeys,
}

/// What the append task hands back: the batch's records, their stored form, and
/// whether the log took them.
struct Appended {
    records: Vec<Record>,
    stored: Arc<Vec<StoredEvent>>,
    client: Vec<String>,
    /// The data keys the batch made, held once it is durable.
    keys: NewKeys,
    result: Result<(), StoreError>,
}

/// The stored form of `records`, chained from `prev_hash`: each with its sealed body
/// when it has one (as [`Sequencer::decide_one`] sealed it), else as it serialises.
/// Also what was sealed, in clear (`None` where nothing was).
fn chained(
    records: &[Record],
    bodies: Vec<Option<Sealed>>,
    prev_hash: &str,
) -> (Vec<StoredEvent>, Vec<Option<String>>) {
    let mut stored: Vec<StoredEvent> = Vec::with_capacity(records.len());
    let mut clear = Vec::with_capacity(records.len());
    for (r, body) in records.iter().zip(bodies) {
        let prev = stored.last().map_or(prev_hash, |e| e.hash.as_str());
        stored.push(match body {
            Some(sealed) => {
                clear.push(Some(sealed.clear));
                muster_log::record::encode_body(r, sealed.stored, prev)
            }
            None => {
                clear.push(None);
                muster_log::record::encode(r, prev)
            }
        });
    }
    (stored, clear)
}

/// The password hash a command sets, prepared by the hub before it reached the writer.
fn password_hash(command: &Command) -> Option<&str> {
    match command {
        Command::UserCreate(c) => c.password_hash.as_deref(),
        Command::UserPassword(c) => c.password_hash.as_deref(),
        _ => None,
    }
}

/// The password hash `command` sets, under the user it is for (a new user's id from
/// its `records`); none for an empty hash (an account without a local password).
fn credential(command: &Command, records: &[Record]) -> Option<(String, String)> {
    let hash = password_hash(command).filter(|h| !h.is_empty())?;
    let user = match command {
        Command::UserPassword(c) => c.user_id.to_string(),
        _ => records.iter().find_map(|r| r.event.created())?.1,
    };
    Some((user, hash.to_string()))
}

/// Stores the hashes of a durable batch. After the append, not before: a batch that
/// lost the race to another hub must not leave its hash under a user id the winner
/// gave to someone else. A failure is retried, then logged loudly: the account then
/// needs its password set again (the event is durable and cannot be taken back).
async fn store_credentials(store: &super::Credentials, hashes: &[(String, String)]) {
    if hashes.is_empty() {
        return;
    }
    for attempt in 1..=3u64 {
        match store.0.put(hashes).await {
            Ok(()) => return,
            Err(e) if attempt == 3 => {
                let users: Vec<&str> = hashes.iter().map(|(u, _)| u.as_str()).collect();
                error!(error = %e, ?users, "could not store passwords; set them again");
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await,
        }
    }
}

/// What the writer needs, handed over by [`super::Hub::start`].
pub(super) struct Sequencer {
    pub engine: Engine,
    /// The writer's own state: ahead of the log while batches are being appended.
    pub state: State,
    /// The hash of the last event in the log (not of the writer's state, which may be
    /// a batch ahead): the next append chains from it.
    pub head_hash: String,
    pub log: Arc<dyn EventLog>,
    pub clock: Arc<dyn Clock>,
    /// Durable batches go here, in order, to be published and answered.
    pub publish_tx: mpsc::Sender<Durable>,
    /// The seq of the last batch handed to the publisher.
    pub durable_seq: u64,
    pub max_batch: usize,
    pub metrics: Arc<Metrics>,
    /// The time of the last event decided (see [`Self::now`]).
    pub last_at: DateTime<Utc>,
    /// Other hubs append to the same log ([`EventLog::shared`]).
    pub shared: bool,
    /// The publisher's state (durable events only): after a conflict the writer
    /// starts again from a copy of it rather than from the snapshot and the log.
    pub read: Arc<std::sync::RwLock<State>>,
    /// Where the password hashes of `user.create`/`user.password` go.
    pub credentials: super::Credentials,
    /// Seals personal data as batches are encoded, opens it as the log is read back.
    pub vault: Arc<Vault>,
}

impl Sequencer {
    /// Decides and appends until every submitter is gone. `foreign` carries events
    /// read from a shared log's tail (`None` for a log with one writer).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Submission>,
        mut foreign: Option<mpsc::Receiver<Vec<StoredEvent>>>,
    ) {
        let mut inflight: Option<(JoinHandle<Appended>, Batch)> = None;
        let mut next = Batch::default();
        let mut open = true;
        while open || inflight.is_some() {
            let room = next.replies.len() < self.max_batch;
            tokio::select! {
                biased;
                done = async { (&mut inflight.as_mut().expect("guarded").0).await }, if inflight.is_some() => {
                    let (_, mut batch) = inflight.take().expect("guarded");
                    match done {
                        Ok(Appended { records, stored, client, keys, result: Ok(()) }) => {
                            if let Some(last) = stored.last() {
                                self.head_hash.clone_from(&last.hash);
                            }
                            batch.records = records;
                            batch.stored = stored;
                            batch.client = client;
                            // Held from now on (pending until here), before anyone
                            // reads the batch. The writer moves them itself, so the
                            // thread that seals never waits for the maps' locks.
                            self.vault.commit(keys);
                            self.release(batch).await
                        }
                        Ok(Appended { result: Err(StoreError::Conflict { .. }), .. }) if self.shared => {
                            self.conflicted(batch, &mut next, &mut rx).await
                        }
                        Ok(Appended { result: Err(e), .. }) => {
                            self.fail(batch, &mut next, &e.to_string(), &mut rx).await
                        }
                        Err(e) => self.fail(batch, &mut next, &e.to_string(), &mut rx).await,
                    }
                }
                sub = rx.recv(), if open && room => match sub {
                    Some(s) => {
                        self.decide(s, &mut next);
                        while next.replies.len() < self.max_batch {
                            match rx.try_recv() {
                                Ok(s) => self.decide(s, &mut next),
                                Err(_) => break,
                            }
                        }
                    }
                    None => open = false,
                },
                got = async { foreign.as_mut().expect("guarded").recv().await },
                    if foreign.is_some() && inflight.is_none() => match got {
                    Some(events) => self.absorb(events).await,
                    None => foreign = None,
                },
            }
            if inflight.is_none() && !next.replies.is_empty() {
                let mut batch = std::mem::take(&mut next);
                if batch.records.is_empty() {
                    // Nothing to write and nothing before it in flight: answer now.
                    self.release(batch).await;
                } else {
                    inflight = Some((self.spawn_append(&mut batch), batch));
                }
            }
        }
        info!("sequencer stopped: every submitter is gone");
    }

    /// The clock, but never earlier than the last event decided: a wall clock stepped
    /// back must not stamp the log out of order.
    fn now(&mut self) -> DateTime<Utc> {
        let now = self.clock.now().max(self.last_at);
        self.last_at = now;
        now
    }

    /// Appends `batch` in a task of its own, which also serialises, seals (the vault)
    /// and chains its events: that work is off the writer's path, so deciding the next
    /// batch overlaps it. Nothing else is in flight, so the log's head is the hash to
    /// chain from, and the vault holds every key an earlier batch made.
    fn spawn_append(&self, batch: &mut Batch) -> JoinHandle<Appended> {
        let log = self.log.clone();
        let vault = self.vault.clone();
        let records = std::mem::take(&mut batch.records);
        let metrics = self.metrics.clone();
        batch.prev_hash.clone_from(&self.head_hash);
        let prev_hash = batch.prev_hash.clone();
        let shared = self.shared;
        let credentials = std::mem::take(&mut batch.credentials);
        let credential_store = self.credentials.clone();
        let bodies = std::mem::take(&mut batch.bodies);
        let mut new_keys = std::mem::take(&mut batch.keys);
        // The batches decided while this one is written seal with its new keys.
        vault.hold_pending(&new_keys);
        let wrapped = std::mem::take(&mut new_keys.wrapped);
        tokio::spawn(async move {
            let (stored, clear) = chained(&records, bodies, &prev_hash);
            let started = std::time::Instant::now();
            let stored = Arc::new(stored);
            // The batch's new data keys go in its own transaction (script); the vault
            // holds them only once they are durable with it (the writer, on `Appended`).
            let write = async {
                if !wrapped.is_empty() {
                    log.append_with_keys(&prev_hash, Arc::clone(&stored), Arc::new(wrapped))
                        .await
                } else if shared {
                    log.append_after(&prev_hash, &stored).await
                } else {
                    log.append_owned(Arc::clone(&stored)).await
                }
            };
            // What clients get is made while the log writes, not by the publisher,
            // which is on the path from this batch to the next.
            let client = async {
                let each = records.iter().zip(stored.iter()).zip(clear);
                each.map(|((r, s), clear)| Published::client_body(r, s, clear))
                    .collect()
            };
            let (result, client) = tokio::join!(write, client);
            // Lost the race on a shared log: the events the writer reads next (and the
            // scopes it seals under) may be another hub's, sealed under keys it made.
            if let Err(StoreError::Conflict { .. }) = &result {
                let _ = vault.refresh(log.as_ref()).await;
            }
            if result.is_ok() {
                store_credentials(&credential_store, &credentials).await;
                Metrics::add(&metrics.batches, 1);
                Metrics::add(&metrics.events, stored.len() as u64);
                let took = started.elapsed();
                Metrics::add(&metrics.append_micros, took.as_micros() as u64);
                metrics.exported.append_seconds.observe(took.as_secs_f64());
            } else {
                Metrics::add(&metrics.append_failures, 1);
            }
            Appended {
                records,
                stored,
                client,
                keys: new_keys,
                result,
            }
        })
    }

    /// Decides one command into `batch`, applying its events to the writer's state so
    /// the next command sees them.
    fn decide(&mut self, s: Submission, batch: &mut Batch) {
        let now = self.now();
        let result = if s.more.is_empty() && s.at_seq.is_none() {
            self.decide_one(&s, now, batch)
        } else {
            self.decide_group(&s, now, batch)
        };
        Metrics::add(&self.metrics.commands, 1);
        if result.is_err() {
            Metrics::add(&self.metrics.rejected, 1);
        }
        batch.replies.push((s.reply, result));
        if self.shared {
            batch.redo.push(Redo {
                actor: s.actor,
                command_id: s.command_id,
                command: s.command,
                more: s.more,
                at_seq: s.at_seq,
            });
        }
    }

    fn decide_one(
        &mut self,
        s: &Submission,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<CommandOutcome, Error> {
        let span = info_span!("command", id = s.command_id.as_deref().unwrap_or(""), kind = s.command.kind().as_str(),
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
        let bodies = self.seal_all(&records, &mut batch.keys)?;
        batch.bodies.extend(bodies);
        batch.credentials.extend(credential(&s.command, &records));
        for r in records {
            self.state.apply(&r);
            outcome.seq = r.seq;
            if let Some((name, id)) = r.event.created() {
                outcome.data.entry(name.to_string()).or_insert(id);
            }
            batch.records.push(r);
        }
        Ok(outcome)
    }

    /// Each record's body with its personal data sealed (`None`: nothing to seal), under
    /// the batch's keys.
    fn seal_all(
        &self,
        records: &[Record],
        keys: &mut NewKeys,
    ) -> Result<Vec<Option<Sealed>>, Error> {
        records
            .iter()
            .map(|r| self.vault.seal(r, keys))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                error!(error = %e, "sealing an event");
                Error::Unavailable("the event could not be sealed; try again".into())
            })
    }

    /// Decides a submission's commands in order against a copy of the state, keeping
    /// them (records, sealed bodies, password hashes) only if every one is accepted:
    /// all or none, in one append. The first refusal answers the whole submission.
    fn decide_group(
        &mut self,
        s: &Submission,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<CommandOutcome, Error> {
        let span = info_span!("batch", commands = s.more.len() + 1, user = %s.actor.user_id);
        let _enter = span.enter();
        if let Some(seq) = s.at_seq
            && seq != self.state.seq
        {
            return Err(Error::Conflict(
                "the state changed while the batch was being checked; check it again".into(),
            ));
        }
        let mut trial = self.state.clone();
        let mut records = Vec::new();
        let mut credentials = Vec::new();
        let commands =
            std::iter::once((&s.command_id, &s.command)).chain(s.more.iter().map(|(i, c)| (i, c)));
        for (id, command) in commands {
            if let Some(id) = id
                && trial.result_of(&s.actor.user_id, id).is_some()
            {
                continue;
            }
            let decided = self
                .engine
                .records(&trial, command, &s.actor, id.as_deref(), now)?;
            credentials.extend(credential(command, &decided));
            for r in &decided {
                trial.apply(r);
            }
            records.extend(decided);
        }
        let bodies = self.seal_all(&records, &mut batch.keys)?;
        self.state = trial;
        batch.bodies.extend(bodies);
        batch.credentials.extend(credentials);
        let mut outcome = CommandOutcome::default();
        for r in records {
            outcome.seq = r.seq;
            if let Some((name, id)) = r.event.created() {
                outcome.data.entry(name.to_string()).or_insert(id);
            }
            batch.records.push(r);
        }
        Ok(outcome)
    }

    /// A durable batch: hand it to the publisher, which answers after publishing.
    async fn release(&mut self, batch: Batch) {
        if let Some(last) = batch.records.last() {
            self.durable_seq = last.seq;
        }
        let durable = Durable {
            records: batch.records,
            stored: batch.stored,
            client: batch.client,
            replies: batch.replies,
        };

        // The publisher only stops when the hub does; then nobody awaits the replies.
        let _ = self.publish_tx.send(durable).await;
    }

    /// The batch in flight failed: refuse it and the one decided after it, then
    /// recover. The store is marked down before anyone is answered, so a client told
    /// `unavailable` finds `/readyz` not ready too.
    async fn fail(
        &mut self,
        failed: Batch,
        next: &mut Batch,
        why: &str,
        rx: &mut mpsc::Receiver<Submission>,
    ) {
        error!(
            error = why,
            commands = failed.replies.len(),
            "append failed; refusing the batch and recovering the log"
        );
        self.metrics.store.down(why);
        // What was sealed with the failed batch's keys is refused with it.
        self.vault.discard_pending();
        for (tx, _) in failed
            .replies
            .into_iter()
            .chain(std::mem::take(next).replies)
        {
            let _ = tx.send(Err(log_failed(why)));
        }
        self.recover(why, rx).await;
    }

    /// Tries to recover the log until it works, with backoff; commands that arrive
    /// meanwhile are refused at once rather than left waiting in the queue or decided
    /// on a state that may not be the log's.
    async fn recover(&mut self, why: &str, rx: &mut mpsc::Receiver<Submission>) {
        let mut reason = why.to_string();
        let mut pause = RECOVER_RETRY_FIRST;
        let mut open = true;
        loop {
            match self.try_recover().await {
                Ok(()) => break,
                Err(e) => {
                    if e != reason {
                        warn!(error = %e, "event log still unavailable");
                    }
                    self.metrics.store.down(&e);
                    reason = e;
                }
            }
            let retry = tokio::time::sleep(pause);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    _ = &mut retry => break,
                    sub = rx.recv(), if open => match sub {
                        Some(s) => self.refuse(s, &reason),
                        None => open = false,
                    },
                }
            }
            if !open {
                // Every submitter is gone: nobody is left to serve.
                return;
            }
            pause = (pause * 2).min(RECOVER_RETRY_MAX);
        }
        Metrics::add(&self.metrics.store_recoveries, 1);
        self.metrics.store.up();
        info!(
            seq = self.state.seq,
            "event log writable again; accepting commands"
        );
    }

    /// One attempt: reopen the log (never reusing a handle a write failed on), check
    /// it still holds what was acknowledged (before writing anything to it: an older
    /// copy put back in its place is not ours to write to), prove a write works, then
    /// reload from it. The error says what is still wrong.
    async fn try_recover(&mut self) -> Result<(), String> {
        self.log.reopen().await.map_err(|e| e.to_string())?;
        self.check_tail().await?;
        self.log.probe().await.map_err(|e| e.to_string())?;
        if self.reload().await {
            Ok(())
        } else {
            Err("the event log cannot be read back".into())
        }
    }

    /// The log must still hold every event handed to the publisher, as they were: the
    /// event at the durable seq has the hash the writer saw, and what follows it (a
    /// batch whose append reported failure may have landed) links on from there.
    async fn check_tail(&self) -> Result<(), String> {
        let lost = |what: String| {
            format!(
                "{what}; the log no longer holds what was acknowledged: restore it from a backup"
            )
        };
        let (mut seq, mut hash) = (self.durable_seq, self.head_hash.clone());
        if seq > 0 {
            let at = self
                .log
                .read_from(seq - 1, 1)
                .await
                .map_err(|e| e.to_string())?;
            match at.first() {
                Some(e) if e.seq == seq && e.hash == hash => {}
                Some(_) => return Err(lost(format!("event {seq} is not the one acknowledged"))),
                None => return Err(lost(format!("the log ends before seq {seq}"))),
            }
        }
        loop {
            let page = self
                .log
                .read_from(seq, 4_096)
                .await
                .map_err(|e| e.to_string())?;
            if page.is_empty() {
                return Ok(());
            }
            (seq, hash) = chain::check(seq, hash, &page)
                .map_err(|bad| lost(format!("event {bad} does not link to the one before")))?;
        }
    }

    /// Answers a command with `unavailable` without deciding it.
    fn refuse(&self, s: Submission, reason: &str) {
        Metrics::add(&self.metrics.commands, 1);
        Metrics::add(&self.metrics.rejected, 1);
        let _ = s.reply.send(Err(log_failed(reason)));
    }

    /// Rebuilds the writer's state from the log, then publishes whatever the log holds
    /// beyond what clients have seen (a batch whose append reported failure may still
    /// have landed). True when the log answered.
    async fn reload(&mut self) -> bool {
        let result = async {
            let (state, hash) = recovery::load(self.log.as_ref(), &self.vault).await?;
            self.catch_up(state.seq).await?;
            Ok::<_, StoreError>((state, hash))
        }
        .await;
        match result {
            Ok((state, hash)) => {
                info!(seq = state.seq, "state reloaded from the log");
                self.state = state;
                self.head_hash = hash;
                true
            }
            Err(e) => {
                warn!(error = %e, "log still unavailable");
                false
            }
        }
    }

    /// Publishes the logged events up to `upto` not yet handed to the publisher.
    async fn catch_up(&mut self, upto: u64) -> Result<(), StoreError> {
        while self.durable_seq < upto {
            let want = (upto - self.durable_seq).min(4_096) as usize;
            let stored = self.log.read_from(self.durable_seq, want).await?;
            if stored.is_empty() {
                return Ok(());
            }
            if self.shared && self.vault.lacks_keys(&stored) {
                self.vault.refresh(self.log.as_ref()).await?;
            }
            let records = stored
                .iter()
                .map(|s| self.vault.decode(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)?;
            self.release(Batch {
                records,
                stored: Arc::new(stored),
                ..Batch::default()
            })
            .await;
        }
        Ok(())
    }

    /// Events another hub wrote, from the tail, while nothing of ours is in flight
    /// (so the writer's state is the durable one). Our own, at or below the durable
    /// seq, are skipped; a gap or a broken link means the tail missed something, and
    /// the log itself is read instead.
    async fn absorb(&mut self, events: Vec<StoredEvent>) {
        let fresh: Vec<StoredEvent> = events
            .into_iter()
            .filter(|e| e.seq > self.durable_seq)
            .collect();
        if fresh.is_empty() {
            return;
        }
        let linked = chain::check(self.state.seq, self.head_hash.clone(), &fresh);
        let records = fresh
            .iter()
            .map(|s| self.vault.decode(s))
            .collect::<Result<Vec<_>, _>>();
        match (linked, records) {
            (Ok((_, hash)), Ok(records)) => {
                for r in &records {
                    self.state.apply(r);
                }
                self.head_hash = hash;
                self.release(Batch {
                    records,
                    stored: Arc::new(fresh),
                    ..Batch::default()
                })
                .await;
            }
            _ => {
                warn!(
                    seq = self.durable_seq,
                    "the tail does not follow on; reading the log"
                );
                self.reload().await;
            }
        }
    }

    /// After a conflict: the writer's state becomes the durable one (a copy of the
    /// publisher's, once it has published everything released) plus what the other
    /// hubs appended since, read from the log, checked against the chain from
    /// `durable_hash` (the hash at the durable seq), and published. Falls back to a
    /// full [`reload`](Self::reload) if anything does not fit. True when the log
    /// answered.
    async fn resync(&mut self, durable_hash: &str) -> bool {
        self.state = self.durable_state().await;
        self.head_hash = durable_hash.to_string();
        self.apply_log().await
    }

    /// Applies and publishes what the log holds after the writer's state, which must
    /// be durable (nothing in flight). True when the log answered.
    async fn apply_log(&mut self) -> bool {
        loop {
            let page = match self.log.read_from(self.state.seq, 4_096).await {
                Ok(page) => page,
                Err(_) => return self.reload().await,
            };
            if page.is_empty() {
                return true;
            }
            if self.vault.lacks_keys(&page) && self.vault.refresh(self.log.as_ref()).await.is_err()
            {
                return self.reload().await;
            }
            let linked = chain::check(self.state.seq, self.head_hash.clone(), &page);
            let records = page
                .iter()
                .map(|s| self.vault.decode(s))
                .collect::<Result<Vec<_>, _>>();
            let (Ok((_, last)), Ok(records)) = (linked, records) else {
                warn!(
                    seq = self.state.seq,
                    "the log does not follow on; reloading"
                );
                return self.reload().await;
            };
            for r in &records {
                self.state.apply(r);
            }
            self.head_hash = last;
            self.release(Batch {
                records,
                stored: Arc::new(page),
                ..Batch::default()
            })
            .await;
        }
    }

    /// A copy of the publisher's state once it has applied every batch released.
    async fn durable_state(&self) -> State {
        loop {
            {
                let read = self.read.read().unwrap_or_else(|e| e.into_inner());
                if read.seq >= self.durable_seq {
                    return read.clone();
                }
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    }

    /// Our batch lost the race to another hub: catch up, then decide the same
    /// commands (the failed batch's and the one decided after it) again, into `next`,
    /// which the loop appends. After [`CONFLICT_RETRIES`] losses they are answered
    /// `conflict`.
    async fn conflicted(
        &mut self,
        failed: Batch,
        next: &mut Batch,
        rx: &mut mpsc::Receiver<Submission>,
    ) {
        let attempts = failed.attempts + 1;
        Metrics::add(&self.metrics.append_conflicts, 1);
        // Everything is decided (and sealed) again, with keys made again.
        self.vault.discard_pending();
        let later = std::mem::take(next);
        let replies = failed.replies.into_iter().chain(later.replies);
        let redo: Vec<_> = failed.redo.into_iter().chain(later.redo).collect();
        info!(
            attempts,
            commands = redo.len(),
            "another hub appended first; catching up"
        );
        // The writer's state holds the lost batches' decisions: start again from the
        // log in every case, even when the commands are not tried again.
        let synced = self.resync(&failed.prev_hash).await;
        if !synced || attempts > CONFLICT_RETRIES {
            let why = if synced {
                Error::Conflict(
                    "other hubs kept changing the log at the same moment; try again".into(),
                )
            } else {
                unavailable()
            };
            for (tx, _) in replies {
                let _ = tx.send(Err(why.clone()));
            }
            if !synced {
                self.fail(
                    Batch::default(),
                    next,
                    "log unavailable after a conflict",
                    rx,
                )
                .await;
            }
            return;
        }
        // Two hubs that lost to each other would race again at once; a short random
        // pause lets one of them through first, then what it appended is applied.
        let pause = rand::random_range(0..attempts as u64 * CONFLICT_BACKOFF_MICROS);
        tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        if !self.apply_log().await {
            for (tx, _) in replies {
                let _ = tx.send(Err(unavailable()));
            }
            return self
                .fail(
                    Batch::default(),
                    next,
                    "log unavailable after a conflict",
                    rx,
                )
                .await;
        }
        next.attempts = attempts;
        for ((reply, _), r) in replies.zip(redo) {
            let s = Submission {
                actor: r.actor,
                command_id: r.command_id,
                command: r.command,
                reply,
                more: r.more,
                at_seq: r.at_seq,
            };
            self.decide(s, next);
        }
    }
}

fn unavailable() -> Error {
    Error::Unavailable("the event log is unavailable; nothing was recorded, try again".into())
}

/// The refusal while the log is failing: what is wrong, and that the hub recovers by
/// itself. "Not acknowledged" rather than "not recorded": a failed fsync may have
/// kept the batch after all, and a retry with the same id then gets its first result.
fn log_failed(reason: &str) -> Error {
    Error::Unavailable(format!(
        "the event log cannot be written ({reason}); the command was not acknowledged. \
         The hub retries the log by itself and accepts commands again once the fault \
         is cleared: send it again, with the same id"
    ))
}
