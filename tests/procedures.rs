//! The centre's procedures, enforced: the three triage methods on table cases,
//! duplicate detection, resource recommendation on a fixed map, the escalation ladder
//! and the other timers on a real hub with a manual clock (webhook received by a real
//! local HTTP server; a restart continues the ladder), the dispatch-before-assessment
//! rule with a supervisor's override in the conformance report, and per-recipient
//! broadcast acknowledgements for every audience. No sleeps: time moves by hand.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use muster::domain::geo::Location;
use muster::domain::ids::{AssignmentId, IncidentId, MessageId, ResourceId};
use muster::domain::incident::rules;
use muster::domain::message::Audience;
use muster::domain::procedure::EscalationAction;
use muster::domain::recommend;
use muster::domain::resource::{Position, Resource, ResourceStatus, ResourceType};
use muster::domain::triage::{Priority, TriageMethod, Validity};
use muster::engine::command as cmd;
use muster::engine::{Actor, Command, Engine, Event};
use muster::hub::{Hub, HubOptions, demo, timers};
use muster::notify::{self, Webhook};
use muster::projection::conformance::{self, StepStatus, Verdict};
use muster::store::sqlite::SqliteLog;
use muster::time::{Clock, ManualClock};

use support::*;

// ==================================================================================
// Triage: protocol, matrix, manual
// ==================================================================================

/// The latest assessment's priority and rule.
fn last_assessment(w: &World, id: &IncidentId) -> (Option<Priority>, Option<String>, TriageMethod) {
    let a = w.state.incidents[id].assessments.last().expect("assessed");
    (a.priority, a.rule.clone(), a.method)
}

/// Call-script answers, the priority they give and the rule that gives it.
type ProtocolCase<'a> = (&'a [(&'a str, Value)], Priority, &'a str);

#[test]
fn protocol_method_follows_the_call_script_rules() {
    let cases: [ProtocolCase<'_>; 6] = [
        (
            &[
                ("breathing", json!(false)),
                ("conscious", json!(true)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "not breathing",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(false)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "unconscious",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("severe")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "severe bleeding",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("minor")),
                ("casualties", json!(4)),
            ],
            Priority::P1,
            "multiple casualties",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P3,
            "alert, breathing, no bleeding",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("minor")),
                ("casualties", json!(1)),
            ],
            Priority::P2,
            "default",
        ),
    ];
    let mut w = World::demo();
    let op = w.actor("operator");
    for (answers, priority, rule) in cases {
        let id = w.open(&op, "medical_emergency");
        let recs = w.ok(&op, incident_answer(&id, answers));
        if rule != "default" {
            assert!(matches!(
                &recs[0].event,
                Event::IncidentAnswered { suggested_priority: Some(p), rule: Some(r), .. } if *p == priority && r == rule
            ));
        }
        w.ok(
            &op,
            assess(&id, Validity::Verified, None, TriageMethod::Protocol, ""),
        );
        assert_eq!(
            last_assessment(&w, &id),
            (
                Some(priority),
                Some(rule.to_string()),
                TriageMethod::Protocol
            ),
            "{answers:?}"
        );
    }
}

#[test]
fn matrix_method_reads_the_impact_by_urgency_table() {
    let cells = [
        ("widespread", "critical", Priority::P1),
        ("widespread", "medium", Priority::P2),
        ("significant", "high", Priority::P2),
        ("moderate", "critical", Priority::P2),
        ("moderate", "low", Priority::P4),
        ("minor", "critical", Priority::P3),
        ("minor", "low", Priority::P4),
    ];
    let mut w = World::demo();
    let op = w.actor("operator");
    for (impact, urgency, priority) in cells {
        let id = w.open(&op, "utility_outage");
        w.ok(&op, assess_matrix(&id, impact, urgency));
        assert_eq!(
            last_assessment(&w, &id),
            (
                Some(priority),
                Some(format!("{impact}×{urgency}")),
                TriageMethod::Matrix
            )
        );
    }
    let id = w.open(&op, "utility_outage");
    let e = w.err(&op, assess_matrix(&id, "catastrophic", "high"));
    assert_eq!(e.code(), "validation_failed");
    let mut no_urgency = assess_matrix(&id, "minor", "low");
    if let Command::IncidentAssess(cmd::IncidentAssess { urgency, .. }) = &mut no_urgency {
        *urgency = None;
    }
    assert_eq!(w.err(&op, no_urgency).code(), "validation_failed");
}

