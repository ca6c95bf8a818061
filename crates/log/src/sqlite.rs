//! The SQLite event log, the embedded default: one file, nothing else to install, and
//! a person can read the history with the `sqlite3` shell.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit is on disk when
//! [`EventLog::append`] returns. A whole batch is one `BEGIN IMMEDIATE` transaction
//! (one fsync), which is what makes group commit cheap.
//!
//! Concurrency: one `rusqlite::Connection` behind a `std::sync::Mutex`; every call runs
//! on tokio's blocking pool so a slow disk never stalls the async runtime. The head
//! check runs inside the write transaction, so another process appending to the same
//! file is caught as a [`StoreError::Conflict`] rather than silently interleaved.
//!
//! Schema (created on open if missing):
//!
//! ```sql
//! events(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
//!        command_id TEXT, kind TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL,
//!        v INTEGER NOT NULL DEFAULT 1)
//! snapshots(seq INTEGER PRIMARY KEY, body TEXT NOT NULL)
//! probe(id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL, pad BLOB)  -- see `probe`
//! data_keys(n INTEGER PRIMARY KEY, scope TEXT NOT NULL, wrapped BLOB NOT NULL)  -- the vault's keys
//! ```
//!
//! `data_keys` is outside the hash chain; new keys are written in the transaction of
//! the batch that first uses them. `secure_delete` is on, and erasing keys truncates
//! the WAL, so an erased key's bytes do not linger in free pages or old WAL frames.
//!
//! The keys are kept in the order they were made (`n`), with no index on `scope`: a
//! batch's new keys then go to the end of one B-tree. Keyed by scope (as files were
//! until this version, `scope TEXT PRIMARY KEY ... WITHOUT ROWID`; opened for writing,
//! such a table is rebuilt in this shape) they went to as many places in it as the
//! batch had kinds of record, and each commit wrote those pages whole (12–21 % more
//! bytes written per sealed command: docs/PERFORMANCE.md). Erasing and
//! re-wrapping scan the table once per call; a scope is kept once, which the log
//! checks against the scopes it holds ([`HeldScopes`]).
//!
//! `at` is written with [`muster_core::time::rfc3339`] (milliseconds, `Z`) and parsed back
//! with chrono, so whole-millisecond times round-trip exactly; finer digits would be
//! cut, as they are in the hash chain. `seq` is SQLite's signed 64-bit integer, so
//! seqs above `i64::MAX` are refused.
//!
//! `v` is the body's schema version ([`crate::record::VERSION`]). A file written before
//! versions existed gets the column (every old row reading as 1) when it is opened for
//! writing; opened read-only, it is read through a temporary view that supplies it.
//!
//! `seq` is the rowid, so no extra index is needed: range reads and `MAX(seq)` walk the
//! table's own b-tree.
//!
//! Faults: the file is checked to be the one opened (same device and inode) before
//! every append and on [`EventLog::head`], so a data directory removed or replaced
//! under the hub is reported as unavailable instead of writes going on into a file
//! nobody can find. After a failed write the hub calls [`EventLog::reopen`] (a failed
//! fsync leaves a connection's file handle untrustworthy, so it is never reused) and
//! [`EventLog::probe`], a 64 KiB write in `probe` that proves a commit works again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    Durability, EventLog, ScopeNames, Snapshot, StoreError, StoredEvent, VerifyReport, WrappedKey,
    chain, scope_fingerprint,
};

/// How long a statement waits for another connection's lock before failing; long
/// enough to ride out a checkpoint or a `sqlite3` shell reading the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL size (pages) at which the writer checkpoints by itself: a backstop should
/// the checkpointer fall behind, far above what it lets the WAL reach.
const WRITER_CHECKPOINT_PAGES: u32 = 20_000;

/// How many snapshots [`EventLog::save_snapshot`] keeps; older ones only waste space.
pub const SNAPSHOTS_KEPT: u32 = 3;

/// Events read per page by [`verify`](EventLog::verify), bounding its memory use and
/// how long it holds the connection at a time.
const VERIFY_PAGE: usize = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    command_id TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    v INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL,
    pad BLOB
);
CREATE TABLE IF NOT EXISTS data_keys (
    n INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    wrapped BLOB NOT NULL
);
";
/// A `data_keys` table keyed by scope (files written before keys were kept in the
/// order made) rebuilt in that order, in one transaction.
const SQL_REBUILD_KEYS: &str = "
CREATE TABLE data_keys_made (
    n INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    wrapped BLOB NOT NULL
);
INSERT INTO data_keys_made (scope, wrapped) SELECT scope, wrapped FROM data_keys;
DROP TABLE data_keys;
ALTER TABLE data_keys_made RENAME TO data_keys;
";
const SQL_KEYED_BY_SCOPE: &str =
    "SELECT 1 FROM sqlite_master WHERE name = 'data_keys' AND sql LIKE '%WITHOUT ROWID%'";
