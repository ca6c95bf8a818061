//! The runtime around the engine: the sequencer (single writer with group commit),
//! the read state clients query, the recent-events journal for resume, and the
//! publication of durable events to subscribers.
//!
//! Architecture invariant: an event reaches a subscriber, the read state or the
//! journal only after the batch holding it is durable in the log.

pub mod connections;
pub mod demo;
pub mod exercise;
mod follow;
pub mod journal;
pub mod metrics;
pub mod privacy;
mod publisher;
pub mod recovery;
pub mod sequencer;
pub mod snapshotter;
pub mod timers;
pub mod tokens;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use journal::Journal;
use muster_core::domain::ids::IncidentId;
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::visibility::Visibility;
use muster_core::engine::{Actor, Command, Engine, Error, EventKind, Record, State};
use muster_core::time::Clock;
use muster_log::credentials::{CredentialStore, MemoryCredentials};
use muster_log::{EventLog, StoreError, StoredEvent};
use muster_vault::{MasterKey, Vault};
use sequencer::{Sequencer, Submission};

/// A durable batch as typed records, for the hub's reactions (notifications, session
/// revocation): they match on [`Event`](muster_core::engine::Event)s, never on frames.
pub type Records = Arc<[Record]>;

/// One durable event, serialised once for every client that may see it.
#[derive(Debug)]
pub struct Published {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The incident it concerns, for routing and timelines.
    pub incident_id: Option<IncidentId>,
    /// Who may see it, judged when it was written.
    pub visibility: Visibility,
    /// `{"type":"event","seq":…,"at":…,"actor":…,"event":{…}}`, secrets removed.
    pub frame: Utf8Bytes,
    /// When it was made ready to publish (durable): delivery latency starts here.
    pub durable: std::time::Instant,
}

impl Published {
    pub fn new(
        rec: &Record,
        stored: &StoredEvent,
        visibility: Visibility,
        incident_id: Option<IncidentId>,
    ) -> Self {
        let body = Self::client_body(rec, stored, None);
        Self::with_body(rec, stored, &body, visibility, incident_id)
    }

    /// The event as clients get it: its stored body, unless that is sealed (the log's
    /// form: clients get the event as decided, `clear` when the vault gave it) or the
    /// event is redacted for clients.
    pub fn client_body(rec: &Record, stored: &StoredEvent, clear: Option<String>) -> String {
        match rec.event.redacted() {
            Some(safe) => serde_json::to_string(&safe).expect("events always serialise"),
            None => clear.unwrap_or_else(|| {
                if stored.body.contains("\"sealed\":[") {
                    serde_json::to_string(&rec.event).expect("events always serialise")
                } else {
                    stored.body.clone()
                }
            }),
        }
    }

