//! Fuzzing every decoder of untrusted input (issue 13): the WebSocket hello and
//! command frames, HTTP JSON bodies, intake contacts (JSON and CAP 1.2 XML), config TOML (and `MUSTER_*`
//! values), stored event bodies and snapshots. Each decoder is called as the hub
//! calls it, on arbitrary text and on near-valid inputs (valid commands with a field
//! mutated, retyped, nested deep, cut short), and what decodes goes on into the
//! engine, so the rules behind the first parse are fuzzed too. Every case must
//! return within [`fuzzkit::CASE_DEADLINE`] without a panic, and every refusal must be a
//! typed error whose code PROTOCOL.md documents. Two tests do the same over a real
//! server's sockets.
//!
//! Tiers: `cargo test --test fuzz` runs a few hundred cases a decoder (the fast
//! tier); `MUSTER_FUZZ_CASES=100000` is the slow tier, run by `scripts/test` beside
//! the load suite.

mod fuzzkit;
mod server;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use fuzzkit::{
    CASE_DEADLINE, Mutation, check_refusal, close_codes, config, documented, excerpt, fixture,
    json_text, mutate, mutation, timed, weird_string,
};
use muster::config::{Settings, centre_from_toml};
use muster::engine::command as cmd;
use muster::engine::{Actor, Command, State};
use muster::http::client::decode_hello;
use muster::http::commands;
use muster::http::handlers::{CommandRequest, LoginRequest, intake_command};
use muster::http::interop::intake_cap_command;
use muster::interop::cap;
use muster::store::{StoredEvent, chain};
use server::TestServer;

/// Fast-tier cases per in-process decoder.
const FAST: u32 = 256;

// ----- the engine behind the decoders ----------------------------------------------

/// Who sends a fuzzed command: every role, and the system actor (timers).
fn actors() -> Vec<Actor> {
    let w = &fixture().world;
    let mut out: Vec<Actor> = ["admin", "supervisor", "operator", "field1"]
        .iter()
        .map(|u| w.actor(u))
        .collect();
    out.push(support::intake_actor());
    out.push(Actor::system());
    out
}

/// Decides a decoded command against the fixture, as the sequencer would: a refusal
/// must carry a documented code; an acceptance must fold, and its events must read
/// back from their stored form exactly (else the hub could not restart on its log).
fn decide(command: Command, actor: &Actor) -> Result<(), TestCaseError> {
    let f = fixture();
    let command = with_hashed_password(command);
    let what = || format!("{command:?} by {}", actor.user_id);
    let (result, took) = timed(what, || {
        f.world
            .engine
            .records(&f.world.state, &command, actor, Some("fuzz-1"), f.world.now)
    });
    prop_assert!(took < CASE_DEADLINE, "deciding took {took:?}: {command:?}");
    let records = match result {
        Err(e) => return check_refusal(e.code().as_str(), &e.to_string()),
        Ok(records) => records,
    };
    prop_assert!(!records.is_empty(), "accepted with no events: {command:?}");
    let mut state = f.world.state.clone();
    let mut prev = chain::GENESIS.to_string();
    for r in &records {
        state.apply(r);
        let stored = muster::store::record::encode(&r, &prev);
        prev = stored.hash.clone();
        let back = muster::store::record::decode(&stored);
        prop_assert!(
            matches!(&back, Ok(b) if b == r),
            "an accepted {} does not read back from its body {}: {back:?}",
            command.kind(),
            excerpt(&stored.body)
        );
    }
    Ok(())
}

/// What `commands::prepare` hands the writer: the password replaced by its hash (the
/// hashing itself is not what is fuzzed, and would take most of the time).
fn with_hashed_password(command: Command) -> Command {
    let hash = Some(support::TEST_HASH.to_string());
    match command {
        Command::UserCreate(cmd::UserCreate {
            username,
            role,
            name,
            resource_id,
            identity,
            ..
        }) => Command::UserCreate(cmd::UserCreate {
            username,
            role,
            password: String::new(),
            name,
            resource_id,
            identity,
            password_hash: hash,
        }),
        Command::UserPassword(cmd::UserPassword { user_id, .. }) => {
            Command::UserPassword(cmd::UserPassword {
                user_id,
                password: String::new(),
                password_hash: hash,
            })
        }
        other => other,
    }
}

