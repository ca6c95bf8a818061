//! Assembling a hub from loaded configuration: open the configured event log, start
//! the writer, seed the demo centre into an empty log (or, when the demo does not
//! run, disable the accounts it once seeded).

use std::sync::Arc;

use crate::config::{Loaded, StoreKind};
use crate::http::App;
use crate::hub::exercise::Exercise;
use crate::hub::{Credentials, Hub, HubOptions, demo};
use muster_core::engine::{Engine, Error};
use muster_core::time::Clock;
use muster_log::credentials::{self, CredentialStore, RedisCredentials, SqliteCredentials};
use muster_log::redis::RedisLog;
use muster_log::sqlite::SqliteLog;
use muster_log::{EventLog, StoreError};

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    #[error("seeding the demo centre: {0}")]
    Seed(#[from] Error),
    #[error("disabling the demo's accounts: {0}")]
    RetireDemo(Error),
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "the event log was written by an older muster (event format v{found}; this one \
         writes v{current}). Convert it once with `muster migrate-log --from OLD \
         --to NEW` (docs/OPERATIONS.md, \"Passwords and upgrading an older log\") and \
         serve from the new log"
    )]
    Unmigrated { found: u32, current: u32 },
    #[error("{0}")]
    Vault(#[from] muster_vault::VaultError),
}

/// The master key the settings name (`privacy.master_key_file`), or with the SQLite
/// store `<data_dir>/master.key`, made (mode 0600) on first start. A shared (Redis)
/// log must be given one: every hub needs the same key.
pub fn master_key(loaded: &Loaded) -> Result<Arc<muster_vault::MasterKey>, StartError> {
    use muster_vault::{MASTER_KEY_VARIABLE, MasterKey};
    let configured = &loaded.settings.privacy.master_key_file;
    if !configured.as_os_str().is_empty() {
        return Ok(Arc::new(MasterKey::load(configured)?));
    }
    match loaded.settings.store.kind {
        StoreKind::Sqlite => {
            let path = loaded.settings.store.data_dir.join("master.key");
            let (key, made) = MasterKey::load_or_create(&path)?;
            if made {
                tracing::warn!(
                    path = %path.display(),
                    "made a new master key for personal data; back it up apart from the log"
                );
            }
            Ok(Arc::new(key))
        }
        StoreKind::Redis => Err(StartError::Unsupported(format!(
            "the redis store needs a master key shared by every hub: set {MASTER_KEY_VARIABLE} \
             (privacy.master_key_file) to a file of 32 random bytes"
        ))),
    }
}

/// The SQLite file the embedded store keeps its log in.
pub fn sqlite_path(loaded: &Loaded) -> std::path::PathBuf {
    loaded.settings.store.data_dir.join("muster.sqlite")
}

/// Opens the event log the settings name.
pub async fn open_log(loaded: &Loaded) -> Result<Arc<dyn EventLog>, StartError> {
    match loaded.settings.store.kind {
        StoreKind::Sqlite => Ok(Arc::new(SqliteLog::open(&sqlite_path(loaded))?)),
        StoreKind::Redis => Ok(Arc::new(
            RedisLog::open(&loaded.settings.store.redis_url, &loaded.centre.name).await?,
        )),
    }
}

/// A log in an older event format is read (verify-log, replay, migrate-log) but not
/// served: its events carry password hashes and unencrypted personal data, which only
/// `muster migrate-log` takes out.
async fn refuse_unmigrated(log: &dyn EventLog) -> Result<(), StartError> {
    let current = muster_log::record::VERSION;
    match log.read_from(0, 1).await?.first() {
        Some(first) if first.v < current => Err(StartError::Unmigrated {
            found: first.v,
            current,
        }),
        _ => Ok(()),
    }
}

/// Logs how durable the log is configured to be, loudly when it is not: an operator
/// must know what a crash can lose before trusting acknowledgements.
async fn log_durability(log: &dyn EventLog) {
    match log.durability().await {
        Ok(d) if d.durable => {
            tracing::info!(store = %d.store, detail = %d.detail, "event log is durable")
        }
        Ok(d) => {
            tracing::warn!(store = %d.store, detail = %d.detail, "event log is NOT durable")
        }
        Err(e) => tracing::warn!(error = %e, "event log durability unknown"),
    }
}