#[test]
fn manual_method_needs_a_reason_and_records_it() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "welfare_concern");
    let e = w.err(&op, assess_manual(&id, Priority::P2, "  "));
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(e.to_string(), "reason: the manual method needs a reason");
    w.ok(
        &op,
        assess_manual(&id, Priority::P1, "caller fears self-harm"),
    );
    let a = w.state.incidents[&id].assessments.last().unwrap();
    assert_eq!(
        (a.priority, a.method),
        (Some(Priority::P1), TriageMethod::Manual)
    );
    assert_eq!(a.reason, "caller fears self-harm");
    assert_eq!(a.rule, None);
}

// ==================================================================================
// Duplicate detection
// ==================================================================================

fn open_at(incident_type: &str, lat: f64, lon: f64) -> Command {
    Command::IncidentOpen(cmd::IncidentOpen {
        contact_id: None,
        incident_type: incident_type.into(),
        description: "Report from a passer-by".into(),
        location: Location {
            text: None,
            lat: Some(lat),
            lon: Some(lon),
        },
    })
}

fn duplicates_of(recs: &[muster::engine::Record]) -> Vec<(IncidentId, f64, i64)> {
    recs.iter()
        .find_map(|r| match &r.event {
            Event::IncidentOpened { duplicates, .. } => Some(
                duplicates
                    .iter()
                    .map(|d| (d.incident_id.clone(), d.distance_m, d.minutes_apart))
                    .collect(),
            ),
            _ => None,
        })
        .expect("an incident.opened")
}

#[test]
fn a_second_report_100_m_and_3_minutes_away_is_flagged_as_a_possible_duplicate() {
    let (lat, lon) = (51.5074, -0.1278);
    // ~100 m north is 0.0009° of latitude.
    let mut w = World::demo();
    let op = w.actor("operator");
    let first = IncidentId(created(
        &w.ok(&op, open_at("road_hazard", lat, lon)),
        "incident_id",
    ));
    w.advance(179);
    let recs = w.ok(&op, open_at("road_hazard", lat + 0.0009, lon));
    assert_eq!(duplicates_of(&recs), vec![(first.clone(), 100.0, 3)]);
    let second = IncidentId(created(&recs, "incident_id"));

    // The operator confirms it: a duplicate of the first, which may not be dispatched.
    let mut dup = assess(
        &second,
        Validity::Duplicate,
        None,
        TriageMethod::Manual,
        "same pothole",
    );
    if let Command::IncidentAssess(cmd::IncidentAssess { duplicate_of, .. }) = &mut dup {
        *duplicate_of = Some(first.clone());
    }
    w.ok(&op, dup);
    assert_eq!(w.state.incidents[&second].validity, Validity::Duplicate);

    // 1 km away: not flagged. Another type on the same spot: not flagged.
    let recs = w.ok(&op, open_at("road_hazard", lat + 0.009, lon));
    assert!(duplicates_of(&recs).is_empty());
    let recs = w.ok(&op, open_at("medical_emergency", lat, lon));
    assert!(duplicates_of(&recs).is_empty());
    // Two hours later on the same spot: outside the window.
    w.advance(2 * 3600);
    let recs = w.ok(&op, open_at("road_hazard", lat, lon));
    assert!(duplicates_of(&recs).is_empty());
}

// ==================================================================================
// Recommendation on a fixed map
// ==================================================================================

fn res(
    id: &str,
    kind: ResourceType,
    skills: &[&str],
    north_deg: Option<f64>,
    status: ResourceStatus,
) -> Resource {
    Resource {
        id: ResourceId(id.into()),
        name: id.to_uppercase(),
        resource_type: kind,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        team: "central".into(),
        status,
        location: north_deg.map(|d| Position {
            lat: 51.5 + d,
            lon: -0.12,
            at: start_time(),
        }),
        user_id: None,
        status_at: start_time(),
    }
}

