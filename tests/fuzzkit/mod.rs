//! What the fuzz tests share: the tiers (how many cases), a watchdog that names a
//! hanging input, the codes PROTOCOL.md documents (read from the document itself, so
//! a code the hub sends but the document lacks fails here), the demo world the
//! structure-aware inputs take their ids from, and proptest strategies for hostile
//! JSON, text and TOML.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Map, Value, json};

use crate::support::{World, crate_path};

// ----- tiers -----------------------------------------------------------------------

/// Cases per decoder: `MUSTER_FUZZ_CASES` (the slow tier sets 100,000), else `fast`.
pub fn cases(fast: u32) -> u32 {
    std::env::var("MUSTER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(fast)
}

/// A proptest configuration for `cases(fast)` cases; failures are kept beside the
/// tests so a found input replays first next time.
pub fn config(fast: u32) -> Config {
    Config {
        cases: cases(fast),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// [`config`] with a tenth of the cases, for decoders whose every case is large.
pub fn config_tenth(fast: u32) -> Config {
    Config {
        cases: (cases(fast * 10) / 10).max(1),
        ..config(fast)
    }
}

// ----- time bounds -----------------------------------------------------------------

/// Longest one decoder call may take. Generous for a debug build on a busy machine;
/// a decoder that is quadratic on a 64 KiB input passes this, a hang never does.
pub const CASE_DEADLINE: Duration = Duration::from_secs(3);

/// A case still running after this long is a hang: the watchdog prints its input and
/// aborts the process, since a stuck thread cannot be unwound.
const HANG: Duration = Duration::from_secs(60);

struct Running {
    since: Instant,
    what: String,
}

fn running() -> &'static Mutex<Vec<Option<Running>>> {
    static RUNNING: OnceLock<Mutex<Vec<Option<Running>>>> = OnceLock::new();
    RUNNING.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let slots = running().lock().unwrap_or_else(|e| e.into_inner());
                for r in slots.iter().flatten() {
                    if r.since.elapsed() > HANG {
                        eprintln!("fuzz: a case hung for {HANG:?}: {}", r.what);
                        std::process::abort();
                    }
                }
            }
        });
        Mutex::new(Vec::new())
    })
}

/// Runs `f` on `input` under the watchdog and returns its result and how long it took.
pub fn timed<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> (T, Duration) {
    let slot = {
        let mut slots = running().lock().unwrap_or_else(|e| e.into_inner());
        let entry = Some(Running {
            since: Instant::now(),
            what: what(),
        });
        match slots.iter().position(Option::is_none) {
            Some(i) => {
                slots[i] = entry;
                i
            }
            None => {
                slots.push(entry);
                slots.len() - 1
            }
        }
    };
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    running().lock().unwrap_or_else(|e| e.into_inner())[slot] = None;
    (out, took)
}

/// The first `n` characters of an input, for messages.
pub fn excerpt(s: &str) -> String {
    let short: String = s.chars().take(300).collect();
    if short.len() < s.len() {
        format!("{short:?}… ({} bytes)", s.len())
    } else {
        format!("{short:?}")
    }
}

// ----- what PROTOCOL.md documents ----------------------------------------------------

fn protocol() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(crate_path("docs/PROTOCOL.md")).expect("docs/PROTOCOL.md")
    })
}

/// The first backticked cell of each table row in the section under `heading`.
fn table_keys(heading: &str) -> BTreeSet<String> {
    let text = protocol();
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("PROTOCOL.md has no {heading}"));
    let section = &text[start + heading.len()..];
    let end = section.find("\n#").unwrap_or(section.len());
    section[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .map(|cell| cell.trim().trim_matches('`').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with("code") && !k.starts_with('-'))
        .collect()
}

/// The error codes of PROTOCOL.md's "Errors" table.
pub fn error_codes() -> &'static BTreeSet<String> {
    static CODES: OnceLock<BTreeSet<String>> = OnceLock::new();
    CODES.get_or_init(|| {
        let codes = table_keys("\n## Errors\n");
        assert!(codes.contains("bad_request"), "{codes:?}");
        codes
    })
}

/// The close codes of PROTOCOL.md's "Close codes" table.
pub fn close_codes() -> &'static BTreeSet<u16> {
    static CODES: OnceLock<BTreeSet<u16>> = OnceLock::new();
    CODES.get_or_init(|| {
        let codes: BTreeSet<u16> = table_keys("\n### Close codes\n")
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        assert!(codes.contains(&4400), "{codes:?}");
        codes
    })
}