/// A command frame: a template command with mutations inside, wrapped in a frame that
/// may itself be mutated.
fn command_frame() -> BoxedStrategy<String> {
    let templates = fixture().command_templates();
    let inner = (
        proptest::sample::select(templates),
        proptest::collection::vec(mutation(), 0..3),
    )
        .prop_map(|(t, ms)| mutate(t, &ms));
    let frame = (
        inner,
        proptest::collection::vec(mutation(), 0..2),
        prop_oneof![Just("c-1".to_string()), weird_string()],
        0u8..4,
    )
        .prop_map(|(command, ms, id, outer)| {
            let frame = json!({"type": "command", "id": id, "command": command});
            // Mutate the frame itself only now and then, so most reach the command.
            if outer == 0 {
                mutate(frame, &ms)
            } else {
                frame
            }
            .to_string()
        });
    prop_oneof![
        6 => frame,
        1 => json_text(vec![json!({"type": "ping"}), json!({"type": "command", "id": "x", "command": {}})]),
    ]
    .boxed()
}

/// The WebSocket reader's decoding of a text frame after the hello (`on_text`): JSON,
/// then `type`, the id, then `commands::parse` of `command`; what parses is decided.
fn decode_command_frame(text: &str, actor: &Actor) -> Result<(), TestCaseError> {
    let (value, took) = timed(|| excerpt(text), || serde_json::from_str::<Value>(text));
    prop_assert!(
        took < CASE_DEADLINE,
        "JSON took {took:?}: {}",
        excerpt(text)
    );
    let Ok(value) = value else { return Ok(()) };
    if value.get("type").and_then(Value::as_str) != Some("command") {
        return Ok(());
    }
    let command = value.get("command").cloned().unwrap_or_default();
    let (parsed, took) = timed(|| excerpt(text), || commands::parse(command));
    prop_assert!(
        took < CASE_DEADLINE,
        "parse took {took:?}: {}",
        excerpt(text)
    );
    match parsed {
        Err(e) => check_refusal(e.code().as_str(), &e.to_string()),
        Ok(command) => decide(command, actor),
    }
}

// ----- in-process decoders ---------------------------------------------------------

