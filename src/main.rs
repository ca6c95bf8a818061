//! The `muster` command: parses the command line, sets up tracing, and calls the
//! library. Everything that can be tested lives in the library.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use muster::config::{self, Loaded};
use muster::hub::recovery;
use muster::store::EventLog;
use muster::store::sqlite::{SqliteLog, verify_blocking};
use muster::time::SystemClock;

// The hub allocates and frees small objects (events, frames, ids) at a high rate from
// several threads; mimalloc does that with far less time in the allocator than glibc's
// (measured in docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "muster",
    version,
    about = "Real-time incident coordination hub for contact centres"
)]
struct Cli {
    /// Settings file (default: $MUSTER_CONFIG, else config/muster.toml).
    #[arg(long, global = true, env = "MUSTER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to serve on (overrides MUSTER_BIND and the file).
    #[arg(long, global = true)]
    bind: Option<String>,
    /// Event log: sqlite or redis (overrides MUSTER_STORE).
    #[arg(long, global = true)]
    store: Option<String>,
    /// Where the SQLite log lives (overrides MUSTER_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Redis URL for the redis store (overrides MUSTER_REDIS_URL).
    #[arg(long, global = true)]
    redis_url: Option<String>,
    /// Log format: text or json (overrides MUSTER_LOG_FORMAT).
    #[arg(long, global = true)]
    log_format: Option<String>,
    /// Run the demo centre (published log-ins) even when bound to a non-loopback
    /// address (sets MUSTER_DEMO=1). On loopback the demo runs without it.
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate the settings and the centre's procedures; exit non-zero on errors.
    CheckConfig {
        /// Settings file to check (default: as for serve).
        path: Option<PathBuf>,
    },
    /// Make a new intake key for a channel gateway: prints the key (give it to the
    /// gateway) and its SHA-256 (put it in auth.intake_key_hashes).
    IntakeKey,
    /// Partner centres that follow shared incidents (`incident.share`, `/ws/eido`).
    Partner {
        #[command(subcommand)]
        cmd: PartnerCmd,
    },
    /// Import users, resources or shifts from a CSV file through the hub's API
    /// (`POST /api/import/{users|resources|shifts}`): prints the hub's answer and exits
    /// non-zero when a row is refused. Log-in from MUSTER_USERNAME and MUSTER_PASSWORD,
    /// else asked for.
    Import {
        /// `users`, `resources` or `shifts`.
        what: String,
        /// The CSV file.
        file: PathBuf,
        /// Check every row, apply nothing.
        #[arg(long)]
        dry_run: bool,
        /// The hub's URL (default: server.public_url, else http:// and the bind address).
        #[arg(long)]
        hub: Option<String>,
    },
    #[command(flatten)]
    Loaded(LoadedCmd),
}

/// `muster partner ...`.
#[derive(Subcommand)]
enum PartnerCmd {
    /// Make a key for a partner centre: prints the key once (give it to the partner)
    /// and the `auth.partner_keys` entry, `NAME:SHA256`, to add to the settings.
    Add {
        /// The partner's name, as `incident.share {partner}` names it: lower-case
        /// letters, digits, `_` or `-`.
        name: String,
    },
}

