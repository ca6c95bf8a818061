//! A real server on port 0 with the demo centre on a temp-dir SQLite log, and real
//! WebSocket clients for it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use muster::config::{Loaded, load_all_with_env};
use muster::server::Running;
use muster::time::{Clock, SystemClock};

pub const WAIT: Duration = Duration::from_secs(5);

/// The shipped settings with the data dir moved to `dir`.
pub fn loaded(dir: &Path) -> Loaded {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let env = [("MUSTER_DATA_DIR", dir.to_str().unwrap().to_string())];
    load_all_with_env(Some(&root.join("config/muster.toml")), env).expect("shipped config loads")
}

pub struct TestServer {
    pub running: Running,
    /// The data directory, when this server owns it.
    pub dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}, Arc::new(SystemClock)).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Loaded), clock: Arc<dyn Clock>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let running = Self::run(dir.path(), tweak, clock).await;
        TestServer {
            running,
            dir: Some(dir),
        }
    }

    /// A server over an existing data directory (to restart on the same log).
    pub async fn start_in(dir: &Path, tweak: impl FnOnce(&mut Loaded)) -> TestServer {
        let running = Self::run(dir, tweak, Arc::new(SystemClock)).await;
        TestServer { running, dir: None }
    }

    async fn run(dir: &Path, tweak: impl FnOnce(&mut Loaded), clock: Arc<dyn Clock>) -> Running {
        let mut l = loaded(dir);
        tweak(&mut l);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Running::start(&l, listener, clock)
            .await
            .expect("server starts")
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.running.addr)
    }

    /// A token for a demo user, issued directly.
    pub async fn token(&self, username: &str) -> String {
        let app = &self.running.app;
        let user = app
            .hub
            .with_state(|s| s.users[&s.usernames[username]].clone());
        app.tokens
            .issue(&user, app.hub.clock.now())
            .await
            .expect("session starts")
            .0
    }

    pub async fn client(&self, username: &str) -> Client {
        Client::hello(&self.url(), &self.token(username).await, None).await
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Ws,
    pub welcome: Value,
    /// Highest event seq seen.
    pub last_seq: u64,
    n: u64,
}

impl Client {
    pub async fn connect(url: &str) -> Ws {
        tokio_tungstenite::connect_async(url.into_client_request().unwrap())
            .await
            .expect("connects")
            .0
    }

    /// A client whose socket barely buffers anything: it stops reading, the server's
    /// queue for it fills fast.
    pub async fn hello_with_tiny_buffer(
        url: &str,
        addr: std::net::SocketAddr,
        token: &str,
    ) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(
            url.into_client_request().unwrap(),
            MaybeTlsStream::Plain(stream),
        )
        .await
        .unwrap();
        Self::greet(ws, token, None).await
    }

    pub async fn hello(url: &str, token: &str, resume_from: Option<u64>) -> Client {
        Self::greet(Self::connect(url).await, token, resume_from).await
    }

    async fn greet(mut ws: Ws, token: &str, resume_from: Option<u64>) -> Client {
        let mut hello = json!({"type": "hello", "token": token});
        if let Some(r) = resume_from {
            hello["resume_from"] = json!(r);
        }
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let welcome = next_json(&mut ws).await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let last_seq = welcome["seq"].as_u64().unwrap();
        Client {
            ws,
            welcome,
            last_seq: resume_from.unwrap_or(last_seq),
            n: 0,
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).await.unwrap();
    }

    /// Sends a command and returns (events received before the result, the result).
    pub async fn command(&mut self, command: Value) -> (Vec<Value>, Value) {
        self.n += 1;
        let id = format!("c{}-{}", self.n, rand::random::<u32>());
        self.command_with_id(&id, command).await
    }

    pub async fn command_with_id(&mut self, id: &str, command: Value) -> (Vec<Value>, Value) {
        self.send_raw(&json!({"type": "command", "id": id, "command": command}).to_string())
            .await;
        let mut events = Vec::new();
        loop {
            let v = self.next().await.expect("a result");
            match v["type"].as_str() {
                Some("event") => events.push(v),
                Some("result") if v["id"] == id => return (events, v),
                _ => {}
            }
        }
    }

    /// The next JSON frame (events update `last_seq`).
    pub async fn next(&mut self) -> Option<Value> {
        let v = next_json(&mut self.ws).await?;
        if v["type"] == "event" {
            let seq = v["seq"].as_u64().unwrap();
            assert!(
                seq > self.last_seq,
                "seq {seq} after {} — reordered or duplicated",
                self.last_seq
            );
            self.last_seq = seq;
        }
        Some(v)
    }

    /// Events until one of `kind` arrives (inclusive).
    pub async fn until_event(&mut self, kind: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self
                .next()
                .await
                .unwrap_or_else(|| panic!("no {kind} event"));
            if v["type"] == "event" {
                let done = v["event"]["kind"] == kind;
                out.push(v);
                if done {
                    return out;
                }
            }
        }
    }

    /// Every frame that arrives within `d` (for checking that nothing more comes).
    pub async fn drain_for(&mut self, d: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(Some(v)) = tokio::time::timeout(d, next_json(&mut self.ws)).await {
            out.push(v);
        }
        out
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        close_code(&mut self.ws).await
    }
}

pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("server closes in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return Some(f.code.into()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the wait")
        {
            Some(Ok(Message::Text(t))) => {
                return Some(serde_json::from_str(&t).expect("server sends JSON"));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

pub fn kind(v: &Value) -> &str {
    v["event"]["kind"].as_str().unwrap_or("")
}

/// A JSON request by hand (the tests have no HTTP client dependency); returns the
/// status and the body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut resp))
        .await
        .expect("an answer in time")
        .unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

/// The resource a demo field user carries.
pub fn resource_of(s: &TestServer, username: &str) -> String {
    s.running.app.hub.with_state(|st| {
        st.users[&st.usernames[username]]
            .resource_id
            .clone()
            .unwrap()
            .0
    })
}

/// Receives a contact, opens a P1 medical emergency from it and assesses it, as `op`;
/// returns the incident's id.
pub async fn assessed_incident(op: &mut Client) -> String {
    let place = json!({"text": "Civic Centre lobby", "lat": 51.5074, "lon": -0.1278});
    let (_, r) = op.command(json!({"kind": "contact.receive", "channel": "phone", "caller": {"name": "Ada"}, "summary": "Man collapsed in the lobby", "location": place})).await;
    assert_eq!(r["ok"], true, "{r}");
    let contact = r["data"]["contact_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.open", "contact_id": contact, "type": "medical_emergency", "description": "Adult collapsed", "location": place})).await;
    let incident = r["data"]["incident_id"].as_str().unwrap().to_string();
    let (_, r) = op.command(json!({"kind": "incident.assess", "incident_id": incident, "validity": "verified", "priority": "P1", "method": "manual", "reason": "not breathing normally"})).await;
    assert_eq!(r["ok"], true, "{r}");
    incident
}