/// Whether PROTOCOL.md quotes this text (a close reason, say).
pub fn documented(text: &str) -> bool {
    protocol().contains(text)
}

/// A refusal as the wire carries it: a documented code and a message saying what to fix.
pub fn check_refusal(code: &str, message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        error_codes().contains(code),
        "code {code:?} is not in PROTOCOL.md's Errors table (message {message:?})"
    );
    prop_assert!(
        !message.trim().is_empty(),
        "code {code} with an empty message"
    );
    Ok(())
}

// ----- the world the inputs aim at -------------------------------------------------

/// The demo centre with one of each object, so near-valid commands name real ids and
/// reach the engine's rules, not only its look-ups.
pub struct Fixture {
    pub world: World,
    /// Ids of every kind that exist in `world`, by the field that names them.
    pub ids: Vec<(&'static str, String)>,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let run = |w: &mut World, c: Value| -> muster::engine::Record {
        let cmd = muster::http::commands::parse(c.clone()).expect("fixture command parses");
        let recs = w
            .run(&sup, cmd)
            .unwrap_or_else(|e| panic!("fixture {c}: {e}"));
        recs[0].clone()
    };
    let place = json!({"text": "Civic Centre", "lat": 51.5074, "lon": -0.1278});
    run(
        &mut w,
        json!({"kind": "contact.receive", "channel": "phone", "summary": "Man collapsed", "caller": {"name": "Ada", "phone": "+44"}, "location": place}),
    );
    let contact = w
        .state
        .contacts
        .keys()
        .next()
        .expect("a contact")
        .to_string();
    run(
        &mut w,
        json!({"kind": "incident.open", "contact_id": contact, "type": "medical_emergency", "description": "Adult collapsed", "location": place}),
    );
    let incident = w
        .state
        .incidents
        .keys()
        .next()
        .expect("an incident")
        .to_string();
    run(
        &mut w,
        json!({"kind": "incident.assess", "incident_id": incident, "validity": "verified", "priority": "P1", "method": "manual", "reason": "not breathing"}),
    );
    let resource = w.resource_of("field1").to_string();
    run(
        &mut w,
        json!({"kind": "assignment.create", "incident_id": incident, "resource_id": resource, "actions": [{"text": "CPR", "required": true}]}),
    );
    let assignment = w
        .state
        .assignments
        .keys()
        .next()
        .expect("an assignment")
        .to_string();
    run(
        &mut w,
        json!({"kind": "message.broadcast", "audience": "all", "text": "Road closed", "requires_ack": true}),
    );
    let message = w
        .state
        .messages
        .keys()
        .next()
        .expect("a message")
        .to_string();
    run(
        &mut w,
        json!({"kind": "case.open", "case_type": "complaint", "incident_id": incident, "from": "Ada", "text": "Too slow"}),
    );
    let case = w.state.cases.keys().next().expect("a case").to_string();
    let operator = w.user_id("operator").to_string();
    run(
        &mut w,
        json!({"kind": "support.propose", "colleague_id": operator, "areas": ["intake"], "support_type": "coaching", "review_on": "2026-06-01"}),
    );
    let plan = w.state.plans.keys().next().expect("a plan").to_string();
    run(
        &mut w,
        json!({"kind": "improvement.raise", "title": "Faster", "finding": "slow_dispatch", "owner_id": operator, "due_on": "2026-06-01", "areas": ["intake"]}),
    );
    let improvement = w
        .state
        .improvements
        .keys()
        .next()
        .expect("an improvement")
        .to_string();
    let field = w.user_id("field2").to_string();
    let ids = vec![
        ("contact_id", contact),
        ("incident_id", incident.clone()),
        ("duplicate_of", incident),
        ("resource_id", resource),
        ("assignment_id", assignment),
        ("message_id", message),
        ("case_id", case),
        ("plan_id", plan),
        ("improvement_id", improvement),
        ("user_id", field),
        ("colleague_id", operator.clone()),
        ("owner_id", operator),
    ];
    Fixture { world: w, ids }
}