proptest! {
    #![proptest_config(config(FAST))]

    /// `decode_hello`: a hello, or close 4400 with a reason PROTOCOL.md quotes.
    #[test]
    fn fuzz_ws_hello(text in json_text(vec![
        json!({"type": "hello", "token": "abc"}),
        json!({"type": "hello", "token": "abc", "resume_from": 42}),
    ])) {
        let (decoded, took) = timed(|| excerpt(&text), || decode_hello(&text));
        prop_assert!(took < CASE_DEADLINE, "hello took {took:?}: {}", excerpt(&text));
        if let Err((code, reason)) = decoded {
            prop_assert!(close_codes().contains(&code), "close code {code} not documented");
            prop_assert!(documented(reason), "close reason {reason:?} not in PROTOCOL.md");
        }
    }

    /// Command frames as the socket reader decodes them, then decided by each role.
    #[test]
    fn fuzz_ws_command_frames(text in command_frame(), who in 0usize..6) {
        decode_command_frame(&text, &actors()[who])?;
    }

    /// `POST /api/login` and `POST /api/commands` bodies: serde into the route's body
    /// type (a `bad_request` with serde's message when it does not fit), then for
    /// commands the id check, `commands::parse` and the engine.
    #[test]
    fn fuzz_http_bodies(
        login in json_text(vec![json!({"username": "operator", "password": "muster-demo"})]),
        command in command_frame(),
        who in 0usize..4,
    ) {
        let (decoded, took) = timed(|| excerpt(&login), || serde_json::from_slice::<LoginRequest>(login.as_bytes()));
        prop_assert!(took < CASE_DEADLINE);
        if let Err(e) = decoded {
            check_refusal("bad_request", &e.to_string())?;
        }
        let (decoded, took) = timed(|| excerpt(&command), || serde_json::from_slice::<CommandRequest>(command.as_bytes()));
        prop_assert!(took < CASE_DEADLINE);
        match decoded {
            Err(e) => check_refusal("bad_request", &e.to_string())?,
            Ok(req) => match commands::check_id(&req.id).and_then(|()| commands::parse(req.command)) {
                Err(e) => check_refusal(e.code().as_str(), &e.to_string())?,
                Ok(cmd) => decide(cmd, &actors()[who])?,
            },
        }
    }

    /// `POST /api/intake/contacts`: JSON, `intake_command`, then the engine as intake.
    #[test]
    fn fuzz_intake_contacts(body in json_text(vec![
        json!({"id": "gw-1", "channel": "sms", "summary": "Tree down", "caller": {"name": "Bo", "phone": "+44", "email": "b@example.org"}, "location": {"text": "High St", "lat": 51.5, "lon": -0.1}, "reason": "report"}),
        json!({"channel": "web", "summary": "Noise", "kind": "contact.receive"}),
    ])) {
        let (decoded, took) = timed(|| excerpt(&body), || serde_json::from_slice::<Value>(body.as_bytes()));
        prop_assert!(took < CASE_DEADLINE);
        let Ok(value) = decoded else { return Ok(()) };
        let (parsed, took) = timed(|| excerpt(&body), || intake_command(value));
        prop_assert!(took < CASE_DEADLINE, "intake took {took:?}: {}", excerpt(&body));
        match parsed {
            Err(e) => check_refusal(e.code().as_str(), &e.to_string())?,
            Ok((_, cmd)) => decide(cmd, &support::intake_actor())?,
        }
    }

    /// `POST /api/intake/cap`: a CAP 1.2 alert (near-valid documents cut, spliced,
    /// stripped of elements, filled with hostile text, given DTDs and entities; and
    /// arbitrary text), `intake_cap_command`, then the engine as intake. What parses
    /// writes back out and reads back equal.
    #[test]
    fn fuzz_intake_cap(body in cap_body()) {
        let (parsed, took) = timed(|| excerpt(&body), || intake_cap_command(Some("application/cap+xml"), body.as_bytes()));
        prop_assert!(took < CASE_DEADLINE, "CAP intake took {took:?}: {}", excerpt(&body));
        match parsed {
            Err(e) => check_refusal(e.code().as_str(), &e.to_string())?,
            Ok((_, cmd)) => decide(cmd, &support::intake_actor())?,
        }
        if let Ok(alert) = cap::parse(&body) {
            let plain = |s: &str| !s.chars().any(|c| c.is_control() && !"\t\n\r".contains(c));
            if plain(&body) {
                let again = cap::parse(&cap::write(&alert));
                prop_assert_eq!(again.as_ref(), Ok(&alert), "written back: {}", excerpt(&body));
            }
        }
    }

    /// Stored event bodies as recovery reads them (`Record::from_stored`), from the
    /// fixture's own log with mutations; what decodes is folded (`apply` is the next
    /// thing recovery does with it).
    #[test]
    fn fuzz_stored_event_bodies(body in stored_body()) {
        let f = fixture();
        let stored = StoredEvent {
            seq: f.world.state.seq + 1,
            at: f.world.now,
            actor: "system".into(),
            command_id: None,
            kind: "fuzzed".into(),
            body: body.clone(),
            v: muster::store::record::VERSION,
            hash: String::new(),
        };
        let (decoded, took) = timed(|| excerpt(&body), || muster::store::record::decode(&stored));
        prop_assert!(took < CASE_DEADLINE);
        match decoded {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(record) => {
                let mut state = f.world.state.clone();
                let (folded, took) = timed(|| excerpt(&body), || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.apply(&record)))
                });
                prop_assert!(took < CASE_DEADLINE);
                prop_assert!(folded.is_ok(), "folding a decoded event panicked: {}", excerpt(&body));
            }
        }
    }
}

