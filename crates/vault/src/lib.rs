//! # muster-vault
//!
//! Personal data in the log, encrypted per subject (crypto-shredding). The
//! classification table (`muster_core::privacy::classify`) says which values of an
//! event are personal and under which scope; [`Vault::encode`] removes them from the
//! clear body and seals them, one `"sealed"` entry per scope:
//!
//! ```json
//! {"kind": "contact.received", "contact": {...}, "sealed": [{"scope": "contact:con_84/caller_details",
//!   "fields": ["/contact/caller/name", ...], "data": "<base64 of 0x01 || nonce || ciphertext>"}]}
//! ```
//!
//! The ciphertext is of the JSON array of the values in the order of `fields` (logs
//! written before sealed the object `{pointer: value}`; they are still read),
//! AES-256-GCM under the scope's data key with the scope as associated data (what
//! earlier versions sealed with XChaCha20-Poly1305 still opens: [`crypto`]). The body
//! is split from its personal values in one pass of serde (`split`).
//! Coordinates kept `Coarse` stay in clear rounded to `privacy.location_decimals`. The
//! hash chain covers the sealed body, so erasing a key changes no stored byte of any
//! event.
//!
//! Data keys (32 random bytes per scope) are wrapped by the master key and kept by the
//! log's store beside the chain ([`EventLog::append_with_keys`]), written with the batch
//! that first uses them. They are unwrapped lazily, on first use, so start-up reads
//! the wrapped keys and nothing more. [`Vault::decode`] opens a stored event; where a
//! scope's key is gone (erased) the sealed values read `"[erased]"` (strings) or `null`.
//!
//! A check value (a key wrapped under the reserved scope [`CHECK_SCOPE`]) is kept with
//! the data keys, so a wrong master key is found at start, not at the first read.

pub mod crypto;
pub mod master;
mod split;

use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use muster_core::engine::{EventKind, Record};
use muster_core::privacy::classify::{self, ERASED, Erased, Keep};
use muster_log::{EventLog, ScopeNames, StoreError, StoredEvent, WrappedKey, scope_fingerprint};

pub use crypto::Cipher;
pub use master::MasterKey;

/// The vault's maps of scopes: foldhash, not SipHash (the writer looks up several per
/// sealed event). Its seed is random per map, and scopes are made of the hub's own
/// record ids and categories.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The vault's maps are keyed by the scope's fingerprint ([`scope_fingerprint`]).
type Fingerprint = u128;

/// Data keys by the fingerprint of their scope.
type Keys = HashMap<Fingerprint, Arc<DataKey>>;

/// The reserved scope of the master key's check value.
pub const CHECK_SCOPE: &str = "master:check";

/// The environment variable that names the master key file.
pub const MASTER_KEY_VARIABLE: &str = "MUSTER_MASTER_KEY_FILE";

/// The default `privacy.location_decimals`: about 100 m.
pub const DEFAULT_LOCATION_DECIMALS: u32 = 3;