impl Fixture {
    pub fn id(&self, field: &str) -> String {
        self.ids
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| format!("{field}_1"))
    }

    /// One valid command of every kind a client may send, aimed at the fixture's ids.
    pub fn command_templates(&self) -> Vec<Value> {
        let id = |f: &str| self.id(f);
        let place = json!({"text": "Town Hall", "lat": 51.5, "lon": -0.12});
        vec![
            json!({"kind": "contact.receive", "channel": "sms", "summary": "Tree down", "caller": {"name": "Bo", "phone": "+44 20", "email": "b@example.org"}, "location": place, "reason": "report"}),
            json!({"kind": "contact.take", "contact_id": id("contact_id")}),
            json!({"kind": "contact.link", "contact_id": id("contact_id"), "incident_id": id("incident_id")}),
            json!({"kind": "contact.close", "contact_id": id("contact_id"), "outcome": "advice_given", "note": "ok"}),
            json!({"kind": "incident.open", "type": "fire_alarm", "description": "Alarm sounding", "location": place, "contact_id": id("contact_id")}),
            json!({"kind": "incident.answer", "incident_id": id("incident_id"), "answers": {"breathing": false, "conscious": true, "casualties": 2}}),
            json!({"kind": "incident.assess", "incident_id": id("incident_id"), "validity": "verified", "method": "matrix", "impact": "significant", "urgency": "high"}),
            json!({"kind": "incident.assess", "incident_id": id("incident_id"), "validity": "duplicate", "method": "manual", "priority": "P3", "duplicate_of": id("incident_id"), "reason": "same"}),
            json!({"kind": "incident.note", "incident_id": id("incident_id"), "text": "Crew on scene"}),
            json!({"kind": "incident.resolve", "incident_id": id("incident_id"), "outcome": "treated", "summary": "Patient treated"}),
            json!({"kind": "incident.close", "incident_id": id("incident_id")}),
            json!({"kind": "incident.reopen", "incident_id": id("incident_id"), "reason": "again"}),
            json!({"kind": "incident.cancel", "incident_id": id("incident_id"), "reason": "hoax"}),
            json!({"kind": "incident.override", "incident_id": id("incident_id"), "rule": "close_requires_actions", "justification": "agreed"}),
            json!({"kind": "user.create", "username": "fuzzed", "role": "field", "password": "long enough", "name": "Fuzz", "resource_id": id("resource_id")}),
            json!({"kind": "user.disable", "user_id": id("user_id")}),
            json!({"kind": "user.password", "user_id": id("user_id"), "password": "another long one"}),
            json!({"kind": "resource.register", "name": "Unit 9", "resource_type": "vehicle", "team": "north", "skills": ["first_aid"], "location": place}),
            json!({"kind": "resource.status", "resource_id": id("resource_id"), "status": "unavailable"}),
            json!({"kind": "resource.locate", "resource_id": id("resource_id"), "lat": 51.51, "lon": -0.13}),
            json!({"kind": "assignment.create", "incident_id": id("incident_id"), "resource_id": id("resource_id"), "responsibilities": "lead", "actions": [{"text": "Secure", "required": false}], "reason": "closest"}),
            json!({"kind": "assignment.acknowledge", "assignment_id": id("assignment_id")}),
            json!({"kind": "assignment.decline", "assignment_id": id("assignment_id"), "reason": "busy"}),
            json!({"kind": "assignment.progress", "assignment_id": id("assignment_id"), "status": "en_route"}),
            json!({"kind": "assignment.action_done", "assignment_id": id("assignment_id"), "action_id": "a1", "note": "done"}),
            json!({"kind": "assignment.cancel", "assignment_id": id("assignment_id"), "reason": "stood down"}),
            json!({"kind": "checkin", "assignment_id": id("assignment_id"), "ok": true, "note": "fine"}),
            json!({"kind": "message.broadcast", "audience": format!("incident:{}", id("incident_id")), "text": "Update", "requires_ack": false}),
            json!({"kind": "message.acknowledge", "message_id": id("message_id")}),
            json!({"kind": "case.open", "case_type": "query", "contact_id": id("contact_id"), "from": "Cy", "text": "Why?"}),
            json!({"kind": "case.assign", "case_id": id("case_id"), "user_id": id("colleague_id")}),
            json!({"kind": "case.respond", "case_id": id("case_id"), "response": "Because"}),
            json!({"kind": "case.close", "case_id": id("case_id"), "outcome": "upheld", "root_cause": "slow_answer"}),
            json!({"kind": "support.propose", "colleague_id": id("colleague_id"), "areas": ["monitoring", "systems"], "support_type": "shadowing", "review_on": "2027-01-31", "notes": "n"}),
            json!({"kind": "support.agree", "plan_id": id("plan_id")}),
            json!({"kind": "support.note", "plan_id": id("plan_id"), "text": "going well"}),
            json!({"kind": "support.review", "plan_id": id("plan_id"), "outcome": "met"}),
            json!({"kind": "improvement.raise", "title": "Shorter", "finding": "under_triage", "owner_id": id("owner_id"), "due_on": "2027-02-28", "plan_id": id("plan_id")}),
            json!({"kind": "improvement.update", "improvement_id": id("improvement_id"), "status": "in_progress", "note": "started"}),
            json!({"kind": "timer.escalate", "assignment_id": id("assignment_id"), "level": 1}),
            json!({"kind": "timer.checkin_missed", "assignment_id": id("assignment_id"), "due_at": 1_772_442_000_000_i64}),
            json!({"kind": "timer.target_breached", "incident_id": id("incident_id"), "target": "dispatch"}),
            json!({"kind": "timer.case_breached", "case_id": id("case_id"), "target": "respond"}),
            json!({"kind": "timer.plan_review_missed", "plan_id": id("plan_id")}),
            json!({"kind": "notification.record", "assignment_id": id("assignment_id"), "channel": "webhook", "level": 2, "status": "HTTP 200"}),
        ]
    }
}

