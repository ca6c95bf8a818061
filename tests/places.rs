//! The gazetteer and geocoder routes through `routes(app)` with a real hub on the
//! shipped configuration (its `config/places.csv`): `GET /api/places` needs a session,
//! is bounded and matches postcodes whatever their case and spacing; `GET
//! /api/geocode` asks a Nominatim-compatible stand-in on loopback, reports it off,
//! failing, slow, oversized or redirecting with clear codes, and refuses to ask it more
//! than four questions at once. Also: an operator can record a call the intake gateway
//! never saw (`contact.receive`), and the log says who took it.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use muster::config::{Loaded, load_all_with_env};
use muster::http::App;
use muster::http::api::routes;
use muster::server::start_hub;
use muster::time::SystemClock;

struct Api {
    app: Arc<App>,
    _dir: tempfile::TempDir,
    _shutdown_tx: tokio::sync::watch::Sender<bool>,
}

impl Api {
    async fn start(tweak: impl FnOnce(&mut Loaded)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::env::set_current_dir(&root).unwrap();
        let no_env = std::iter::empty::<(String, String)>();
        let mut loaded = load_all_with_env(Some(&root.join("config/muster.toml")), no_env)
            .expect("shipped configuration is valid");
        loaded.settings.store.data_dir = dir.path().to_path_buf();
        tweak(&mut loaded);
        let hub = start_hub(&loaded, Arc::new(SystemClock)).await.unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        Api {
            app: App::new(hub, &loaded, rx),
            _dir: dir,
            _shutdown_tx: tx,
        }
    }

    async fn send(&self, req: warp::test::RequestBuilder) -> (u16, Value) {
        let res = req.reply(&routes(self.app.clone())).await;
        let body = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        (res.status().as_u16(), body)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = warp::test::request().method("GET").path(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.send(req).await
    }

    async fn session(&self, username: &str) -> (String, Value) {
        let req = warp::test::request()
            .method("POST")
            .path("/api/login")
            .json(&json!({"username": username, "password": "muster-demo"}));
        let (status, body) = self.send(req).await;
        assert_eq!(status, 200, "{body}");
        (
            body["token"].as_str().unwrap().to_string(),
            body["user"].clone(),
        )
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn places_need_a_session_match_postcodes_loosely_and_are_bounded() {
    let api = Api::start(|_| {}).await;
    assert!(api.app.places.places.len() >= 20, "the demo gazetteer");
    assert_eq!(api.get("/api/places?q=civic", None).await.0, 401);
    let (op, _) = api.session("operator").await;

    let (status, body) = api.get("/api/places?q=civic", Some(&op)).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body)[0], "civic-centre");
    let civic = &body["places"][0];
    assert!(civic["notes"].as_str().unwrap().contains("key safe"));
    assert!(civic["lat"].is_f64() && civic["lon"].is_f64());
    assert_eq!(body["geocoder"], false, "none is configured");

    // The postcode as typed on a phone call: any case, any spacing.
    for q in ["WC2N%205DU", "wc2n5du", "%20Wc2N%20%205dU%20"] {
        let (_, body) = api.get(&format!("/api/places?q={q}"), Some(&op)).await;
        assert_eq!(
            ids(&body).first().map(String::as_str),
            Some("civic-centre"),
            "{q}"
        );
    }
    // Bounded: a query matching most places answers at most 10, fewer when asked.
    let (_, body) = api.get("/api/places?q=e", Some(&op)).await;
    assert_eq!(ids(&body).len(), 10);
    let (_, body) = api.get("/api/places?q=e&limit=3", Some(&op)).await;
    assert_eq!(ids(&body).len(), 3);
    let (_, body) = api.get("/api/places?q=", Some(&op)).await;
    assert!(ids(&body).is_empty());
    // By id: the one place a location's place_id names.
    let (_, body) = api
        .get("/api/places?id=kennington-substation", Some(&op))
        .await;
    assert_eq!(ids(&body), ["kennington-substation"]);
    let (_, body) = api.get("/api/places?id=nowhere", Some(&op)).await;
    assert!(ids(&body).is_empty());
    let long = "x".repeat(201);
    let (status, body) = api.get(&format!("/api/places?q={long}"), Some(&op)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "validation_failed");
}

/// A Nominatim-compatible stand-in: answers `/search` with one result echoing `q`,
/// or `status` (e.g. 500) instead; records each request line.
async fn stand_in(status: u16) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/nominatim", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            log.lock()
                .unwrap()
                .push(req.lines().next().unwrap_or("").to_string());
            let body = r#"[{"place_id":1,"display_name":"10 Downing Street, London","lat":"51.5034","lon":"-0.1276"}]"#;
            let answer = format!(
                "HTTP/1.0 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn geocode_asks_the_configured_geocoder_server_side() {
    let (url, seen) = stand_in(200).await;
    let api = Api::start(|l| l.settings.centre.geocoder_url = url.clone()).await;
    let (op, _) = api.session("operator").await;
    assert_eq!(api.get("/api/geocode?q=downing", None).await.0, 401);
    let (status, body) = api.get("/api/geocode?q=10%20Downing%20St", Some(&op)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["name"], "10 Downing Street, London");
    assert_eq!(body["results"][0]["lat"], 51.5034);
    let (_, places) = api.get("/api/places?q=civic", Some(&op)).await;
    assert_eq!(places["geocoder"], true);
    let line = seen.lock().unwrap()[0].clone();
    assert!(
        line.starts_with("GET /nominatim/search?format=jsonv2&limit=10&q=10+Downing+St "),
        "{line}"
    );
}

#[tokio::test]
async fn geocode_off_or_failing_says_so_with_a_code() {
    let api = Api::start(|_| {}).await;
    let (op, _) = api.session("operator").await;
    let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let (url, _) = stand_in(500).await;
    let api = Api::start(|l| l.settings.centre.geocoder_url = url.clone()).await;
    let (op, _) = api.session("operator").await;
    let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "geocoder_failed");
    assert_eq!(body["error"]["retryable"], true);

