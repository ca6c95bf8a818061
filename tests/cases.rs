//! Queries and complaints, colleague support and improvement actions: lifecycles and
//! validation through the pure engine, and the complaint and support flows end to end
//! over the WebSocket against a real server.

mod server;
mod support;

use serde_json::{Value, json};

use muster::domain::case::{CaseOutcome, CaseStatus, CaseType};
use muster::domain::ids::{CaseId, ContactId, ImprovementId, IncidentId, PlanId};
use muster::domain::improvement::ImprovementStatus;
use muster::domain::support::PlanStatus;
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
// Engine: support plans
// ==================================================================================

fn propose(w: &mut World) -> PlanId {
    let sup = w.actor("supervisor");
    let operator = w.user_id("operator");
    let recs = w.ok(
        &sup,
        support_propose(&operator, &["intake", "communication"], "coaching"),
    );
    PlanId(created(&recs, "plan_id"))
}

#[test]
fn a_plan_is_active_only_once_the_colleague_agrees() {
    let mut w = World::demo();
    let id = propose(&mut w);
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Proposed);
    assert_eq!(p.proposed_by, w.user_id("supervisor"));
    assert_eq!(p.review_on, review_date(28));
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    // Neither the proposer nor another operator may agree for the colleague.
    assert_eq!(w.err(&sup, support_agree(&id)).code(), "forbidden");
    assert_eq!(w.err(&op2, support_agree(&id)).code(), "not_found");
    // Not active yet, so not reviewable.
    let e = w.err(&sup, support_review(&id, "done"));
    assert_eq!(
        e.to_string(),
        "support plan cannot go from proposed to reviewed"
    );
    let recs = w.ok(&op, support_agree(&id));
    assert_eq!(kinds(&recs), ["support.agreed"]);
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Active);
    assert_eq!(p.agreed_by, Some(op.user_id.clone()));
    assert_eq!(p.agreed_at, Some(w.now));
    assert!(p.proposed_at < w.now);
    assert_eq!(w.err(&op, support_agree(&id)).code(), "invalid_transition");
    // Notes by either party or a supervisor; not by another operator.
    w.ok(&op, support_note(&id, "Shadowed Sam on nights"));
    w.ok(&sup, support_note(&id, "Good progress"));
    assert_eq!(w.err(&op2, support_note(&id, "nosy")).code(), "not_found");
    assert_eq!(w.state.plans[&id].notes.len(), 2);
    // Review by the proposer (the colleague may not review their own plan).
    assert_eq!(w.err(&op, support_review(&id, "fine")).code(), "forbidden");
    w.ok(&sup, support_review(&id, "Confident on intake now"));
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Reviewed);
    assert_eq!(p.review_outcome.as_deref(), Some("Confident on intake now"));
}

#[test]
fn proposals_are_validated_against_the_centres_lists() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let operator = w.user_id("operator");
    let operator2 = w.user_id("operator2");
    let field1 = w.user_id("field1");
    let e = w.err(&sup, support_propose(&operator, &["cooking"], "coaching"));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("areas[0]: must be one of"), "{e}");
    let e = w.err(&sup, support_propose(&operator, &[], "coaching"));
    assert_eq!(e.code(), "validation_failed");
    let e = w.err(&sup, support_propose(&operator, &["intake"], "karaoke"));
    assert!(e.to_string().starts_with("support_type:"), "{e}");
    let e = w.err(&sup, support_propose(&field1, &["intake"], "coaching"));
    assert!(e.to_string().starts_with("colleague_id:"), "{e}");
    let mut past = support_propose(&operator, &["intake"], "coaching");
    if let muster::engine::Command::SupportPropose { review_on, .. } = &mut past {
        *review_on = review_date(-1);
    }
    assert!(w.err(&sup, past).to_string().starts_with("review_on:"));
    // An operator may ask for support for themselves, not for a colleague.
    let e = w.err(&op, support_propose(&operator2, &["intake"], "coaching"));
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &op,
        support_propose(&operator, &["systems"], "guidance_notes"),
    );
}

