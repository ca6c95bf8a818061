//! The incident-management model: contacts, incidents, resources, assignments, users,
//! messages and the centre's procedures. Pure: no tokio, no I/O; time is passed in.
//!
//! Each entity owns its lifecycle: a table of allowed transitions and the checks that
//! return a typed [`DomainError`] when a step is refused.

pub mod ids;
pub mod procedure;
pub mod triage;
pub mod user;
