//! The Redis event log against a real `redis-server`: the store contract, the head
//! hash check, durability as reported, and a restart between calls.

mod redis_server;

use muster_log::EventLog;
use muster_log::contract;
use muster_log::redis::RedisLog;
use redis_server::RedisServer;

#[tokio::test]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn redis_keeps_the_store_contract() {
    let redis = RedisServer::start();
    let log = RedisLog::open(&redis.url(), "contract").await.unwrap();
    contract::run_all(&log).await;
    let d = log.durability().await.unwrap();
    assert!(d.durable, "{d:?}");
    assert!(d.detail.contains("appendfsync=always"), "{d:?}");
}

#[tokio::test]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn redis_append_checks_the_head_hash() {
    let redis = RedisServer::start();
    let log = RedisLog::open(&redis.url(), "hash").await.unwrap();
    let first = contract::chain_events(0, muster_log::chain::GENESIS, 2);
    log.append(&first).await.unwrap();
    let next = contract::chain_events(2, &first[1].hash, 1);
    let err = log.append_after("not-the-head", &next).await.unwrap_err();
    assert!(
        matches!(
            err,
            muster_log::StoreError::Conflict {
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
        matches!(got, Err(muster_log::StoreError::Unavailable(_))),
        "{got:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn everysec_is_reported_as_not_durable() {
    let redis = RedisServer::start_with("everysec");
    let log = RedisLog::open(&redis.url(), "d").await.unwrap();
    let d = log.durability().await.unwrap();
    assert!(!d.durable && d.detail.contains("second"), "{d:?}");
}

/// Kills Redis and starts it again on the same port and data (its AOF): every
/// connection the hub had is dead, and nothing has used one since.
fn restart(redis: &mut RedisServer) {
    redis.kill();
    redis.restart();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn finding_12_after_redis_restarts_the_logs_first_read_and_append_succeed() {
    let mut redis = RedisServer::start();
    let log = RedisLog::open(&redis.url(), "restart").await.unwrap();
    let first = contract::chain_events(0, muster_log::chain::GENESIS, 2);
    log.append(&first).await.unwrap();

    restart(&mut redis);
    let read = log.read_from(0, 10).await;
    assert_eq!(read.map(|e| e.len()).map_err(|e| e.to_string()), Ok(2));

    restart(&mut redis);
    assert_eq!(
        log.head().await.map_err(|e| e.to_string()).map(|h| h.0),
        Ok(2)
    );

    restart(&mut redis);
    let next = contract::chain_events(2, &first[1].hash, 1);
    assert_eq!(
        log.append_after(&first[1].hash, &next)
            .await
            .map_err(|e| e.to_string()),
        Ok(())
    );
    assert!(log.verify().await.unwrap().ok);
}

/// An entry written before versions existed has no `v` field: it reads as version 1
/// and verifies under the version 1 hash.
#[tokio::test]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn an_entry_without_a_version_reads_as_version_1() {
    let redis = RedisServer::start();
    let log = RedisLog::open(&redis.url(), "old").await.unwrap();
    let mut old = contract::chain_events(0, muster_log::chain::GENESIS, 1);
    old[0].v = 1;
    old[0].hash = muster_log::chain::link(muster_log::chain::GENESIS, &old[0]);
    let e = &old[0];
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("XADD")
        .arg("muster:{old}:events")
        .arg("1-0")
        .arg(&[
            ("seq", "1".to_string()),
            ("at", muster_core::time::rfc3339(e.at)),
            ("actor", e.actor.clone()),
            ("kind", e.kind.clone()),
            ("body", e.body.clone()),
            ("hash", e.hash.clone()),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("muster:{old}:head")
        .arg("seq")
        .arg(1)
        .arg("hash")
        .arg(&e.hash)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(log.read_from(0, 10).await.unwrap(), old);
    assert!(log.verify().await.unwrap().ok);
    let next = contract::chain_events(1, &e.hash, 1);
    log.append(&next).await.unwrap();
    let all = log.read_from(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.v).collect::<Vec<_>>(), [1, 2]);
    assert!(log.verify().await.unwrap().ok);
}
