//! Queries and complaints, colleague support and improvement actions: lifecycles and
//! validation through the pure engine, and the complaint and support flows end to end
//! over the WebSocket against a real server.

mod server;
mod support;

use serde_json::{Value, json};

use muster::domain::case::{CaseOutcome, CaseStatus, CaseType};
use muster::domain::ids::{CaseId, ContactId, IncidentId};
use muster::engine::visibility;
use server::{Client, TestServer, http};
use support::*;

// ==================================================================================
// Engine: cases
// ==================================================================================

fn open_case(w: &mut World, incident: Option<&IncidentId>) -> CaseId {
    let op = w.actor("operator");
    let recs = w.ok(
        &op,
        case_open(CaseType::Complaint, incident, "Nobody came for an hour"),
    );
    CaseId(created(&recs, "case_id"))
}

#[test]
fn case_runs_open_assigned_responded_closed() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let inc = w.open_assessed(&op, "fire_alarm");
    let id = open_case(&mut w, Some(&inc));
    let c = &w.state.cases[&id];
    assert_eq!(c.status, CaseStatus::Open);
    assert_eq!(c.incident_ids, vec![inc.clone()]);
    assert_eq!(c.opened_by, op.user_id);
    let sup_id = sup.user_id.clone();
    assert_eq!(
        kinds(&w.ok(&op, case_assign(&id, &sup_id))),
        ["case.assigned"]
    );
    assert_eq!(w.state.cases[&id].assigned_to, Some(sup_id));
    w.ok(
        &sup,
        case_respond(&id, "We are sorry; the crew was delayed"),
    );
    assert_eq!(w.state.cases[&id].status, CaseStatus::Responded);
    w.ok(
        &sup,
        case_close(&id, CaseOutcome::Upheld, Some("late_dispatch")),
    );
    let c = &w.state.cases[&id];
    assert_eq!(c.status, CaseStatus::Closed);
    assert_eq!(c.outcome, Some(CaseOutcome::Upheld));
    assert_eq!(c.root_cause.as_deref(), Some("late_dispatch"));
    assert!(c.closed_at.is_some());
}

#[test]
fn case_lifecycle_and_validation_errors() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = open_case(&mut w, None);
    let e = w.err(&op, case_close(&id, CaseOutcome::Upheld, None));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(e.to_string(), "case cannot go from open to closed");
    let field1 = w.user_id("field1");
    let e = w.err(&op, case_assign(&id, &field1));
    assert_eq!(e.code(), "validation_failed");
    let e = w.err(&op, case_respond(&id, "  "));
    assert_eq!(e.code(), "validation_failed");
    w.ok(&op, case_respond(&id, "Sorry"));
    let e = w.err(
        &op,
        case_close(&id, CaseOutcome::Upheld, Some("bad_weather")),
    );
    assert_eq!(e.code(), "validation_failed");
    assert!(
        e.to_string().starts_with("root_cause: must be one of"),
        "{e}"
    );
    let e = w.err(&op, case_close(&id, CaseOutcome::Answered, None));
    assert_eq!(e.code(), "validation_failed");
    w.ok(&op, case_close(&id, CaseOutcome::NotUpheld, None));
    let e = w.err(&op, case_respond(&id, "again"));
    assert_eq!(e.code(), "invalid_transition");
    let missing = CaseId("case_999".into());
    assert_eq!(w.err(&op, case_respond(&missing, "x")).code(), "not_found");
    let nowhere = IncidentId("inc_999".into());
    let e = w.err(&op, case_open(CaseType::Query, Some(&nowhere), "where?"));
    assert_eq!(e.code(), "not_found");
    let mut blank = case_open(CaseType::Query, None, "x");
    if let muster::engine::Command::CaseOpen { from, .. } = &mut blank {
        from.clear();
    }
    assert_eq!(w.err(&op, blank).code(), "validation_failed");
}

#[test]
fn a_case_from_a_contact_links_the_contacts_incident() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let con = ContactId(created(&w.ok(&op, contact_receive("Smoke")), "contact_id"));
    let inc = IncidentId(created(
        &w.ok(&op, incident_open("fire_alarm", Some(&con))),
        "incident_id",
    ));
    let recs = w.ok(
        &op,
        muster::engine::Command::CaseOpen {
            case_type: CaseType::Query,
            incident_id: None,
            contact_id: Some(con.clone()),
            from: "Jo".into(),
            text: "When will the alarm be reset?".into(),
        },
    );
    let id = CaseId(created(&recs, "case_id"));
    assert_eq!(w.state.cases[&id].incident_ids, vec![inc]);
    assert_eq!(w.state.cases[&id].contact_id, Some(con));
    // A query may be answered straight away and closed as answered.
    w.ok(&op, case_respond(&id, "Tomorrow at nine"));
    w.ok(&op, case_close(&id, CaseOutcome::Answered, None));
}