/// The commands that run with the settings, procedures and demo loaded.
#[derive(Subcommand)]
enum LoadedCmd {
    /// Run the hub (the default).
    Serve,
    /// Run an exercise: the same apps and API as `serve`, on a log of its own under
    /// `<data_dir>/exercises/`, with simulated callers and units playing a scenario
    /// (`config/exercises/NAME.toml`) on a clock `--speed` times faster than real time.
    Exercise {
        /// A scenario name (in config/exercises/) or a path to a scenario file.
        #[arg(long, default_value = "busy-evening")]
        scenario: String,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// The seed the arrival curves expand with (default: the scenario's own).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Walk the log's hash chain and report the first event that does not match.
    VerifyLog,
    /// Convert a log written in an older event format into the current one, in a new
    /// file (its first event records the old log's head hash); password hashes the
    /// old events carried go to the credential store beside the new log.
    MigrateLog {
        /// The old SQLite log (read only).
        #[arg(long)]
        from: PathBuf,
        /// The new SQLite log (must not exist), e.g. a new data dir's `muster.sqlite`.
        #[arg(long)]
        to: PathBuf,
    },
    /// Print the state as it was at a moment (time travel over the log).
    Replay {
        /// RFC 3339 time, e.g. 2026-11-28T17:00:00Z.
        #[arg(long)]
        until: String,
    },
    /// Measure durable commands per second against a fresh SQLite log (or Redis).
    /// With the global `--store redis --redis-url URL`, against Redis (fresh keys,
    /// deleted after).
    Bench {
        /// What to measure instead of durable commands (e.g. `report`).
        #[command(subcommand)]
        what: Option<BenchWhat>,
        #[arg(long, default_value_t = 64)]
        submitters: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Also run with group commit off (one fsync per command).
        #[arg(long)]
        naive: bool,
        /// Seal nothing (the same binary without encryption of personal data), to
        /// measure what sealing costs.
        #[arg(long)]
        plain: bool,
        /// Where the benchmark log goes (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Re-wrap every data key of the log's personal data under a new master key (the
    /// events are not touched). Run it while every hub on the log is stopped, then
    /// point MUSTER_MASTER_KEY_FILE (privacy.master_key_file) at the new key.
    RotateMasterKey {
        /// The new key: 32 bytes or 64 hex digits; made (mode 0600) if missing.
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// Manage users while the hub is stopped (a running hub: use user.create as admin).
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Append forever, printing `ok <id>` per acknowledged command (crash tests).
    #[command(hide = true)]
    Stress {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 16)]
        submitters: usize,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Time the performance report (KPIs and findings) over a log, by the HTTP
    /// route's code path, and the memory to hold the live state.
    Report {
        /// The SQLite log (e.g. one written by `muster-load gen-log`).
        #[arg(long)]
        log: PathBuf,
        /// Grouping: operator, team, type, priority or channel.
        #[arg(long, default_value = "operator")]
        by: String,
        /// How many times to build the report (the best and every time are printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The master key the log was sealed with (default: `master.key` beside it).
        #[arg(long)]
        master_key_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; the password is read from MUSTER_USER_PASSWORD or standard input.
    Add {
        #[arg(long)]
        username: String,
        /// operator, supervisor, field, admin
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// The resource a field user carries.
        #[arg(long)]
        resource_id: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let flags = flag_overrides(&cli);
    match cli.command.unwrap_or(Cmd::Loaded(LoadedCmd::Serve)) {
        Cmd::CheckConfig { path } => check_config(path.or(cli.config)),
        Cmd::IntakeKey => {
            let key = muster::auth::new_token();
            println!("key:    {key}\nsha256: {}", muster::auth::token_hash(&key));
            Ok(())
        }
        Cmd::Partner {
            cmd: PartnerCmd::Add { name },
        } => {
            if !muster::domain::incident::valid_partner(&name) {
                anyhow::bail!("a partner's name is 1 to 64 lower-case letters, digits, _ or -");
            }
            let key = muster::auth::new_token();
            println!(
                "key:   {key}\nentry: {name}:{}\n(add the entry to auth.partner_keys or MUSTER_PARTNER_KEYS; the key is not shown again)",
                muster::auth::token_hash(&key)
            );
            Ok(())
        }
        Cmd::Import {
            what,
            file,
            dry_run,
            hub,
        } => {
            let hub = match hub {
                Some(url) => url,
                None => hub_url(&load(cli.config.as_deref(), flags)?),
            };
            runtime.block_on(import_file(&hub, &what, &file, dry_run))
        }
        Cmd::Loaded(cmd) => {
            let loaded = load(cli.config.as_deref(), flags)?;
            init_tracing(&loaded);
            runtime.block_on(run(cmd, loaded))
        }
    }
}

/// Command-line flags as the settings overrides they stand for (they win over the
/// environment, which wins over the file).
fn flag_overrides(cli: &Cli) -> Vec<(String, String)> {
    let flags = [
        ("MUSTER_BIND", cli.bind.clone()),
        ("MUSTER_STORE", cli.store.clone()),
        (
            "MUSTER_DATA_DIR",
            cli.data_dir.as_ref().map(|p| p.display().to_string()),
        ),
        ("MUSTER_REDIS_URL", cli.redis_url.clone()),
        ("MUSTER_LOG_FORMAT", cli.log_format.clone()),
        ("MUSTER_DEMO", cli.demo.then(|| "1".to_string())),
    ];
    flags
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect()
}

fn load(path: Option<&std::path::Path>, flags: Vec<(String, String)>) -> anyhow::Result<Loaded> {
    let env = std::env::vars().chain(flags);
    config::load_all_with_env(path, env)
        .map_err(|e| anyhow::anyhow!("configuration has errors:\n{e}"))
}

fn init_tracing(loaded: &Loaded) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // tracing-subscriber reports a failed write with `eprintln!`, which panics when
    // stderr is what failed: a hub whose log went to a full disk lost its writer task
    // that way. Neither may happen.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        .log_internal_errors(false);
    match loaded.settings.log.format {
        config::LogFormat::Json => builder.json().init(),
        config::LogFormat::Text => builder.init(),
    }
}

/// The hub's log output: stderr, where a write that fails (a full disk, a closed pipe,
/// a terminal gone) is dropped. Losing log lines is better than losing the hub, which
/// keeps its truth in the event log, not here. SIGPIPE is ignored by Rust's runtime,
/// so a closed pipe is an `EPIPE` error here, not a signal.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// `println!` that drops a failed write instead of panicking, for the lines the server
/// prints while it runs: stdout may be a pipe nobody reads any more.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn check_config(path: Option<PathBuf>) -> anyhow::Result<()> {
    match config::check_all(path.as_deref()) {
        Ok(summary) => {
            println!("configuration ok: {summary}");
            Ok(())
        }
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(1);
        }
    }
}

async fn run(cmd: LoadedCmd, loaded: Loaded) -> anyhow::Result<()> {
    match cmd {
        LoadedCmd::Serve => serve(loaded).await,
        LoadedCmd::Exercise {
            scenario,
            speed,
            seed,
        } => exercise(loaded, &scenario, speed, seed).await,
        LoadedCmd::VerifyLog => {
            let path = muster::server::sqlite_path(&loaded);
            let report =
                verify_blocking(&path).with_context(|| format!("reading {}", path.display()))?;
            println!("{}", serde_json::to_string(&report)?);
            if !report.ok {
                std::process::exit(2);
            }
            Ok(())
        }
        LoadedCmd::MigrateLog { from, to } => {
            // The new log's key: the configured one, else beside the new log.
            let key = configured_or_beside(&loaded, None, &to)
                .unwrap_or_else(|| to.with_file_name("master.key"));
            let decimals = loaded.settings.privacy.location_decimals;
            let done = muster::migrate::migrate(&from, &to, &key, decimals, chrono::Utc::now())
                .await
                .with_context(|| format!("migrating {} to {}", from.display(), to.display()))?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(())
        }
        LoadedCmd::Replay { until } => {
            let until = chrono::DateTime::parse_from_rfc3339(&until)
                .context("--until must be an RFC 3339 time")?;
            let path = muster::server::sqlite_path(&loaded);
            let log = SqliteLog::open_readonly(&path)?;
            let key = configured_or_beside(&loaded, None, &path);
            let vault = read_vault(&log, key.as_deref(), &loaded).await?;
            let state = recovery::state_at(
                &log as &dyn EventLog,
                &vault,
                until.with_timezone(&chrono::Utc),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(())
        }
        LoadedCmd::Bench {
            what:
                Some(BenchWhat::Report {
                    log,
                    by,
                    runs,
                    master_key_file,
                }),
            ..
        } => bench_report(&loaded, &log, &by, runs, master_key_file).await,
        LoadedCmd::Bench {
            what: None,
            submitters,
            seconds,
            naive,
            plain,
            dir,
            json,
        } => {
            let redis = match loaded.settings.store.kind {
                config::StoreKind::Sqlite => None,
                config::StoreKind::Redis => Some(loaded.settings.store.redis_url.clone()),
            };
            bench(loaded, redis, submitters, seconds, naive, plain, dir, json).await
        }
        LoadedCmd::RotateMasterKey { new_key_file } => {
            rotate_master_key(&loaded, &new_key_file).await
        }
        LoadedCmd::User {
            action:
                UserCmd::Add {
                    username,
                    role,
                    name,
                    resource_id,
                },
        } => add_user(&loaded, username, &role, name, resource_id).await,
        LoadedCmd::Stress { dir, submitters } => {
            let demo = loaded.demo.context("stress needs the demo centre")?;
            muster::bench::stress(&dir, &loaded.centre, &demo, submitters).await?;
            Ok(())
        }
    }
}

/// `muster bench report`: the report over a log, timed, and the live state's memory.
async fn bench_report(
    loaded: &Loaded,
    log: &std::path::Path,
    by: &str,
    runs: usize,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let by = muster::projection::review::GroupBy::parse(by)
        .context("--by must be operator, team, type, priority or channel")?;
    let store =
        SqliteLog::open_readonly(log).with_context(|| format!("opening {}", log.display()))?;
    let key = configured_or_beside(loaded, master_key_file, log);
    let vault = read_vault(&store, key.as_deref(), loaded).await?;
    let out = muster::bench::report(&store, &vault, &loaded.centre, by, runs.max(1)).await?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The master key file a read-only tool uses: the one given, else the configured one,
/// else `master.key` beside the log when there is one.
fn configured_or_beside(
    loaded: &Loaded,
    given: Option<PathBuf>,
    log: &std::path::Path,
) -> Option<PathBuf> {
    let configured = &loaded.settings.privacy.master_key_file;
    given
        .or_else(|| (!configured.as_os_str().is_empty()).then(|| configured.clone()))
        .or_else(|| {
            let beside = log.parent()?.join("master.key");
            beside.exists().then_some(beside)
        })
}

/// The vault a read-only tool opens the log's events with. Without a master key the
/// sealed personal data reads as erased (and the tool says so).
async fn read_vault(
    log: &dyn EventLog,
    key: Option<&std::path::Path>,
    loaded: &Loaded,
) -> anyhow::Result<muster_vault::Vault> {
    let decimals = loaded.settings.privacy.location_decimals;
    match key {
        Some(path) => {
            let master = muster_vault::MasterKey::load(path)?;
            Ok(muster_vault::Vault::load(log, &master, decimals).await?)
        }
        None => {
            eprintln!(
                "muster: no master key ({}): sealed personal data reads as erased",
                muster_vault::MASTER_KEY_VARIABLE
            );
            Ok(muster_vault::Vault::new(&muster_vault::MasterKey::generate(), decimals).plain())
        }
    }
}

/// `muster rotate-master-key`: every data key re-wrapped under the new key, in one
/// write; the events and their hashes are untouched.
async fn rotate_master_key(loaded: &Loaded, new_key_file: &std::path::Path) -> anyhow::Result<()> {
    let old = muster::server::master_key(loaded)?;
    let (new, made) = muster_vault::MasterKey::load_or_create(new_key_file)?;
    let log = muster::server::open_log(loaded).await?;
    let n = muster_vault::Vault::rotate(log.as_ref(), &old, &new).await?;
    say!(
        "muster: {n} data keys re-wrapped under {}{}; set {} to it (or put it in place of the old key) before the next start, and destroy the old key once its backups have expired",
        new_key_file.display(),
        if made { " (made now)" } else { "" },
        muster_vault::MASTER_KEY_VARIABLE
    );
    Ok(())
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    let bind = loaded.settings.server.bind;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let running = muster::server::Running::start(&loaded, listener, Arc::new(SystemClock)).await?;
    say!(
        "muster: serving http://{} (seq {})",
        running.addr,
        running.app.hub.seq()
    );
    say!("muster: {}", running.demo);
    if let Some(demo) = loaded.demo.as_ref().filter(|_| running.demo.on) {
        let names: Vec<&str> = demo.users.iter().map(|u| u.username.as_str()).collect();
        say!("demo log-ins (password muster-demo): {}", names.join(", "));
        say!("demo intake key: {}", demo.intake_keys.join(", "));
    }
    wait_for_signal().await;
    say!("muster: shutting down");
    running.shutdown().await;
    Ok(())
}

/// `muster exercise`: a hub on a fresh log of its own, a scaled clock and the
/// simulator playing the scenario.
async fn exercise(loaded: Loaded, name: &str, speed: f64, seed: Option<u64>) -> anyhow::Result<()> {
    use muster::hub::exercise::{Exercise, Simulator};
    use muster::time::ScaledClock;
    if !(speed.is_finite() && speed > 0.0 && speed <= 1000.0) {
        bail!("--speed must be a number above 0 and at most 1000");
    }
    let path = loaded.exercise_path(name);
    let scenario = loaded
        .load_exercise(&path)
        .map_err(|e| anyhow::anyhow!("scenario has errors:\n{e}"))?;
    let demo = loaded
        .demo
        .clone()
        .context("an exercise is played by the demo centre's units: set centre.demo_dir")?;
    let started_at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3);
    let dir = muster::server::exercise_dir(&loaded, &scenario.name, started_at);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ex_loaded = muster::server::exercise_loaded(&loaded, &dir);
    let seed = seed.unwrap_or(scenario.seed);
    let exercise = Arc::new(
        Exercise::new(scenario, speed, seed, started_at)
            .with_outbound(loaded.settings.exercise.outbound),
    );
    let clock = Arc::new(ScaledClock::new(started_at, speed));
    let bind = ex_loaded.settings.server.bind;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let running =
        muster::server::Running::start_with(&ex_loaded, listener, clock, Some(exercise.clone()))
            .await?;
    if !running.demo.on {
        let reason = running.demo.reason.clone();
        running.shutdown().await;
        bail!(
            "an exercise is played by the demo centre, which is off here ({reason}): \
             bind to a loopback address, or pass --demo"
        );
    }
    // The simulated callers and units are clients of the hub's API, as apps are.
    let mut api = running.addr;
    if api.ip().is_unspecified() {
        api.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let simulator = match Simulator::connect(
        running.app.hub.clone(),
        api,
        ex_loaded.settings.limits.commands_per_second,
        exercise.clone(),
        &demo,
        loaded.places.clone(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            running.shutdown().await;
            bail!("the exercise's simulator cannot start: {e}");
        }
    };
    let sim = simulator.spawn(Duration::from_millis(250));
    say!(
        "muster: EXERCISE {} ({}), speed x{speed}, seed {seed}",
        exercise.scenario.name,
        exercise.scenario.title
    );
    say!(
        "muster: exercise log {}",
        dir.join("muster.sqlite").display()
    );
    say!(
        "muster: serving http://{} (seq {})",
        running.addr,
        running.app.hub.seq()
    );
    let names: Vec<&str> = demo.users.iter().map(|u| u.username.as_str()).collect();
    say!("demo log-ins (password muster-demo): {}", names.join(", "));
    wait_for_signal().await;
    say!("muster: shutting down");
    exercise.end();
    sim.abort();
    running.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}

async fn bench(
    loaded: Loaded,
    redis: Option<String>,
    submitters: usize,
    seconds: u64,
    naive: bool,
    plain: bool,
    dir: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let demo = loaded
        .demo
        .context("the benchmark seeds the demo centre; set centre.demo_dir")?;
    let tmp = tempdir_in_target()?;
    let dir = dir.unwrap_or_else(|| tmp.clone());
    std::fs::create_dir_all(&dir)?;
    let mut modes = vec![false];
    if naive {
        modes.push(true);
    }
    for naive in modes {
        let r = match &redis {
            None => {
                muster::bench::durable(
                    &dir,
                    &loaded.centre,
                    &demo,
                    submitters,
                    Duration::from_secs(seconds),
                    naive,
                    plain,
                )
                .await?
            }
            Some(url) => {
                bench_redis(
                    url,
                    &loaded.centre,
                    &demo,
                    submitters,
                    seconds,
                    naive,
                    plain,
                )
                .await?
            }
        };
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{:<22} {:<6} {:>3} submitters  {:>9} commands in {:>5.1} s  {:>9.0} commands/s  p50 {:>6} µs  p99 {:>6} µs  max {:>7} µs  errors {}  {:.1} commands/batch  {:.0} µs/append  {:.1} µs CPU/command",
                r.mode,
                if r.sealed { "sealed" } else { "plain" },
                r.submitters,
                r.commands,
                r.seconds,
                r.commands_per_sec,
                r.p50_us,
                r.p99_us,
                r.max_us,
                r.errors,
                r.commands_per_batch,
                r.append_us,
                r.cpu_us_per_command
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// One run on fresh keys (a namespace of its own) in the Redis at `url`, deleted after.
async fn bench_redis(
    url: &str,
    centre: &muster::domain::procedure::Centre,
    demo: &muster::config::Demo,
    submitters: usize,
    seconds: u64,
    naive: bool,
    plain: bool,
) -> anyhow::Result<muster::bench::Report> {
    let space = format!("bench-{}-{}", std::process::id(), naive);
    let log = muster::store::redis::RedisLog::open(url, &space).await?;
    log.delete_all().await?;
    let d = log.durability().await?;
    eprintln!("redis: {}", d.detail);
    let hub = muster::bench::hub_on(
        Arc::new(log.clone()),
        centre,
        demo,
        muster::bench::bench_options(naive, plain),
    )
    .await?;
    let r = muster::bench::measure(hub, submitters, Duration::from_secs(seconds), naive).await?;
    log.delete_all().await?;
    Ok(r)
}

async fn add_user(
    loaded: &Loaded,
    username: String,
    role: &str,
    name: Option<String>,
    resource_id: Option<String>,
) -> anyhow::Result<()> {
    use muster::engine::command as cmd;
    use muster::engine::{Actor, Command, Engine};
    let role: muster::domain::user::Role = serde_json::from_value(serde_json::json!(role))
        .context("--role: operator, supervisor, field or admin")?;
    let password = match std::env::var("MUSTER_USER_PASSWORD") {
        Ok(p) => p,
        Err(_) => read_answer(&format!("password for {username}"), true)?,
    };
    if password.len() < muster::auth::MIN_PASSWORD_LEN {
        bail!(
            "the password needs at least {} characters",
            muster::auth::MIN_PASSWORD_LEN
        );
    }
    let log = muster::server::open_log(loaded).await?;
    let hub = muster::hub::Hub::start(
        Engine::new(loaded.centre.clone()),
        log,
        Arc::new(SystemClock),
        muster::hub::HubOptions {
            master_key: Some(muster::server::master_key(loaded)?),
            ..muster::server::hub_options(loaded).await?
        },
    )
    .await?;
    let hash = tokio::task::spawn_blocking(move || muster::auth::hash_password(&password)).await?;
    let command = Command::UserCreate(cmd::UserCreate {
        username,
        role,
        password: String::new(),
        name,
        resource_id: resource_id.map(|r| r.as_str().into()),
        identity: None,
        password_hash: Some(hash),
    });
    let out = hub
        .submit(Actor::system(), None, command)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
    println!("{}", out.data.get("user_id").cloned().unwrap_or_default());
    Ok(())
}

/// Where this machine reaches the hub the settings describe.
fn hub_url(loaded: &Loaded) -> String {
    let server = &loaded.settings.server;
    if !server.public_url.is_empty() {
        return server.public_url.trim_end_matches('/').to_string();
    }
    let mut addr = server.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// An answer to `prompt`: typed at the terminal (a `secret` without echo, through
/// `rpassword`), else a line of standard input (a script piping it in).
fn read_answer(prompt: &str, secret: bool) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if secret && std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(format!("{prompt}: "))?);
    }
    eprint!("{prompt}: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `muster import`: logs in as an admin, sends the file, prints the answer.
async fn import_file(
    hub: &str,
    what: &str,
    file: &std::path::Path,
    dry_run: bool,
) -> anyhow::Result<()> {
    if !matches!(what, "users" | "resources" | "shifts") {
        bail!("import users, resources or shifts, not {what:?}");
    }
    let csv = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let username = match std::env::var("MUSTER_USERNAME") {
        Ok(u) => u,
        Err(_) => read_answer("admin username", false)?,
    };
    let password = match std::env::var("MUSTER_PASSWORD") {
        Ok(p) => p,
        Err(_) => read_answer("password", true)?,
    };
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{hub}/api/login"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(
            &serde_json::json!({"username": username, "password": password}),
        )?)
        .send()
        .await
        .with_context(|| format!("reaching the hub at {hub}"))?;
    let status = login.status();
    let body: serde_json::Value = serde_json::from_slice(&login.bytes().await?).unwrap_or_default();
    let Some(token) = body["token"].as_str() else {
        bail!("log-in refused ({status}): {}", body["error"]["message"]);
    };
    let query = if dry_run { "?dry_run=true" } else { "" };
    let res = client
        .post(format!("{hub}/api/import/{what}{query}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await?;
    let status = res.status();
    let answer: serde_json::Value = serde_json::from_slice(&res.bytes().await?).unwrap_or_default();
    let _ = client
        .post(format!("{hub}/api/logout"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    let refused = answer["errors"].as_array().is_none_or(|e| !e.is_empty());
    if !status.is_success() || refused {
        bail!("the import was refused ({status}); nothing was applied");
    }
    Ok(())
}

fn tempdir_in_target() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("muster-bench-{}", std::process::id()));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    Ok(dir)
}
