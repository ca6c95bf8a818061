//! Settings (`config/muster.toml` plus `MUSTER_*` environment overrides) and the
//! centre's procedures (`config/centre.toml`) and demo seed (`config/demo/`), loaded and
//! validated at start-up.
//!
//! A bad edit must stop the hub before it serves anyone, with errors a person can act
//! on: every [`ConfigProblem`] names the file, the line and the field
//! (`config/centre.toml:42: types[2].escalation: unknown escalation policy urgnet`).
//! TOML syntax and type errors carry `toml`'s byte spans; semantic problems from
//! [`procedure::validate`] carry a document path, which the private `locate` module
//! maps back to a line.
//!
//! # Where settings come from
//!
//! 1. Built-in defaults ([`Settings::default`]), equal to the shipped `config/muster.toml`.
//! 2. The settings file. Which file is the caller's choice: a `--config` flag, else
//!    `MUSTER_CONFIG`, else [`DEFAULT_SETTINGS_PATH`]. A missing default file is fine;
//!    a missing file that was named explicitly is an error.
//! 3. Environment variables, see [`Settings::apply_env`].
//!
//! Relative paths in settings are relative to the working directory.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use lettre::message::Mailbox;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use ipnet::IpNet;
pub use muster_core::config::demo;
use muster_core::config::exercise::{Scenario, ScenarioContext};
pub use muster_core::config::{
    ConfigErrors, ConfigProblem, Demo, DemoDecision, DemoLocation, DemoMode, DemoResource,
    DemoUser, SourceMap, both, centre_from_toml, error_field, load_centre, load_demo, load_places,
    locate_problems, parse_toml, read_text,
};
use muster_core::domain::place::Gazetteer;
use muster_core::domain::procedure::{Centre, Problem};

/// The settings file used when none is named.
pub const DEFAULT_SETTINGS_PATH: &str = "config/muster.toml";

/// Everything the binary needs to run, with a default for every field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub limits: LimitSettings,
    pub auth: AuthSettings,
    pub centre: CentreSettings,
    pub map: MapSettings,
    pub log: LogSettings,
    pub notify: NotifySettings,
    pub push: PushSettings,
    pub smtp: SmtpSettings,
    pub privacy: PrivacySettings,
    pub exercise: ExerciseSettings,
}

/// Exercise mode (`muster exercise`): what happens to what the hub sends out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExerciseSettings {
    /// Push, webhooks and e-mail of an exercise: `suppress` (the default) sends
    /// nothing; `mark` sends them marked as an exercise.
    pub outbound: ExerciseOutbound,
}

/// `exercise.outbound` (`MUSTER_EXERCISE_OUTBOUND`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExerciseOutbound {
    /// Nothing leaves the hub (each attempt is recorded as failed: `exercise`).
    #[default]
    Suppress,
    /// Sent, marked: webhook JSON gains `"exercise": true`, e-mail subjects and push
    /// titles start with `EXERCISE: `.
    Mark,
}

impl FromStr for ExerciseOutbound {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "suppress" => Ok(ExerciseOutbound::Suppress),
            "mark" => Ok(ExerciseOutbound::Mark),
            other => Err(format!("expected suppress or mark, not {other:?}")),
        }
    }
}

/// Personal data in the log (docs/PRIVACY.md): the vault's master key and how much of
/// a personal location stays in clear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// The master key file (32 bytes, or 64 hex digits), which wraps every data key.
    /// `""` = `<data_dir>/master.key`, generated (mode 0600) on first start with the
    /// SQLite store; a Redis cluster must name one (the same for every hub).
    pub master_key_file: PathBuf,
    /// Decimal places a caller's or incident's coordinates keep in clear (3 ≈ 100 m);
    /// the exact value is sealed with the caller's data.
    pub location_decimals: u32,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            master_key_file: PathBuf::new(),
            location_decimals: 3,
        }
    }
}

/// Web Push to the field app (`src/notify/push.rs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// The VAPID private key, base64url of the 32-byte P-256 scalar; `""` = generated
    /// into `<data_dir>/vapid-private-key` (mode 0600) on first start and reused.
    pub vapid_private_key: String,
    /// The VAPID `sub` claim: `mailto:…` or `https://…`.
    pub contact: String,
    /// Allows `http://` push endpoints on loopback (tests only); refused otherwise.
    pub allow_http: bool,
    /// How long one request to a push service may take.
    pub timeout_ms: u64,
    /// Subscriptions one user may hold; a new one replaces the oldest.
    pub max_subscriptions_per_user: usize,
    /// The push services a subscription's endpoint may be on: a host or a parent
    /// domain (`push.apple.com` admits `web.push.apple.com`). The hub POSTs to whatever
    /// endpoint a signed-in user gives, so without this list a user could point it at
    /// any HTTPS service the hub can reach.
    pub allowed_hosts: Vec<String>,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            vapid_private_key: String::new(),
            contact: "mailto:admin@localhost".to_string(),
            allow_http: false,
            timeout_ms: 5_000,
            max_subscriptions_per_user: 5,
            // The browsers' own push services: Chrome, Edge and Android (FCM), Firefox,
            // Safari and iOS, Windows.
            allowed_hosts: [
                "fcm.googleapis.com",
                "push.services.mozilla.com",
                "push.apple.com",
                "notify.windows.com",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Notification channels beyond the WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The gateway the escalation ladder's `alternative_channel` rung POSTs to
    /// (`http(s)://host[:port][/path]`); `""` means none, and those attempts are
    /// recorded as failed.
    pub webhook_url: String,
    /// How long one delivery attempt may take.
    pub webhook_timeout_ms: u64,
    /// The Standard Webhooks signing secret, `whsec_<base64>` (the key is the decoded
    /// part, 24 to 64 bytes); `""` = requests are not signed. Never logged.
    pub webhook_secret: Secret,
    /// Extra request headers for the gateway (e.g. an `Authorization` its provider
    /// wants), name = value. The values are never logged.
    pub webhook_headers: BTreeMap<String, Secret>,
    /// Attempts per delivery, the first included: a connect error, a timeout, `408`,
    /// `429` or `5xx` is tried again, with the same `webhook-id`.
    pub webhook_max_attempts: u32,
    /// The wait before the first retry; each later wait doubles it (capped at 30 s). A
    /// `Retry-After` answer wins, up to 60 s (a longer one ends the delivery).
    pub webhook_backoff_ms: u64,
    /// A PEM file of extra certificate authorities the hub trusts for its outgoing
    /// TLS (the webhook gateway, SMTP, the geocoder), on top of the system's: for a
    /// gateway on a private network with its own CA. `""` = none.
    #[serde(deserialize_with = "empty_path_is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            webhook_url: String::new(),
            webhook_timeout_ms: 3_000,
            webhook_secret: Secret::default(),
            webhook_headers: BTreeMap::new(),
            webhook_max_attempts: 5,
            webhook_backoff_ms: 1_000,
            ca_file: None,
        }
    }
}

/// A credential from the settings: its `Debug` form never shows it, so printing the
/// settings cannot leak it. Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<hidden>"
        })
    }
}

/// E-mail over SMTP: the ladder's `alternative_channel` rungs with channel `email`,
/// and the reply to a complainant whose case has an e-mail address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// The submission server's host name; `""` = no SMTP (e-mail rungs go to the
    /// webhook gateway, complainants are not e-mailed).
    pub host: String,
    pub port: u16,
    /// `starttls` (upgrade a plain connection, refused if the server cannot), `tls`
    /// (TLS from the first byte, port 465) or `none` (plain text: loopback hosts only,
    /// for a local relay or tests).
    pub tls: SmtpTls,
    /// The account to log in as; `""` = no authentication.
    pub username: String,
    /// Its password. Never logged.
    pub password: Secret,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// How long one message may take, connection included.
    pub timeout_ms: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            timeout_ms: 10_000,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

impl FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "starttls" => Ok(SmtpTls::Starttls),
            "tls" => Ok(SmtpTls::Tls),
            "none" => Ok(SmtpTls::None),
            _ => Err("expected `starttls`, `tls` or `none`".to_string()),
        }
    }
}

/// The environment variables whose values are credentials: an error about one never
/// repeats its value.
const SECRET_VARS: [&str; 3] = [
    "MUSTER_WEBHOOK_SECRET",
    "MUSTER_WEBHOOK_HEADERS",
    "MUSTER_SMTP_PASSWORD",
];

/// `MUSTER_OIDC_<ID>_CLIENT_SECRET`.
fn is_oidc_secret_var(key: &str) -> bool {
    key.starts_with("MUSTER_OIDC_") && key.ends_with("_CLIENT_SECRET")
}

