//! `GET /api/exercise/debrief` on a hub started in exercise mode (manual clock): the
//! figures come from the exercise log, supervisors see every trainee, anyone else only
//! their own, and a live hub answers `404 not_an_exercise`.

mod server;

use std::sync::Arc;

use serde_json::{Value, json};

use muster::engine::command as cmd;
use muster::engine::{Actor, Command, Engine};
use muster::hub::exercise::Exercise;
use muster::hub::{Hub, HubOptions, demo};
use muster::store::sqlite::SqliteLog;
use muster::time::{Clock, ManualClock};

/// Who the scripted calls come from: the simulator's account
/// ([`muster::hub::exercise::simulator_account`]).
const SIMULATOR: &str = muster::hub::exercise::SIMULATOR_USERNAME;
use muster_core::config::exercise::Scenario;

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn scenario() -> Scenario {
    serde_json::from_value(json!({
        "name": "tiny", "title": "A tiny shift", "duration_mins": 30,
        "contacts": [{
            "id": "c01", "at_secs": 0, "channel": "phone",
            "says": "A man has collapsed in the library",
            "incident_type": "medical_emergency",
            "expected_priority": "P2", "why": "breathing and talking",
        }],
    }))
    .unwrap()
}

struct Setup {
    app: Arc<muster::http::App>,
    clock: ManualClock,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A hub on its own log, with the demo seeded and the simulator's account; in
/// exercise mode when `exercise`.
async fn start(exercise: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let loaded = server::loaded(dir.path());
    let clock = ManualClock::new(t0());
    let options = HubOptions {
        exercise: exercise.then(|| Arc::new(Exercise::new(scenario(), 20.0, 7, t0()))),
        ..HubOptions::default()
    };
    let hub = Hub::start(
        Engine::new(loaded.centre.clone()),
        Arc::new(SqliteLog::open(&dir.path().join("exercise.sqlite")).unwrap()),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        options,
    )
    .await
    .unwrap();
    demo::seed(&hub, loaded.demo.as_ref().unwrap(), |p| format!("hash-{p}"))
        .await
        .unwrap();
    muster::hub::exercise::simulator_account(&hub)
        .await
        .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let app = muster::http::App::new(hub, &loaded, stop_rx);
    Setup {
        app,
        clock,
        _stop: stop,
        _dir: dir,
    }
}

impl Setup {
    fn actor(&self, username: &str) -> Actor {
        self.app
            .hub
            .with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
    }

    /// Runs a command as `username` a few seconds after the last, returning its data.
    async fn run(&self, username: &str, id: &str, command: Command) -> Value {
        self.clock.advance(chrono::Duration::seconds(5));
        let out = self
            .app
            .hub
            .submit(self.actor(username), Some(id.into()), command)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        json!(out.data)
    }

    async fn get(&self, username: &str, path: &str) -> (u16, Value) {
        let user = self
            .app
            .hub
            .with_state(|s| s.users[&s.usernames[username]].clone());
        let (token, _) = self
            .app
            .tokens
            .issue(&user, self.app.hub.clock.now())
            .await
            .unwrap();
        let res = warp::test::request()
            .method("GET")
            .path(path)
            .header("authorization", format!("Bearer {token}"))
            .reply(&muster::http::routes(self.app.clone()))
            .await;
        let body = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        (res.status().as_u16(), body)
    }

