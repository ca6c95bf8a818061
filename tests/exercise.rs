//! Exercise mode end to end in process: the exercise routes (and the live hub's
//! refusal of them), the simulator playing callers and units on the hub's clock through
//! the real API (each a logged-in user on a WebSocket), and determinism: the same
//! scenario, seed and steps write the same events.

mod server;
mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use muster::hub::exercise::{
    Exercise, SIMULATOR_USERNAME, Simulator, simulated_contacts, simulator_id,
};
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
    // What the apps ask: answered on every hub, so a live one logs no 404 in a browser.
    let (status, body) = get(&format!("{base}/api/mode"), None).await;
    assert_eq!((status, body), (200, serde_json::json!({"mode": "live"})));
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
    let (status, mode) = get(&format!("{base}/api/mode"), None).await;
    assert_eq!(status, 200);
    assert_eq!(mode["mode"], "exercise");
    assert_eq!(mode["exercise"], body);
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
    let mut sim = Simulator::connect(
        ts.running.app.hub.clone(),
        ts.running.addr,
        l.settings.limits.commands_per_second,
        exercise,
        &demo,
        l.places.clone(),
    )
    .await
    .unwrap();
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
/// compare) serving its API on a loopback port, the demo seeded (with its real
/// passwords: the simulated units log in), the simulator (over the API) and the timers
/// stepped every 5 simulated seconds, and a scripted trainee taking each simulated
/// contact. The hub is stepped: no timer or delivery task appends behind the test's back.
struct Run {
    hub: Hub,
    /// Users with a socket open, by role, once the simulator had connected.
    connected: Vec<(muster::domain::user::Role, usize)>,
    /// The usernames the simulator acted as.
    actors: Vec<String>,
    /// The simulator's commands the hub accepted over each user's socket.
    accepted: std::collections::BTreeMap<String, u64>,
    _stop: tokio::sync::watch::Sender<bool>,
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
            stepped: true,
            ..HubOptions::default()
        },
    )
    .await
    .unwrap();
    let hashes: std::collections::BTreeMap<String, String> = demo
        .users
        .iter()
        .map(|u| (u.password.clone(), muster::auth::hash_password(&u.password)))
        .collect();
    demo::seed(&hub, &demo, |p| hashes[p].clone())
        .await
        .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let app = muster::http::App::new(hub.clone(), &l, stop_rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(muster::http::serve(
        listener,
        app.clone(),
        muster::http::routes(app.clone()),
    ));
    let mut sim = Simulator::connect(
        hub.clone(),
        addr,
        l.settings.limits.commands_per_second,
        exercise.clone(),
        &demo,
        l.places.clone(),
    )
    .await
    .unwrap();
    let actors: Vec<String> = sim.connected().into_iter().map(String::from).collect();
    let connected = app.registry.users_by_role();
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
    Run {
        hub,
        connected,
        actors,
        accepted: sim.accepted(),
        _stop: stop,
        _dir: dir,
    }
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
    // The simulator is a real account of the exercise's log (intake: it may only
    // receive contacts), made by the system.
    let simulator = hub.with_state(|s| {
        let id = simulator_id(s).expect("the simulator's account");
        assert_eq!(s.users[&id].role, muster::domain::user::Role::Intake);
        id
    });
    assert!(log.iter().any(|e| {
        e.0 == "user.created"
            && e.1 == "system"
            && e.2
                .contains(&format!("\"username\":\"{SIMULATOR_USERNAME}\""))
    }));
    // It and every simulated unit acted through the API: each was logged in with a
    // socket open (the hub's own count of connected users by role).
    let units = exercise.scenario.units.len();
    assert_eq!(run.actors.len(), units + 1, "{:?}", run.actors);
    assert!(run.actors.iter().any(|a| a == SIMULATOR_USERNAME));
    let by_role = |role| {
        run.connected
            .iter()
            .find(|(r, _)| *r == role)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(by_role(muster::domain::user::Role::Intake), 1);
    assert_eq!(by_role(muster::domain::user::Role::Field), units);
    // Every command the simulator sent (its ids start `exercise:`) came back accepted
    // over the socket of the user it is logged as.
    let mut by_actor: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for e in hub.log.read_from(0, 1_000_000).await.unwrap() {
        if let Some(id) = e.command_id.filter(|id| id.starts_with("exercise:")) {
            by_actor.entry(e.actor).or_default().insert(id);
        }
    }
    let by_username: std::collections::BTreeMap<String, u64> = hub.with_state(|s| {
        by_actor
            .iter()
            .map(|(id, ids)| {
                let user = &s.users[&muster::domain::ids::UserId(id.clone())];
                (user.username.clone(), ids.len() as u64)
            })
            .collect()
    });
    assert!(by_username[SIMULATOR_USERNAME] >= 10, "{by_username:?}");
    assert!(by_username.len() >= 4, "{by_username:?}");
    let accepted: std::collections::BTreeMap<String, u64> = run
        .accepted
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(u, n)| (u.clone(), *n))
        .collect();
    assert_eq!(accepted, by_username);
    // Every event has a real user of the log (or the system) as its actor.
    let users = hub.with_state(|s| s.users.keys().map(|u| u.0.clone()).collect::<Vec<_>>());
    for e in &log {
        assert!(
            e.1 == "system" || users.contains(&e.1),
            "{} by {}: no user of this log",
            e.0,
            e.1
        );
    }
    // Every scripted and generated contact arrived, from the simulator's account, at
    // its time (to the step).
    let contacts = exercise.scenario.contacts();
    let received: Vec<_> = log
        .iter()
        .filter(|e| e.0 == "contact.received" && e.1 == simulator.0)
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

// ---- what an exercise sends out --------------------------------------------------

use muster::config::{ExerciseOutbound, SmtpSettings, SmtpTls};
use muster::notify::{self, Channels, Mailer, Webhook};
use muster_core::domain::ids::AssignmentId;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// A hub on a fresh log running `outbound` (or live, for `None`), with the demo seeded
/// and a P1 assignment to field1's resource.
async fn hub_with_assignment(
    dir: &Path,
    outbound: Option<ExerciseOutbound>,
) -> (Hub, AssignmentId) {
    let l = loaded(dir);
    let exercise = outbound.map(|o| {
        Arc::new(Exercise::new(scenario(dir, "quiet-night"), 1.0, 1, start_time()).with_outbound(o))
    });
    let log = Arc::new(SqliteLog::open(&dir.join("muster.sqlite")).unwrap());
    let hub = Hub::start(
        Engine::new(l.centre.clone()),
        log,
        Arc::new(ManualClock::new(start_time())),
        HubOptions {
            exercise,
            ..HubOptions::default()
        },
    )
    .await
    .unwrap();
    demo::seed(&hub, l.demo.as_ref().unwrap(), |p| format!("x-{p}"))
        .await
        .unwrap();
    let op = hub.with_state(|s| Actor::of(&s.users[&s.usernames["operator"]]));
    let out = hub
        .submit(
            op.clone(),
            None,
            support::incident_open("medical_emergency", None),
        )
        .await
        .unwrap();
    let inc = muster_core::domain::ids::IncidentId(out.data["incident_id"].clone());
    hub.submit(
        op.clone(),
        None,
        support::assess_manual(&inc, Priority::P1, "x"),
    )
    .await
    .unwrap();
    let res = hub.with_state(|s| s.users[&s.usernames["field1"]].resource_id.clone().unwrap());
    let out = hub
        .submit(op, None, support::assignment_create(&inc, &res, None))
        .await
        .unwrap();
    (hub, AssignmentId(out.data["assignment_id"].clone()))
}

/// A tiny HTTP gateway: each POST body, answered 200.
async fn gateway() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let length: usize = text[..i]
                        .to_lowercase()
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + length {
                        let body = String::from_utf8_lossy(&buf[i + 4..i + 4 + length]).to_string();
                        s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await
                        .unwrap();
                        let _ = tx.send(body);
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
    });
    (url, rx)
}