/// Where and to whom the hub listens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address for HTTP and WebSocket; loopback by default so a demo is never exposed.
    pub bind: SocketAddr,
    /// Origins allowed to open the WebSocket and call the API from a browser; empty
    /// means same origin only (guards against cross-site WebSocket hijacking).
    pub allowed_origins: Vec<String>,
    /// Serve the web apps from this directory instead of the copy embedded at build
    /// time, so front-end work needs no rebuild.
    pub web_dir: Option<PathBuf>,
    /// Time a client has to send a request's line and headers (a new connection's
    /// first request included) before the connection is closed.
    pub header_timeout_secs: u64,
    /// Time a client has to send a request's body once its headers are in.
    pub body_timeout_secs: u64,
    /// A kept-alive connection with no request in flight is closed after this.
    pub keepalive_idle_secs: u64,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the real client; from any
    /// other peer the header is ignored. Empty = the TCP peer is always the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Client addresses (CIDRs) `GET /metrics` answers; everyone else gets 403. The
    /// figures say how busy the centre is, which is nobody else's business.
    pub metrics_from: Vec<IpNet>,
    /// Where phones reach this hub (`https://muster.example.org`), for links the hub
    /// sends out (a push's acknowledge link); `""` = `http://{bind}`.
    pub public_url: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allowed_origins: Vec::new(),
            web_dir: None,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            keepalive_idle_secs: 10,
            trusted_proxies: Vec::new(),
            metrics_from: vec![loopback(4), loopback(6)],
            public_url: String::new(),
        }
    }
}

/// The loopback network of IPv4 (`127.0.0.0/8`) or IPv6 (`::1/128`).
fn loopback(version: u8) -> IpNet {
    let net = if version == 4 {
        "127.0.0.0/8"
    } else {
        "::1/128"
    };
    net.parse().expect("a valid CIDR")
}

/// Which event log and how it is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    pub kind: StoreKind,
    /// Directory of the SQLite log (created if missing).
    pub data_dir: PathBuf,
    /// Redis server for `kind = "redis"`.
    pub redis_url: String,
    /// A snapshot every this many events bounds start-up replay time.
    pub snapshot_every: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            kind: StoreKind::Sqlite,
            data_dir: PathBuf::from("./data"),
            redis_url: "redis://127.0.0.1:6379/".to_string(),
            snapshot_every: 10_000,
        }
    }
}

/// The event log's backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Embedded, single node, nothing to install.
    #[default]
    Sqlite,
    /// Shared by several hub nodes forming one cluster.
    Redis,
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(StoreKind::Sqlite),
            "redis" => Ok(StoreKind::Redis),
            _ => Err("expected `sqlite` or `redis`".to_string()),
        }
    }
}

/// Bounds that keep one client, user or burst from hurting everyone else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest WebSocket frame or HTTP body accepted (close 4413 / `too_large`).
    pub max_frame_bytes: usize,
    /// Open WebSockets per user (a field phone plus a few tabs).
    pub max_connections_per_user: usize,
    /// Sustained commands per connection; bursts up to twice this (close 4429).
    pub commands_per_second: u32,
    /// Events queued for one slow client before it is told to resume (close 4409).
    pub client_queue: usize,
    /// Time allowed for the first frame (close 4408).
    pub hello_timeout_secs: u64,
    /// How often the server pings an idle WebSocket.
    pub ping_interval_secs: u64,
    /// A connection silent for this long is closed.
    pub idle_timeout_secs: u64,
    /// One write to a WebSocket (the welcome, or a batch of frames) not taken by the
    /// client within this is taken as a client that no longer reads: it is closed.
    pub write_timeout_secs: u64,
    /// How far back a reconnecting client may resume from memory before it gets a
    /// snapshot instead.
    pub resume_window_secs: u64,
    /// Snapshots (welcome, `GET /api/state`) hold open items and those finished in the
    /// last this many hours; older ones are fetched one at a time.
    pub snapshot_closed_hours: u64,
    /// Open connections in total, so a flood cannot exhaust file descriptors.
    pub max_connections: usize,
    /// Open connections from one client address (never more than half of
    /// `max_connections`), so one address cannot take everyone's places. Trusted
    /// proxies are not held to it.
    pub max_connections_per_address: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_frame_bytes: 65_536,
            max_connections_per_user: 8,
            commands_per_second: 50,
            client_queue: 1024,
            hello_timeout_secs: 5,
            ping_interval_secs: 25,
            idle_timeout_secs: 60,
            write_timeout_secs: 10,
            resume_window_secs: 600,
            snapshot_closed_hours: 72,
            max_connections: 20_000,
            max_connections_per_address: 1_000,
        }
    }
}

/// Log-in sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Lifetime of a bearer token: one long shift.
    pub token_ttl_secs: u64,
    /// Failed log-ins allowed per username and address per minute, against guessing.
    pub login_attempts_per_minute: u32,
    /// SHA-256 (hex) of each intake key a channel gateway may use; the keys themselves
    /// are never written down here (`muster intake-key` makes one and prints both).
    pub intake_key_hashes: Vec<String>,
    /// Each partner centre that may follow the incidents shared with it
    /// (`incident.share`), as `NAME:SHA256` of its key, hex; the keys themselves are
    /// never written down here (`muster partner add NAME` makes one and prints both).
    pub partner_keys: Vec<String>,
    /// Password checks (Argon2id, 19 MiB each) running at once, about the number of
    /// cores; a log-in beyond them is answered 503 with `Retry-After`.
    pub password_checks: usize,
    /// Whether `POST /api/login` takes a username and password from everyone. With
    /// single sign-on only, `false`: local log-in is then refused
    /// (`local_login_disabled`) to all but the `break_glass` accounts.
    pub local_passwords: bool,
    /// Usernames that may still log in with a password when `local_passwords` is
    /// `false`: the way in when the identity provider is down.
    pub break_glass: Vec<String>,
    /// Single sign-on providers (OpenID Connect), one `[[auth.oidc]]` table each.
    pub oidc: Vec<OidcProvider>,
}

/// One OpenID Connect provider (`[[auth.oidc]]`): log-in starts at
/// `/auth/oidc/{id}/login`, and the provider sends the browser back to
/// `{server.public_url}/auth/oidc/{id}/callback` (the redirect URI to register there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcProvider {
    /// In URLs and in linked accounts: 1–32 of `a–z 0–9 _ -`. Changing it unlinks
    /// every account signed in through it.
    pub id: String,
    /// The log-in page's button text (`Sign in with …`).
    pub name: String,
    /// The issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Also `MUSTER_OIDC_<ID>_CLIENT_SECRET` (`<ID>` upper-cased, `-` as `_`); never
    /// logged. `""` = a public client (PKCE only).
    pub client_secret: Secret,
    /// Scopes asked for; must include `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim that carries the person's roles or groups (a string or an
    /// array of strings), e.g. `groups` or `roles`.
    pub role_claim: String,
    /// Claim value → Muster role. The first of the claim's values (in the token's
    /// order) that is in this table gives the role; none = no access.
    pub roles: BTreeMap<String, muster_core::domain::user::Role>,
}

impl Default for OidcProvider {
    fn default() -> Self {
        OidcProvider {
            id: String::new(),
            name: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
            role_claim: String::new(),
            roles: BTreeMap::new(),
        }
    }
}

impl OidcProvider {
    /// The environment variable that carries this provider's client secret.
    pub fn secret_var(&self) -> String {
        format!(
            "MUSTER_OIDC_{}_CLIENT_SECRET",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// What cannot work in this provider's table, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let id_ok = (1..=32).contains(&self.id.len())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !id_ok {
            let message = format!(
                "{:?}: 1 to 32 characters of a-z, 0-9, _ or - (it goes into URLs)",
                self.id
            );
            out.push(("id", message));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 60 {
            out.push(("name", "must be 1 to 60 characters".to_string()));
        }
        if let Err(e) = check_issuer(&self.issuer) {
            out.push(("issuer", e));
        }
        if self.client_id.trim().is_empty() {
            out.push((
                "client_id",
                "must not be empty (the client id the provider gave this hub)".to_string(),
            ));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            out.push(("scopes", "must include \"openid\"".to_string()));
        }
        if let Some(bad) = self.scopes.iter().find(|s| {
            s.is_empty()
                || s.chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\\')
        }) {
            out.push(("scopes", format!("{bad:?} is not a scope")));
        }
        if self.role_claim.trim().is_empty() {
            out.push((
                "role_claim",
                "must name the ID token claim with the roles or groups, e.g. groups".to_string(),
            ));
        }
        if self.roles.is_empty() {
            out.push((
                "roles",
                "must map at least one claim value to a role, e.g. \"muster-operators\" = \"operator\""
                    .to_string(),
            ));
        }
        if let Some((value, _)) = self
            .roles
            .iter()
            .find(|(_, r)| **r == muster_core::domain::user::Role::Intake)
        {
            out.push((
                "roles",
                format!("{value:?}: intake is a gateway's key, not a person's role"),
            ));
        }
        out
    }
}

/// An issuer URL: `https://`, or `http://` on a loopback host (tests, a provider on
/// the same machine); no query or fragment.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = crate::outbound::parse_url(issuer).map_err(|e| e.to_string())?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("no query or fragment".to_string());
    }
    let loopback = match url.host() {
        Some(openidconnect::url::Host::Domain(d)) => d == "localhost",
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() != "https" && !loopback {
        return Err("must be https:// (http:// only on a loopback address)".to_string());
    }
    Ok(())
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_ttl_secs: 43_200,
            login_attempts_per_minute: 10,
            intake_key_hashes: Vec::new(),
            partner_keys: Vec::new(),
            password_checks: 2,
            local_passwords: true,
            break_glass: Vec::new(),
            oidc: Vec::new(),
        }
    }
}

