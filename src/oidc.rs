//! Single sign-on with OpenID Connect (`[[auth.oidc]]`): the protocol is the
//! `openidconnect` crate's (discovery, the authorization code flow with PKCE S256,
//! `state` and `nonce`, the ID token's signature against the provider's JWKS and its
//! `iss`, `aud`, `exp` and `nonce`); this module holds what the hub keeps between the
//! browser's two visits and decides what a verified person becomes:
//!
//! - [`Pending`] log-ins by `state`: the PKCE verifier, the nonce, the provider and
//!   where to go next, held server-side, single use, for [`PENDING_TTL`], at most
//!   [`MAX_PENDING`] at once.
//! - [`Handoffs`]: a finished log-in's session JSON behind a one-time code that the
//!   redirect carries in its fragment (never a query, so never in a log), exchanged by
//!   the log-in page with a POST within [`HANDOFF_TTL`].
//! - [`map_role`]: the role claim to a Muster role.
//!
//! Nothing here logs or returns a secret, a code, a token or a verifier.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::OidcProvider;
use muster_core::domain::user::Role;

/// How long a log-in may stay at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// Log-ins at providers at once; the oldest is dropped for a new one beyond this.
pub const MAX_PENDING: usize = 10_000;
/// Sign-ins one client address may have started and not finished: a flood from one
/// address cannot push everyone else's pending sign-ins out of [`MAX_PENDING`].
pub const MAX_PENDING_PER_ADDRESS: usize = 30;
/// How long the log-in page has to exchange its one-time code.
pub const HANDOFF_TTL: Duration = Duration::from_secs(60);
/// How long one request to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery (metadata and JWKS) is fetched again after this, or at once for a key id
/// the cached set lacks (a rotated key) but not more often than [`REFRESH_GAP`].
const METADATA_TTL: Duration = Duration::from_secs(3600);
const REFRESH_GAP: Duration = Duration::from_secs(10);

/// Every claim of the ID token beyond the standard ones: the role claim is among them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: BTreeMap<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type Fields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in failed, as the log-in page is told (`#sso_error=<code>`). Never
/// carries a provider's text, a code or a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    /// The provider said no (`error=access_denied`, or the person cancelled).
    #[error("denied")]
    Denied,
    /// The `state` is unknown, used, expired or for another provider.
    #[error("state")]
    State,
    /// The provider could not be reached, or answered nonsense.
    #[error("provider_unavailable")]
    Unavailable,
    /// The code exchange or the ID token check failed.
    #[error("failed")]
    Failed,
    /// The person has no claim value that maps to a Muster role.
    #[error("no_role")]
    NoRole,
    /// The account is disabled (or was just disabled: its mapped role is gone).
    #[error("disabled")]
    Disabled,
    /// The role maps to `field`: a field account needs a resource, so an admin
    /// creates it.
    #[error("field")]
    Field,
    /// The person's mapped role differs from the account's; see
    /// `crate::http::sso::sync_role`.
    #[error("role_changed")]
    RoleChanged,
    /// Too many sign-ins started from one address and not finished.
    #[error("busy")]
    Busy,
}

impl SsoError {
    /// The code the log-in page shows a message for.
    pub fn code(self) -> String {
        self.to_string()
    }
}

/// A log-in waiting for the provider's answer.
pub struct Pending {
    pub provider: String,
    pub verifier: PkceCodeVerifier,
    pub nonce: Nonce,
    pub next: Option<String>,
    /// The client address that started it (set by the route).
    pub address: String,
}

impl Pending {
    pub fn new(
        provider: &str,
        verifier: PkceCodeVerifier,
        nonce: Nonce,
        next: Option<String>,
    ) -> Pending {
        Pending {
            provider: provider.to_string(),
            verifier,
            nonce,
            next,
            address: String::new(),
        }
    }
}