#[test]
fn plans_are_seen_by_the_parties_and_supervisors_only() {
    let mut w = World::demo();
    let id = propose(&mut w);
    let seq = w.state.seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor"), seq));
    assert!(!w.sees(&w.viewer("operator2"), seq));
    assert!(!w.sees(&w.viewer("admin"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
    let plans = |name: &str| {
        muster::engine::view::state_for(&w.state, &w.viewer(name))["plans"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(plans("operator"), 1);
    assert_eq!(plans("supervisor"), 1);
    assert_eq!(plans("operator2"), 0);
    assert_eq!(plans("admin"), 0);
    let op = w.actor("operator");
    w.ok(&op, support_agree(&id));
    assert!(!w.sees(&w.viewer("operator2"), w.state.seq));
}

// ==================================================================================
// Engine: improvement actions
// ==================================================================================

#[test]
fn improvements_run_open_in_progress_done() {
    let mut w = World::demo();
    let plan = propose(&mut w);
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    let owner = w.user_id("operator");
    assert_eq!(
        w.err(&op, improvement_raise(&owner, &[], None)).code(),
        "forbidden"
    );
    let recs = w.ok(
        &sup,
        improvement_raise(&owner, &["resource_selection"], Some(&plan)),
    );
    let id = ImprovementId(created(&recs, "improvement_id"));
    let i = &w.state.improvements[&id];
    assert_eq!(i.status, ImprovementStatus::Open);
    assert_eq!(i.plan_id, Some(plan));
    assert_eq!(i.raised_by, sup.user_id);
    let e = w.err(&op, improvement_update(&id, ImprovementStatus::Done, None));
    assert_eq!(e.to_string(), "improvement cannot go from open to done");
    let e = w.err(
        &op2,
        improvement_update(&id, ImprovementStatus::InProgress, None),
    );
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &op,
        improvement_update(&id, ImprovementStatus::InProgress, Some("Started")),
    );
    w.ok(&sup, improvement_update(&id, ImprovementStatus::Done, None));
    let i = &w.state.improvements[&id];
    assert_eq!(i.status, ImprovementStatus::Done);
    assert_eq!(i.history.len(), 2);
    assert_eq!(i.history[0].note.as_deref(), Some("Started"));
    let e = w.err(
        &sup,
        improvement_update(&id, ImprovementStatus::Dropped, None),
    );
    assert_eq!(e.code(), "invalid_transition");
}

#[test]
fn improvements_are_validated() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let owner = w.user_id("operator");
    let e = w.err(&sup, improvement_raise(&owner, &["cooking"], None));
    assert!(e.to_string().starts_with("areas[0]:"), "{e}");
    let missing = PlanId("plan_999".into());
    let e = w.err(&sup, improvement_raise(&owner, &[], Some(&missing)));
    assert_eq!(e.code(), "not_found");
    let nobody = muster::domain::ids::UserId("usr_999".into());
    assert_eq!(
        w.err(&sup, improvement_raise(&nobody, &[], None)).code(),
        "not_found"
    );
    let mut late = improvement_raise(&owner, &[], None);
    if let muster::engine::Command::ImprovementRaise { due_on, title, .. } = &mut late {
        *due_on = review_date(-3);
        title.push('!');
    }
    assert!(w.err(&sup, late).to_string().starts_with("due_on:"));
    let missing = ImprovementId("imp_999".into());
    let e = w.err(
        &sup,
        improvement_update(&missing, ImprovementStatus::InProgress, None),
    );
    assert_eq!(e.code(), "not_found");
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

#[tokio::test]
async fn support_flow_over_the_websocket() {
    let s = TestServer::start().await;
    let mut sup = s.client("supervisor").await;
    let mut op = s.client("operator").await;
    let mut op2 = s.client("operator2").await;
    let operator = s
        .running
        .app
        .hub
        .with_state(|st| st.usernames["operator"].0.clone());
    let review_on = (chrono::Utc::now() + chrono::Duration::days(28)).date_naive();
    let d = ok(&mut sup, json!({"kind": "support.propose", "colleague_id": operator, "areas": ["intake"], "support_type": "coaching", "review_on": review_on.to_string(), "notes": "After the Tuesday call"})).await;
    let plan = d["plan_id"].as_str().unwrap().to_string();
    // The colleague sees the proposal on its socket; it is not active yet.
    let seen = op.until_event("support.proposed").await;
    let proposed = &seen.last().unwrap()["event"]["plan"];
    assert_eq!(proposed["id"], plan);
    assert_eq!(proposed["status"], "proposed");
    let op_token = s.token("operator").await;
    let (_, state) = get(&s, "/api/state", &op_token).await;
    assert_eq!(state["plans"][0]["status"], "proposed");
    ok(&mut op, json!({"kind": "support.agree", "plan_id": plan})).await;
    let (_, state) = get(&s, "/api/state", &op_token).await;
    assert_eq!(state["plans"][0]["status"], "active");
    assert_eq!(state["plans"][0]["agreed_by"], operator);
    assert!(state["plans"][0]["agreed_at"].is_string());
    sup.until_event("support.agreed").await;
    // Another operator sees none of it, on its socket or in its state.
    // A desk event after the plan's: everything before it in op2's stream is all
    // op2 was sent meanwhile.
    ok(
        &mut op,
        json!({"kind": "contact.receive", "channel": "phone", "summary": "Later call"}),
    )
    .await;
    let frames = op2.until_event("contact.received").await;
    assert!(
        frames
            .iter()
            .all(|f| !server::kind(f).starts_with("support.")),
        "{frames:?}"
    );
    let op2_token = s.token("operator2").await;
    let (_, state) = get(&s, "/api/state", &op2_token).await;
    assert_eq!(state["plans"], json!([]));
}