/// Which procedures and demo seed to load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CentreSettings {
    /// The centre's procedures file.
    pub procedures: PathBuf,
    /// Demo users and resources seeded into an empty log; `""` in the file (or
    /// `MUSTER_DEMO_DIR=""`) means no demo.
    #[serde(deserialize_with = "empty_path_is_none")]
    pub demo_dir: Option<PathBuf>,
    /// Whether the demo runs: `auto` (on a loopback bind only), `on`, `off`. When it
    /// does not run, the accounts it once seeded are disabled at start.
    pub demo: DemoMode,
    /// The centre's gazetteer, a CSV of its places (`GET /api/places`); `""` = none.
    #[serde(deserialize_with = "empty_path_is_none")]
    pub places: Option<PathBuf>,
    /// A Nominatim-compatible search API the hub asks for addresses beyond the
    /// gazetteer (`GET /api/geocode`), `http(s)://host[:port][/path]`; `""` = off. Typed
    /// addresses then leave the centre: see docs/SECURITY.md.
    pub geocoder_url: String,
    /// How long one geocoder query may take.
    pub geocoder_timeout_ms: u64,
    /// The centre's name, shown by the apps (`GET /api/settings`).
    pub name: String,
    /// An image (PNG, SVG, JPEG or WebP) the apps show beside the name, served at
    /// [`LOGO_PATH`]; `""` = none.
    #[serde(deserialize_with = "empty_path_is_none")]
    pub logo: Option<PathBuf>,
}

/// Where the centre's logo is served.
pub const LOGO_PATH: &str = "/api/settings/logo";

/// The map the apps draw (`GET /api/settings`); the CSP allows images from the tile
/// server's origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapSettings {
    /// A tile URL template with `{z}`, `{x}` and `{y}`: `https://…`, or `http://` to a
    /// loopback host; `""` = no tiles (the maps still show pins).
    pub tile_url: String,
    /// The tiles' attribution, as HTML the map shows.
    pub attribution: String,
    /// The deepest zoom the tile server has.
    pub max_zoom: u8,
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            tile_url: String::new(),
            attribution: "&copy; map data contributors".to_string(),
            max_zoom: 19,
        }
    }
}

impl MapSettings {
    /// `scheme://host[:port]` of the tile server, for the CSP; `None` without tiles.
    pub fn tile_origin(&self) -> Option<String> {
        check_tile_url(&self.tile_url).ok().flatten()
    }
}

/// A tile URL is `""`, or `https://host[:port]/…` or `http://` to a loopback host, with
/// `{z}`, `{x}` and `{y}`; answers its origin.
pub fn check_tile_url(url: &str) -> Result<Option<String>, String> {
    if url.is_empty() {
        return Ok(None);
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL (https://host/{{z}}/{{x}}/{{y}}.png)"))?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    let bad_host = host.is_empty()
        || host.contains(['{', '}', '@', ' '])
        || !host_port
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if bad_host {
        return Err(format!(
            "{url:?}: the host must be written out (no {{s}} or credentials)"
        ));
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{url:?}: tiles over http:// only from a loopback host; use https://"
            ));
        }
        _ => return Err(format!("{url:?}: use https:// (or http:// to loopback)")),
    }
    for part in ["{z}", "{x}", "{y}"] {
        if !url.contains(part) {
            return Err(format!("{url:?} lacks {part}"));
        }
    }
    Ok(Some(format!("{scheme}://{host_port}")))
}

impl Default for CentreSettings {
    fn default() -> Self {
        CentreSettings {
            procedures: PathBuf::from("config/centre.toml"),
            demo_dir: Some(PathBuf::from("config/demo")),
            demo: DemoMode::Auto,
            places: Some(PathBuf::from("config/places.csv")),
            geocoder_url: String::new(),
            geocoder_timeout_ms: 3_000,
            name: "Muster".to_string(),
            logo: None,
        }
    }
}

/// TOML has no null, so an empty string is how a file switches an optional path off.
fn empty_path_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(raw.filter(|s| !s.is_empty()).map(PathBuf::from))
}

/// How the hub logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// Human-readable lines for a terminal, JSON lines for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected `text` or `json`".to_string()),
        }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The settings file is unreadable or wrong; each problem is located.
    #[error("{0}")]
    File(ConfigErrors),
    /// An environment override has a value that cannot be used.
    #[error("environment variable {var}={value:?}: {message}")]
    Env {
        var: String,
        value: String,
        message: String,
    },
}

impl From<ConfigError> for ConfigErrors {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::File(errors) => errors,
            ConfigError::Env {
                var,
                value,
                message,
            } => ConfigErrors(vec![ConfigProblem {
                file: PathBuf::from("environment"),
                line: None,
                field: var,
                message: format!("{value:?}: {message}"),
            }]),
        }
    }
}

