//! The Redis event log, for production and for several hubs sharing one log.
//!
//! Layout, every key carrying the centre as a hash tag (`muster:{demo}:…`) so one
//! centre lives in one Redis Cluster slot and the append script may touch all its keys:
//!
//! - `muster:{c}:events`: a Stream, one entry per event, entry id `<seq>-0`, fields
//!   `seq at actor command_id kind body hash v` (`command_id` absent for events no
//!   command caused, so `None` and `Some("")` stay apart; `v`, the body's schema
//!   version, absent in entries written before versions existed, which read as 1).
//!   `read_from` is one `XRANGE`.
//! - `muster:{c}:head`: a hash `{seq, hash}` of the last event, the optimistic lock.
//! - `muster:{c}:snapshot`: a hash `{seq, body}`, the newest snapshot.
//!
//! A batch is appended by ONE Lua script, which Redis runs atomically: it compares the
//! head with what the writer expected (seq, and hash when the writer knows it) and
//! either appends every entry and moves the head, or appends nothing and returns the
//! real head ([`StoreError::Conflict`]). Two hubs can therefore never interleave a
//! broken chain.
//!
//! Durability is Redis's: with `appendonly yes` and `appendfsync always` Redis fsyncs
//! the AOF before it answers, so an `Ok` append survives a crash. [`EventLog::durability`]
//! reads the settings back and says what else could be lost.
//!
//! Failure is fast: connections and replies time out after a second or two and the
//! error is [`StoreError::Unavailable`]; the [`ConnectionManager`] reconnects by itself.
//!
//! After Redis restarts, the manager only learns that its connection is dead when the
//! next command fails on it ("broken pipe"); it reconnects then, but that command has
//! already failed. So every call that is safe to repeat goes through [`retry_once`]:
//! reads, the snapshot script (it keeps the newer one) and the append script, which is
//! safe because it checks the head first: a batch that did land the first time comes
//! back as a conflict whose head is exactly the batch's last event, which is success.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};

use super::{
    Durability, EventLog, Snapshot, StoreError, StoredEvent, Tail, VerifyReport, WrappedKey, chain,
};

/// How long connecting may take before the store reports itself unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1_000);

/// How long one reply may take (an fsync-always append of a large batch included).
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(2_000);

/// How long the tail's blocking `XREAD` waits before asking again.
const TAIL_BLOCK: Duration = Duration::from_millis(1_000);

/// Events read per page by `verify`.
const VERIFY_PAGE: usize = 1_024;

/// Checks the head and appends the batch, atomically.
///
/// KEYS: head, events, data keys. ARGV: expected seq, expected hash (`""`: not
/// checked), the genesis hash, the number `n` of new data keys, then `n` pairs scope,
/// wrapped key, then 9 values per event: seq, at, actor, has command id (`0`/`1`),
/// command id, kind, body, hash, schema version. Returns `{1}` on success, `{0, head seq, head hash}`
/// on conflict (a new key's scope already kept by another hub is one too).
const APPEND_LUA: &str = r#"
local head = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local seq = head[1] or '0'
local hash = head[2] or ARGV[3]
if seq ~= ARGV[1] or (ARGV[2] ~= '' and hash ~= ARGV[2]) then
  return {0, seq, hash}
end
local nkeys = tonumber(ARGV[4])
for k = 0, nkeys - 1 do
  if redis.call('HEXISTS', KEYS[3], ARGV[5 + 2 * k]) == 1 then
    return {0, seq, hash}
  end
end
for k = 0, nkeys - 1 do
  redis.call('HSET', KEYS[3], ARGV[5 + 2 * k], ARGV[6 + 2 * k])
end
local last_seq, last_hash
for i = 5 + 2 * nkeys, #ARGV, 9 do
  local fields = {'seq', ARGV[i], 'at', ARGV[i + 1], 'actor', ARGV[i + 2]}
  if ARGV[i + 3] == '1' then
    table.insert(fields, 'command_id')
    table.insert(fields, ARGV[i + 4])
  end
  table.insert(fields, 'kind')
  table.insert(fields, ARGV[i + 5])
  table.insert(fields, 'body')
  table.insert(fields, ARGV[i + 6])
  table.insert(fields, 'hash')
  table.insert(fields, ARGV[i + 7])
  table.insert(fields, 'v')
  table.insert(fields, ARGV[i + 8])
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', unpack(fields))
  last_seq, last_hash = ARGV[i], ARGV[i + 7]
