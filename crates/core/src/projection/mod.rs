//! Read models: what the log and the state look like to someone. Each is a pure
//! function of the engine's state and records; none of them feeds back into a
//! decision of the engine.

pub mod conformance;
pub mod debrief;
pub mod findings;
pub mod review;
pub mod view;