impl Settings {
    /// Reads the settings file (`path`, else [`DEFAULT_SETTINGS_PATH`] if it exists)
    /// and applies the process environment's `MUSTER_*` overrides.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_with_env(path, std::env::vars())
    }

    /// [`Settings::load`] with the environment given, so tests need not mutate the
    /// process environment.
    pub fn load_with_env<I, K, V>(path: Option<&Path>, env: I) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut settings = Settings::read_file(path)?;
        settings.apply_env(env)?;
        Ok(settings)
    }

    /// The file's settings, or the defaults when the default file does not exist.
    fn read_file(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let default = Path::new(DEFAULT_SETTINGS_PATH);
        let file = path.unwrap_or(default);
        if path.is_none() && !file.exists() {
            return Ok(Settings::default());
        }
        let text = read_text(file).map_err(ConfigError::File)?;
        Settings::from_toml(file, &text).map_err(ConfigError::File)
    }

    /// Parses and checks settings text; `file` names it in errors.
    pub fn from_toml(file: &Path, text: &str) -> Result<Settings, ConfigErrors> {
        let settings: Settings = parse_toml(file, text)?;
        locate_problems(file, text, settings.problems())?;
        Ok(settings)
    }

    /// Applies `MUSTER_*` overrides from `env`; other variables are ignored.
    ///
    /// | variable | setting |
    /// |---|---|
    /// | `MUSTER_BIND` | `server.bind` (`host:port`) |
    /// | `MUSTER_ALLOWED_ORIGINS` | `server.allowed_origins`, comma-separated |
    /// | `MUSTER_WEB_DIR` | `server.web_dir` (`""` = embedded) |
    /// | `MUSTER_HEADER_TIMEOUT_SECS` | `server.header_timeout_secs` |
    /// | `MUSTER_BODY_TIMEOUT_SECS` | `server.body_timeout_secs` |
    /// | `MUSTER_KEEPALIVE_IDLE_SECS` | `server.keepalive_idle_secs` |
    /// | `MUSTER_TRUSTED_PROXIES` | `server.trusted_proxies`, comma-separated CIDRs |
    /// | `MUSTER_METRICS_FROM` | `server.metrics_from`, comma-separated CIDRs (`""` = nobody) |
    /// | `MUSTER_STORE` | `store.kind` (`sqlite`, `redis`) |
    /// | `MUSTER_DATA_DIR` | `store.data_dir` |
    /// | `MUSTER_REDIS_URL` | `store.redis_url` |
    /// | `MUSTER_SNAPSHOT_EVERY` | `store.snapshot_every` |
    /// | `MUSTER_MASTER_KEY_FILE` | `privacy.master_key_file` |
    /// | `MUSTER_LOCATION_DECIMALS` | `privacy.location_decimals` |
    /// | `MUSTER_MAX_CONNECTIONS_PER_USER` | `limits.max_connections_per_user` |
    /// | `MUSTER_MAX_CONNECTIONS` | `limits.max_connections` |
    /// | `MUSTER_MAX_CONNECTIONS_PER_ADDRESS` | `limits.max_connections_per_address` |
    /// | `MUSTER_COMMANDS_PER_SECOND` | `limits.commands_per_second` |
    /// | `MUSTER_RESUME_WINDOW_SECS` | `limits.resume_window_secs` |
    /// | `MUSTER_SNAPSHOT_CLOSED_HOURS` | `limits.snapshot_closed_hours` |
    /// | `MUSTER_TOKEN_TTL_SECS` | `auth.token_ttl_secs` |
    /// | `MUSTER_INTAKE_KEY_HASHES` | `auth.intake_key_hashes` (comma-separated) |
    /// | `MUSTER_PARTNER_KEYS` | `auth.partner_keys` (comma-separated `NAME:SHA256`) |
    /// | `MUSTER_PASSWORD_CHECKS` | `auth.password_checks` |
    /// | `MUSTER_CENTRE` | `centre.procedures` |
    /// | `MUSTER_DEMO_DIR` | `centre.demo_dir` (`""` = no demo) |
    /// | `MUSTER_PLACES` | `centre.places` (`""` = none) |
    /// | `MUSTER_GEOCODER_URL` | `centre.geocoder_url` (`""` = off) |
    /// | `MUSTER_CENTRE_NAME` | `centre.name` |
    /// | `MUSTER_CENTRE_LOGO` | `centre.logo` (`""` = none) |
    /// | `MUSTER_TILE_URL` | `map.tile_url` (`""` = no tiles) |
    /// | `MUSTER_TILE_ATTRIBUTION` | `map.attribution` |
    /// | `MUSTER_DEMO` | `centre.demo`: `1`/`on`, `0`/`off`, `auto` (`--demo` sets `1`) |
    /// | `MUSTER_LOG_FORMAT` | `log.format` (`text`, `json`) |
    /// | `MUSTER_WEBHOOK_URL` | `notify.webhook_url` (`""` = none) |
    /// | `MUSTER_WEBHOOK_SECRET` | `notify.webhook_secret` (`whsec_…`, `""` = unsigned) |
    /// | `MUSTER_WEBHOOK_HEADERS` | `notify.webhook_headers`: `Name: value` pairs separated by newlines or `;` (replaces the file's table) |
    /// | `MUSTER_WEBHOOK_MAX_ATTEMPTS` | `notify.webhook_max_attempts` |
    /// | `MUSTER_WEBHOOK_BACKOFF_MS` | `notify.webhook_backoff_ms` |
    /// | `MUSTER_NOTIFY_CA_FILE` | `notify.ca_file` (`""` = none) |
    /// | `MUSTER_SMTP_HOST` | `smtp.host` (`""` = no SMTP) |
    /// | `MUSTER_SMTP_PORT` | `smtp.port` |
    /// | `MUSTER_SMTP_TLS` | `smtp.tls` (`starttls`, `tls`, `none`) |
    /// | `MUSTER_SMTP_USERNAME` | `smtp.username` |
    /// | `MUSTER_SMTP_PASSWORD` | `smtp.password` |
    /// | `MUSTER_SMTP_FROM` | `smtp.from` |
    /// | `MUSTER_SMTP_TIMEOUT_MS` | `smtp.timeout_ms` |
    /// | `MUSTER_PUBLIC_URL` | `server.public_url` (`""` = `http://{bind}`) |
    /// | `MUSTER_PUSH_VAPID_PRIVATE_KEY` | `push.vapid_private_key` (`""` = generated) |
    /// | `MUSTER_PUSH_CONTACT` | `push.contact` |
    /// | `MUSTER_PUSH_ALLOW_HTTP` | `push.allow_http` (`1`/`true`, `0`/`false`) |
    /// | `MUSTER_PUSH_TIMEOUT_MS` | `push.timeout_ms` |
    /// | `MUSTER_PUSH_MAX_SUBSCRIPTIONS_PER_USER` | `push.max_subscriptions_per_user` |
    /// | `MUSTER_PUSH_ALLOWED_HOSTS` | `push.allowed_hosts` (comma-separated) |
    /// | `MUSTER_EXERCISE_OUTBOUND` | `exercise.outbound` (`suppress`, `mark`) |
    ///
    /// `MUSTER_CONFIG` names the settings file itself and is read by the CLI before
    /// loading, not here. A value that cannot be used is an error naming the variable.
    pub fn apply_env<I, K, V>(&mut self, env: I) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (key, value) in env {
            let (key, value) = (key.as_ref(), value.as_ref());
            self.apply_var(key, value)
                .map_err(|message| ConfigError::Env {
                    var: key.to_string(),
                    value: if SECRET_VARS.contains(&key) || is_oidc_secret_var(key) {
                        "<hidden>".to_string()
                    } else {
                        value.to_string()
                    },
                    message,
                })?;
        }
        Ok(())
    }

    /// Applies one variable; `Err` carries why its value is unusable.
    fn apply_var(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "MUSTER_BIND" => self.server.bind = parse_value(value)?,
            "MUSTER_ALLOWED_ORIGINS" => self.server.allowed_origins = parse_origins(value)?,
            "MUSTER_WEB_DIR" => self.server.web_dir = optional_path(value),
            "MUSTER_HEADER_TIMEOUT_SECS" => {
                self.server.header_timeout_secs = parse_positive(value)?
            }
            "MUSTER_BODY_TIMEOUT_SECS" => self.server.body_timeout_secs = parse_positive(value)?,
            "MUSTER_KEEPALIVE_IDLE_SECS" => {
                self.server.keepalive_idle_secs = parse_positive(value)?
            }
            "MUSTER_TRUSTED_PROXIES" => self.server.trusted_proxies = parse_cidrs(value)?,
            "MUSTER_METRICS_FROM" => self.server.metrics_from = parse_cidrs(value)?,
            "MUSTER_STORE" => self.store.kind = value.parse()?,
            "MUSTER_DATA_DIR" => self.store.data_dir = required_path(value)?,
            "MUSTER_REDIS_URL" => self.store.redis_url = check_redis_url(value)?,
            "MUSTER_SNAPSHOT_EVERY" => self.store.snapshot_every = parse_positive(value)?,
            "MUSTER_MASTER_KEY_FILE" => self.privacy.master_key_file = PathBuf::from(value),
            "MUSTER_LOCATION_DECIMALS" => {
                self.privacy.location_decimals = value
                    .parse()
                    .ok()
                    .filter(|d: &u32| *d <= 10)
                    .ok_or_else(|| format!("{value:?} is not a number of decimals from 0 to 10"))?
            }
            "MUSTER_MAX_CONNECTIONS_PER_USER" => {
                self.limits.max_connections_per_user = parse_positive(value)?
            }
            "MUSTER_MAX_CONNECTIONS" => self.limits.max_connections = parse_positive(value)?,
            "MUSTER_MAX_CONNECTIONS_PER_ADDRESS" => {
                self.limits.max_connections_per_address = parse_positive(value)?
            }
            "MUSTER_COMMANDS_PER_SECOND" => {
                self.limits.commands_per_second = parse_positive(value)?
            }
            "MUSTER_RESUME_WINDOW_SECS" => self.limits.resume_window_secs = parse_positive(value)?,
            "MUSTER_SNAPSHOT_CLOSED_HOURS" => {
                self.limits.snapshot_closed_hours = parse_snapshot_hours(value)?
            }
            "MUSTER_TOKEN_TTL_SECS" => self.auth.token_ttl_secs = parse_positive(value)?,
            "MUSTER_PASSWORD_CHECKS" => self.auth.password_checks = parse_positive(value)?,
            "MUSTER_INTAKE_KEY_HASHES" => {
                self.auth.intake_key_hashes =
                    split_list(value).iter().map(|h| h.to_lowercase()).collect()
            }
            "MUSTER_PARTNER_KEYS" => self.auth.partner_keys = split_list(value),
            "MUSTER_LOCAL_PASSWORDS" => self.auth.local_passwords = parse_flag(value)?,
            "MUSTER_BREAK_GLASS" => {
                self.auth.break_glass = split_list(value).iter().map(|u| u.to_lowercase()).collect()
            }
            // MUSTER_OIDC_<ID>_CLIENT_SECRET: for the provider with that id; a
            // variable for no configured provider is ignored.
            _ if is_oidc_secret_var(key) => {
                if let Some(p) = self.auth.oidc.iter_mut().find(|p| p.secret_var() == key) {
                    p.client_secret = Secret::new(value.trim());
                }
            }
            "MUSTER_CENTRE" => self.centre.procedures = required_path(value)?,
            "MUSTER_DEMO_DIR" => self.centre.demo_dir = optional_path(value),
            "MUSTER_DEMO" => self.centre.demo = value.parse()?,
            "MUSTER_PLACES" => self.centre.places = optional_path(value),
            "MUSTER_GEOCODER_URL" => self.centre.geocoder_url = value.to_string(),
            "MUSTER_CENTRE_NAME" => self.centre.name = value.to_string(),
            "MUSTER_CENTRE_LOGO" => self.centre.logo = optional_path(value),
            "MUSTER_TILE_URL" => self.map.tile_url = value.to_string(),
            "MUSTER_TILE_ATTRIBUTION" => self.map.attribution = value.to_string(),
            "MUSTER_LOG_FORMAT" => self.log.format = value.parse()?,
            "MUSTER_WEBHOOK_URL" => self.notify.webhook_url = value.to_string(),
            "MUSTER_WEBHOOK_SECRET" => self.notify.webhook_secret = Secret::new(value.trim()),
            "MUSTER_WEBHOOK_HEADERS" => self.notify.webhook_headers = parse_header_pairs(value)?,
            "MUSTER_WEBHOOK_MAX_ATTEMPTS" => {
                self.notify.webhook_max_attempts = parse_positive(value)?
            }
            "MUSTER_WEBHOOK_BACKOFF_MS" => self.notify.webhook_backoff_ms = parse_value(value)?,
            "MUSTER_NOTIFY_CA_FILE" => self.notify.ca_file = optional_path(value),
            "MUSTER_SMTP_HOST" => self.smtp.host = value.to_string(),
            "MUSTER_SMTP_PORT" => self.smtp.port = parse_positive(value)?,
            "MUSTER_SMTP_TLS" => self.smtp.tls = value.parse()?,
            "MUSTER_SMTP_USERNAME" => self.smtp.username = value.to_string(),
            "MUSTER_SMTP_PASSWORD" => self.smtp.password = Secret::new(value),
            "MUSTER_SMTP_FROM" => self.smtp.from = value.to_string(),
            "MUSTER_SMTP_TIMEOUT_MS" => self.smtp.timeout_ms = parse_positive(value)?,
            "MUSTER_PUBLIC_URL" => {
                check_public_url(value.trim())?;
                self.server.public_url = value.trim().to_string()
            }
            "MUSTER_PUSH_VAPID_PRIVATE_KEY" => {
                let key = value.trim();
                if !key.is_empty() {
                    parse_vapid_key(key)?;
                }
                self.push.vapid_private_key = key.to_string()
            }
            "MUSTER_PUSH_CONTACT" => {
                check_contact(value.trim())?;
                self.push.contact = value.trim().to_string()
            }
            "MUSTER_PUSH_ALLOW_HTTP" => self.push.allow_http = parse_flag(value)?,
            "MUSTER_PUSH_TIMEOUT_MS" => self.push.timeout_ms = parse_positive(value)?,
            "MUSTER_PUSH_MAX_SUBSCRIPTIONS_PER_USER" => {
                self.push.max_subscriptions_per_user = parse_positive(value)?
            }
            "MUSTER_PUSH_ALLOWED_HOSTS" => self.push.allowed_hosts = split_list(value),
            "MUSTER_EXERCISE_OUTBOUND" => self.exercise.outbound = value.parse()?,
            _ => {}
        }
        Ok(())
    }

    /// Values that parse but cannot work, with paths into the settings file.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut add = |path: &str, message: String| {
            problems.push(Problem {
                path: path.to_string(),
                message,
            })
        };
        for (i, origin) in self.server.allowed_origins.iter().enumerate() {
            if let Err(message) = check_origin(origin) {
                add(&format!("server.allowed_origins[{i}]"), message);
            }
        }
        if let Err(message) = check_redis_url(&self.store.redis_url) {
            add("store.redis_url", message);
        }
        for (i, entry) in self.auth.partner_keys.iter().enumerate() {
            if partner_key(entry).is_none() {
                add(
                    &format!("auth.partner_keys[{i}]"),
                    "expected NAME:SHA256 (a partner name of lower-case letters, digits, _ or -, and 64 hex digits), as `muster partner add NAME` prints it".to_string(),
                );
            }
        }
        for (path, message) in self.oidc_problems() {
            add(&path, message);
        }
        for (path, value) in self.positive_numbers() {
            if value == 0 {
                add(path, "must be greater than 0".to_string());
            }
        }
        if self.privacy.location_decimals > 10 {
            add(
                "privacy.location_decimals",
                "must be from 0 to 10".to_string(),
            );
        }
        for (path, url) in [
            ("notify.webhook_url", &self.notify.webhook_url),
            ("centre.geocoder_url", &self.centre.geocoder_url),
        ] {
            if !url.is_empty()
                && let Err(e) = crate::outbound::parse_url(url)
            {
                add(path, e.to_string());
            }
        }
        for (path, message) in self.push_problems() {
            add(path, message);
        }
        for (path, message) in gateway_problems(&self.notify, &self.smtp) {
            add(&path, message);
        }
        if let Err(message) = check_tile_url(&self.map.tile_url) {
            add("map.tile_url", message);
        }
        if !(1..=22).contains(&self.map.max_zoom) {
            add("map.max_zoom", "must be from 1 to 22".to_string());
        }
        if self.centre.name.trim().is_empty() || self.centre.name.chars().count() > 80 {
            add("centre.name", "must be 1 to 80 characters".to_string());
        }
        if let Some(logo) = &self.centre.logo
            && logo_type(logo).is_none()
        {
            let message = format!("{}: a .png, .svg, .jpg or .webp file", logo.display());
            add("centre.logo", message);
        }
        if self.store.data_dir.as_os_str().is_empty() {
            add("store.data_dir", "must not be empty".to_string());
        }
        if self.limits.max_frame_bytes < 1024 {
            add(
                "limits.max_frame_bytes",
                "must be at least 1024".to_string(),
            );
        }
        if self.limits.snapshot_closed_hours > MAX_SNAPSHOT_CLOSED_HOURS {
            add("limits.snapshot_closed_hours", too_many_snapshot_hours());
        }
        if self.limits.ping_interval_secs >= self.limits.idle_timeout_secs {
            let message =
                "must be shorter than limits.idle_timeout_secs, or idle clients are cut off";
            add("limits.ping_interval_secs", message.to_string());
        }
        problems
    }

    /// The single sign-on settings that cannot work.
    fn oidc_problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let auth = &self.auth;
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in auth.oidc.iter().enumerate() {
            for (field, message) in p.problems() {
                out.push((format!("auth.oidc[{i}].{field}"), message));
            }
            if !seen.insert(p.id.as_str()) {
                out.push((
                    format!("auth.oidc[{i}].id"),
                    format!("{:?} is used by another provider", p.id),
                ));
            }
        }
        if !auth.local_passwords && auth.oidc.is_empty() && auth.break_glass.is_empty() {
            out.push((
                "auth.local_passwords".to_string(),
                "false leaves no way to log in: add an [[auth.oidc]] provider or break_glass accounts"
                    .to_string(),
            ));
        }
        for (i, name) in auth.break_glass.iter().enumerate() {
            if name.trim().is_empty() || name.to_lowercase() != *name {
                out.push((
                    format!("auth.break_glass[{i}]"),
                    format!("{name:?}: a username, in lower case"),
                ));
            }
        }
        out
    }

    /// The push settings that cannot work.
    fn push_problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Err(e) = check_public_url(&self.server.public_url) {
            out.push(("server.public_url", e));
        }
        let key = &self.push.vapid_private_key;
        if !key.is_empty()
            && let Err(e) = parse_vapid_key(key)
        {
            out.push(("push.vapid_private_key", e));
        }
        if let Err(e) = check_contact(&self.push.contact) {
            out.push(("push.contact", e));
        }
        if self.push.timeout_ms == 0 {
            out.push(("push.timeout_ms", "must be greater than 0".to_string()));
        }
        if self.push.max_subscriptions_per_user == 0 {
            let message = "must be greater than 0".to_string();
            out.push(("push.max_subscriptions_per_user", message));
        }
        if let Some(bad) = self.push.allowed_hosts.iter().find(|h| !is_host_name(h)) {
            let message = format!("{bad:?} is not a host name (e.g. fcm.googleapis.com)");
            out.push(("push.allowed_hosts", message));
        }
        out
    }

    /// Every numeric setting where 0 would disable the hub rather than mean "none".
    fn positive_numbers(&self) -> [(&'static str, u64); 20] {
        let l = &self.limits;
        let widen = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let srv = &self.server;
        [
            ("server.header_timeout_secs", srv.header_timeout_secs),
            ("server.body_timeout_secs", srv.body_timeout_secs),
            ("server.keepalive_idle_secs", srv.keepalive_idle_secs),
            ("store.snapshot_every", self.store.snapshot_every),
            ("notify.webhook_timeout_ms", self.notify.webhook_timeout_ms),
            ("smtp.timeout_ms", self.smtp.timeout_ms),
            (
                "limits.max_connections_per_user",
                widen(l.max_connections_per_user),
            ),
            (
                "limits.commands_per_second",
                u64::from(l.commands_per_second),
            ),
            ("limits.client_queue", widen(l.client_queue)),
            ("limits.hello_timeout_secs", l.hello_timeout_secs),
            ("limits.ping_interval_secs", l.ping_interval_secs),
            ("limits.idle_timeout_secs", l.idle_timeout_secs),
            ("limits.write_timeout_secs", l.write_timeout_secs),
            ("limits.resume_window_secs", l.resume_window_secs),
            ("limits.snapshot_closed_hours", l.snapshot_closed_hours),
            ("limits.max_connections", widen(l.max_connections)),
            (
                "limits.max_connections_per_address",
                widen(l.max_connections_per_address),
            ),
            ("auth.password_checks", widen(self.auth.password_checks)),
            ("auth.token_ttl_secs", self.auth.token_ttl_secs),
            (
                "auth.login_attempts_per_minute",
                u64::from(self.auth.login_attempts_per_minute),
            ),
        ]
    }
}

