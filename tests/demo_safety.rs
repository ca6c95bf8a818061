//! Finding 1 of issue 13: the demo is safe by construction. The real binary runs the
//! demo on loopback; bound anywhere else without `--demo` it does not, and the demo's
//! published log-ins and intake key are refused, also on a data dir that ran the demo.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use muster::config::demo::{DemoMode, decide, is_loopback};

mod binary;
use binary::{Binary, Serve};

/// `muster serve` over `dir`, bound to `bind`, with extra environment `env`; its
/// errors on the test's stderr.
fn start(dir: &Path, bind: &str, env: &[(&str, &str)]) -> Binary {
    start_with(dir, bind, &[], env)
}

/// [`start`] with extra arguments after `serve`.
fn start_with(dir: &Path, bind: &str, args: &[&str], env: &[(&str, &str)]) -> Binary {
    let serve = Serve::new(dir)
        .env("MUSTER_BIND", bind)
        .envs(env)
        .stderr(Stdio::inherit());
    args.iter().fold(serve, |s, a| s.arg(a)).start()
}

/// A POST by hand (the tests have no HTTP client dependency): status and body.
async fn post(addr: SocketAddr, path: &str, bearer: Option<&str>, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("a status line in {resp:?}"));
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

async fn login(addr: SocketAddr, username: &str, password: &str) -> (u16, String) {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    post(addr, "/api/login", None, &body).await
}

async fn intake(addr: SocketAddr, key: &str) -> (u16, String) {
    let body = r#"{"channel": "sms", "summary": "Tree down on the bridge"}"#;
    post(addr, "/api/intake/contacts", Some(key), body).await
}

/// `user.disabled` events in the data dir's log.
fn disabled_events(dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("muster.sqlite")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM events WHERE kind = 'user.disabled' AND actor = 'system'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn finding_01_a_hub_bound_off_loopback_without_demo_refuses_the_demo_log_ins() {
    let dir = tempfile::tempdir().unwrap();

    // On loopback the demo runs: the README's first command shows a working centre.
    let hub = start(dir.path(), "127.0.0.1:0", &[]);
    hub.wait_for_line("demo on: bound to loopback 127.0.0.1:");
    let (status, body) = login(hub.addr, "admin", "muster-demo").await;
    assert_eq!(status, 200, "the demo's admin logs in on loopback: {body}");
    let (status, body) = intake(hub.addr, "demo-intake-key").await;
    assert_eq!(status, 200, "the demo intake key works on loopback: {body}");
    assert!(hub.stop().success());

    // The careless deployment: every interface, no --demo, the same data dir.
    let hub = start(dir.path(), "0.0.0.0:0", &[]);
    let port = hub.addr.port();
    hub.wait_for_line(&format!("demo off: bound to 0.0.0.0:{port} without --demo"));
    for user in ["admin", "supervisor", "operator", "field1"] {
        let (status, body) = login(hub.addr, user, "muster-demo").await;
        assert_eq!(status, 401, "{user} / muster-demo is refused: {body}");
    }
    let (status, body) = intake(hub.addr, "demo-intake-key").await;
    assert_eq!(status, 401, "the demo intake key is refused: {body}");
    assert!(hub.stop().success());
    let disabled = disabled_events(dir.path());
    assert!(
        disabled >= 12,
        "each demo account disabled in the log ({disabled})"
    );

    // A second start finds them disabled and logs nothing more.
    let hub = start(dir.path(), "0.0.0.0:0", &[]);
    hub.wait_for_line("demo off");
    let (status, _) = login(hub.addr, "admin", "muster-demo").await;
    assert_eq!(status, 401);
    assert!(hub.stop().success());
    assert_eq!(
        disabled_events(dir.path()),
        disabled,
        "a second start is a no-op"
    );

    // Back on loopback the demo runs, but its disabled accounts stay disabled.
    let hub = start(dir.path(), "127.0.0.1:0", &[]);
    hub.wait_for_line("demo on");
    let (status, _) = login(hub.addr, "admin", "muster-demo").await;
    assert_eq!(status, 401, "a disabled demo account is never re-enabled");
    assert!(hub.stop().success());
}

#[tokio::test]
async fn finding_01_switching_the_demo_seed_off_disables_the_accounts_it_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path(), "127.0.0.1:0", &[]);
    let (status, _) = login(hub.addr, "supervisor", "muster-demo").await;
    assert_eq!(status, 200);
    assert!(hub.stop().success());

    // The issue's report: `MUSTER_DEMO_DIR=` on a data dir that ran the demo.
    let hub = start(dir.path(), "127.0.0.1:0", &[("MUSTER_DEMO_DIR", "")]);
    hub.wait_for_line("demo off: no demo seed");
    let (status, body) = login(hub.addr, "supervisor", "muster-demo").await;
    assert_eq!(status, 401, "{body}");
    assert!(hub.stop().success());
}

#[tokio::test]
async fn finding_01_the_demo_runs_off_loopback_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path(), "0.0.0.0:0", &[("MUSTER_DEMO", "1")]);
    hub.wait_for_line("demo on: asked for (--demo) on 0.0.0.0:");
    let (status, body) = login(hub.addr, "admin", "muster-demo").await;
    assert_eq!(status, 200, "{body}");
    assert!(hub.stop().success());

    let hub = start_with(dir.path(), "0.0.0.0:0", &["--demo"], &[]);
    hub.wait_for_line("demo on: asked for (--demo) on 0.0.0.0:");
    let (status, body) = intake(hub.addr, "demo-intake-key").await;
    assert_eq!(status, 200, "{body}");
    assert!(hub.stop().success());
}

#[test]
fn finding_01_only_loopback_addresses_count_as_loopback() {
    for ip in ["127.0.0.1", "::1", "127.0.0.2", "::ffff:127.0.0.1"] {
        assert!(is_loopback(ip.parse().unwrap()), "{ip} is loopback");
    }
    for ip in ["0.0.0.0", "::", "192.0.2.2", "10.0.0.1", "::ffff:192.0.2.2"] {
        assert!(!is_loopback(ip.parse().unwrap()), "{ip} is not loopback");
    }
}

#[test]
fn finding_01_the_demo_runs_off_loopback_only_when_asked_for() {
    let at = |a: &str| -> SocketAddr { a.parse().unwrap() };
    let auto = |a| decide(DemoMode::Auto, true, at(a));
    assert!(auto("127.0.0.1:8080").on);
    assert!(auto("127.0.0.2:8080").on);
    assert!(auto("[::1]:8080").on);
    let off = auto("0.0.0.0:8080");
    assert!(!off.on);
    assert_eq!(
        off.to_string(),
        "demo off: bound to 0.0.0.0:8080 without --demo"
    );
    assert!(!auto("[::]:8080").on);
    assert!(!auto("192.0.2.2:8080").on);
    assert!(decide(DemoMode::On, true, at("0.0.0.0:8080")).on);
    assert!(!decide(DemoMode::Off, true, at("127.0.0.1:8080")).on);
    assert!(!decide(DemoMode::On, false, at("127.0.0.1:8080")).on);
}
