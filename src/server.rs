//! Assembling a hub from loaded configuration: open the configured event log, start
//! the writer, seed the demo centre into an empty log.

use std::sync::Arc;

use crate::config::{Loaded, StoreKind};
use crate::engine::{Engine, Error};
use crate::hub::{Hub, HubOptions, demo};
use crate::store::sqlite::SqliteLog;
use crate::store::{EventLog, StoreError};
use crate::time::Clock;

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    #[error("seeding the demo centre: {0}")]
    Seed(#[from] Error),
    #[error("{0}")]
    Unsupported(String),
}

/// The SQLite file the embedded store keeps its log in.
pub fn sqlite_path(loaded: &Loaded) -> std::path::PathBuf {
    loaded.settings.store.data_dir.join("muster.sqlite")
}

/// Opens the event log the settings name.
pub async fn open_log(loaded: &Loaded) -> Result<Arc<dyn EventLog>, StartError> {
    match loaded.settings.store.kind {
        StoreKind::Sqlite => Ok(Arc::new(SqliteLog::open(&sqlite_path(loaded))?)),
        StoreKind::Redis => Err(StartError::Unsupported(
            "the Redis store is not built yet; use store.kind = \"sqlite\"".into(),
        )),
    }
}

/// Hub options from the settings.
pub fn hub_options(loaded: &Loaded) -> HubOptions {
    HubOptions {
        snapshot_every: loaded.settings.store.snapshot_every,
        resume_window: chrono::Duration::seconds(loaded.settings.limits.resume_window_secs as i64),
        ..HubOptions::default()
    }
}

/// Opens the log, starts the writer and seeds the demo (Argon2id-hashed) when the log
/// has no users yet.
pub async fn start_hub(loaded: &Loaded, clock: Arc<dyn Clock>) -> Result<Hub, StartError> {
    let log = open_log(loaded).await?;
    let hub = Hub::start(
        Engine::new(loaded.centre.clone()),
        log,
        clock,
        hub_options(loaded),
    )
    .await?;
    if let Some(d) = &loaded.demo {
        let hashes = hash_demo_passwords(d).await;
        if demo::seed(&hub, d, |p| hashes.get(p).cloned().unwrap_or_default()).await? {
            tracing::info!(
                users = d.users.len(),
                resources = d.resources.len(),
                "demo centre seeded"
            );
        }
    }
    Ok(hub)
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