#[test]
fn recommendation_ranks_ten_resources_with_reasons() {
    use ResourceStatus::{Assigned, Available, OffDuty};
    use ResourceType::{Person, Team, Vehicle};
    let map = [
        res("res_01", Person, &["first_aid"], Some(0.009), Available),
        res(
            "res_02",
            Person,
            &["first_aid", "driving"],
            Some(0.009),
            Available,
        ),
        res(
            "res_03",
            Vehicle,
            &["first_aid", "driving"],
            Some(0.045),
            Available,
        ),
        res("res_04", Person, &["first_aid"], Some(0.0), Available),
        res(
            "res_05",
            Team,
            &["first_aid", "fire_warden"],
            Some(0.018),
            Available,
        ),
        res("res_06", Person, &["security"], Some(0.0), Available),
        res("res_07", Person, &["first_aid"], Some(0.001), Assigned),
        res("res_08", Person, &["first_aid"], Some(0.001), OffDuty),
        res("res_09", Person, &["first_aid"], None, Available),
        res(
            "res_10",
            Person,
            &["first_aid", "security", "driving", "electrical"],
            Some(0.0045),
            Available,
        ),
    ];
    let centre = demo_centre();
    let kind = centre.incident_type("medical_emergency").unwrap();
    let at = Location {
        text: None,
        lat: Some(51.5),
        lon: Some(-0.12),
    };
    let jobs = BTreeMap::from([
        (ResourceId("res_02".into()), 1),
        (ResourceId("res_04".into()), 3),
    ]);
    let ranked = recommend::rank(kind, &at, &map, &centre.speeds_kmh, &jobs);
    let got: Vec<(&str, f64, &str)> = ranked
        .iter()
        .map(|r| (r.resource_id.as_str(), r.score, r.summary.as_str()))
        .collect();
    assert_eq!(got, EXPECTED_RANKING);
    assert_eq!(
        ranked[1].reasons,
        [
            "0.5 km, about 6 min",
            "has first_aid, driving, electrical, security",
            "no jobs today"
        ]
    );
    // Deterministic: the same input in another order gives the same ranking.
    let mut reversed = map.clone();
    reversed.reverse();
    assert_eq!(
        recommend::rank(kind, &at, &reversed, &centre.speeds_kmh, &jobs),
        ranked
    );
}

/// Off duty (res_08), busy (res_07) and unskilled (res_06) are filtered out. Travel
/// time dominates (a van 5 km away beats a walker 1 km away), then workload (res_04 on
/// the spot has had 3 jobs today), then spare skills; an unknown position comes last.
const EXPECTED_RANKING: &[(&str, f64, &str)] = &[
    (
        "res_04",
        0.75,
        "0.0 km, about 0 min; has first_aid; 3 jobs today",
    ),
    (
        "res_10",
        0.737,
        "0.5 km, about 6 min; has first_aid, driving, electrical, security; no jobs today",
    ),
    (
        "res_05",
        0.622,
        "2.0 km, about 8 min; has first_aid, fire_warden; no jobs today",
    ),
    (
        "res_03",
        0.583,
        "5.0 km, about 10 min; has first_aid, driving; no jobs today",
    ),
    (
        "res_01",
        0.518,
        "1.0 km, about 13 min; has first_aid; no jobs today",
    ),
    (
        "res_02",
        0.451,
        "1.0 km, about 13 min; has first_aid, driving; 1 job today",
    ),
    (
        "res_09",
        0.2,
        "distance unknown; has first_aid; no jobs today",
    ),
];

// ==================================================================================
// Dispatch before assessment, the supervisor's override, the conformance report
// ==================================================================================

