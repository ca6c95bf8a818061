//! Several hubs sharing one Redis event log, against a real `redis-server` (the
//! Redis store on its own is tested in crates/log/tests/redis.rs).

#[path = "../crates/log/tests/redis_server/mod.rs"]
mod redis_server;
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use muster::config::StoreKind;
use muster::store::EventLog;
use muster::store::redis::RedisLog;
use muster::time::SystemClock;
use redis_server::RedisServer;
use serde_json::{Value, json};
use server::{Client, TestServer, assessed_incident, http, kind, resource_of};

// ---- several hubs on one Redis -------------------------------------------------------

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
#[ignore = "needs redis-server; scripts/test runs them"]
async fn two_hubs_show_one_live_picture() {
    let redis = RedisServer::start();
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
    assert!(a.running.app.hub.log.verify().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn the_same_resource_assigned_from_two_hubs_at_once_goes_to_one() {
    let redis = RedisServer::start();
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

// ---- sessions on every hub -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn a_token_from_one_hub_works_on_another_and_logout_closes_it_everywhere() {
    let redis = RedisServer::start();
    let a = hub_on(&redis).await;
    let b = hub_on(&redis).await;
    let token = a.token("operator2").await;
    let mut on_b = Client::hello(&b.url(), &token, None).await;
    let b_hub = &b.running.app.hub;
    assert!(
        b.running
            .app
            .tokens
            .authenticate(&token, b_hub)
            .await
            .unwrap()
            .is_some()
    );
    a.running
        .app
        .tokens
        .revoke(&muster::auth::token_hash(&token))
        .await;
    assert_eq!(on_b.closed().await, Some(4401));
    assert!(
        b.running
            .app
            .tokens
            .authenticate(&token, b_hub)
            .await
            .unwrap()
            .is_none()
    );
}

// ---- faults --------------------------------------------------------------------------

/// Kills Redis and starts it again on the same port and data (its AOF): every
/// connection the hub had is dead, and nothing has used one since.
fn restart(redis: &mut RedisServer) {
    redis.kill();
    redis.restart();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn finding_12_after_redis_restarts_the_first_request_of_each_kind_succeeds() {
    let mut redis = RedisServer::start();
    let a = hub_on(&redis).await;
    let addr = a.running.addr;
    let mut op = a.client("operator").await;
    let incident = assessed_incident(&mut op).await;
    drop(op);
    let token = a.token("operator").await;
    assert_eq!(
        http(addr, "GET", "/api/state", Some(&token), None).await.0,
        200
    );

    // A valid token: not "your session has ended".
    restart(&mut redis);
    let (status, body) = http(addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 200, "a valid token after a restart: {body}");

    // A log-in: not "session store unavailable: broken pipe".
    restart(&mut redis);
    let login = json!({"username": "operator2", "password": "muster-demo"});
    let (status, body) = http(addr, "POST", "/api/login", None, Some(&login)).await;
    assert_eq!(status, 200, "a log-in after a restart: {body}");

    // A read of the log (an incident's timeline).
    restart(&mut redis);
    let path = format!("/api/incidents/{incident}");
    let (status, body) = http(addr, "GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "a read after a restart: {body}");

    // A socket's hello.
    restart(&mut redis);
    let c = Client::hello(&a.url(), &token, None).await;
    assert_eq!(c.welcome["type"], "welcome");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn finding_12_a_session_store_that_cannot_answer_is_unavailable_not_logged_out() {
    let mut redis = RedisServer::start();
    let a = hub_on(&redis).await;
    let addr = a.running.addr;
    let token = a.token("operator").await;
    redis.kill();
    let (status, body) = http(addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unavailable"), "{body}");
    let mut ws = Client::connect(&a.url()).await;
    futures_util::SinkExt::send(
        &mut ws,
        tokio_tungstenite::tungstenite::Message::text(
            json!({"type": "hello", "token": token}).to_string(),
        ),
    )
    .await
    .unwrap();
    let code = server::close_code(&mut ws).await;
    assert_ne!(code, Some(4401), "a blip in Redis is not a log-out");
    assert_eq!(code, Some(1013));

    redis.restart();
    let (status, body) = http(addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
}

/// `GET path` on `addr`; the status code.
async fn http_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 12];
    s.read_exact(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[9..12]).parse().unwrap()
}

fn contact(n: usize) -> muster::engine::Command {
    serde_json::from_value(json!({"kind": "contact.receive", "channel": "phone",
        "caller": {"name": format!("Caller {n}")}, "summary": "Smoke in the stairwell"}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn redis_killed_under_load_loses_nothing_acknowledged() {
    let mut redis = RedisServer::start();
    let a = hub_on(&redis).await;
    let hub = a.running.app.hub.clone();
    let actor = muster::bench::operator(&hub).unwrap();
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (hub, actor, acked, refused, stop) = (
                hub.clone(),
                actor.clone(),
                acked.clone(),
                refused.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let id = format!("k{t}-{i}");
                    let started = Instant::now();
                    match hub
                        .submit(actor.clone(), Some(id.clone()), contact(i))
                        .await
                    {
                        Ok(_) => acked.lock().unwrap().push(id),
                        Err(muster::engine::Error::Unavailable(_)) => {
                            assert!(started.elapsed() < Duration::from_secs(3), "slow refusal");
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            })
        })
        .collect();
    // Under load before the kill: wait (bounded) for acknowledgements, not a fixed time.
    let until = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 50 {
        assert!(Instant::now() < until, "no load before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.kill();
    let until = Instant::now() + Duration::from_secs(5);
    while http_status(a.running.addr, "/readyz").await != 503 {
        assert!(Instant::now() < until, "still ready with Redis down");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Commands in flight at the kill may still be answered; after that, none.
    let refusals = || refused.load(std::sync::atomic::Ordering::Relaxed);
    let first_refusals = refusals();
    while refusals() < first_refusals + 8 {
        assert!(Instant::now() < until, "no refusals with Redis down");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let during = acked.lock().unwrap().len();
    let more = refusals() + 16;
    while refusals() < more {
        assert!(Instant::now() < until, "no refusals with Redis down");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        acked.lock().unwrap().len(),
        during,
        "acknowledged while Redis was down"
    );
    redis.restart();
    let until = Instant::now() + Duration::from_secs(5);
    while acked.lock().unwrap().len() < during + 50 {
        assert!(
            Instant::now() < until,
            "the hub did not carry on after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(http_status(a.running.addr, "/readyz").await, 200);

    let log = RedisLog::open(&redis.url(), &a.running.app.hub.engine.centre.name)
        .await
        .unwrap();
    let logged: std::collections::HashSet<String> = log
        .read_from(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.command_id)
        .collect();
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<_> = acked.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged commands lost",
        lost.len(),
        acked.len()
    );
    assert!(log.verify().await.unwrap().ok);
}

/// A hub on a runtime of its own, so the test can kill it outright: shutting the
/// runtime down drops every task and socket at once, with no graceful close (the
/// in-process equivalent of SIGKILL; the built binary in a shared target directory
/// may belong to another branch, so it is not spawned).
fn hub_on_own_runtime(redis: &RedisServer) -> (tokio::runtime::Runtime, TestServer) {
    let url = redis.url();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let hub = rt.block_on(TestServer::start_with(
            move |l| {
                l.settings.store.kind = StoreKind::Redis;
                l.settings.store.redis_url = url;
            },
            Arc::new(SystemClock),
        ));
        (rt, hub)
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn a_killed_hubs_clients_resume_on_another_and_miss_nothing() {
    let redis = RedisServer::start();
    let b = hub_on(&redis).await;
    let (a_runtime, a) = hub_on_own_runtime(&redis);
    let token = b.token("supervisor").await;
    let mut sup = Client::hello(&a.url(), &token, None).await;
    let start_seq = sup.last_seq;

    let hub = b.running.app.hub.clone();
    let actor = muster::bench::operator(&hub).unwrap();
    let load = tokio::spawn(async move {
        for i in 0..300 {
            let r = hub
                .submit(actor.clone(), Some(format!("h{i}")), contact(i))
                .await;
            assert!(r.is_ok(), "{r:?}");
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 40 {
        let v = sup.next().await.expect("events before the kill");
        if v["type"] == "event" {
            seen.push(v["seq"].as_u64().unwrap());
        }
    }
    a_runtime.shutdown_background();
    // Whatever was already on the wire from A still counts; then A is gone.
    while let Some(v) = sup.next().await {
        if v["type"] == "event" {
            seen.push(v["seq"].as_u64().unwrap());
        }
    }
    let mut resumed = Client::hello(&b.url(), &token, Some(sup.last_seq)).await;
    assert_eq!(resumed.welcome["resumed"], true, "{}", resumed.welcome);
    load.await.unwrap();
    let head = b.running.app.hub.seq();
    while resumed.last_seq < head {
        let v = resumed.next().await.expect("resumed events");
        if v["type"] == "event" {
            seen.push(v["seq"].as_u64().unwrap());
        }
    }
    let want: Vec<u64> = (start_seq + 1..=head).collect();
    assert_eq!(seen, want, "the supervisor missed or repeated events");
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn two_hubs_writing_at_once_retry_their_conflicts_and_keep_one_chain() {
    let redis = RedisServer::start();
    let a = hub_on(&redis).await;
    let b = hub_on(&redis).await;
    let mut tasks = Vec::new();
    for (h, s) in [(0, &a), (1, &b)] {
        for t in 0..4 {
            let hub = s.running.app.hub.clone();
            let actor = muster::bench::operator(&hub).unwrap();
            tasks.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                for i in 0..40 {
                    let id = format!("w{h}-{t}-{i}");
                    match hub
                        .submit(actor.clone(), Some(id.clone()), contact(i))
                        .await
                    {
                        Ok(_) => ok.push(id),
                        Err(muster::engine::Error::Conflict(_)) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
                ok
            }));
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let conflicts = |s: &TestServer| {
        muster::hub::metrics::Metrics::get(&s.running.app.hub.metrics.append_conflicts)
    };
    assert!(conflicts(&a) + conflicts(&b) > 0, "the hubs never raced");
    assert!(
        acked.len() > 300,
        "only {} of 320 went through",
        acked.len()
    );
    let log = &a.running.app.hub.log;
    assert!(log.verify().await.unwrap().ok);
    let logged: Vec<String> = log
        .read_from(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.command_id)
        .filter(|id| id.starts_with('w'))
        .collect();
    acked.sort();
    let mut sorted = logged.clone();
    sorted.sort();
    assert_eq!(
        sorted, acked,
        "the log holds exactly the acknowledged commands"
    );
    let head = log.head().await.unwrap().0;
    caught_up(&a, head).await;
    caught_up(&b, head).await;
}

// ---- credentials -----------------------------------------------------------------------

/// The commands of every AOF file under `dir` (RESP arrays), as byte strings.
fn aof_commands(dir: &std::path::Path) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(aof_commands(&path));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let mut rest = &bytes[..];
        let line = |r: &mut &[u8]| -> Option<Vec<u8>> {
            let end = r.windows(2).position(|w| w == b"\r\n")?;
            let l = r[..end].to_vec();
            *r = &r[end + 2..];
            Some(l)
        };
        while let Some(head) = line(&mut rest) {
            let Some(n) = head.strip_prefix(b"*") else {
                continue;
            };
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            let mut args = Vec::with_capacity(n);
            for _ in 0..n {
                let len = line(&mut rest).unwrap();
                let len: usize = std::str::from_utf8(&len[1..]).unwrap().parse().unwrap();
                args.push(rest[..len].to_vec());
                rest = &rest[len + 2..];
            }
            out.push(args);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn password_hashes_reach_redis_only_in_the_credential_hash() {
    let redis = RedisServer::start();
    let hub = hub_on(&redis).await;
    // The demo's accounts were seeded through the log: they can log in.
    hub.client("operator").await;
    let commands = aof_commands(redis.dir.path());
    let with_hash: Vec<String> = commands
        .iter()
        .filter(|c| c.iter().any(|a| a.windows(10).any(|w| w == b"$argon2id$")))
        .map(|c| String::from_utf8_lossy(&c[1]).into_owned())
        .collect();
    assert!(!with_hash.is_empty(), "the seeded hashes are in the AOF");
    assert!(
        with_hash.iter().all(|key| key.ends_with(":credentials")),
        "only the credential hash holds password hashes: {with_hash:?}"
    );
}
