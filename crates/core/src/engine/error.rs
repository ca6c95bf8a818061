//! Why the engine refused a command. Each variant maps to exactly one wire code
//! (`code()`); the message says what to fix.

use super::Code;
use crate::domain::DomainError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request is malformed (not a command, unknown kind, wrong types).
    #[error("{0}")]
    BadRequest(String),
    /// The actor's role may not do this, or not to this object.
    #[error("{0}")]
    Forbidden(String),
    /// The object named does not exist (or the actor may not know it exists).
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The lifecycle does not allow the move.
    #[error("{entity} cannot go from {from} to {to}")]
    InvalidTransition {
        entity: &'static str,
        from: String,
        to: String,
    },
    /// A field is missing or malformed.
    #[error("{field}: {reason}")]
    ValidationFailed { field: String, reason: String },
    /// A step the procedure requires is missing; the message names it.
    #[error("{message}")]
    ProcedureViolation { rule: String, message: String },
    /// The state changed under the command (e.g. the resource was just assigned).
    #[error("{0}")]
    Conflict(String),
    /// Personal data linked to an open incident or case may not be erased without an
    /// override; the message names what is open.
    #[error("{0}")]
    LegalHold(String),
    /// The event log cannot take the command now; nothing was kept.
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// The wire code from PROTOCOL.md.
    pub fn code(&self) -> Code {
        match self {
            Error::BadRequest(_) => Code::BadRequest,
            Error::Forbidden(_) => Code::Forbidden,
            Error::NotFound { .. } => Code::NotFound,
            Error::InvalidTransition { .. } => Code::InvalidTransition,
            Error::ValidationFailed { .. } => Code::ValidationFailed,
            Error::ProcedureViolation { .. } => Code::ProcedureViolation,
            Error::Conflict(_) => Code::Conflict,
            Error::LegalHold(_) => Code::LegalHold,
            Error::Unavailable(_) => Code::Unavailable,
        }
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub fn validation(field: &str, reason: impl Into<String>) -> Self {
        Error::ValidationFailed {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidTransition { entity, from, to } => {
                Error::InvalidTransition { entity, from, to }
            }
            DomainError::Validation { field, reason } => Error::ValidationFailed { field, reason },
            DomainError::ProcedureViolation { rule, message } => {
                Error::ProcedureViolation { rule, message }
            }
        }
    }
}