#[test]
fn dispatching_an_unassessed_incident_needs_a_supervisors_override_shown_in_conformance() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let id = w.open(&op, "medical_emergency");
    let amara = w.resource("amara-okafor");

    let e = w.err(&op, assignment_create(&id, &amara, None));
    assert_eq!(e.code(), "procedure_violation");
    assert_eq!(
        e.to_string(),
        "assess validity and priority before dispatch"
    );
    assert!(
        matches!(&e, muster::engine::Error::ProcedureViolation { rule, .. } if rule == rules::DISPATCH_REQUIRES_ASSESSMENT)
    );

    let why = "caller collapsed mid-call; sending first, assessing after";
    let e = w.err(
        &op,
        incident_override(&id, rules::DISPATCH_REQUIRES_ASSESSMENT, why),
    );
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &sup,
        incident_override(&id, rules::DISPATCH_REQUIRES_ASSESSMENT, why),
    );
    let override_at = w.now;
    w.ok(&op, assignment_create(&id, &amara, None));

    let report = conformance::assess(&w.state, &w.state.incidents[&id], &w.log);
    let assessed = &report.steps[0];
    assert_eq!(assessed.step, "assessed");
    assert_eq!(assessed.status, StepStatus::Overridden);
    assert_eq!(assessed.by, Some(sup.user_id.clone()));
    assert_eq!(assessed.at, Some(override_at));
    assert_eq!(assessed.justification.as_deref(), Some(why));
    assert_eq!(report.steps[1].status, StepStatus::Done);
    // Closing is not reachable yet: pending, not missing.
    assert_eq!(report.steps[2].status, StepStatus::Pending);
    assert_eq!(report.steps[3].status, StepStatus::Pending);
    assert_eq!(report.verdict, Verdict::Pending);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["steps"][0]["status"], "overridden");
    assert_eq!(json["steps"][0]["justification"], why);
}

#[test]
fn a_resolved_incident_without_dispatch_reads_missing() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open_assessed(&op, "welfare_concern");
    w.ok(&op, incident_resolve(&id));
    let report = conformance::assess(&w.state, &w.state.incidents[&id], &w.log);
    let got: Vec<(&str, StepStatus)> = report.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        got,
        [
            ("assessed", StepStatus::Done),
            ("dispatched", StepStatus::Missing),
            ("required_actions_done", StepStatus::Pending),
            ("outcome_recorded", StepStatus::Done),
        ]
    );
    assert_eq!(report.verdict, Verdict::NotConforming);
}

// ==================================================================================
// Internal timer commands: the system actor only, and never twice
// ==================================================================================

#[test]
fn timer_commands_come_only_from_the_system_and_fire_once() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "medical_emergency");
    w.ok(&op, assess_manual(&id, Priority::P1, "not breathing"));
    let asg = w.assign(&op, &id, &w.resource("amara-okafor"));
    let rung = Command::TimerEscalate(cmd::TimerEscalate {
        assignment_id: asg.clone(),
        level: 1,
    });
    for who in ["operator", "supervisor", "admin", "field1"] {
        let e = w.err(&w.actor(who), rung.clone());
        assert_eq!(e.code(), "forbidden", "{who}");
    }
    // Not yet due: refused.
    assert_eq!(w.err(&Actor::system(), rung.clone()).code(), "conflict");
    w.advance(30);
    let due = muster::engine::timers::due(&w.state, &w.engine.centre, w.now);
    assert!(due.contains(&rung), "{due:?}");
    w.ok(&Actor::system(), rung.clone());
    assert_eq!(w.err(&Actor::system(), rung).code(), "conflict");
    assert_eq!(w.state.escalations[&asg], 1);
}

// ==================================================================================
// Broadcast acknowledgements for every audience
// ==================================================================================

#[test]
fn broadcast_acknowledgements_are_tracked_per_recipient_for_every_audience() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let inc = w.open_assessed(&op, "medical_emergency");
    w.assign(&op, &inc, &w.resource_of("field1"));
    let audiences = [
        Audience::All,
        Audience::Team("north".into()),
        Audience::Incident(inc.clone()),
        Audience::Resource(w.resource_of("field2")),
        Audience::User(w.user_id("operator2")),
    ];
    for audience in audiences {
        let recs = w.ok(
            &sup,
            broadcast(audience.clone(), "Acknowledge please", true),
        );
        let msg = MessageId(created(&recs, "message_id"));
        let recipients = w.state.messages[&msg].recipients.clone();
        assert!(!recipients.is_empty(), "{audience:?}");
        for (n, user) in recipients.iter().enumerate() {
            let actor = Actor::of(&w.state.users[user]);
            w.ok(&actor, message_ack(&msg));
            assert_eq!(w.state.messages[&msg].acks.len(), n + 1, "{audience:?}");
            assert_eq!(w.err(&actor, message_ack(&msg)).code(), "conflict");
        }
        let outsider = ["field8", "field5", "admin"]
            .into_iter()
            .map(|u| w.actor(u))
            .find(|a| !recipients.contains(&a.user_id));
        if let Some(a) = outsider {
            assert_eq!(
                w.err(&a, message_ack(&msg)).code(),
                "forbidden",
                "{audience:?}"
            );
        }
        let m = &w.state.messages[&msg];
        assert!(recipients.iter().all(|u| m.acks.contains_key(u)));
    }
}