fn parse_value<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| e.to_string())
}

/// The longest snapshot window: ten years. Beyond it the window is "everything", which
/// is the unbounded snapshot the setting exists to prevent (and overflows the clock).
const MAX_SNAPSHOT_CLOSED_HOURS: u64 = 24 * 366 * 10;

fn too_many_snapshot_hours() -> String {
    format!("must be at most {MAX_SNAPSHOT_CLOSED_HOURS} (ten years); 72 keeps three days")
}

fn parse_snapshot_hours(value: &str) -> Result<u64, String> {
    let hours: u64 = parse_positive(value)?;
    if hours > MAX_SNAPSHOT_CLOSED_HOURS {
        return Err(too_many_snapshot_hours());
    }
    Ok(hours)
}

/// A count or duration where 0 is never meant.
fn parse_positive<T: FromStr + PartialEq + Default>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    let n: T = parse_value(value)?;
    if n == T::default() {
        return Err("must be greater than 0".to_string());
    }
    Ok(n)
}

/// `""`, or an `http(s)://host[:port]` with nothing after it.
fn check_public_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    match crate::outbound::parse_url(url) {
        Err(e) => Err(e.to_string()),
        Ok(u) if u.path() != "/" || u.query().is_some() || url.ends_with('/') => {
            Err("only scheme, host and port, e.g. https://muster.example.org".to_string())
        }
        Ok(_) => Ok(()),
    }
}

