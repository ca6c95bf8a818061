//! Sessions follow their user, and the WebSocket limits hold under parallel and
//! hostile clients (issue 13, findings 9 and 11), against real servers on loopback.

mod server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use muster::domain::user::User;
use muster::engine::{Actor, Command, Engine};
use muster::http::App;
use muster::hub::{Hub, HubOptions, demo};
use muster::time::SystemClock;
use serde_json::{Value, json};
use server::{Client, TestServer, WAIT, close_code};
use tokio_tungstenite::tungstenite::Message;

/// [`server::http`] with the body as JSON (`Null` when it is not).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, text) = server::http(addr, method, path, token, body.as_ref()).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn user(app: &App, username: &str) -> User {
    app.hub
        .with_state(|s| s.users[&s.usernames[username]].clone())
}

fn admin(app: &App) -> Actor {
    Actor::of(&user(app, "admin"))
}

/// Disables `username` through the hub, as the admin console does.
async fn disable(app: &App, username: &str) {
    let id = user(app, username).id;
    let command: Command =
        serde_json::from_value(json!({"kind": "user.disable", "user_id": id})).unwrap();
    app.hub
        .submit(admin(app), None, command)
        .await
        .expect("disabled");
}

fn contact(n: usize) -> Command {
    serde_json::from_value(json!({"kind": "contact.receive", "channel": "phone",
        "caller": {"name": format!("Caller {n}")}, "summary": "Smoke in the stairwell"}))
    .unwrap()
}

/// The hello of `token`; the close code when the hub refuses it, `None` on a welcome.
async fn hello_refusal(url: &str, token: &str) -> Option<u16> {
    let mut ws = Client::connect(url).await;
    ws.send(Message::text(
        json!({"type": "hello", "token": token}).to_string(),
    ))
    .await
    .unwrap();
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("an answer")
    {
        Some(Ok(Message::Text(t))) => {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["type"], "welcome", "{v}");
            None
        }
        Some(Ok(Message::Close(Some(f)))) => Some(f.code.into()),
        other => panic!("neither a welcome nor a close: {other:?}"),
    }
}

// ---- finding 9: sessions follow the user's current state ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_09_a_disabled_users_token_is_refused_even_when_the_revocation_is_missed() {
    let s = TestServer::start().await;
    let app = s.running.app.clone();
    let token = s.token("operator2").await;
    let (status, _) = http(s.running.addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 200);

    // The revoker cannot end the sessions (a stalled session store): only the user's
    // current state can refuse the token.
    let held = app.tokens.hold_revocations().await;
    disable(&app, "operator2").await;
    let (status, body) = http(s.running.addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(hello_refusal(&s.url(), &token).await, Some(4401));
    drop(held);
}