// ==================================================================================
// A real hub with a manual clock: the ladder, the webhook, restarts
// ==================================================================================

async fn hub_at(path: &Path, clock: &ManualClock) -> Hub {
    let log = Arc::new(SqliteLog::open(path).expect("sqlite opens"));
    let hub = Hub::start(
        Engine::new(demo_centre()),
        log,
        Arc::new(clock.clone()),
        // The tests count events in the journal, whatever the manual clock says.
        HubOptions {
            resume_window: Duration::days(1),
            ..HubOptions::default()
        },
    )
    .await
    .expect("hub starts");
    demo::seed(&hub, &demo_seed(), |_| TEST_HASH.to_string())
        .await
        .expect("seeds");
    hub
}

fn hub_actor(hub: &Hub, username: &str) -> Actor {
    hub.with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
}

async fn send(
    hub: &Hub,
    actor: &Actor,
    command: Command,
) -> std::collections::BTreeMap<String, String> {
    let kind = command.kind();
    let id = format!("t-{}", uuid_like());
    match hub.submit(actor.clone(), Some(id), command).await {
        Ok(o) => o.data,
        Err(e) => panic!("{kind} refused: {e}"),
    }
}

fn uuid_like() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed))
}

/// A P1 medical emergency dispatched to field1's resource at the clock's now.
async fn p1_assignment(hub: &Hub) -> (IncidentId, AssignmentId) {
    let op = hub_actor(hub, "operator");
    let data = send(hub, &op, incident_open("medical_emergency", None)).await;
    let inc = IncidentId(data["incident_id"].clone());
    send(hub, &op, assess_manual(&inc, Priority::P1, "not breathing")).await;
    let res = hub_actor(hub, "field1").resource_id.unwrap();
    let data = send(hub, &op, assignment_create(&inc, &res, None)).await;
    (inc, AssignmentId(data["assignment_id"].clone()))
}

/// The escalations fired by one call, as `(level, action)`.
async fn fire_escalations(hub: &Hub) -> Vec<u32> {
    timers::fire_due(hub)
        .await
        .into_iter()
        .filter_map(|(c, r)| match c {
            Command::TimerEscalate(cmd::TimerEscalate { level, .. }) => {
                r.expect("fires");
                Some(level)
            }
            _ => None,
        })
        .collect()
}

/// The `assignment.escalated` events of one assignment in the log, in order.
fn escalated(
    hub: &Hub,
    asg: &AssignmentId,
) -> Vec<(u32, EscalationAction, Option<String>, chrono::DateTime<Utc>)> {
    hub.journal_after(0)
        .iter()
        .filter(|p| p.kind == "assignment.escalated")
        .filter_map(|p| {
            let v: Value = serde_json::from_str(&p.frame).unwrap();
            let e: Event = serde_json::from_value(v["event"].clone()).unwrap();
            match e {
                Event::AssignmentEscalated {
                    assignment_id,
                    level,
                    action,
                    channel,
                    ..
                } if &assignment_id == asg => Some((level, action, channel, p.at)),
                _ => None,
            }
        })
        .collect()
}

fn count(hub: &Hub, kind: &str) -> usize {
    hub.journal_after(0)
        .iter()
        .filter(|p| p.kind == kind)
        .count()
}

