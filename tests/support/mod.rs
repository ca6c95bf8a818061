//! The muster crate's tests use the one test world, `muster_core::testing` (the
//! shipped demo centre seeded through ordinary commands, actors and viewers by
//! username, command builders). What is here needs this crate's place on disk.

#![allow(dead_code)]

use std::path::PathBuf;

#[allow(unused_imports)]
pub use muster_core::testing::*;

/// A path inside the crate, independent of the working directory.
pub fn crate_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shipped settings (`config/muster.toml`, no environment) with the log in
/// `data_dir`: what an in-process hub of a test starts from.
pub fn shipped_settings(data_dir: &std::path::Path) -> muster::config::Loaded {
    let no_env = std::iter::empty::<(String, String)>();
    let mut loaded =
        muster::config::load_all_with_env(Some(&crate_path("config/muster.toml")), no_env)
            .expect("shipped configuration is valid");
    loaded.settings.store.data_dir = data_dir.to_path_buf();
    loaded
}