const SQL_INSERT_KEY: &str = "INSERT INTO data_keys (scope, wrapped) VALUES (?1, ?2)";
const SQL_LOAD_KEYS: &str = "SELECT scope, wrapped FROM data_keys";
const SQL_KEY_ROWS: &str = "SELECT n, scope FROM data_keys";
const SQL_ERASE_KEY: &str = "DELETE FROM data_keys WHERE n = ?1";
const SQL_REWRAP_KEY: &str = "UPDATE data_keys SET wrapped = ?2 WHERE n = ?1";

const SQL_MAX_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM events";
const SQL_INSERT: &str = "INSERT INTO events (seq, at, actor, command_id, kind, body, hash, v) \
                          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const SQL_READ_FROM: &str = "SELECT seq, at, actor, command_id, kind, body, hash, v FROM events \
                             WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/// Adds the version column to a file written before versions existed.
const SQL_ADD_VERSION: &str = "ALTER TABLE events ADD COLUMN v INTEGER NOT NULL DEFAULT 1";
/// The same for a read-only connection, which cannot alter the file: a temporary view
/// (temp names shadow the file's) reads every old row as version 1.
const SQL_VERSION_VIEW: &str = "CREATE TEMP VIEW events AS \
                                SELECT seq, at, actor, command_id, kind, body, hash, 1 AS v \
                                FROM main.events";
const SQL_HEAD: &str = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1";
const SQL_LATEST_SNAPSHOT: &str = "SELECT seq, body FROM snapshots ORDER BY seq DESC LIMIT 1";
/// A snapshot older than one already kept is not saved: a late one from before an
/// erasure must not come back after the scrub (as Redis keeps the newer one).
const SQL_SAVE_SNAPSHOT: &str = "INSERT OR REPLACE INTO snapshots (seq, body) \
                                 SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM snapshots WHERE seq > ?1)";
const SQL_PROBE: &str = "INSERT OR REPLACE INTO probe (id, at, pad) VALUES (1, ?1, zeroblob(?2))";

/// How many bytes a [`EventLog::probe`] writes: about a large batch, so a disk with
/// room for a one-row write but not for the next batch is not called writable again
/// (the hub would flap between ready and refusing).
const PROBE_BYTES: i64 = 64 * 1024;
const SQL_DROP_OLDER_SNAPSHOTS: &str = "DELETE FROM snapshots WHERE seq < ?1";
const SQL_PRUNE_SNAPSHOTS: &str = "DELETE FROM snapshots WHERE seq NOT IN \
                                   (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)";

/// An [`EventLog`] in one SQLite file. Cheap to clone; clones share the connection.
#[derive(Clone, Debug)]
pub struct SqliteLog {
    /// The only connection; the mutex serialises calls (SQLite has one writer anyway)
    /// and the `Arc` lets `spawn_blocking` closures own a handle.
    conn: Arc<Mutex<Connection>>,
    /// Which file the log is, for writable logs (`None` when opened read-only).
    file: Option<Arc<LogFile>>,
    /// The scopes `data_keys` holds; locked after `conn`, and only with it.
    held: Arc<Mutex<HeldScopes>>,
}

/// The scopes of the file's data keys, read once on the first append with keys and
/// kept up to date by this log's writes: with no index on `scope`, this is what
/// refuses a scope kept already. A log is its file's only writer of new keys (another
/// process only re-wraps them: `muster rotate-master-key`). Held by fingerprint
/// ([`scope_fingerprint`]).
#[derive(Debug, Default)]
struct HeldScopes(Option<Fingerprints>);

type Fingerprints = std::collections::HashSet<u128, foldhash::fast::RandomState>;

impl HeldScopes {
    fn get(&mut self, conn: &Connection) -> Result<&mut Fingerprints, StoreError> {
        if self.0.is_none() {
            let rows = key_rows(conn)?.into_iter();
            self.0 = Some(rows.map(|(_, s)| scope_fingerprint(&s)).collect());
        }
        Ok(self.0.as_mut().expect("read above"))
    }
}

/// The log's path and the identity of the file opened there.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    /// Device and inode of the file the connection has open.
    id: Mutex<FileId>,
    /// Bumped by every reopen, so the checkpointer reopens its own connection too.
    generation: AtomicU64,
}

/// A file's device and inode: a file removed and created again has another.
type FileId = (u64, u64);

impl SqliteLog {
    /// Opens (creating the parent directories, the file and the tables if missing) a
    /// log for reading and writing, in WAL mode with `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<SqliteLog, StoreError> {
        create_parent_dirs(path)?;
        let conn = Connection::open(path).map_err(unavailable)?;
        configure_writable(&conn)?;
        let file = Arc::new(LogFile {
            path: path.to_path_buf(),
            id: Mutex::new(file_id(path)?),
            generation: AtomicU64::new(0),
        });
        let log = SqliteLog {
            conn: Arc::new(Mutex::new(conn)),
            file: Some(file.clone()),
            held: Arc::default(),
        };
        spawn_checkpointer(file, Arc::downgrade(&log.conn))?;
        Ok(log)
    }

    /// Opens an existing log read-only, for tools such as `verify-log` that must not
    /// change the file (no schema, no journal-mode change). Appends fail.
    pub fn open_readonly(path: &Path) -> Result<SqliteLog, StoreError> {
        Ok(Self::from_connection(connect_readonly(path)?))
    }

    fn from_connection(conn: Connection) -> SqliteLog {
        SqliteLog {
            conn: Arc::new(Mutex::new(conn)),
            file: None,
            held: Arc::default(),
        }
    }

    /// Fails when the file at the log's path is not the one opened (removed, or
    /// replaced by another): writing on would go to a file nobody can find.
    fn check_file(&self) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let opened = *lock(&file.id);
        match file_id(&file.path) {
            Ok(now) if now == opened => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "the log file {} was replaced by another file since it was opened",
                file.path.display()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut lock(&conn)))
            .await
            .map_err(join_failed)?
    }
}