/// Opens the credential store the settings name: a file beside the SQLite log, or
/// the Redis hash every hub of a cluster shares.
pub async fn open_credentials(loaded: &Loaded) -> Result<Credentials, StartError> {
    let store: Arc<dyn CredentialStore> = match loaded.settings.store.kind {
        StoreKind::Sqlite => Arc::new(SqliteCredentials::open(&credentials::path_beside(
            &sqlite_path(loaded),
        ))?),
        StoreKind::Redis => Arc::new(
            RedisCredentials::open(&loaded.settings.store.redis_url, &loaded.centre.name).await?,
        ),
    };
    Ok(Credentials(store))
}

/// Hub options from the settings, with the credential store they name.
pub async fn hub_options(loaded: &Loaded) -> Result<HubOptions, StartError> {
    Ok(HubOptions {
        credentials: open_credentials(loaded).await?,
        location_decimals: loaded.settings.privacy.location_decimals,
        snapshot_every: loaded.settings.store.snapshot_every,
        resume_window: chrono::Duration::seconds(loaded.settings.limits.resume_window_secs as i64),
        snapshot_closed: chrono::Duration::hours(
            loaded.settings.limits.snapshot_closed_hours as i64,
        ),
        ..HubOptions::default()
    })
}

/// Opens the log, starts the writer and seeds the demo (Argon2id-hashed) when the log
/// has no users yet. Without a demo (`loaded.demo` is `None`), every account the demo
/// once seeded into this log is disabled instead: its password is published.
pub async fn start_hub(loaded: &Loaded, clock: Arc<dyn Clock>) -> Result<Hub, StartError> {
    start_hub_with(loaded, clock, None).await
}

/// [`start_hub`], running `exercise` when given (`HubOptions::exercise`).
pub async fn start_hub_with(
    loaded: &Loaded,
    clock: Arc<dyn Clock>,
    exercise: Option<Arc<Exercise>>,
) -> Result<Hub, StartError> {
    let log = open_log(loaded).await?;
    refuse_unmigrated(log.as_ref()).await?;
    log_durability(log.as_ref()).await;
    let options = HubOptions {
        master_key: Some(master_key(loaded)?),
        exercise,
        ..hub_options(loaded).await?
    };
    let hub = Hub::start(
        Engine::new(loaded.centre.clone())
            .with_max_push_subscriptions(loaded.settings.push.max_subscriptions_per_user),
        log,
        clock,
        options,
    )
    .await?;
    match &loaded.demo {
        Some(d) => seed_demo(&hub, d).await?,
        None => retire_demo(&hub).await?,
    }
    Ok(hub)
}

/// Seeds the demo into a log that has none of its users yet.
async fn seed_demo(hub: &Hub, d: &crate::config::Demo) -> Result<(), StartError> {
    let hashes = hash_demo_passwords(d).await;
    if demo::seed(hub, d, |p| hashes.get(p).cloned().unwrap_or_default()).await? {
        tracing::info!(
            users = d.users.len(),
            resources = d.resources.len(),
            "demo centre seeded"
        );
    } else {
        // Accounts are never re-enabled: a data dir that served without the demo keeps
        // the demo's accounts disabled, and the person trying the demo must know why.
        let disabled: Vec<&str> = hub.with_state(|s| {
            d.users
                .iter()
                .map(|u| u.username.as_str())
                .filter(|name| {
                    let id = s.usernames.get(&name.to_lowercase());
                    id.and_then(|id| s.users.get(id))
                        .is_some_and(|u| u.disabled)
                })
                .collect()
        });
        if !disabled.is_empty() {
            tracing::warn!(
                accounts = %disabled.join(", "),
                "demo log-ins disabled: this data dir once served without the demo; \
                 use a fresh data dir for the demo"
            );
        }
    }
    Ok(())
}

/// Disables the accounts the demo once seeded into this log, logging each.
async fn retire_demo(hub: &Hub) -> Result<(), StartError> {
    let retired = demo::retire(hub).await.map_err(StartError::RetireDemo)?;
    if !retired.is_empty() {
        tracing::warn!(
            accounts = %retired.join(", "),
            "demo accounts disabled: the demo is off and their passwords are published"
        );
    }
    Ok(())
}