proptest! {
    // A snapshot is the whole state: ten times fewer cases keep the tier's time.
    #![proptest_config(fuzzkit::config_tenth(FAST / 8))]

    /// Snapshot bodies as recovery reads them (`serde_json::from_str::<State>`).
    #[test]
    fn fuzz_snapshot_bodies(ms in proptest::collection::vec(mutation(), 1..4), path in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4)) {
        let f = fixture();
        let mut snapshot = serde_json::to_value(&f.world.state).unwrap();
        mutate_at(&mut snapshot, &path, &ms);
        let text = snapshot.to_string();
        let (decoded, took) = timed(|| excerpt(&text), || serde_json::from_str::<State>(&text));
        prop_assert!(took < CASE_DEADLINE);
        if let Err(e) = decoded {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

/// Descends `path` into objects and arrays, then mutates the object found there.
fn mutate_at(v: &mut Value, path: &[proptest::sample::Index], ms: &[Mutation]) {
    let child = match (path.first(), &mut *v) {
        (Some(i), Value::Object(m)) if !m.is_empty() => {
            let k = m.keys().nth(i.index(m.len())).unwrap().clone();
            m.get_mut(&k)
        }
        (Some(i), Value::Array(a)) if !a.is_empty() => {
            let n = a.len();
            a.get_mut(i.index(n))
        }
        _ => None,
    };
    match child {
        Some(c) if c.is_object() || c.is_array() => mutate_at(c, &path[1..], ms),
        _ => {
            let taken = std::mem::take(v);
            *v = mutate(taken, ms);
        }
    }
}

/// Event bodies from the fixture's log, mutated; or junk.
/// Near-valid CAP alerts: the gateway fixture and a minimal alert, each cut, spliced
/// with hostile text, stripped of a line, given a line twice, or wrapped in a DTD; and
/// arbitrary text.
fn cap_body() -> BoxedStrategy<String> {
    let gateway = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cap/gateway-alert.xml"),
    )
    .unwrap();
    let minimal = r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier><sender>b</sender><sent>2026-12-07T06:00:00Z</sent><status>Test</status><msgType>Alert</msgType><scope>Public</scope></alert>"#.to_string();
    let templates = vec![gateway, minimal];
    let edit = (0u8..6, any::<proptest::sample::Index>(), weird_string());
    let mutated = (
        proptest::sample::select(templates),
        proptest::collection::vec(edit, 0..4),
    )
        .prop_map(|(doc, edits)| {
            let mut doc = doc;
            for (op, at, text) in edits {
                let lines: Vec<&str> = doc.lines().collect();
                let line = at.index(lines.len().max(1));
                let cut = at.index(doc.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|i| doc.is_char_boundary(*i))
                    .unwrap_or(0);
                doc = match op {
                    0 => doc[..cut].to_string(),
                    1 => format!("{}{text}{}", &doc[..cut], &doc[cut..]),
                    2 => lines
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != line)
                        .map(|(_, l)| *l)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    3 => lines
                        .iter()
                        .enumerate()
                        .flat_map(|(i, l)| if i == line { vec![*l, *l] } else { vec![*l] })
                        .collect::<Vec<_>>()
                        .join("\n"),
                    4 => format!("<!DOCTYPE alert [<!ENTITY e \"{text}\">]>{doc}"),
                    _ => {
                        let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
                        doc.replacen("Fire alarm", &escaped, 1).replacen(
                            "<identifier>a<",
                            &format!("<identifier>{escaped}<"),
                            1,
                        )
                    }
                };
            }
            doc
        });
    prop_oneof![4 => mutated, 1 => weird_string()].boxed()
}