/// Verifies the log at `path` without a tokio runtime, opening it read-only: the
/// `verify-log` command's entry point.
pub fn verify_blocking(path: &Path) -> Result<VerifyReport, StoreError> {
    let conn = connect_readonly(path)?;
    let upto = head_of(&conn)?.0;
    verify_pages(upto, |after, limit| read_raw(&conn, after, limit))
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn append(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        self.append_owned(Arc::new(batch.to_vec())).await
    }

    async fn append_owned(&self, batch: Arc<Vec<StoredEvent>>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        check_dense(&batch)?;
        let log = self.clone();
        self.call(move |conn| {
            log.check_file()?;
            append_batch(conn, &batch, &[])?;
            // Removed while committing: the batch may be only in the unlinked file.
            log.check_file()
        })
        .await
    }

    async fn append_with_keys(
        &self,
        _prev_hash: &str,
        batch: Arc<Vec<StoredEvent>>,
        keys: Arc<Vec<WrappedKey>>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() || keys.is_empty() {
            return self.append_owned(batch).await;
        }
        check_dense(&batch)?;
        let log = self.clone();
        self.call(move |conn| {
            log.check_file()?;
            let mut held = lock(&log.held);
            let held = held.get(conn)?;
            let made: Vec<u128> = keys.iter().map(|k| scope_fingerprint(&k.scope)).collect();
            refuse_kept(held, &keys, &made)?;
            append_batch(conn, &batch, &keys)?;
            held.extend(made);
            log.check_file()
        })
        .await
    }

    async fn load_keys(&self) -> Result<Vec<WrappedKey>, StoreError> {
        self.call(|conn| load_keys_of(conn)).await
    }

    async fn erase_keys(&self, scopes: &[String]) -> Result<Vec<String>, StoreError> {
        let scopes = scopes.to_vec();
        let log = self.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let named = ScopeNames::of(&scopes);
            let doomed: Vec<(i64, String)> = key_rows(&tx)?
                .into_iter()
                .filter(|(_, scope)| named.name(scope))
                .collect();
            {
                let mut st = tx.prepare_cached(SQL_ERASE_KEY).map_err(unavailable)?;
                for (n, _) in &doomed {
                    st.execute(params![n]).map_err(unavailable)?;
                }
            }
            tx.commit().map_err(unavailable)?;
            let erased: Vec<String> = doomed.into_iter().map(|(_, scope)| scope).collect();
            if let Some(held) = &mut lock(&log.held).0 {
                erased.iter().for_each(|s| {
                    held.remove(&scope_fingerprint(s));
                });
            }
            // The deleted rows' old page images live on in the WAL until it is reset:
            // copy it back and truncate it. Readers holding it open only delay this
            // (the next erase or checkpoint finishes it); it is not an error.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "truncating the WAL after erasing keys failed");
            }
            Ok(erased)
        })
        .await
    }

    /// Replaces the keys of scopes held in place and adds the others, in one scan of
    /// the table and one transaction.
    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        let log = self.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let rows: std::collections::HashMap<String, i64> =
                key_rows(&tx)?.into_iter().map(|(n, s)| (s, n)).collect();
            {
                let mut update = tx.prepare_cached(SQL_REWRAP_KEY).map_err(unavailable)?;
                let mut insert = tx.prepare_cached(SQL_INSERT_KEY).map_err(unavailable)?;
                for k in &keys {
                    match rows.get(&k.scope) {
                        Some(n) => update.execute(params![n, k.wrapped]),
                        None => insert.execute(params![k.scope, k.wrapped]),
                    }
                    .map_err(unavailable)?;
                }
            }
            tx.commit().map_err(unavailable)?;
            if let Some(held) = &mut lock(&log.held).0 {
                held.extend(keys.iter().map(|k| scope_fingerprint(&k.scope)));
            }
            Ok(())
        })
        .await
    }

    async fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.call(move |conn| {
            read_raw(conn, after, limit)?
                .into_iter()
                .map(RawEvent::into_event)
                .collect()
        })
        .await
    }

    async fn read_from_skipping(
        &self,
        after: u64,
        limit: usize,
        skip: &'static [&'static str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.call(move |conn| {
            read_raw_skipping(conn, after, limit, skip)?
                .into_iter()
                .map(RawEvent::into_event)
                .collect()
        })
        .await
    }

    async fn head(&self) -> Result<(u64, String), StoreError> {
        let log = self.clone();
        self.call(move |conn| {
            log.check_file()?;
            head_of(conn)
        })
        .await
    }

    async fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.call(|conn| latest_snapshot_of(conn)).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let snapshot = snapshot.clone();
        self.call(move |conn| {
            save_snapshot_to(
                conn,
                &snapshot,
                SQL_PRUNE_SNAPSHOTS,
                i64::from(SNAPSHOTS_KEPT),
            )
        })
        .await
    }

    /// Saves the snapshot, deletes every older one (zeroed: `secure_delete`), then
    /// copies the WAL into the file and truncates it, so no old page stays in it.
    async fn scrub(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let snapshot = snapshot.clone();
        self.call(move |conn| {
            let seq = seq_param(snapshot.seq)?;
            save_snapshot_to(conn, &snapshot, SQL_DROP_OLDER_SNAPSHOTS, seq)?;
            let (busy, _, _): (i64, i64, i64) = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(unavailable)?;
            if busy != 0 {
                return Err(StoreError::Unavailable(
                    "the WAL could not be truncated (a reader holds it); the next scrub retries"
                        .into(),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Checks up to the head as it was when the walk started; events appended during
    /// the walk are left for the next one. The connection is locked one page at a time
    /// so appends keep flowing.
    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let upto = head_of(&lock(&conn))?.0;
            verify_pages(upto, |after, limit| read_raw(&lock(&conn), after, limit))
        })
        .await
        .map_err(join_failed)?
    }

    async fn durability(&self) -> Result<Durability, StoreError> {
        self.call(|conn| durability_of(conn)).await
    }

    /// Opens the file again, never creating it: a log that vanished must be restored,
    /// not silently started afresh. The old connection (and its file handles) is
    /// dropped only once the new one is ready.
    async fn reopen(&self) -> Result<(), StoreError> {
        let Some(file) = self.file.clone() else {
            return Ok(());
        };
        let held = self.held.clone();
        self.call(move |conn| {
            // Says plainly when the file is gone, rather than "unable to open".
            file_id(&file.path)?;
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let fresh = Connection::open_with_flags(&file.path, flags).map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", file.path.display()))
            })?;
            configure_writable(&fresh)?;
            let id = file_id(&file.path)?;
            *conn = fresh;
            *lock(&held) = HeldScopes::default();
            *lock(&file.id) = id;
            file.generation.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .await
    }

    /// One committed write of [`PROBE_BYTES`] (the one row of `probe`, replaced): it
    /// needs free space, a writable file system and a working fsync, as an append
    /// does.
    async fn probe(&self) -> Result<(), StoreError> {
        let log = self.clone();
        self.call(move |conn| {
            log.check_file()?;
            let at = muster_core::time::rfc3339(Utc::now());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            tx.execute(SQL_PROBE, params![at, PROBE_BYTES])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

/// The device and inode of the file at `path`.
fn file_id(path: &Path) -> Result<FileId, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        StoreError::Unavailable(format!(
            "the log file {} cannot be found ({e}); was the data directory removed? \
             Restore it: the hub accepts commands again once it is back",
            path.display()
        ))
    })?;
    Ok((meta.dev(), meta.ino()))
}

/// Locks the mutex. A panic mid-call (a bug) poisons it; the connection is still
/// usable (SQLite rolled back what the panic interrupted), and refusing every later
/// call would leave the hub unable to write until restarted.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The blocking task panicked or was cancelled: the call's outcome is unknown, so it
/// is reported as not done.
fn join_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Unavailable(format!("sqlite task failed: {e}"))
}

/// Any SQLite failure: the write (or read) did not happen.
fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

fn create_parent_dirs(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// Journal mode, fsync policy, lock wait and schema for a writable connection.
fn configure_writable(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "sqlite refused WAL mode (journal_mode={mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
        .map_err(unavailable)?;
    // Deleted content (old snapshots, erased keys) is overwritten, not left in free
    // pages for anyone with the file to read.
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(unavailable)?;
    conn.execute_batch(SCHEMA).map_err(unavailable)?;
    if !has_version_column(conn)? {
        conn.execute(SQL_ADD_VERSION, []).map_err(unavailable)?;
    }
    let keyed_by_scope = conn
        .prepare(SQL_KEYED_BY_SCOPE)
        .and_then(|mut st| st.exists([]))
        .map_err(unavailable)?;
    if keyed_by_scope {
        let tx = conn.unchecked_transaction().map_err(unavailable)?;
        tx.execute_batch(SQL_REBUILD_KEYS).map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}

/// Whether the `events` table of the file has the `v` column (files written before
/// versions existed do not).
fn has_version_column(conn: &Connection) -> Result<bool, StoreError> {
    let mut st = conn
        .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'v'")
        .map_err(unavailable)?;
    st.exists([]).map_err(unavailable)
}

/// Checkpoints the WAL from a connection and a thread of its own, so the writer's
/// commits never stop to do it (with SQLite's automatic checkpoints, every thousandth
/// page or so, one commit paid for copying the whole WAL: the long tail of append
/// times). A passive checkpoint never blocks the writer. The thread ends once the log
/// is dropped.
fn spawn_checkpointer(
    file: Arc<LogFile>,
    alive: Weak<Mutex<Connection>>,
) -> Result<(), StoreError> {
    let mut conn = Some(checkpoint_connection(&file.path)?);
    let mut generation = 0;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut failing = false;
            while alive.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                // The writer reopened the log: follow it to the file it has open now.
                let now = file.generation.load(Ordering::Relaxed);
                if now != generation || conn.is_none() {
                    generation = now;
                    conn = checkpoint_connection(&file.path).ok();
                }
                let Some(c) = &conn else { continue };
                match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    // Said once per fault, not four times a second while a disk is full.
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "WAL checkpoint failed; the writer's own checkpoints take over");
                    }
                    Err(_) => {}
                    Ok(()) => failing = false,
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("starting the WAL checkpointer: {e}")))?;
    Ok(())
}