end
redis.call('HSET', KEYS[1], 'seq', last_seq, 'hash', last_hash)
return {1}
"#;

/// Deletes data keys. KEYS: data keys. ARGV: exact scopes, or prefixes ending in `/`.
/// Returns the scopes deleted.
const ERASE_KEYS_LUA: &str = r#"
local erased = {}
local all = nil
for i = 1, #ARGV do
  local s = ARGV[i]
  if string.sub(s, -1) == '/' then
    all = all or redis.call('HKEYS', KEYS[1])
    for _, k in ipairs(all) do
      if string.sub(k, 1, #s) == s and redis.call('HDEL', KEYS[1], k) == 1 then
        table.insert(erased, k)
      end
    end
  elseif redis.call('HDEL', KEYS[1], s) == 1 then
    table.insert(erased, s)
  end
end
return erased
"#;

/// Replaces the snapshot unless the stored one is newer (two hubs may both save).
const SNAPSHOT_LUA: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'body', ARGV[2])
return 1
"#;

/// The names of one centre's keys.
#[derive(Clone, Debug)]
struct Keys {
    events: String,
    head: String,
    snapshot: String,
    /// The vault's data keys (a hash: scope → wrapped key), outside the chain.
    data_keys: String,
}

impl Keys {
    fn new(centre: &str) -> Keys {
        let tag = format!("muster:{{{}}}", slug(centre));
        Keys {
            events: format!("{tag}:events"),
            head: format!("{tag}:head"),
            snapshot: format!("{tag}:snapshot"),
            data_keys: format!("{tag}:keys"),
        }
    }
}

/// The centre name reduced to characters safe inside a key and a hash tag.
pub fn slug(centre: &str) -> String {
    let s: String = centre
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "default".into() } else { s }
}

/// An [`EventLog`] in Redis. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisLog {
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
    append: Script,
    snapshot: Script,
    erase_keys: Script,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("keys", &self.keys)
            .finish()
    }
}

/// Whether `e` says the connection was gone (Redis restarted, the socket was reset or
/// refused) rather than that Redis answered or was slow. A timeout is not retried: the
/// command may still be running, and waiting twice doubles the time to refuse.
pub fn connection_dropped(e: &redis::RedisError) -> bool {
    !e.is_timeout() && (e.is_connection_dropped() || e.is_connection_refusal())
}

/// Runs `call`, and once more if it failed on a dropped connection: the manager has
/// started reconnecting, so the second attempt waits for the new connection. Only for
/// calls that are safe to repeat.
pub async fn retry_once<T, F, Fut>(mut call: F) -> redis::RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match call().await {
        Err(e) if connection_dropped(&e) => {
            tracing::debug!(error = %e, "redis connection dropped; retrying once");
            call().await
        }
        other => other,
    }
}

/// `cmd` on `conn`, once more on a dropped connection; only for commands safe to repeat.
pub async fn query_idempotent<T: redis::FromRedisValue>(
    conn: &ConnectionManager,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    retry_once(|| {
        let mut c = conn.clone();
        async move { cmd.query_async(&mut c).await }
    })
    .await
}

/// `pipe` on `conn`, once more on a dropped connection; only for pipelines safe to repeat.
pub async fn pipe_idempotent<T: redis::FromRedisValue>(
    conn: &ConnectionManager,
    pipe: &redis::Pipeline,
) -> redis::RedisResult<T> {
    retry_once(|| {
        let mut c = conn.clone();
        async move { pipe.query_async(&mut c).await }
    })
    .await
}

/// Any Redis failure: the operation did not (knowingly) happen.
fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn manager_config(response: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200))
}

