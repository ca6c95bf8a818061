//! A log written by `3d01c86` (the demo centre and a generated day, committed under
//! `tests/fixtures/`) is read by every later version to the same state (issue 17):
//! `muster verify-log` passes on it, `muster replay` gives the state that `3d01c86`'s
//! own `muster replay` printed (`log-3d01c86.state.json`), and `muster migrate-log`
//! turns it into a log in the current format that replays to the same objects, whose
//! first event records the old head hash and whose password hashes moved to the
//! credential store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod binary;
use binary::repo_root;

const UNTIL: &str = "2100-01-01T00:00:00Z";

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// `muster ARGS` with `data` as its data dir; the output, whatever the exit status.
fn muster(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .current_dir(repo_root())
        .env("MUSTER_CONFIG", repo_root().join("config/muster.toml"))
        .env("MUSTER_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the muster binary runs")
}

fn ok_json(data: &Path, args: &[&str]) -> Value {
    let out = muster(data, args);
    assert!(
        out.status.success(),
        "muster {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A data dir holding a copy of the committed old log.
fn old_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("log-3d01c86.sqlite3"),
        dir.path().join("muster.sqlite"),
    )
    .unwrap();
    dir
}

/// The state without what changed on purpose: users no longer carry a password hash
/// (`3d01c86` printed it empty); they carry the seq that set their password; resources
/// carry their home (where they were registered).
fn comparable(mut state: Value) -> Value {
    for user in state["users"].as_object_mut().unwrap().values_mut() {
        let user = user.as_object_mut().unwrap();
        user.remove("password_hash");
        user.remove("password_seq");
    }
    for resource in state["resources"].as_object_mut().unwrap().values_mut() {
        resource.as_object_mut().unwrap().remove("home");
    }
    state
}

/// The parts of `actual` that `expected` has, so fields added since compare as equal.
fn assert_same(expected: &Value, actual: &Value, keys: &[&str]) {
    for &key in keys {
        assert!(
            expected[key] == actual[key],
            "{key} differs from what 3d01c86 replayed"
        );
    }
}

const OBJECTS: &[&str] = &[
    "contacts",
    "incidents",
    "resources",
    "assignments",
    "users",
    "messages",
    "usernames",
    "references",
    "cases",
    "plans",
    "improvements",
];

fn expected_state() -> Value {
    let text = std::fs::read_to_string(fixture("log-3d01c86.state.json")).unwrap();
    comparable(serde_json::from_str(&text).unwrap())
}

#[test]
fn the_3d01c86_log_verifies_and_replays_to_the_state_it_had() {
    let dir = old_data_dir();
    let report = ok_json(dir.path(), &["verify-log"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events"], 3000);
    let expected = expected_state();
    let replayed = comparable(ok_json(dir.path(), &["replay", "--until", UNTIL]));
    let every: Vec<&str> = expected
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_same(&expected, &replayed, &every);
}

#[test]
fn migrate_log_converts_it_keeping_the_objects_and_moving_the_passwords_out() {
    let old = old_data_dir();
    let new = tempfile::tempdir().unwrap();
    let to = new.path().join("muster.sqlite");
    let from = old.path().join("muster.sqlite");
    let done = ok_json(
        old.path(),
        &[
            "migrate-log",
            "--from",
            from.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
    );
    assert_eq!(done["events"], 3000);
    assert!(done["passwords"].as_u64().unwrap() > 0, "{done}");
    let report = ok_json(new.path(), &["verify-log"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events"], 3001);

    // The first event names the old log's head.
    let conn = rusqlite::Connection::open(&to).unwrap();
    let (kind, body): (String, String) = conn
        .query_row("SELECT kind, body FROM events WHERE seq = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let old_head: String = rusqlite::Connection::open(&from)
        .unwrap()
        .query_row(
            "SELECT hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "log.migrated");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["from_head"], old_head);
    assert_eq!(body["from_events"], 3000);

    let replayed = comparable(ok_json(new.path(), &["replay", "--until", UNTIL]));
    assert_same(&expected_state(), &replayed, OBJECTS);

    // No hash is left in the new log; the credential store holds them. The callers'
    // details are sealed in the events (the old log has them in clear; the snapshot
    // at the end holds the state, in clear, until an erasure rewrites it).
    let log_bytes = std::fs::read(&to).unwrap();
    assert!(!log_bytes.windows(10).any(|w| w == b"$argon2id$"));
    let phone = "07700 900123";
    let clear = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM events WHERE instr(body, ?1) > 0",
            [phone],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(clear(&rusqlite::Connection::open(&from).unwrap()) > 0);
    assert_eq!(clear(&conn), 0, "the callers' phone numbers are sealed");
    let creds = std::fs::read(new.path().join("credentials.sqlite3")).unwrap();
    assert!(creds.windows(10).any(|w| w == b"$argon2id$"));

    // Migrating again into the same file is refused: nothing is overwritten.
    let again = muster(
        old.path(),
        &[
            "migrate-log",
            "--from",
            from.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn the_hub_refuses_to_serve_an_unmigrated_log_and_names_the_command() {
    let dir = old_data_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_muster"))
        .arg("serve")
        .current_dir(repo_root())
        .env("MUSTER_CONFIG", repo_root().join("config/muster.toml"))
        .env("MUSTER_DATA_DIR", dir.path())
        .env("MUSTER_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the muster binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("muster migrate-log"), "{stderr}");
    // Nothing was written to the old log.
    let report = ok_json(dir.path(), &["verify-log"]);
    assert_eq!(report["events"], 3000);
}