    /// The published event, its [`client_body`](Self::client_body) made already.
    pub fn with_body(
        rec: &Record,
        stored: &StoredEvent,
        body: &str,
        visibility: Visibility,
        incident_id: Option<IncidentId>,
    ) -> Self {
        let mut frame = String::with_capacity(body.len() + stored.actor.len() + 96);
        frame.push_str(r#"{"type":"event","seq":"#);
        frame.push_str(itoa::Buffer::new().format(rec.seq));
        frame.push_str(r#","at":""#);
        muster_core::time::write_rfc3339(&mut frame, rec.at);
        frame.push_str(r#"","actor":"#);
        frame.push_str(&serde_json::to_string(&stored.actor).expect("strings serialise"));
        frame.push_str(r#","event":"#);
        frame.push_str(body);
        frame.push('}');
        Published {
            seq: rec.seq,
            at: rec.at,
            kind: rec.event.kind(),
            incident_id,
            visibility,
            frame: frame.into(),
            durable: std::time::Instant::now(),
        }
    }
}

/// Tunables of the runtime.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// Bound of the command queue in front of the writer; submitters wait when full.
    pub queue: usize,
    /// Save a snapshot every this many events (0: never).
    pub snapshot_every: u64,
    /// Most events the journal keeps in memory.
    pub journal_capacity: usize,
    /// How far back (in time) a client may resume; older clients get a snapshot.
    pub resume_window: chrono::Duration,
    /// Bound of the publication channels (events for the sockets, batches of records
    /// for the reactions); a subscriber that falls this far behind lags.
    pub publish_capacity: usize,
    /// Most commands decided into one batch (1 turns group commit off, for comparison).
    pub max_batch: usize,
    /// How long finished items stay in snapshots (welcome, `GET /api/state`).
    pub snapshot_closed: chrono::Duration,
    /// The master key of the vault, which seals personal data in the log. `None` (tests
    /// that do not look at it) seals nothing, and sealed events read as erased.
    pub master_key: Option<Arc<MasterKey>>,
    /// `privacy.location_decimals`: the places kept in clear for Coarse coordinates.
    pub location_decimals: u32,
    /// False for `muster bench --plain`: the same hub, sealing nothing.
    pub seal: bool,
    /// Where password hashes go (never into the log).
    pub credentials: Credentials,
    /// The exercise this hub runs on its own log; `None` for a live hub.
    pub exercise: Option<Arc<exercise::Exercise>>,
    /// True when whoever runs the hub steps it: the server spawns no timer or delivery
    /// task, so nothing is appended but what the caller submits or fires
    /// (`timers::fire_due`). For tests under the manual clock that compare logs.
    pub stepped: bool,
}

/// The hub's credential store (a newtype so the options stay `Debug`). The default
/// keeps hashes in memory: for tests and benchmarks that start a hub of their own.
#[derive(Clone)]
pub struct Credentials(pub Arc<dyn CredentialStore>);

impl Default for Credentials {
    fn default() -> Self {
        Credentials(Arc::new(MemoryCredentials::default()))
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            queue: 8_192,
            snapshot_every: 100_000,
            journal_capacity: 100_000,
            resume_window: chrono::Duration::minutes(10),
            publish_capacity: 65_536,
            max_batch: sequencer::MAX_BATCH,
            snapshot_closed: chrono::Duration::hours(72),
            master_key: None,
            location_decimals: muster_vault::DEFAULT_LOCATION_DECIMALS,
            seal: true,
            credentials: Credentials::default(),
            exercise: None,
            stepped: false,
        }
    }
}

/// A running hub: submit commands, read the durable state, subscribe to events.
#[derive(Clone)]
pub struct Hub {
    submit_tx: mpsc::Sender<Submission>,
    pub read: Arc<RwLock<State>>,
    pub journal: Arc<Journal>,
    events_tx: broadcast::Sender<Arc<Published>>,
    records_tx: broadcast::Sender<Records>,
    pub log: Arc<dyn EventLog>,
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
    pub options: HubOptions,
    pub metrics: Arc<metrics::Metrics>,
    /// The data keys of the log's personal data ([`Hub::erase_keys`]).
    pub vault: Arc<Vault>,
    /// The seq of the last erasure that reached every copy (keys, snapshots, files).
    pub scrubbed: tokio::sync::watch::Receiver<u64>,
}

impl Hub {
    /// Loads the state from the log and starts the writer task.
    pub async fn start(
        engine: Engine,
        log: Arc<dyn EventLog>,
        clock: Arc<dyn Clock>,
        options: HubOptions,
    ) -> Result<Hub, StoreError> {
        let started = std::time::Instant::now();
        let vault = Arc::new(match &options.master_key {
            Some(master) => {
                let vault = Vault::load(log.as_ref(), master, options.location_decimals)
                    .await
                    .map_err(StoreError::from)?;
                if options.seal { vault } else { vault.plain() }
            }
            None => Vault::new(&MasterKey::generate(), options.location_decimals).plain(),
        });
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "data keys loaded"
        );
        let (state, head_hash) = recovery::load(log.as_ref(), &vault).await?;
        let last_at = match state.seq {
            0 => DateTime::<Utc>::MIN_UTC,
            seq => log
                .read_from(seq - 1, 1)
                .await?
                .first()
                .map_or(DateTime::<Utc>::MIN_UTC, |e| e.at),
        };
        let read = Arc::new(RwLock::new(state.clone()));
        let journal = Arc::new(Journal::new(
            options.journal_capacity,
            options.resume_window,
        ));
        let (events_tx, _) = broadcast::channel(options.publish_capacity);
        let (records_tx, _) = broadcast::channel(options.publish_capacity);
        let (submit_tx, submit_rx) = mpsc::channel(options.queue);
        let metrics = Arc::new(metrics::Metrics::default());
        let (publish_tx, publish_rx) = mpsc::channel(4);
        let publisher = publisher::Publisher {
            read: read.clone(),
            journal: journal.clone(),
            events_tx: events_tx.clone(),
            records_tx: records_tx.clone(),
            snapshots: snapshotter::Snapshotter::start(
                read.clone(),
                log.clone(),
                vault.clone(),
                options.snapshot_every,
            ),
            clock: clock.clone(),
        };
        let sequencer = Sequencer {
            engine: engine.clone(),
            durable_seq: state.seq,
            state,
            head_hash,
            log: log.clone(),
            clock: clock.clone(),
            publish_tx,
            max_batch: options.max_batch.max(1),
            metrics: metrics.clone(),
            last_at,
            shared: log.shared(),
            read: read.clone(),
            vault: vault.clone(),
            credentials: options.credentials.clone(),
        };
        let foreign = log
            .shared()
            .then(|| follow::spawn(log.clone(), vault.clone(), read.clone()));
        tokio::spawn(publisher.run(publish_rx));
        tokio::spawn(sequencer.run(submit_rx, foreign));
        let (scrubbed_tx, scrubbed) = tokio::sync::watch::channel(0);
        let hub = Hub {
            submit_tx,
            read,
            journal,
            events_tx,
            records_tx,
            log,
            engine,
            clock,
            options,
            metrics,
            vault,
            scrubbed,
        };
        privacy::spawn(hub.clone(), scrubbed_tx);
        tracing::info!(ms = started.elapsed().as_millis() as u64, "hub started");
        Ok(hub)
    }

    /// Erases data keys for good (the log's store and memory): each entry an exact
    /// scope or a prefix ending in `/`. Returns the scopes erased. The events sealed
    /// under them read `"[erased]"`/`null` there from now on; the log's bytes and hash
    /// chain are unchanged.
    pub async fn erase_keys(&self, scopes: &[String]) -> Result<Vec<String>, StoreError> {
        self.vault.erase(self.log.as_ref(), scopes).await
    }

    /// Reads a stored event back, opening its sealed personal data.
    pub fn decode(&self, stored: &StoredEvent) -> Result<Record, StoreError> {
        self.vault.decode(stored).map_err(StoreError::from)
    }

    /// Submits a command and waits until it is durable (or refused).
    pub async fn submit(
        &self,
        actor: Actor,
        command_id: Option<String>,
        command: Command,
    ) -> Result<CommandOutcome, Error> {
        self.send(actor, command_id, command, Vec::new(), None)
            .await
    }

    /// Submits commands to be decided together, in order, all or none, and appended as
    /// one batch (one transaction): the first refusal refuses them all and nothing is
    /// kept. With `at_seq`, they are decided only on the state at that seq (refused with
    /// `conflict` otherwise), for commands that name what earlier ones create. The
    /// outcome is the last event's seq and every id created.
    pub async fn submit_batch(
        &self,
        actor: Actor,
        commands: Vec<(Option<String>, Command)>,
        at_seq: Option<u64>,
    ) -> Result<CommandOutcome, Error> {
        let mut commands = commands.into_iter();
        let Some((command_id, command)) = commands.next() else {
            return Ok(CommandOutcome::default());
        };
        self.send(actor, command_id, command, commands.collect(), at_seq)
            .await
    }

    /// Hands a submission to the writer and waits for its answer, timed by kind.
    async fn send(
        &self,
        actor: Actor,
        command_id: Option<String>,
        command: Command,
        more: Vec<(Option<String>, Command)>,
        at_seq: Option<u64>,
    ) -> Result<CommandOutcome, Error> {
        let started = std::time::Instant::now();
        let kind = command.kind();
        let (reply, rx) = oneshot::channel();
        let gone = || Error::Unavailable("the hub is shutting down".into());
        let submission = Submission {
            actor,
            command_id,
            command,
            reply,
            more,
            at_seq,
        };
        let result = match self.submit_tx.send(submission).await {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(gone())),
            Err(_) => Err(gone()),
        };
        let answered = result.as_ref().map(|_| ());
        self.metrics
            .exported
            .command(kind, started.elapsed(), answered);
        result
    }

    /// Every durable event from now on, in seq order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.events_tx.subscribe()
    }

    /// Every durable batch from now on, in seq order, as typed records: what the
    /// hub's reactions follow.
    pub fn subscribe_records(&self) -> broadcast::Receiver<Records> {
        self.records_tx.subscribe()
    }

    /// The published events after `seq` still in memory (tests and diagnostics).
    pub fn journal_after(&self, seq: u64) -> Vec<Arc<Published>> {
        match self.journal.after(seq, self.seq()) {
            journal::Backlog::Events(e) => e,
            journal::Backlog::TooOld => Vec::new(),
        }
    }

    /// True once the writer has stopped (the process is shutting down): commands are
    /// refused from then on, which is nothing to warn about.
    pub fn stopped(&self) -> bool {
        self.submit_tx.is_closed()
    }

    /// Items finished before this time are left out of snapshots: now, on the hub's
    /// clock, less the snapshot window.
    pub fn closed_since(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() - self.options.snapshot_closed
    }

    /// The seq of the last durable event.
    pub fn seq(&self) -> u64 {
        self.read.read().unwrap_or_else(|e| e.into_inner()).seq
    }

    /// Reads the durable state.
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.read.read().unwrap_or_else(|e| e.into_inner()))
    }
}
