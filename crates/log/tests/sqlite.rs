//! The SQLite event log against real files: the store contract, reopening, tampering
//! behind the hub's back with a second connection, read-only verification and
//! throughput.

use std::path::{Path, PathBuf};
use std::time::Instant;

use muster_log::contract::{self, chain_events};
use muster_log::sqlite::{SqliteLog, verify_blocking};
use muster_log::{EventLog, Snapshot, StoreError, VerifyReport, chain};
use rusqlite::Connection;

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("muster.db")
}

/// Opens a fresh log at `path` holding a valid chain of `n` events, in batches of 64.
async fn log_with(path: &Path, n: usize) -> SqliteLog {
    let log = SqliteLog::open(path).unwrap();
    for batch in chain_events(0, chain::GENESIS, n).chunks(64) {
        log.append(batch).await.unwrap();
    }
    log
}

fn ok_report(events: u64) -> VerifyReport {
    VerifyReport {
        ok: true,
        events,
        first_bad_seq: None,
    }
}

fn bad_report(events: u64, seq: u64) -> VerifyReport {
    VerifyReport {
        ok: false,
        events,
        first_bad_seq: Some(seq),
    }
}

/// A second connection, as a person with the `sqlite3` shell would have.
fn tamper(path: &Path, sql: &str) {
    let conn = Connection::open(path).unwrap();
    assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
}

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&db_path(&dir)).unwrap();
    contract::run_all(&log).await;
}

#[tokio::test]
async fn reopened_file_has_events_head_and_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let written = chain_events(0, chain::GENESIS, 10);
    let snap = Snapshot {
        seq: 8,
        body: r#"{"incidents":[]}"#.to_string(),
    };
    {
        let log = SqliteLog::open(&path).unwrap();
        log.append(&written[..6]).await.unwrap();
        log.append(&written[6..]).await.unwrap();
        log.save_snapshot(&snap).await.unwrap();
    }
    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.read_from(0, 100).await.unwrap(), written);
    assert_eq!(log.head().await.unwrap(), (10, written[9].hash.clone()));
    assert_eq!(log.latest_snapshot().await.unwrap(), Some(snap));
    assert_eq!(log.verify().await.unwrap(), ok_report(10));
    // The reopened log continues the chain, and refuses a stale writer.
    let stale = chain_events(0, chain::GENESIS, 1);
    assert!(matches!(
        log.append(&stale).await,
        Err(StoreError::Conflict {
            expected: 0,
            found: 10
        })
    ));
    log.append(&chain_events(10, &written[9].hash, 1))
        .await
        .unwrap();
    assert_eq!(log.head().await.unwrap().0, 11);
}

#[tokio::test]
async fn untouched_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(&db_path(&dir), 20).await;
    assert_eq!(log.verify().await.unwrap(), ok_report(20));
}

#[tokio::test]
async fn edited_body_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 20).await;
    tamper(
        &path,
        r#"UPDATE events SET body = '{"kind":"incident.noted","n":7,"text":"edited"}' WHERE seq = 7"#,
    );
    assert_eq!(log.verify().await.unwrap(), bad_report(7, 7));
}

#[tokio::test]
async fn edit_with_recomputed_hash_breaks_the_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 20).await;
    let events = log.read_from(0, 20).await.unwrap();
    let mut forged = events[6].clone();
    forged.actor = "mallory".to_string();
    forged.hash = chain::link(&events[5].hash, &forged);
    tamper(
        &path,
        &format!(
            "UPDATE events SET actor = 'mallory', hash = '{}' WHERE seq = 7",
            forged.hash
        ),
    );
    assert_eq!(log.verify().await.unwrap(), bad_report(8, 8));
}

#[tokio::test]
async fn deleted_event_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 20).await;
    tamper(&path, "DELETE FROM events WHERE seq = 7");
    assert_eq!(log.verify().await.unwrap(), bad_report(7, 7));
}

#[tokio::test]
async fn verify_walks_pages_past_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 2_500).await;
    assert_eq!(log.verify().await.unwrap(), ok_report(2_500));
    tamper(&path, "UPDATE events SET kind = 'x' WHERE seq = 2222");
    assert_eq!(log.verify().await.unwrap(), bad_report(2_222, 2_222));
}

#[tokio::test]
async fn verify_blocking_and_readonly_do_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 20).await;
    assert_eq!(verify_blocking(&path).unwrap(), ok_report(20));

    let ro = SqliteLog::open_readonly(&path).unwrap();
    assert_eq!(ro.verify().await.unwrap(), ok_report(20));
    assert_eq!(ro.read_from(19, 5).await.unwrap().len(), 1);
    let (seq, hash) = ro.head().await.unwrap();
    let next = chain_events(seq, &hash, 1);
    assert!(matches!(
        ro.append(&next).await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(log.head().await.unwrap().0, 20);

    tamper(&path, "UPDATE events SET body = 'x' WHERE seq = 7");
    assert_eq!(verify_blocking(&path).unwrap(), bad_report(7, 7));

    // With every connection closed (WAL checkpointed and removed) it still reads.
    drop((log, ro));
    assert_eq!(verify_blocking(&path).unwrap(), bad_report(7, 7));
}

#[test]
fn verify_blocking_on_a_missing_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify_blocking(&dir.path().join("absent.db")).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!dir.path().join("absent.db").exists());
}