/// One-use entries by key with a lifetime and a bound: the pending log-ins and the
/// handoff codes. Expired entries are swept on every insert.
pub struct OneUse<T> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T> OneUse<T> {
    pub fn new(ttl: Duration, max: usize) -> Self {
        OneUse {
            ttl,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps `value` under `key` from `now`; beyond the bound the oldest goes.
    pub fn insert(&self, key: String, value: T, now: Instant) {
        let mut entries = self.entries.lock().expect("one-use store lock");
        entries.retain(|_, (at, _)| now.saturating_duration_since(*at) < self.ttl);
        while entries.len() >= self.max {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(key, (now, value));
    }

    /// Takes the entry out (so a second take finds nothing); `None` when absent or
    /// expired.
    pub fn take(&self, key: &str, now: Instant) -> Option<T> {
        let mut entries = self.entries.lock().expect("one-use store lock");
        let (at, value) = entries.remove(key)?;
        (now.saturating_duration_since(at) < self.ttl).then_some(value)
    }

    /// How many live entries `f` holds for.
    pub fn count_where(&self, f: impl Fn(&T) -> bool, now: Instant) -> usize {
        let entries = self.entries.lock().expect("one-use store lock");
        entries
            .values()
            .filter(|(at, v)| now.saturating_duration_since(*at) < self.ttl && f(v))
            .count()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().expect("one-use store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Muster role for a role claim: a string, or an array of strings whose first
/// value (in the token's order) found in `roles` wins. Anything else maps to none.
pub fn map_role(claim: Option<&Value>, roles: &BTreeMap<String, Role>) -> Option<Role> {
    match claim? {
        Value::String(s) => roles.get(s).copied(),
        Value::Array(values) => values
            .iter()
            .filter_map(Value::as_str)
            .find_map(|v| roles.get(v).copied()),
        _ => None,
    }
}

/// A safe place to go after log-in: a path on this hub (`/board`, `/console?x=1`),
/// never another origin (`//evil`, `/\evil`, `https://…`).
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| next.to_string())
}

/// A username from the claims: `preferred_username`, else `email`, lower-cased with
/// every character a username may not hold made `.` and cut to 28 characters (room
/// for a `-N` suffix when it is taken). `None` when nothing usable is left.
pub fn username_from(preferred: Option<&str>, email: Option<&str>) -> Option<String> {
    let source = preferred.filter(|p| !p.trim().is_empty()).or(email)?;
    let mut name: String = source
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) {
                c
            } else {
                '.'
            }
        })
        .take(28)
        .collect();
    name = name.trim_matches('.').to_string();
    (name.len() >= 3).then_some(name)
}

/// What a verified ID token says of the person.
#[derive(Clone, Debug)]
pub struct Person {
    pub subject: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The mapped role, if any.
    pub role: Option<Role>,
}

/// A transport failure talking to a provider: host-level words only (no URL, which
/// may carry a code).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no HTTP client: {0}")]
    NoClient(#[from] crate::outbound::NoClient),
    #[error("request to the provider failed: {0}")]
    Request(String),
}

/// The hub's HTTP client (no redirects, the platform's CAs) for the crate's requests.
async fn send(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let client = crate::outbound::client()?;
    let (parts, body) = request.into_parts();
    let url = reqwest::Url::parse(&parts.uri.to_string())
        .map_err(|_| HttpError::Request("bad URL".into()))?;
    let host = crate::outbound::host_of(&url);
    let response = client
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .timeout(PROVIDER_TIMEOUT)
        .send()
        .await
        .map_err(|e| HttpError::Request(format!("{host}: {}", without_url(&e))))?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| HttpError::Request(format!("{host}: {}", without_url(&e))))?;
    builder
        .body(bytes.to_vec())
        .map_err(|e| HttpError::Request(e.to_string()))
}

fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "transport error".into()
    }
}

/// The provider's discovered metadata (with its JWKS) and when it was fetched.
struct Discovered {
    metadata: CoreProviderMetadata,
    at: Instant,
}

