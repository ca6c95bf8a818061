//! The audit trail against the real binary: a log written by a real hub, then
//! `muster verify-log` on it untouched and after one event's body is edited behind the
//! hub's back, and `muster replay --until` (time travel) at moments the test chose.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::Connection;
use serde_json::Value;

use muster::engine::{Actor, Engine};
use muster::hub::{Hub, HubOptions, demo};
use muster::store::sqlite::SqliteLog;
use muster::time::ManualClock;
use support::{contact_receive, crate_path, demo_centre, demo_seed, incident_open};

/// The demo is seeded at this time; the incidents are opened later.
fn seeded_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap()
}

/// What [`write_log`] wrote and when.
struct Written {
    /// The last event of the command that opened the first incident.
    first_seq: u64,
    first_id: String,
    first_at: DateTime<Utc>,
    second_id: String,
    second_at: DateTime<Utc>,
    /// The log's head.
    head: u64,
}

/// Writes `<dir>/muster.sqlite` (the file `muster verify-log` reads under
/// `MUSTER_DATA_DIR=<dir>`) through a real hub with a manual clock: the demo centre,
/// then two incidents an hour apart, each with a contact. The hub's runtime is gone
/// when this returns, so the file is closed.
fn write_log(dir: &Path) -> Written {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = ManualClock::new(seeded_at());
        let log = Arc::new(SqliteLog::open(&dir.join("muster.sqlite")).unwrap());
        let hub = Hub::start(
            Engine::new(demo_centre()),
            log,
            Arc::new(clock.clone()),
            HubOptions::default(),
        )
        .await
        .unwrap();
        demo::seed(&hub, &demo_seed(), |_| "test-hash".into())
            .await
            .unwrap();
        let operator = hub.with_state(|s| {
            let u = &s.users[&s.usernames["operator"]];
            Actor {
                user_id: u.id.clone(),
                role: u.role,
                resource_id: None,
            }
        });
        let mut opened = Vec::new();
        for (n, hour) in [(1, 10), (2, 11)] {
            let at = Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0).unwrap();
            clock.set(at);
            let contact = hub
                .submit(
                    operator.clone(),
                    Some(format!("contact-{n}")),
                    contact_receive("Smoke in the stairwell"),
                )
                .await
                .unwrap();
            let contact_id = contact.data["contact_id"].as_str().into();
            let incident = hub
                .submit(
                    operator.clone(),
                    Some(format!("incident-{n}")),
                    incident_open("fire_alarm", Some(&contact_id)),
                )
                .await
                .unwrap();
            opened.push((incident.seq, incident.data["incident_id"].clone(), at));
        }
        // Something after the second incident, so an edit mid-log has events after it.
        clock.advance(Duration::minutes(5));
        hub.submit(
            operator.clone(),
            Some("contact-3".into()),
            contact_receive("Caller rang back"),
        )
        .await
        .unwrap();
        let [(first_seq, first_id, first_at), (_, second_id, second_at)] =
            <[_; 2]>::try_from(opened).unwrap();
        Written {
            first_seq,
            first_id,
            first_at,
            second_id,
            second_at,
            head: hub.seq(),
        }
    })
}

/// Runs the real binary from the repository root with the data directory `dir`.
fn muster(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .current_dir(crate_path(""))
        .env("MUSTER_CONFIG", crate_path("config/muster.toml"))
        .env("MUSTER_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the muster binary runs")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, dir)
}

#[test]
fn verify_log_reports_exactly_the_edited_event() {
    let (_tmp, dir) = data_dir();
    let w = write_log(&dir);

    let clean = muster(&dir, &["verify-log"]);
    assert!(clean.status.success(), "untouched log: {clean:?}");
    let report = stdout_json(&clean);
    assert_eq!(report["ok"], true);
    assert_eq!(report["events"], w.head);
    assert!(report.get("first_bad_seq").is_none(), "{report}");

    // One edit behind the hub's back: the location of the first incident.
    let db = Connection::open(dir.join("muster.sqlite")).unwrap();
    let k: u64 = db
        .query_row(
            "SELECT MIN(seq) FROM events WHERE kind = 'incident.opened'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64;
    assert!(k < w.head, "the edited event is not the last");
    let changed = db
        .execute(
            "UPDATE events SET body = replace(body, 'Civic Centre', 'Town Hall') WHERE seq = ?1",
            [k as i64],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let body: String = db
        .query_row("SELECT body FROM events WHERE seq = ?1", [k as i64], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(body.contains("Town Hall"), "the edit took: {body}");
    drop(db);

    let tampered = muster(&dir, &["verify-log"]);
    assert!(!tampered.status.success(), "tampered log: {tampered:?}");
    let report = stdout_json(&tampered);
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad_seq"], k, "{report}");
    assert_eq!(report["events"], k, "{report}");
}

#[test]
fn replay_until_shows_the_incidents_opened_by_then() {
    let (_tmp, dir) = data_dir();
    let w = write_log(&dir);

    let at = |t: DateTime<Utc>| {
        let out = muster(&dir, &["replay", "--until", &muster::time::rfc3339(t)]);
        assert!(out.status.success(), "replay --until {t}: {out:?}");
        stdout_json(&out)
    };
    let incidents = |state: &Value| -> Vec<String> {
        state["incidents"]
            .as_object()
            .unwrap_or_else(|| panic!("no incidents map: {state}"))
            .keys()
            .cloned()
            .collect()
    };

    let before = at(w.first_at - Duration::milliseconds(1));
    assert_eq!(incidents(&before), Vec::<String>::new());
    assert!(
        !before["users"].as_object().unwrap().is_empty(),
        "the demo was seeded before"
    );

    let between = at(w.first_at + Duration::minutes(30));
    assert_eq!(incidents(&between), vec![w.first_id.clone()]);
    assert_eq!(between["seq"], w.first_seq);

    // "Until" includes events stamped exactly then.
    let mut both = incidents(&at(w.second_at));
    both.sort();
    let mut want = vec![w.first_id.clone(), w.second_id.clone()];
    want.sort();
    assert_eq!(both, want);

    let now = at(w.second_at + Duration::hours(1));
    assert_eq!(now["seq"], w.head);
    for user in now["users"].as_object().unwrap().values() {
        // The state holds no hash at all: it is in the credential store.
        assert!(user.get("password_hash").is_none(), "{user}");
        assert!(user["password_seq"].as_u64().unwrap() > 0, "{user}");
    }
}
