//! The muster crate's tests use the one test world, `muster_core::testing` (the
//! shipped demo centre seeded through ordinary commands, actors and viewers by
//! username, command builders). What is here needs this crate's place on disk.

#![allow(dead_code)]

use std::path::PathBuf;

pub use muster_core::testing::*;

/// A path inside the crate, independent of the working directory.
pub fn crate_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}
