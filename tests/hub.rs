//! The hub's runtime guarantees against a real SQLite log on disk and the demo centre:
//! idempotent command ids, durable before visible (and a result after its own
//! events), a restart that rebuilds the identical state (with and without
//! snapshots), and a log that fails: refused with `unavailable`, nothing published,
//! and service again when the log returns.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::broadcast::error::TryRecvError;

use muster::domain::ids::{ContactId, IncidentId};
use muster::engine::state::CommandOutcome;
use muster::engine::{Actor, Engine, Error, State};
use muster::hub::{Hub, HubOptions, demo, recovery};
use muster::store::sqlite::SqliteLog;
use muster::store::{Durability, EventLog, Snapshot, StoreError, StoredEvent, VerifyReport};
use muster::time::SystemClock;
use support::{
    contact_close, contact_receive, demo_centre, demo_seed, incident_note, incident_open,
};

// ----------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("muster.sqlite")
}

/// Starts a hub on `log` and seeds the demo centre (cheap hashes) if it is empty.
async fn start_on(log: Arc<dyn EventLog>, options: HubOptions) -> Hub {
    let hub = Hub::start(
        Engine::new(demo_centre()),
        log,
        Arc::new(SystemClock),
        options,
    )
    .await
    .expect("the hub starts");
    demo::seed(&hub, &demo_seed(), |p| format!("test-hash-of-{p}"))
        .await
        .expect("the demo seeds");
    hub
}

async fn start(path: &Path, options: HubOptions) -> Hub {
    start_on(Arc::new(SqliteLog::open(path).unwrap()), options).await
}

fn actor(hub: &Hub, username: &str) -> Actor {
    hub.with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
}

/// A desk cycle (receive, open, note, close the contact) with ids `<prefix>-1..4`.
async fn desk_cycle(hub: &Hub, actor: &Actor, prefix: &str) -> Vec<CommandOutcome> {
    let mut outs = Vec::new();
    let id = |n: u32| Some(format!("{prefix}-{n}"));
    let c = hub
        .submit(
            actor.clone(),
            id(1),
            contact_receive("Smoke in the stairwell"),
        )
        .await
        .unwrap();
    let contact = ContactId(c.data["contact_id"].clone());
    outs.push(c);
    let i = hub
        .submit(
            actor.clone(),
            id(2),
            incident_open("fire_alarm", Some(&contact)),
        )
        .await
        .unwrap();
    let incident = IncidentId(i.data["incident_id"].clone());
    outs.push(i);
    outs.push(
        hub.submit(
            actor.clone(),
            id(3),
            incident_note(&incident, "Caller staying outside"),
        )
        .await
        .unwrap(),
    );
    outs.push(
        hub.submit(actor.clone(), id(4), contact_close(&contact, "linked"))
            .await
            .unwrap(),
    );
    outs
}

