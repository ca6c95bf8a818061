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

/// The shipped demo's one password.
pub const DEMO_PASSWORD: &str = "muster-demo";

/// A hub in process on a temporary SQLite log with the demo centre, and the state its
/// routes share; the directory lives as long. Tests add their own requests in an
/// `impl InProcess` of their own.
pub struct InProcess {
    pub app: std::sync::Arc<muster::http::App>,
    _dir: tempfile::TempDir,
    _shutdown_tx: tokio::sync::watch::Sender<bool>,
}

/// One answer: status, body (JSON when it parses, else the text as a JSON string), the
/// text and its content type.
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub text: String,
    pub content_type: String,
}

impl InProcess {
    pub async fn start() -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let loaded = shipped_settings(dir.path());
        let clock = std::sync::Arc::new(muster::time::SystemClock);
        let hub = muster::server::start_hub(&loaded, clock).await.unwrap();
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        InProcess {
            app: muster::http::App::new(hub, &loaded, shutdown_rx),
            _dir: dir,
            _shutdown_tx: shutdown_tx,
        }
    }

    /// `req` through the hub's routes.
    pub async fn send(&self, req: warp::test::RequestBuilder) -> Answer {
        let res = req
            .reply(&muster::http::api::routes(self.app.clone()))
            .await;
        let text = String::from_utf8(res.body().to_vec()).unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| serde_json::Value::String(text.clone()));
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Answer {
            status: res.status().as_u16(),
            body,
            text,
            content_type,
        }
    }
}

/// `req` with `Authorization: Bearer <token>` when there is one.
pub fn with_token(
    req: warp::test::RequestBuilder,
    token: Option<&str>,
) -> warp::test::RequestBuilder {
    match token {
        Some(t) => req.header("authorization", format!("Bearer {t}")),
        None => req,
    }
}