fn stored_body() -> BoxedStrategy<String> {
    let bodies: Vec<Value> = fixture()
        .world
        .log
        .iter()
        .map(|r| serde_json::to_value(&r.event).unwrap())
        .collect();
    let nested = (
        proptest::sample::select(bodies.clone()),
        proptest::collection::vec(any::<proptest::sample::Index>(), 1..3),
        proptest::collection::vec(mutation(), 1..3),
    )
        .prop_map(|(mut b, path, ms)| {
            mutate_at(&mut b, &path, &ms);
            b.to_string()
        });
    prop_oneof![3 => json_text(bodies), 2 => nested].boxed()
}

// ----- config ------------------------------------------------------------------------

/// One edit of a TOML text, applied line-wise by [`edit_toml`].
#[derive(Clone, Debug)]
enum TomlEdit {
    Delete(proptest::sample::Index),
    Duplicate(proptest::sample::Index),
    /// Replaces the value of the `key = value` line (or the line) with this text.
    SetValue(proptest::sample::Index, String),
    Insert(proptest::sample::Index, String),
    Truncate(proptest::sample::Index),
}

/// TOML values at the edges: numbers past i64, floats TOML allows (`inf`, `nan`),
/// dates, times, odd strings, deep arrays and inline tables.
fn toml_value() -> impl Strategy<Value = String> {
    let literal = proptest::sample::select(vec![
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "0",
        "-0",
        "+1",
        "-1",
        "1e999",
        "-1e999",
        "inf",
        "-inf",
        "nan",
        "0x7fffffffffffffff",
        "0o777",
        "0b1",
        "1_000",
        "1.5",
        "-1.5",
        "4294967296",
        "65536",
        "1979-05-27T07:32:00Z",
        "1979-05-27",
        "07:32:00",
        "9999-12-31T23:59:59Z",
        "true",
        "false",
        "\"\"",
        "\" \"",
        "\"\\u0000\"",
        "\"\\uD800\"",
        "\"\\U0010FFFF\"",
        "'''a\nb'''",
        "\"0.0.0.0:80\"",
        "\"[::]:0\"",
        "\"127.0.0.1:65536\"",
        "\"127.0.0.1:0\"",
        "\"redis://\"",
        "\"http://\"",
        "[]",
        "{}",
        "[\"10.0.0.0/8\", \"::/0\", \"300.1.1.1/33\"]",
        "\"P1\"",
        "\"P9\"",
        "[[1], [\"a\"]]",
        "{ a = 1, a = 2 }",
    ])
    .prop_map(str::to_string);
    let deep = (1usize..3_000, any::<bool>(), any::<bool>()).prop_map(|(n, table, close)| {
        let (open, shut) = if table { ("{ a = ", " }") } else { ("[", "]") };
        let mut s = open.repeat(n);
        s.push('1');
        if close {
            s.push_str(&shut.repeat(n));
        }
        s
    });
    prop_oneof![
        4 => literal,
        2 => any::<i64>().prop_map(|n| n.to_string()),
        2 => weird_string().prop_map(|s| format!("{s:?}")),
        1 => deep,
        1 => any::<String>(),
    ]
}

fn toml_edit() -> impl Strategy<Value = TomlEdit> {
    use proptest::sample::Index;
    let line = prop_oneof![
        toml_value().prop_map(|v| format!("x = {v}")),
        Just("[server]".to_string()),
        Just("[[types]]".to_string()),
        Just("[limits.inner]".to_string()),
        Just("a.b.c = 1".to_string()),
        Just("\"\\u0000\" = 1".to_string()),
        any::<String>(),
    ];
    prop_oneof![
        2 => any::<Index>().prop_map(TomlEdit::Delete),
        1 => any::<Index>().prop_map(TomlEdit::Duplicate),
        6 => (any::<Index>(), toml_value()).prop_map(|(i, v)| TomlEdit::SetValue(i, v)),
        2 => (any::<Index>(), line).prop_map(|(i, l)| TomlEdit::Insert(i, l)),
        1 => any::<Index>().prop_map(TomlEdit::Truncate),
    ]
}

