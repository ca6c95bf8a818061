//! The incident-management model: contacts, incidents, resources, assignments, users,
//! messages and the centre's procedures. Pure: no tokio, no I/O; time is passed in.
//!
//! Each entity owns its lifecycle: a table of allowed transitions and the checks that
//! return a typed [`DomainError`] when a step is refused.

pub mod assignment;
pub mod case;
pub mod contact;
pub mod duplicate;
pub mod geo;
pub mod ids;
pub mod improvement;
pub mod incident;
pub mod message;
pub mod place;
pub mod procedure;
pub mod push;
pub mod recommend;
pub mod resource;
pub mod roster;
pub mod support;
pub mod triage;
pub mod user;

/// Longest free text (notes, descriptions, messages) a command may carry.
pub const MAX_TEXT: usize = 4_000;
/// Longest short text (names, outcomes, reasons).
pub const MAX_SHORT_TEXT: usize = 500;

/// Why the model refused a step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The lifecycle does not allow this move.
    #[error("{entity} cannot go from {from} to {to}")]
    InvalidTransition {
        entity: &'static str,
        from: String,
        to: String,
    },
    /// A field is missing or malformed.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    /// A step the centre's procedure requires has not been done.
    #[error("{message}")]
    ProcedureViolation { rule: String, message: String },
}

impl DomainError {
    pub fn validation(field: &str, reason: &str) -> Self {
        DomainError::Validation {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    pub fn violation(rule: &str, message: impl Into<String>) -> Self {
        DomainError::ProcedureViolation {
            rule: rule.to_string(),
            message: message.into(),
        }
    }
}

/// Non-empty (when required) and not longer than `max` characters.
pub fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), DomainError> {
    if required && text.trim().is_empty() {
        return Err(DomainError::validation(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(DomainError::validation(
            field,
            &format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Checks an e-mail address given for a person (personal data): `local@domain`, no
/// spaces, at most 254 characters. Deliverability is the mail server's to judge.
pub fn check_email(field: &str, email: &str) -> Result<(), DomainError> {
    let ok = email.chars().count() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && email.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(DomainError::validation(
            field,
            "must be an e-mail address, like name@example.org",
        ))
    }
}

/// Checks a phone number given for a person (personal data): digits with an optional
/// leading `+`, spaces, dashes and brackets allowed, 6 to 15 digits (E.164's bound).
pub fn check_phone(field: &str, phone: &str) -> Result<(), DomainError> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let ok = (6..=15).contains(&digits)
        && phone
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || " -()".contains(c) || (c == '+' && i == 0));
    if ok {
        Ok(())
    } else {
        Err(DomainError::validation(
            field,
            "must be a phone number, like +44 7700 900123",
        ))
    }
}

/// A lifecycle: the states an entity moves through and which moves are allowed.
pub trait Lifecycle: Copy + PartialEq + std::fmt::Debug + serde::Serialize + 'static {
    /// Entity name used in error messages, e.g. `incident`.
    const ENTITY: &'static str;

    /// The states this one may move to.
    fn next(self) -> &'static [Self];

    /// The wire name of the state.
    fn name(self) -> &'static str;

    /// Ok when `self → to` is allowed, else `invalid_transition` naming both.
    fn check_move(self, to: Self) -> Result<(), DomainError> {
        if self.next().contains(&to) {
            Ok(())
        } else {
            Err(DomainError::InvalidTransition {
                entity: Self::ENTITY,
                from: self.name().into(),
                to: to.name().into(),
            })
        }
    }
}

/// An item that finishes (closed, resolved, completed, reviewed…) and stays on record.
/// Snapshots leave out what finished long ago; the time is the one the item carries.
pub trait Finish {
    /// When the item reached its finished state; `None` while it is open, and when the
    /// time was never recorded (such an item is treated as open).
    fn finished_at(&self) -> Option<chrono::DateTime<chrono::Utc>>;
}

/// Declares a `snake_case` wire enum with `name()` and the list of all values.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use wire_enum;
