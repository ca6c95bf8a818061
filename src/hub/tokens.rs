//! Sessions: opaque bearer tokens, kept only as their SHA-256, each with an expiry.
//! Logging out, disabling a user or expiry ends a session; every open socket of it is
//! told through the revocation channel.
//!
//! Two homes for sessions. With SQLite (one hub) they live in this process's memory.
//! With Redis (several hubs behind a load balancer) they live in Redis, one key per
//! token hash with the session's expiry as its TTL, so a token issued on one hub
//! opens sockets on every hub; revocations are published on a Redis channel every hub
//! subscribes to, so logging out on one hub closes the sockets on all of them.
//!
//! A session is only as good as its user: [`Tokens::authenticate`] also checks the user
//! as the hub knows them now (still there, still enabled, the same password as when the
//! session began), so a revocation that was missed, lagged or lost cannot keep a
//! disabled user working. A session store that cannot answer is an error
//! ([`TokenError::Unavailable`]), never "no session": callers answer 503 or ask the
//! client to come back, and never log a user out because Redis restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use dashmap::DashMap;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tracing::warn;

use crate::auth::{new_token, token_hash};
use crate::hub::Hub;
use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::domain::user::{Role, User};
use muster_core::engine::Actor;
use muster_core::engine::visibility::Viewer;
use muster_log::redis::{pipe_idempotent, query_idempotent};

/// A signed-in user's session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the bearer token, hex: the session's key.
    pub token_hash: String,
    pub user_id: UserId,
    pub role: Role,
    pub resource_id: Option<ResourceId>,
    pub expires_at: DateTime<Utc>,
    /// [`password_tag`] of the user's password when the session began: a new password
    /// ends it. Empty in sessions stored before this existed (then not checked).
    #[serde(default)]
    pub password_tag: String,
}

/// Which password the user has: the seq of the event that set it, so a session can
/// tell that the password changed (the hash is in the credential store, not here).
pub fn password_tag(user: &User) -> String {
    user.password_seq.to_string()
}

/// Whether `user` (as the hub knows them now) may still use a session of `viewer`
/// begun when their password had `tag`: they exist, are enabled, have that password,
/// and still have the session's role and resource (a session holds both, so a change
/// of either ends it; one begun since, under the new ones, is good).
pub fn user_allows(viewer: &Viewer, tag: &str, user: Option<&User>) -> bool {
    user.is_some_and(|u| {
        u.id == viewer.user_id
            && !u.disabled
            && (tag.is_empty() || tag == password_tag(u))
            && u.role == viewer.role
            && u.resource_id == viewer.resource_id
    })
}

impl Session {
    /// Whether `user` (as the hub knows them now) may still use this session
    /// ([`user_allows`]).
    pub fn is_current_for(&self, user: Option<&User>) -> bool {
        user_allows(&self.viewer(), &self.password_tag, user)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id.clone(),
            role: self.role,
            resource_id: self.resource_id.clone(),
        }
    }

    pub fn viewer(&self) -> Viewer {
        Viewer {
            user_id: self.user_id.clone(),
            role: self.role,
            resource_id: self.resource_id.clone(),
        }
    }
}

/// What was revoked, for the sockets to check themselves against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    Token(String),
    User(UserId),
}

impl Revoked {
    /// `t:<hash>` or `u:<user id>`, as published on the Redis channel.
    fn encode(&self) -> String {
        match self {
            Revoked::Token(h) => format!("t:{h}"),
            Revoked::User(u) => format!("u:{}", u.0),
        }
    }

    fn decode(text: &str) -> Option<Revoked> {
        match text.split_once(':')? {
            ("t", h) => Some(Revoked::Token(h.to_string())),
            ("u", u) => Some(Revoked::User(UserId(u.to_string()))),
            _ => None,
        }
    }
}

/// Why a session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the session store is unavailable: {0}")]
    Unavailable(String),
}

/// The sessions every hub shares through Redis.
struct Shared {
    conn: ConnectionManager,
    /// `muster:{centre}:`; keys are `…session:<hash>` and `…user-sessions:<user id>`.
    prefix: String,
    /// This hub's live sessions, counted for `/metrics` only.
    issued: AtomicUsize,
}

impl Shared {
    fn session_key(&self, hash: &str) -> String {
        format!("{}session:{hash}", self.prefix)
    }

    fn user_key(&self, user: &UserId) -> String {
        format!("{}user-sessions:{}", self.prefix, user.0)
    }

