//! The WebSocket protocol against a real server on port 0 with real clients.

mod server;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use server::{Client, TestServer, assessed_incident, kind, next_json, resource_of};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn a_whole_incident_across_operator_field_and_supervisor() {
    let s = TestServer::start().await;
    let mut op = s.client("operator").await;
    let mut sup = s.client("supervisor").await;
    let mut field1 = s.client("field1").await;
    let mut field2 = s.client("field2").await;
    assert_eq!(op.welcome["resumed"], false);
    assert!(op.welcome["snapshot"].is_object());

    let incident = assessed_incident(&mut op).await;
    let res = resource_of(&s, "field1");
    let (events, r) = op.command(json!({"kind": "assignment.create", "incident_id": incident, "resource_id": res,
        "responsibilities": "First aid until the ambulance arrives", "actions": [{"text": "Check breathing", "required": true}, {"text": "Meet the ambulance"}]})).await;
    assert_eq!(r["ok"], true, "{r}");
    let asg = r["data"]["assignment_id"].as_str().unwrap().to_string();
    assert!(
        events.iter().any(|e| kind(e) == "assignment.created"),
        "the result arrives after its own events"
    );
    assert!(r["seq"].as_u64().unwrap() >= events.last().unwrap()["seq"].as_u64().unwrap());

    let got = field1.until_event("assignment.created").await;
    let created = &got.last().unwrap()["event"]["assignment"];
    assert_eq!(created["id"], asg.as_str());
    assert_eq!(
        created["responsibilities"],
        "First aid until the ambulance arrives"
    );
    assert_eq!(created["actions"][0]["required"], true);

