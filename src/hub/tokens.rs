//! Sessions: opaque bearer tokens, kept only as their SHA-256, each with an expiry.
//! Logging out, disabling a user or expiry ends a session; every open socket of it is
//! told through the revocation channel.

use chrono::{DateTime, Duration, Utc};
use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::auth::{new_token, token_hash};
use crate::domain::ids::{ResourceId, UserId};
use crate::domain::user::{Role, User};
use crate::engine::Actor;
use crate::engine::visibility::Viewer;

/// A signed-in user's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the bearer token, hex: the session's key.
    pub token_hash: String,
    pub user_id: UserId,
    pub role: Role,
    pub resource_id: Option<ResourceId>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
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

/// The live sessions of this hub.
pub struct Tokens {
    by_hash: DashMap<String, Session>,
    ttl: Duration,
    revoked_tx: broadcast::Sender<Revoked>,
}

impl Tokens {
    pub fn new(ttl: Duration) -> Self {
        let (revoked_tx, _) = broadcast::channel(1_024);
        Tokens {
            by_hash: DashMap::new(),
            ttl,
            revoked_tx,
        }
    }

    /// Starts a session for `user`; returns the bearer token (shown once) and the session.
    pub fn issue(&self, user: &User, now: DateTime<Utc>) -> (String, Session) {
        let token = new_token();
        let session = Session {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            role: user.role,
            resource_id: user.resource_id.clone(),
            expires_at: now + self.ttl,
        };
        self.by_hash
            .insert(session.token_hash.clone(), session.clone());
        (token, session)
    }

    /// The live session a bearer token opens, if any.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Option<Session> {
        let hash = token_hash(token);
        let session = self.by_hash.get(&hash)?.clone();
        if session.expires_at <= now {
            self.by_hash.remove(&hash);
            return None;
        }
        Some(session)
    }

    /// Ends one session (log-out).
    pub fn revoke(&self, token_hash: &str) {
        if self.by_hash.remove(token_hash).is_some() {
            let _ = self.revoked_tx.send(Revoked::Token(token_hash.to_string()));
        }
    }

    /// Ends every session of a user (disabled, password changed).
    pub fn revoke_user(&self, user_id: &UserId) {
        self.by_hash.retain(|_, s| &s.user_id != user_id);
        let _ = self.revoked_tx.send(Revoked::User(user_id.clone()));
    }

    /// Revocations from now on.
    pub fn revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revoked_tx.subscribe()
    }

    /// Drops expired sessions (called from time to time).
    pub fn sweep(&self, now: DateTime<Utc>) {
        self.by_hash.retain(|_, s| s.expires_at > now);
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}