/// One configured provider and its discovery cache.
pub struct Provider {
    pub settings: OidcProvider,
    redirect: RedirectUrl,
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

impl Provider {
    /// The provider's discovery, from the cache while fresh; `refresh` fetches again
    /// (metadata and JWKS) unless the cache is younger than [`REFRESH_GAP`].
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, SsoError> {
        let mut cache = self.discovered.lock().await;
        if let Some(d) = cache.as_ref() {
            let age = d.at.elapsed();
            if age < METADATA_TTL && !(refresh && age >= REFRESH_GAP) {
                return Ok(d.metadata.clone());
            }
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|_| SsoError::Unavailable)?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &send)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %self.settings.id, error = %e, "OpenID Connect discovery failed");
                SsoError::Unavailable
            })?;
        *cache = Some(Discovered {
            metadata: metadata.clone(),
            at: Instant::now(),
        });
        Ok(metadata)
    }

    fn client(&self, metadata: CoreProviderMetadata) -> OidcClient {
        let secret = self.settings.client_secret.expose();
        Client::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            (!secret.is_empty()).then(|| ClientSecret::new(secret.to_string())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the browser, and the log-in to keep under its `state`.
    pub async fn start(&self, next: Option<String>) -> Result<(String, String, Pending), SsoError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = Pending::new(&self.settings.id, verifier, nonce, next);
        Ok((url.to_string(), state.secret().clone(), pending))
    }

    /// Exchanges the code (with the PKCE verifier) and checks the ID token: signature
    /// against the JWKS (fetched again once for a key it lacks), `iss`, `aud`, `exp`
    /// and `nonce`.
    pub async fn finish(&self, code: String, pending: Pending) -> Result<Person, SsoError> {
        let client = self.client(self.metadata(false).await?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| SsoError::Unavailable)?
            .set_pkce_verifier(pending.verifier)
            .request_async(&send)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %self.settings.id, error = %token_error(&e), "OpenID Connect code exchange failed");
                SsoError::Failed
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            tracing::warn!(provider = %self.settings.id, "the token response has no ID token");
            SsoError::Failed
        })?;
        let claims = match id_token.claims(&client.id_token_verifier(), &pending.nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key the cached set lacks: the provider rotated its keys.
                let client = self.client(self.metadata(true).await?);
                id_token
                    .claims(&client.id_token_verifier(), &pending.nonce)
                    .map_err(|e| self.rejected(&e))?
                    .clone()
            }
            Err(e) => return Err(self.rejected(&e)),
        };
        let role_claim = claims
            .additional_claims()
            .claims
            .get(&self.settings.role_claim);
        Ok(Person {
            subject: claims.subject().as_str().to_string(),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_string()),
            email: claims.email().map(|e| e.as_str().to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
            role: map_role(role_claim, &self.settings.roles),
        })
    }

    fn rejected(&self, e: &openidconnect::ClaimsVerificationError) -> SsoError {
        tracing::warn!(provider = %self.settings.id, error = %e, "ID token refused");
        SsoError::Failed
    }
}

/// The token endpoint's refusal in words, without the provider's free text.
fn token_error<RE: std::error::Error + 'static>(
    e: &openidconnect::RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => format!("{}", r.error()),
        openidconnect::RequestTokenError::Request(_) => "request failed".into(),
        openidconnect::RequestTokenError::Parse(_, _) => "unreadable answer".into(),
        openidconnect::RequestTokenError::Other(_) => "other".into(),
    }
}

/// Every configured provider, the pending log-ins and the handoff codes.
pub struct Sso {
    pub providers: Vec<Provider>,
    pub pending: OneUse<Pending>,
    /// One-time code (its SHA-256) → the session JSON for the log-in page.
    pub handoffs: OneUse<Value>,
}

