//! Web Push subscriptions: where a user's browser (the field app's service worker)
//! can be reached when its page is closed. The browser's push service gives the
//! endpoint and the keys; the hub encrypts each push to `p256dh` with `auth`
//! (RFC 8291) and posts it to the endpoint (RFC 8030).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;

/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 1_024;

/// The subscription's keys, as the browser's `PushSubscription.toJSON()` gives them:
/// base64url (padding tolerated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushKeys {
    /// The browser's P-256 public key: 65 bytes, uncompressed (`0x04 ‖ x ‖ y`).
    pub p256dh: String,
    /// The shared authentication secret: 16 bytes.
    pub auth: String,
}

/// One subscription as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushSubscription {
    pub endpoint: String,
    pub keys: PushKeys,
    /// A short tag of the session that made it, so log-out removes it. Never sent to
    /// a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub subscribed_at: DateTime<Utc>,
}

/// Why a subscription was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeReason {
    /// The user (their app) asked.
    User,
    /// The session that made it logged out.
    LoggedOut,
    /// The push service answered 404 or 410: the subscription no longer exists.
    Gone,
    /// A newer subscription took its place (the per-user limit, or the same browser
    /// now signed in as someone else).
    Replaced,
}

impl UnsubscribeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnsubscribeReason::User => "user",
            UnsubscribeReason::LoggedOut => "logged_out",
            UnsubscribeReason::Gone => "gone",
            UnsubscribeReason::Replaced => "replaced",
        }
    }
}

/// An absolute `https://` or `http://` URL with a host, at most
/// [`MAX_ENDPOINT_LEN`] characters, no spaces or control characters.
pub fn check_endpoint(endpoint: &str) -> Result<(), DomainError> {
    let bad = |reason: &str| Err(DomainError::validation("endpoint", reason));
    if endpoint.is_empty() {
        return bad("must not be empty");
    }
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return bad(&format!("must be at most {MAX_ENDPOINT_LEN} characters"));
    }
    if endpoint
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return bad("must not contain spaces or control characters");
    }
    let lower = endpoint.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return bad("must be an absolute https:// URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return bad("must name a host");
    }
    Ok(())
}

/// `p256dh` decodes to a 65-byte uncompressed point; `auth` to 16 bytes.
pub fn check_keys(keys: &PushKeys) -> Result<(), DomainError> {
    match decode(&keys.p256dh) {
        Some(k) if k.len() == 65 && k[0] == 0x04 => {}
        Some(_) => {
            return Err(DomainError::validation(
                "keys.p256dh",
                "must be a 65-byte uncompressed P-256 public key (starting 0x04), base64url",
            ));
        }
        None => return Err(DomainError::validation("keys.p256dh", "must be base64url")),
    }
    match decode(&keys.auth) {
        Some(a) if a.len() == 16 => Ok(()),
        Some(_) => Err(DomainError::validation(
            "keys.auth",
            "must be 16 bytes, base64url",
        )),
        None => Err(DomainError::validation("keys.auth", "must be base64url")),
    }
}

/// Base64url, with or without padding.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() > 256 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_absolute_http_urls_with_a_host() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "http://127.0.0.1:9000/push/1",
            "https://[::1]:8443/p",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT_LEN));
        for bad in [
            "",
            "push.example/abc",
            "ftp://push.example/x",
            "https:///x",
            "https://push.example/a b",
            long.as_str(),
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }
}