    // Nothing listening: a clear failure, not a hang.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let api = Api::start(|l| l.settings.centre.geocoder_url = url.clone()).await;
    let (op, _) = api.session("operator").await;
    let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "geocoder_failed");
}

/// A geocoder on loopback that reads the request, then answers `answer` (or nothing,
/// holding the connection open, when `None`).
async fn raw_stand_in(answer: Option<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = s.write_all(&a).await;
                    }
                    None => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_slow_or_oversized_or_redirecting_geocoder_fails_with_a_code() {
    let failure = |answer: Option<Vec<u8>>| async move {
        let url = raw_stand_in(answer).await;
        let api = Api::start(|l| {
            l.settings.centre.geocoder_url = url.clone();
            l.settings.centre.geocoder_timeout_ms = 300;
        })
        .await;
        let (op, _) = api.session("operator").await;
        let started = std::time::Instant::now();
        let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
        assert_eq!(status, 502, "{body}");
        assert_eq!(body["error"]["code"], "geocoder_failed");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        body["error"]["message"].as_str().unwrap().to_string()
    };
    // No answer: the timeout, not a hang.
    let message = failure(None).await;
    assert!(message.contains("within 300 ms"), "{message}");
    // An answer past 256 KiB, without a length up front: read no further than that.
    let mut huge = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[".to_vec();
    huge.resize(300 * 1024, b' ');
    let message = failure(Some(huge)).await;
    assert!(message.contains("over 256 KiB"), "{message}");
    // A redirect is not followed (it could lead anywhere).
    let redirect =
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n";
    let message = failure(Some(redirect.to_vec())).await;
    assert!(message.contains("HTTP 302"), "{message}");
}

#[tokio::test]
async fn no_more_than_four_geocoder_questions_at_once() {
    // A geocoder that takes every question and answers none; it counts them.
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counter = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    let api = Api::start(|l| {
        l.settings.centre.geocoder_url = url.clone();
        l.settings.centre.geocoder_timeout_ms = 2_000;
    })
    .await;
    let (op, _) = api.session("operator").await;
    let ask = |app: Arc<App>, token: String| async move {
        let res = warp::test::request()
            .method("GET")
            .path("/api/geocode?q=downing")
            .header("authorization", format!("Bearer {token}"))
            .reply(&routes(app))
            .await;
        res.status().as_u16()
    };
    let held: Vec<_> = (0..4)
        .map(|_| tokio::spawn(ask(api.app.clone(), op.clone())))
        .collect();
    while asked.load(std::sync::atomic::Ordering::SeqCst) < 4 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // A fifth while four wait: refused at once, nothing sent on.
    let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retryable"], true);
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 4);
    // The four time out and give their places back: the next question is asked.
    for h in held {
        assert_eq!(h.await.unwrap(), 502);
    }
    let (status, body) = api.get("/api/geocode?q=downing", Some(&op)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_operator_logs_a_walk_in_call_and_the_log_says_who_took_it() {
    let api = Api::start(|_| {}).await;
    let (op, user) = api.session("operator").await;
    let cmd = json!({"id": "walk-in-1", "command": {
        "kind": "contact.receive", "channel": "walk_in",
        "caller": {"name": "Pat Doe", "phone": "07700 900999"},
        "summary": "Smoke from the plant room",
        "location": {"text": "Civic Centre", "lat": 51.5074, "lon": -0.1278, "place_id": "civic-centre"},
    }});
    let req = warp::test::request()
        .method("POST")
        .path("/api/commands")
        .header("authorization", format!("Bearer {op}"))
        .json(&cmd);
    let (status, body) = api.send(req).await;
    assert_eq!(status, 200, "{body}");
    let (_, state) = api.get("/api/state", Some(&op)).await;
    let contacts = state["contacts"].as_array().unwrap();
    let c = contacts
        .iter()
        .find(|c| c["summary"] == "Smoke from the plant room")
        .expect("the contact is in the state");
    assert_eq!(c["received_by"], user["id"]);
    assert_eq!(c["channel"], "walk_in");
    assert_eq!(c["location"]["place_id"], "civic-centre");

    // A malformed place id is refused, naming the field.
    let mut bad = cmd.clone();
    bad["id"] = json!("walk-in-2");
    bad["command"]["location"]["place_id"] = json!("civic centre");
    let req = warp::test::request()
        .method("POST")
        .path("/api/commands")
        .header("authorization", format!("Bearer {op}"))
        .json(&bad);
    let (status, body) = api.send(req).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("location.place_id"),
        "{body}"
    );
}