impl Sso {
    /// The providers of `settings`, redirecting to `{public_url}/auth/oidc/{id}/callback`.
    pub fn new(providers: &[OidcProvider], public_url: &str) -> Sso {
        let base = public_url.trim_end_matches('/');
        let providers = providers
            .iter()
            .filter_map(|p| {
                let uri = format!("{base}/auth/oidc/{}/callback", p.id);
                let redirect = RedirectUrl::new(uri).ok()?;
                Some(Provider {
                    settings: p.clone(),
                    redirect,
                    discovered: tokio::sync::Mutex::new(None),
                })
            })
            .collect();
        Sso {
            providers,
            pending: OneUse::new(PENDING_TTL, MAX_PENDING),
            handoffs: OneUse::new(HANDOFF_TTL, MAX_PENDING),
        }
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.settings.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roles() -> BTreeMap<String, Role> {
        BTreeMap::from([
            ("muster-supervisors".to_string(), Role::Supervisor),
            ("muster-operators".to_string(), Role::Operator),
        ])
    }

    #[test]
    fn the_first_mapped_value_of_the_claim_gives_the_role() {
        let r = roles();
        let v = json!(["staff", "muster-operators", "muster-supervisors"]);
        assert_eq!(map_role(Some(&v), &r), Some(Role::Operator));
        let v = json!(["muster-supervisors", "muster-operators"]);
        assert_eq!(map_role(Some(&v), &r), Some(Role::Supervisor));
        assert_eq!(
            map_role(Some(&json!("muster-operators")), &r),
            Some(Role::Operator)
        );
    }

    #[test]
    fn no_mapped_value_no_role() {
        let r = roles();
        assert_eq!(map_role(None, &r), None);
        assert_eq!(map_role(Some(&json!(["staff"])), &r), None);
        assert_eq!(map_role(Some(&json!([])), &r), None);
        assert_eq!(map_role(Some(&json!(7)), &r), None);
        assert_eq!(map_role(Some(&json!({"muster-operators": true})), &r), None);
        // Case matters: claim values are compared exactly.
        assert_eq!(map_role(Some(&json!("MUSTER-OPERATORS")), &r), None);
    }

    #[test]
    fn pending_log_ins_are_single_use_and_expire() {
        let store: OneUse<u32> = OneUse::new(PENDING_TTL, 3);
        let t0 = Instant::now();
        store.insert("a".into(), 1, t0);
        assert_eq!(store.take("a", t0 + Duration::from_secs(1)), Some(1));
        assert_eq!(
            store.take("a", t0 + Duration::from_secs(1)),
            None,
            "used once"
        );
        store.insert("b".into(), 2, t0);
        assert_eq!(store.take("b", t0 + PENDING_TTL), None, "expired");
        assert_eq!(store.take("nope", t0), None);
    }

    #[test]
    fn unfinished_log_ins_are_counted_by_what_they_hold_while_live() {
        let store: OneUse<&str> = OneUse::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        store.insert("a".into(), "10.0.0.1", t0);
        store.insert("b".into(), "10.0.0.1", t0);
        store.insert("c".into(), "10.0.0.2", t0);
        assert_eq!(store.count_where(|a| *a == "10.0.0.1", t0), 2);
        store.take("a", t0);
        assert_eq!(store.count_where(|a| *a == "10.0.0.1", t0), 1);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(store.count_where(|a| *a == "10.0.0.1", later), 0, "expired");
    }

    #[test]
    fn pending_log_ins_are_bounded_and_swept() {
        let store: OneUse<u32> = OneUse::new(PENDING_TTL, 3);
        let t0 = Instant::now();
        for (i, k) in ["a", "b", "c", "d"].into_iter().enumerate() {
            store.insert(k.into(), i as u32, t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.take("a", t0), None, "the oldest went");
        assert_eq!(store.take("d", t0 + Duration::from_secs(4)), Some(3));
        // An insert after the lifetime sweeps the expired ones.
        store.insert("e".into(), 9, t0 + PENDING_TTL + Duration::from_secs(5));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn next_stays_on_this_hub() {
        assert_eq!(safe_next("/board").as_deref(), Some("/board"));
        assert_eq!(safe_next("/console?x=1").as_deref(), Some("/console?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "board",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn usernames_come_from_the_claims() {
        assert_eq!(username_from(Some("Ada.L"), None).as_deref(), Some("ada.l"));
        assert_eq!(
            username_from(None, Some("ada@example.org")).as_deref(),
            Some("ada.example.org")
        );
        assert_eq!(
            username_from(Some(" "), Some("bo@x.io")).as_deref(),
            Some("bo.x.io")
        );
        assert_eq!(username_from(Some("@@"), None), None);
        assert_eq!(username_from(None, None), None);
        assert_eq!(
            username_from(Some(&"x".repeat(50)), None).unwrap().len(),
            28
        );
    }

    #[test]
    fn the_redirect_uri_is_under_the_public_url() {
        let p = OidcProvider {
            id: "corp".into(),
            ..OidcProvider::default()
        };
        let sso = Sso::new(&[p], "https://muster.example.org/");
        let provider = sso.provider("corp").expect("configured");
        assert_eq!(
            provider.redirect.as_str(),
            "https://muster.example.org/auth/oidc/corp/callback"
        );
        assert!(sso.provider("other").is_none());
    }
}
