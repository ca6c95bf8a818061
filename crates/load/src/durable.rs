//! Durable commands (S5): `muster bench` against SQLite or Redis, each beside its
//! ceiling on this machine: for SQLite a raw append + fsync loop with the hub's batch
//! size (no database, no application logic), for Redis `redis-benchmark` with as many
//! clients as the hub has submitters, under the same `appendfsync` policy.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::LoadError;
use super::report::{Better, Check, Figure};
use super::scenario::Params;

/// Bytes one command writes to the log (1.5 events of ~180 bytes, see PERFORMANCE.md).
const BYTES_PER_COMMAND: usize = 270;

/// What one durable run found.
#[derive(Debug, Default, Serialize)]
pub struct Durable {
    pub store: String,
    pub appendfsync: Option<String>,
    /// `muster bench --json`, as printed.
    pub bench: Value,
    pub commands_per_sec: f64,
    pub ceiling_per_sec: f64,
    /// How the ceiling was measured.
    pub ceiling: String,
}

fn setup(e: impl std::fmt::Display) -> LoadError {
    LoadError::Setup(e.to_string())
}

/// Runs `muster bench` on the store `p.store` names, then its ceiling.
pub async fn run(p: &Params, redis_url: &str) -> Result<Durable, LoadError> {
    let exe = crate::muster_exe()?;
    let mut cmd = Command::new(exe);
    let redis = p.store == "redis";
    if redis {
        set_appendfsync(redis_url, &p.appendfsync).await?;
        cmd.args(["--store", "redis", "--redis-url", redis_url]);
    }
    let out = cmd
        .args(["bench", "--json", "--seconds"])
        .arg(format!("{}", p.seconds.ceil() as u64))
        .args(["--submitters", &p.submitters.to_string()])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| setup(format!("running muster bench: {e}")))?;
    if !out.status.success() {
        return Err(setup(format!(
            "muster bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let bench: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .find(|l| l.starts_with(b"{"))
            .unwrap_or_default(),
    )
    .map_err(|e| setup(format!("muster bench printed no JSON: {e}")))?;
    let rate = bench["commands_per_sec"].as_f64().unwrap_or(0.0);
    let (ceiling_per_sec, ceiling) = if redis {
        redis_benchmark(redis_url, p.submitters)?
    } else {
        let batch = bench["commands_per_batch"].as_f64().unwrap_or(1.0).max(1.0);
        let dir = std::env::temp_dir();
        let secs = p.seconds.min(3.0);
        let per_sec = tokio::task::spawn_blocking(move || fsync_loop(&dir, batch, secs))
            .await
            .map_err(setup)?
            .map_err(setup)?;
        (
            per_sec,
            format!("write {batch:.1} x {BYTES_PER_COMMAND} B + fsync, in a loop, for {secs} s"),
        )
    };
    Ok(Durable {
        store: p.store.clone(),
        appendfsync: redis.then(|| p.appendfsync.clone()),
        bench,
        commands_per_sec: rate,
        ceiling_per_sec,
        ceiling,
    })
}

/// Appends `batch` commands' worth of bytes and fsyncs, for `secs`; commands/s.
fn fsync_loop(dir: &std::path::Path, batch: f64, secs: f64) -> std::io::Result<f64> {
    let path = dir.join(format!("muster-fsync-ceiling-{}", std::process::id()));
    let mut file = std::fs::File::create(&path)?;
    let buf = vec![b'x'; (batch * BYTES_PER_COMMAND as f64) as usize];
    let (start, limit) = (Instant::now(), Duration::from_secs_f64(secs));
    let mut syncs = 0u64;
    while start.elapsed() < limit {
        file.write_all(&buf)?;
        file.sync_all()?;
        syncs += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(syncs as f64 * batch / elapsed)
}

async fn set_appendfsync(url: &str, policy: &str) -> Result<(), LoadError> {
    let client = redis::Client::open(url).map_err(setup)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| setup(format!("redis at {url}: {e}")))?;
    for (key, value) in [("appendonly", "yes"), ("appendfsync", policy)] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| setup(format!("CONFIG SET {key} {value}: {e}")))?;
    }
    Ok(())
}

/// `redis-benchmark -t set` with `clients` connections: SETs per second.
fn redis_benchmark(url: &str, clients: usize) -> Result<(f64, String), LoadError> {
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
    let args = [
        "-h",
        host,
        "-p",
        port,
        "-c",
        &clients.to_string(),
        "-n",
        "200000",
        "-t",
        "set",
        "--csv",
    ];
    let out = Command::new("redis-benchmark")
        .args(args)
        .output()
        .map_err(|e| setup(format!("redis-benchmark: {e} (is it installed?)")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find(|l| l.starts_with("\"SET\""))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
        .ok_or_else(|| setup(format!("redis-benchmark printed no SET line: {text}")))?;
    Ok((rate, format!("redis-benchmark {}", args.join(" "))))
}

/// Figures and checks for a durable run.
pub fn report(d: &Durable, p: &Params) -> (Vec<Figure>, Vec<Check>, Value) {
    let ms = |k: &str| d.bench[k].as_f64().unwrap_or(0.0) / 1000.0;
    let figures = vec![
        Figure::new(
            "durable commands/s",
            d.commands_per_sec,
            "/s",
            Better::Higher,
        )
        .floor(p.rate_floor)
        .ceiling(d.ceiling_per_sec),
        Figure::new("command p99", ms("p99_us"), "ms", Better::Lower),
        Figure::new(
            "commands per batch",
            d.bench["commands_per_batch"].as_f64().unwrap_or(0.0),
            "",
            Better::Higher,
        ),
    ];
    let errors = d.bench["errors"].as_u64().unwrap_or(0);
    let checks = vec![Check::new(
        "no command errors",
        errors == 0 && d.commands_per_sec > 0.0,
        format!("{errors} errors"),
    )];
    (figures, checks, serde_json::to_value(d).unwrap_or_default())
}
