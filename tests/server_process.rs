//! The real binary as a server: crash safety end to end over WebSockets (SIGKILL and
//! restart: every command that got `ok` is in the log and the audit chain verifies),
//! and graceful shutdown (SIGTERM: every socket closed with 1001, exit 0).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

mod binary;
use binary::{Binary, Serve};

/// Starts `muster serve` on a free port over `dir`, its errors on the test's stderr.
fn start(dir: &Path) -> Binary {
    Serve::new(dir).stderr(Stdio::inherit()).start()
}

async fn connect(
    addr: SocketAddr,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"type": "hello", "token": token}).to_string(),
    ))
    .await
    .unwrap();
    let welcome = ws.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""));
    ws
}

#[tokio::test]
async fn every_ok_over_websockets_survives_sigkill_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path());
    let addr = hub.addr;
    let token = muster_load::login(addr, "operator", "muster-demo")
        .await
        .unwrap();
    let ws = connect(addr, &token).await;
    let (tx, mut rx) = ws.split();
    let sender = tokio::spawn(async move {
        let mut tx = tx;
        for i in 0.. {
            let cmd = json!({"type": "command", "id": format!("crash-{i}"), "command": {"kind": "contact.receive", "channel": "phone", "summary": format!("call {i}")}});
            if tx.send(Message::text(cmd.to_string())).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    });
    let mut acked = Vec::new();
    let kill_at =
        tokio::time::Instant::now() + Duration::from_millis(300 + rand::random::<u64>() % 400);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(kill_at) => break,
            frame = rx.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "result" && v["ok"] == true {
                        acked.push(v["id"].as_str().unwrap().to_string());
                    }
                }
                _ => break,
            },
        }
    }
    hub.kill();
    sender.abort();
    assert!(
        acked.len() > 10,
        "the hub acknowledged commands before the kill ({})",
        acked.len()
    );

    let hub = start(dir.path());
    let addr = hub.addr;
    let db = rusqlite::Connection::open(dir.path().join("muster.sqlite")).unwrap();
    for id in &acked {
        let n: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM events WHERE command_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "acknowledged command {id} is in the log exactly once");
    }
    let sup = muster_load::login(addr, "supervisor", "muster-demo")
        .await
        .unwrap();
    let body = http_get(addr, "/api/audit/verify", &sup).await;
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    hub.kill();
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path());
    let addr = hub.addr;
    let token = muster_load::login(addr, "supervisor", "muster-demo")
        .await
        .unwrap();
    let mut a = connect(addr, &token).await;
    let mut b = connect(addr, &token).await;
    hub.terminate();
    for ws in [&mut a, &mut b] {
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("closed in time")
            {
                Some(Ok(Message::Close(Some(f)))) => break u16::from(f.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(code, 1001);
    }
    let exit = tokio::task::spawn_blocking(move || hub.wait_exit())
        .await
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

/// A GET with a bearer token, by hand (the tests have no HTTP client dependency).
async fn http_get(addr: SocketAddr, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