/// A tiny HTTP gateway: records each POST body, answers 200.
async fn gateway() -> (String, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let (head_end, length) = loop {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "request ended early");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    break (i + 4, length);
                }
            };
            while buf.len() < head_end + length {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let request_line =
                String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == b'\r').unwrap()])
                    .to_string();
            let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let _ = tx.send((request_line, body));
        }
    });
    (url, rx)
}

/// Waits (bounded) for the next durable event of `kind`.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<Arc<muster::hub::Published>>,
    kind: &str,
) -> Value {
    let wait = async {
        loop {
            let p = events.recv().await.expect("hub alive");
            if p.kind == kind {
                return serde_json::from_str::<Value>(&p.frame).unwrap();
            }
        }
    };
    tokio::time::timeout(StdDuration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} within 5 s"))
}

#[tokio::test]
async fn an_unacknowledged_p1_assignment_walks_the_whole_ladder_and_the_webhook_is_received() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let (url, mut posts) = gateway().await;
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2)).unwrap();
    let notifier = notify::spawn(hub.clone(), Some(webhook));
    let mut events = hub.subscribe();

    let t0 = clock.now();
    let (_, asg) = p1_assignment(&hub).await;
    // The demo's urgent ladder: 30 s renotify, 60 s sms, 90 s supervisor, 120 s next resource.
    let mut fired = Vec::new();
    for at in [29, 30, 45, 60, 61, 90, 119, 120, 300] {
        clock.set(t0 + Duration::seconds(at));
        for level in fire_escalations(&hub).await {
            fired.push((at, level));
        }
        if at == 60 {
            let (request_line, body) =
                tokio::time::timeout(StdDuration::from_secs(5), posts.recv())
                    .await
                    .expect("the gateway got a POST in time")
                    .unwrap();
            assert_eq!(request_line, "POST /sms/send HTTP/1.1");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["assignment_id"], asg.as_str());
            assert_eq!(body["channel"], "sms");
            assert_eq!(body["level"], 2);
            assert!(
                body["text"]
                    .as_str()
                    .unwrap()
                    .contains("please acknowledge")
            );
            let sent = next_event(&mut events, "notification.sent").await;
            assert_eq!(sent["event"]["assignment_id"], asg.as_str());
            assert_eq!(sent["event"]["status"], "HTTP 200");
        }
    }
    assert_eq!(fired, [(30, 1), (60, 2), (90, 3), (120, 4)]);
    let ladder = escalated(&hub, &asg);
    let got: Vec<(u32, EscalationAction, Option<&str>, i64)> = ladder
        .iter()
        .map(|(l, a, c, at)| (*l, *a, c.as_deref(), (*at - t0).num_seconds()))
        .collect();
    assert_eq!(
        got,
        [
            (1, EscalationAction::Renotify, Some("websocket"), 30),
            (2, EscalationAction::AlternativeChannel, Some("sms"), 60),
            (3, EscalationAction::SupervisorAlert, None, 90),
            (4, EscalationAction::SuggestNextResource, None, 120),
        ]
    );
    // The escalations are in the incident's timeline.
    let inc = hub.with_state(|s| s.assignments[&asg].incident_id.clone());
    let in_timeline = hub.with_state(|s| s.timelines[&inc].len());
    assert!(in_timeline >= 8);
    notifier.abort();
}

#[tokio::test]
async fn the_ladder_stops_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let t0 = clock.now();
    let (_, asg) = p1_assignment(&hub).await;
    clock.set(t0 + Duration::seconds(30));
    assert_eq!(fire_escalations(&hub).await, [1]);
    clock.set(t0 + Duration::seconds(40));
    send(&hub, &hub_actor(&hub, "field1"), acknowledge(&asg)).await;
    for at in [60, 90, 120, 600] {
        clock.set(t0 + Duration::seconds(at));
        assert!(fire_escalations(&hub).await.is_empty(), "at {at}");
    }
    assert_eq!(escalated(&hub, &asg).len(), 1);
}