    let (_, r) = field1
        .command(json!({"kind": "assignment.acknowledge", "assignment_id": asg}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, r) = field1
        .command(json!({"kind": "assignment.progress", "assignment_id": asg, "status": "en_route"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, r) = field1
        .command(
            json!({"kind": "assignment.action_done", "assignment_id": asg, "action_id": "act_1"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let last = r["seq"].as_u64().unwrap();

    let mut seen = Vec::new();
    while sup.last_seq < last {
        let v = sup.next().await.expect("supervisor keeps receiving");
        if v["type"] == "event" {
            seen.push(kind(&v).to_string());
        }
    }
    for k in [
        "contact.received",
        "incident.opened",
        "incident.assessed",
        "assignment.created",
        "assignment.acknowledged",
        "assignment.progressed",
        "assignment.action_done",
    ] {
        assert!(
            seen.iter().any(|x| x == k),
            "supervisor missed {k}: {seen:?}"
        );
    }
    let other = field2.drain_for(Duration::from_millis(300)).await;
    assert!(
        other.iter().all(|v| v["type"] != "event"),
        "field2 saw another crew's work: {other:?}"
    );
    s.running.app.registry.check_invariants();
}

#[tokio::test]
async fn a_resumed_field_client_gets_exactly_the_visible_events_it_missed() {
    let s = TestServer::start().await;
    let mut op = s.client("operator").await;
    let incident = assessed_incident(&mut op).await;
    let res = resource_of(&s, "field1");
    let (_, r) = op
        .command(json!({"kind": "assignment.create", "incident_id": incident, "resource_id": res}))
        .await;
    let asg = r["data"]["assignment_id"].as_str().unwrap().to_string();
    let token = s.token("field1").await;
    let field = Client::hello(&s.url(), &token, None).await;
    let resume_from = field.last_seq;
    drop(field);

    let other = assessed_incident(&mut op).await;
    for i in 0..50 {
        let target = if i % 2 == 0 { &incident } else { &other };
        let (_, r) = op.command(json!({"kind": "incident.note", "incident_id": target, "text": format!("note {i}")})).await;
        assert_eq!(r["ok"], true);
    }
    let head = s.running.app.hub.seq();
    let expected: Vec<u64> = {
        let viewer = s.running.app.hub.with_state(|st| {
            let u = &st.users[&st.usernames["field1"]];
            muster::engine::visibility::Viewer {
                user_id: u.id.clone(),
                role: u.role,
                resource_id: u.resource_id.clone(),
            }
        });
        s.running
            .app
            .hub
            .journal_after(resume_from)
            .into_iter()
            .filter(|p| p.visibility.allows(&viewer))
            .map(|p| p.seq)
            .collect()
    };
    assert_eq!(
        expected.len(),
        25,
        "half the notes are on field1's incident"
    );

    let mut field = Client::hello(&s.url(), &token, Some(resume_from)).await;
    assert_eq!(field.welcome["resumed"], true);
    assert_eq!(field.welcome["seq"].as_u64().unwrap(), head);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let v = field.next().await.expect("missed events arrive");
        assert_eq!(v["type"], "event");
        got.push(v["seq"].as_u64().unwrap());
    }
    assert_eq!(got, expected, "exactly the visible missed events, in order");
    assert!(
        field.drain_for(Duration::from_millis(200)).await.is_empty(),
        "and nothing else"
    );
    let (_, r) = field
        .command(json!({"kind": "assignment.acknowledge", "assignment_id": asg}))
        .await;
    assert_eq!(r["ok"], true);
}

#[tokio::test]
async fn a_retried_command_id_on_a_new_connection_returns_the_first_result() {
    let s = TestServer::start().await;
    let token = s.token("operator").await;
    let mut a = Client::hello(&s.url(), &token, None).await;
    let cmd = json!({"kind": "contact.receive", "channel": "sms", "summary": "Streetlight down"});
    let (_, first) = a.command_with_id("retry-1", cmd.clone()).await;
    drop(a);
    let seq = s.running.app.hub.seq();
    let mut b = Client::hello(&s.url(), &token, Some(seq)).await;
    let (_, again) = b.command_with_id("retry-1", cmd).await;
    assert_eq!(first, again);
    assert_eq!(
        s.running.app.hub.seq(),
        seq,
        "nothing appended the second time"
    );
}

#[tokio::test]
async fn bad_input_gets_its_error_and_the_hub_keeps_serving() {
    let s = TestServer::start_with(
        |l| l.settings.limits.hello_timeout_secs = 1,
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let mut watcher = s.client("supervisor").await;
    let mut op = s.client("operator").await;

    op.send_raw("{not json").await;
    let v = op.next().await.unwrap();
    assert_eq!(
        (v["ok"].clone(), v["error"]["code"].clone()),
        (json!(false), json!("bad_request"))
    );
    let (_, r) = op.command(json!({"kind": "incident.explode"})).await;
    assert_eq!(r["error"]["code"], "bad_request");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant"),
        "{r}"
    );
    let (_, r) = op
        .command(json!({"kind": "contact.receive", "channel": 7, "summary": "x"}))
        .await;
    assert_eq!(r["error"]["code"], "bad_request");
    let (_, r) = op
        .command(json!({"kind": "contact.receive", "channel": "phone", "summary": ""}))
        .await;
    assert_eq!(r["error"]["code"], "validation_failed");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("summary"),
        "{r}"
    );

    // A field user acting on another crew's assignment.
    let incident = assessed_incident(&mut op).await;
    let res = resource_of(&s, "field1");
    let (_, r) = op
        .command(json!({"kind": "assignment.create", "incident_id": incident, "resource_id": res}))
        .await;
    let asg = r["data"]["assignment_id"].as_str().unwrap().to_string();
    let mut field2 = s.client("field2").await;
    let (_, r) = field2
        .command(json!({"kind": "assignment.acknowledge", "assignment_id": asg}))
        .await;
    assert_eq!(r["error"]["code"], "forbidden");

    // Invalid UTF-8 in a text frame.
    let mut raw = s.client("operator").await;
    raw.ws
        .send(Message::Frame(
            tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
                vec![0xff, 0xfe, 0xfd],
                tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
                    tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
                ),
                true,
            ),
        ))
        .await
        .unwrap();
    assert_eq!(raw.closed().await, Some(4400));

    // A 1 MiB frame.
    let mut big = s.client("operator").await;
    let _ = big.ws.send(Message::text("x".repeat(1 << 20))).await;
    assert_eq!(big.closed().await, Some(4413));

    // A command before hello, and no hello at all.
    let mut early = Client::connect(&s.url()).await;
    early
        .send(Message::text(
            json!({"type": "command", "id": "x", "command": {"kind": "contact.take"}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(server::close_code(&mut early).await, Some(4400));
    let mut silent = Client::connect(&s.url()).await;
    assert_eq!(server::close_code(&mut silent).await, Some(4408));
    let mut stranger = Client::connect(&s.url()).await;
    stranger
        .send(Message::text(
            json!({"type": "hello", "token": "made-up"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(server::close_code(&mut stranger).await, Some(4401));

    // Everyone else carries on.
    let (_, r) = op
        .command(json!({"kind": "contact.receive", "channel": "web", "summary": "Still here"}))
        .await;
    assert_eq!(r["ok"], true);
    let seen = watcher.until_event("contact.received").await;
    assert!(!seen.is_empty());
    s.running.app.registry.check_invariants();
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade() {
    let s = TestServer::start().await;
    let mut req = s.url().into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req)
        .await
        .expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("expected an HTTP 403, got {other:?}"),
    }
    let mut same = s.url().into_client_request().unwrap();
    same.headers_mut().insert(
        "Origin",
        format!("http://{}", s.running.addr).parse().unwrap(),
    );
    assert!(
        tokio_tungstenite::connect_async(same).await.is_ok(),
        "same origin is fine"
    );
}

#[tokio::test]
async fn logging_out_or_disabling_closes_the_users_sockets() {
    let s = TestServer::start().await;
    let token = s.token("operator2").await;
    let mut c = Client::hello(&s.url(), &token, None).await;
    s.running
        .app
        .tokens
        .revoke(&muster::auth::token_hash(&token))
        .await;
    assert_eq!(c.closed().await, Some(4401));

    let mut c = s.client("field3").await;
    let mut admin = s.client("admin").await;
    let uid = s
        .running
        .app
        .hub
        .with_state(|st| st.usernames["field3"].0.clone());
    let (_, r) = admin
        .command(json!({"kind": "user.disable", "user_id": uid}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(c.closed().await, Some(4401));
}

#[tokio::test]
async fn an_expired_session_closes_its_socket() {
    let s = TestServer::start_with(
        |l| l.settings.auth.token_ttl_secs = 1,
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let mut c = s.client("operator").await;
    let started = std::time::Instant::now();
    assert_eq!(c.closed().await, Some(4401));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4409_and_others_carry_on() {
    let s = TestServer::start_with(
        |l| {
            l.settings.limits.client_queue = 16;
            l.settings.limits.commands_per_second = 10_000;
        },
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let slow =
        Client::hello_with_tiny_buffer(&s.url(), s.running.addr, &s.token("supervisor").await)
            .await;
    let mut fast = s.client("supervisor").await;
    let mut op = s.client("operator").await;
    let text = "x".repeat(3_000);
    let mut last = 0;
    for _ in 0..2_000 {
        let (_, r) = op
            .command(json!({"kind": "contact.receive", "channel": "web", "summary": text}))
            .await;
        last = r["seq"].as_u64().unwrap();
        if s.running.app.registry.len() == 2 {
            break;
        }
    }
    assert_eq!(
        s.running.app.registry.len(),
        2,
        "the slow client was dropped from the registry"
    );
    while fast.last_seq < last {
        fast.next().await.expect("the fast client got everything");
    }
    let mut slow = slow;
    let code = loop {
        if let Some(code) = slow.ws.next_frame_or_close().await {
            break code;
        }
    };
    assert_eq!(code, Some(4409));
    s.running.app.registry.check_invariants();
}

trait NextFrame {
    async fn next_frame_or_close(&mut self) -> Option<Option<u16>>;
}

impl NextFrame for server::Ws {
    /// `Some(code)` on close, `None` on any other frame.
    async fn next_frame_or_close(&mut self) -> Option<Option<u16>> {
        use futures_util::StreamExt;
        match tokio::time::timeout(server::WAIT, self.next())
            .await
            .expect("frames keep coming")
        {
            Some(Ok(Message::Close(f))) => Some(f.map(|f| f.code.into())),
            None | Some(Err(_)) => Some(None),
            Some(Ok(_)) => None,
        }
    }
}

#[allow(dead_code)]
fn _unused(_: Value) {
    let _ = next_json;
}

#[tokio::test]
async fn a_restarted_hub_resumes_clients_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::start_in(dir.path(), |_| {}).await;
    let token_op = first.token("operator").await;
    let mut op = Client::hello(&first.url(), &token_op, None).await;
    let from = op.last_seq;
    let mut sent = Vec::new();
    for i in 0..5 {
        let (_, r) = op.command(json!({"kind": "contact.receive", "channel": "radio", "summary": format!("unit {i} reporting")})).await;
        sent.push(r["seq"].as_u64().unwrap());
    }
    drop(op);
    first.running.shutdown().await;

    let second = TestServer::start_in(dir.path(), |_| {}).await;
    let mut again = Client::hello(&second.url(), &second.token("operator").await, Some(from)).await;
    assert_eq!(
        again.welcome["resumed"], true,
        "the journal is empty after a restart; the log serves"
    );
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let v = again.next().await.unwrap();
        if v["event"]["kind"] == "contact.received" {
            got.push(v["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(got, sent);
}

#[tokio::test]
async fn a_client_beyond_the_resume_window_gets_a_snapshot() {
    let clock = muster::time::ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with(
        |l| l.settings.limits.resume_window_secs = 60,
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let token = s.token("operator").await;
    let mut op = Client::hello(&s.url(), &token, None).await;
    let from = op.last_seq;
    op.command(json!({"kind": "contact.receive", "channel": "phone", "summary": "old news"}))
        .await;
    clock.advance(chrono::Duration::seconds(61));
    let late = Client::hello(&s.url(), &token, Some(from)).await;
    assert_eq!(late.welcome["resumed"], false);
    assert!(
        late.welcome["snapshot"]["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["summary"] == "old news")
    );
}

#[tokio::test]
async fn json_ping_gets_a_pong_and_a_flood_of_commands_is_closed_with_4429() {
    let s = TestServer::start_with(
        |l| l.settings.limits.commands_per_second = 5,
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let mut c = s.client("operator").await;
    c.send_raw(r#"{"type":"ping"}"#).await;
    assert_eq!(c.next().await.unwrap(), json!({"type": "pong"}));
    for i in 0..50 {
        c.send_raw(&json!({"type": "command", "id": format!("f{i}"), "command": {"kind": "contact.take", "contact_id": "con_1"}}).to_string()).await;
    }
    assert_eq!(c.closed().await, Some(4429));
}

#[tokio::test]
async fn a_user_may_hold_only_the_configured_number_of_sockets() {
    let s = TestServer::start_with(
        |l| l.settings.limits.max_connections_per_user = 2,
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let token = s.token("field4").await;
    let _a = Client::hello(&s.url(), &token, None).await;
    let _b = Client::hello(&s.url(), &token, None).await;
    let mut third = Client::connect(&s.url()).await;
    third
        .send(Message::text(
            json!({"type": "hello", "token": token}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(server::close_code(&mut third).await, Some(4429));
    assert_eq!(
        s.running.app.registry.count_for(
            &s.running
                .app
                .hub
                .with_state(|st| st.usernames["field4"].clone())
        ),
        2
    );
}

#[tokio::test]
async fn every_frame_names_its_type_first() {
    let s = TestServer::start().await;
    let mut ws = Client::connect(&s.url()).await;
    ws.send(Message::text(
        json!({"type": "hello", "token": s.token("operator").await}).to_string(),
    ))
    .await
    .unwrap();
    let mut texts = Vec::new();
    ws.send(Message::text(r#"{"type":"command","id":"t1","command":{"kind":"contact.receive","channel":"chat","summary":"hello"}}"#)).await.unwrap();
    ws.send(Message::text(r#"{"type":"command","id":"t2","command":{"kind":"contact.take","contact_id":"con_missing"}}"#)).await.unwrap();
    ws.send(Message::text("junk")).await.unwrap();
    while texts.len() < 5 {
        match futures_util::StreamExt::next(&mut ws)
            .await
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => texts.push(t.to_string()),
            _ => continue,
        }
    }
    for t in &texts {
        assert!(t.starts_with(r#"{"type":""#), "type is not first in {t}");
    }
}

#[tokio::test]
async fn a_configured_intake_key_is_accepted_by_its_hash_alone() {
    let hash = muster::auth::token_hash("gateway-key-1");
    let s = TestServer::start_with(
        move |l| l.settings.auth.intake_key_hashes = vec![hash],
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let contact = json!({"channel": "sms", "summary": "Water pouring through the ceiling"});
    let (status, body) = server::http(
        s.running.addr,
        "POST",
        "/api/intake/contacts",
        Some("gateway-key-1"),
        Some(&contact),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server::http(
        s.running.addr,
        "POST",
        "/api/intake/contacts",
        Some("gateway-key-2"),
        Some(&contact),
    )
    .await;
    assert_eq!(status, 401);
}

/// `POST /api/login` from a chosen loopback source address; the status.
async fn log_in_from(addr: std::net::SocketAddr, source: [u8; 4], username: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(source), 0).into())
        .unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let body = json!({"username": username, "password": "not-the-password"}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The hub serves HTTP from its own accept loop, so warp never learns the peer by
/// itself: without the address handed over, every client would share one log-in
/// bucket and a shift logging in at once would be refused.
#[tokio::test]
async fn log_in_attempts_are_throttled_per_client_address() {
    let s = TestServer::start_with(
        |l| l.settings.auth.login_attempts_per_minute = 1,
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await;
    let addr = s.running.addr;
    // Ten attempts a minute per address (ten times an account's), each on its own
    // account so only the address bucket can run out.
    for i in 0..10 {
        assert_eq!(
            log_in_from(addr, [127, 0, 0, 1], &format!("nobody{i}")).await,
            401
        );
    }
    assert_eq!(log_in_from(addr, [127, 0, 0, 1], "nobody-more").await, 429);
    assert_eq!(log_in_from(addr, [127, 0, 0, 2], "nobody-else").await, 401);
}

/// The ids in one list of a snapshot.
fn snapshot_ids(snapshot: &Value, list: &str) -> Vec<String> {
    snapshot[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is an array: {snapshot}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

async fn cancelled_incident(op: &mut Client) -> String {
    let id = assessed_incident(op).await;
    let (_, r) = op
        .command(json!({"kind": "incident.cancel", "incident_id": id, "reason": "false alarm"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    id
}

#[tokio::test]
async fn a_fresh_snapshot_leaves_out_what_finished_before_the_window() {
    use muster::time::Clock;
    let clock = muster::time::ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with(|_| {}, std::sync::Arc::new(clock.clone())).await;
    let mut op = s.client("operator").await;
    let old = assessed_incident(&mut op).await;
    let res = resource_of(&s, "field1");
    let (_, r) = op
        .command(json!({"kind": "assignment.create", "incident_id": old, "resource_id": res}))
        .await;
    let old_assignment = r["data"]["assignment_id"].as_str().unwrap().to_string();
    let (_, r) = op
        .command(json!({"kind": "incident.cancel", "incident_id": old, "reason": "false alarm"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");

    // Past the default window of 72 hours; the sessions have expired meanwhile.
    clock.advance(chrono::Duration::hours(73));
    let mut op = s.client("operator").await;
    let recent = cancelled_incident(&mut op).await;
    let open = assessed_incident(&mut op).await;

    let token = s.token("supervisor").await;
    let sup = Client::hello(&s.url(), &token, None).await;
    assert_eq!(sup.welcome["resumed"], false);
    let since = muster::time::rfc3339(clock.now() - chrono::Duration::hours(72));
    let (status, body) =
        server::http(s.running.addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).unwrap();
    for snapshot in [&sup.welcome["snapshot"], &state] {
        assert_eq!(snapshot["closed_since"], since.as_str());
        let incidents = snapshot_ids(snapshot, "incidents");
        assert!(!incidents.contains(&old), "{old} finished 73 h ago");
        assert!(
            incidents.contains(&recent) && incidents.contains(&open),
            "{incidents:?}"
        );
        assert!(!snapshot_ids(snapshot, "assignments").contains(&old_assignment));
        assert!(!snapshot_ids(snapshot, "resources").is_empty());
    }

    let field = s.client("field1").await;
    let snapshot = &field.welcome["snapshot"];
    assert!(!snapshot_ids(snapshot, "assignments").contains(&old_assignment));
    assert!(!snapshot_ids(snapshot, "incidents").contains(&old));

    let path = format!("/api/incidents/{old}");
    let (status, body) = server::http(s.running.addr, "GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let detail: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(detail["status"], "cancelled");
}
