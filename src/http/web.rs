//! The web apps (`GET /`, `/console`, …): files from `web/`, embedded at build time so
//! the binary is all a demo needs, or read from `server.web_dir` when set so
//! front-end work needs no rebuild. Unknown files are `not_found` like any path.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use warp::http::{Method, header};
use warp::{Filter, Rejection, Reply};

use crate::server::App;

/// The embedded files: name under `web/`, bytes.
const FILES: &[(&str, &[u8])] = &[("index.html", include_bytes!("../../web/index.html"))];

/// `GET` (or `HEAD`) of any path not answered by the API: a file of the web apps.
pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    let dir = app.settings.server.web_dir.clone();
    warp::path::tail()
        .and(warp::method())
        .and(warp::any().map(move || dir.clone()))
        .and_then(serve)
}

async fn serve(
    tail: warp::path::Tail,
    method: Method,
    dir: Option<PathBuf>,
) -> Result<warp::reply::Response, Rejection> {
    if method != Method::GET && method != Method::HEAD {
        return Err(warp::reject::not_found());
    }
    let name = file_name(tail.as_str()).ok_or_else(warp::reject::not_found)?;
    let bytes = match dir {
        Some(dir) => from_dir(&dir, &name).await,
        None => embedded(&name).map(<[u8]>::to_vec),
    };
    let bytes = bytes.ok_or_else(warp::reject::not_found)?;
    Ok(file_response(&name, bytes))
}

/// The file a path names: `""` → `index.html`, `console` → `console.html`; `None` for
/// anything that tries to leave the directory.
fn file_name(tail: &str) -> Option<String> {
    let tail = tail.trim_end_matches('/');
    if tail.is_empty() {
        return Some("index.html".into());
    }
    let safe = Path::new(tail)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe || tail.contains('\\') {
        return None;
    }
    if Path::new(tail).extension().is_some() {
        Some(tail.to_string())
    } else {
        Some(format!("{tail}.html"))
    }
}

fn embedded(name: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

async fn from_dir(dir: &Path, name: &str) -> Option<Vec<u8>> {
    tokio::fs::read(dir.join(name)).await.ok()
}

fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "webmanifest") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn file_response(name: &str, bytes: Vec<u8>) -> warp::reply::Response {
    let reply = warp::reply::with_header(bytes, header::CONTENT_TYPE, content_type(name));
    let reply = warp::reply::with_header(reply, header::CACHE_CONTROL, "no-cache");
    warp::reply::with_header(reply, "x-content-type-options", "nosniff").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_files_and_never_leave_the_directory() {
        assert_eq!(file_name("").as_deref(), Some("index.html"));
        assert_eq!(file_name("console").as_deref(), Some("console.html"));
        assert_eq!(file_name("app.js").as_deref(), Some("app.js"));
        assert_eq!(file_name("../secret"), None);
        assert_eq!(file_name("a/../../b"), None);
        assert!(embedded("index.html").is_some());
        assert!(embedded("nope.html").is_none());
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
    }
}