fn checkpoint_connection(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    Ok(conn)
}

fn connect_readonly(path: &Path) -> Result<Connection, StoreError> {
    // No URI flag: a path is a path, even one that starts with `file:`.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    if !has_version_column(&conn)? {
        conn.execute(SQL_VERSION_VIEW, []).map_err(unavailable)?;
    }
    Ok(conn)
}

/// The batch's own shape, checked before touching the file: seqs must be dense. A
/// gap is the caller's bug, refused as [`StoreError::Unavailable`] (nothing written).
fn check_dense(batch: &[StoredEvent]) -> Result<(), StoreError> {
    let first = batch[0].seq;
    for (i, e) in batch.iter().enumerate() {
        if Some(e.seq) != first.checked_add(i as u64) {
            return Err(StoreError::Unavailable(format!(
                "batch seqs are not dense: position {i} has seq {}, expected {}",
                e.seq,
                first.saturating_add(i as u64)
            )));
        }
    }
    Ok(())
}

/// One transaction: head check, inserts, commit (the one fsync). Dropping the
/// transaction on any error rolls it back, so nothing of the batch is kept.
fn append_batch(
    conn: &mut Connection,
    batch: &[StoredEvent],
    keys: &[WrappedKey],
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let found = tx
        .prepare_cached(SQL_MAX_SEQ)
        .and_then(|mut st| st.query_row([], |row| get_seq(row, 0)))
        .map_err(unavailable)?;
    let expected = batch[0].seq.wrapping_sub(1);
    if expected != found {
        return Err(StoreError::Conflict { expected, found });
    }
    {
        let mut insert = tx.prepare_cached(SQL_INSERT).map_err(unavailable)?;
        for e in batch {
            insert
                .execute(params![
                    seq_param(e.seq)?,
                    muster_core::time::rfc3339(e.at),
                    e.actor,
                    e.command_id,
                    e.kind,
                    e.body,
                    e.hash,
                    e.v
                ])
                .map_err(unavailable)?;
        }
    }
    if !keys.is_empty() {
        let mut insert = tx.prepare_cached(SQL_INSERT_KEY).map_err(unavailable)?;
        for k in keys {
            insert
                .execute(params![k.scope, k.wrapped])
                .map_err(unavailable)?;
        }
    }
    tx.commit().map_err(unavailable)
}