impl RedisLog {
    /// Connects to `url` and uses the keys of `centre`. Fails fast (about a second)
    /// with [`StoreError::Unavailable`] when Redis does not answer.
    pub async fn open(url: &str, centre: &str) -> Result<RedisLog, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), manager_config(RESPONSE_TIMEOUT)),
        )
        .await
        .map_err(|_| StoreError::Unavailable(format!("redis at {url} did not answer")))?
        .map_err(unavailable)?;
        Ok(RedisLog {
            client,
            conn,
            keys: Keys::new(centre),
            append: Script::new(APPEND_LUA),
            snapshot: Script::new(SNAPSHOT_LUA),
            erase_keys: Script::new(ERASE_KEYS_LUA),
        })
    }

    /// A second, separate connection for blocking reads (a blocking `XREAD` on the
    /// shared connection would hold up every append behind it).
    async fn tail_connection(&self) -> Result<ConnectionManager, StoreError> {
        tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            ConnectionManager::new_with_config(
                self.client.clone(),
                manager_config(TAIL_BLOCK + RESPONSE_TIMEOUT),
            ),
        )
        .await
        .map_err(|_| StoreError::Unavailable("redis did not answer".into()))?
        .map_err(unavailable)
    }

    /// Waits up to about a second for events after `after`, on `conn` (from
    /// [`Self::tail_connection`]). Empty when nothing came.
    async fn wait_after(
        &self,
        conn: &mut ConnectionManager,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(limit.max(1))
            .arg("BLOCK")
            .arg(TAIL_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.events)
            .arg(format!("{after}-0"))
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        let entries = match reply {
            Value::Nil => return Ok(Vec::new()),
            Value::Array(streams) => streams
                .into_iter()
                .next()
                .and_then(|s| match s {
                    Value::Array(mut kv) if kv.len() == 2 => kv.pop(),
                    _ => None,
                })
                .unwrap_or(Value::Nil),
            Value::Map(streams) => streams
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or(Value::Nil),
            other => return Err(corrupt_reply("XREAD", &other)),
        };
        parse_entries(entries)
    }

    /// Deletes this centre's keys: for benchmarks and tests on throw-away namespaces,
    /// never called by the hub.
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        let mut del = redis::cmd("DEL");
        del.arg(&self.keys.events)
            .arg(&self.keys.head)
            .arg(&self.keys.snapshot)
            .arg(&self.keys.data_keys);
        query_idempotent::<()>(&self.conn, &del)
            .await
            .map_err(unavailable)
    }

    /// Runs the append script; `prev_hash` is checked when given.
    async fn append_checked(
        &self,
        prev_hash: Option<&str>,
        batch: &[StoredEvent],
        keys: &[WrappedKey],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        check_dense(batch)?;
        let expected = batch[0].seq.wrapping_sub(1);
        let mut inv = self.append.prepare_invoke();
        inv.key(&self.keys.head)
            .key(&self.keys.events)
            .key(&self.keys.data_keys)
            .arg(expected)
            .arg(prev_hash.unwrap_or(""))
            .arg(chain::GENESIS)
            .arg(keys.len());
        for k in keys {
            inv.arg(&k.scope).arg(&k.wrapped[..]);
        }
        for e in batch {
            inv.arg(e.seq)
                .arg(muster_core::time::rfc3339(e.at))
                .arg(&e.actor)
                .arg(if e.command_id.is_some() { "1" } else { "0" })
                .arg(e.command_id.as_deref().unwrap_or(""))
                .arg(&e.kind)
                .arg(&e.body)
                .arg(&e.hash)
                .arg(e.v);
        }
        let first = inv.invoke_async(&mut self.conn.clone()).await;
        let (reply, retried): (Vec<Value>, bool) = match first {
            Ok(reply) => (reply, false),
            Err(e) if connection_dropped(&e) => {
                tracing::debug!(error = %e, "redis connection dropped during an append; retrying once");
                let reply = inv
                    .invoke_async(&mut self.conn.clone())
                    .await
                    .map_err(unavailable)?;
                (reply, true)
            }
            Err(e) => return Err(unavailable(e)),
        };
        match reply.first() {
            Some(Value::Int(1)) => Ok(()),
            Some(Value::Int(0)) => {
                let found = reply.get(1).and_then(as_text).unwrap_or_default();
                let found = found.parse().map_err(|_| {
                    StoreError::Corrupt(format!("head seq {found:?} is not a number"))
                })?;
                let head_hash = reply.get(2).and_then(as_text).unwrap_or_default();
                // The first attempt landed and only its answer was lost: the head is now
                // this batch's last event (the hash chains every event before it).
                let last = &batch[batch.len() - 1];
                if retried && found == last.seq && head_hash == last.hash {
                    return Ok(());
                }
                Err(StoreError::Conflict { expected, found })
            }
            _ => Err(StoreError::Corrupt(format!(
                "append script answered {reply:?}"
            ))),
        }
    }
}