/// A read-only connection of its own: sees only what is committed to the file.
fn reader(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn logged_kind(db: &Connection, seq: u64) -> Option<String> {
    db.query_row(
        "SELECT kind FROM events WHERE seq = ?1",
        [seq as i64],
        |r| r.get(0),
    )
    .optional()
    .unwrap()
}

fn events_with_command_id(db: &Connection, command_id: &str) -> u64 {
    db.query_row(
        "SELECT COUNT(*) FROM events WHERE command_id = ?1",
        [command_id],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

fn state_of(hub: &Hub) -> State {
    hub.with_state(|s| s.clone())
}

/// The state folded from the log's events `1..=upto`, from nothing.
async fn fold_log(log: &dyn EventLog, upto: u64) -> State {
    let mut state = State::default();
    for stored in log.read_from(0, upto as usize).await.unwrap() {
        state.apply(&muster::store::record::decode(&stored).unwrap());
    }
    assert_eq!(state.seq, upto);
    state
}

// ----------------------------------------------------------------------------------
// Idempotency
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_repeated_command_id_appends_once_and_returns_the_first_result() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(&log_path(&dir), HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let db = reader(&log_path(&dir));

    let first = hub
        .submit(
            operator.clone(),
            Some("phone-1".into()),
            contact_receive("Water through the ceiling"),
        )
        .await
        .unwrap();
    let head = hub.seq();
    assert_eq!(first.seq, head);
    assert!(first.data.contains_key("contact_id"));

    // The retry is answered with the first result, whatever it carries this time.
    let again = hub
        .submit(
            operator.clone(),
            Some("phone-1".into()),
            contact_receive("Water through the ceiling (resent)"),
        )
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(hub.seq(), head, "the retry appended nothing");
    assert_eq!(events_with_command_id(&db, "phone-1"), 1);
    assert_eq!(hub.with_state(|s| s.contacts.len()), 1);

    // The same id from another user is another command.
    let operator2 = actor(&hub, "operator2");
    let other = hub
        .submit(
            operator2,
            Some("phone-1".into()),
            contact_receive("Lift stuck between floors"),
        )
        .await
        .unwrap();
    assert_ne!(other.data, first.data);
    assert!(other.seq > head);
    assert_eq!(events_with_command_id(&db, "phone-1"), 2);
    assert_eq!(hub.with_state(|s| s.contacts.len()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_id_append_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(&log_path(&dir), HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let before = hub.seq();

    // A phone resending its queue while the first copy is still in flight: the copies
    // land in the same batch or the next, while the first is not yet durable.
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (hub, operator) = (hub.clone(), operator.clone());
            tokio::spawn(async move {
                hub.submit(
                    operator,
                    Some("ack-queue-7".into()),
                    contact_receive("Alarm sounding"),
                )
                .await
            })
        })
        .collect();
    let mut outs = Vec::new();
    for c in copies {
        outs.push(c.await.unwrap().unwrap());
    }
    assert!(outs.iter().all(|o| *o == outs[0]), "{outs:?}");
    assert_eq!(outs[0].seq, before + 1);
    assert_eq!(hub.seq(), before + 1);
    assert_eq!(
        events_with_command_id(&reader(&log_path(&dir)), "ack-queue-7"),
        1
    );
}

// ----------------------------------------------------------------------------------
// Durable before visible
// ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_in_the_log_before_anyone_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let hub = start(&path, HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let start_seq = hub.seq();

    // A watcher that checks each event, as it arrives, against the file through a
    // connection of its own (which sees only committed transactions).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(u64::MAX);
    let mut events = hub.subscribe();
    let watcher = tokio::spawn({
        let db = reader(&path);
        async move {
            let mut seen = Vec::new();
            let mut problems = Vec::new();
            loop {
                tokio::select! {
                    got = events.recv() => {
                        let p = got.expect("the watcher keeps up");
                        match logged_kind(&db, p.seq) {
                            Some(kind) if kind == p.kind => {}
                            other => problems.push(format!(
                                "seq {} ({}) published while the log had {other:?}",
                                p.seq, p.kind
                            )),
                        }
                        seen.push(p.seq);
                    }
                    _ = stop_rx.changed() => {}
                }
                if seen.last().is_some_and(|s| *s >= *stop_rx.borrow()) {
                    return (seen, problems);
                }
            }
        }
    });

    // Closed-loop submitters, each checking that a result comes after its events.
    let submitters: Vec<_> = (0..8)
        .map(|n| {
            let (hub, operator) = (hub.clone(), operator.clone());
            tokio::spawn(async move {
                for round in 0..5 {
                    let mut mine = hub.subscribe();
                    let out = desk_cycle(&hub, &operator, &format!("s{n}-r{round}")).await;
                    let last = out.last().unwrap().seq;
                    assert!(hub.seq() >= last, "the read state lags a returned result");
                    let mut newest = 0;
                    loop {
                        match mine.try_recv() {
                            Ok(p) => newest = p.seq,
                            Err(TryRecvError::Empty) => break,
                            Err(e) => panic!("subscriber: {e:?}"),
                        }
                    }
                    assert!(
                        newest >= last,
                        "result at seq {last} returned before its events (newest seen {newest})"
                    );
                }
            })
        })
        .collect();
    for s in submitters {
        s.await.unwrap();
    }
    let end = hub.seq();
    assert!(end >= start_seq + 8 * 5 * 4);
    stop_tx.send(end).unwrap();
    let (seen, problems) = watcher.await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let want: Vec<u64> = (start_seq + 1..=end).collect();
    assert_eq!(seen, want, "every event published once, in seq order");
}

/// Deterministic form of "a result comes after its events": while the published state
/// is held (a reader holds it, so the publisher cannot advance it), a durable command's
/// result must not come back; once released, the events are out before the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // holding the state across awaits is the point
async fn a_result_never_overtakes_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(&log_path(&dir), HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let mut events = hub.subscribe();
    let before = hub.seq();

    let held = hub.read.read().unwrap();
    let submit = tokio::spawn({
        let hub = hub.clone();
        async move {
            hub.submit(operator, Some("held".into()), contact_receive("Held"))
                .await
        }
    });
    // The command becomes durable, but cannot be published while the state is held.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.log.head().await.unwrap().0 == before {
        assert!(tokio::time::Instant::now() < deadline, "never appended");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !submit.is_finished(),
        "the result came back before it was published"
    );
    assert!(matches!(events.try_recv(), Err(TryRecvError::Empty)));
    drop(held);

    let out = submit.await.unwrap().unwrap();
    assert_eq!(out.seq, before + 1);
    assert_eq!(
        events.try_recv().expect("its event was published").seq,
        out.seq
    );
}

// ----------------------------------------------------------------------------------
// Restart
// ----------------------------------------------------------------------------------

/// Waits (bounded) until the snapshotter, which runs beside the writer, has saved the
/// snapshot for the last multiple of `every` the log has passed; checks that it is
/// exactly the fold of the log up to its seq.
async fn wait_for_snapshot(hub: &Hub, every: u64) -> u64 {
    let head = hub.seq();
    let want = head / every * every;
    assert!(want > 0, "the log is long enough for a snapshot");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let snap = loop {
        let snap = hub.log.latest_snapshot().await.unwrap();
        match snap {
            Some(s) if s.seq >= want => break s,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no snapshot at seq {want} (head {head}); latest {:?}",
            snap.map(|s| s.seq)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let saved: State = serde_json::from_str(&snap.body).unwrap();
    assert!(
        saved == fold_log(hub.log.as_ref(), snap.seq).await,
        "the snapshot at seq {} is not the fold of the log up to it",
        snap.seq
    );
    snap.seq
}

/// Fills a log, restarts the hub on the file, and checks the rebuilt state and the
/// remembered results. Returns the directory and the latest snapshot's seq (0: none).
async fn restart_rebuilds(options: HubOptions) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let hub = start(&path, options.clone()).await;
    let operator = actor(&hub, "operator");
    let supervisor = actor(&hub, "supervisor");
    let mut first_results = BTreeMap::new();
    for n in 0..6 {
        let who = if n % 2 == 0 { &operator } else { &supervisor };
        for (i, out) in desk_cycle(&hub, who, &format!("c{n}"))
            .await
            .into_iter()
            .enumerate()
        {
            first_results.insert((who.user_id.clone(), format!("c{n}-{}", i + 1)), out);
        }
    }
    let snapshot_seq = if options.snapshot_every > 0 {
        wait_for_snapshot(&hub, options.snapshot_every).await
    } else {
        0
    };
    let before = state_of(&hub);
    assert_eq!(before.seq, hub.log.head().await.unwrap().0);
    drop(hub);

    let again = start(&path, options).await;
    let after = state_of(&again);
    assert_eq!(after.seq, before.seq);
    assert!(after == before, "the restarted state differs");

    // Retried ids are still answered from the first results, appending nothing.
    for ((who, id), first) in &first_results {
        let role = if *who == operator.user_id {
            &operator
        } else {
            &supervisor
        };
        let out = again
            .submit(role.clone(), Some(id.clone()), contact_receive("resent"))
            .await
            .unwrap();
        assert_eq!(&out, first, "{id}");
    }
    assert_eq!(again.seq(), before.seq);
    (dir, snapshot_seq)
}

#[tokio::test]
async fn a_restart_rebuilds_the_identical_state() {
    let (dir, _) = restart_rebuilds(HubOptions {
        snapshot_every: 0,
        ..HubOptions::default()
    })
    .await;
    let snapshots: i64 = reader(&log_path(&dir))
        .query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(snapshots, 0, "snapshots were off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_a_snapshot_rebuilds_the_identical_state() {
    let (dir, snapshot_seq) = restart_rebuilds(HubOptions {
        snapshot_every: 5,
        ..HubOptions::default()
    })
    .await;
    let newest: Option<i64> = reader(&log_path(&dir))
        .query_row("SELECT MAX(seq) FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert!(snapshot_seq > 0);
    assert!(
        newest.unwrap_or(0) as u64 >= snapshot_seq,
        "a snapshot row exists"
    );
}

// ----------------------------------------------------------------------------------
// A failing log
// ----------------------------------------------------------------------------------

/// A SQLite log that can be told to fail appends (and reads), as a full disk or a lost
/// network volume would.
struct FlakyLog {
    inner: SqliteLog,
    fail_appends: AtomicBool,
    fail_reads: AtomicBool,
}

impl FlakyLog {
    fn down(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("disk unplugged (test)".into()))
    }

    fn reads(&self) -> Result<(), StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            self.down()
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl EventLog for FlakyLog {
    async fn append(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        if self.fail_appends.load(Ordering::SeqCst) {
            return self.down();
        }
        self.inner.append(batch).await
    }
    async fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.reads()?;
        self.inner.read_from(after, limit).await
    }
    async fn head(&self) -> Result<(u64, String), StoreError> {
        self.reads()?;
        self.inner.head().await
    }
    async fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.reads()?;
        self.inner.latest_snapshot().await
    }
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot).await
    }
    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.inner.verify().await
    }
    async fn durability(&self) -> Result<Durability, StoreError> {
        self.inner.durability().await
    }
}

