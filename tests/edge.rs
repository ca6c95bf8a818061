//! The network edge of issue 13: HTTP timeouts and the per-address connection cap
//! (finding 2), log-in throttling that cannot lock a user out (finding 3), bounded
//! password checks (finding 6) and trusted reverse proxies (finding 10). Each test
//! fails on `3d01c86`.

mod binary;
mod server;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use binary::Serve;
use muster::config::Loaded;
use muster::time::SystemClock;
use server::TestServer;

const DEMO_PASSWORD: &str = "muster-demo";

async fn start(tweak: impl FnOnce(&mut Loaded)) -> TestServer {
    TestServer::start_with(tweak, Arc::new(SystemClock)).await
}

/// A TCP connection to `addr` from the loopback address `source`.
async fn tcp_from(addr: SocketAddr, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((Ipv4Addr::from(source), 0).into()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the hub closes the connection, or fails the test at `deadline`.
/// Returns what was read.
async fn until_closed(s: &mut TcpStream, deadline: Duration) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the hub kept the connection open past {deadline:?}; read so far: {:?}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

/// An HTTP/1.1 response, as read off the wire.
struct Answer {
    status: u16,
    head: String,
    body: serde_json::Value,
}

impl Answer {
    fn parse(raw: &str) -> Answer {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {raw:?}"));
        Answer {
            status,
            head: head.to_ascii_lowercase(),
            body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim() == name).then_some(v.trim())
        })
    }
}