/// A tiny SMTP server (no TLS): each message's DATA.
async fn smtp_server() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(data.take().unwrap());
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            w.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

fn mailer(port: u16) -> Mailer {
    let smtp = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        from: "muster@example.org".into(),
        ..SmtpSettings::default()
    };
    Mailer::from_settings(&smtp, None).unwrap().unwrap()
}

fn last_notification(hub: &Hub) -> Value {
    let p = hub
        .journal_after(0)
        .into_iter()
        .rev()
        .find(|p| p.kind.as_str().starts_with("notification."))
        .expect("a notification event");
    serde_json::from_str::<Value>(&p.frame).unwrap()["event"].clone()
}

#[tokio::test]
async fn an_exercise_suppresses_webhooks_and_e_mail_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, asg) = hub_with_assignment(dir.path(), Some(ExerciseOutbound::Suppress)).await;
    let (url, mut posts) = gateway().await;
    let (port, mut mails) = smtp_server().await;
    let channels = Channels {
        webhook: Some(Webhook::parse(&url, std::time::Duration::from_secs(2)).unwrap()),
        email: Some(mailer(port)),
    };
    notify::deliver(&hub, &channels, &asg, 2, "sms")
        .await
        .unwrap();
    let event = last_notification(&hub);
    assert_eq!(event["kind"], "notification.failed", "{event}");
    assert!(
        event["error"].as_str().unwrap().starts_with("suppressed:"),
        "{event}"
    );
    notify::deliver(&hub, &channels, &asg, 3, "email")
        .await
        .unwrap();
    assert!(
        last_notification(&hub)["error"]
            .as_str()
            .unwrap()
            .starts_with("suppressed:")
    );
    // Nothing reached either server (each delivery is over when deliver returns).
    assert!(posts.try_recv().is_err());
    assert!(mails.try_recv().is_err());
}

