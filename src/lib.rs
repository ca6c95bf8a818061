//! # Muster
//!
//! A real-time incident coordination hub for contact centres. The truth is an
//! append-only, hash-chained event log; one writer turns commands into events; every
//! client sees the events it may see, in `seq` order, only after they are durable.
//!
//! # Layout
//!
//! This crate is the hub: its runtime and its edges. The model and the rules are in
//! `muster-core`, the event log in `muster-log` (docs/ARCHITECTURE.md).
//!
//! - [`hub`]: the runtime: sequencer with group commit, fan-out, sessions.
//! - [`http`]: warp filters for the HTTP API and the WebSocket endpoint.
//! - [`server`]: the whole hub put together from the settings.
//! - [`notify`]: the escalation ladder's messages out (webhooks).
//! - [`outbound`]: the one HTTP client for requests to other services.
//! - [`auth`]: password hashes and session tokens.
//! - [`config`]: settings, validated at start-up, and the centre's files.
//! - [`bench`]: `muster bench`, the hub measured in-process.
//!
//! Dependencies point one way: `server` → `http` → `notify` → `hub` →
//! `muster_core::engine` → `muster_core::domain`; `config` and `outbound` use none of
//! them; and `muster_log` knows stored events and nothing above them.
//!
//! The core's and the log's modules are re-exported under their old names
//! (`muster::engine`, `muster::store`, ...) for the tests and tools.

pub mod auth;
pub mod bench;
pub mod config;
pub mod http;
pub mod hub;
pub mod interop;
pub mod migrate;
pub mod notify;
pub mod oidc;
pub mod outbound;
pub mod server;

pub use muster_core::{domain, engine, projection, time};
pub use muster_log as store;