/// Refuses keys for a scope `held` already, or twice in `keys`: a scope has one key
/// (with two, what one sealed would not open under the other).
fn refuse_kept(held: &Fingerprints, keys: &[WrappedKey], made: &[u128]) -> Result<(), StoreError> {
    for (i, (k, f)) in keys.iter().zip(made).enumerate() {
        if held.contains(f) || made[..i].contains(f) {
            return Err(StoreError::Unavailable(format!(
                "the data key of {} is kept already: a scope has one key",
                k.scope
            )));
        }
    }
    Ok(())
}

/// Every data key's row number and scope, in the order they were made.
fn key_rows(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut st = conn.prepare_cached(SQL_KEY_ROWS).map_err(unavailable)?;
    let rows = st
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

/// Every kept data key; none when the file predates the table (a read-only
/// connection does not create it).
fn load_keys_of(conn: &Connection) -> Result<Vec<WrappedKey>, StoreError> {
    let mut st = match conn.prepare_cached(SQL_LOAD_KEYS) {
        Ok(st) => st,
        Err(e) if e.to_string().contains("no such table") => return Ok(Vec::new()),
        Err(e) => return Err(unavailable(e)),
    };
    let rows = st
        .query_map([], |row| {
            Ok(WrappedKey {
                scope: row.get(0)?,
                wrapped: row.get(1)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

/// A seq as SQLite's signed integer; seqs past `i64::MAX` cannot be stored.
fn seq_param(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Unavailable(format!("seq {seq} is out of range")))
}

/// Reads a seq column; a negative value is reported as out of range.
fn get_seq(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// An `events` row as stored, before `at` is parsed, so `verify` can tell an
/// unreadable row from a broken link.
struct RawEvent {
    /// The row's key.
    seq: u64,
    /// RFC 3339 text as written.
    at: String,
    /// The remaining columns, as in [`StoredEvent`].
    actor: String,
    command_id: Option<String>,
    kind: String,
    body: String,
    hash: String,
    v: u32,
}

impl RawEvent {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
        Ok(RawEvent {
            seq: get_seq(row, 0)?,
            at: row.get(1)?,
            actor: row.get(2)?,
            command_id: row.get(3)?,
            kind: row.get(4)?,
            body: row.get(5)?,
            hash: row.get(6)?,
            v: row.get(7)?,
        })
    }

    fn into_event(self) -> Result<StoredEvent, StoreError> {
        let at = parse_at(&self.at).ok_or_else(|| {
            StoreError::Corrupt(format!("event {} has a bad time {:?}", self.seq, self.at))
        })?;
        Ok(StoredEvent {
            seq: self.seq,
            at,
            actor: self.actor,
            command_id: self.command_id,
            kind: self.kind,
            body: self.body,
            v: self.v,
            hash: self.hash,
        })
    }
}

fn parse_at(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Up to `limit` rows with `seq > after`, in order.
fn read_raw(conn: &Connection, after: u64, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
    // Past i64::MAX nothing can follow, and a larger limit means "all".
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = conn.prepare_cached(SQL_READ_FROM).map_err(unavailable)?;
    let rows = st
        .query_map(params![after, limit], RawEvent::from_row)
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

/// Up to `limit` rows with `seq > after` whose kind is not in `skip`, in order. The
/// skipped rows' bodies are never copied out of SQLite.
fn read_raw_skipping(
    conn: &Connection,
    after: u64,
    limit: usize,
    skip: &[&str],
) -> Result<Vec<RawEvent>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let marks = vec!["?"; skip.len()].join(",");
    let sql = format!(
        "SELECT seq, at, actor, command_id, kind, body, hash, v FROM events \
         WHERE seq > ? AND kind NOT IN ({marks}) ORDER BY seq LIMIT ?"
    );
    let mut st = conn.prepare_cached(&sql).map_err(unavailable)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&after];
    values.extend(skip.iter().map(|k| k as &dyn rusqlite::ToSql));
    values.push(&limit);
    let rows = st
        .query_map(values.as_slice(), RawEvent::from_row)
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

fn head_of(conn: &Connection) -> Result<(u64, String), StoreError> {
    let head = conn
        .prepare_cached(SQL_HEAD)
        .and_then(|mut st| {
            st.query_row([], |row| Ok((get_seq(row, 0)?, row.get(1)?)))
                .optional()
        })
        .map_err(unavailable)?;
    Ok(head.unwrap_or_else(|| (0, chain::GENESIS.to_string())))
}

fn latest_snapshot_of(conn: &Connection) -> Result<Option<Snapshot>, StoreError> {
    conn.prepare_cached(SQL_LATEST_SNAPSHOT)
        .and_then(|mut st| {
            st.query_row([], |row| {
                Ok(Snapshot {
                    seq: get_seq(row, 0)?,
                    body: row.get(1)?,
                })
            })
            .optional()
        })
        .map_err(unavailable)
}

/// Saves (replacing one at the same seq) and prunes with `prune` (its one parameter
/// `arg`: keep the newest [`SNAPSHOTS_KEPT`], or drop all older than the seq saved), in
/// one transaction.
fn save_snapshot_to(
    conn: &mut Connection,
    snapshot: &Snapshot,
    prune: &str,
    arg: i64,
) -> Result<(), StoreError> {
    let seq = seq_param(snapshot.seq)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    tx.prepare_cached(SQL_SAVE_SNAPSHOT)
        .and_then(|mut st| st.execute(params![seq, snapshot.body]))
        .map_err(unavailable)?;
    tx.prepare_cached(prune)
        .and_then(|mut st| st.execute(params![arg]))
        .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}

/// Walks events `1..=upto` page by page. Stops at the first event that is missing,
/// unreadable, out of order or whose hash does not link; `events` counts the rows
/// examined, including that bad one.
fn verify_pages<F>(upto: u64, mut read_page: F) -> Result<VerifyReport, StoreError>
where
    F: FnMut(u64, usize) -> Result<Vec<RawEvent>, StoreError>,
{
    let mut prev = (0u64, chain::GENESIS.to_string());
    let mut examined = 0u64;
    while prev.0 < upto {
        let page = read_page(prev.0, VERIFY_PAGE)?;
        if page.is_empty() {
            // Rows up to `upto` vanished: the log was cut short.
            return Ok(bad(examined, prev.0 + 1));
        }
        for raw in page.into_iter().take_while(|r| r.seq <= upto) {
            examined += 1;
            let Ok(event) = raw.into_event() else {
                return Ok(bad(examined, prev.0 + 1));
            };
            match chain::check(prev.0, std::mem::take(&mut prev.1), [&event]) {
                Ok(next) => prev = next,
                Err(seq) => return Ok(bad(examined, seq)),
            }
        }
    }
    Ok(VerifyReport {
        ok: true,
        events: examined,
        first_bad_seq: None,
    })
}

fn bad(events: u64, seq: u64) -> VerifyReport {
    VerifyReport {
        ok: false,
        events,
        first_bad_seq: Some(seq),
    }
}

/// Reads the journal mode and fsync policy back from SQLite rather than trusting
/// what `open` asked for.
fn durability_of(conn: &Connection) -> Result<Durability, StoreError> {
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .map_err(unavailable)?;
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |row| row.get(0))
        .map_err(unavailable)?;
    let sync_name = match sync {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        3 => "EXTRA",
        _ => "UNKNOWN",
    };
    Ok(Durability {
        store: "sqlite".to_string(),
        durable: (2..=3).contains(&sync) && mode != "memory" && mode != "off",
        detail: format!("{}, synchronous={sync_name}", mode.to_uppercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{self, chain_events};

    fn fresh() -> (tempfile::TempDir, SqliteLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(&dir.path().join("log.db")).unwrap();
        (dir, log)
    }

    fn snapshot(seq: u64) -> Snapshot {
        Snapshot {
            seq,
            body: format!("state-{seq}"),
        }
    }

    #[tokio::test]
    async fn round_trip_is_exact_and_head_follows() {
        let (_dir, log) = fresh();
        let batch = chain_events(0, chain::GENESIS, 3);
        log.append(&batch).await.unwrap();
        let read = log.read_from(0, 10).await.unwrap();
        assert_eq!(read, batch);
        assert_eq!(read[0].command_id, None);
        assert_eq!(read[1].command_id.as_deref(), Some("cmd-2"));
        assert_eq!(read[2].at, contract::time_of(3));
        assert_eq!(log.head().await.unwrap(), (3, batch[2].hash.clone()));
    }

    #[tokio::test]
    async fn at_is_stored_as_rfc3339_millis() {
        let (dir, log) = fresh();
        log.append(&chain_events(0, chain::GENESIS, 1))
            .await
            .unwrap();
        let raw = Connection::open(dir.path().join("log.db")).unwrap();
        let at: String = raw
            .query_row("SELECT at FROM events WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(at, "2026-11-28T17:20:03.124Z");
    }

    #[tokio::test]
    async fn conflict_reports_expected_and_found_and_keeps_log() {
        let (_dir, log) = fresh();
        let first = chain_events(0, chain::GENESIS, 4);
        log.append(&first).await.unwrap();
        let again = chain_events(0, chain::GENESIS, 2);
        match log.append(&again).await {
            Err(StoreError::Conflict { expected, found }) => assert_eq!((expected, found), (0, 4)),
            other => panic!("expected conflict, got {other:?}"),
        }
        assert_eq!(log.read_from(0, 100).await.unwrap(), first);
        assert_eq!(log.head().await.unwrap(), (4, first[3].hash.clone()));
    }

    #[tokio::test]
    async fn non_dense_batch_is_refused_before_writing() {
        let (_dir, log) = fresh();
        let mut batch = chain_events(0, chain::GENESIS, 3);
        batch[2].seq = 4;
        let err = log.append(&batch).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Unavailable(m) if m.contains("not dense")),
            "{err:?}"
        );
        assert_eq!(log.head().await.unwrap().0, 0);
        assert!(log.read_from(0, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn sqlite_failure_mid_batch_rolls_back() {
        let (dir, log) = fresh();
        log.append(&chain_events(0, chain::GENESIS, 1))
            .await
            .unwrap();
        // A trigger makes the third insert fail after two succeeded in the transaction.
        let raw = Connection::open(dir.path().join("log.db")).unwrap();
        raw.execute_batch(
            "CREATE TRIGGER no_four BEFORE INSERT ON events WHEN NEW.seq = 4 \
             BEGIN SELECT RAISE(ABORT, 'no four'); END;",
        )
        .unwrap();
        let (seq, hash) = log.head().await.unwrap();
        let err = log.append(&chain_events(seq, &hash, 3)).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Unavailable(m) if m.contains("no four")),
            "{err:?}"
        );
        assert_eq!(log.head().await.unwrap(), (seq, hash));
    }

    /// After a scrub no byte of an older snapshot is left anywhere in the data dir:
    /// not in the file (secure_delete zeroes it), not in the WAL (truncated).
    #[tokio::test]
    async fn scrub_leaves_no_byte_of_older_snapshots_on_disk() {
        let (dir, log) = fresh();
        log.append(&chain_events(0, chain::GENESIS, 3))
            .await
            .unwrap();
        let secret = "Jo Caller +44 20 7946 0000";
        for seq in [1, 2] {
            let body = format!(
                r#"{{"as_of":{seq},"caller":"{secret}","pad":"{}"}}"#,
                "x".repeat(5000)
            );
            log.save_snapshot(&Snapshot { seq, body }).await.unwrap();
        }
        let grep = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    std::fs::read(p)
                        .unwrap()
                        .windows(secret.len())
                        .any(|w| w == secret.as_bytes())
                })
                .collect::<Vec<_>>()
        };
        assert!(
            !grep().is_empty(),
            "the test can fail: the secret is on disk first"
        );
        let fresh_snapshot = Snapshot {
            seq: 3,
            body: r#"{"as_of":3,"caller":"[erased]"}"#.into(),
        };
        log.scrub(&fresh_snapshot).await.unwrap();
        assert_eq!(log.latest_snapshot().await.unwrap(), Some(fresh_snapshot));
        let raw = Connection::open(dir.path().join("log.db")).unwrap();
        let n: i64 = raw
            .query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(raw);
        assert_eq!(grep(), Vec::<std::path::PathBuf>::new());
        assert_eq!(log.head().await.unwrap().0, 3);
    }

    #[tokio::test]
    async fn snapshots_keep_only_the_latest_three() {
        let (dir, log) = fresh();
        assert_eq!(log.latest_snapshot().await.unwrap(), None);
        for seq in [10, 20, 30, 40, 50] {
            log.save_snapshot(&snapshot(seq)).await.unwrap();
        }
        assert_eq!(log.latest_snapshot().await.unwrap(), Some(snapshot(50)));
        let raw = Connection::open(dir.path().join("log.db")).unwrap();
        let mut st = raw
            .prepare("SELECT seq FROM snapshots ORDER BY seq")
            .unwrap();
        let kept: Vec<i64> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, vec![30, 40, 50]);
    }

    #[tokio::test]
    async fn an_older_snapshot_than_one_kept_is_not_saved() {
        let (_dir, log) = fresh();
        log.scrub(&snapshot(50)).await.unwrap();
        log.save_snapshot(&snapshot(40)).await.unwrap();
        let raw = Connection::open(_dir.path().join("log.db")).unwrap();
        let n: i64 = raw
            .query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "the late, older snapshot was dropped");
        assert_eq!(log.latest_snapshot().await.unwrap(), Some(snapshot(50)));
    }

    #[tokio::test]
    async fn snapshot_at_same_seq_replaces() {
        let (_dir, log) = fresh();
        log.save_snapshot(&snapshot(7)).await.unwrap();
        let newer = Snapshot {
            seq: 7,
            body: "rebuilt".to_string(),
        };
        log.save_snapshot(&newer).await.unwrap();
        assert_eq!(log.latest_snapshot().await.unwrap(), Some(newer));
    }

    #[tokio::test]
    async fn durability_reads_pragmas_back() {
        let (_dir, log) = fresh();
        assert_eq!(
            log.durability().await.unwrap(),
            Durability {
                store: "sqlite".to_string(),
                durable: true,
                detail: "WAL, synchronous=FULL".to_string(),
            }
        );
    }

    #[tokio::test]
    async fn open_creates_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/log.db");
        let log = SqliteLog::open(&path).unwrap();
        assert!(path.is_file());
        assert_eq!(log.head().await.unwrap().0, 0);
    }

    #[tokio::test]
    async fn a_moved_log_is_unavailable_never_recreated_and_reopens_once_back() {
        let root = tempfile::tempdir().unwrap();
        let (dir, away) = (root.path().join("data"), root.path().join("away"));
        let log = SqliteLog::open(&dir.join("log.db")).unwrap();
        let first = chain_events(0, chain::GENESIS, 1);
        log.append(&first).await.unwrap();

        std::fs::rename(&dir, &away).unwrap();
        let next = chain_events(1, &first[0].hash, 1);
        let err = log.append(&next).await.unwrap_err();
        assert!(err.to_string().contains("cannot be found"), "{err}");
        assert!(log.head().await.is_err(), "head notices too");
        assert!(log.reopen().await.is_err());
        assert!(log.probe().await.is_err());
        assert!(!dir.exists(), "nothing created in its place");
        assert_eq!(
            Connection::open(away.join("log.db"))
                .unwrap()
                .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            1,
            "the refused append wrote nothing"
        );

        std::fs::rename(&away, &dir).unwrap();
        log.reopen().await.unwrap();
        log.probe().await.unwrap();
        log.append(&next).await.unwrap();
        assert_eq!(log.head().await.unwrap(), (2, next[0].hash.clone()));
    }

    #[tokio::test]
    async fn a_replaced_log_file_is_unavailable() {
        let (dir, log) = fresh();
        let path = dir.path().join("log.db");
        std::fs::rename(&path, dir.path().join("old.db")).unwrap();
        std::fs::write(&path, b"").unwrap();
        let err = log
            .append(&chain_events(0, chain::GENESIS, 1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("replaced"), "{err}");
    }

    #[test]
    fn verify_pages_reports_missing_tail_rows() {
        // The head said 3 but the rows stop at 1: the walk must not report ok.
        let events = chain_events(0, chain::GENESIS, 1);
        let mut pages = vec![vec![raw_of(&events[0])], vec![]].into_iter();
        let report = verify_pages(3, |_, _| Ok(pages.next().unwrap_or_default())).unwrap();
        assert_eq!(report, bad(1, 2));
    }

    #[test]
    fn verify_pages_flags_unreadable_time() {
        let events = chain_events(0, chain::GENESIS, 3);
        let mut rows: Vec<RawEvent> = events.iter().map(raw_of).collect();
        rows[1].at = "yesterday".to_string();
        let mut pages = vec![rows].into_iter();
        let report = verify_pages(3, |_, _| Ok(pages.next().unwrap_or_default())).unwrap();
        assert_eq!(report, bad(2, 2));
    }

    fn raw_of(e: &StoredEvent) -> RawEvent {
        RawEvent {
            seq: e.seq,
            at: muster_core::time::rfc3339(e.at),
            actor: e.actor.clone(),
            command_id: e.command_id.clone(),
            kind: e.kind.clone(),
            body: e.body.clone(),
            hash: e.hash.clone(),
            v: e.v,
        }
    }
}
