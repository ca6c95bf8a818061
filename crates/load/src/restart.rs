//! Restart on a large log: `muster-load gen-log` writes a log of N events, then a fresh
//! `muster serve` is started on it and timed until it serves (`/readyz` says ready,
//! a log-in works and a WebSocket gets its welcome, i.e. the state is rebuilt).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::report::{Better, Check, Figure};
use super::scenario::Params;
use super::{LoadError, Target, net};

/// What the restart found.
#[derive(Debug, Default, Serialize)]
pub struct Restart {
    pub events: u64,
    pub log_bytes: u64,
    pub gen_secs: f64,
    /// Process start to `/readyz` answering 200.
    pub ready_secs: f64,
    /// Process start to a welcome on a WebSocket (log-in included).
    pub serving_secs: f64,
    /// The seq the welcome reported (the rebuilt state's head).
    pub welcome_seq: u64,
    pub rss_kib: u64,
}

/// Kills the hub it started, however the run ends.
struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Generates the log (once per event format: an existing one is reused) and times a
/// start on it.
pub async fn run(target: &Target, p: &Params) -> Result<Restart, LoadError> {
    let exe = std::env::current_exe().map_err(|e| LoadError::Setup(e.to_string()))?;
    // Found before the (long) generation, so a missing hub binary fails at once.
    let muster = crate::muster_exe()?;
    // Named by the event format too: a log kept from an older format is not served.
    let dir = std::env::temp_dir().join(format!(
        "muster-restart-v{}-{}",
        muster_log::record::VERSION,
        p.events
    ));
    let log = dir.join("muster.sqlite");
    let mut out = Restart {
        events: p.events,
        ..Restart::default()
    };
    if !log.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| LoadError::Setup(e.to_string()))?;
        let t = Instant::now();
        generate(&exe, p.events, &log)?;
        out.gen_secs = t.elapsed().as_secs_f64();
    }
    out.log_bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let hub = Hub(spawn_hub(&muster, &dir, target)?);
    let deadline = started + Duration::from_secs(60);
    let head = loop {
        if let Some(seq) = ready(target).await {
            break seq;
        }
        if Instant::now() > deadline {
            return Err(LoadError::Setup("the hub was not ready within 60 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    out.ready_secs = started.elapsed().as_secs_f64();
    let token = target.token("supervisor").await?;
    // Resume from the head: a fresh welcome would carry the whole view (tens of MB
    // for a year's log), which measures the snapshot, not the restart.
    let (_ws, welcome) = net::connect(target.addr, &token, Some(head), false).await?;
    out.serving_secs = started.elapsed().as_secs_f64();
    out.welcome_seq = welcome.seq;
    out.rss_kib = super::proc_usage(hub.0.id()).map_or(0, |u| u.rss_kib);
    Ok(out)
}

fn generate(exe: &Path, events: u64, log: &Path) -> Result<(), LoadError> {
    let status = Command::new(exe)
        .args(["gen-log", "--events", &events.to_string(), "--out"])
        .arg(log)
        .status()
        .map_err(|e| LoadError::Setup(format!("running muster-load gen-log: {e}")))?;
    if !status.success() {
        return Err(LoadError::Setup(format!(
            "muster-load gen-log --events {events} --out {} failed ({status})",
            log.display()
        )));
    }
    Ok(())
}

fn spawn_hub(exe: &Path, dir: &PathBuf, target: &Target) -> Result<Child, LoadError> {
    Command::new(exe)
        .arg("serve")
        .env("MUSTER_BIND", target.addr.to_string())
        .env("MUSTER_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| LoadError::Setup(format!("starting muster serve: {e}")))
}

/// `GET /readyz` answers 200: the seq it reports.
async fn ready(target: &Target) -> Option<u64> {
    let mut s = tokio::net::TcpStream::connect(target.addr).await.ok()?;
    let req = format!(
        "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.addr
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp).await;
    if !resp.starts_with("HTTP/1.1 200") {
        return None;
    }
    super::clock::seq_of(&resp)
}

/// Figures and checks for a restart.
pub fn report(r: &Restart, p: &Params) -> (Vec<Figure>, Vec<Check>, Value) {
    let figures = vec![
        Figure::new("ready (readyz 200)", r.ready_secs, "s", Better::Lower)
            .floor(p.ready_floor_secs),
        Figure::new("serving (welcome)", r.serving_secs, "s", Better::Lower)
            .floor(p.ready_floor_secs),
        Figure::new(
            "hub RSS after start",
            r.rss_kib as f64 / 1024.0,
            "MiB",
            Better::Lower,
        ),
    ];
    let checks = vec![Check::new(
        "state rebuilt to the log's head",
        r.welcome_seq >= r.events,
        format!("welcome seq {} for {} events", r.welcome_seq, r.events),
    )];
    (figures, checks, serde_json::to_value(r).unwrap_or_default())
}
