//! Web Push on a real hub with a manual clock, through `routes(app)`: the key route, the
//! acknowledge link a push carries (its window from the ladder, its expiry answered 410,
//! a garbled one 404, its use recorded `via: push` as the unit's own user), and the same
//! VAPID key after a restart. (Pushing to a real push service: tests/e2e/push.test.mjs.)

use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use serde_json::Value;

use muster::config::{Loaded, load_all_with_env};
use muster::http::App;
use muster::http::api::routes;
use muster::notify::push::ack_expiry;
use muster::server::start_hub;
use muster::time::{Clock as _, ManualClock};
use muster_core::domain::assignment::{AssignmentStatus, NewAssignment, Via};
use muster_core::domain::ids::{AssignmentId, IncidentId, ResourceId};
use muster_core::domain::triage::Priority;
use muster_core::engine::{Actor, Command, Event, Record};
use muster_core::testing::{assess_manual, assignment_create, incident_open};

fn loaded(dir: &std::path::Path) -> Loaded {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/muster.toml");
    let mut loaded = load_all_with_env(Some(&path), std::iter::empty::<(String, String)>())
        .expect("shipped configuration is valid");
    loaded.settings.store.data_dir = dir.to_path_buf();
    loaded.settings.server.public_url = "https://muster.example.org".into();
    loaded
}

struct World {
    app: Arc<App>,
    clock: ManualClock,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let loaded = loaded(dir.path());
        let clock = ManualClock::new(Utc::now().trunc_subsecs(3));
        let hub = start_hub(&loaded, Arc::new(clock.clone())).await.unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        World {
            app: App::new(hub, &loaded, rx),
            clock,
            _dir: dir,
            _stop: stop,
        }
    }

    fn actor(&self, username: &str) -> Actor {
        self.app
            .hub
            .with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
    }

    async fn run(
        &self,
        username: &str,
        command: Command,
    ) -> std::collections::BTreeMap<String, String> {
        let kind = command.kind();
        self.app
            .hub
            .submit(self.actor(username), None, command)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
            .data
    }

    /// A P1 medical emergency assigned to `field1`'s resource.
    async fn dispatch(&self) -> AssignmentId {
        let inc = IncidentId(
            self.run("operator", incident_open("medical_emergency", None))
                .await["incident_id"]
                .clone(),
        );
        self.run(
            "operator",
            assess_manual(&inc, Priority::P1, "not breathing"),
        )
        .await;
        let res: ResourceId = self
            .app
            .hub
            .with_state(|s| s.users[&s.usernames["field1"]].resource_id.clone().unwrap());
        AssignmentId(
            self.run("operator", assignment_create(&inc, &res, None))
                .await["assignment_id"]
                .clone(),
        )
    }

    /// The payload the hub would push for the assignment's creation.
    fn payload(&self, asg: &AssignmentId) -> Value {
        let hub = &self.app.hub;
        let pusher = self.app.push.as_ref().expect("push is on");
        let jobs = hub.with_state(|s| {
            let rec = Record {
                seq: s.seq,
                at: self.clock.now(),
                actor: self.actor("operator").user_id,
                command_id: None,
                event: Event::AssignmentCreated {
                    assignment: {
                        let a = &s.assignments[asg];
                        NewAssignment {
                            id: a.id.clone(),
                            incident_id: a.incident_id.clone(),
                            resource_id: a.resource_id.clone(),
                            responsibilities: a.responsibilities.clone(),
                            actions: Vec::new(),
                            reason: a.reason.clone(),
                        }
                    },
                },
            };
            pusher.jobs(s, &hub.engine.centre, &rec)
        });
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].user_id, self.actor("field1").user_id);
        jobs[0].payload.clone()
    }

    async fn post(&self, path: &str) -> (u16, Value, Option<String>) {
        let res = warp::test::request()
            .method("POST")
            .path(path)
            .reply(&routes(self.app.clone()))
            .await;
        let cache = res
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_string());
        let body = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        (res.status().as_u16(), body, cache)
    }
}

#[tokio::test]
async fn the_ack_link_works_within_the_escalation_window_and_is_410_after_it() {
    let w = World::start().await;
    let asg = w.dispatch().await;
    let payload = w.payload(&asg);
    let url = payload["ack_url"].as_str().unwrap();
    let path = url
        .strip_prefix("https://muster.example.org")
        .expect("the link points at server.public_url");
    // The urgent ladder's last rung is 120 s after notification: the window.
    let (notified, expiry) = w.app.hub.with_state(|s| {
        let a = &s.assignments[&asg];
        (a.notified_at, ack_expiry(s, &w.app.hub.engine.centre, a))
    });
    assert_eq!(expiry - notified, Duration::seconds(120));
    assert_eq!(payload["ack_expires_at"], muster::time::rfc3339(expiry));

    w.clock.set(expiry);
    let (status, body, _) = w.post(path).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("ack_link_expired"))
    );
    let waiting = w
        .app
        .hub
        .with_state(|s| s.assignments[&asg].status == AssignmentStatus::Notified);
    assert!(waiting, "an expired link changes nothing");

    // A garbled token is unknown.
    let (status, body, _) = w.post(&format!("{path}x")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    w.clock.set(expiry - Duration::seconds(1));
    let mut records = w.app.hub.subscribe_records();
    let (status, body, cache) = w.post(path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignment_id"], asg.as_str());
    assert_eq!(cache.as_deref(), Some("no-store"));
    // The log says how it came, and who.
    let batch = records.recv().await.unwrap();
    let acks: Vec<_> = batch
        .iter()
        .filter_map(|r| match &r.event {
            Event::AssignmentAcknowledged { via, .. } => Some((r.actor.clone(), *via)),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [(w.actor("field1").user_id, Some(Via::Push))]);
    // Once acknowledged, a new push carries no link.
    assert!(w.payload(&asg).get("ack_url").is_none());
    let (status, body, _) = w.post(path).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
}

#[tokio::test]
async fn the_public_key_needs_no_session_and_stays_the_same_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let loaded = loaded(dir.path());
        let hub = start_hub(&loaded, Arc::new(muster::time::SystemClock))
            .await
            .unwrap();
        let (_stop, rx) = tokio::sync::watch::channel(false);
        let app = App::new(hub, &loaded, rx);
        let res = warp::test::request()
            .method("GET")
            .path("/api/push/key")
            .reply(&routes(app.clone()))
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        keys.push(body["public_key"].as_str().unwrap().to_string());
        drop(app);
    }
    assert_eq!(keys[0], keys[1]);
    assert!(dir.path().join("vapid-private-key").exists());
}