/// `cargo test --release -p muster-log --test sqlite -- --ignored --nocapture`:
/// appends 64,000 events in batches of 64 and prints the rate (target: at least
/// 50,000 events/s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement, run by hand"]
async fn append_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&db_path(&dir)).unwrap();
    let events = chain_events(0, chain::GENESIS, 64_000);
    let start = Instant::now();
    for batch in events.chunks(64) {
        log.append(batch).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = events.len() as f64 / secs;
    println!(
        "appended {} events in {secs:.3}s: {rate:.0} events/s",
        events.len()
    );
    assert_eq!(log.head().await.unwrap().0, 64_000);
}

#[tokio::test]
async fn edited_version_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 20).await;
    tamper(&path, "UPDATE events SET v = 1 WHERE seq = 7");
    assert_eq!(log.verify().await.unwrap(), bad_report(7, 7));
}

/// A file as hubs wrote it before versions existed: no `v` column, hashes without it.
fn old_file(path: &Path, n: usize) -> Vec<muster_log::StoredEvent> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, \
         command_id TEXT, kind TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL); \
         CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .unwrap();
    let mut prev = chain::GENESIS.to_string();
    let mut events = chain_events(0, chain::GENESIS, n);
    for e in &mut events {
        e.v = 1;
        e.hash = chain::link(&prev, e);
        prev = e.hash.clone();
        conn.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                e.seq as i64,
                muster_core::time::rfc3339(e.at),
                e.actor,
                e.command_id,
                e.kind,
                e.body,
                e.hash
            ],
        )
        .unwrap();
    }
    events
}

#[tokio::test]
async fn a_file_from_before_versions_reads_as_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let old = old_file(&path, 5);
    // Read-only (verify-log, replay): the file is not changed.
    assert_eq!(verify_blocking(&path).unwrap(), ok_report(5));
    let ro = SqliteLog::open_readonly(&path).unwrap();
    assert_eq!(ro.read_from(0, 10).await.unwrap(), old);
    assert_eq!(ro.read_from_skipping(0, 10, &["x"]).await.unwrap(), old);
    assert_eq!(ro.head().await.unwrap(), (5, old[4].hash.clone()));
    drop(ro);
    let columns = |path: &Path| -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut st = conn
            .prepare("SELECT name FROM pragma_table_info('events')")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!columns(&path).contains(&"v".to_string()));

    // Opened for writing, the file gains the column; old rows stay version 1 and
    // verify, and new ones are written at their own version.
    let log = SqliteLog::open(&path).unwrap();
    assert!(columns(&path).contains(&"v".to_string()));
    assert_eq!(log.read_from(0, 10).await.unwrap(), old);
    let next = chain_events(5, &old[4].hash, 2);
    assert_eq!(next[0].v, muster_log::record::VERSION);
    log.append(&next).await.unwrap();
    let all = log.read_from(0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.v).collect::<Vec<_>>(),
        [1, 1, 1, 1, 1, 2, 2]
    );
    assert_eq!(log.verify().await.unwrap(), ok_report(7));
    drop(log);
    // And opens again (the column is not added twice).
    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.verify().await.unwrap(), ok_report(7));
}

fn wrapped(scope: &str, byte: u8) -> muster_log::WrappedKey {
    muster_log::WrappedKey {
        scope: scope.into(),
        wrapped: vec![byte; 61],
    }
}

/// The scopes of `data_keys` in the order of its rows, and whether it is keyed by scope.
fn key_table(path: &Path) -> (Vec<String>, bool) {
    let conn = Connection::open(path).unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'data_keys'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut st = conn.prepare("SELECT scope FROM data_keys").unwrap();
    let scopes = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap);
    (scopes.collect(), sql.contains("WITHOUT ROWID"))
}

