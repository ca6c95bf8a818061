//! The credential store: password hashes, beside the log and never in it. The log
//! records that a password was set (`user.created`, `user.password_changed`); the hash
//! lives here, in a file of its own (`credentials.sqlite3` in the data directory) or,
//! for a cluster, in one Redis hash. Replacing a hash overwrites it in place, and the
//! SQLite file runs with `secure_delete`, so an old hash does not linger in free pages.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;
use crate::redis::{query_idempotent, slug};

/// The credential store's file name in the data directory.
pub const FILE_NAME: &str = "credentials.sqlite3";

/// Where the credential store of the log at `log_path` lives: beside it.
pub fn path_beside(log_path: &Path) -> PathBuf {
    log_path
        .parent()
        .map(|d| d.join(FILE_NAME))
        .unwrap_or_else(|| PathBuf::from(FILE_NAME))
}

/// Password hashes by user id.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// Sets these users' hashes; returns when they are durable.
    async fn put(&self, hashes: &[(String, String)]) -> Result<(), StoreError>;

    /// The user's hash, if one was set.
    async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError>;
}

/// The credential store in its own SQLite file.
pub struct SqliteCredentials {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS credentials (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
) WITHOUT ROWID;";

impl SqliteCredentials {
    /// Opens (creating if missing, owner-only) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteCredentials, StoreError> {
        let fresh = !path.exists();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        if fresh {
            restrict(path)?;
        }
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(SqliteCredentials {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| StoreError::Unavailable(format!("credential store task failed: {e}")))?
            .map_err(unavailable)
    }
}

#[async_trait]
impl CredentialStore for SqliteCredentials {
    async fn put(&self, hashes: &[(String, String)]) -> Result<(), StoreError> {
        let hashes = hashes.to_vec();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            for (user, hash) in &hashes {
                tx.execute(
                    "INSERT INTO credentials (user_id, password_hash) VALUES (?1, ?2)
                     ON CONFLICT(user_id) DO UPDATE SET password_hash = excluded.password_hash",
                    params![user, hash],
                )?;
            }
            tx.commit()
        })
        .await
    }

    async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let user_id = user_id.to_string();
        self.call(move |conn| {
            conn.query_row(
                "SELECT password_hash FROM credentials WHERE user_id = ?1",
                [user_id],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }
}

/// The credential store as one Redis hash, `muster:{centre}:credentials`: every hub of
/// a cluster reads the same hashes. Durable as the server's AOF is.
pub struct RedisCredentials {
    conn: ConnectionManager,
    key: String,
}

impl RedisCredentials {
    pub async fn open(url: &str, centre: &str) -> Result<RedisCredentials, StoreError> {
        let client = redis::Client::open(url).map_err(redis_unavailable)?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(redis_unavailable)?;
        Ok(RedisCredentials {
            conn,
            key: key_for(centre),
        })
    }
}

/// The Redis key of a centre's credential hash (the log's hash tag, so one slot).
pub fn key_for(centre: &str) -> String {
    format!("muster:{{{}}}:credentials", slug(centre))
}

#[async_trait]
impl CredentialStore for RedisCredentials {
    async fn put(&self, hashes: &[(String, String)]) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&self.key);
        for (user, hash) in hashes {
            cmd.arg(user).arg(hash);
        }
        query_idempotent::<i64>(&self.conn, &cmd)
            .await
            .map(|_| ())
            .map_err(redis_unavailable)
    }

    async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&self.key).arg(user_id);
        query_idempotent(&self.conn, &cmd)
            .await
            .map_err(redis_unavailable)
    }
}

/// A credential store in memory, for tests and benchmarks that start a hub of their
/// own: nothing survives the process.
#[derive(Default)]
pub struct MemoryCredentials(Mutex<std::collections::HashMap<String, String>>);

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn put(&self, hashes: &[(String, String)]) -> Result<(), StoreError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.extend(hashes.iter().cloned());
        Ok(())
    }

    async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(user_id).cloned())
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| StoreError::Unavailable(format!("cannot restrict {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("credential store: {e}"))
}

fn redis_unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("credential store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_kept_replaced_in_place_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = SqliteCredentials::open(&path).unwrap();
        assert_eq!(store.get("usr_1").await.unwrap(), None);
        store
            .put(&[("usr_1".into(), "$argon2id$first-hash".into())])
            .await
            .unwrap();
        store
            .put(&[("usr_1".into(), "$argon2id$second".into())])
            .await
            .unwrap();
        drop(store);
        let store = SqliteCredentials::open(&path).unwrap();
        assert_eq!(
            store.get("usr_1").await.unwrap().as_deref(),
            Some("$argon2id$second")
        );
        drop(store);
        // secure_delete: the replaced hash is not left in the file's free space.
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(path.with_extension("sqlite3-journal")) {
            bytes.extend(wal);
        }
        let needle = b"first-hash";
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
