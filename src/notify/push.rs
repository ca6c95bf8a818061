//! The Web Push channel: a phone whose field app is closed (or whose screen is locked,
//! so its WebSocket is gone) is reached through its browser's push service.
//!
//! - [`Vapid`]: the hub's VAPID key pair (RFC 8292). Its public key is what
//!   `GET /api/push/key` gives the field app; its private key signs an ES256 JWT per
//!   push (`aud` = the push service's origin, `exp` ≤ 24 h, `sub` = `push.contact`), and
//!   a key derived from it signs the acknowledge links, so every hub of a cluster given
//!   the same key accepts every link.
//! - [`Pusher`]: encrypts a payload for one subscription (RFC 8291 aes128gcm, by
//!   `web-push-native`) and POSTs it (RFC 8030) through the hub's one HTTP client,
//!   retrying `429`/`5xx` with bounded backoff that honours `Retry-After`.
//! - [`spawn`]: follows the log and pushes what the contract says (PROTOCOL.md, "Web
//!   Push"): a new assignment, a `renotify`/`push` rung, a broadcast that asks for
//!   acknowledgement, a direct message. Each attempt about an assignment goes back into
//!   the log as `notification.record` (channel `push`); a `404`/`410` removes the
//!   subscription (`push.unsubscribe {reason: gone}`, as the hub).
//!
//! An endpoint URL is a capability (anyone holding it can push to that browser), and an
//! acknowledge link is one too: neither is ever logged; errors name host:port only.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{ExerciseOutbound, PushSettings};
use crate::hub::Hub;
use crate::outbound;
use muster_core::domain::ids::{AssignmentId, MessageId, UserId};
use muster_core::domain::message::Audience;
use muster_core::domain::procedure::EscalationAction;
use muster_core::domain::push::{self, PushSubscription, UnsubscribeReason};
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, Event, Record, State, timers};

/// The file the generated private key is kept in, inside the data dir.
pub const KEY_FILE: &str = "vapid-private-key";
/// The longest a VAPID JWT may live (RFC 8292: at most 24 hours).
const JWT_LIFETIME_SECS: i64 = 12 * 60 * 60;
/// Retries of a `429`/`5xx` answer, after the first attempt.
pub const MAX_RETRIES: u32 = 3;
/// The longest wait before a retry, whatever `Retry-After` asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// How long an acknowledge link lives when the assignment's ladder says nothing.
const DEFAULT_ACK_WINDOW_SECS: i64 = 15 * 60;
/// The longest an acknowledge link lives.
const MAX_ACK_WINDOW_SECS: i64 = 24 * 60 * 60;
/// Payload text is cut to this many characters (a push carries at most 4 KiB).
const MAX_BODY_CHARS: usize = 600;

type HmacSha256 = Hmac<Sha256>;