// ----- strategies ------------------------------------------------------------------

/// Words the decoders look for: kinds, field names, enum values, ids.
const WORDS: &[&str] = &[
    "hello",
    "command",
    "ping",
    "type",
    "kind",
    "id",
    "token",
    "resume_from",
    "command",
    "contact.receive",
    "incident.open",
    "incident.assess",
    "user.create",
    "timer.escalate",
    "incident.opened",
    "contact.received",
    "resource.registered",
    "user.created",
    "channel",
    "summary",
    "caller",
    "location",
    "lat",
    "lon",
    "text",
    "reason",
    "phone",
    "P1",
    "P4",
    "P0",
    "P5",
    "p1",
    "manual",
    "matrix",
    "protocol",
    "verified",
    "duplicate",
    "all",
    "team:",
    "incident:",
    "resource:",
    "user:",
    "user:usr_1",
    "team:north",
    "admin",
    "operator",
    "supervisor",
    "field",
    "intake",
    "system",
    "walk_in",
    "pigeon",
    "inc_1",
    "inc_0",
    "inc_-1",
    "inc_18446744073709551616",
    "usr_1",
    "res_1",
    "asg_1",
    "INC-2026-000001",
    "vehicle",
    "person",
    "available",
    "off_duty",
    "en_route",
    "dispatch_requires_assessment",
    "close_requires_actions",
    "required_skills",
];

/// Timestamps and dates at and past the edges chrono and the hub can hold.
const TIMES: &[&str] = &[
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:00.000Z",
    "2026-03-02T09:00:00.123Z",
    "9999-12-31T23:59:59.999Z",
    "+262143-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-03-02T25:61:61Z",
    "2026-03-02T09:00:00+99:99",
    "2026-03-02",
    "9999-12-31",
    "262143-12-31",
    "+262143-12-31",
    "-262144-01-01",
    "0000-00-00",
    "2026-02-29",
    "2028-02-29",
    "1900-02-29",
    "1-1-1",
    "",
];

fn word() -> impl Strategy<Value = String> {
    proptest::sample::select(WORDS).prop_map(str::to_string)
}

/// Hostile text: any unicode, NUL and control characters, lookalikes, long runs,
/// timestamps, words the decoders react to.
pub fn weird_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => word(),
        1 => proptest::sample::select(TIMES).prop_map(str::to_string),
        1 => "[\\x00-\\x1f\"\\\\\u{7f}\u{80}-\u{ff}\u{200b}\u{202e}\u{feff}\u{fffd}\u{10ffff}]{0,12}",
        1 => (0usize..70_000, "[a-zé😀\\x00]").prop_map(|(n, c)| c.repeat(n)),
        1 => Just(String::new()),
        1 => Just(" \t\n".to_string()),
    ]
}

