//! Exercise mode end to end in process: the exercise routes (and the live hub's
//! refusal of them), the simulator playing callers and units on the hub's clock, and
//! determinism: the same scenario, seed and steps write the same events.

mod server;
mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use muster::hub::exercise::{Exercise, SIMULATOR_ACTOR, Simulator, simulated_contacts};
use muster::hub::{Hub, HubOptions, demo, timers};
use muster::server::Running;
use muster::store::sqlite::SqliteLog;
use muster::time::ManualClock;
use muster_core::config::exercise::Scenario;
use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::ids::ResourceId;
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::engine::{Actor, Command, Engine, command as cmd};
use server::{TestServer, loaded};
use support::start_time;

fn scenario(dir: &Path, name: &str) -> Scenario {
    let l = loaded(dir);
    l.load_exercise(&l.exercise_path(name)).unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_str(&res.text().await.unwrap()).unwrap(),
    )
}

async fn post(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_str(&res.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn a_live_hub_refuses_every_exercise_control() {
    let live = TestServer::start().await;
    let base = format!("http://{}", live.running.addr);
    let supervisor = live.token("supervisor").await;
    for (status, body) in [
        get(&format!("{base}/api/exercise"), None).await,
        get(&format!("{base}/api/exercise"), Some(&supervisor)).await,
        post(&format!("{base}/api/exercise/stop"), None).await,
        post(&format!("{base}/api/exercise/stop"), Some(&supervisor)).await,
    ] {
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "not_an_exercise", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only work under `muster exercise`"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_exercise_hub_says_what_it_plays_and_a_supervisor_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let l = muster::server::exercise_loaded(&loaded(dir.path()), dir.path());
    let started = start_time();
    let exercise = Arc::new(Exercise::new(
        scenario(dir.path(), "busy-evening"),
        20.0,
        7,
        started,
    ));
    let clock = Arc::new(ManualClock::new(started));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = Running::start_with(&l, listener, clock, Some(exercise.clone()))
        .await
        .unwrap();
    let ts = TestServer { running, dir: None };
    let base = format!("http://{}", ts.running.addr);
    // Anyone may read it: the log-in page shows the banner before a session exists.
    let (status, body) = get(&format!("{base}/api/exercise"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scenario"], "busy-evening");
    assert_eq!(body["title"], "Busy evening");
    assert_eq!(body["status"], "running");
    assert_eq!(body["speed"], 20.0);
    assert_eq!(body["started_at"], "2026-03-02T09:00:00.000Z");
    // The seed the exercise plays is the one its scenario expands with.
    assert_eq!(exercise.scenario.seed, 7);

    let (status, body) = post(&format!("{base}/api/exercise/stop"), None).await;
    assert_eq!(status, 401, "{body}");
    let operator = ts.token("operator").await;
    let (status, body) = post(&format!("{base}/api/exercise/stop"), Some(&operator)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(exercise.status(), "running");
    let supervisor = ts.token("supervisor").await;
    let (status, body) = post(&format!("{base}/api/exercise/stop"), Some(&supervisor)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ended");
    let (_, body) = get(&format!("{base}/api/exercise"), None).await;
    assert_eq!(body["status"], "ended");
    // The simulator stops with it.
    let demo = l.demo.clone().unwrap();
    let mut sim = Simulator::new(
        ts.running.app.hub.clone(),
        exercise,
        &demo,
        l.places.clone(),
    );
    assert_eq!(sim.step().await, 0);
}

#[test]
fn the_exercise_log_is_its_own_whatever_the_store_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = loaded(dir.path());
    l.settings.store.kind = muster::config::StoreKind::Redis;
    l.settings.privacy.master_key_file = "/live/master.key".into();
    let at: DateTime<Utc> = "2026-12-07T18:05:09.500Z".parse().unwrap();
    let ex_dir = muster::server::exercise_dir(&l, "busy-evening", at);
    assert_eq!(
        ex_dir,
        dir.path()
            .join("exercises")
            .join("busy-evening-20261207T180509")
    );
    let ex = muster::server::exercise_loaded(&l, &ex_dir);
    assert_eq!(ex.settings.store.kind, muster::config::StoreKind::Sqlite);
    assert_eq!(
        muster::server::sqlite_path(&ex),
        ex_dir.join("muster.sqlite")
    );
    assert_eq!(ex.settings.privacy.master_key_file, Path::new(""));
}

// ---- the simulator under the manual clock ----------------------------------------

/// One run of a scenario: a hub on a fresh SQLite log (nothing sealed, so the bodies
/// compare), the demo seeded, the simulator and the timers stepped every 5 simulated
/// seconds, and a scripted trainee taking each simulated contact.
struct Run {
    hub: Hub,
    _dir: tempfile::TempDir,
}

const STEP_SECS: i64 = 5;

async fn play(name: &str, seed: u64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let l = loaded(dir.path());
    let demo = l.demo.clone().unwrap();
    let scenario = scenario(dir.path(), name);
    let clock = ManualClock::new(start_time());
    let started = start_time();
    let exercise = Arc::new(Exercise::new(scenario, 10.0, seed, started));
    let log = Arc::new(SqliteLog::open(&dir.path().join("muster.sqlite")).unwrap());
    let hub = Hub::start(
        Engine::new(l.centre.clone()),
        log,
        Arc::new(clock.clone()),
        HubOptions {
            exercise: Some(exercise.clone()),
            ..HubOptions::default()
        },
    )
    .await
    .unwrap();
    demo::seed(&hub, &demo, |p| format!("not-a-hash-{p}"))
        .await
        .unwrap();
    let mut sim = Simulator::new(hub.clone(), exercise.clone(), &demo, l.places.clone());
    let contacts = exercise.scenario.contacts();
    let units: Vec<String> = exercise
        .scenario
        .units
        .iter()
        .map(|u| u.resource.clone())
        .collect();
    let operator = hub.with_state(|s| Actor::of(&s.users[&s.usernames["operator"]]));
    let mut handled = 0usize;
    let end = exercise.scenario.duration_secs() as i64 + 60;
    let mut t = 0;
    while t <= end {
        sim.step().await;
        for (command, result) in timers::fire_due(&hub).await {
            if let Err(e) = result {
                panic!("{} refused: {e}", command.kind().as_str());
            }
        }
        handled = trainee(&hub, &operator, &contacts, &units, handled, &demo).await;
        clock.advance(chrono::Duration::seconds(STEP_SECS));
        t += STEP_SECS;
    }
    assert_eq!(exercise.status(), "ended");
    Run { hub, _dir: dir }
}

/// The trainee: takes each simulated contact in turn; a report with a type opens an
/// incident, assessed at the scenario's priority, and dispatches the next simulated
/// unit in turn; a call about an earlier one is linked to its incident.
async fn trainee(
    hub: &Hub,
    operator: &Actor,
    contacts: &[muster_core::config::exercise::ScriptedContact],
    units: &[String],
    handled: usize,
    demo: &muster::config::Demo,
) -> usize {
    let received: Vec<_> = hub.with_state(|s| {
        simulated_contacts(s)
            .into_iter()
            .map(|c| (c.id.clone(), c.location.clone()))
            .collect()
    });
    let mut n = handled;
    while n < received.len() {
        let (contact_id, location) = received[n].clone();
        let scripted = &contacts[n];
        let submit = |c: Command| hub.submit(operator.clone(), None, c);
        submit(Command::ContactTake(cmd::ContactTake {
            contact_id: contact_id.clone(),
        }))
        .await
        .unwrap();
        if let Some(of) = &scripted.duplicate_of {
            let first = contacts.iter().position(|c| &c.id == of).unwrap();
            let incident = hub.with_state(|s| {
                simulated_contacts(s)
                    .get(first)
                    .and_then(|c| c.incident_id.clone())
            });
            if let Some(incident_id) = incident {
                submit(Command::ContactLink(cmd::ContactLink {
                    contact_id,
                    incident_id,
                }))
                .await
                .unwrap();
            }
        } else if let Some(kind) = &scripted.incident_type {
            let out = submit(Command::IncidentOpen(cmd::IncidentOpen {
                contact_id: Some(contact_id),
                incident_type: kind.clone(),
                description: scripted.says.clone(),
                location: location.unwrap_or_default(),
            }))
            .await
            .unwrap();
            let incident_id = muster_core::domain::ids::IncidentId(out.data["incident_id"].clone());
            submit(Command::IncidentAssess(cmd::IncidentAssess {
                incident_id: incident_id.clone(),
                validity: Validity::Verified,
                priority: Some(scripted.expected_priority.unwrap_or(Priority::P3)),
                method: TriageMethod::Manual,
                reason: "as the caller describes".into(),
                duplicate_of: None,
                impact: None,
                urgency: None,
            }))
            .await
            .unwrap();
            let unit = &units[n % units.len()];
            let key = demo
                .resources
                .iter()
                .find(|r| &r.key == unit || &r.name == unit)
                .unwrap();
            let resource_id: Option<ResourceId> = hub.with_state(|s| {
                s.resources
                    .values()
                    .find(|r| r.name == key.name)
                    .filter(|r| s.active_by_resource.get(&r.id).is_none_or(|a| a.is_empty()))
                    .map(|r| r.id.clone())
            });
            if let Some(resource_id) = resource_id {
                let _ = submit(Command::AssignmentCreate(cmd::AssignmentCreate {
                    incident_id,
                    resource_id,
                    responsibilities: None,
                    actions: None,
                    reason: Some("exercise".into()),
                }))
                .await;
            }
        }
        n += 1;
    }
    n
}

async fn events(hub: &Hub) -> Vec<(String, String, String, DateTime<Utc>)> {
    hub.log
        .read_from(0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.actor, e.body, e.at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_played_twice_with_the_same_seed_writes_the_same_events() {
    let a = play("busy-evening", 18).await;
    let b = play("busy-evening", 18).await;
    let (ea, eb) = (events(&a.hub).await, events(&b.hub).await);
    assert!(ea.len() > 200, "{}", ea.len());
    assert_eq!(ea.len(), eb.len());
    for (x, y) in ea.iter().zip(&eb) {
        assert_eq!(x, y);
    }
    // A different seed expands the arrival curve differently.
    let c = play("busy-evening", 19).await;
    assert_ne!(events(&c.hub).await, ea);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_callers_and_units_play_the_scenario() {
    let run = play("busy-evening", 18).await;
    let hub = &run.hub;
    let exercise = hub.options.exercise.clone().unwrap();
    let log = events(hub).await;
    let by = |kind: &str, actor: Option<&str>| {
        log.iter()
            .filter(|e| e.0 == kind && actor.is_none_or(|a| e.1 == a))
            .count()
    };
    // Every scripted and generated contact arrived, from the simulator's account, at
    // its time (to the step).
    let contacts = exercise.scenario.contacts();
    let received: Vec<_> = log
        .iter()
        .filter(|e| e.0 == "contact.received" && e.1 == SIMULATOR_ACTOR)
        .collect();
    assert_eq!(received.len(), contacts.len());
    for (event, scripted) in received.iter().zip(&contacts) {
        let body: Value = serde_json::from_str(&event.2).unwrap();
        assert_eq!(body["contact"]["summary"], scripted.says.as_str());
        let at = (event.3 - exercise.started_at).num_seconds();
        assert!(
            at >= scripted.at_secs as i64 && at < scripted.at_secs as i64 + STEP_SECS,
            "{} at {at}",
            scripted.id
        );
    }
    // Units acknowledged, travelled (reporting where they are), arrived and completed;
    // the declining unit declined, the silent one made the ladder escalate.
    let states = hub.with_state(|s| {
        s.assignments
            .values()
            .map(|a| a.status)
            .collect::<Vec<AssignmentStatus>>()
    });
    assert!(by("assignment.acknowledged", None) >= 3, "{states:?}");
    assert!(by("resource.located", None) >= 3);
    assert!(states.contains(&AssignmentStatus::Completed), "{states:?}");
    assert!(states.contains(&AssignmentStatus::Declined), "{states:?}");
    assert!(by("assignment.escalated", None) >= 1, "{states:?}");
    assert!(by("checkin.recorded", None) >= 1);
    assert!(by("checkin.missed", None) >= 1);
    // The hazard inject was reported from the field.
    assert!(
        log.iter()
            .any(|e| e.0 == "incident.noted" && e.2.contains("HAZARD: Power cable")),
        "no hazard note"
    );
    // Time ran on the hub's clock: nothing happened after the scenario ended.
    let last = log.last().unwrap().3;
    assert!(
        last <= exercise.started_at
            + chrono::Duration::seconds(exercise.scenario.duration_secs() as i64 + 60)
    );
}
