//! `muster bench`: drives the sequencer with concurrent submitters of realistic desk
//! commands against a real log (SQLite on disk, or a Redis server) and reports durable
//! commands per second and time-to-durable percentiles. Also the `stress` loop the
//! crash test kills.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Demo;
use crate::hub::{Hub, HubOptions, demo};
use muster_core::domain::procedure::Centre;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, Engine, Error};
use muster_core::time::SystemClock;
use muster_log::sqlite::SqliteLog;
use muster_log::{EventLog, StoreError};

/// What a benchmark run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub mode: &'static str,
    /// True when personal data was sealed (false for `--plain`).
    pub sealed: bool,
    pub submitters: usize,
    pub commands: u64,
    pub errors: u64,
    pub seconds: f64,
    pub commands_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Commands per group commit, on average.
    pub commands_per_batch: f64,
    /// Time one append took, on average (microseconds).
    pub append_us: f64,
    /// CPU time (user + system) of the whole process per command, submitters included
    /// (microseconds): what a command costs, whatever else the machine is doing.
    pub cpu_us_per_command: f64,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    #[error("seeding the demo: {0}")]
    Seed(#[from] Error),
    #[error("the demo has no user named {0}")]
    MissingUser(&'static str),
}

/// Starts a hub on a fresh SQLite log in `dir` with the demo seeded (cheap hashes).
pub async fn fresh_hub(
    dir: &Path,
    centre: &Centre,
    demo: &Demo,
    options: HubOptions,
) -> Result<Hub, BenchError> {
    let path = dir.join("bench.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let log = Arc::new(SqliteLog::open(&path)?);
    hub_on(log, centre, demo, options).await
}

/// Starts a hub on `log` with the demo seeded (cheap hashes) unless it already is.
pub async fn hub_on(
    log: Arc<dyn EventLog>,
    centre: &Centre,
    demo: &Demo,
    options: HubOptions,
) -> Result<Hub, BenchError> {
    let hub = Hub::start(
        Engine::new(centre.clone()),
        log,
        Arc::new(SystemClock),
        options,
    )
    .await?;
    demo::seed(&hub, demo, |_| "bench-not-a-real-hash".into()).await?;
    Ok(hub)
}

/// Runs `submitters` closed-loop submitters for `duration`; `naive` turns group commit
/// off (one fsync per command) so the two can be compared.
pub async fn durable(
    dir: &Path,
    centre: &Centre,
    demo: &Demo,
    submitters: usize,
    duration: Duration,
    naive: bool,
    plain: bool,
) -> Result<Report, BenchError> {
    let hub = fresh_hub(dir, centre, demo, bench_options(naive, plain)).await?;
    measure(hub, submitters, duration, naive).await
}

/// Hub options for a benchmark: no snapshots; `naive` turns group commit off; personal
/// data sealed under a throw-away master key unless `plain`.
pub fn bench_options(naive: bool, plain: bool) -> HubOptions {
    HubOptions {
        master_key: Some(Arc::new(muster_vault::MasterKey::generate())),
        seal: !plain,
        max_batch: if naive {
            1
        } else {
            HubOptions::default().max_batch
        },
        snapshot_every: 0,
        ..HubOptions::default()
    }
}

/// Runs `submitters` closed-loop submitters for `duration` against a started hub.
pub async fn measure(
    hub: Hub,
    submitters: usize,
    duration: Duration,
    naive: bool,
) -> Result<Report, BenchError> {
    let actor = operator(&hub)?;
    let cpu_before = own_cpu_secs();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..submitters)
        .map(|n| {
            let (hub, actor) = (hub.clone(), actor.clone());
            tokio::spawn(async move { submitter(hub, actor, n, deadline, |_| {}).await })
        })
        .collect();
    let mut samples = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (s, e) = t.await.expect("submitter task does not panic");
        samples.extend(s);
        errors += e;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_secs = own_cpu_secs() - cpu_before;
    let m = &hub.metrics;
    let batches = crate::hub::metrics::Metrics::get(&m.batches).max(1) as f64;
    let commands_per_batch = crate::hub::metrics::Metrics::get(&m.commands) as f64 / batches;
    let append_us = crate::hub::metrics::Metrics::get(&m.append_micros) as f64 / batches;
    samples.sort_unstable();
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(Report {
        mode: if naive {
            "one fsync per command"
        } else {
            "group commit"
        },
        sealed: hub.vault.seals(),
        submitters,
        commands: samples.len() as u64,
        errors,
        seconds,
        commands_per_sec: samples.len() as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: samples.last().copied().unwrap_or(0),
        commands_per_batch,
        append_us,
        cpu_us_per_command: cpu_secs * 1e6 / samples.len().max(1) as f64,
    })
}

/// This process's CPU time so far (user and system), in seconds.
fn own_cpu_secs() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Appends forever with `submitters` tasks, printing `ok <command id>` for every command
/// whose result came back, so a test can kill the process and check the log.
pub async fn stress(
    dir: &Path,
    centre: &Centre,
    demo: &Demo,
    submitters: usize,
) -> Result<(), BenchError> {
    let log = Arc::new(SqliteLog::open(&dir.join("stress.sqlite"))?);
    let options = HubOptions {
        snapshot_every: 500,
        ..HubOptions::default()
    };
    let hub = hub_on(log, centre, demo, options).await?;
    let actor = operator(&hub)?;
    let far = Instant::now() + Duration::from_secs(3_600);
    let run = std::process::id();
    let tasks: Vec<_> = (0..submitters)
        .map(|n| {
            let (hub, actor) = (hub.clone(), actor.clone());
            tokio::spawn(async move {
                submitter(hub, actor, n + run as usize * 1_000, far, |id| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ok {id}");
                    let _ = out.flush();
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// The demo's `operator`, the actor every benchmark submitter acts as.
pub fn operator(hub: &Hub) -> Result<Actor, BenchError> {
    hub.with_state(|s| {
        let id = s.usernames.get("operator")?;
        s.users.get(id).map(Actor::of)
    })
    .ok_or(BenchError::MissingUser("operator"))
}

/// One closed-loop submitter: a realistic desk cycle (receive, open, assess, note,
/// note, close the contact) until `deadline`. Returns microsecond samples and errors.
pub async fn submitter(
    hub: Hub,
    actor: Actor,
    n: usize,
    deadline: Instant,
    on_ok: impl Fn(&str),
) -> (Vec<u64>, u64) {
    let mut samples = Vec::with_capacity(100_000);
    let mut errors = 0;
    let mut i = 0u64;
    while Instant::now() < deadline {
        let mut ids = std::collections::BTreeMap::new();
        for step in 0..6 {
            let Some(command) = cycle_step(step, &ids, i) else {
                break;
            };
            i += 1;
            let command_id = format!("b{n}-{i}");
            let t = Instant::now();
            match hub
                .submit(actor.clone(), Some(command_id.clone()), command)
                .await
            {
                Ok(out) => {
                    samples.push(t.elapsed().as_micros() as u64);
                    on_ok(&command_id);
                    ids.extend(out.data);
                }
                Err(_) => errors += 1,
            }
        }
    }
    (samples, errors)
}

/// The `step`th command of a desk cycle, built directly (the load generator's JSON
/// is not what is being measured here).
fn cycle_step(
    step: usize,
    ids: &std::collections::BTreeMap<String, String>,
    n: u64,
) -> Option<Command> {
    use muster_core::domain::contact::{Caller, Channel, ContactReason};
    use muster_core::domain::geo::Location;
    use muster_core::domain::triage::{Priority, TriageMethod, Validity};
    // Incidents spread over a city about 10 km across, as a centre's are; the same
    // spot every time would make every report a duplicate of every other.
    let (dlat, dlon) = (
        (n * 7919 % 1000) as f64 / 10_000.0,
        (n * 104_729 % 1000) as f64 / 7_000.0,
    );
    let place = || Location {
        text: Some("Civic Centre, level 2".into()),
        lat: Some(51.46 + dlat),
        lon: Some(-0.20 + dlon),
        place_id: None,
    };
    let incident_id = || ids.get("incident_id").map(|s| s.as_str().into());
    let contact_id = || ids.get("contact_id").map(|s| s.as_str().into());
    Some(match step {
        0 => Command::ContactReceive(cmd::ContactReceive {
            channel: Channel::Phone,
            caller: Caller {
                name: Some("Caller".into()),
                phone: Some("+44 20 7946 0000".into()),
                email: None,
            },
            location: Some(place()),
            summary: "Person collapsed near the lifts".into(),
            reason: ContactReason::Report,
        }),
        1 => Command::IncidentOpen(cmd::IncidentOpen {
            contact_id: Some(contact_id()?),
            incident_type: "medical_emergency".into(),
            description: "Adult collapsed, breathing".into(),
            location: place(),
        }),
        2 => Command::IncidentAssess(cmd::IncidentAssess {
            incident_id: incident_id()?,
            validity: Validity::Verified,
            priority: Some(Priority::P2),
            method: TriageMethod::Manual,
            reason: "caller on scene, patient breathing".into(),
            duplicate_of: None,
            impact: None,
            urgency: None,
        }),
        3 | 4 => Command::IncidentNote(cmd::IncidentNote {
            incident_id: incident_id()?,
            text: "Caller staying with the patient".into(),
        }),
        _ => Command::ContactClose(cmd::ContactClose {
            contact_id: contact_id()?,
            outcome: "linked to incident".into(),
            note: None,
        }),
    })
}

/// What `muster bench report` measured.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewBench {
    /// Events in the log.
    pub log_events: u64,
    pub by: &'static str,
    /// Wall time of each report (read, fold, KPIs, findings, improvements), in ms.
    pub runs_ms: Vec<f64>,
    pub best_ms: f64,
    /// CPU time (user + system, all threads) of each run, in ms: what the report
    /// costs whatever else the machine is doing.
    pub runs_cpu_ms: Vec<f64>,
    pub groups: usize,
    pub findings: Vec<muster_core::projection::findings::Finding>,
    /// The live state, replayed from the whole log as a restarting hub would.
    pub state_events: u64,
    pub state_replay_ms: f64,
    /// Resident memory before replaying, and while holding the state (kB, /proc).
    pub rss_before_kb: u64,
    pub rss_with_state_kb: u64,
}

/// Why the report bench failed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewBenchError {
    #[error("reading the log: {0}")]
    Read(#[from] crate::http::ops::ReviewReadError),
    #[error("replaying the state: {0}")]
    Store(#[from] StoreError),
}

/// Replays the live state from `log` and reports the memory it holds, then builds the
/// performance report over the whole log `runs` times by the HTTP route's path.
pub async fn report(
    log: &dyn EventLog,
    vault: &muster_vault::Vault,
    centre: &Centre,
    by: muster_core::projection::review::GroupBy,
    runs: usize,
) -> Result<ReviewBench, ReviewBenchError> {
    use chrono::{DateTime, Utc};
    let (log_events, _) = log.head().await?;
    // The live state first, in a process that has held nothing big yet, so the RSS
    // difference is the state's (a freed report's memory may stay with the allocator).
    let rss_before_kb = rss_kb();
    let t = Instant::now();
    let mut state = muster_core::engine::State::default();
    crate::hub::recovery::replay(log, vault, &mut state, None).await?;
    let state_replay_ms = t.elapsed().as_secs_f64() * 1e3;
    let rss_with_state_kb = rss_kb();
    let state_events = state.seq;
    drop(state);
    let mut runs_ms = Vec::with_capacity(runs);
    let mut runs_cpu_ms = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let cpu = cpu_ms();
        let review = crate::http::ops::read_review(
            log,
            vault,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        )
        .await?;
        let report = review.finish(centre, by);
        runs_ms.push(t.elapsed().as_secs_f64() * 1e3);
        runs_cpu_ms.push(cpu_ms() - cpu);
        last = Some(report);
    }
    let report = last.expect("at least one run");
    Ok(ReviewBench {
        log_events,
        by: by.name(),
        best_ms: runs_ms.iter().copied().fold(f64::INFINITY, f64::min),
        runs_ms,
        runs_cpu_ms,
        groups: report.groups.len(),
        findings: report.findings,
        state_events,
        state_replay_ms,
        rss_before_kb,
        rss_with_state_kb,
    })
}

/// This process's CPU time so far (user + system, every thread) in ms, from /proc
/// (clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the name.
    (ticks(11) + ticks(12)) * 10.0
}

/// This process's resident set size in kB (0 where /proc is missing).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