fn edit_toml(text: &str, edits: &[TomlEdit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match e {
            TomlEdit::Delete(i) => {
                lines.remove(i.index(n));
            }
            TomlEdit::Duplicate(i) => {
                let l = lines[i.index(n)].clone();
                lines.insert(i.index(n), l);
            }
            TomlEdit::SetValue(i, v) => {
                // Aim at lines that set something: most lines of the shipped files do.
                let at = (0..n)
                    .map(|k| (i.index(n) + k) % n)
                    .find(|k| lines[*k].contains(" = "))
                    .unwrap_or(i.index(n));
                let l = &lines[at];
                lines[at] = match l.split_once(" = ") {
                    Some((key, _)) => format!("{key} = {v}"),
                    None => format!("x = {v}"),
                };
            }
            TomlEdit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
            TomlEdit::Truncate(i) => {
                let at = i.index(n);
                let l = &mut lines[at];
                let mut end = l.len() / 2;
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                l.truncate(end);
                lines.truncate(at + 1);
            }
        }
    }
    lines.join("\n")
}

fn shipped(rel: &str) -> String {
    std::fs::read_to_string(support::crate_path(rel)).unwrap()
}

/// Located problems: at least one, each naming a field and saying what is wrong, on
/// a line of the file.
fn check_config_errors(
    errors: &muster::config::ConfigErrors,
    text: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(!errors.0.is_empty(), "an error with no problems");
    let lines = text.lines().count() + 1;
    for p in &errors.0 {
        prop_assert!(
            !p.message.trim().is_empty(),
            "a problem with no message: {p:?}"
        );
        prop_assert!(!p.field.is_empty(), "a problem with no field: {p:?}");
        if let Some(line) = p.line {
            prop_assert!(line >= 1 && line <= lines, "line {line} of {lines}: {p:?}");
        }
    }
    Ok(())
}

/// `MUSTER_*` variables the settings read.
const ENV_VARS: &[&str] = &[
    "MUSTER_BIND",
    "MUSTER_ALLOWED_ORIGINS",
    "MUSTER_WEB_DIR",
    "MUSTER_HEADER_TIMEOUT_SECS",
    "MUSTER_BODY_TIMEOUT_SECS",
    "MUSTER_KEEPALIVE_IDLE_SECS",
    "MUSTER_TRUSTED_PROXIES",
    "MUSTER_STORE",
    "MUSTER_DATA_DIR",
    "MUSTER_REDIS_URL",
    "MUSTER_SNAPSHOT_EVERY",
    "MUSTER_MAX_CONNECTIONS_PER_USER",
    "MUSTER_MAX_CONNECTIONS",
    "MUSTER_MAX_CONNECTIONS_PER_ADDRESS",
    "MUSTER_COMMANDS_PER_SECOND",
    "MUSTER_RESUME_WINDOW_SECS",
    "MUSTER_SNAPSHOT_CLOSED_HOURS",
    "MUSTER_TOKEN_TTL_SECS",
    "MUSTER_INTAKE_KEY_HASHES",
    "MUSTER_PARTNER_KEYS",
    "MUSTER_PASSWORD_CHECKS",
    "MUSTER_CENTRE",
    "MUSTER_DEMO_DIR",
    "MUSTER_LOG_FORMAT",
    "MUSTER_WEBHOOK_URL",
];

