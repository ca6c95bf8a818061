//! # muster-load
//!
//! The tools beside the hub, in their own binary (`muster-load`) so that none of them
//! ships in the product: the load generator, the ceiling server (`src/bin/ceiling.rs`)
//! and `gen-log`. They speak only the wire protocol (WebSocket and HTTP, as any client)
//! and write logs through muster-log; they never link the hub.
//!
//! Its client (`login`, [`net`], [`client`]) is the one piece the hub uses: the
//! exercise simulator plays its callers and units through the real API with it.
//!
//! `muster-load scenario`: plays a scenario (`bench/scenarios/*.toml`) against a running hub
//! over real WebSockets and reports latencies (HdrHistogram, from when each command
//! or event was *due*, so a slow hub cannot hide behind a slow sender), throughput,
//! errors, dropped and resumed connections, and the hub's memory and CPU from /proc.
//! The same scenarios run against the ceiling server (`crates/load/src/bin/ceiling.rs`), a
//! broadcast server with no application logic, to give each figure a ceiling.

pub mod centre;
pub mod client;
pub mod clock;
pub mod durable;
pub mod fanout;
pub mod genlog;
pub mod net;
pub mod pushprobe;
pub mod report;
pub mod restart;
pub mod roster;
pub mod run;
pub mod scenario;
pub mod stats;

use std::net::SocketAddr;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("log-in failed: {0}")]
    Login(String),
    #[error("connecting: {0}")]
    Connect(String),
    #[error("reading /proc for the hub: {0}")]
    Proc(String),
    #[error("a limit stops this run: {0}")]
    Limit(String),
    #[error("scenario file {0}")]
    Scenario(String),
    #[error("{0}")]
    Setup(String),
}

/// The server a run plays against.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// Its process, for RSS and CPU time from /proc.
    pub pid: Option<u32>,
    /// The demo users' password.
    pub password: String,
    /// The ceiling server: no log-in, no results, no application logic.
    pub ceiling: bool,
}

impl Target {
    /// A session token for `username` (the ceiling takes any token).
    pub async fn token(&self, username: &str) -> Result<String, LoadError> {
        if self.ceiling {
            return Ok("ceiling".into());
        }
        login(self.addr, username, &self.password).await
    }

    /// The server's RSS and CPU time, if its pid is known and readable.
    pub fn usage(&self) -> Option<ProcUsage> {
        self.pid.and_then(|pid| proc_usage(pid).ok())
    }
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

/// `POST /api/login` with a hand-written HTTP/1.1 request; returns the token.
pub async fn login(addr: SocketAddr, username: &str, password: &str) -> Result<String, LoadError> {
    let v = login_json(addr, username, password).await?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| LoadError::Login(v.to_string()))
}

/// `POST /api/login`; returns the whole answer (`token`, `user`, …). A `503` (every
/// password-check place busy with parallel log-ins) is retried after a short pause,
/// as a client should.
pub async fn login_json(
    addr: SocketAddr,
    username: &str,
    password: &str,
) -> Result<serde_json::Value, LoadError> {
    const TRIES: u32 = 50;
    let mut tries = 0;
    let v = loop {
        let (status, v) = login_once(addr, username, password).await?;
        tries += 1;
        if status != 503 || tries == TRIES {
            break v;
        }
        let pause = 20 + rand::random::<u64>() % 80;
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    };
    if v["token"].is_string() {
        Ok(v)
    } else {
        Err(LoadError::Login(format!("{username}: {v}")))
    }
}

/// One `POST /api/login`: the status and the JSON answer.
async fn login_once(
    addr: SocketAddr,
    username: &str,
    password: &str,
) -> Result<(u16, serde_json::Value), LoadError> {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // From the next source address, as a centre's many devices would: the hub
    // throttles log-ins per address.
    let mut s = net::tcp(addr, false).await?;
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| LoadError::Login(e.to_string()))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| LoadError::Login(e.to_string()))?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).map_err(|_| {
        LoadError::Login(format!("{username}: {}", resp.lines().next().unwrap_or("")))
    })?;
    Ok((status, v))
}

/// The `muster` binary the tools start (a hub to restart, `muster bench`): `MUSTER_BIN`,
/// else the one built beside this tool.
pub fn muster_exe() -> Result<std::path::PathBuf, LoadError> {
    let me = std::env::current_exe().map_err(|e| LoadError::Setup(e.to_string()))?;
    find_muster(std::env::var_os("MUSTER_BIN"), &me)
}

/// [`muster_exe`] from its inputs; a missing binary says how to get one.
fn find_muster(
    given: Option<std::ffi::OsString>,
    me: &std::path::Path,
) -> Result<std::path::PathBuf, LoadError> {
    let path = match given.filter(|b| !b.is_empty()) {
        Some(bin) => std::path::PathBuf::from(bin),
        None => me.with_file_name("muster"),
    };
    if !path.is_file() {
        return Err(LoadError::Setup(format!(
            "no muster binary at {}: build it beside this tool \
             (cargo build --release --bin muster) or name it in MUSTER_BIN",
            path.display()
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_binary_is_the_one_named_else_the_one_beside_this_tool() {
        let dir = std::env::temp_dir().join(format!("muster-exe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = dir.join("muster-load");
        let beside = dir.join("muster");
        let err = find_muster(None, &me).unwrap_err().to_string();
        assert!(
            err.contains("MUSTER_BIN") && err.contains("cargo build"),
            "{err}"
        );
        std::fs::write(&beside, b"").unwrap();
        assert_eq!(find_muster(None, &me).unwrap(), beside);
        assert_eq!(find_muster(Some("".into()), &me).unwrap(), beside);
        let named = dir.join("other");
        assert!(find_muster(Some(named.clone().into()), &me).is_err());
        std::fs::write(&named, b"").unwrap();
        assert_eq!(find_muster(Some(named.clone().into()), &me).unwrap(), named);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