#[test]
fn cases_are_seen_at_the_desk_only() {
    let mut w = World::demo();
    let id = open_case(&mut w, None);
    let seq = w.state.seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
    let ids = |name: &str| {
        muster::engine::view::state_for(&w.state, &w.viewer(name))["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("operator"), vec![id.0.clone()]);
    assert_eq!(ids("supervisor"), vec![id.0.clone()]);
    assert!(ids("admin").is_empty());
    assert!(ids("field1").is_empty());
    let _ = visibility::of;
}

#[test]
fn case_events_replay_to_the_same_state() {
    let mut w = World::demo();
    let id = open_case(&mut w, None);
    let op = w.actor("operator");
    w.ok(&op, case_respond(&id, "Sorry"));
    let replayed = replay_stored(Default::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
}

// ==================================================================================
// Server: the complaint flow over the WebSocket
// ==================================================================================

async fn ok(c: &mut Client, command: Value) -> Value {
    let (_, r) = c.command(command.clone()).await;
    assert_eq!(r["ok"], true, "{command} -> {r}");
    r["data"].clone()
}

async fn get(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let (status, body) = http(s.running.addr, "GET", path, Some(token), None).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn complaint_flow_end_to_end() {
    let s = TestServer::start().await;
    let mut op = s.client("operator").await;
    let mut sup = s.client("supervisor").await;
    // The incident the complaint is about.
    let d = ok(&mut op, json!({"kind": "contact.receive", "channel": "phone", "caller": {"name": "Ada"}, "summary": "Alarm sounding", "location": {"text": "Civic Centre", "lat": 51.5074, "lon": -0.1278}})).await;
    let contact = d["contact_id"].as_str().unwrap().to_string();
    let d = ok(&mut op, json!({"kind": "incident.open", "contact_id": contact, "type": "fire_alarm", "description": "Alarm sounding", "location": {"text": "Civic Centre", "lat": 51.5074, "lon": -0.1278}})).await;
    let incident = d["incident_id"].as_str().unwrap().to_string();
    ok(&mut op, json!({"kind": "incident.assess", "incident_id": incident, "validity": "verified", "priority": "P2", "method": "manual", "reason": "caller on scene"})).await;
    // The complaint arrives as a contact and becomes a case linked to the incident.
    let d = ok(&mut op, json!({"kind": "contact.receive", "channel": "email", "caller": {"email": "ada@example.org"}, "summary": "Nobody came for an hour", "reason": "complaint"})).await;
    let complaint = d["contact_id"].as_str().unwrap().to_string();
    let (events, r) = op.command(json!({"kind": "case.open", "case_type": "complaint", "incident_id": incident, "contact_id": complaint, "from": "ada@example.org", "text": "Nobody came for an hour"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let case = r["data"]["case_id"].as_str().unwrap().to_string();
    assert!(case.starts_with("case_"));
    let opened = events
        .iter()
        .find(|e| server::kind(e) == "case.opened")
        .unwrap();
    assert_eq!(opened["event"]["case"]["status"], "open");
    assert_eq!(opened["event"]["case"]["incident_ids"], json!([incident]));
    // The supervisor's socket sees it too.
    let seen = sup.until_event("case.opened").await;
    assert_eq!(seen.last().unwrap()["event"]["case"]["id"], case);
    // The evidence pack carries the incident's timeline and conformance.
    let token = s.token("supervisor").await;
    let (status, pack) = get(&s, &format!("/api/cases/{case}"), &token).await;
    assert_eq!(status, 200, "{pack}");
    assert_eq!(pack["case"]["id"], case);
    let first = &pack["incidents"][0];
    assert_eq!(first["id"], incident);
    let kinds: Vec<&str> = first["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"incident.opened"), "{kinds:?}");
    assert!(kinds.contains(&"incident.assessed"), "{kinds:?}");
    assert!(first["conformance"]["steps"].is_array(), "{first}");
    assert!(first["messages"].is_array());
    let field = s.token("field1").await;
    assert_eq!(get(&s, &format!("/api/cases/{case}"), &field).await.0, 404);
    assert_eq!(get(&s, "/api/cases/case_999", &token).await.0, 404);
    // Response, then closed upheld.
    let sup_id = s
        .running
        .app
        .hub
        .with_state(|st| st.usernames["supervisor"].0.clone());
    ok(
        &mut op,
        json!({"kind": "case.assign", "case_id": case, "user_id": sup_id}),
    )
    .await;
    ok(
        &mut sup,
        json!({"kind": "case.respond", "case_id": case, "response": "We are sorry"}),
    )
    .await;
    let (_, r) = sup.command(json!({"kind": "case.close", "case_id": case, "outcome": "upheld", "root_cause": "not_a_cause"})).await;
    assert_eq!(r["error"]["code"], "validation_failed", "{r}");
    ok(&mut sup, json!({"kind": "case.close", "case_id": case, "outcome": "upheld", "root_cause": "late_dispatch"})).await;
    let (_, state) = get(&s, "/api/state", &token).await;
    assert_eq!(state["cases"][0]["status"], "closed");
    assert_eq!(state["cases"][0]["outcome"], "upheld");
}
