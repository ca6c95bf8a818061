//! Every error code the hub sends a client, from one table: its wire name, its HTTP
//! status and whether the same command may succeed if sent again later. Nothing else
//! spells a code, so a code cannot be misspelt or mapped to a status twice.
//!
//! The status is a plain `u16` because this crate knows nothing of HTTP libraries; the
//! edge turns it into its own status type.

use std::fmt;
use std::str::FromStr;

/// Declares [`Code`] and its table. `retry: true` means the refusal says nothing about
/// the command itself: the hub could not take it now (PROTOCOL.md, "Errors").
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal, $status:literal, retry: $retry:literal;)*) => {
        /// A wire error code (PROTOCOL.md's "Errors" table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// Every wire name, in the table's order.
            const NAMES: &'static [&'static str] = &[$($wire,)*];

            /// The wire name, as in `{"error": {"code": …}}`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $wire,)*
                }
            }

            /// The HTTP status that carries this code.
            pub const fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// Whether a client may send the same command (same id) again later and
            /// expect it to be decided: the refusal was about the hub's condition, not
            /// the command.
            pub const fn retryable(self) -> bool {
                match self {
                    $(Code::$variant => $retry,)*
                }
            }
        }
    };
}

codes! {
    /// Malformed JSON, a missing or wrongly typed field, an unknown kind.
    BadRequest => "bad_request", 400, retry: false;
    /// No session, or it ended: log in again.
    Unauthorized => "unauthorized", 401, retry: false;
    /// The role may not do this, or not to this object.
    Forbidden => "forbidden", 403, retry: false;
    /// No such object, or one the caller may not know exists.
    NotFound => "not_found", 404, retry: false;
    /// The lifecycle does not allow the move.
    InvalidTransition => "invalid_transition", 409, retry: false;
    /// The state is not what the command assumes.
    Conflict => "conflict", 409, retry: false;
    /// A field is empty, too long, out of range or inconsistent.
    ValidationFailed => "validation_failed", 422, retry: false;
    /// A procedure rule is not met.
    ProcedureViolation => "procedure_violation", 422, retry: false;
    /// Personal data under legal hold (a linked incident or case is open): erase with
    /// `override: true` and a `justification`, or once it closes.
    LegalHold => "legal_hold", 409, retry: false;
    /// Too many attempts: wait (`Retry-After`), then try again.
    RateLimited => "rate_limited", 429, retry: true;
    /// The body is over the limit; the same body will be refused again.
    TooLarge => "too_large", 413, retry: false;
    /// The log or the session store cannot answer now; nothing was kept.
    Unavailable => "unavailable", 503, retry: true;
    /// A push notification's acknowledge link outlived its escalation window.
    AckLinkExpired => "ack_link_expired", 410, retry: false;
    /// The configured geocoder could not be reached, was slow, or answered nonsense.
    GeocoderFailed => "geocoder_failed", 502, retry: true;
    /// An exercise control (`/api/exercise…`) on a live hub: they only work under
    /// `muster exercise`.
    NotAnExercise => "not_an_exercise", 404, retry: false;
    /// `POST /api/login` with `auth.local_passwords = false`: this account signs in
    /// through single sign-on (only the `auth.break_glass` accounts use a password).
    LocalLoginDisabled => "local_login_disabled", 403, retry: false;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no wire code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_string()))
    }
}

/// Lets a code be compared with its wire name (`assert_eq!(e.code(), "forbidden")`).
impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// On the wire the name, one of the table's: the API documents list them all.
impl schemars::JsonSchema for Code {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Code".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({"type": "string", "description": "A wire error code.", "enum": names})
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error code")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Code, E> {
                v.parse().map_err(|_| E::unknown_variant(v, Code::NAMES))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_code_has_an_error_status_and_round_trips() {
        for &code in Code::ALL {
            assert!((400..600).contains(&code.status()), "{code}");
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
            assert_eq!(code.as_str().parse::<Code>(), Ok(code));
        }
        let names: BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "two codes share a wire name");
        assert!(serde_json::from_str::<Code>("\"teapot\"").is_err());
        assert!("teapot".parse::<Code>().is_err());
    }

    #[test]
    fn only_refusals_about_the_hub_s_condition_are_retryable() {
        let retryable: Vec<_> = Code::ALL.iter().filter(|c| c.retryable()).collect();
        // geocoder_failed: the geocoder's condition, not the query's (issue 15).
        assert_eq!(
            retryable,
            [
                &Code::RateLimited,
                &Code::Unavailable,
                &Code::GeocoderFailed
            ]
        );
    }

    /// PROTOCOL.md's "Errors" table: each row's code, HTTP status and whether it is
    /// retryable (the last cell).
    fn documented() -> BTreeSet<(String, u16, bool)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md");
        let text = std::fs::read_to_string(path).expect("docs/PROTOCOL.md");
        let heading = "\n## Errors\n";
        let start = text
            .find(heading)
            .expect("PROTOCOL.md has an Errors section")
            + heading.len();
        let section = &text[start..];
        let section = &section[..section.find("\n#").unwrap_or(section.len())];
        section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|row| {
                let cells: Vec<_> = row
                    .trim_end_matches('|')
                    .split('|')
                    .map(|c| c.trim().trim_matches('`'))
                    .collect();
                let status = cells[1].parse().expect("an HTTP status");
                let retryable = match cells[cells.len() - 1] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("retryable must be yes or no, not {other:?}"),
                };
                (cells[0].to_string(), status, retryable)
            })
            .collect()
    }

    #[test]
    fn protocol_md_lists_exactly_these_codes_with_their_statuses_and_retry() {
        let ours: BTreeSet<_> = Code::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), c.status(), c.retryable()))
            .collect();
        assert_eq!(documented(), ours);
    }
}