/// Numbers at the edges of i64, u64 and f64 (all finite: JSON has no NaN).
pub fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(i32::MAX),
            json!(u32::MAX),
            json!(u32::MAX as u64 + 1),
            json!(1e308),
            json!(-1e308),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(5e-324),
            json!(-0.0),
            json!(0.5),
            json!(90.000001),
            json!(-180.5),
            json!(1e15),
        ]),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

/// Any JSON value, biased towards what breaks decoders.
pub fn weird_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        edge_number(),
        weird_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((prop_oneof![word(), weird_string()], inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// One change to a JSON object, applied by [`mutate`].
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Sets a field (an existing one, picked by index, or a new name) to a value.
    Set(proptest::sample::Index, Option<String>, Value),
    /// Removes the field at this index.
    Remove(proptest::sample::Index),
    /// Replaces `kind`/`type` with another word.
    Retag(String),
    /// Wraps a field's value in `depth` arrays or objects.
    Nest(proptest::sample::Index, usize, bool),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<proptest::sample::Index>(), proptest::option::of(word()), weird_value())
            .prop_map(|(i, k, v)| Mutation::Set(i, k, v)),
        2 => any::<proptest::sample::Index>().prop_map(Mutation::Remove),
        1 => prop_oneof![word(), weird_string()].prop_map(Mutation::Retag),
        1 => (any::<proptest::sample::Index>(), 1usize..200, any::<bool>())
            .prop_map(|(i, d, o)| Mutation::Nest(i, d, o)),
    ]
}

/// Applies mutations to an object (anything else is left alone).
pub fn mutate(mut value: Value, mutations: &[Mutation]) -> Value {
    let Value::Object(map) = &mut value else {
        return value;
    };
    for m in mutations {
        apply(map, m);
    }
    value
}

fn apply(map: &mut Map<String, Value>, m: &Mutation) {
    let key_at = |map: &Map<String, Value>, i: &proptest::sample::Index| {
        (!map.is_empty()).then(|| map.keys().nth(i.index(map.len())).unwrap().clone())
    };
    match m {
        Mutation::Set(i, name, v) => {
            if let Some(k) = name.clone().or_else(|| key_at(map, i)) {
                map.insert(k, v.clone());
            }
        }
        Mutation::Remove(i) => {
            if let Some(k) = key_at(map, i) {
                map.remove(&k);
            }
        }
        Mutation::Retag(tag) => {
            let k = if map.contains_key("type") && !map.contains_key("kind") {
                "type"
            } else {
                "kind"
            };
            map.insert(k.to_string(), json!(tag));
        }
        Mutation::Nest(i, depth, object) => {
            if let Some(k) = key_at(map, i) {
                let mut v = map.remove(&k).unwrap_or(Value::Null);
                for _ in 0..*depth {
                    v = if *object {
                        json!({ "a": v })
                    } else {
                        json!([v])
                    };
                }
                map.insert(k, v);
            }
        }
    }
}

/// Text nested `depth` deep in `[` or `{"a":`, closed or not: serde_json stops at 128.
pub fn deep_json() -> impl Strategy<Value = String> {
    (1usize..5_000, any::<bool>(), any::<bool>()).prop_map(|(depth, object, close)| {
        let (open, shut) = if object { ("{\"a\":", "}") } else { ("[", "]") };
        let mut s = open.repeat(depth);
        s.push('1');
        if close {
            s.push_str(&shut.repeat(depth));
        }
        s
    })
}

/// A JSON text derived from `template`: the template mutated, re-serialised and
/// maybe cut short or spliced with junk; or junk outright.
pub fn json_text(templates: Vec<Value>) -> BoxedStrategy<String> {
    let structured = (
        proptest::sample::select(templates),
        proptest::collection::vec(mutation(), 0..4),
    )
        .prop_map(|(t, ms)| mutate(t, &ms).to_string())
        .boxed();
    let cut = (structured.clone(), any::<proptest::sample::Index>()).prop_map(|(s, i)| {
        let mut end = i.index(s.len() + 1);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    });
    prop_oneof![
        8 => structured,
        2 => cut,
        1 => weird_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
        1 => proptest::collection::vec(any::<u8>(), 0..256)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => deep_json(),
    ]
    .boxed()
}