#[async_trait]
impl EventLog for RedisLog {
    async fn append(&self, batch: &[StoredEvent]) -> Result<(), StoreError> {
        self.append_checked(None, batch, &[]).await
    }

    async fn append_after(&self, prev_hash: &str, batch: &[StoredEvent]) -> Result<(), StoreError> {
        self.append_checked(Some(prev_hash), batch, &[]).await
    }

    async fn append_with_keys(
        &self,
        prev_hash: &str,
        batch: Arc<Vec<StoredEvent>>,
        keys: Arc<Vec<WrappedKey>>,
    ) -> Result<(), StoreError> {
        self.append_checked(Some(prev_hash), &batch, &keys).await
    }

    async fn load_keys(&self) -> Result<Vec<WrappedKey>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(&self.keys.data_keys);
        let pairs: Vec<(String, Vec<u8>)> = query_idempotent(&self.conn, &cmd)
            .await
            .map_err(unavailable)?;
        Ok(pairs
            .into_iter()
            .map(|(scope, wrapped)| WrappedKey { scope, wrapped })
            .collect())
    }

    /// Deletes the keys in one script, then asks Redis to rewrite its append-only
    /// file so the deleted keys' bytes leave it too (in the background; a rewrite
    /// already under way, or no AOF, is not an error).
    async fn erase_keys(&self, scopes: &[String]) -> Result<Vec<String>, StoreError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.erase_keys.prepare_invoke();
        inv.key(&self.keys.data_keys);
        for s in scopes {
            inv.arg(s);
        }
        // Deleting twice deletes nothing more: safe to retry.
        let erased: Vec<String> = match inv.invoke_async(&mut self.conn.clone()).await {
            Err(e) if connection_dropped(&e) => inv
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?,
            other => other.map_err(unavailable)?,
        };
        if !erased.is_empty()
            && let Err(e) = redis::cmd("BGREWRITEAOF")
                .query_async::<()>(&mut self.conn.clone())
                .await
        {
            tracing::warn!(error = %e, "asking redis to rewrite its AOF after erasing keys failed");
        }
        Ok(erased)
    }

    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&self.keys.data_keys);
        for k in keys {
            cmd.arg(&k.scope).arg(&k.wrapped[..]);
        }
        query_idempotent::<()>(&self.conn, &cmd)
            .await
            .map_err(unavailable)
    }

    async fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&self.keys.events)
            .arg(format!("{start}-0"))
            .arg("+");
        if let Ok(count) = i64::try_from(limit) {
            cmd.arg("COUNT").arg(count);
        }
        let reply: Value = query_idempotent(&self.conn, &cmd)
            .await
            .map_err(unavailable)?;
        parse_entries(reply)
    }

    async fn head(&self) -> Result<(u64, String), StoreError> {
        let (seq, hash): (Option<u64>, Option<String>) = query_idempotent(
            &self.conn,
            redis::cmd("HMGET")
                .arg(&self.keys.head)
                .arg("seq")
                .arg("hash"),
        )
        .await
        .map_err(unavailable)?;
        Ok(match (seq, hash) {
            (Some(seq), Some(hash)) => (seq, hash),
            _ => (0, chain::GENESIS.to_string()),
        })
    }

    async fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        let (seq, body): (Option<u64>, Option<String>) = query_idempotent(
            &self.conn,
            redis::cmd("HMGET")
                .arg(&self.keys.snapshot)
                .arg("seq")
                .arg("body"),
        )
        .await
        .map_err(unavailable)?;
        Ok(match (seq, body) {
            (Some(seq), Some(body)) => Some(Snapshot { seq, body }),
            _ => None,
        })
    }

    /// Replaces the snapshot (Redis keeps one), then asks the server to rewrite its
    /// append-only file, which otherwise keeps every old value written.
    async fn scrub(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.save_snapshot(snapshot).await?;
        match query_idempotent::<String>(&self.conn, &redis::cmd("BGREWRITEAOF")).await {
            Ok(_) => Ok(()),
            // One running already starts after ours was asked for: it sees the new data.
            Err(e) if e.to_string().contains("already in progress") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut inv = self.snapshot.prepare_invoke();
        inv.key(&self.keys.snapshot)
            .arg(snapshot.seq)
            .arg(&snapshot.body);
        let inv = &inv;
        let _: i64 = retry_once(|| {
            let mut c = self.conn.clone();
            async move { inv.invoke_async(&mut c).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// Walks the stream page by page up to the head as it was when the walk started.
    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let upto = self.head().await?.0;
        let (mut seq, mut hash) = (0u64, chain::GENESIS.to_string());
        while seq < upto {
            let page = match self.read_from(seq, VERIFY_PAGE).await {
                Ok(page) => page,
                Err(StoreError::Corrupt(_)) => return Ok(bad(seq)),
                Err(e) => return Err(e),
            };
            if page.is_empty() {
                return Ok(bad(seq));
            }
            let page: Vec<_> = page.into_iter().take_while(|e| e.seq <= upto).collect();
            match chain::check(seq, hash.clone(), &page) {
                Ok((s, h)) => (seq, hash) = (s, h),
                Err(first_bad) => return Ok(bad(first_bad - 1)),
            }
        }
        Ok(VerifyReport {
            ok: true,
            events: seq,
            first_bad_seq: None,
        })
    }

    async fn durability(&self) -> Result<Durability, StoreError> {
        let appendonly = config_get(&self.conn, "appendonly").await?;
        let appendfsync = config_get(&self.conn, "appendfsync").await?;
        Ok(describe_durability(
            appendonly.as_deref(),
            appendfsync.as_deref(),
        ))
    }

    fn shared(&self) -> bool {
        true
    }

    async fn tail(&self) -> Result<Box<dyn Tail>, StoreError> {
        Ok(Box::new(RedisTail {
            log: self.clone(),
            conn: None,
        }))
    }
}

/// Blocking `XREAD`s on a connection of their own, opened (and reopened) lazily so a
/// Redis that is down now does not stop the hub from starting to tail later.
struct RedisTail {
    log: RedisLog,
    conn: Option<ConnectionManager>,
}

#[async_trait]
impl Tail for RedisTail {
    async fn next_after(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.log.tail_connection().await?,
        };
        let got = self.log.wait_after(&mut conn, after, limit).await;
        self.conn = Some(conn);
        got
    }
}

/// The report of a walk that stopped at the event after `good`.
fn bad(good: u64) -> VerifyReport {
    VerifyReport {
        ok: false,
        events: good + 1,
        first_bad_seq: Some(good + 1),
    }
}

/// One setting's value; `None` when the server refuses `CONFIG` (some managed Redis).
async fn config_get(conn: &ConnectionManager, name: &str) -> Result<Option<String>, StoreError> {
    let reply: Result<Value, _> =
        query_idempotent(conn, redis::cmd("CONFIG").arg("GET").arg(name)).await;
    match reply {
        Ok(Value::Array(kv)) => Ok(kv.get(1).and_then(as_text)),
        Ok(Value::Map(kv)) => Ok(kv.first().and_then(|(_, v)| as_text(v))),
        Ok(_) => Ok(None),
        Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => {
            Err(unavailable(e))
        }
        Err(_) => Ok(None),
    }
}

/// What the persistence settings promise about an acknowledged command.
pub fn describe_durability(appendonly: Option<&str>, appendfsync: Option<&str>) -> Durability {
    let (durable, detail) = match (appendonly, appendfsync) {
        (Some("yes"), Some("always")) => (
            true,
            "redis appendonly=yes, appendfsync=always: every acknowledged command is on disk"
                .to_string(),
        ),
        (Some("yes"), Some("everysec")) => (
            false,
            "redis appendonly=yes, appendfsync=everysec: a crash can lose about the last \
             second of acknowledged commands"
                .to_string(),
        ),
        (Some("yes"), Some(other)) => (
            false,
            format!(
                "redis appendonly=yes, appendfsync={other}: the OS decides when to write; a \
                 crash can lose many seconds of acknowledged commands"
            ),
        ),
        (Some(_), _) => (
            false,
            "redis appendonly=no: only RDB snapshots (if any); a crash loses every command \
             since the last one, typically minutes"
                .to_string(),
        ),
        (None, _) => (
            false,
            "redis refuses CONFIG GET: persistence settings unknown, assume not durable"
                .to_string(),
        ),
    };
    Durability {
        store: "redis".into(),
        durable,
        detail,
    }
}

/// Seqs must be dense; a gap is the caller's bug, refused before writing.
fn check_dense(batch: &[StoredEvent]) -> Result<(), StoreError> {
    let first = batch[0].seq;
    for (i, e) in batch.iter().enumerate() {
        if Some(e.seq) != first.checked_add(i as u64) {
            return Err(StoreError::Unavailable(format!(
                "batch seqs are not dense: position {i} has seq {}",
                e.seq
            )));
        }
    }
    Ok(())
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn corrupt_reply(what: &str, v: &Value) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} reply: {v:?}"))
}

/// `[[id, [field, value, …]], …]` into events.
fn parse_entries(reply: Value) -> Result<Vec<StoredEvent>, StoreError> {
    let entries = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        other => return Err(corrupt_reply("XRANGE", &other)),
    };
    entries.into_iter().map(parse_entry).collect()
}