fn flaky(path: &Path) -> Arc<FlakyLog> {
    Arc::new(FlakyLog {
        inner: SqliteLog::open(path).unwrap(),
        fail_appends: AtomicBool::new(false),
        fail_reads: AtomicBool::new(false),
    })
}

fn assert_unavailable(result: Result<CommandOutcome, Error>) {
    match result {
        Err(e) => assert_eq!(e.code(), "unavailable", "{e}"),
        Ok(out) => panic!("accepted while the log was down: {out:?}"),
    }
}

/// After an outage: the next event anyone sees is `seq`, and the hub's state is the
/// log's.
async fn assert_serving_from_the_log(
    hub: &Hub,
    log: &FlakyLog,
    events: &mut tokio::sync::broadcast::Receiver<Arc<muster::hub::Published>>,
    next_seq: u64,
) {
    let p = events
        .try_recv()
        .expect("the retried command was published");
    assert_eq!(p.seq, next_seq, "something else was published first");
    let (from_log, _) = recovery::load(log, &hub.vault).await.unwrap();
    assert!(
        state_of(hub) == from_log,
        "the hub's state is not the log's"
    );
}

#[tokio::test]
async fn a_failing_log_refuses_commands_and_publishes_nothing_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = flaky(&path);
    let hub = start_on(log.clone(), HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let head = hub.seq();
    let mut events = hub.subscribe();

    log.fail_appends.store(true, Ordering::SeqCst);
    for n in 0..3 {
        assert_unavailable(
            hub.submit(
                operator.clone(),
                Some(format!("down-{n}")),
                contact_receive("During the outage"),
            )
            .await,
        );
    }
    // Concurrent ones too: a batch in flight and the one decided behind it.
    let burst: Vec<_> = (0..6)
        .map(|n| {
            let (hub, operator) = (hub.clone(), operator.clone());
            tokio::spawn(async move {
                hub.submit(
                    operator,
                    Some(format!("burst-{n}")),
                    contact_receive("During the outage"),
                )
                .await
            })
        })
        .collect();
    for b in burst {
        assert_unavailable(b.await.unwrap());
    }
    assert_eq!(hub.seq(), head);
    assert_eq!(log.inner.head().await.unwrap().0, head, "nothing appended");
    assert!(
        matches!(events.try_recv(), Err(TryRecvError::Empty)),
        "nothing published"
    );

    // The log is back: a retried id is decided afresh (its refusal was not remembered)
    // and appended once.
    log.fail_appends.store(false, Ordering::SeqCst);
    let out = hub
        .submit(
            operator.clone(),
            Some("down-0".into()),
            contact_receive("During the outage"),
        )
        .await
        .unwrap();
    assert_eq!(out.seq, head + 1);
    assert_eq!(events_with_command_id(&reader(&path), "down-0"), 1);
    assert_serving_from_the_log(&hub, &log, &mut events, head + 1).await;
}

