//! A partner centre following a shared incident over a real WebSocket (`/ws/eido`,
//! NENA-STA-024 style): it connects with its key, subscribes, and receives the
//! incident's whole EIDO within a second of each change; an incident not shared with
//! it produces nothing; it may send no command and reads no state; when sharing ends
//! it is told and hears no more.

mod server;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use server::{TestServer, Ws, http, next_json, resource_of};

const PARTNER: &str = "county-fire";
const PARTNER_KEY: &str = "test-partner-key-county-fire";

async fn start() -> TestServer {
    let entry = format!("{PARTNER}:{}", muster::auth::token_hash(PARTNER_KEY));
    TestServer::start_with(
        move |l| l.settings.auth.partner_keys = vec![entry],
        std::sync::Arc::new(muster::time::SystemClock),
    )
    .await
}

async fn connect(s: &TestServer, key: &str) -> Result<Ws, u16> {
    let url = format!("ws://{}/ws/eido", s.running.addr);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next frame within `d`, or `None`.
async fn within(ws: &mut Ws, d: Duration) -> Option<Value> {
    tokio::time::timeout(d, next_json(ws)).await.ok().flatten()
}

/// Waits up to 1 s for a `notify` whose EIDO satisfies `check`; returns it and how
/// long it took. Earlier notifies (of the same change, already seen) are skipped.
async fn update_within_a_second(ws: &mut Ws, check: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(1);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(v) = within(ws, left).await else {
            panic!("no EIDO update within 1 s");
        };
        assert_eq!(v["type"], "notify", "{v}");
        if check(&v["eido"]) {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_follows_a_shared_incident_and_nothing_else() {
    let s = start().await;
    let mut op = s.client("operator").await;
    let shared = server::assessed_incident(&mut op).await;
    let other = server::assessed_incident(&mut op).await;

    // A wrong key is refused at the upgrade, and a partner key opens no session.
    assert_eq!(connect(&s, "not-a-key").await.err(), Some(401));
    let (status, _) = http(s.running.addr, "GET", "/api/state", Some(PARTNER_KEY), None).await;
    assert_eq!(status, 401, "a partner reads no state");
    let url = format!("ws://{}/ws", s.running.addr);
    let mut desk_ws = server::Client::connect(&url).await;
    send(&mut desk_ws, json!({"type": "hello", "token": PARTNER_KEY})).await;
    assert_ne!(
        server::close_code(&mut desk_ws).await,
        None,
        "no desk socket for a partner"
    );

    let mut ws = connect(&s, PARTNER_KEY)
        .await
        .expect("the partner connects");
    send(&mut ws, json!({"type": "subscribe"})).await;
    let v = within(&mut ws, Duration::from_secs(1)).await.unwrap();
    assert_eq!(v["type"], "subscribed", "{v}");
    assert_eq!(
        within(&mut ws, Duration::from_millis(300)).await,
        None,
        "nothing shared yet"
    );

    // Shared: the EIDO at once.
    let (_, r) = op
        .command(json!({"kind": "incident.share", "incident_id": shared, "partner": PARTNER}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let first = update_within_a_second(&mut ws, |_| true).await;
    assert_eq!(first["incident_id"], shared.as_str());
    let tracking = first["eido"]["incidentComponent"][0]["incidentTrackingIdentifier"].clone();
    assert!(tracking.as_str().unwrap().contains(&shared));

    // Three changes, three updates, each within a second and showing the change.
    op.command(
        json!({"kind": "incident.note", "incident_id": shared, "text": "Access by the rear gate"}),
    )
    .await;
    update_within_a_second(&mut ws, |e| {
        e["notesComponent"][0]["notesActionComments"] == "Access by the rear gate"
    })
    .await;
    let resource = resource_of(&s, "field1");
    let (_, r) = op
        .command(
            json!({"kind": "assignment.create", "incident_id": shared, "resource_id": resource}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    update_within_a_second(&mut ws, |e| {
        e["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"] == "Dispatched"
    })
    .await;
    op.command(
        json!({"kind": "incident.assess", "incident_id": shared, "validity": "verified",
                      "priority": "P3", "method": "manual", "reason": "breathing now"}),
    )
    .await;
    update_within_a_second(&mut ws, |e| {
        e["incidentComponent"][0]["incidentCommonPriorityNumber"] == 3
    })
    .await;

    // The other incident's changes produce nothing.
    op.command(json!({"kind": "incident.note", "incident_id": other, "text": "Not for partners"}))
        .await;
    op.command(
        json!({"kind": "incident.cancel", "incident_id": other, "reason": "caller withdrew"}),
    )
    .await;
    let quiet = within(&mut ws, Duration::from_millis(500)).await;
    assert_eq!(
        quiet, None,
        "a change to an unshared incident reached the partner"
    );
    // Nor can it ask for it, by subscription or by HTTP; the shared one it may read.
    send(&mut ws, json!({"type": "subscribe", "incident_id": other})).await;
    let v = within(&mut ws, Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["code"].as_str()),
        (Some("error"), Some("not_found"))
    );
    let path = format!("/api/incidents/{other}/eido");
    assert_eq!(
        http(s.running.addr, "GET", &path, Some(PARTNER_KEY), None)
            .await
            .0,
        404
    );
    let path = format!("/api/incidents/{shared}/eido");
    let (status, body) = http(s.running.addr, "GET", &path, Some(PARTNER_KEY), None).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/incidents/{other}/cap");
    assert_eq!(
        http(s.running.addr, "GET", &path, Some(PARTNER_KEY), None)
            .await
            .0,
        401
    );

    // Its commands are refused, and change nothing.
    let seq = s.running.app.hub.seq();
    send(&mut ws, json!({"type": "command", "id": "p1",
                         "command": {"kind": "incident.note", "incident_id": shared, "text": "from the partner"}}))
        .await;
    let v = within(&mut ws, Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    let body = json!({"id": "p2", "command": {"kind": "incident.note", "incident_id": shared, "text": "x"}});
    let (status, _) = http(
        s.running.addr,
        "POST",
        "/api/commands",
        Some(PARTNER_KEY),
        Some(&body),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(s.running.app.hub.seq(), seq, "nothing was appended");

    // Unshared: told once, then silence.
    op.command(json!({"kind": "incident.unshare", "incident_id": shared, "partner": PARTNER}))
        .await;
    let v = within(&mut ws, Duration::from_secs(1)).await.unwrap();
    assert_eq!(v, json!({"type": "unshared", "incident_id": shared}));
    op.command(json!({"kind": "incident.note", "incident_id": shared, "text": "after unsharing"}))
        .await;
    assert_eq!(within(&mut ws, Duration::from_millis(500)).await, None);
    let _ = ws.close(None).await;
    let _ = ws.next().await;
}