fn parse_entry(entry: Value) -> Result<StoredEvent, StoreError> {
    let Value::Array(mut parts) = entry else {
        return Err(corrupt_reply("stream entry", &entry));
    };
    let fields = match parts.pop() {
        Some(Value::Array(f)) => f,
        other => return Err(corrupt_reply("stream fields", &other.unwrap_or(Value::Nil))),
    };
    let mut e = PartialEvent::default();
    let mut it = fields.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let (Some(k), Some(v)) = (as_text(&k), into_text(v)) else {
            return Err(StoreError::Corrupt("a stream field is not text".into()));
        };
        e.set(&k, v);
    }
    e.finish()
}

fn into_text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        other => as_text(&other),
    }
}

/// Fields of an entry as they are read, before they are checked.
#[derive(Default)]
struct PartialEvent {
    seq: Option<String>,
    at: Option<String>,
    actor: Option<String>,
    command_id: Option<String>,
    kind: Option<String>,
    body: Option<String>,
    hash: Option<String>,
    v: Option<String>,
}

impl PartialEvent {
    fn set(&mut self, k: &str, v: String) {
        let slot = match k {
            "seq" => &mut self.seq,
            "at" => &mut self.at,
            "actor" => &mut self.actor,
            "command_id" => &mut self.command_id,
            "kind" => &mut self.kind,
            "body" => &mut self.body,
            "hash" => &mut self.hash,
            "v" => &mut self.v,
            _ => return,
        };
        *slot = Some(v);
    }