/// The hub's VAPID key pair and the acknowledge-link key derived from it.
#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    public: String,
    ack_key: [u8; 32],
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Vapid {
    /// From the private key as settings give it: base64url (padding tolerated) of the
    /// 32-byte P-256 scalar.
    pub fn from_base64(private: &str) -> Result<Vapid, String> {
        crate::config::parse_vapid_key(private).map(Vapid::from_key)
    }

    fn from_key(key: SigningKey) -> Vapid {
        let point = key.verifying_key().to_encoded_point(false);
        let public = B64.encode(point.as_bytes());
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key.to_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"muster push acknowledge links v1");
        let ack_key = mac.finalize().into_bytes().into();
        Vapid {
            key,
            public,
            ack_key,
        }
    }

    /// A new random key pair.
    pub fn generate() -> Vapid {
        loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Vapid::from_key(key);
            }
        }
    }

    /// The private key as [`Vapid::from_base64`] reads it.
    pub fn private_base64(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    /// The configured key, else the one kept in `<data_dir>/vapid-private-key`, else a
    /// new one written there (mode 0600) for the next start.
    pub fn load(settings: &PushSettings, data_dir: &Path) -> Result<Vapid, String> {
        if !settings.vapid_private_key.is_empty() {
            return Vapid::from_base64(&settings.vapid_private_key)
                .map_err(|e| format!("push.vapid_private_key {e}"));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return Vapid::from_base64(&text).map_err(|e| format!("{}: {e}", path.display()));
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("reading {}: {e}", path.display()));
            }
            Err(_) => {}
        }
        let vapid = Vapid::generate();
        write_private(&path, &vapid.private_base64())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        tracing::info!(file = %path.display(), "generated a VAPID key for Web Push");
        Ok(vapid)
    }

    /// The public key: base64url (unpadded) of the 65-byte uncompressed point, as the
    /// browser's `applicationServerKey` takes it.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// A signed ES256 JWT with these claims.
    pub fn jwt(&self, audience: &str, subject: &str, expires: i64) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = B64.encode(
            json!({"aud": audience, "exp": expires, "sub": subject})
                .to_string()
                .as_bytes(),
        );
        let input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    /// `Authorization: vapid t=<jwt>, k=<public key>` for a push to `endpoint`.
    pub fn authorization(&self, endpoint: &Url, contact: &str, now: DateTime<Utc>) -> String {
        let audience = endpoint.origin().ascii_serialization();
        let jwt = self.jwt(&audience, contact, now.timestamp() + JWT_LIFETIME_SECS);
        format!("vapid t={jwt}, k={}", self.public)
    }

    fn ack_mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.ack_key).expect("any key length");
        mac.update(payload);
        mac
    }

    /// An opaque token that acknowledges `assignment_id` until `expires_at`.
    pub fn ack_token(&self, assignment_id: &AssignmentId, expires_at: DateTime<Utc>) -> String {
        let mut payload = expires_at.timestamp().to_be_bytes().to_vec();
        payload.extend_from_slice(assignment_id.as_str().as_bytes());
        let tag = self.ack_mac(&payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(&payload), B64.encode(&tag[..16]))
    }

    /// The assignment a token acknowledges, if it is this hub's and still live.
    pub fn open_ack_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AssignmentId, AckRefusal> {
        if token.len() > 256 {
            return Err(AckRefusal::Unknown);
        }
        let (payload, tag) = token.split_once('.').ok_or(AckRefusal::Unknown)?;
        let payload = B64.decode(payload).map_err(|_| AckRefusal::Unknown)?;
        let tag = B64.decode(tag).map_err(|_| AckRefusal::Unknown)?;
        if payload.len() <= 8 || tag.len() != 16 {
            return Err(AckRefusal::Unknown);
        }
        self.ack_mac(&payload)
            .verify_truncated_left(&tag)
            .map_err(|_| AckRefusal::Unknown)?;
        let (expires, id) = payload.split_at(8);
        let expires = i64::from_be_bytes(expires.try_into().expect("8 bytes"));
        let id = std::str::from_utf8(id).map_err(|_| AckRefusal::Unknown)?;
        if now.timestamp() >= expires {
            return Err(AckRefusal::Expired);
        }
        Ok(AssignmentId(id.to_string()))
    }
}

/// Why an acknowledge link does not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckRefusal {
    /// Not a token this hub (or its cluster's key) issued: forged or garbled.
    Unknown,
    /// Issued, but the escalation window it was for has passed.
    Expired,
}

/// Writes the private key readable by this user only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}

/// One push to send to every browser of one user.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub user_id: UserId,
    /// The JSON the service worker gets (PROTOCOL.md, "Web Push").
    pub payload: Value,
    /// RFC 8030 `Topic`: a later push with the same topic replaces an undelivered one.
    pub topic: String,
    pub urgency: &'static str,
    /// Seconds the push service may hold it for an offline phone.
    pub ttl: u64,
    /// What it is about, so each attempt is recorded against it.
    pub about: About,
}

/// What a push is about: an assignment at a rung (0: its creation), or a message.
#[derive(Clone, Debug, PartialEq)]
pub enum About {
    Assignment(AssignmentId, u32),
    Message(MessageId),
}

/// The sender: the key, the settings and where acknowledge links point.
#[derive(Clone, Debug)]
pub struct Pusher {
    pub vapid: Arc<Vapid>,
    pub contact: String,
    pub allow_http: bool,
    /// `push.allowed_hosts`: the push services endpoints may be on.
    pub allowed_hosts: Vec<String>,
    pub timeout: Duration,
    /// `https://muster.example.org`, no trailing slash.
    pub public_url: String,
    /// The first retry's wait without `Retry-After` (doubled each time).
    pub backoff: Duration,
}

/// What one POST to a push service came to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Accepted(u16),
    Gone(u16),
    /// `429`/`5xx`, with the `Retry-After` asked for.
    Busy(u16, Option<Duration>),
    Refused(u16),
    Failed(String),
}

