//! The Redis event log and several hubs sharing it, against a real `redis-server`.

mod redis_server;

use muster::store::EventLog;
use muster::store::contract;
use muster::store::redis::RedisLog;
use redis_server::RedisServer;

#[tokio::test]
async fn redis_keeps_the_store_contract() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let log = RedisLog::open(&redis.url(), "contract").await.unwrap();
    contract::run_all(&log).await;
    let d = log.durability().await.unwrap();
    assert!(d.durable, "{d:?}");
    assert!(d.detail.contains("appendfsync=always"), "{d:?}");
}

#[tokio::test]
async fn redis_append_checks_the_head_hash() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let log = RedisLog::open(&redis.url(), "hash").await.unwrap();
    let first = contract::chain_events(0, muster::store::chain::GENESIS, 2);
    log.append(&first).await.unwrap();
    let next = contract::chain_events(2, &first[1].hash, 1);
    let err = log.append_after("not-the-head", &next).await.unwrap_err();
    assert!(
        matches!(
            err,
            muster::store::StoreError::Conflict {
                expected: 2,
                found: 2
            }
        ),
        "{err:?}"
    );
    log.append_after(&first[1].hash, &next).await.unwrap();
    assert_eq!(log.head().await.unwrap().0, 3);
}

#[tokio::test]
async fn unreachable_redis_fails_fast() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let got = RedisLog::open(&format!("redis://127.0.0.1:{port}/"), "x").await;
    assert!(
        matches!(got, Err(muster::store::StoreError::Unavailable(_))),
        "{got:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn everysec_is_reported_as_not_durable() {
    let Some(redis) = RedisServer::start_with("everysec") else {
        return;
    };
    let log = RedisLog::open(&redis.url(), "d").await.unwrap();
    let d = log.durability().await.unwrap();
    assert!(!d.durable && d.detail.contains("second"), "{d:?}");
}

// ---- several hubs on one Redis -------------------------------------------------------

mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use muster::config::StoreKind;
use muster::time::SystemClock;
use serde_json::{Value, json};
use server::{Client, TestServer, kind};

/// A real server on port 0 whose log is `redis`.
async fn hub_on(redis: &RedisServer) -> TestServer {
    let url = redis.url();
    TestServer::start_with(
        move |l| {
            l.settings.store.kind = StoreKind::Redis;
            l.settings.store.redis_url = url;
        },
        Arc::new(SystemClock),
    )
    .await
}

fn resource_of(s: &TestServer, username: &str) -> String {
    s.running.app.hub.with_state(|st| {
        st.users[&st.usernames[username]]
            .resource_id
            .clone()
            .unwrap()
            .0
    })
}

async fn assessed_incident(op: &mut Client) -> String {
    let (_, r) = op.command(json!({"kind": "contact.receive", "channel": "phone", "caller": {"name": "Ada"}, "summary": "Man collapsed in the lobby", "location": {"text": "Civic Centre lobby", "lat": 51.5074, "lon": -0.1278}})).await;
    assert_eq!(r["ok"], true, "{r}");
    let contact = r["data"]["contact_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.open", "contact_id": contact, "type": "medical_emergency", "description": "Adult collapsed", "location": {"text": "Civic Centre lobby", "lat": 51.5074, "lon": -0.1278}})).await;
    let incident = r["data"]["incident_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.assess", "incident_id": incident, "validity": "verified", "priority": "P1", "method": "manual", "reason": "not breathing normally"})).await;
    assert_eq!(r["ok"], true, "{r}");
    incident
}

/// Waits until `hub` has published up to `seq`.
async fn caught_up(hub: &TestServer, seq: u64) {
    let until = Instant::now() + Duration::from_secs(5);
    while hub.running.app.hub.seq() < seq {
        assert!(
            Instant::now() < until,
            "hub stuck at {}",
            hub.running.app.hub.seq()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn assignment_id(r: &Value) -> String {
    r["data"]["assignment_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_show_one_live_picture() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = hub_on(&redis).await;
    let b = hub_on(&redis).await;
    let mut op = a.client("operator").await;
    let mut sup = a.client("supervisor").await;
    let mut field1 = b.client("field1").await;

    let incident = assessed_incident(&mut op).await;
    let res = resource_of(&b, "field1");
    let (_, r) = op
        .command(json!({"kind": "assignment.create", "incident_id": incident, "resource_id": res}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let acked_at = Instant::now();
    let asg = assignment_id(&r);
    let got = field1.until_event("assignment.created").await;
    let took = acked_at.elapsed();
    assert!(took < Duration::from_millis(100), "hub B took {took:?}");
    assert_eq!(
        got.last().unwrap()["event"]["assignment"]["id"],
        asg.as_str()
    );

    let (_, r) = field1
        .command(json!({"kind": "assignment.acknowledge", "assignment_id": asg}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let seen = sup.until_event("assignment.acknowledged").await;
    assert_eq!(kind(seen.last().unwrap()), "assignment.acknowledged");
    assert_eq!(a.running.app.hub.log.verify().await.unwrap().ok, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_resource_assigned_from_two_hubs_at_once_goes_to_one() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = hub_on(&redis).await;
    let b = hub_on(&redis).await;
    let mut op_a = a.client("operator").await;
    let mut op_b = b.client("operator2").await;
    let incident = assessed_incident(&mut op_a).await;
    caught_up(&b, a.running.app.hub.seq()).await;
    let res = resource_of(&a, "field1");
    let cmd = json!({"kind": "assignment.create", "incident_id": incident, "resource_id": res});
    let ((_, ra), (_, rb)) = tokio::join!(op_a.command(cmd.clone()), op_b.command(cmd));
    let oks = [&ra, &rb].iter().filter(|r| r["ok"] == true).count();
    assert_eq!(oks, 1, "exactly one wins: {ra} / {rb}");
    let loser = if ra["ok"] == true { &rb } else { &ra };
    assert_eq!(loser["error"]["code"], "conflict", "{loser}");
    let report = a.running.app.hub.log.verify().await.unwrap();
    assert!(report.ok, "{report:?}");
    caught_up(&a, b.running.app.hub.seq()).await;
    caught_up(&b, a.running.app.hub.seq()).await;
    let count = |s: &TestServer| s.running.app.hub.with_state(|st| st.seq);
    assert_eq!(count(&a), count(&b));
}
