//! `muster load`: a simple load generator over real WebSockets against a running hub,
//! for the server's floors: idle connections (server memory and CPU per connection)
//! and fan-out (every event to every watcher, latency measured from when each event
//! was due, so a slow hub cannot hide behind a slow sender).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("log-in failed: {0}")]
    Login(String),
    #[error("connecting: {0}")]
    Connect(String),
    #[error("reading /proc for the hub: {0}")]
    Proc(String),
}

/// What the server process used, from `/proc`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ProcUsage {
    pub rss_kib: u64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
}

/// Reads the RSS and CPU time of `pid`.
pub fn proc_usage(pid: u32) -> Result<ProcUsage, LoadError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| LoadError::Proc(e.to_string()))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| LoadError::Proc("no VmRSS".into()))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| LoadError::Proc(e.to_string()))?;
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the name.
    let cpu_secs = (ticks(11) + ticks(12)) / 100.0;
    Ok(ProcUsage { rss_kib, cpu_secs })
}

/// `POST /api/login` with a hand-written HTTP/1.1 request (one call per run).
pub async fn login(addr: SocketAddr, username: &str, password: &str) -> Result<String, LoadError> {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| LoadError::Login(e.to_string()))?;
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| LoadError::Login(e.to_string()))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| LoadError::Login(e.to_string()))?;
    let json = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|_| LoadError::Login(resp.lines().next().unwrap_or("").to_string()))?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| LoadError::Login(v.to_string()))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Connects and says hello; returns the socket after the welcome.
async fn connect(addr: SocketAddr, token: &str) -> Result<Ws, LoadError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .map_err(|e| LoadError::Connect(e.to_string()))?;
    let hello = serde_json::json!({"type": "hello", "token": token}).to_string();
    ws.send(Message::text(hello))
        .await
        .map_err(|e| LoadError::Connect(e.to_string()))?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("\"welcome\"") => Ok(ws),
        other => Err(LoadError::Connect(format!("no welcome: {other:?}"))),
    }
}

/// Opens `n` sockets, at most `parallel` handshakes at a time.
async fn connect_many(
    addr: SocketAddr,
    token: &str,
    n: usize,
    parallel: usize,
) -> Result<Vec<Ws>, LoadError> {
    let gate = Arc::new(Semaphore::new(parallel));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (gate, token) = (gate.clone(), token.to_string());
            tokio::spawn(async move {
                let _p = gate.acquire_owned().await;
                connect(addr, &token).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.map_err(|e| LoadError::Connect(e.to_string()))??);
    }
    Ok(out)
}

/// The idle scenario's result.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub connections: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_connection: f64,
    pub idle_secs: f64,
    /// Hub CPU while the connections sat idle, as a share of one core.
    pub idle_cpu_share: f64,
}

/// Opens `n` authenticated sockets, holds them idle for `hold`, and reports the hub's
/// memory per socket and its CPU while idle. Idle sockets answer the hub's pings.
pub async fn idle(
    addr: SocketAddr,
    pid: u32,
    token: &str,
    n: usize,
    hold: Duration,
) -> Result<IdleReport, LoadError> {
    let before = proc_usage(pid)?;
    let sockets = connect_many(addr, token, n, 256).await?;
    // Keep reading (pings, pongs) without holding anything.
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while ws.next().await.is_some() {} }))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = proc_usage(pid)?;
    tokio::time::sleep(hold).await;
    let after = proc_usage(pid)?;
    for r in readers {
        r.abort();
    }
    Ok(IdleReport {
        connections: n,
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        kib_per_connection: (after.rss_kib.saturating_sub(before.rss_kib)) as f64 / n as f64,
        idle_secs: hold.as_secs_f64(),
        idle_cpu_share: (after.cpu_secs - settled.cpu_secs) / hold.as_secs_f64(),
    })
}

/// The fan-out scenario's result.
#[derive(Debug, Serialize)]
pub struct FanoutReport {
    pub watchers: usize,
    pub events_per_sec: u32,
    pub seconds: f64,
    pub events_sent: u64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub hub_cpu_share: f64,
    pub hub_rss_kib: u64,
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// `watchers` sockets watch every event while one operator socket sends `rate`
/// commands a second on a fixed schedule; each event carries the time it was due.
pub async fn fanout(
    addr: SocketAddr,
    pid: u32,
    watcher_token: &str,
    sender_token: &str,
    watchers: usize,
    rate: u32,
    secs: u64,
) -> Result<FanoutReport, LoadError> {
    let sockets = connect_many(addr, watcher_token, watchers, 256).await?;
    let deliveries = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(secs + 3);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(watch(ws, deliveries.clone(), stop_at)))
        .collect();
    let before = proc_usage(pid)?;
    let started = Instant::now();
    let sent = send_on_schedule(addr, sender_token, rate, secs).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = proc_usage(pid)?;
    let mut samples = Vec::new();
    for r in readers {
        samples.extend(r.await.unwrap_or_default());
    }
    samples.sort_unstable();
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Ok(FanoutReport {
        watchers,
        events_per_sec: rate,
        seconds: elapsed,
        events_sent: sent,
        deliveries_expected: sent * watchers as u64,
        deliveries: deliveries.load(Ordering::Relaxed),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: samples.last().copied().unwrap_or(0) as f64 / 1000.0,
        hub_cpu_share: (after.cpu_secs - before.cpu_secs) / elapsed,
        hub_rss_kib: after.rss_kib,
    })
}

/// Reads events until `stop_at`, recording each load event's lateness (µs).
async fn watch(mut ws: Ws, deliveries: Arc<AtomicU64>, stop_at: Instant) -> Vec<u64> {
    let mut samples = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(stop_at.into(), ws.next()).await {
        let Message::Text(text) = msg else { continue };
        if let Some(due) = due_of(&text) {
            samples.push(unix_micros().saturating_sub(due));
            deliveries.fetch_add(1, Ordering::Relaxed);
        }
    }
    samples
}

/// The `due:<µs>` stamp a load event's summary carries.
fn due_of(frame: &str) -> Option<u64> {
    let start = frame.find("\"summary\":\"due:")? + "\"summary\":\"due:".len();
    let digits: String = frame[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Sends `rate` contacts a second for `secs`, each stamped with its due time; the
/// schedule does not slip when a send is late (open loop).
async fn send_on_schedule(
    addr: SocketAddr,
    token: &str,
    rate: u32,
    secs: u64,
) -> Result<u64, LoadError> {
    let ws = connect(addr, token).await?;
    let (mut tx, mut rx) = ws.split();
    tokio::spawn(async move { while rx.next().await.is_some() {} });
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let total = u64::from(rate) * secs;
    let epoch = unix_micros();
    for i in 0..total {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let due_us = epoch + (period * i as u32).as_micros() as u64;
        let cmd = serde_json::json!({"type": "command", "id": format!("load-{epoch}-{i}"),
            "command": {"kind": "contact.receive", "channel": "api", "summary": format!("due:{due_us}")}});
        tx.send(Message::text(cmd.to_string()))
            .await
            .map_err(|e| LoadError::Connect(e.to_string()))?;
    }
    Ok(total)
}