#[tokio::test]
async fn after_a_restart_mid_ladder_the_ladder_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let clock = ManualClock::new(start_time());
    let t0 = clock.now();
    let asg = {
        let hub = hub_at(&path, &clock).await;
        let (_, asg) = p1_assignment(&hub).await;
        clock.set(t0 + Duration::seconds(30));
        assert_eq!(fire_escalations(&hub).await, [1]);
        asg
    };
    // A new hub on the same log, while the ladder is between rungs 1 and 2.
    let hub = hub_at(&path, &clock).await;
    assert_eq!(hub.with_state(|s| s.escalations[&asg]), 1);
    clock.set(t0 + Duration::seconds(45));
    assert!(
        fire_escalations(&hub).await.is_empty(),
        "rung 1 is not repeated"
    );
    clock.set(t0 + Duration::seconds(60));
    assert_eq!(fire_escalations(&hub).await, [2]);
    clock.set(t0 + Duration::seconds(90));
    assert_eq!(fire_escalations(&hub).await, [3]);
}

#[tokio::test]
async fn a_missed_checkin_and_a_breached_target_each_raise_exactly_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let op = hub_actor(&hub, "operator");
    let t0 = clock.now();

    // A P1 medical emergency nobody is sent to: its 60 s dispatch target runs out.
    let data = send(&hub, &op, incident_open("medical_emergency", None)).await;
    let waiting = IncidentId(data["incident_id"].clone());
    send(
        &hub,
        &op,
        assess_manual(&waiting, Priority::P1, "unconscious"),
    )
    .await;
    clock.set(t0 + Duration::seconds(59));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "target.breached"), 0);
    clock.set(t0 + Duration::seconds(61));
    timers::fire_due(&hub).await;
    timers::fire_due(&hub).await;
    let breaches: Vec<Value> = hub
        .journal_after(0)
        .iter()
        .filter(|p| p.kind == "target.breached")
        .map(|p| serde_json::from_str::<Value>(&p.frame).unwrap()["event"].clone())
        .collect();
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0]["incident_id"], waiting.as_str());
    assert_eq!(breaches[0]["target"], "dispatch");
    assert_eq!(breaches[0]["priority"], "P1");

    // Another resource on scene and silent: one missed check-in after the interval.
    let t1 = t0 + Duration::seconds(100);
    clock.set(t1);
    let f3 = hub_actor(&hub, "field3");
    let data = send(&hub, &op, incident_open("medical_emergency", None)).await;
    let inc = IncidentId(data["incident_id"].clone());
    send(
        &hub,
        &op,
        assess_manual(&inc, Priority::P2, "fainted, now awake"),
    )
    .await;
    let data = send(
        &hub,
        &op,
        assignment_create(&inc, f3.resource_id.as_ref().unwrap(), None),
    )
    .await;
    let asg = AssignmentId(data["assignment_id"].clone());
    send(&hub, &f3, acknowledge(&asg)).await;
    send(
        &hub,
        &f3,
        progress(&asg, muster::domain::assignment::AssignmentStatus::OnScene),
    )
    .await;
    // medical_emergency: check in every 300 s.
    clock.set(t1 + Duration::seconds(299));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 0);
    clock.set(t1 + Duration::seconds(300));
    timers::fire_due(&hub).await;
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 1);
    // The check-in comes; the next one is due a full interval later.
    clock.set(t1 + Duration::seconds(320));
    send(&hub, &f3, checkin(&asg, true)).await;
    clock.set(t1 + Duration::seconds(619));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 1);
    clock.set(t1 + Duration::seconds(620));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 2);
    assert_eq!(count(&hub, "target.breached"), 1, "no other target ran out");
}

/// The gateway may fail: the attempt is recorded as `notification.failed`.
#[tokio::test]
async fn a_failed_webhook_delivery_is_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let (_, asg) = p1_assignment(&hub).await;
    // Nothing listens on port 9 of localhost (discard): the connection is refused.
    let webhook = Webhook::parse("http://127.0.0.1:9/x", StdDuration::from_secs(1)).unwrap();
    let out = notify::deliver(&hub, Some(&webhook), &asg, 2, "sms")
        .await
        .unwrap();
    assert!(out.seq > 0);
    assert_eq!(count(&hub, "notification.failed"), 1);
    notify::deliver(&hub, None, &asg, 3, "sms").await.unwrap();
    assert_eq!(count(&hub, "notification.failed"), 2);
}