proptest! {
    #![proptest_config(config(FAST))]

    /// `Settings::from_toml` on the shipped `config/muster.toml` edited, or on junk;
    /// then `MUSTER_*` overrides with hostile values.
    #[test]
    fn fuzz_config_toml(
        edits in proptest::collection::vec(toml_edit(), 0..4),
        junk in proptest::option::weighted(0.1, any::<String>()),
        env in proptest::collection::vec((proptest::sample::select(ENV_VARS), prop_oneof![weird_string(), toml_value()]), 0..3),
    ) {
        let text = junk.unwrap_or_else(|| edit_toml(&shipped("config/muster.toml"), &edits));
        let file = Path::new("config/muster.toml");
        let (parsed, took) = timed(|| excerpt(&text), || Settings::from_toml(file, &text));
        prop_assert!(took < CASE_DEADLINE, "settings took {took:?}: {}", excerpt(&text));
        let mut settings = match parsed {
            Ok(s) => s,
            Err(e) => return check_config_errors(&e, &text),
        };
        let (applied, took) = timed(|| format!("{env:?}"), || settings.apply_env(env.clone()));
        prop_assert!(took < CASE_DEADLINE);
        match applied {
            Ok(()) => { let _ = settings.problems(); }
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
        }
    }

    /// `centre_from_toml` on the shipped `config/centre.toml` edited, or on junk.
    #[test]
    fn fuzz_centre_toml(
        edits in proptest::collection::vec(toml_edit(), 0..4),
        junk in proptest::option::weighted(0.1, any::<String>()),
    ) {
        let text = junk.unwrap_or_else(|| edit_toml(&shipped("config/centre.toml"), &edits));
        let file = Path::new("config/centre.toml");
        let (parsed, took) = timed(|| excerpt(&text), || centre_from_toml(file, &text));
        prop_assert!(took < CASE_DEADLINE, "centre took {took:?}: {}", excerpt(&text));
        if let Err(e) = parsed {
            check_config_errors(&e, &text)?;
        }
    }
}

// ----- end to end: a real server ----------------------------------------------------

/// Cases for the tests over real sockets: 200 in the fast tier, 2,000 in the slow
/// one (each is a round trip, a log-in an Argon2 check).
fn e2e_cases() -> u32 {
    (fuzzkit::cases(FAST) / 50).clamp(200, 2_000)
}

/// A runner for drawing inputs by hand in async tests.
fn runner() -> TestRunner {
    TestRunner::new(config(FAST))
}

fn draw<S: Strategy>(runner: &mut TestRunner, s: &S) -> S::Value {
    s.new_tree(runner).expect("a value").current()
}

async fn fuzz_server() -> TestServer {
    TestServer::start_with(
        |l| l.settings.limits.commands_per_second = 1_000_000,
        Arc::new(muster::time::SystemClock),
    )
    .await
}

/// Waits for the answer to one text frame: its result (or the error result of a
/// frame that was not a command), or a pong; events are skipped. `Err(code)` when
/// the server closes instead.
async fn answer(ws: &mut server::Ws, frame: &str) -> Result<Value, Option<u16>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no answer within 20 s to {}", excerpt(frame)));
        match next {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("the server sends JSON");
                match v["type"].as_str() {
                    Some("result") | Some("pong") => return Ok(v),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(f))) => return Err(f.map(|f| f.code.into())),
            None | Some(Err(_)) => return Err(None),
            Some(Ok(_)) => {}
        }
    }
}

/// A few hundred random frames over one real WebSocket (reconnecting when the server
/// closes it for cause): each is answered with a result whose error code PROTOCOL.md
/// documents, or the socket is closed with a documented code; the hub stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_ws_frames_against_a_real_server() {
    let s = fuzz_server().await;
    let mut runner = runner();
    let frames = command_frame();
    let users = ["admin", "supervisor", "operator", "operator2"];
    let mut who = 0;
    let mut client = s.client(users[who]).await;
    let (mut answered, mut closed) = (0, 0);
    for _ in 0..e2e_cases() {
        let text = draw(&mut runner, &frames);
        let binary = text.len().is_multiple_of(17);
        let message = if binary {
            Message::binary(text.clone().into_bytes())
        } else {
            Message::text(text.clone())
        };
        let sent = client.ws.send(message).await;
        let got = match sent {
            Ok(()) => answer(&mut client.ws, &text).await,
            Err(_) => Err(None),
        };
        match got {
            Ok(v) => {
                answered += 1;
                if v["type"] == "result" && v["ok"] == false {
                    let (code, message) = (&v["error"]["code"], &v["error"]["message"]);
                    check_refusal(code.as_str().unwrap_or(""), message.as_str().unwrap_or(""))
                        .unwrap_or_else(|e| panic!("{e} for {}", excerpt(&text)));
                }
            }
            Err(code) => {
                closed += 1;
                if let Some(code) = code {
                    assert!(
                        close_codes().contains(&code),
                        "undocumented close {code} after {}",
                        excerpt(&text)
                    );
                }
                // A command may have ended this user's sessions: try the next user.
                if code == Some(4401) {
                    who = (who + 1) % users.len();
                }
                client = s.client(users[who]).await;
            }
        }
    }
    assert!(answered > 0, "no frame was answered ({closed} closes)");
    let (status, _) = server::http(s.running.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "the hub is still up");
    eprintln!("ws frames: {answered} answered, {closed} closes");
}

