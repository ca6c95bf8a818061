//! # muster-core
//!
//! The incident-management model and the rules that change it, with no I/O: the build
//! keeps it so, since this crate depends on no runtime, network or database crate
//! (docs/ARCHITECTURE.md).
//!
//! - [`domain`]: contacts, incidents, resources, assignments, users, messages, cases,
//!   support plans and the centre's procedures, each with its lifecycle.
//! - [`engine`]: the single writer's logic: `Command + Actor + now -> events`, and
//!   `apply`, which folds events into [`engine::State`].
//! - [`projection`]: read models built from the state and the records: what a viewer
//!   sees ([`projection::view`]), the procedure's conformance, and the review with its
//!   findings.
//! - [`privacy`]: personal data: which fields of which events are personal (the vault
//!   seals them), its categories, data subjects, retention and erasure.
//! - [`config`]: the centre's procedures and demo seed, parsed and located.
//! - [`time`]: the clock trait and the one timestamp format.
//! - `testing` (feature `testing`, and in this crate's tests): the one test world.
//!
//! Inside the crate, dependencies point one way: `projection` → `engine` → `domain`
//! (tests/architecture.rs fails on an import against them).

pub mod config;
pub mod domain;
pub mod engine;
pub mod privacy;
pub mod projection;
pub mod time;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