    fn finish(self) -> Result<StoredEvent, StoreError> {
        let missing = |f: &str| StoreError::Corrupt(format!("stream entry without {f}"));
        let seq_text = self.seq.ok_or_else(|| missing("seq"))?;
        let seq = seq_text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad seq {seq_text:?}")))?;
        let at_text = self.at.ok_or_else(|| missing("at"))?;
        let at = DateTime::parse_from_rfc3339(&at_text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| StoreError::Corrupt(format!("event {seq} has a bad time {at_text:?}")))?;
        // Entries written before versions existed have no `v`: version 1.
        let v = match self.v {
            None => 1,
            Some(text) => text.parse().map_err(|_| {
                StoreError::Corrupt(format!("event {seq} has a bad version {text:?}"))
            })?,
        };
        Ok(StoredEvent {
            seq,
            at,
            v,
            actor: self.actor.ok_or_else(|| missing("actor"))?,
            command_id: self.command_id,
            kind: self.kind.ok_or_else(|| missing("kind"))?,
            body: self.body.ok_or_else(|| missing("body"))?,
            hash: self.hash.ok_or_else(|| missing("hash"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let k = Keys::new("Demo Centre");
        assert_eq!(k.events, "muster:{demo-centre}:events");
        assert_eq!(k.head, "muster:{demo-centre}:head");
    }

    #[test]
    fn only_always_is_durable() {
        assert!(describe_durability(Some("yes"), Some("always")).durable);
        assert!(!describe_durability(Some("yes"), Some("everysec")).durable);
        assert!(!describe_durability(Some("no"), Some("always")).durable);
        assert!(!describe_durability(None, None).durable);
    }
}