    fn channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }
}

/// The live sessions: in this hub's memory, or in Redis for every hub.
pub struct Tokens {
    by_hash: DashMap<String, Session>,
    shared: Option<Arc<Shared>>,
    ttl: Duration,
    revoked_tx: broadcast::Sender<Revoked>,
    /// Held for reading by every revocation; see [`Tokens::hold_revocations`].
    revoking: tokio::sync::RwLock<()>,
}

impl Tokens {
    /// Sessions in this process's memory (one hub).
    pub fn new(ttl: Duration) -> Self {
        let (revoked_tx, _) = broadcast::channel(1_024);
        Tokens {
            by_hash: DashMap::new(),
            shared: None,
            ttl,
            revoked_tx,
            revoking: tokio::sync::RwLock::new(()),
        }
    }

    /// Sessions in the Redis at `url`, under the centre's hash tag, shared by every
    /// hub. Connects lazily; spawns the task that listens for other hubs' revocations.
    pub fn redis(ttl: Duration, url: &str, centre: &str) -> Result<Self, TokenError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(1)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(unavailable)?;
        let shared = Arc::new(Shared {
            conn,
            prefix: format!("muster:{{{}}}:", muster_log::redis::slug(centre)),
            issued: AtomicUsize::new(0),
        });
        let mut tokens = Tokens::new(ttl);
        tokio::spawn(listen(client, shared.channel(), tokens.revoked_tx.clone()));
        tokens.shared = Some(shared);
        Ok(tokens)
    }

    /// Starts a session for `user`; returns the bearer token (shown once) and the session.
    pub async fn issue(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(String, Session), TokenError> {
        let token = new_token();
        let session = Session {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            role: user.role,
            resource_id: user.resource_id.clone(),
            expires_at: now + self.ttl,
            password_tag: password_tag(user),
        };
        match &self.shared {
            None => {
                self.by_hash
                    .insert(session.token_hash.clone(), session.clone());
            }
            Some(sh) => {
                let ttl_ms = self.ttl.num_milliseconds().max(1);
                let json = serde_json::to_string(&session)
                    .map_err(|e| TokenError::Unavailable(e.to_string()))?;
                let user_key = sh.user_key(&session.user_id);
                // Safe to repeat: the same value, the same set member, the same TTL.
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .cmd("SET")
                    .arg(sh.session_key(&session.token_hash))
                    .arg(json)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("SADD")
                    .arg(&user_key)
                    .arg(&session.token_hash)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&user_key)
                    .arg(ttl_ms)
                    .ignore();
                pipe_idempotent::<()>(&sh.conn, &pipe)
                    .await
                    .map_err(unavailable)?;
                sh.issued.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok((token, session))
    }

    /// The live session a bearer token opens, if its user may still use it (see
    /// [`Session::is_current_for`], judged on `hub`'s read state); `Ok(None)` when the
    /// session is unknown, expired or its user disabled. A session store that cannot
    /// answer is an error, not "no session".
    pub async fn authenticate(
        &self,
        token: &str,
        hub: &Hub,
    ) -> Result<Option<Session>, TokenError> {
        self.authenticate_hash(&token_hash(token), hub).await
    }

    /// [`Self::authenticate`] by the token's hash: whether an open socket's session is
    /// still good, when a revocation may have been missed.
    pub async fn authenticate_hash(
        &self,
        hash: &str,
        hub: &Hub,
    ) -> Result<Option<Session>, TokenError> {
        let Some(session) = self.lookup(hash, hub.clock.now()).await? else {
            return Ok(None);
        };
        let current = hub.with_state(|s| session.is_current_for(s.users.get(&session.user_id)));
        Ok(current.then_some(session))
    }

    /// The stored session under a token hash, if it has not expired.
    async fn lookup(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<Session>, TokenError> {
        let session = match &self.shared {
            None => match self.by_hash.get(hash) {
                Some(s) => s.clone(),
                None => return Ok(None),
            },
            Some(sh) => {
                let got: Option<String> =
                    query_idempotent(&sh.conn, redis::cmd("GET").arg(sh.session_key(hash)))
                        .await
                        .map_err(|e| {
                            warn!(error = %e, "session store unavailable");
                            unavailable(e)
                        })?;
                // A value we cannot read is no session (it was not written by us).
                match got.and_then(|json| serde_json::from_str(&json).ok()) {
                    Some(s) => s,
                    None => return Ok(None),
                }
            }
        };
        if session.expires_at <= now {
            self.by_hash.remove(hash);
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// For tests: while the returned guard lives, every revocation waits, as it would
    /// behind a slow session store, so the revoker can really fall behind the hub.
    #[doc(hidden)]
    pub async fn hold_revocations(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.revoking.write().await
    }

    /// Ends one session (log-out), on every hub.
    pub async fn revoke(&self, token_hash: &str) {
        let _revoking = self.revoking.read().await;
        match &self.shared {
            None => {
                if self.by_hash.remove(token_hash).is_some() {
                    let _ = self.revoked_tx.send(Revoked::Token(token_hash.to_string()));
                }
            }
            Some(sh) => {
                // Safe to repeat: a second DEL finds nothing, a second notice closes
                // sockets that are already closed.
                let mut pipe = redis::pipe();
                pipe.cmd("DEL")
                    .arg(sh.session_key(token_hash))
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(sh.channel())
                    .arg(Revoked::Token(token_hash.to_string()).encode())
                    .ignore();
                let result = pipe_idempotent::<()>(&sh.conn, &pipe).await;
                self.after_shared_revoke(sh, result);
            }
        }
    }

    /// Ends every session of a user (disabled, password changed), on every hub.
    pub async fn revoke_user(&self, user_id: &UserId) {
        let _revoking = self.revoking.read().await;
        match &self.shared {
            None => {
                self.by_hash.retain(|_, s| &s.user_id != user_id);
                let _ = self.revoked_tx.send(Revoked::User(user_id.clone()));
            }
            Some(sh) => {
                let result = revoke_user_in_redis(sh, user_id).await;
                self.after_shared_revoke(sh, result);
            }
        }
    }

    /// Logs a revocation Redis did not take: the session may stay usable elsewhere.
    fn after_shared_revoke(&self, sh: &Shared, result: redis::RedisResult<()>) {
        match result {
            Ok(()) => {
                let _ = sh
                    .issued
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            }
            Err(e) => warn!(error = %e, "revocation not stored in redis"),
        }
    }

    /// Revocations from now on.
    pub fn revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revoked_tx.subscribe()
    }

    /// Drops expired sessions (called from time to time); Redis expires its own.
    pub fn sweep(&self, now: DateTime<Utc>) {
        self.by_hash.retain(|_, s| s.expires_at > now);
    }

    /// Live sessions in memory; with Redis, those this hub started (approximately).
    pub fn len(&self) -> usize {
        match &self.shared {
            None => self.by_hash.len(),
            Some(sh) => sh.issued.load(Ordering::Relaxed),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn unavailable(e: redis::RedisError) -> TokenError {
    TokenError::Unavailable(e.to_string())
}

/// Deletes every session of the user and tells every hub. Safe to repeat, like
/// [`Tokens::revoke`].
async fn revoke_user_in_redis(sh: &Shared, user_id: &UserId) -> redis::RedisResult<()> {
    let user_key = sh.user_key(user_id);
    let hashes: Vec<String> =
        query_idempotent(&sh.conn, redis::cmd("SMEMBERS").arg(&user_key)).await?;
    let mut pipe = redis::pipe();
    for h in &hashes {
        pipe.cmd("DEL").arg(sh.session_key(h)).ignore();
    }
    pipe.cmd("DEL").arg(&user_key).ignore();
    pipe.cmd("PUBLISH")
        .arg(sh.channel())
        .arg(Revoked::User(user_id.clone()).encode())
        .ignore();
    pipe_idempotent(&sh.conn, &pipe).await
}

/// Forwards revocations published by any hub (this one included) to this hub's
/// sockets; resubscribes after Redis comes back. Ends when nobody can listen anymore.
async fn listen(client: redis::Client, channel: String, tx: broadcast::Sender<Revoked>) {
    let retry = std::time::Duration::from_millis(200);
    loop {
        match subscribe(&client, &channel).await {
            Ok(pubsub) => {
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    let text: String = msg.get_payload().unwrap_or_default();
                    if let Some(r) = Revoked::decode(&text) {
                        let _ = tx.send(r);
                    }
                }
                warn!("revocation channel closed; resubscribing");
            }
            Err(e) => warn!(error = %e, "cannot subscribe to revocations; retrying"),
        }
        tokio::time::sleep(retry).await;
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub =
        tokio::time::timeout(std::time::Duration::from_secs(2), client.get_async_pubsub())
            .await
            .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
