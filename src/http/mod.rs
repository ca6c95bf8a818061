//! The network edge: an accept loop of our own (TCP_NODELAY, a connection cap,
//! graceful shutdown) serving HTTP/1.1 through hyper, with `/ws` upgraded by hand so
//! each socket gets a small, bounded WebSocket configuration, and every other path
//! answered by the warp filters in [`api`].

pub mod api;
pub mod commands;
pub mod error;
pub mod handlers;
pub mod ops;
pub mod throttle;
pub mod web;