/// A server like [`TestServer`] but with a publication channel of `capacity` events,
/// so a subscriber that stalls really lags.
async fn server_with_publish_capacity(capacity: usize) -> (Arc<App>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let l = server::loaded(dir.path());
    let log = muster::server::open_log(&l).await.unwrap();
    let options = HubOptions {
        publish_capacity: capacity,
        ..muster::server::hub_options(&l).await.unwrap()
    };
    let hub = Hub::start(
        Engine::new(l.centre.clone()),
        log,
        Arc::new(SystemClock),
        options,
    )
    .await
    .unwrap();
    let d = l.demo.as_ref().expect("the shipped config has the demo");
    let mut hashes = BTreeMap::new();
    for u in &d.users {
        hashes
            .entry(u.password.clone())
            .or_insert_with(|| muster::auth::hash_password(&u.password));
    }
    demo::seed(&hub, d, |p| hashes[p].clone()).await.unwrap();
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = App::new(hub, &l, stop_rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(muster::http::serve(
        listener,
        app.clone(),
        muster::http::routes(app.clone()),
    ));
    // Dropping the sender would read as "shutting down"; keep it for the test's life.
    std::mem::forget(_stop_tx);
    (app, url, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_09_a_lagged_revoker_closes_the_socket_of_a_disabled_user() {
    let (app, url, _dir) = server_with_publish_capacity(8).await;
    let issue = |name: &'static str| {
        let app = app.clone();
        async move {
            app.tokens
                .issue(&user(&app, name), app.hub.clock.now())
                .await
                .unwrap()
                .0
        }
    };
    let mut field1 = Client::hello(&url, &issue("field1").await, None).await;

    // The revoker stalls on field2's revocation; field1's disable and twenty more
    // events overflow its channel of 8 while the fan-out keeps up.
    let held = app.tokens.hold_revocations().await;
    disable(&app, "field2").await;
    disable(&app, "field1").await;
    let operator = Actor::of(&user(&app, "operator"));
    for i in 0..20 {
        app.hub
            .submit(operator.clone(), None, contact(i))
            .await
            .unwrap();
    }
    drop(held);
    assert_eq!(field1.closed().await, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_09_a_log_in_racing_a_disable_never_yields_a_working_session() {
    let s = TestServer::start().await;
    let app = s.running.app.clone();
    let addr = s.running.addr;
    // The password check takes tens of milliseconds; the disable lands inside it.
    let login = tokio::spawn(async move {
        http(
            addr,
            "POST",
            "/api/login",
            None,
            Some(json!({"username": "field3", "password": "muster-demo"})),
        )
        .await
    });
    disable(&app, "field3").await;
    let (status, body) = login.await.unwrap();
    if status == 200 {
        let token = body["token"].as_str().unwrap();
        let (status, body) = http(addr, "GET", "/api/state", Some(token), None).await;
        assert_eq!(status, 401, "a disabled user kept a session: {body}");
    } else {
        assert_eq!(status, 401, "{body}");
    }
}

// ---- finding 11: WebSocket limits ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_11_parallel_connects_for_one_user_never_pass_the_limit() {
    let limit = 3;
    let s = TestServer::start_with(
        |l| l.settings.limits.max_connections_per_user = limit,
        Arc::new(SystemClock),
    )
    .await;
    let token = s.token("supervisor").await;
    for round in 0..5 {
        // Connect all first, then say hello on every socket at once.
        let mut sockets = Vec::new();
        for _ in 0..24 {
            sockets.push(Client::connect(&s.url()).await);
        }
        let hello = Message::text(json!({"type": "hello", "token": token}).to_string());
        let answers = futures_util::future::join_all(sockets.into_iter().map(|mut ws| {
            let hello = hello.clone();
            async move {
                ws.send(hello).await.unwrap();
                let first = tokio::time::timeout(WAIT, ws.next()).await.expect("answer");
                (ws, first)
            }
        }))
        .await;
        let mut open = Vec::new();
        let mut refused = 0;
        for (ws, first) in answers {
            match first {
                Some(Ok(Message::Text(_))) => open.push(ws),
                Some(Ok(Message::Close(Some(f)))) if u16::from(f.code) == 4429 => refused += 1,
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(
            open.len(),
            limit,
            "round {round}: {} sockets welcomed",
            open.len()
        );
        assert_eq!(refused, 24 - limit);
        // Free the slots before the next round: wait until the hub has let go.
        drop(open);
        let until = Instant::now() + WAIT;
        while !s.running.app.registry.is_empty() {
            assert!(Instant::now() < until, "sockets not released");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_11_a_client_that_never_reads_its_welcome_is_dropped() {
    let s = TestServer::start_with(
        |l| l.settings.limits.write_timeout_secs = 1,
        Arc::new(SystemClock),
    )
    .await;
    let app = s.running.app.clone();
    let start = app.hub.seq();
    // A backlog of several megabytes, more than the kernel buffers between the two.
    let operator = Actor::of(&user(&app, "operator"));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (hub, operator) = (app.hub.clone(), operator.clone());
            tokio::spawn(async move {
                for i in 0..1_000 {
                    hub.submit(operator.clone(), None, contact(t * 10_000 + i))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let token = s.token("supervisor").await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(s.running.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            s.url().as_str(),
        )
        .unwrap(),
        stream,
    )
    .await
    .unwrap();
    ws.send(Message::text(
        json!({"type": "hello", "token": token, "resume_from": start}).to_string(),
    ))
    .await
    .unwrap();
    // It registered, then stalled in the welcome; the hub must let it go.
    let until = Instant::now() + WAIT;
    while app.registry.is_empty() {
        assert!(Instant::now() < until, "the hello was never taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let until = Instant::now() + Duration::from_secs(8);
    while !app.registry.is_empty() {
        assert!(
            Instant::now() < until,
            "a client that does not read holds its socket"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_11_a_ping_flood_is_closed_like_a_command_flood() {
    let s = TestServer::start_with(
        |l| l.settings.limits.commands_per_second = 5,
        Arc::new(SystemClock),
    )
    .await;
    let mut c = s.client("operator").await;
    for _ in 0..200 {
        if c.ws.send(Message::Ping(Default::default())).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut c.ws).await, Some(4429));

    // JSON pings and other frames that are not commands count too.
    let mut c = s.client("operator").await;
    for _ in 0..200 {
        if c.ws
            .send(Message::text(r#"{"type":"ping"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(close_code(&mut c.ws).await, Some(4429));
}
