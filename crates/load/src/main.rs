//! The `muster-load` command: the load suite's scenarios and shapes against a running
//! hub, and `gen-log`. Run from the repository root (the centre's files are read from
//! `config/` by default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use muster_load::{Target, fanout, genlog, net, report, run, scenario::Scenario};

#[derive(Parser)]
#[command(
    name = "muster-load",
    version,
    about = "Load and logs for measuring a Muster hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Play a scenario file (bench/scenarios/*.toml) against a running hub over real
    /// WebSockets, with the ceiling server beside it when given.
    Scenario {
        /// The scenario file.
        path: PathBuf,
        /// Play the scenario's [quick] sizes.
        #[arg(long)]
        quick: bool,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write the JSON to this file.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// The ceiling server (muster-load's `ceiling` binary) to play the same runs
        /// against.
        #[arg(long)]
        ceiling_url: Option<String>,
        #[arg(long)]
        ceiling_pid: Option<u32>,
        /// Redis for the scenarios that measure it (S5).
        #[arg(long, default_value = "redis://127.0.0.1:6379/")]
        redis_url: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Idle authenticated sockets: the hub's memory per socket and idle CPU.
    Idle {
        #[arg(long, default_value_t = 15_000)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        hold_secs: u64,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Every event to every watcher, events sent on a fixed schedule.
    Fanout {
        #[arg(long, default_value_t = 2_000)]
        watchers: usize,
        #[arg(long, default_value_t = 20)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Send to this many incidents in turn, each watched by its own field user's
        /// share of the watchers (0: every watcher is a supervisor seeing all)
        #[arg(long, default_value_t = 0)]
        incidents: usize,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Web Push latency: subscribes field users to a push service of its own on
    /// loopback and times `assignment.create` → the push arriving (the hub must run
    /// with MUSTER_PUSH_ALLOW_HTTP=1). Prints JSON; fails when the p99 is over the floor.
    Push {
        #[arg(long, default_value_t = 100)]
        users: usize,
        #[arg(long, default_value_t = 1_000)]
        probes: usize,
        /// Probes in flight at once (each on its own desk socket).
        #[arg(long, default_value_t = 4)]
        lanes: usize,
        /// Start no probe after this many seconds (0: no limit), e.g. to end with a
        /// scenario running beside it.
        #[arg(long, default_value_t = 0)]
        seconds: u64,
        /// The floor for the p99, in milliseconds.
        #[arg(long, default_value_t = 250.0)]
        p99_floor_ms: f64,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Write a realistic year of a mid-size centre into a new SQLite log, through the
    /// real engine under a simulated clock (for benchmarks).
    GenLog {
        /// Stop once the log holds at least this many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// The new log file (must not exist).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The centre's procedures.
        #[arg(long, default_value = "config/centre.toml")]
        centre: PathBuf,
        /// The demo seed whose staff the year is played by ("" for none).
        #[arg(long, default_value = "config/demo")]
        demo_dir: PathBuf,
        /// The master key that seals the log's personal data (made if missing;
        /// default: `master.key` beside the log, where a hub on that data dir finds it).
        #[arg(long, env = "MUSTER_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
    },
}

/// The hub under load.
#[derive(Args)]
struct HubArgs {
    /// The hub's address (host:port, http:// optional).
    #[arg(long, alias = "addr", default_value = "127.0.0.1:8080")]
    url: String,
    /// The hub's process id, to read its memory and CPU from /proc.
    #[arg(long, alias = "pid")]
    hub_pid: Option<u32>,
    /// Demo password of the users the generator logs in as.
    #[arg(long, default_value = "muster-demo")]
    password: String,
}

impl HubArgs {
    fn target(self) -> anyhow::Result<Target> {
        Ok(Target {
            addr: socket_addr(&self.url)?,
            pid: self.hub_pid,
            password: self.password,
            ceiling: false,
        })
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(run(cli.command))
}

async fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Scenario {
            path,
            quick,
            json,
            json_out,
            ceiling_url,
            ceiling_pid,
            redis_url,
            hub,
        } => {
            let ceiling = match ceiling_url {
                Some(u) => Some(Target {
                    addr: socket_addr(&u)?,
                    pid: ceiling_pid,
                    password: String::new(),
                    ceiling: true,
                }),
                None => None,
            };
            let out = Output { json, json_out };
            let hub = hub.target()?;
            run_scenario(&path, quick, &out, &hub, ceiling.as_ref(), &redis_url).await
        }
        Cmd::Idle {
            connections,
            hold_secs,
            hub,
        } => {
            net::raise_nofile();
            let hold = Duration::from_secs(hold_secs);
            let report = run::idle_run(&hub.target()?, connections, hold).await?;
            println!("{}", serde_json::to_value(report)?);
            Ok(())
        }
        Cmd::Fanout {
            watchers,
            rate,
            seconds,
            incidents,
            hub,
        } => fanout_shape(watchers, rate, seconds, incidents, &hub.target()?).await,
        Cmd::Push {
            users,
            probes,
            lanes,
            seconds,
            p99_floor_ms,
            hub,
        } => {
            let plan = muster_load::pushprobe::Plan {
                users,
                probes,
                lanes,
                seconds,
            };
            let report = muster_load::pushprobe::run(&hub.target()?, plan).await?;
            println!("{}", serde_json::to_value(&report)?);
            anyhow::ensure!(report.lost == 0, "{} pushes never arrived", report.lost);
            anyhow::ensure!(
                report.latency.p99_ms <= p99_floor_ms,
                "push p99 {} ms is over the floor of {p99_floor_ms} ms",
                report.latency.p99_ms
            );
            Ok(())
        }
        Cmd::GenLog {
            events,
            out,
            seed,
            centre,
            demo_dir,
            master_key_file,
        } => gen_log(events, &out, seed, &centre, &demo_dir, master_key_file).await,
    }
}

/// `host:port`, with or without `http://` or `ws://`.
fn socket_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let bare = url
        .trim_start_matches("http://")
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    bare.parse()
        .with_context(|| format!("{url}: expected host:port, e.g. 127.0.0.1:8080"))
}

/// Where a scenario's report goes.
struct Output {
    json: bool,
    json_out: Option<PathBuf>,
}

async fn run_scenario(
    path: &Path,
    quick: bool,
    out: &Output,
    hub: &Target,
    ceiling: Option<&Target>,
    redis_url: &str,
) -> anyhow::Result<()> {
    net::raise_nofile();
    let scenario = Scenario::load(path, quick)?;
    let reports = run::scenario(&scenario, hub, ceiling, redis_url).await?;
    if let Some(file) = &out.json_out {
        std::fs::write(file, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if out.json {
        println!("{}", serde_json::to_string(&reports)?);
    } else {
        print!("{}", report::table(&reports));
    }
    // Floors fail a full run only: quick sizes promise correctness, not figures.
    let failed = report::failures(&reports, !quick);
    if !failed.is_empty() {
        bail!("checks failed:\n{}", failed.join("\n"));
    }
    Ok(())
}

async fn fanout_shape(
    watchers: usize,
    rate: u32,
    seconds: u64,
    incidents: usize,
    hub: &Target,
) -> anyhow::Result<()> {
    net::raise_nofile();
    let plan = fanout::Plan {
        watchers,
        rate: f64::from(rate),
        seconds: seconds as f64,
        // Under the hub's per-socket command rate (50/s by default).
        senders: rate.div_ceil(40).max(1) as usize,
        pad: 0,
        incidents,
        drop_within: None,
        slow: None,
        grace: 3.0,
    };
    println!("{}", serde_json::to_value(fanout::run(hub, &plan).await?)?);
    Ok(())
}

async fn gen_log(
    events: u64,
    out: &Path,
    seed: u64,
    centre: &Path,
    demo_dir: &Path,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let centre = muster_core::config::load_centre(centre)?;
    let key_path = master_key_file.unwrap_or_else(|| {
        out.parent()
            .unwrap_or_else(|| Path::new("."))
            .join("master.key")
    });
    let (master, _) = muster_vault::MasterKey::load_or_create(&key_path)?;
    let demo = match demo_dir.as_os_str().is_empty() {
        true => None,
        false => Some(muster_core::config::load_demo(demo_dir)?),
    };
    let opts = genlog::Options {
        events,
        seed,
        start: genlog::default_start(),
        master: Some(std::sync::Arc::new(master)),
    };
    let summary = genlog::generate(out, &centre, demo.as_ref(), &opts).await?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