/// Why the vault could not do something.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key file {path}: {reason}")]
    MasterKeyFile { path: String, reason: String },
    #[error(
        "the master key does not open this log's data keys: {MASTER_KEY_VARIABLE} (privacy.master_key_file) must name the key this log was written with"
    )]
    WrongMasterKey,
    #[error("data key {0} cannot be unwrapped: the key store is damaged")]
    BadKey(String),
    #[error("event {seq}: sealed data of {scope} does not open: the event or its key was changed")]
    BadSeal { seq: u64, scope: String },
    #[error("event {seq} cannot be read: {reason}")]
    Unreadable { seq: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<VaultError> for StoreError {
    fn from(e: VaultError) -> StoreError {
        match e {
            VaultError::Store(e) => e,
            e @ (VaultError::BadSeal { .. }
            | VaultError::Unreadable { .. }
            | VaultError::BadKey(_)) => StoreError::Corrupt(e.to_string()),
            e => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// One data key: its wrapped form, unwrapped on first use. The key is kept rather
/// than a cipher under it: a cipher's key schedules take about 1.5 KB, and a centre
/// holds a key for every caller, incident and member of staff it still has data of.
struct DataKey {
    scope: Box<str>,
    /// As the store keeps it, for a key read from there (unwrapped on first use);
    /// empty for a key this vault made.
    wrapped: Vec<u8>,
    key: OnceLock<Zeroizing<[u8; crypto::KEY_LEN]>>,
}

impl DataKey {
    /// A cipher under the key (unwrapped by [`Vault::key`] or made by the writer).
    fn cipher(&self) -> Cipher {
        let key = self.key.get().expect("a data key is unwrapped before use");
        Cipher::new(&key[..]).expect("a data key has the cipher's key length")
    }
}

/// The keys a batch made: the wrapped form for the store, and the keys themselves for
/// [`Vault::commit`] once the batch is durable.
#[derive(Default)]
pub struct NewKeys {
    pub wrapped: Vec<WrappedKey>,
    keys: Vec<(Fingerprint, Arc<DataKey>)>,
}

impl NewKeys {
    pub fn is_empty(&self) -> bool {
        self.wrapped.is_empty()
    }
}

/// An event with personal data, sealed: its body as stored, and the event in clear
/// (its JSON as serde writes it: what clients get).
pub struct Sealed {
    pub stored: String,
    pub clear: String,
}

/// The master key and the data keys of one log.
pub struct Vault {
    master: Cipher,
    keys: RwLock<Keys>,
    /// Keys made by a batch that is being appended, not yet durable: the writer seals
    /// the next batch while this one is written, and must use (not remake) them.
    pending: RwLock<Keys>,
    /// False for `--plain` (benchmarks): nothing is sealed, sealed events still open.
    seal: bool,
    decimals: u32,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("seal", &self.seal)
            .field("decimals", &self.decimals)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault with no data keys (a new log, or a tool that only writes).
    pub fn new(master: &MasterKey, decimals: u32) -> Vault {
        Vault {
            master: master.cipher(),
            keys: RwLock::new(HashMap::default()),
            pending: RwLock::new(HashMap::default()),
            seal: true,
            decimals,
        }
    }

    /// Seals nothing from now on (`muster bench --plain`); sealed events still open.
    pub fn plain(mut self) -> Vault {
        self.seal = false;
        self
    }

    /// True unless [`plain`](Self::plain).
    pub fn seals(&self) -> bool {
        self.seal
    }

    /// The vault of `log`: its wrapped data keys (not unwrapped yet), after checking
    /// that `master` is the key they were wrapped with. A log with no check value yet
    /// is given one (a read-only log is only checked).
    pub async fn load(
        log: &dyn EventLog,
        master: &MasterKey,
        decimals: u32,
    ) -> Result<Vault, VaultError> {
        let vault = Vault::new(master, decimals);
        let wrapped = log.load_keys().await?;
        let check = wrapped.iter().find(|k| k.scope == CHECK_SCOPE);
        match check {
            Some(c) => {
                vault
                    .unwrap(&c.scope, &c.wrapped)
                    .map_err(|_| VaultError::WrongMasterKey)?;
            }
            None => {
                if let Some(first) = wrapped.first() {
                    vault
                        .unwrap(&first.scope, &first.wrapped)
                        .map_err(|_| VaultError::WrongMasterKey)?;
                }
                let check = vault.wrap(CHECK_SCOPE, &crypto::random_key()[..]);
                if let Err(e) = log.rewrap_keys(&[check]).await {
                    tracing::debug!(error = %e, "the master key's check value was not stored");
                }
            }
        }
        vault.insert_wrapped(wrapped);
        Ok(vault)
    }

    fn insert_wrapped(&self, wrapped: Vec<WrappedKey>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for k in wrapped {
            if k.scope == CHECK_SCOPE {
                continue;
            }
            keys.entry(scope_fingerprint(&k.scope)).or_insert_with(|| {
                Arc::new(DataKey {
                    scope: k.scope.into(),
                    wrapped: k.wrapped,
                    key: OnceLock::new(),
                })
            });
        }
    }

    /// Reads keys other hubs added to a shared log's store (after a conflict, or
    /// before opening events from another hub).
    pub async fn refresh(&self, log: &dyn EventLog) -> Result<(), StoreError> {
        let wrapped = log.load_keys().await?;
        self.insert_wrapped(wrapped);
        Ok(())
    }

    /// True when some event of `events` is sealed under a scope whose key is not held
    /// (another hub made it, or it was erased): worth a [`refresh`](Self::refresh).
    pub fn lacks_keys(&self, events: &[StoredEvent]) -> bool {
        events
            .iter()
            .filter(|e| e.body.contains("\"sealed\":["))
            .filter_map(|e| serde_json::from_str::<Value>(&e.body).ok())
            .any(|body| {
                body["sealed"].as_array().is_some_and(|entries| {
                    entries
                        .iter()
                        .filter_map(|entry| entry["scope"].as_str())
                        .any(|scope| !self.holds(scope))
                })
            })
    }

    /// How many data keys are held.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the key of `scope` is held.
    pub fn holds(&self, scope: &str) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&scope_fingerprint(scope))
    }

    fn wrap(&self, scope: &str, key: &[u8]) -> WrappedKey {
        WrappedKey {
            scope: scope.to_string(),
            wrapped: self.master.seal(scope.as_bytes(), key),
        }
    }

    fn unwrap(
        &self,
        scope: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; crypto::KEY_LEN]>, VaultError> {
        self.master
            .open(scope.as_bytes(), wrapped)
            .and_then(|key| <[u8; crypto::KEY_LEN]>::try_from(&key[..]).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| VaultError::BadKey(scope.to_string()))
    }

    /// The key of `scope`, unwrapping it on first use; `None` when it is not held.
    fn key(&self, scope: &str) -> Result<Option<Arc<DataKey>>, VaultError> {
        self.key_by(scope_fingerprint(scope), scope)
    }

    /// [`key`](Self::key), the fingerprint of `scope` made already.
    fn key_by(&self, print: Fingerprint, scope: &str) -> Result<Option<Arc<DataKey>>, VaultError> {
        let Some(k) = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&print)
            .cloned()
        else {
            return Ok(None);
        };
        if k.key.get().is_none() {
            let _ = k.key.set(self.unwrap(scope, &k.wrapped)?);
        }
        Ok(Some(k))
    }

    /// The key of `scope` for sealing: made earlier in this batch, pending with the
    /// batch being appended, held, or new. Pending before held: [`commit`] moves a
    /// key from one to the other under both locks, so looking in this order cannot
    /// miss it (and make a second key for the scope) while it moves.
    ///
    /// [`commit`]: Self::commit
    fn key_for_sealing(&self, scope: &str, new: &mut NewKeys) -> Result<Arc<DataKey>, VaultError> {
        let print = scope_fingerprint(scope);
        if let Some((_, k)) = new.keys.iter().find(|(p, _)| *p == print) {
            return Ok(k.clone());
        }
        let pending = self.read_pending().get(&print).cloned();
        if let Some(k) = pending {
            return Ok(k);
        }
        if let Some(k) = self.key_by(print, scope)? {
            return Ok(k);
        }
        Ok(self.make_key(scope, print, new))
    }

    /// A new data key for `scope` (fingerprint `print`), added to `new`.
    fn make_key(&self, scope: &str, print: Fingerprint, new: &mut NewKeys) -> Arc<DataKey> {
        let raw = crypto::random_key();
        let wrapped = self.wrap(scope, &raw[..]);
        let key = Arc::new(DataKey {
            scope: scope.into(),
            wrapped: Vec::new(),
            key: OnceLock::from(raw),
        });
        new.wrapped.push(wrapped);
        new.keys.push((print, key.clone()));
        key
    }

    /// Holds the keys a batch made, once the batch (and so they) are durable.
    pub fn commit(&self, new: NewKeys) {
        if new.keys.is_empty() {
            return;
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        for (print, key) in new.keys {
            pending.remove(&print);
            keys.insert(print, key);
        }
    }

    /// Lends the keys of a batch being appended to the sealing of the batches decided
    /// after it (which then do not write them again): they are durable with it.
    pub fn hold_pending(&self, new: &NewKeys) {
        if new.keys.is_empty() {
            return;
        }
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        for (print, key) in &new.keys {
            pending.insert(*print, key.clone());
        }
    }

    /// Drops every pending key: their batch failed or lost a race, and the writer
    /// refuses or decides again everything sealed with them.
    pub fn discard_pending(&self) {
        self.pending
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn read_pending(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.pending.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets keys: each entry an exact scope or a prefix ending in `/`. Returns the
    /// scopes forgotten. (Erasing from the store is [`Vault::erase`].)
    pub fn forget(&self, scopes: &[String]) -> Vec<String> {
        let named = ScopeNames::of(scopes);
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let mut gone = Vec::new();
        keys.retain(|_, k| {
            let keep = !named.name(&k.scope);
            if !keep {
                gone.push(k.scope.to_string());
            }
            keep
        });
        gone
    }

    /// Erases data keys for good, from the store and from memory: each entry is an
    /// exact scope, or a prefix ending in `/` erasing every scope under it. Returns
    /// what was erased. Every event sealed under them then reads `"[erased]"`/`null`
    /// there; the events themselves, and the hash chain, are unchanged.
    pub async fn erase(
        &self,
        log: &dyn EventLog,
        scopes: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let scopes: Vec<String> = scopes
            .iter()
            .filter(|s| s.as_str() != CHECK_SCOPE)
            .cloned()
            .collect();
        let mut erased = log.erase_keys(&scopes).await?;
        for s in self.forget(&scopes) {
            if !erased.contains(&s) {
                erased.push(s);
            }
        }
        erased.sort();
        Ok(erased)
    }

    /// The stored form of `records`, chained from `prev_hash`, with their personal
    /// data sealed; and the data keys first used by them, to be kept with the batch
    /// and then [`commit`](Self::commit)ted.
    pub fn encode(
        &self,
        records: &[Record],
        prev_hash: &str,
    ) -> Result<(Vec<StoredEvent>, NewKeys), VaultError> {
        let mut new = NewKeys::default();
        let mut stored: Vec<StoredEvent> = Vec::with_capacity(records.len());
        for r in records {
            let prev = stored.last().map_or(prev_hash, |e| e.hash.as_str());
            let e = self.encode_one(r, prev, &mut new)?;
            stored.push(e);
        }
        Ok((stored, new))
    }

    fn encode_one(
        &self,
        r: &Record,
        prev_hash: &str,
        new: &mut NewKeys,
    ) -> Result<StoredEvent, VaultError> {
        Ok(match self.seal(r, new)? {
            Some(sealed) => muster_log::record::encode_body(r, sealed.stored, prev_hash),
            None => muster_log::record::encode(r, prev_hash),
        })
    }

    /// The body of `r` with its personal data sealed (the keys it first uses added to
    /// `new`), and the event in clear; or `None` when its kind has none and it is
    /// stored as it serialises. One pass of serde writes the event and notes its
    /// personal values ([`split`]); each scope's are then sealed as the JSON list of
    /// its values, in the order of its `fields`.
    pub fn seal(&self, r: &Record, new: &mut NewKeys) -> Result<Option<Sealed>, VaultError> {
        let kind = r.event.kind();
        if !self.seal || classify::personal_rows(kind).is_empty() {
            return Ok(None);
        }
        let unreadable = |reason: String| VaultError::Unreadable { seq: r.seq, reason };
        let mut split = split::split(&r.event, kind, self.decimals).map_err(unreadable)?;
        let mut body = std::mem::take(&mut split.body);
        // A record numbered by this event's seq is new with it: its scopes have no key.
        let created = r.event.created_ref().map(|(_, id)| id);
        let created = created.filter(|id| numbered_at(id, r.seq));
        let scopes = split
            .scopes(kind, r.at, created)
            .map_err(|e| unreadable(e.to_string()))?;
        if !scopes.is_empty() {
            // The body is an object: `"sealed"` goes in before its closing brace.
            body.pop();
            body.extend_from_slice(b",\"sealed\":[");
            for (n, scope) in scopes.iter().enumerate() {
                if n > 0 {
                    body.push(b',');
                }
                self.write_entry(&mut body, scope, &split, new)?;
            }
            body.extend_from_slice(b"]}");
        }
        let text = |bytes| String::from_utf8(bytes).expect("serde_json writes UTF-8");
        Ok(Some(Sealed {
            stored: text(body),
            clear: text(std::mem::take(&mut split.full)),
        }))
    }

    /// Writes one sealed entry, `{"scope", "fields", "data"}`, to `out`.
    fn write_entry(
        &self,
        out: &mut Vec<u8>,
        scope: &split::Scope<'_>,
        split: &split::Split,
        new: &mut NewKeys,
    ) -> Result<(), VaultError> {
        let (leaves, scope_name) = (&scope.leaves, scope.name.as_str());
        let key = if scope.new {
            self.make_key(scope_name, scope_fingerprint(scope_name), new)
        } else {
            self.key_for_sealing(scope_name, new)?
        };
        // The values' JSON list, sealed where it is written.
        let mut data = Zeroizing::new(Vec::with_capacity(256));
        data.resize(crypto::HEADER_LEN, 0);
        data.push(b'[');
        for (n, leaf) in leaves.iter().enumerate() {
            if n > 0 {
                data.push(b',');
            }
            data.extend_from_slice(split.value(leaf));
        }
        data.push(b']');
        key.cipher().seal_in_place(scope_name.as_bytes(), &mut data);
        out.extend_from_slice(b"{\"scope\":");
        split::write_str(out, scope_name);
        out.extend_from_slice(b",\"fields\":[");
        for (n, leaf) in leaves.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            split::write_str(out, &leaf.pointer);
        }
        out.extend_from_slice(b"],\"data\":\"");
        let start = out.len();
        out.resize(
            start + base64::encoded_len(data.len(), true).unwrap_or(0),
            0,
        );
        let written = B64
            .encode_slice(&data[..], &mut out[start..])
            .expect("the buffer is sized for the base64");
        out.truncate(start + written);
        out.extend_from_slice(b"\"}");
        Ok(())
    }

    /// The body of `stored` with its sealed values put back (erased ones as
    /// `"[erased]"`/`null`): the event as it was decided. Unsealed bodies are returned
    /// as they are, without parsing.
    pub fn open_body<'a>(
        &self,
        stored: &'a StoredEvent,
    ) -> Result<std::borrow::Cow<'a, str>, VaultError> {
        // `"sealed":[` can only appear unescaped as a key: inside a JSON string its
        // quotes would be escaped.
        if !stored.body.contains("\"sealed\":[") {
            return Ok(std::borrow::Cow::Borrowed(&stored.body));
        }
        let unreadable = |reason: String| VaultError::Unreadable {
            seq: stored.seq,
            reason,
        };
        let mut body: Value =
            serde_json::from_str(&stored.body).map_err(|e| unreadable(e.to_string()))?;
        let Some(Value::Array(sealed)) = body.as_object_mut().and_then(|o| o.remove("sealed"))
        else {
            return Ok(std::borrow::Cow::Borrowed(&stored.body));
        };
        let kind = EventKind::from_name(&stored.kind);
        for entry in sealed {
            let scope = entry["scope"]
                .as_str()
                .ok_or_else(|| unreadable("a sealed entry has no scope".into()))?;
            match self.key(scope)? {
                Some(key) => {
                    let data = entry["data"]
                        .as_str()
                        .and_then(|d| B64.decode(d).ok())
                        .ok_or_else(|| {
                            unreadable(format!("sealed data of {scope} is not base64"))
                        })?;
                    let cipher = key.cipher();
                    let plain = cipher.open(scope.as_bytes(), &data).ok_or_else(|| {
                        VaultError::BadSeal {
                            seq: stored.seq,
                            scope: scope.to_string(),
                        }
                    })?;
                    let values: Value = serde_json::from_slice(&plain)
                        .map_err(|e| unreadable(format!("sealed data of {scope}: {e}")))?;
                    match values {
                        // Sealed from this version on: the values in the order of `fields`.
                        Value::Array(values) => {
                            let fields = entry["fields"].as_array().map(Vec::as_slice);
                            let pointers = fields.unwrap_or_default().iter().map(Value::as_str);
                            for (pointer, value) in pointers.zip(values) {
                                put(&mut body, pointer.unwrap_or_default(), value);
                            }
                        }
                        // Sealed before: `{pointer: value}`.
                        Value::Object(values) => {
                            for (pointer, value) in values {
                                put(&mut body, &pointer, value);
                            }
                        }
                        _ => {
                            return Err(unreadable(format!(
                                "sealed data of {scope} is not a list"
                            )));
                        }
                    }
                }
                None => {
                    let fields = entry["fields"].as_array().cloned().unwrap_or_default();
                    for pointer in fields.iter().filter_map(Value::as_str) {
                        let row = kind.and_then(|k| classify::personal_at(k, pointer));
                        match row {
                            Some(p) if p.keep == Keep::Coarse => {}
                            Some(p) if p.erased == Erased::Text => {
                                put(&mut body, pointer, Value::String(ERASED.into()))
                            }
                            _ => put(&mut body, pointer, Value::Null),
                        }
                    }
                }
            }
        }
        Ok(std::borrow::Cow::Owned(
            serde_json::to_string(&body).expect("JSON values serialise"),
        ))
    }

    /// Reads a stored event back, opening what is sealed.
    pub fn decode(&self, stored: &StoredEvent) -> Result<Record, VaultError> {
        let unreadable = |e: muster_log::record::DecodeError| VaultError::Unreadable {
            seq: stored.seq,
            reason: e.to_string(),
        };
        match self.open_body(stored)? {
            std::borrow::Cow::Borrowed(_) => muster_log::record::decode(stored).map_err(unreadable),
            std::borrow::Cow::Owned(body) => {
                let opened = StoredEvent {
                    body,
                    ..stored.clone()
                };
                muster_log::record::decode(&opened).map_err(unreadable)
            }
        }
    }

    /// Re-wraps every data key of `log` (and the check value) under `new`, in one
    /// write; the events are not touched. Returns how many data keys were re-wrapped.
    pub async fn rotate(
        log: &dyn EventLog,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<usize, VaultError> {
        let from = Vault::new(old, DEFAULT_LOCATION_DECIMALS);
        let to = Vault::new(new, DEFAULT_LOCATION_DECIMALS);
        let wrapped = log.load_keys().await?;
        if let Some(check) = wrapped.iter().find(|k| k.scope == CHECK_SCOPE) {
            from.unwrap(&check.scope, &check.wrapped)
                .map_err(|_| VaultError::WrongMasterKey)?;
        }
        let mut rewrapped = Vec::with_capacity(wrapped.len() + 1);
        for k in &wrapped {
            let key = from
                .master
                .open(k.scope.as_bytes(), &k.wrapped)
                .ok_or(VaultError::WrongMasterKey)?;
            rewrapped.push(to.wrap(&k.scope, &key));
        }
        if !wrapped.iter().any(|k| k.scope == CHECK_SCOPE) {
            rewrapped.push(to.wrap(CHECK_SCOPE, &crypto::random_key()[..]));
        }
        log.rewrap_keys(&rewrapped).await?;
        Ok(wrapped.iter().filter(|k| k.scope != CHECK_SCOPE).count())
    }
}

/// The parent pointer and the unescaped last key of `pointer`.
fn split(pointer: &str) -> Option<(&str, String)> {
    let at = pointer.rfind('/')?;
    let key = pointer[at + 1..].replace("~1", "/").replace("~0", "~");
    Some((&pointer[..at], key))
}

/// Puts `value` at `pointer`, making missing parent objects.
fn put(body: &mut Value, pointer: &str, value: Value) {
    let Some((parent, key)) = split(pointer) else {
        return;
    };
    if body.pointer(parent).is_none() {
        put(body, parent, Value::Object(Map::new()));
    }
    match body.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key, value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// True when `id` is the one the engine gives a record created by the event at `seq`
/// (`{prefix}_{seq}`, [`muster_core::id_type`]): no other event can have used it.
fn numbered_at(id: &str, seq: u64) -> bool {
    id.rsplit_once('_')
        .and_then(|(_, n)| n.parse::<u64>().ok())
        .is_some_and(|n| n == seq)
}

#[cfg(test)]
mod tests;