#[tokio::test]
async fn commands_are_refused_while_the_log_cannot_even_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = flaky(&path);
    let hub = start_on(log.clone(), HubOptions::default()).await;
    let operator = actor(&hub, "operator");
    let head = hub.seq();
    let mut events = hub.subscribe();

    // The append fails and so does the reload that follows: the writer keeps retrying
    // the reload, and commands that arrive meanwhile are refused, not left waiting.
    log.fail_appends.store(true, Ordering::SeqCst);
    log.fail_reads.store(true, Ordering::SeqCst);
    assert_unavailable(
        hub.submit(operator.clone(), Some("first".into()), contact_receive("x"))
            .await,
    );
    for n in 0..3 {
        let waited = tokio::time::timeout(
            Duration::from_secs(5),
            hub.submit(
                operator.clone(),
                Some(format!("while-down-{n}")),
                contact_receive("x"),
            ),
        )
        .await
        .expect("a command during the outage is answered, not parked");
        assert_unavailable(waited);
    }
    assert_eq!(log.inner.head().await.unwrap().0, head);

    log.fail_reads.store(false, Ordering::SeqCst);
    log.fail_appends.store(false, Ordering::SeqCst);
    // The writer notices on its next reload attempt; until then it still refuses.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let out = loop {
        match hub
            .submit(
                operator.clone(),
                Some("after".into()),
                contact_receive("Back"),
            )
            .await
        {
            Ok(out) => break out,
            Err(e) if e.code() == "unavailable" && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("the hub did not come back: {e}"),
        }
    };
    assert_eq!(out.seq, head + 1);
    assert_serving_from_the_log(&hub, &log, &mut events, head + 1).await;
}