#[tokio::test]
async fn an_exercise_marks_what_it_sends_when_told_to_and_a_live_hub_does_not() {
    for (outbound, marked) in [(Some(ExerciseOutbound::Mark), true), (None, false)] {
        let dir = tempfile::tempdir().unwrap();
        let (hub, asg) = hub_with_assignment(dir.path(), outbound).await;
        let (url, mut posts) = gateway().await;
        let (port, mut mails) = smtp_server().await;
        let channels = Channels {
            webhook: Some(Webhook::parse(&url, std::time::Duration::from_secs(2)).unwrap()),
            email: Some(mailer(port)),
        };
        notify::deliver(&hub, &channels, &asg, 2, "sms")
            .await
            .unwrap();
        assert_eq!(last_notification(&hub)["kind"], "notification.sent");
        let body: Value = serde_json::from_str(&posts.recv().await.unwrap()).unwrap();
        assert_eq!(body["exercise"] == true, marked, "{body}");
        assert_eq!(body["assignment_id"], asg.as_str());
        notify::deliver(&hub, &channels, &asg, 3, "email")
            .await
            .unwrap();
        assert_eq!(last_notification(&hub)["kind"], "notification.sent");
        let mail = mails.recv().await.unwrap();
        assert_eq!(
            mail.contains("Subject: EXERCISE: Muster: please acknowledge"),
            marked,
            "{mail}"
        );
        assert!(mail.contains("Muster: please acknowledge"), "{mail}");
    }
}

#[test]
fn an_exercise_push_title_is_marked() {
    let mut job = muster::notify::push::Job {
        user_id: muster_core::domain::ids::UserId("usr_1".into()),
        payload: serde_json::json!({"title": "P1 Medical emergency", "body": "x"}),
        topic: "t".into(),
        urgency: "high",
        ttl: 60,
        about: muster::notify::push::About::Assignment(AssignmentId("asg_1".into()), 0),
    };
    muster::notify::push::mark(&mut job);
    assert_eq!(job.payload["title"], "EXERCISE: P1 Medical emergency");
}