/// `POST /api/login` from `source`, with extra header lines (each ending `\r\n`).
async fn login_from(
    addr: SocketAddr,
    source: [u8; 4],
    extra: &str,
    username: &str,
    password: &str,
) -> Answer {
    let body = json!({"username": username, "password": password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tcp_from(addr, source).await;
    s.write_all(req.as_bytes()).await.unwrap();
    Answer::parse(&until_closed(&mut s, Duration::from_secs(30)).await)
}

// ----- finding 2: timeouts and the per-address cap ---------------------------------

#[tokio::test]
async fn finding_02_silent_and_half_sent_request_heads_are_closed_after_the_header_timeout() {
    let s = start(|l| l.settings.server.header_timeout_secs = 1).await;
    let addr = s.running.addr;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut half_line = TcpStream::connect(addr).await.unwrap();
    half_line.write_all(b"GET /heal").await.unwrap();
    let mut half_headers = TcpStream::connect(addr).await.unwrap();
    half_headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    for s in [&mut silent, &mut half_line, &mut half_headers] {
        until_closed(s, Duration::from_secs(5)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}

#[tokio::test]
async fn finding_02_a_body_cut_half_way_is_answered_408_and_closed() {
    let s = start(|l| l.settings.server.body_timeout_secs = 1).await;
    let addr = s.running.addr;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
    )
    .await
    .unwrap();
    let a = Answer::parse(&until_closed(&mut c, Duration::from_secs(5)).await);
    assert_eq!(a.status, 408, "{}", a.head);
    assert_eq!(a.body["error"]["code"], "bad_request");
    assert_eq!(a.header("connection"), Some("close"));
}

#[tokio::test]
async fn finding_02_an_idle_kept_alive_connection_is_closed() {
    let s = start(|l| {
        l.settings.server.keepalive_idle_secs = 1;
        l.settings.server.header_timeout_secs = 60;
    })
    .await;
    let mut c = TcpStream::connect(s.running.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let raw = until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
}

#[tokio::test]
async fn websockets_are_not_held_to_the_http_timeouts() {
    let s = start(|l| {
        let server = &mut l.settings.server;
        (server.header_timeout_secs, server.body_timeout_secs) = (1, 1);
        server.keepalive_idle_secs = 1;
    })
    .await;
    let mut op = s.client("operator").await;
    // Well past every HTTP timeout, the socket still works.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, result) = op
        .command(json!({"kind": "contact.receive", "channel": "phone", "summary": "still here"}))
        .await;
    assert_eq!(result["ok"], true, "{result}");
}

#[tokio::test]
async fn finding_02_silent_sockets_from_one_address_neither_delay_others_nor_stay() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Serve::new(dir.path())
        .env("MUSTER_MAX_CONNECTIONS", "64")
        .start();
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..64 {
        silent.push(tcp_from(hub.addr, [127, 0, 0, 2]).await);
    }
    let t = Instant::now();
    let a = login_from(hub.addr, [127, 0, 0, 1], "", "operator", DEMO_PASSWORD).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let took = t.elapsed();
    eprintln!("log-in beside 64 silent sockets took {took:?}");
    assert!(took < Duration::from_secs(2), "log-in took {took:?}");
    for s in &mut silent {
        let left = Duration::from_secs(15).saturating_sub(opened.elapsed());
        until_closed(s, left).await;
    }
    eprintln!("all 64 silent sockets closed after {:?}", opened.elapsed());
}

// ----- finding 3: throttling that cannot be turned against a user -------------------

#[tokio::test]
async fn finding_03_wrong_passwords_from_one_address_do_not_lock_the_account() {
    let s = start(|_| {}).await;
    let addr = s.running.addr;
    let mut limited = 0;
    for _ in 0..150 {
        let a = login_from(addr, [127, 0, 0, 2], "", "field8", "not-the-password").await;
        match a.status {
            401 => {}
            429 => {
                limited += 1;
                assert_eq!(a.body["error"]["code"], "rate_limited");
                let secs: u64 = a
                    .header("retry-after")
                    .expect("Retry-After")
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&secs), "Retry-After: {secs}");
            }
            other => panic!("unexpected {other}: {:?}", a.body),
        }
    }
    assert!(
        limited >= 130,
        "the guesser is slowed ({limited} of 150 refused)"
    );
    let owner = login_from(addr, [127, 0, 0, 1], "", "field8", DEMO_PASSWORD).await;
    assert_eq!(owner.status, 200, "{:?}", owner.body);
    // A right password is never charged: the owner can log in again and again.
    for _ in 0..20 {
        let again = login_from(addr, [127, 0, 0, 1], "", "field8", DEMO_PASSWORD).await;
        assert_eq!(again.status, 200, "{:?}", again.body);
    }
}

// ----- finding 6: bounded password checks -------------------------------------------

#[tokio::test]
async fn finding_06_two_hundred_concurrent_log_ins_grow_the_hub_by_at_most_300_mib() {
    let users = [
        "operator",
        "operator2",
        "supervisor",
        "admin",
        "field1",
        "field2",
        "field3",
        "field4",
        "field5",
        "field6",
        "field7",
        "field8",
    ];
    let dir = tempfile::tempdir().unwrap();
    let hub = Serve::new(dir.path()).start();
    // Warm up: the first log-in sets up what every later one shares.
    let first = login_from(hub.addr, [127, 0, 0, 1], "", "operator", DEMO_PASSWORD).await;
    assert_eq!(first.status, 200);
    let before = hub.status_kib("VmRSS");
    let logins = (0..200u8).map(|i| {
        let addr = hub.addr;
        let user = users[usize::from(i) % users.len()];
        tokio::spawn(async move {
            login_from(addr, [127, 0, 1, i % 50 + 1], "", user, DEMO_PASSWORD).await
        })
    });
    let answers: Vec<Answer> = futures_util::future::join_all(logins)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let grew_mib = hub.status_kib("VmHWM").saturating_sub(before) / 1024;
    for a in &answers {
        match a.status {
            200 => {}
            503 => {
                assert_eq!(a.body["error"]["code"], "unavailable");
                assert!(a.header("retry-after").is_some(), "{}", a.head);
            }
            other => panic!("unexpected {other}: {:?}", a.body),
        }
    }
    let busy = answers.iter().filter(|a| a.status == 503).count();
    eprintln!(
        "VmRSS before {before} KiB; VmHWM after grew by {grew_mib} MiB; {busy} of 200 got 503"
    );
    assert!(answers.iter().any(|a| a.status == 200));
    assert!(grew_mib <= 300, "the hub grew by {grew_mib} MiB");
}

// ----- finding 10: behind a reverse proxy -------------------------------------------

#[tokio::test]
async fn finding_10_forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    let s = start(|l| {
        l.settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        l.settings.auth.login_attempts_per_minute = 1;
    })
    .await;
    let addr = s.running.addr;
    // Through the proxy (127.0.0.1) for `client`, who forged an entry of its own.
    let via_proxy = |client: &'static str, password: &'static str| async move {
        let forwarded = format!("X-Forwarded-For: 6.6.6.6, {client}\r\n");
        login_from(addr, [127, 0, 0, 1], &forwarded, "field8", password).await
    };
    let wrong = "not-the-password";
    // Behind the proxy, each client has its own bucket: one client's failure locks
    // that client (for that account), not everyone the proxy carries.
    assert_eq!(via_proxy("198.51.100.1", wrong).await.status, 401);
    let a = via_proxy("198.51.100.1", wrong).await;
    assert_eq!(a.status, 429, "the same client is locked");
    let b = via_proxy("198.51.100.2", wrong).await;
    assert_eq!(b.status, 401, "another client behind the proxy is not");
    assert_eq!(via_proxy("198.51.100.3", DEMO_PASSWORD).await.status, 200);
    // From a peer that is not a proxy, X-Forwarded-For is ignored: changing it does
    // not buy a fresh bucket.
    let spoof = |client: &str| format!("X-Forwarded-For: {client}\r\n");
    let c = login_from(addr, [127, 0, 0, 2], &spoof("203.0.113.1"), "field7", wrong).await;
    assert_eq!(c.status, 401);
    let c = login_from(addr, [127, 0, 0, 2], &spoof("203.0.113.2"), "field7", wrong).await;
    assert_eq!(c.status, 429, "a spoofed X-Forwarded-For is ignored");
}