impl Pusher {
    pub fn new(vapid: Vapid, settings: &PushSettings, public_url: &str) -> Pusher {
        Pusher {
            vapid: Arc::new(vapid),
            contact: settings.contact.clone(),
            allow_http: settings.allow_http,
            allowed_hosts: settings.allowed_hosts.clone(),
            timeout: Duration::from_millis(settings.timeout_ms),
            public_url: public_url.trim_end_matches('/').to_string(),
            backoff: Duration::from_secs(1),
        }
    }

    /// The endpoint, if the hub may post to it: `https://` on a host of
    /// `push.allowed_hosts`, or anything on loopback when `push.allow_http` is on
    /// (tests). Checked when a phone subscribes and again before every push.
    pub fn endpoint(&self, endpoint: &str) -> Result<Url, String> {
        let url = outbound::parse_url(endpoint).map_err(|e| format!("bad push endpoint: {e}"))?;
        let host = url.host_str().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
        if self.allow_http && loopback {
            return Ok(url);
        }
        if url.scheme() != "https" {
            return Err(format!(
                "refused an http:// push endpoint at {} (only https://; push.allow_http allows loopback for tests)",
                outbound::host_of(&url)
            ));
        }
        let known = self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            let host = host.to_ascii_lowercase();
            host == allowed || host.ends_with(&format!(".{allowed}"))
        });
        if known {
            Ok(url)
        } else {
            Err(format!(
                "{} is not a push service this hub posts to (push.allowed_hosts)",
                outbound::host_of(&url)
            ))
        }
    }

    /// One POST of an already encrypted body.
    async fn post(&self, url: &Url, body: &[u8], job: &Job) -> Answer {
        let host = || outbound::host_of(url);
        let client = match outbound::client() {
            Ok(c) => c,
            Err(e) => return Answer::Failed(e.to_string()),
        };
        let sent = client
            .post(url.clone())
            .timeout(self.timeout)
            .header(
                reqwest::header::AUTHORIZATION,
                self.vapid.authorization(url, &self.contact, Utc::now()),
            )
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header("TTL", job.ttl.to_string())
            .header("Urgency", job.urgency)
            .header("Topic", job.topic.as_str())
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Answer::Failed(format!(
                    "no answer from {} within {} ms",
                    host(),
                    self.timeout.as_millis()
                ));
            }
            Err(e) => {
                return Answer::Failed(format!(
                    "talking to {}: {}",
                    host(),
                    outbound::describe(&e)
                ));
            }
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match code {
            200..=299 => Answer::Accepted(code),
            404 | 410 => Answer::Gone(code),
            429 | 500..=599 => Answer::Busy(code, retry_after),
            _ => Answer::Refused(code),
        }
    }

    /// Sends `job` to one subscription, retrying what may be retried; each attempt's
    /// outcome goes to `record` (`Ok(status)` or `Err(error)`). Returns whether the
    /// push service said the subscription is gone.
    pub async fn deliver<F, Fut>(&self, sub: &PushSubscription, job: &Job, mut record: F) -> bool
    where
        F: FnMut(u32, Result<String, String>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let url = match self.endpoint(&sub.endpoint) {
            Ok(u) => u,
            Err(e) => {
                record(0, Err(e)).await;
                return false;
            }
        };
        let body = match encrypt(&job.payload.to_string(), sub) {
            Ok(b) => b,
            Err(e) => {
                record(0, Err(e)).await;
                return false;
            }
        };
        let host = outbound::host_of(&url);
        for attempt in 0..=MAX_RETRIES {
            match self.post(&url, &body, job).await {
                Answer::Accepted(code) => {
                    record(attempt, Ok(format!("HTTP {code}"))).await;
                    return false;
                }
                Answer::Gone(code) => {
                    let e = format!(
                        "the push service at {host} answered HTTP {code}: the subscription is gone and was removed"
                    );
                    record(attempt, Err(e)).await;
                    return true;
                }
                Answer::Busy(code, retry_after) if attempt < MAX_RETRIES => {
                    let wait = retry_after
                        .unwrap_or(self.backoff * 2u32.pow(attempt))
                        .min(MAX_RETRY_WAIT);
                    let e = format!(
                        "the push service at {host} answered HTTP {code}; retrying in {} s",
                        wait.as_secs_f64()
                    );
                    record(attempt, Err(e)).await;
                    tokio::time::sleep(wait).await;
                }
                Answer::Busy(code, _) | Answer::Refused(code) => {
                    let e = format!("the push service at {host} answered HTTP {code}");
                    record(attempt, Err(e)).await;
                    return false;
                }
                Answer::Failed(e) => {
                    record(attempt, Err(e)).await;
                    return false;
                }
            }
        }
        false
    }

    /// What a record asks to push, judged on the state after it.
    pub fn jobs(
        &self,
        state: &State,
        centre: &muster_core::domain::procedure::Centre,
        rec: &Record,
    ) -> Vec<Job> {
        match &rec.event {
            Event::AssignmentCreated { assignment } => self
                .assignment_job(state, centre, &assignment.id, 0)
                .into_iter()
                .collect(),
            Event::AssignmentEscalated {
                assignment_id,
                level,
                action: EscalationAction::Renotify | EscalationAction::Push,
                ..
            } => self
                .assignment_job(state, centre, assignment_id, *level)
                .into_iter()
                .collect(),
            Event::MessageBroadcast { message } => {
                let direct = matches!(message.audience, Audience::User(_));
                if !message.requires_ack && !direct {
                    return Vec::new();
                }
                let from = state
                    .users
                    .get(&rec.actor)
                    .map_or("Control", |u| u.name.as_str());
                let title = if direct {
                    format!("Message from {from}")
                } else {
                    format!("Please acknowledge: message from {from}")
                };
                let mut recipients = message.recipients.clone();
                if let Audience::User(u) = &message.audience
                    && !recipients.contains(u)
                {
                    recipients.push(u.clone());
                }
                recipients
                    .into_iter()
                    .filter(|u| u != &rec.actor)
                    .map(|user_id| Job {
                        user_id,
                        payload: json!({
                            "kind": "message",
                            "title": title,
                            "body": cut(&message.text),
                            "tag": message.id,
                            "url": "/field",
                            "message_id": message.id,
                        }),
                        topic: topic(message.id.as_str()),
                        urgency: if message.requires_ack {
                            "high"
                        } else {
                            "normal"
                        },
                        ttl: 60 * 60,
                        about: About::Message(message.id.clone()),
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The push for an assignment (level 0: its creation; else the rung), to the user
    /// who carries its resource, with an acknowledge link while it waits.
    fn assignment_job(
        &self,
        state: &State,
        centre: &muster_core::domain::procedure::Centre,
        assignment_id: &AssignmentId,
        level: u32,
    ) -> Option<Job> {
        let a = state.assignments.get(assignment_id)?;
        let user_id = state.resources.get(&a.resource_id)?.user_id.clone()?;
        let i = state.incidents.get(&a.incident_id)?;
        let type_name = centre
            .incident_type(&i.incident_type)
            .map_or(i.incident_type.as_str(), |t| t.name.as_str());
        let priority = i.priority.map(|p| p.as_str());
        let place = i.location.text.clone().unwrap_or_default();
        let title = match (level, priority) {
            (0, Some(p)) => format!("{p} {type_name}"),
            (0, None) => type_name.to_string(),
            (_, Some(p)) => format!("Still waiting: {p} {type_name}"),
            (_, None) => format!("Still waiting: {type_name}"),
        };
        let body = match place.as_str() {
            "" => cut(&a.responsibilities),
            place => cut(&format!("{place}. {}", a.responsibilities)),
        };
        let expires_at = ack_expiry(state, centre, a);
        let mut payload = json!({
            "kind": if level == 0 { "assignment" } else { "escalation" },
            "title": title,
            "body": body,
            "tag": a.id,
            "url": "/field",
            "assignment_id": a.id,
            "incident_id": i.id,
            "reference": i.reference,
            "incident_type": i.incident_type,
            "priority": priority,
            "place": place,
        });
        if level > 0 {
            payload["level"] = json!(level);
        }
        if a.status == muster_core::domain::assignment::AssignmentStatus::Notified {
            let token = self.vapid.ack_token(&a.id, expires_at);
            payload["ack_url"] = json!(format!("{}/api/push/ack/{token}", self.public_url));
            payload["ack_expires_at"] = json!(muster_core::time::rfc3339(expires_at));
        }
        let ttl = (expires_at - Utc::now())
            .num_seconds()
            .clamp(60, MAX_ACK_WINDOW_SECS);
        Some(Job {
            user_id,
            payload,
            topic: topic(a.id.as_str()),
            urgency: "high",
            ttl: ttl as u64,
            about: About::Assignment(a.id.clone(), level),
        })
    }
}

/// When an assignment's acknowledge link stops working: when its escalation ladder's
/// last rung falls due (the escalation window), else 15 minutes after notification.
pub fn ack_expiry(
    state: &State,
    centre: &muster_core::domain::procedure::Centre,
    a: &muster_core::domain::assignment::Assignment,
) -> DateTime<Utc> {
    let window = state
        .incidents
        .get(&a.incident_id)
        .and_then(|i| {
            let priority = timers::effective_priority(centre, i)?;
            centre.escalation_for(&i.incident_type, priority)
        })
        .and_then(|p| p.steps.iter().map(|s| s.after_secs).max())
        .map_or(DEFAULT_ACK_WINDOW_SECS, |s| {
            i64::try_from(s).unwrap_or(MAX_ACK_WINDOW_SECS)
        })
        .clamp(60, MAX_ACK_WINDOW_SECS);
    a.notified_at + chrono::Duration::seconds(window)
}

/// RFC 8291 aes128gcm for the subscription's keys.
fn encrypt(plain: &str, sub: &PushSubscription) -> Result<Vec<u8>, String> {
    let bad = || "the subscription's keys are unusable".to_string();
    let p256dh = push::decode(&sub.keys.p256dh).ok_or_else(bad)?;
    let auth = push::decode(&sub.keys.auth).ok_or_else(bad)?;
    if auth.len() != 16 {
        return Err(bad());
    }
    let public = web_push_native::p256::PublicKey::from_sec1_bytes(&p256dh).map_err(|_| bad())?;
    let auth = web_push_native::Auth::clone_from_slice(&auth);
    web_push_native::encrypt(plain.as_bytes().to_vec(), &public, &auth)
        .map_err(|e| format!("encrypting the push: {e}"))
}

/// An RFC 8030 topic: at most 32 characters of the URL-safe base64 alphabet.
fn topic(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(32)
        .collect()
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_BODY_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_BODY_CHARS - 1).collect();
    out.push('…');
    out
}

/// A short, stable tag of an endpoint for command ids (never the endpoint itself).
pub fn endpoint_tag(endpoint: &str) -> String {
    let mut tag = hex::encode(Sha256::digest(endpoint.as_bytes()));
    tag.truncate(12);
    tag
}

/// The tag recorded in `push.subscribed` for a session (from its token's hash; the
/// token cannot be had back from it).
pub fn session_tag(token_hash: &str) -> String {
    let mut tag = hex::encode(Sha256::digest(
        format!("push session {token_hash}").as_bytes(),
    ));
    tag.truncate(16);
    tag
}

/// Follows the hub's durable events and pushes each job to every subscription of its
/// user, each delivery in its own task.
pub fn spawn(hub: Hub, pusher: Pusher) -> tokio::task::JoinHandle<()> {
    let pusher = Arc::new(pusher);
    let exercise = crate::hub::exercise::outbound(&hub);
    super::follow(hub.clone(), "push sender", move |records| {
        for rec in records.iter() {
            // An exercise's pushes are not sent, or are sent marked.
            if exercise == Some(ExerciseOutbound::Suppress) {
                continue;
            }
            let mut jobs = hub.with_state(|s| pusher.jobs(s, &hub.engine.centre, rec));
            if exercise == Some(ExerciseOutbound::Mark) {
                jobs.iter_mut().for_each(mark);
            }
            for job in jobs {
                let subs = hub.with_state(|s| {
                    s.push_subscriptions
                        .get(&job.user_id)
                        .cloned()
                        .unwrap_or_default()
                });
                for sub in subs {
                    let (hub, pusher, job) = (hub.clone(), pusher.clone(), job.clone());
                    tokio::spawn(async move {
                        deliver(&hub, &pusher, &sub, &job, rec_seq(&job)).await;
                    });
                }
            }
        }
    })
}

/// An exercise's push: its title starts with `EXERCISE: `.
pub fn mark(job: &mut Job) {
    let title = job.payload["title"].as_str().unwrap_or_default();
    job.payload["title"] = json!(format!("{}{title}", crate::hub::exercise::MARK));
}

fn rec_seq(job: &Job) -> String {
    match &job.about {
        About::Assignment(a, level) => format!("{a}:{level}"),
        About::Message(m) => m.to_string(),
    }
}

/// One job to one subscription: each attempt recorded, a gone subscription removed.
pub async fn deliver(hub: &Hub, pusher: &Pusher, sub: &PushSubscription, job: &Job, key: String) {
    let tag = endpoint_tag(&sub.endpoint);
    let gone = pusher
        .deliver(sub, job, |attempt, outcome| {
            let hub = hub.clone();
            let about = job.about.clone();
            let id = format!("push:{key}:{tag}:{attempt}");
            async move {
                let (assignment_id, message_id, level) = match about {
                    About::Assignment(a, level) => (Some(a), None, level),
                    About::Message(m) => (None, Some(m), 0),
                };
                let (status, error) = match outcome {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e)),
                };
                let command = Command::NotificationRecord(cmd::NotificationRecord {
                    assignment_id,
                    case_id: None,
                    message_id,
                    channel: "push".to_string(),
                    level,
                    // Each attempt is recorded as it ends: this is its number.
                    attempts: Some(attempt),
                    error,
                    status,
                });
                if let Err(e) = hub.submit(Actor::system(), Some(id), command).await {
                    tracing::warn!(error = %e, "recording a push attempt failed");
                }
            }
        })
        .await;
    if gone {
        let command = Command::PushUnsubscribe(cmd::PushUnsubscribe {
            endpoint: sub.endpoint.clone(),
            user_id: Some(job.user_id.clone()),
            reason: Some(UnsubscribeReason::Gone),
        });
        if let Err(e) = hub.submit(Actor::system(), None, command).await
            && e.code() != muster_core::engine::Code::NotFound
        {
            tracing::warn!(user = %job.user_id, error = %e, "removing a gone subscription failed");
        }
    }
}

/// Removes the subscriptions a session made (on log-out), as the hub.
pub async fn forget_session(hub: &Hub, user_id: &UserId, token_hash: &str) {
    let tag = session_tag(token_hash);
    let endpoints: Vec<String> = hub.with_state(|s| {
        s.push_subscriptions
            .get(user_id)
            .into_iter()
            .flatten()
            .filter(|sub| sub.session.as_deref() == Some(tag.as_str()))
            .map(|sub| sub.endpoint.clone())
            .collect()
    });
    for endpoint in endpoints {
        let command = Command::PushUnsubscribe(cmd::PushUnsubscribe {
            endpoint,
            user_id: Some(user_id.clone()),
            reason: Some(UnsubscribeReason::LoggedOut),
        });
        if let Err(e) = hub.submit(Actor::system(), None, command).await
            && e.code() != muster_core::engine::Code::NotFound
        {
            tracing::warn!(user = %user_id, error = %e, "removing a logged-out subscription failed");
        }
    }
}

/// Where the key file is for a data dir (for docs and tests).
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn an_ack_token_opens_for_its_assignment_until_it_expires() {
        let v = Vapid::generate();
        let asg = AssignmentId("asg_42".into());
        let token = v.ack_token(&asg, at(120));
        assert!(!token.contains("asg_42"), "opaque: {token}");
        assert_eq!(v.open_ack_token(&token, at(0)), Ok(asg.clone()));
        assert_eq!(v.open_ack_token(&token, at(119)), Ok(asg.clone()));
        assert_eq!(v.open_ack_token(&token, at(120)), Err(AckRefusal::Expired));
        // Another hub with the same key accepts it; another key does not.
        let same = Vapid::from_base64(&v.private_base64()).unwrap();
        assert_eq!(same.open_ack_token(&token, at(0)), Ok(asg));
        let other = Vapid::generate();
        assert_eq!(
            other.open_ack_token(&token, at(0)),
            Err(AckRefusal::Unknown)
        );
    }

    #[test]
    fn a_tampered_or_garbled_token_is_unknown() {
        let v = Vapid::generate();
        let token = v.ack_token(&AssignmentId("asg_1".into()), at(600));
        let (payload, tag) = token.split_once('.').unwrap();
        // Another assignment (or a later expiry) under the same tag.
        let mut bytes = B64.decode(payload).unwrap();
        *bytes.last_mut().unwrap() = b'2';
        let forged = format!("{}.{tag}", B64.encode(&bytes));
        assert_eq!(v.open_ack_token(&forged, at(0)), Err(AckRefusal::Unknown));
        let mut later = B64.decode(payload).unwrap();
        later[7] = later[7].wrapping_add(1);
        let forged = format!("{}.{tag}", B64.encode(&later));
        assert_eq!(v.open_ack_token(&forged, at(0)), Err(AckRefusal::Unknown));
        let mut flipped = tag.to_string().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{payload}.{}", String::from_utf8(flipped).unwrap());
        assert_eq!(v.open_ack_token(&forged, at(0)), Err(AckRefusal::Unknown));
        for garbage in [
            "",
            ".",
            "abc",
            "abc.def",
            &"x".repeat(300),
            &format!("{payload}."),
        ] {
            assert_eq!(
                v.open_ack_token(garbage, at(0)),
                Err(AckRefusal::Unknown),
                "{garbage}"
            );
        }
    }

    #[test]
    fn the_vapid_jwt_is_es256_with_the_push_service_origin_expiry_and_contact() {
        let v = Vapid::generate();
        let url = Url::parse("https://push.example:8443/send/abc?x=1").unwrap();
        let now = Utc::now();
        let header = v.authorization(&url, "mailto:ops@example.org", now);
        let (t, k) = header
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(k, v.public_key());
        let public = B64.decode(k).unwrap();
        assert_eq!((public.len(), public[0]), (65, 0x04));
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let head: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(head, json!({"typ": "JWT", "alg": "ES256"}));
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.org");
        let exp = claims["exp"].as_i64().unwrap();
        assert!(
            exp > now.timestamp() && exp <= now.timestamp() + 24 * 3600,
            "{exp}"
        );
        let key = VerifyingKey::from_sec1_bytes(&public).unwrap();
        let sig = Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        key.verify(signed.as_bytes(), &sig).unwrap();
        assert!(key.verify(b"something else", &sig).is_err());
    }

    #[test]
    fn keys_are_read_generated_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let settings = PushSettings::default();
        let first = Vapid::load(&settings, dir.path()).unwrap();
        let again = Vapid::load(&settings, dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = PushSettings {
            vapid_private_key: first.private_base64(),
            ..PushSettings::default()
        };
        let other_dir = tempfile::tempdir().unwrap();
        let from_settings = Vapid::load(&configured, other_dir.path()).unwrap();
        assert_eq!(from_settings.public_key(), first.public_key());
        assert!(!key_path(other_dir.path()).exists());
        for bad in [
            "",
            "not base64!",
            "AAAA",
            &B64.encode([0u8; 32]),
            &B64.encode([0xffu8; 32]),
        ] {
            assert!(Vapid::from_base64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_endpoints_only_on_loopback_and_only_when_allowed() {
        let mut p = Pusher::new(
            Vapid::generate(),
            &PushSettings::default(),
            "http://127.0.0.1:8080/",
        );
        assert_eq!(p.public_url, "http://127.0.0.1:8080");
        assert!(p.endpoint("https://fcm.googleapis.com/fcm/send/a").is_ok());
        assert!(p.endpoint("https://web.push.apple.com/a").is_ok());
        assert!(p.endpoint("http://127.0.0.1:9/a").is_err());
        p.allow_http = true;
        for ok in [
            "http://127.0.0.1:9/a",
            "http://localhost:9/a",
            "http://[::1]:9/a",
        ] {
            assert!(p.endpoint(ok).is_ok(), "{ok}");
        }
        let e = p.endpoint("http://10.0.0.1:9/secret-path").unwrap_err();
        assert!(e.contains("10.0.0.1:9") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn https_endpoints_only_on_the_allowed_push_services() {
        let p = Pusher::new(Vapid::generate(), &PushSettings::default(), "http://h");
        // An internal service, a look-alike and a suffix that is not a parent domain.
        for refused in [
            "https://10.0.0.1/admin",
            "https://127.0.0.1:6443/api",
            "https://fcm.googleapis.com.evil.example/x",
            "https://evilpush.apple.com/x",
        ] {
            let e = p.endpoint(refused).unwrap_err();
            assert!(e.contains("push.allowed_hosts"), "{refused}: {e}");
        }
        assert!(p.endpoint("https://FCM.googleapis.com/fcm/send/a").is_ok());
    }
}