/// Random first frames on fresh sockets: each is closed with a documented code (a
/// random token never opens a session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_ws_hello_against_a_real_server() {
    let s = fuzz_server().await;
    let mut runner = runner();
    let hellos = json_text(vec![
        json!({"type": "hello", "token": "abc"}),
        json!({"type": "hello", "token": "abc", "resume_from": 42}),
    ]);
    for _ in 0..e2e_cases() {
        let text = draw(&mut runner, &hellos);
        let mut ws = server::Client::connect(&s.url()).await;
        let sent = ws.send(Message::text(text.clone())).await;
        if sent.is_err() {
            continue;
        }
        let code = server::close_code(&mut ws).await;
        let code = code.unwrap_or_else(|| panic!("closed without a code after {}", excerpt(&text)));
        assert!(
            [4400, 4401, 4413].contains(&code) && close_codes().contains(&code),
            "close {code} after {}",
            excerpt(&text)
        );
    }
    let (status, _) = server::http(s.running.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "the hub is still up");
}

/// One HTTP/1.1 request with a raw body; the status and the body.
async fn raw_http(
    addr: std::net::SocketAddr,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    // A body over the limit may be refused before it is all read: that is fine.
    let _ = s.write_all(body).await;
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut resp))
        .await
        .expect("an answer within 20 s");
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

/// Random bodies to the three JSON routes of a real hub: every answer is a success
/// or the error shape (or a refused command's result) with a documented code and the
/// status that goes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_http_bodies_against_a_real_server() {
    let s = fuzz_server().await;
    let token = s.token("admin").await;
    let mut runner = runner();
    let login = json_text(vec![
        json!({"username": "operator", "password": "wrong password"}),
    ]);
    let commands = command_frame().prop_map(|f| {
        // The frame's `id` and `command` are the HTTP body; its `type` is dropped.
        let mut v: Value = serde_json::from_str(&f).unwrap_or(Value::String(f));
        if let Some(m) = v.as_object_mut() {
            m.remove("type");
        }
        v.to_string()
    });
    let intake = json_text(vec![
        json!({"id": "gw-1", "channel": "sms", "summary": "Tree down", "caller": {"phone": "+44"}}),
    ]);
    let routes: [(&str, Option<&str>, BoxedStrategy<String>); 3] = [
        ("/api/login", None, login.boxed()),
        ("/api/commands", Some(token.as_str()), commands.boxed()),
        ("/api/intake/contacts", Some("demo-intake-key"), intake),
    ];
    for i in 0..e2e_cases() {
        let (path, bearer, bodies) = &routes[i as usize % routes.len()];
        let body = draw(&mut runner, bodies);
        let (status, answer) = raw_http(s.running.addr, path, *bearer, body.as_bytes()).await;
        let what = || format!("{path} {} → {status} {}", excerpt(&body), excerpt(&answer));
        assert!(status != 0, "no HTTP answer: {}", what());
        if status == 200 {
            continue;
        }
        let v: Value =
            serde_json::from_str(&answer).unwrap_or_else(|_| panic!("not JSON: {}", what()));
        // A refused command (`{"type":"result","error":…}`) and any other refusal
        // (`{"error":…}`) carry the error in the same place.
        let error = &v["error"];
        let code = error["code"].as_str().unwrap_or("");
        check_refusal(code, error["message"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("{e}: {}", what()));
        assert_eq!(
            status,
            muster::http::error::status_for(code.parse().unwrap()).as_u16(),
            "status for {code}: {}",
            what()
        );
    }
    let (status, _) = server::http(s.running.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "the hub is still up");
}
