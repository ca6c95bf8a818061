//! Queries and complaints, colleague support and improvement actions against a real
//! server: the complaint and support flows end to end over the WebSocket, and case
//! and support-plan deadlines on a hub with a controllable clock. Their lifecycles
//! through the pure engine are in crates/core/tests/cases.rs.

mod server;
mod support;

use serde_json::{Value, json};

use server::{Client, TestServer, http};

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
    let (events, r) = op.command(json!({"kind": "case.open", "case_type": "complaint", "incident_id": incident, "contact_id": complaint, "from": "ada@example.org", "text": "Nobody came for an hour <script>alert('x')</script>"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let case = r["data"]["case_id"].as_str().unwrap().to_string();
    assert!(case.starts_with("case_"));
    let opened = events
        .iter()
        .find(|e| server::kind(e) == "case.opened")
        .unwrap();
    // A fact: what was given, not the read model (no status).
    assert_eq!(opened["event"]["case"].get("status"), None);
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
    // The same pack as one printable page, by query or by Accept.
    let page = raw_get(&s, &format!("/api/cases/{case}?format=html"), &token, None).await;
    let (head, html) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "content-disposition: inline; filename=\"case-{case}.html\""
        )),
        "{head}"
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script"),
        "no script, and the case text escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    for text in [
        "incident.opened",
        "incident.assessed",
        "Conformance",
        "@media print",
        &incident,
    ] {
        assert!(html.contains(text), "{text} missing from the page");
    }
    let by_accept = raw_get(&s, &format!("/api/cases/{case}"), &token, Some("text/html")).await;
    assert!(by_accept.contains("<!DOCTYPE html>"));
    let forbidden = raw_get(&s, &format!("/api/cases/{case}?format=html"), &field, None).await;
    assert!(forbidden.starts_with("HTTP/1.1 404"), "{forbidden}");
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
    // The review counts it.
    let (status, report) = get(&s, "/api/reports/performance?by=type", &token).await;
    assert_eq!(status, 200, "{report}");
    let groups = report["groups"].as_array().unwrap();
    let sum = |f: &str| groups.iter().map(|g| g[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("complaints"), 1, "{report}");
    assert_eq!(sum("upheld_complaints"), 1, "{report}");
    let fire = groups.iter().find(|g| g["key"] == "fire_alarm").unwrap();
    assert_eq!(fire["contacts"], 1);
    assert!(fire["intervals"]["answer"]["count"].is_u64(), "{fire}");
    let (status, _) = get(
        &s,
        "/api/reports/performance?by=channel&from=2020-01-01&to=2099-12-31",
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = get(&s, "/api/reports/performance?from=yesterday", &token).await;
    assert_eq!(status, 400);
    // Too few complaints for a finding. An action raised from a finding id is listed
    // with its figure before it was raised and over the period: over an open period
    // both include the one upheld complaint, so the share stayed at 1.0.
    assert_eq!(report["findings"], json!([]), "{report}");
    let due_on = (chrono::Utc::now() + chrono::Duration::days(30))
        .date_naive()
        .to_string();
    let d = ok(&mut sup, json!({"kind": "improvement.raise", "title": "Complaint handling", "finding": "upheld_complaints:centre:all", "owner_id": sup_id, "due_on": due_on})).await;
    let imp = d["improvement_id"].as_str().unwrap().to_string();
    let (_, report) = get(&s, "/api/reports/performance?by=type", &token).await;
    let listed = &report["improvements"][0];
    assert_eq!(listed["improvement_id"], imp, "{report}");
    assert_eq!(listed["finding_id"], "upheld_complaints:centre:all");
    assert_eq!(listed["figure"], "upheld_complaint_share");
    assert_eq!(listed["status"], "open");
    assert_eq!(listed["after"], 1.0);
    assert_eq!(listed["before"], 1.0, "{listed}");
    assert_eq!(listed["moved"], "unchanged");
}

/// A GET with an optional `Accept`, returning the whole response (head and body).
async fn raw_get(s: &TestServer, path: &str, token: &str, accept: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let addr = s.running.addr;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{accept}Connection: close\r\n\r\n"
    );
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out
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
    assert_eq!(
        proposed["notes"],
        json!([{"text": "After the Tuesday call"}])
    );
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

// ==================================================================================
// Hub: case and support-plan deadlines as `target.breached`, on a controllable clock
// ==================================================================================

mod deadlines {
    use std::sync::Arc;

    use chrono::Duration;
    use serde_json::Value;

    use muster::domain::ids::{CaseId, PlanId};
    use muster::engine::command as cmd;
    use muster::engine::visibility::Viewer;
    use muster::engine::{Actor, Command, Engine};
    use muster::hub::{Hub, HubOptions, demo, timers};
    use muster::store::sqlite::SqliteLog;
    use muster::time::{Clock, ManualClock};

    use super::support::{demo_centre, demo_seed, start_time};

    async fn hub_at(dir: &std::path::Path, clock: &ManualClock) -> Hub {
        let log = Arc::new(SqliteLog::open(&dir.join("log.sqlite")).expect("sqlite opens"));
        let options = HubOptions {
            // The tests read breaches from the journal, however far the clock moves.
            resume_window: Duration::days(60),
            ..HubOptions::default()
        };
        let hub = Hub::start(
            Engine::new(demo_centre()),
            log,
            Arc::new(clock.clone()),
            options,
        )
        .await
        .expect("hub starts");
        demo::seed(&hub, &demo_seed(), |_| "not-a-hash".to_string())
            .await
            .expect("seeds");
        hub
    }

    fn actor(hub: &Hub, username: &str) -> Actor {
        hub.with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
    }

    fn viewer(a: &Actor) -> Viewer {
        Viewer {
            user_id: a.user_id.clone(),
            role: a.role,
            resource_id: a.resource_id.clone(),
        }
    }

    async fn send(hub: &Hub, actor: &Actor, command: Command) -> String {
        let kind = command.kind();
        let out = hub
            .submit(actor.clone(), Some(format!("t-{}", hub.seq())), command)
            .await
            .unwrap_or_else(|e| panic!("{kind} refused: {e}"));
        out.data.values().next().cloned().unwrap_or_default()
    }

    /// Every `target.breached` in the journal: its event body, and who may see it.
    fn breaches(hub: &Hub, who: &[&Actor]) -> Vec<(Value, Vec<bool>)> {
        hub.journal_after(0)
            .iter()
            .filter(|p| p.kind == "target.breached")
            .map(|p| {
                let frame: Value = serde_json::from_slice(p.frame.as_bytes()).unwrap();
                let sees = who
                    .iter()
                    .map(|a| p.visibility.allows(&viewer(a)))
                    .collect();
                (frame["event"].clone(), sees)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_case_breaches_acknowledge_then_respond_once_each() {
        let dir = tempfile::tempdir().unwrap();
        // Monday 09:00: 24 hours to acknowledge, ten working days (two weeks) to respond.
        let clock = ManualClock::new(start_time());
        let t0 = clock.now();
        let hub = hub_at(dir.path(), &clock).await;
        let (op, op2, sup) = (
            actor(&hub, "operator"),
            actor(&hub, "operator2"),
            actor(&hub, "supervisor"),
        );
        let case = CaseId(
            send(
                &hub,
                &op,
                Command::CaseOpen(cmd::CaseOpen {
                    case_type: muster::domain::case::CaseType::Complaint,
                    incident_id: None,
                    contact_id: None,
                    from: "ada@example.org".into(),
                    text: "Nobody came".into(),
                    email: None,
                }),
            )
            .await,
        );
        clock.set(t0 + Duration::hours(24) - Duration::seconds(1));
        timers::fire_due(&hub).await;
        assert!(breaches(&hub, &[]).is_empty());
        clock.set(t0 + Duration::hours(24));
        timers::fire_due(&hub).await;
        timers::fire_due(&hub).await;
        let seen = breaches(&hub, &[&sup, &op, &op2]);
        assert_eq!(seen.len(), 1, "{seen:?}");
        let (event, sees) = &seen[0];
        assert_eq!(event["case_id"], case.as_str());
        assert_eq!(event["target"], "acknowledge");
        assert!(event.get("incident_id").is_none() && event.get("priority").is_none());
        assert_eq!(event["due_at"], "2026-03-03T09:00:00.000Z");
        // Unassigned: supervisors only.
        assert_eq!(sees, &[true, false, false]);

        // Assigned to operator2, never answered: the response deadline runs out on the
        // second Monday, and operator2 (the handler) sees it.
        send(
            &hub,
            &sup,
            Command::CaseAssign(cmd::CaseAssign {
                case_id: case.clone(),
                user_id: op2.user_id.clone(),
            }),
        )
        .await;
        clock.set(t0 + Duration::days(14) - Duration::seconds(1));
        timers::fire_due(&hub).await;
        assert_eq!(breaches(&hub, &[]).len(), 1);
        clock.set(t0 + Duration::days(14));
        timers::fire_due(&hub).await;
        clock.set(t0 + Duration::days(15));
        timers::fire_due(&hub).await;
        let seen = breaches(&hub, &[&sup, &op, &op2]);
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1].0["target"], "respond");
        assert_eq!(seen[1].1, [true, false, true]);
    }

    #[tokio::test]
    async fn a_case_answered_in_time_breaches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(start_time());
        let t0 = clock.now();
        let hub = hub_at(dir.path(), &clock).await;
        let op = actor(&hub, "operator");
        let case = CaseId(
            send(
                &hub,
                &op,
                Command::CaseOpen(cmd::CaseOpen {
                    case_type: muster::domain::case::CaseType::Query,
                    incident_id: None,
                    contact_id: None,
                    from: "bo".into(),
                    text: "When?".into(),
                    email: None,
                }),
            )
            .await,
        );
        clock.set(t0 + Duration::hours(2));
        send(
            &hub,
            &op,
            Command::CaseRespond(cmd::CaseRespond {
                case_id: case,
                response: "Tomorrow".into(),
            }),
        )
        .await;
        clock.set(t0 + Duration::days(30));
        timers::fire_due(&hub).await;
        assert!(breaches(&hub, &[]).is_empty());
    }

    #[tokio::test]
    async fn a_missed_plan_review_breaches_once_for_the_parties_and_supervisors() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(start_time());
        let t0 = clock.now();
        let hub = hub_at(dir.path(), &clock).await;
        let (op, op2, sup) = (
            actor(&hub, "operator"),
            actor(&hub, "operator2"),
            actor(&hub, "supervisor"),
        );
        let review_on = (t0 + Duration::days(7)).date_naive();
        let plan = PlanId(
            send(
                &hub,
                &sup,
                Command::SupportPropose(cmd::SupportPropose {
                    colleague_id: op.user_id.clone(),
                    areas: vec!["intake".into()],
                    support_type: "coaching".into(),
                    review_on,
                    notes: None,
                }),
            )
            .await,
        );
        // Not agreed yet: no review is due, however late.
        clock.set(t0 + Duration::days(9));
        timers::fire_due(&hub).await;
        assert!(breaches(&hub, &[]).is_empty());
        send(
            &hub,
            &op,
            Command::SupportAgree(cmd::SupportAgree {
                plan_id: plan.clone(),
            }),
        )
        .await;
        timers::fire_due(&hub).await;
        timers::fire_due(&hub).await;
        let seen = breaches(&hub, &[&sup, &op, &op2]);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0["plan_id"], plan.as_str());
        assert_eq!(seen[0].0["target"], "review");
        assert_eq!(seen[0].0["due_at"], "2026-03-10T00:00:00.000Z");
        assert_eq!(seen[0].1, [true, true, false]);
    }
}