/// A VAPID private key as settings give it: base64url (padding tolerated) of the
/// 32-byte P-256 scalar.
pub fn parse_vapid_key(text: &str) -> Result<p256::ecdsa::SigningKey, String> {
    let bytes = muster_core::domain::push::decode(text.trim())
        .ok_or_else(|| "must be base64url (the 32-byte P-256 private key)".to_string())?;
    if bytes.len() != 32 {
        return Err(format!(
            "must be the 32-byte P-256 private key in base64url, not {} bytes",
            bytes.len()
        ));
    }
    p256::ecdsa::SigningKey::from_slice(&bytes)
        .map_err(|_| "is not a valid P-256 private key".to_string())
}

/// The VAPID `sub`: `mailto:…` or `https://…`.
fn check_contact(contact: &str) -> Result<(), String> {
    let scheme_ok = contact.starts_with("mailto:") || contact.starts_with("https://");
    if !scheme_ok || contact.len() < 9 || contact.chars().any(char::is_whitespace) {
        return Err("must be mailto:someone@example.org or an https:// URL".to_string());
    }
    Ok(())
}

/// `1`/`true`/`on` or `0`/`false`/`off`.
fn parse_flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" | "" => Ok(false),
        _ => Err("expected 1 or 0".to_string()),
    }
}

fn required_path(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(PathBuf::from(value))
}

fn optional_path(value: &str) -> Option<PathBuf> {
    Some(value).filter(|v| !v.is_empty()).map(PathBuf::from)
}

// ---- the gateways' settings (src/notify uses them) ---------------------------------

/// Headers the hub sets itself, which `notify.webhook_headers` may not replace.
const RESERVED: [&str; 6] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
];

/// The key of a `whsec_<base64>` secret: its decoded part, 24 to 64 bytes as the
/// Standard Webhooks specification asks. The error never repeats the secret.
pub fn parse_secret(secret: &str) -> Result<Vec<u8>, String> {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return Err("must start with whsec_ (whsec_ then the key in base64)".to_string());
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the part after whsec_ is not base64".to_string())?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "the key must be 24 to 64 bytes, not {} (e.g. whsec_ and 32 random bytes in base64)",
            key.len()
        ));
    }
    Ok(key)
}

/// `notify.webhook_headers` as request headers, values marked sensitive. The error
/// names the header, never its value.
pub fn extra_headers(settings: &NotifySettings) -> Result<HeaderMap, (String, String)> {
    let mut headers = HeaderMap::new();
    for (name, value) in &settings.webhook_headers {
        let path = format!("notify.webhook_headers.{name}");
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| (path.clone(), "not a valid HTTP header name".to_string()))?;
        if RESERVED.contains(&header.as_str()) {
            return Err((
                path,
                "the hub sets this header itself; it cannot be replaced".to_string(),
            ));
        }
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            (
                path.clone(),
                "the value holds a character a header cannot carry (a line break or control character)"
                    .to_string(),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    Ok(headers)
}

/// What is wrong with the `[notify]` and `[smtp]` settings, as `(path, message)`: what
/// `muster check-config` and start-up report. Never repeats a secret.
fn gateway_problems(notify: &NotifySettings, smtp: &SmtpSettings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !notify.webhook_secret.is_empty()
        && let Err(e) = parse_secret(notify.webhook_secret.expose())
    {
        out.push(("notify.webhook_secret".to_string(), e));
    }
    if let Err(problem) = extra_headers(notify) {
        out.push(problem);
    }
    if notify.webhook_max_attempts == 0 {
        out.push((
            "notify.webhook_max_attempts".to_string(),
            "must be greater than 0".to_string(),
        ));
    }
    if let Some(path) = &notify.ca_file
        && let Err(e) = crate::outbound::read_ca_file(path)
    {
        out.push(("notify.ca_file".to_string(), e));
    }
    out.extend(smtp_problems(smtp));
    out
}

/// Whether `host` is this machine: the only place plain-text SMTP may go.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What is wrong with the `[smtp]` settings, as `(path, message)`; nothing when SMTP
/// is off (`smtp.host = ""`). Never repeats the password.
fn smtp_problems(smtp: &SmtpSettings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |path: &str, message: &str| out.push((path.to_string(), message.to_string()));
    if smtp.host.is_empty() {
        return out;
    }
    if smtp.host.contains(['/', ':', ' ']) && smtp.host.parse::<std::net::IpAddr>().is_err() {
        add(
            "smtp.host",
            "a host name or IP address, without scheme or port",
        );
    }
    if smtp.port == 0 {
        add("smtp.port", "must be greater than 0");
    }
    if smtp.tls == SmtpTls::None && !is_loopback(&smtp.host) {
        add(
            "smtp.tls",
            "`none` (plain text) is allowed only to a loopback host; use `starttls` or `tls`",
        );
    }
    if smtp.from.is_empty() {
        add(
            "smtp.from",
            "the sender is required when smtp.host is set (e.g. \"Muster <muster@example.org>\")",
        );
    } else if smtp.from.parse::<Mailbox>().is_err() {
        add(
            "smtp.from",
            "not an e-mail address (`address` or `Name <address>`)",
        );
    }
    if smtp.username.is_empty() != smtp.password.is_empty() {
        add(
            "smtp.password",
            "smtp.username and smtp.password are set together (MUSTER_SMTP_PASSWORD), or neither",
        );
    }
    out
}

/// `MUSTER_WEBHOOK_HEADERS`: `Name: value` pairs separated by newlines or `;` (a
/// value holding a `;` goes in the settings file instead). The names and values are
/// checked with the other settings; the error here never repeats a value.
fn parse_header_pairs(value: &str) -> Result<BTreeMap<String, Secret>, String> {
    let mut headers = BTreeMap::new();
    for pair in value
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((name, value)) = pair.split_once(':') else {
            return Err("expected `Name: value` pairs separated by newlines or `;`".to_string());
        };
        headers.insert(name.trim().to_string(), Secret::new(value.trim()));
    }
    Ok(headers)
}

