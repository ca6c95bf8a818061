//! Privacy rights against a real server on a SQLite log: an admin finds a caller by
//! phone number and exports their data (each read logged), erasure is refused under
//! legal hold and works once the incident is over, every view and a connected app show
//! `[erased]`, the snapshots keep no copy, a restart gives the same state, and the log
//! still verifies. A field user reads their own location history.

mod server;

use serde_json::{Value, json};

use muster::engine::EventKind;
use server::{Client, TestServer, http, loaded, resource_of};

const CALLER: &str = "Jo Privacy";
const PHONE: &str = "+44 20 7946 0999";

async fn get(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let (status, body) = http(s.running.addr, "GET", path, Some(token), None).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| json!({"raw": body})),
    )
}

/// The kinds of the log's events after `after`, with their bodies.
async fn logged_after(s: &TestServer, after: u64) -> Vec<(String, String)> {
    s.running
        .app
        .hub
        .log
        .read_from(after, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.body))
        .collect()
}

#[tokio::test]
async fn a_caller_is_found_exported_erased_after_the_hold_and_stays_erased_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), |_| {}).await;
    let mut op = s.client("operator").await;
    let admin = s.token("admin").await;

    // A caller, an incident from their call, a note with their words.
    let place = json!({"text": "12 Acacia Avenue", "lat": 51.5074, "lon": -0.1278});
    let (_, r) = op.command(json!({"kind": "contact.receive", "channel": "phone", "caller": {"name": CALLER, "phone": PHONE}, "summary": "My neighbour fell down the stairs", "location": place})).await;
    let contact = r["data"]["contact_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.open", "contact_id": contact, "type": "medical_emergency", "description": "Fall at 12 Acacia Avenue", "location": place})).await;
    let incident = r["data"]["incident_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.note", "incident_id": incident, "text": "Jo will leave the door open"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let subject = format!("caller:{contact}");

    // Search by the number as another person would write it; logged without the text.
    let before = s.running.app.hub.seq();
    let (status, found) = get(&s, "/api/privacy/search?q=020%207946%200999", &admin).await;
    assert_eq!(status, 200, "{found}");
    let subjects = found["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 1, "{found}");
    assert_eq!(subjects[0]["subject_id"], subject);
    assert_eq!(subjects[0]["label"], CALLER);
    assert_eq!(subjects[0]["records"][1]["type"], "incident");
    assert!(subjects[0]["records"][1]["reference"].is_string());
    let logged = logged_after(&s, before).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, EventKind::PrivacySearched.as_str());
    assert!(!logged[0].1.contains("7946"), "{}", logged[0].1);
    // Admins only.
    let (status, _) = get(&s, "/api/privacy/search?q=7946", &s.token("operator").await).await;
    assert_eq!(status, 403);

    // The export needs a purpose, has the data in clear, and is logged with it.
    let path = format!("/api/privacy/subjects/{subject}");
    let (status, e) = get(&s, &path, &admin).await;
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("purpose"),
        "{e}"
    );
    let (status, doc) = get(
        &s,
        &format!("{path}?purpose=subject%20access%20request"),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["held"]["contacts"][0]["caller"]["phone"], PHONE);
    assert_eq!(
        doc["held"]["incidents"][0]["notes"][0]["text"],
        "Jo will leave the door open"
    );
    let (kind, body) = logged_after(&s, s.running.app.hub.seq() - 1)
        .await
        .remove(0);
    assert_eq!(kind, EventKind::PrivacyAccessed.as_str());
    assert!(body.contains("subject access request"));

    // Erasure while the incident is open: 409 legal_hold.
    let erase = json!({"id": "erase-1", "command": {"kind": "privacy.erase", "subject_id": subject, "reason": "the caller asked"}});
    let (status, body) = http(
        s.running.addr,
        "POST",
        "/api/commands",
        Some(&admin),
        Some(&erase),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("legal_hold"), "{body}");

    // The incident ends; now it works, and a connected app is told.
    let (_, r) = op.command(json!({"kind": "incident.cancel", "incident_id": incident, "reason": "patient walked home"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, r) = op
        .command(json!({"kind": "contact.close", "contact_id": contact, "outcome": "linked"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let erase = json!({"id": "erase-2", "command": {"kind": "privacy.erase", "subject_id": subject, "reason": "the caller asked"}});
    let (status, body) = http(
        s.running.addr,
        "POST",
        "/api/commands",
        Some(&admin),
        Some(&erase),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let erased_seq: u64 = serde_json::from_str::<Value>(&body).unwrap()["seq"]
        .as_u64()
        .unwrap();
    let told = op.until_event(EventKind::PrivacyErased.as_str()).await;
    assert_eq!(told.last().unwrap()["event"]["subject_id"], subject);
    let mut scrubbed = s.running.app.hub.scrubbed.clone();
    tokio::time::timeout(server::WAIT, scrubbed.wait_for(|seq| *seq >= erased_seq))
        .await
        .expect("the erasure reaches the snapshots in time")
        .unwrap();

    // Every read shows [erased].
    let op_token = s.token("operator").await;
    let (status, state) = get(&s, "/api/state", &op_token).await;
    assert_eq!(status, 200);
    let text = state.to_string();
    for gone in [
        CALLER,
        "7946 0999",
        "fell down the stairs",
        "leave the door open",
        "Acacia",
    ] {
        assert!(!text.contains(gone), "{gone} still in /api/state");
    }
    assert!(text.contains("[erased]"));
    // The incident's timeline, read back from the log, too.
    let (status, detail) = get(&s, &format!("/api/incidents/{incident}"), &op_token).await;
    assert_eq!(status, 200, "{detail}");
    let detail = detail.to_string();
    for gone in ["leave the door open", "Fall at 12 Acacia", "Acacia"] {
        assert!(
            !detail.contains(gone),
            "{gone} still in the incident's timeline"
        );
    }
    assert!(detail.contains("[erased]"));
    let (_, found) = get(&s, "/api/privacy/search?q=7946%200999", &admin).await;
    assert_eq!(found["subjects"], json!([]));
    // A client resuming from before the erasure gets a fresh snapshot, not the old events.
    let again = Client::hello(&s.url(), &op_token, Some(before)).await;
    assert_eq!(again.welcome["resumed"], false, "{}", again.welcome);
    assert!(!again.welcome.to_string().contains(CALLER));

    // The snapshots hold no copy: one snapshot, written after the erasure.
    let db = muster::server::sqlite_path(&loaded(dir.path()));
    {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let bodies: Vec<(i64, String)> = conn
            .prepare("SELECT seq, body FROM snapshots")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(bodies.len(), 1);
        assert!(bodies[0].0 as u64 >= erased_seq);
        assert!(!bodies[0].1.contains(CALLER) && !bodies[0].1.contains(PHONE));
    }

    // A restart gives the same state, and the chain verifies.
    // `closed_since` follows the clock; everything else must be equal.
    let (_, mut state_before) = get(&s, "/api/state", &op_token).await;
    state_before["closed_since"] = Value::Null;
    drop(op);
    drop(again);
    s.running.shutdown().await;
    let s = TestServer::start_in(dir.path(), |_| {}).await;
    let op_token = s.token("operator").await;
    let (_, mut state_after) = get(&s, "/api/state", &op_token).await;
    state_after["closed_since"] = Value::Null;
    assert!(
        state_after == state_before,
        "the state changed across the restart"
    );
    let report = s.running.app.hub.log.verify().await.unwrap();
    assert!(report.ok, "{report:?}");
    s.running.shutdown().await;

    // No file of the data dir holds anything the caller gave: their name, number, the
    // place, their words (sealed in the events, and their keys gone).
    let gone = [
        CALLER,
        PHONE,
        "Acacia",
        "neighbour fell",
        "leave the door open",
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        for needle in gone {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{needle} in {}", path.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn a_field_user_sees_their_own_location_history_and_when_it_goes() {
    let s = TestServer::start().await;
    let res = resource_of(&s, "field1");
    let mut field = s.client("field1").await;
    for (lat, lon) in [(51.501, -0.141), (51.502, -0.142)] {
        let (_, r) = field
            .command(json!({"kind": "resource.locate", "resource_id": res, "lat": lat, "lon": lon}))
            .await;
        assert_eq!(r["ok"], true, "{r}");
    }
    // Another unit's ping is not theirs.
    let other = resource_of(&s, "field2");
    let mut f2 = s.client("field2").await;
    f2.command(json!({"kind": "resource.locate", "resource_id": other, "lat": 51.6, "lon": -0.2}))
        .await;

    let (status, body) = get(&s, "/api/me/locations", &s.token("field1").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource_id"], res.as_str());
    assert_eq!(body["retention_days"], 30);
    let points = body["locations"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{body}");
    assert_eq!(points[1]["lat"], 51.502);
    let at = chrono::DateTime::parse_from_rfc3339(points[0]["at"].as_str().unwrap()).unwrap();
    let erase_after =
        chrono::DateTime::parse_from_rfc3339(points[0]["erase_after"].as_str().unwrap()).unwrap();
    let expected = (at.date_naive() + chrono::Duration::days(31))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(erase_after.with_timezone(&chrono::Utc), expected);
    // A desk user carries no resource.
    let (status, _) = get(&s, "/api/me/locations", &s.token("operator").await).await;
    assert_eq!(status, 404);
    s.running.shutdown().await;
}

/// The retention sweep on the hub's timer (manual clock): nothing before the policy's
/// days have passed, then the staff locations of the old day, once, and the scrub.
#[tokio::test]
async fn the_hourly_sweep_erases_old_staff_locations_once() {
    use std::sync::Arc;

    use muster::engine::command as cmd;
    use muster::engine::{Actor, Command, Engine};
    use muster::hub::{Hub, HubOptions, demo, timers};
    use muster::store::sqlite::SqliteLog;
    use muster::time::{Clock, ManualClock};

    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = ManualClock::new(t0);
    let centre = muster::config::load_centre(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/centre.toml"),
    )
    .unwrap();
    let hub = Hub::start(
        Engine::new(centre),
        Arc::new(SqliteLog::open(&dir.path().join("muster.sqlite")).unwrap()),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        HubOptions::default(),
    )
    .await
    .unwrap();
    let seed = muster::config::load_demo(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo"),
    )
    .unwrap();
    demo::seed(&hub, &seed, |p| format!("test-hash-of-{p}"))
        .await
        .unwrap();
    let field = hub.with_state(|s| Actor::of(&s.users[&s.usernames["field1"]]));
    let res = field.resource_id.clone().unwrap();
    hub.submit(
        field.clone(),
        Some("ping".into()),
        Command::ResourceLocate(cmd::ResourceLocate {
            resource_id: res.clone(),
            lat: 51.5,
            lon: -0.12,
        }),
    )
    .await
    .unwrap();
    clock.set(t0 + chrono::Duration::days(30));
    assert!(timers::fire_sweep(&hub).await.is_none(), "nothing due yet");
    clock.set(t0 + chrono::Duration::days(31));
    let (_, result) = timers::fire_sweep(&hub).await.expect("something is due");
    let outcome = result.unwrap();
    assert!(hub.with_state(|s| s.resources[&res].location.is_none()));
    assert!(hub.with_state(|s| !s.privacy.location_days.contains_key(&res)));
    // Due once: the next hour finds nothing.
    clock.advance(chrono::Duration::hours(1));
    assert!(timers::fire_sweep(&hub).await.is_none());
    let mut scrubbed = hub.scrubbed.clone();
    tokio::time::timeout(server::WAIT, scrubbed.wait_for(|s| *s >= outcome.seq))
        .await
        .unwrap()
        .unwrap();
    let swept = hub
        .log
        .read_from(outcome.seq - 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(swept.kind, muster::engine::EventKind::PrivacySwept.as_str());
    assert!(
        swept.body.contains(&format!("\"id\":\"{res}\"")),
        "{}",
        swept.body
    );
}