/// Hashes each distinct demo password once, off the async runtime.
async fn hash_demo_passwords(
    d: &crate::config::Demo,
) -> std::collections::BTreeMap<String, String> {
    let passwords: std::collections::BTreeSet<String> =
        d.users.iter().map(|u| u.password.clone()).collect();
    tokio::task::spawn_blocking(move || {
        passwords
            .into_iter()
            .map(|p| (p.clone(), crate::auth::hash_password(&p)))
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// The configuration to serve with: the demo seed removed unless the demo runs on
/// `bound`, so neither its accounts are seeded nor its intake keys accepted. Logs the
/// decision and its reason.
fn with_demo_decided(
    loaded: &Loaded,
    bound: std::net::SocketAddr,
) -> (Loaded, crate::config::DemoDecision) {
    let mode = loaded.settings.centre.demo;
    let decision = crate::config::demo::decide(mode, loaded.demo.is_some(), bound);
    let mut loaded = loaded.clone();
    if !decision.on {
        loaded.demo = None;
    }
    if decision.on && !crate::config::demo::is_loopback(bound.ip()) {
        tracing::warn!("{decision}; its published passwords let anyone who reaches {bound} in");
    } else {
        tracing::info!("{decision}");
    }
    (loaded, decision)
}

/// A server started on a listener: its shared state, its address, and the handle to
/// stop it. Tests start one on port 0; `muster serve` starts one and waits for a signal.
pub struct Running {
    pub app: Arc<App>,
    pub addr: std::net::SocketAddr,
    /// Whether the demo runs here, and why.
    pub demo: crate::config::DemoDecision,
    stop_tx: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts the hub and serves it on `listener`. Whether the demo runs is decided on
    /// the address actually bound (see [`crate::config::demo::decide`]).
    pub async fn start(
        loaded: &Loaded,
        listener: tokio::net::TcpListener,
        clock: Arc<dyn Clock>,
    ) -> Result<Running, StartError> {
        Running::start_with(loaded, listener, clock, None).await
    }

    /// [`Running::start`], running `exercise` when given.
    pub async fn start_with(
        loaded: &Loaded,
        listener: tokio::net::TcpListener,
        clock: Arc<dyn Clock>,
        exercise: Option<Arc<Exercise>>,
    ) -> Result<Running, StartError> {
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Unsupported(format!("listener has no address: {e}")))?;
        let (mut loaded, demo) = with_demo_decided(loaded, addr);
        // Links the hub sends out (a push's acknowledge link) name the address it is
        // reached at: the bound one (port 0 resolved) when no public URL is set.
        if loaded.settings.server.public_url.is_empty() {
            loaded.settings.server.public_url = format!("http://{addr}");
        }
        let hub = start_hub_with(&loaded, clock, exercise).await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let app = App::new(hub, &loaded, stop_rx);
        let routes = crate::http::routes(app.clone());
        let task = tokio::spawn(crate::http::serve(listener, app.clone(), routes));
        Ok(Running {
            app,
            addr,
            demo,
            stop_tx,
            task,
        })
    }

    /// Stops accepting, closes every socket with 1001 and waits for the server to end.
    pub async fn shutdown(self) {
        let _ = self.stop_tx.send(true);
        let _ = self.task.await;
    }
}

/// The settings an exercise runs with: a SQLite log of its own in `dir` (never the
/// live log, whatever `store.kind` says) with its own master key. The demo centre is
/// seeded into it as for `serve` (the simulated units are its resources, played
/// through its field log-ins), so the same rule decides whether it runs.
pub fn exercise_loaded(loaded: &Loaded, dir: &std::path::Path) -> Loaded {
    let mut loaded = loaded.clone();
    loaded.settings.store.kind = StoreKind::Sqlite;
    loaded.settings.store.data_dir = dir.to_path_buf();
    loaded.settings.privacy.master_key_file = std::path::PathBuf::new();
    loaded
}

/// Where an exercise of `name` started at `at` keeps its log:
/// `<data_dir>/exercises/<name>-<UTC yyyymmddThhmmss>/`.
pub fn exercise_dir(
    loaded: &Loaded,
    name: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> std::path::PathBuf {
    loaded
        .settings
        .store
        .data_dir
        .join("exercises")
        .join(format!("{name}-{}", at.format("%Y%m%dT%H%M%S")))
}