/// Comma-separated CIDRs (`10.0.0.0/8, ::1/128`); a bare address is one host.
fn parse_cidrs(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{c}` is not a CIDR such as 10.0.0.0/8 or an address"))
        })
        .collect()
}

/// A comma-separated list, each item trimmed, empty ones left out.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect()
}

/// A DNS name such as `push.apple.com`: letters, digits, `-` and inner dots.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    let origins = split_list(value);
    origins.iter().try_for_each(|o| check_origin(o))?;
    Ok(origins)
}

/// An origin as browsers send it: scheme and host, no path.
fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("`{origin}` is not an origin like https://host[:port]"))?;
    if rest.is_empty() || rest.contains('/') {
        return Err(format!(
            "`{origin}` is not an origin like https://host[:port] (no path)"
        ));
    }
    Ok(())
}

fn check_redis_url(url: &str) -> Result<String, String> {
    let known = ["redis://", "rediss://", "redis+unix://", "unix://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url.to_string())
    } else {
        Err(format!("`{url}` is not a redis:// or rediss:// URL"))
    }
}

/// Everything start-up loads, already validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub settings: Settings,
    pub centre: Centre,
    /// `None` when `centre.demo_dir` is off.
    pub demo: Option<Demo>,
    /// The centre's places (empty when `centre.places` is off).
    pub places: Gazetteer,
}

impl Loaded {
    /// What was loaded, counted, for `check-config` and the start-up banner.
    pub fn summary(&self) -> Summary {
        let demo = self.demo.as_ref();
        Summary {
            centre: self.centre.name.clone(),
            incident_types: self.centre.types.len(),
            questions: self.centre.types.iter().map(|t| t.questions.len()).sum(),
            priority_rules: self
                .centre
                .types
                .iter()
                .map(|t| t.priority_rules.len())
                .sum(),
            escalation_policies: self.centre.escalation_policies.len(),
            demo_users: demo.map_or(0, |d| d.users.len()),
            demo_resources: demo.map_or(0, |d| d.resources.len()),
            places: self.places.places.len(),
            exercises: 0,
        }
    }
}

/// Counts of what a configuration holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub centre: String,
    pub incident_types: usize,
    pub questions: usize,
    pub priority_rules: usize,
    pub escalation_policies: usize,
    pub demo_users: usize,
    pub demo_resources: usize,
    pub places: usize,
    /// Exercise scenarios checked (`check-config` only).
    pub exercises: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} incident types, {} questions, {} priority rules, {} escalation policies, \
             {} places; demo: {} users, {} resources; {} exercise scenarios",
            self.centre,
            self.incident_types,
            self.questions,
            self.priority_rules,
            self.escalation_policies,
            self.places,
            self.demo_users,
            self.demo_resources,
            self.exercises
        )
    }
}

/// Loads settings (with the process environment), procedures and demo seed, reporting
/// the problems of every file that could be reached.
pub fn load_all(settings_path: Option<&Path>) -> Result<Loaded, ConfigErrors> {
    load_all_with_env(settings_path, std::env::vars())
}

/// [`load_all`] with the environment given.
pub fn load_all_with_env<I, K, V>(
    settings_path: Option<&Path>,
    env: I,
) -> Result<Loaded, ConfigErrors>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let settings = Settings::load_with_env(settings_path, env)?;
    let centre = load_centre(&settings.centre.procedures);
    let demo = match &settings.centre.demo_dir {
        Some(dir) => load_demo(dir).map(Some),
        None => Ok(None),
    };
    let places = match &settings.centre.places {
        Some(path) => load_places(path),
        None => Ok(Gazetteer::default()),
    };
    let ((centre, demo), places) = both(both(centre, demo), places)?;
    Ok(Loaded {
        settings,
        centre,
        demo,
        places,
    })
}

/// `muster check-config [PATH]`: everything valid, counted, or every problem found,
/// the exercise scenarios (`exercises/*.toml` beside the procedures) included.
pub fn check_all(settings_path: Option<&Path>) -> Result<Summary, ConfigErrors> {
    let loaded = load_all(settings_path)?;
    let mut summary = loaded.summary();
    let mut problems = Vec::new();
    for file in muster_core::config::exercise_files(&loaded.exercises_dir()) {
        match loaded.load_exercise(&file) {
            Ok(_) => summary.exercises += 1,
            Err(e) => problems.extend(e.0),
        }
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(ConfigErrors(problems))
    }
}

impl Loaded {
    /// Where the exercise scenarios live: `exercises/` beside the procedures file.
    pub fn exercises_dir(&self) -> PathBuf {
        let procedures = &self.settings.centre.procedures;
        procedures
            .parent()
            .unwrap_or(Path::new("."))
            .join("exercises")
    }

    /// A scenario by name (`busy-evening`, in [`Loaded::exercises_dir`]) or path
    /// (anything with a `/` or ending `.toml`).
    pub fn exercise_path(&self, name_or_path: &str) -> PathBuf {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            PathBuf::from(name_or_path)
        } else {
            self.exercises_dir().join(format!("{name_or_path}.toml"))
        }
    }

    /// Loads and validates a scenario against this centre, its places and its demo
    /// (whose resources the simulated units are).
    pub fn load_exercise(&self, path: &Path) -> Result<Scenario, ConfigErrors> {
        let empty = Demo::default();
        let ctx = ScenarioContext {
            centre: &self.centre,
            places: &self.places,
            demo: self.demo.as_ref().unwrap_or(&empty),
        };
        muster_core::config::load_exercise(path, &ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_tile_url_is_https_or_loopback_http_with_z_x_and_y() {
        let ok = |url: &str| check_tile_url(url).unwrap();
        assert_eq!(ok(""), None);
        assert_eq!(
            ok("https://tile.openstreetmap.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://tile.openstreetmap.org")
        );
        assert_eq!(
            ok("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            ok("http://localhost:9000/{z}/{x}/{y}").as_deref(),
            Some("http://localhost:9000")
        );
        for bad in [
            "http://tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org/{z}/{x}.png",
            "https://{s}.tile.example.org/{z}/{x}/{y}.png",
            "ftp://tiles.example.org/{z}/{x}/{y}.png",
            "tiles.example.org/{z}/{x}/{y}.png",
            "https://user@tiles.example.org/{z}/{x}/{y}.png",
        ] {
            assert!(check_tile_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_map_and_centre_settings_come_from_the_file_and_the_environment() {
        let text = "[map]\ntile_url = \"http://tiles.example.org/{z}/{x}/{y}.png\"\n";
        let err = Settings::from_toml(Path::new("m.toml"), text).unwrap_err();
        assert!(err.to_string().contains("map.tile_url"), "{err}");
        let mut s = Settings::default();
        s.apply_env(env(&[
            ("MUSTER_TILE_URL", "https://t.example.org/{z}/{x}/{y}.png"),
            ("MUSTER_TILE_ATTRIBUTION", "Tiles by us"),
            ("MUSTER_CENTRE_NAME", "Northshire Control"),
            ("MUSTER_CENTRE_LOGO", "config/logo.svg"),
        ]))
        .unwrap();
        assert_eq!(
            s.map.tile_origin().as_deref(),
            Some("https://t.example.org")
        );
        assert_eq!(s.map.attribution, "Tiles by us");
        assert_eq!(s.centre.name, "Northshire Control");
        assert_eq!(s.centre.logo, Some(PathBuf::from("config/logo.svg")));
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        s.centre.logo = Some(PathBuf::from("logo.gif"));
        s.centre.name = String::new();
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["centre.name", "centre.logo"]);
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let settings = Settings::from_toml(Path::new("m.toml"), "").unwrap();
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.centre.demo_dir, Some(PathBuf::from("config/demo")));
    }

    #[test]
    fn an_empty_demo_dir_switches_the_demo_off() {
        let settings =
            Settings::from_toml(Path::new("m.toml"), "[centre]\ndemo_dir = \"\"\n").unwrap();
        assert_eq!(settings.centre.demo_dir, None);
    }

    #[test]
    fn settings_problems_name_their_line() {
        let text = "[limits]\nping_interval_secs = 60\nidle_timeout_secs = 60\nclient_queue = 0\n";
        let err = Settings::from_toml(Path::new("m.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.toml:4: limits.client_queue: must be greater than 0"),
            "{err}"
        );
        assert!(
            err.contains("m.toml:2: limits.ping_interval_secs: must be shorter"),
            "{err}"
        );
    }

    #[test]
    fn unknown_settings_keys_are_refused() {
        let text = "[server]\nbind = \"127.0.0.1:1\"\nbnid = \"x\"\n";
        let err = Settings::from_toml(Path::new("m.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml:3: server.bnid: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn env_values_are_validated() {
        let mut settings = Settings::default();
        let err = settings
            .apply_env(env(&[("MUSTER_STORE", "mongo")]))
            .unwrap_err();
        assert!(err.to_string().contains("MUSTER_STORE"), "{err}");
        let err = settings
            .apply_env(env(&[("MUSTER_SNAPSHOT_EVERY", "0")]))
            .unwrap_err();
        assert!(err.to_string().contains("MUSTER_SNAPSHOT_EVERY"), "{err}");
        let err = settings
            .apply_env(env(&[(
                "MUSTER_ALLOWED_ORIGINS",
                "https://a.example, ftp://b",
            )]))
            .unwrap_err();
        assert!(err.to_string().contains("ftp://b"), "{err}");
    }

    const GOOD_OIDC: &str = "[[auth.oidc]]\nid = \"corp\"\nname = \"Corp account\"\nissuer = \"https://login.corp.example/realms/staff\"\nclient_id = \"muster\"\nrole_claim = \"groups\"\nroles = { \"muster-ops\" = \"operator\" }\n";

    #[test]
    fn a_good_oidc_provider_passes_and_gets_its_secret_from_the_environment() {
        let mut settings = Settings::from_toml(Path::new("m.toml"), GOOD_OIDC).expect("valid");
        let p = &settings.auth.oidc[0];
        assert_eq!(
            p.scopes,
            ["openid", "profile", "email"],
            "the default scopes"
        );
        assert_eq!(
            p.roles["muster-ops"],
            muster_core::domain::user::Role::Operator
        );
        assert_eq!(p.secret_var(), "MUSTER_OIDC_CORP_CLIENT_SECRET");
        settings
            .apply_env(env(&[
                ("MUSTER_OIDC_CORP_CLIENT_SECRET", "s3cret-value"),
                ("MUSTER_OIDC_OTHER_CLIENT_SECRET", "ignored"),
                ("MUSTER_LOCAL_PASSWORDS", "false"),
                ("MUSTER_BREAK_GLASS", "Admin, root"),
            ]))
            .expect("applies");
        assert_eq!(settings.auth.oidc[0].client_secret.expose(), "s3cret-value");
        assert!(!settings.auth.local_passwords);
        assert_eq!(settings.auth.break_glass, ["admin", "root"]);
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        // The secret never shows in the settings' debug form.
        assert!(!format!("{settings:?}").contains("s3cret-value"));
        let dashed = OidcProvider {
            id: "my-idp".into(),
            ..OidcProvider::default()
        };
        assert_eq!(dashed.secret_var(), "MUSTER_OIDC_MY_IDP_CLIENT_SECRET");
    }

    #[test]
    fn oidc_providers_are_checked_field_by_field() {
        let text = "[auth]\nlocal_passwords = false\n\n[[auth.oidc]]\nid = \"Corp IdP\"\nname = \"\"\nissuer = \"http://login.corp.example\"\nclient_id = \"\"\nscopes = [\"profile\"]\nrole_claim = \"\"\nroles = { \"x\" = \"intake\" }\n\n[[auth.oidc]]\nid = \"ok\"\nname = \"Fine\"\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"c\"\nrole_claim = \"groups\"\nroles = {}\n";
        let err = Settings::from_toml(Path::new("m.toml"), text)
            .unwrap_err()
            .to_string();
        for expected in [
            "auth.oidc[0].id: \"Corp IdP\": 1 to 32 characters of a-z, 0-9, _ or -",
            "auth.oidc[0].name: must be 1 to 60 characters",
            "auth.oidc[0].issuer: must be https:// (http:// only on a loopback address)",
            "auth.oidc[0].client_id: must not be empty",
            "auth.oidc[0].scopes: must include \"openid\"",
            "auth.oidc[0].role_claim: must name the ID token claim",
            "auth.oidc[0].roles: \"x\": intake is a gateway's key",
            "auth.oidc[1].roles: must map at least one claim value",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        // A loopback http issuer is fine (tests), so [1] has no issuer problem.
        assert!(!err.contains("auth.oidc[1].issuer"), "{err}");
        let dup = format!("{GOOD_OIDC}\n{GOOD_OIDC}");
        let err = Settings::from_toml(Path::new("m.toml"), &dup)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("auth.oidc[1].id: \"corp\" is used by another provider"),
            "{err}"
        );
        let locked_out = "[auth]\nlocal_passwords = false\n";
        let err = Settings::from_toml(Path::new("m.toml"), locked_out)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("auth.local_passwords: false leaves no way to log in"),
            "{err}"
        );
    }

    #[test]
    fn push_settings_are_checked_in_the_file_and_the_environment() {
        let text = "[server]\npublic_url = \"https://m.example/path\"\n\n[push]\nvapid_private_key = \"AAAA\"\ncontact = \"ops@example.org\"\nmax_subscriptions_per_user = 0\n";
        let err = Settings::from_toml(Path::new("m.toml"), text)
            .unwrap_err()
            .to_string();
        for expected in [
            "m.toml:2: server.public_url: only scheme, host and port",
            "m.toml:5: push.vapid_private_key: must be the 32-byte P-256 private key",
            "m.toml:6: push.contact: must be mailto:",
            "m.toml:7: push.max_subscriptions_per_user: must be greater than 0",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        let key = "RS0WdYWWo1HajXg3NZR1olzCf31i-ZBGDkFyCs7j1jw";
        let mut settings = Settings::default();
        settings
            .apply_env(env(&[
                ("MUSTER_PUSH_VAPID_PRIVATE_KEY", key),
                ("MUSTER_PUSH_ALLOW_HTTP", "1"),
                ("MUSTER_PUBLIC_URL", "https://muster.example.org"),
                ("MUSTER_PUSH_CONTACT", "mailto:ops@example.org"),
                ("MUSTER_PUSH_MAX_SUBSCRIPTIONS_PER_USER", "3"),
            ]))
            .unwrap();
        assert!(settings.push.allow_http);
        assert_eq!(settings.push.vapid_private_key, key);
        assert_eq!(settings.push.max_subscriptions_per_user, 3);
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        for (var, bad) in [
            ("MUSTER_PUSH_VAPID_PRIVATE_KEY", "not a key"),
            ("MUSTER_PUSH_ALLOW_HTTP", "maybe"),
            ("MUSTER_PUBLIC_URL", "muster.example.org"),
            ("MUSTER_PUSH_CONTACT", "ops"),
            ("MUSTER_PUSH_TIMEOUT_MS", "0"),
        ] {
            let err = settings.apply_env(env(&[(var, bad)])).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn env_errors_become_located_problems() {
        let mut settings = Settings::default();
        let err = settings
            .apply_env(env(&[("MUSTER_BIND", "nowhere")]))
            .unwrap_err();
        let errors = ConfigErrors::from(err);
        assert_eq!(errors.0[0].field, "MUSTER_BIND");
        assert!(
            errors
                .to_string()
                .starts_with("environment: MUSTER_BIND: \"nowhere\"")
        );
    }

    #[test]
    fn a_missing_top_level_field_is_named() {
        let err = centre_from_toml(Path::new("c.toml"), "name = \"x\"\n").unwrap_err();
        assert_eq!(err.0[0].line, Some(1));
        assert!(err.0[0].message.contains("missing field"), "{err}");
    }

    #[test]
    fn smtp_settings_are_checked() {
        let off = SmtpSettings::default();
        assert!(smtp_problems(&off).is_empty());
        let good = SmtpSettings {
            host: "smtp.example.org".into(),
            from: "Muster <muster@example.org>".into(),
            username: "muster".into(),
            password: Secret::new("pw"),
            ..SmtpSettings::default()
        };
        assert!(
            smtp_problems(&good).is_empty(),
            "{:?}",
            smtp_problems(&good)
        );
        let plain = SmtpSettings {
            tls: SmtpTls::None,
            ..good.clone()
        };
        assert_eq!(smtp_problems(&plain)[0].0, "smtp.tls");
        let local = SmtpSettings {
            host: "127.0.0.1".into(),
            ..plain
        };
        assert!(smtp_problems(&local).is_empty());
        let bad = SmtpSettings {
            from: "not an address".into(),
            password: Secret::default(),
            ..good
        };
        let paths: Vec<_> = smtp_problems(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["smtp.from", "smtp.password"]);
    }
}

/// A partner key entry, `NAME:SHA256`, as its name and hash (lower-case hex).
pub fn partner_key(entry: &str) -> Option<(String, String)> {
    let (name, hash) = entry.trim().split_once(':')?;
    let hash = hash.trim().to_ascii_lowercase();
    let ok = muster_core::domain::incident::valid_partner(name.trim())
        && hash.len() == 64
        && hash.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| (name.trim().to_string(), hash))
}

/// The media type of a logo file, by its extension; `None` for any other.
pub fn logo_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => return None,
    })
}