    fn user_id(&self, username: &str) -> String {
        self.app.hub.with_state(|s| s.usernames[username].0.clone())
    }
}

/// The simulator's call, handled by `operator`: taken, opened, assessed P3 (the
/// scenario expects P2: under-triage) and dispatched.
async fn play(s: &Setup) -> String {
    let d = s
        .run(
            SIMULATOR,
            "c01",
            muster_core::testing::contact_receive("A man has collapsed in the library"),
        )
        .await;
    let contact = muster::domain::ids::ContactId(d["contact_id"].as_str().unwrap().into());
    s.run(
        "operator",
        "take",
        muster_core::testing::contact_take(&contact),
    )
    .await;
    let d = s
        .run(
            "operator",
            "open",
            muster_core::testing::incident_open("medical_emergency", Some(&contact)),
        )
        .await;
    let incident = muster::domain::ids::IncidentId(d["incident_id"].as_str().unwrap().into());
    s.run(
        "operator",
        "assess",
        muster_core::testing::assess_manual(
            &incident,
            muster::domain::triage::Priority::P3,
            "sounded fine",
        ),
    )
    .await;
    let unit = s.actor("field1").resource_id.unwrap();
    s.run(
        "operator",
        "assign",
        Command::AssignmentCreate(cmd::AssignmentCreate {
            incident_id: incident.clone(),
            resource_id: unit,
            responsibilities: None,
            actions: None,
            reason: None,
        }),
    )
    .await;
    incident.0
}

#[tokio::test]
async fn supervisors_see_every_trainee_and_a_trainee_only_their_own() {
    let s = start(true).await;
    let incident = play(&s).await;
    let op = s.user_id("operator");

    let (status, d) = s.get("supervisor", "/api/exercise/debrief").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["scenario"], "tiny");
    assert_eq!(d["speed"], 20.0);
    assert_eq!(d["started_at"], "2026-03-02T09:00:00Z");
    assert!(d["generated_at"].is_string());
    let trainees = d["trainees"].as_array().unwrap();
    assert_eq!(trainees.len(), 1, "{d}");
    let t = &trainees[0];
    assert_eq!(t["user_id"], op);
    assert_eq!(t["score"], 90, "{t}");
    assert_eq!(t["answer"]["count"], 1);
    assert_eq!(t["answer"]["median_secs"], 5);
    assert_eq!(t["dispatch"]["count"], 1);
    assert_eq!(t["dispatch"]["worst_secs"], 10);
    assert_eq!(t["triage"]["under"], 1);
    assert_eq!(t["triage"]["items"][0]["contact"], "c01");
    assert_eq!(t["triage"]["items"][0]["expected"], "P2");
    assert_eq!(t["triage"]["items"][0]["given"], "P3");
    assert_eq!(t["triage"]["items"][0]["method"], "manual");
    assert_eq!(t["penalties"][0]["rule"], "under_triage");
    assert_eq!(t["penalties"][0]["points"], 10);
    assert_eq!(t["duplicates"], json!({"linked": 0, "missed": 0}));
    let incidents = d["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["id"], incident);
    assert_eq!(incidents[0]["timeline"][0]["kind"], "incident.opened");
    assert_eq!(incidents[0]["timeline"][0]["actor"], op);

    // One trainee, by id; an admin sees as much.
    let (status, one) = s
        .get("supervisor", &format!("/api/exercise/debrief?user_id={op}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["trainees"].as_array().unwrap().len(), 1);
    assert_eq!(s.get("admin", "/api/exercise/debrief").await.1, d);

    // The trainee sees their own figures; another user sees no one's.
    let (status, mine) = s.get("operator", "/api/exercise/debrief").await;
    assert_eq!(status, 200);
    assert_eq!(mine["trainees"], d["trainees"]);
    assert_eq!(mine["incidents"], d["incidents"]);
    let (status, theirs) = s.get("operator2", "/api/exercise/debrief").await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["trainees"], json!([]));
    assert_eq!(theirs["incidents"], json!([]));
    let (status, e) = s
        .get("operator2", &format!("/api/exercise/debrief?user_id={op}"))
        .await;
    assert_eq!(status, 403, "{e}");
}

#[tokio::test]
async fn a_live_hub_has_no_debrief() {
    let s = start(false).await;
    play(&s).await;
    let (status, e) = s.get("supervisor", "/api/exercise/debrief").await;
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "not_an_exercise");
    // The mode the apps ask tells them not to link the debrief.
    let (status, m) = s.get("field1", "/api/mode").await;
    assert_eq!(status, 200);
    assert_eq!(m["mode"], "live");
}

#[tokio::test]
async fn the_mode_says_the_hub_runs_an_exercise() {
    let s = start(true).await;
    let (status, m) = s.get("field1", "/api/mode").await;
    assert_eq!(status, 200);
    assert_eq!(m["mode"], "exercise");
    assert!(m["exercise"]["title"].is_string());
}
