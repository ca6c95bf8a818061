//! # Muster
//!
//! A real-time incident coordination hub for contact centres. The truth is an
//! append-only, hash-chained event log; one writer turns commands into events; every
//! client sees the events it may see, in `seq` order, only after they are durable.
//!
//! # Layout
//!
//! - [`domain`]: the incident-management model. Pure: no tokio, no I/O, time passed in.
//! - [`engine`]: the single writer's logic: `Command + Actor + now -> events`, and
//!   `apply` that folds events into [`engine::State`].
//! - [`store`]: the event log (SQLite embedded default, Redis for clusters).
//! - [`hub`]: the runtime: sequencer with group commit, fan-out, sessions.
//! - [`http`]: warp filters for the HTTP API and the WebSocket endpoint.
//! - [`config`]: settings and the centre's procedures, validated at start-up.
//! - [`time`]: the clock (system or manual) and the one timestamp format.
//!
//! Dependencies point one way: `http` → `hub` → `engine` → `domain`; `store` knows
//! stored events and nothing above them.

pub mod auth;
pub mod bench;
pub mod config;
pub mod domain;
pub mod engine;
pub mod genlog;
pub mod http;
pub mod hub;
pub mod load;
pub mod notify;
pub mod server;
pub mod store;
pub mod time;