/// Data keys as files kept them before (keyed by scope) still read, read-only too;
/// opened for writing, the table is rebuilt in the order the keys were made, and new
/// keys go to its end, a scope kept already still refused.
#[tokio::test]
async fn keys_kept_by_scope_are_rebuilt_in_the_order_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let events = chain_events(0, chain::GENESIS, 3);
    drop(log_with(&path, 3).await);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE data_keys; \
         CREATE TABLE data_keys (scope TEXT PRIMARY KEY, wrapped BLOB NOT NULL) WITHOUT ROWID;",
    )
    .unwrap();
    for k in [
        wrapped("incident:inc_9/free_text", 1),
        wrapped("contact:con_10/free_text", 2),
    ] {
        conn.execute(
            "INSERT INTO data_keys VALUES (?1, ?2)",
            rusqlite::params![k.scope, k.wrapped],
        )
        .unwrap();
    }
    drop(conn);
    let old = vec![
        wrapped("contact:con_10/free_text", 2),
        wrapped("incident:inc_9/free_text", 1),
    ];
    let ro = SqliteLog::open_readonly(&path).unwrap();
    assert_eq!(ro.load_keys().await.unwrap(), old);
    drop(ro);
    assert!(key_table(&path).1, "read-only, the table is as it was");

    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(
        key_table(&path),
        (vec![old[0].scope.clone(), old[1].scope.clone()], false)
    );
    assert_eq!(log.load_keys().await.unwrap(), old);
    let next = chain_events(3, &events[2].hash, 2);
    // A scope kept already, or twice in one batch: refused, and nothing of it kept.
    for refused in [
        vec![wrapped("contact:con_2/caller_details", 3), old[1].clone()],
        vec![
            wrapped("plan:pln_1/support_plans", 4),
            wrapped("plan:pln_1/support_plans", 5),
        ],
    ] {
        let batch = next[..1].to_vec().into();
        let result = log
            .append_with_keys(&events[2].hash, batch, refused.into())
            .await;
        assert!(result.is_err());
        assert_eq!(log.head().await.unwrap(), (3, events[2].hash.clone()));
        assert_eq!(log.load_keys().await.unwrap().len(), 2);
    }
    let new = vec![
        wrapped("contact:con_2/caller_details", 3),
        wrapped("case:cas_1/cases", 4),
    ];
    log.append_with_keys(&events[2].hash, next.clone().into(), new.into())
        .await
        .unwrap();
    let made = |extra: &[&str]| -> Vec<String> {
        let mut all = vec![old[0].scope.clone(), old[1].scope.clone()];
        all.extend(["contact:con_2/caller_details", "case:cas_1/cases"].map(String::from));
        all.retain(|s| !extra.contains(&s.as_str()));
        all
    };
    assert_eq!(key_table(&path), (made(&[]), false));
    let erased = log
        .erase_keys(&["contact:con_1".into(), "contact:con_2/".into()])
        .await;
    assert_eq!(erased.unwrap(), ["contact:con_2/caller_details"]);
    assert_eq!(log.verify().await.unwrap(), ok_report(5));
    drop(log);
    // Opened again: nothing rebuilt twice; an erased scope may be kept again.
    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(
        key_table(&path),
        (made(&["contact:con_2/caller_details"]), false)
    );
    let last = chain_events(5, &next[1].hash, 1);
    let again = vec![wrapped("contact:con_2/caller_details", 6)];
    log.append_with_keys(&next[1].hash, last.into(), again.into())
        .await
        .unwrap();
    assert_eq!(log.load_keys().await.unwrap().len(), 4);
}

/// A retention sweep's erasure: thousands of scopes, exact and by prefix, in one call
/// over a table of many keys; exactly those named (or under a named prefix) go.
#[tokio::test]
async fn a_sweep_erases_exactly_the_scopes_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = log_with(&path, 1).await;
    let head = log.head().await.unwrap().1;
    let keys: Vec<_> = (0..20_000)
        .map(|i| match i % 2 {
            0 => wrapped(&format!("contact:con_{i}/caller_details"), 1),
            _ => wrapped(&format!("resource:res_{i}/staff_locations/2026-12-07"), 2),
        })
        .collect();
    let batch = chain_events(1, &head, 1);
    log.append_with_keys(&head, batch.into(), keys.into())
        .await
        .unwrap();
    // Every fourth contact by its scope, every fourth resource by its prefix, and
    // names that reach nothing (a prefix without its `/`, a scope's parent).
    let mut named: Vec<String> = (0..20_000)
        .step_by(4)
        .map(|i| format!("contact:con_{i}/caller_details"))
        .chain((1..20_000).step_by(4).map(|i| format!("resource:res_{i}/")))
        .collect();
    named.extend([
        "contact:con_2".into(),
        "resource:res_3/staff_locations".into(),
    ]);
    let started = Instant::now();
    let mut erased = log.erase_keys(&named).await.unwrap();
    eprintln!(
        "erased {} of 20,000 keys in {:?}",
        erased.len(),
        started.elapsed()
    );
    erased.sort();
    let mut expected: Vec<String> = (0..20_000)
        .step_by(4)
        .map(|i| format!("contact:con_{i}/caller_details"))
        .chain(
            (1..20_000)
                .step_by(4)
                .map(|i| format!("resource:res_{i}/staff_locations/2026-12-07")),
        )
        .collect();
    expected.sort();
    assert_eq!(erased, expected);
    assert_eq!(log.load_keys().await.unwrap().len(), 10_000);
}
