//! The browser-facing security headers (issue 13, finding 7) on a real server: every
//! page, script, style sheet, API answer and refusal carries the Content-Security-Policy
//! and friends, and only the field app may ask for the device's location.

mod server;

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use server::TestServer;

/// `GET path` by hand: the status and the response headers (names lower-cased).
async fn head_of(addr: SocketAddr, path: &str) -> (u16, HashMap<String, String>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let resp = String::from_utf8_lossy(&resp);
    let head = resp.split_once("\r\n\r\n").map_or(&*resp, |(h, _)| h);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

const EVERY_PATH: [(&str, u16); 11] = [
    ("/", 200),
    ("/console", 200),
    ("/board", 200),
    ("/field", 200),
    ("/review", 200),
    ("/admin", 200),
    ("/lib/muster.js", 200),
    ("/lib/app.css", 200),
    ("/healthz", 200),
    ("/api/state", 401),
    ("/no-such-page", 404),
];

#[tokio::test]
async fn finding_07_every_response_carries_a_strict_content_security_policy_and_no_framing() {
    let s = TestServer::start().await;
    for (path, want) in EVERY_PATH {
        let (status, h) = head_of(s.running.addr, path).await;
        assert_eq!(status, want, "{path}");
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path} has no Content-Security-Policy: {h:?}"));
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "connect-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} not in {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(
            h.get("x-frame-options").map(String::as_str),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").map(String::as_str),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            h.get("x-content-type-options").map(String::as_str),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn finding_07_only_the_field_app_may_use_geolocation() {
    let s = TestServer::start().await;
    for (path, _) in EVERY_PATH {
        let (_, h) = head_of(s.running.addr, path).await;
        let policy = h
            .get("permissions-policy")
            .unwrap_or_else(|| panic!("{path} has no Permissions-Policy: {h:?}"));
        let want = if path == "/field" {
            "geolocation=(self)"
        } else {
            "geolocation=()"
        };
        assert!(policy.contains(want), "{path}: {policy}");
        assert!(policy.contains("camera=()"), "{path}: {policy}");
        assert!(policy.contains("microphone=()"), "{path}: {policy}");
    }
}

#[tokio::test]
async fn the_field_apps_manifest_worker_and_icons_are_served_with_their_types() {
    let s = TestServer::start().await;
    for (path, want) in [
        ("/field.webmanifest", "application/manifest+json"),
        ("/field-sw.js", "text/javascript; charset=utf-8"),
        ("/icons/field-192.png", "image/png"),
        ("/icons/field-512.png", "image/png"),
        ("/icons/field-maskable-512.png", "image/png"),
        ("/icons/apple-touch-icon.png", "image/png"),
        ("/favicon-alert.svg", "image/svg+xml"),
    ] {
        let (status, h) = head_of(s.running.addr, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            h.get("content-type").map(String::as_str),
            Some(want),
            "{path}"
        );
    }
    // The service worker and the manifest come from this origin, said outright.
    let (_, h) = head_of(s.running.addr, "/field").await;
    let csp = &h["content-security-policy"];
    assert!(csp.contains("worker-src 'self';"), "{csp}");
    assert!(csp.contains("manifest-src 'self';"), "{csp}");
}
