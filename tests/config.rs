//! Configuration loading end to end: the shipped files stay valid (they are the demo),
//! broken files are reported with file, exact line and field, and environment
//! overrides apply.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use muster::config::{
    self, ConfigErrors, LogFormat, Settings, StoreKind, load_all_with_env, load_centre, load_demo,
};
use muster::domain::procedure::{EscalationAction, QuestionKind};
use muster::domain::triage::Priority;
use muster::domain::user::Role;

const NO_ENV: [(&str, &str); 0] = [];

/// A small valid centre. Tests break one line of it, so line numbers below are exact.
const BASE: &str = r#"name = "Test Centre"

[duplicate]
distance_m = 250.0
window_secs = 900

[speeds_kmh]
person = 5.0
vehicle = 30.0
team = 15.0

[case_targets]
acknowledge_hours = 24
respond_working_days = 10

[matrix]
impacts = ["high", "low"]
urgencies = ["now", "later"]
table = [["P1", "P2"], ["P3", "P4"]]

[[escalation_policies]]
id = "urgent"
[[escalation_policies.steps]]
after_secs = 30
action = "renotify"

[[types]]
id = "medical"
name = "Medical"
default_priority = "P2"
escalation = "urgent"
checkin_interval_secs = 300

[[types.questions]]
id = "breathing"
text = "Is the person breathing?"
kind = "yes_no"
required = true
[[types.questions]]
id = "bleeding"
text = "Is there any bleeding?"
kind = "choice"
options = ["none", "severe"]

[[types.priority_rules]]
name = "not breathing"
when = [{ question = "breathing", equals = false }]
priority = "P1"

[types.targets]
P1 = { answer_secs = 10, dispatch_secs = 60, acknowledge_secs = 30, arrive_secs = 480, resolve_secs = 3600 }
P2 = { answer_secs = 15, dispatch_secs = 120, acknowledge_secs = 60, arrive_secs = 900, resolve_secs = 7200 }
P3 = { answer_secs = 30, dispatch_secs = 600, acknowledge_secs = 120, arrive_secs = 1800, resolve_secs = 14400 }
P4 = { answer_secs = 60, dispatch_secs = 1800, acknowledge_secs = 300, arrive_secs = 3600, resolve_secs = 86400 }

[[types]]
id = "fire"
name = "Fire"
default_priority = "P2"
escalation = "urgent"
checkin_interval_secs = 300

[types.targets]
P1 = { answer_secs = 10, dispatch_secs = 60, acknowledge_secs = 30, arrive_secs = 480, resolve_secs = 3600 }
P2 = { answer_secs = 15, dispatch_secs = 120, acknowledge_secs = 60, arrive_secs = 900, resolve_secs = 7200 }
P3 = { answer_secs = 30, dispatch_secs = 600, acknowledge_secs = 120, arrive_secs = 1800, resolve_secs = 14400 }
P4 = { answer_secs = 60, dispatch_secs = 1800, acknowledge_secs = 300, arrive_secs = 3600, resolve_secs = 86400 }
"#;

/// `BASE` with line `line` (1-based) replaced, keeping every other line where it was.
fn with_line(line: usize, replacement: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[line - 1] = replacement;
    lines.join("\n") + "\n"
}

/// Writes `text` as `centre.toml` in a fresh directory and loads it, expecting errors.
fn centre_errors(text: &str) -> ConfigErrors {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("centre.toml");
    fs::write(&path, text).unwrap();
    load_centre(&path).expect_err("the broken centre loaded")
}

/// Asserts one error reads `…/centre.toml:<line>: <field>: …` and mentions `words`.
fn assert_located(errors: &ConfigErrors, line: usize, field: &str, words: &str) {
    let shown = errors.to_string();
    let problem = errors
        .0
        .iter()
        .find(|p| p.field == field)
        .unwrap_or_else(|| panic!("no error for {field}: {shown}"));
    assert_eq!(problem.line, Some(line), "{shown}");
    assert_eq!(problem.file.file_name().unwrap(), "centre.toml");
    let prefix = format!("centre.toml:{line}: {field}: ");
    assert!(shown.contains(&prefix), "expected `{prefix}` in:\n{shown}");
    assert!(
        problem.message.contains(words),
        "expected `{words}` in:\n{shown}"
    );
}

#[test]
fn the_base_centre_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("centre.toml");
    fs::write(&path, BASE).unwrap();
    let centre = load_centre(&path).unwrap();
    assert_eq!(centre.types.len(), 2);
    assert_eq!(&BASE.lines().nth(30).unwrap()[..10], "escalation");
}

#[test]
fn a_syntax_error_names_its_line_and_field() {
    let errors = centre_errors(&with_line(58, r#"name = "Fire"#));
    assert_eq!(errors.0.len(), 1);
    assert_located(&errors, 58, "types[1].name", "string");
}

#[test]
fn a_wrong_type_names_its_line_and_field() {
    let errors = centre_errors(&with_line(61, r#"checkin_interval_secs = "often""#));
    assert_located(
        &errors,
        61,
        "types[1].checkin_interval_secs",
        "invalid type",
    );
}

#[test]
fn a_wrong_priority_value_names_its_line_and_field() {
    let errors = centre_errors(&with_line(30, r#"default_priority = "P0""#));
    assert_located(&errors, 30, "types[0].default_priority", "P0");
}

#[test]
fn an_unknown_escalation_policy_names_its_line_and_field() {
    let errors = centre_errors(&with_line(31, r#"escalation = "urgnet""#));
    assert_located(
        &errors,
        31,
        "types[0].escalation",
        "unknown escalation policy `urgnet`",
    );
}

#[test]
fn call_by_radio_is_the_engine_s_own_step_and_not_configured() {
    let errors = centre_errors(&with_line(25, r#"action = "call_by_radio""#));
    assert_located(
        &errors,
        25,
        "escalation_policies[0].steps[0].action",
        "not configured",
    );
}

#[test]
fn a_rule_naming_a_missing_question_names_its_line_and_field() {
    let errors = centre_errors(&with_line(
        47,
        r#"when = [{ question = "breathng", equals = false }]"#,
    ));
    assert_located(
        &errors,
        47,
        "types[0].priority_rules[0].when[0].question",
        "breathng",
    );
}

#[test]
fn a_choice_question_without_options_points_at_the_question() {
    let errors = centre_errors(&with_line(43, "# options removed"));
    assert_located(
        &errors,
        39,
        "types[0].questions[1].options",
        "needs options",
    );
}

#[test]
fn a_duplicate_type_id_names_its_line_and_field() {
    let errors = centre_errors(&with_line(57, r#"id = "medical""#));
    assert_located(
        &errors,
        57,
        "types[1].id",
        "duplicate incident type id `medical`",
    );
}

#[test]
fn a_missing_field_points_at_the_table_that_lacks_it() {
    let errors = centre_errors(&with_line(60, "# escalation removed"));
    assert_located(&errors, 56, "types[1].escalation", "missing field");
}

#[test]
fn a_misspelt_key_names_its_line() {
    let errors = centre_errors(&with_line(38, "requried = true"));
    assert_located(
        &errors,
        38,
        "types[0].questions[0].requried",
        "unknown field",
    );
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text =
        with_line(31, r#"escalation = "urgnet""#).replace(r#"id = "fire""#, r#"id = "medical""#);
    let errors = centre_errors(&text);
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert_located(&errors, 31, "types[0].escalation", "urgnet");
    assert_located(&errors, 57, "types[1].id", "duplicate");
    assert_eq!(errors.to_string().lines().count(), 2);
}

#[test]
fn an_unreadable_file_is_named() {
    let errors = load_centre(Path::new("no/such/centre.toml")).unwrap_err();
    assert!(
        errors
            .to_string()
            .starts_with("no/such/centre.toml: (file): cannot read"),
        "{errors}"
    );
}

// ---- the shipped configuration ----------------------------------------------------

#[test]
fn the_shipped_settings_file_states_the_defaults() {
    let settings = Settings::load_with_env(Some(Path::new("config/muster.toml")), NO_ENV).unwrap();
    assert_eq!(settings, Settings::default());
}

#[test]
fn the_shipped_centre_loads_without_problems() {
    let centre = load_centre(Path::new("config/centre.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(centre.name, "Muster Demo Centre");
    let ids: BTreeSet<&str> = centre.types.iter().map(|t| t.id.as_str()).collect();
    for id in [
        "medical_emergency",
        "fire_alarm",
        "security_incident",
        "utility_outage",
        "road_hazard",
        "welfare_concern",
    ] {
        assert!(ids.contains(id), "missing type {id}");
    }
    for t in &centre.types {
        assert!((3..=6).contains(&t.questions.len()), "{}: questions", t.id);
        assert!((3..=5).contains(&t.actions.len()), "{}: actions", t.id);
        assert!(
            t.questions.iter().any(|q| q.required),
            "{}: no required question",
            t.id
        );
        assert!(
            !t.priority_rules.is_empty() && !t.validity_checks.is_empty(),
            "{}",
            t.id
        );
        assert!(
            t.actions.iter().any(|a| a.required),
            "{}: no required action",
            t.id
        );
    }
    let kinds: BTreeSet<&str> = centre
        .types
        .iter()
        .flat_map(|t| &t.questions)
        .map(|q| q.kind.as_str())
        .collect();
    assert_eq!(kinds.len(), 4, "every question kind is used: {kinds:?}");
    assert_eq!(centre.support_areas.len(), 7);
    assert_eq!(centre.support_types.len(), 7);
    assert_eq!(
        centre.matrix.priority("widespread", "critical"),
        Some(Priority::P1)
    );
}

#[test]
fn the_shipped_centre_escalates_p1_within_30_seconds() {
    let centre = load_centre(Path::new("config/centre.toml")).unwrap();
    for t in &centre.types {
        let p1 = centre.escalation_for(&t.id, Priority::P1).unwrap();
        assert!(p1.steps[0].after_secs <= 30, "{}: P1 first step", t.id);
        let actions: Vec<EscalationAction> = p1.steps.iter().map(|s| s.action).collect();
        assert!(
            actions.contains(&EscalationAction::SupervisorAlert),
            "{}",
            t.id
        );
        let p4 = centre.escalation_for(&t.id, Priority::P4).unwrap();
        assert!(
            p4.steps[0].after_secs > p1.steps[0].after_secs,
            "{}: P4 gentler",
            t.id
        );
    }
}

#[test]
fn the_shipped_scripts_decide_priority() {
    let centre = load_centre(Path::new("config/centre.toml")).unwrap();
    let medical = centre.incident_type("medical_emergency").unwrap();
    let answers = [("breathing".to_string(), serde_json::json!(false))].into();
    assert_eq!(
        medical.protocol_priority(&answers),
        (Priority::P1, Some("not breathing".into()))
    );
    let bleeding = medical.question("bleeding").unwrap();
    assert_eq!(bleeding.kind, QuestionKind::Choice);
}

#[test]
fn the_shipped_demo_has_the_published_log_ins() {
    let demo = load_demo(Path::new("config/demo")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = demo.users.iter().map(|u| u.username.as_str()).collect();
    let mut expected = vec!["operator", "operator2", "supervisor", "admin"];
    let fields: Vec<String> = (1..=8).map(|i| format!("field{i}")).collect();
    expected.extend(fields.iter().map(String::as_str));
    assert_eq!(names, expected);
    assert!(demo.users.iter().all(|u| u.password == "muster-demo"));
    assert_eq!(demo.intake_keys, vec!["demo-intake-key"]);
    for (i, user) in demo
        .users
        .iter()
        .filter(|u| u.role == Role::Field)
        .enumerate()
    {
        assert_eq!(
            user.resource.as_deref(),
            Some(demo.resources[i].key.as_str()),
            "field users' resources come first"
        );
    }
}

#[test]
fn the_shipped_demo_resources_cover_the_centre() {
    let demo = load_demo(Path::new("config/demo")).unwrap();
    let centre = load_centre(Path::new("config/centre.toml")).unwrap();
    assert!(demo.resources.len() >= 12);
    let teams: BTreeSet<&str> = demo.resources.iter().map(|r| r.team.as_str()).collect();
    assert_eq!(teams, BTreeSet::from(["central", "north", "south"]));
    let skills: BTreeSet<&str> = demo
        .resources
        .iter()
        .flat_map(|r| &r.skills)
        .map(String::as_str)
        .collect();
    for t in &centre.types {
        for skill in &t.required_skills {
            assert!(
                skills.contains(skill.as_str()),
                "no resource has {skill} for {}",
                t.id
            );
        }
    }
    for r in &demo.resources {
        let km = distance_km(51.50, -0.12, r.location.lat, r.location.lon);
        assert!(km < 6.0, "{} is {km:.1} km out", r.key);
    }
}

fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().asin()
}

#[test]
fn check_config_on_the_shipped_files_counts_everything() {
    let loaded = load_all_with_env(Some(Path::new("config/muster.toml")), NO_ENV).unwrap();
    let summary = loaded.summary();
    assert_eq!(summary.centre, "Muster Demo Centre");
    assert!(summary.incident_types >= 6);
    assert_eq!(summary.demo_users, 12);
    assert!(summary.demo_resources >= 12);
    assert!(summary.to_string().contains("incident types"));
}

// ---- demo problems ----------------------------------------------------------------

/// A demo directory holding the shipped resources and the given users file.
fn demo_dir(users: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        "config/demo/resources.toml",
        dir.path().join("resources.toml"),
    )
    .unwrap();
    fs::write(dir.path().join("users.toml"), users).unwrap();
    dir
}

#[test]
fn demo_users_must_link_to_known_resources() {
    let users = "intake_keys = [\"k\"]\n\n[[users]]\nusername = \"f\"\nname = \"F\"\nrole = \"field\"\n\
                 password = \"x\"\nresource = \"nobody\"\n\n[[users]]\nusername = \"g\"\nname = \"G\"\n\
                 role = \"field\"\npassword = \"x\"\n";
    let dir = demo_dir(users);
    let errors = load_demo(dir.path()).unwrap_err();
    let shown = errors.to_string();
    assert!(
        shown.contains("users.toml:8: users[0].resource: unknown resource `nobody`"),
        "{shown}"
    );
    assert!(
        shown.contains("users.toml:10: users[1].resource: a field user must be linked"),
        "{shown}"
    );
}

// ---- settings and environment -----------------------------------------------------

fn settings_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("muster.toml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn env_overrides_apply_over_the_file() {
    let (_dir, path) =
        settings_file("[server]\nbind = \"127.0.0.1:9000\"\n[store]\nsnapshot_every = 5\n");
    let env = [
        ("MUSTER_BIND", "0.0.0.0:8081"),
        ("MUSTER_STORE", "redis"),
        ("MUSTER_REDIS_URL", "redis://cache:6379/"),
        ("MUSTER_DATA_DIR", "/var/lib/muster"),
        ("MUSTER_MAX_CONNECTIONS_PER_USER", "3"),
        (
            "MUSTER_ALLOWED_ORIGINS",
            "https://a.example, https://b.example:8443",
        ),
        ("MUSTER_TOKEN_TTL_SECS", "3600"),
        ("MUSTER_CENTRE", "/etc/muster/centre.toml"),
        ("MUSTER_DEMO_DIR", ""),
        ("MUSTER_LOG_FORMAT", "json"),
        ("MUSTER_COMMANDS_PER_SECOND", "20"),
        ("MUSTER_RESUME_WINDOW_SECS", "120"),
        ("MUSTER_SNAPSHOT_CLOSED_HOURS", "24"),
        ("PATH", "/usr/bin"),
    ];
    let s = Settings::load_with_env(Some(&path), env).unwrap();
    assert_eq!(s.server.bind.to_string(), "0.0.0.0:8081");
    assert_eq!(s.store.kind, StoreKind::Redis);
    assert_eq!(s.store.redis_url, "redis://cache:6379/");
    assert_eq!(s.store.data_dir, PathBuf::from("/var/lib/muster"));
    assert_eq!(
        s.store.snapshot_every, 5,
        "file values stay unless overridden"
    );
    assert_eq!(s.limits.max_connections_per_user, 3);
    assert_eq!(
        s.server.allowed_origins,
        vec!["https://a.example", "https://b.example:8443"]
    );
    assert_eq!(s.auth.token_ttl_secs, 3600);
    assert_eq!(
        s.centre.procedures,
        PathBuf::from("/etc/muster/centre.toml")
    );
    assert_eq!(s.centre.demo_dir, None);
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.limits.commands_per_second, 20);
    assert_eq!(s.limits.resume_window_secs, 120);
    assert_eq!(s.limits.snapshot_closed_hours, 24);
}

#[test]
fn a_bad_env_value_names_the_variable() {
    let (_dir, path) = settings_file("");
    for (var, value) in [
        ("MUSTER_MAX_CONNECTIONS_PER_USER", "lots"),
        ("MUSTER_BIND", "localhost"),
        ("MUSTER_STORE", "postgres"),
        ("MUSTER_TOKEN_TTL_SECS", "0"),
        ("MUSTER_REDIS_URL", "http://x"),
        ("MUSTER_SNAPSHOT_CLOSED_HOURS", "0"),
        ("MUSTER_SNAPSHOT_CLOSED_HOURS", "1000000"),
    ] {
        let err = Settings::load_with_env(Some(&path), [(var, value)]).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(var) && shown.contains(value), "{shown}");
    }
}

#[test]
fn service_urls_must_be_http_or_https() {
    let (_dir, path) = settings_file("");
    for good in [
        "http://10.0.0.5:8088/nominatim",
        "https://gw.example/sms?key=k",
    ] {
        let env = [("MUSTER_WEBHOOK_URL", good), ("MUSTER_GEOCODER_URL", good)];
        let s = Settings::load_with_env(Some(&path), env).unwrap();
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }
    let env = [
        ("MUSTER_WEBHOOK_URL", "ftp://gw/x"),
        ("MUSTER_GEOCODER_URL", "nominatim.example"),
    ];
    let s = Settings::load_with_env(Some(&path), env).unwrap();
    let problems: Vec<(String, String)> = s
        .problems()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, "notify.webhook_url");
    assert_eq!(problems[1].0, "centre.geocoder_url");
    assert!(
        problems.iter().all(|(_, m)| m.contains("https://")),
        "{problems:?}"
    );
}

/// `muster check-config` checks the gateways' settings: the signing secret's format,
/// header names and values, the CA file, SMTP; and no problem (nor an environment
/// error) repeats a secret.
#[test]
fn gateway_settings_are_checked_without_repeating_secrets() {
    let (dir, path) = settings_file("");
    // A CA file without a certificate (a good one is trusted in
    // tests/e2e/gateways.test.mjs).
    let bad_ca = dir.path().join("ca.pem");
    fs::write(&bad_ca, "not a certificate\n").unwrap();
    let ca = bad_ca.display().to_string();
    let env = [
        ("MUSTER_WEBHOOK_URL", "https://gw.example/sms"),
        ("MUSTER_WEBHOOK_SECRET", "whsec_dG9vIHNob3J0"),
        (
            "MUSTER_WEBHOOK_HEADERS",
            "Authorization: Bearer top-secret; Bad Name: x",
        ),
        ("MUSTER_NOTIFY_CA_FILE", ca.as_str()),
        ("MUSTER_SMTP_HOST", "smtp.example.org"),
        ("MUSTER_SMTP_TLS", "none"),
        ("MUSTER_SMTP_PASSWORD", "hunter2-secret"),
    ];
    let s = Settings::load_with_env(Some(&path), env).unwrap();
    let problems: Vec<(String, String)> = s
        .problems()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect();
    let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "notify.webhook_secret",
            "notify.webhook_headers.Bad Name",
            "notify.ca_file",
            "smtp.tls",
            "smtp.from",
            "smtp.password",
        ],
        "{problems:?}"
    );
    let shown = format!("{problems:?} {s:?}");
    for secret in ["dG9vIHNob3J0", "top-secret", "hunter2-secret"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    // An unusable environment value is named, not repeated, when it is a secret.
    let err = Settings::load_with_env(Some(&path), [("MUSTER_WEBHOOK_HEADERS", "no colon here")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("MUSTER_WEBHOOK_HEADERS"), "{err}");
    assert!(!err.contains("no colon here"), "{err}");

    // The good forms pass.
    let env = [
        ("MUSTER_WEBHOOK_URL", "https://gw.example/sms"),
        (
            "MUSTER_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        (
            "MUSTER_WEBHOOK_HEADERS",
            "Authorization: Bearer t\nX-Account: 42",
        ),
        ("MUSTER_SMTP_HOST", "127.0.0.1"),
        ("MUSTER_SMTP_TLS", "none"),
        ("MUSTER_SMTP_USERNAME", "muster"),
        ("MUSTER_SMTP_PASSWORD", "pw"),
        ("MUSTER_SMTP_FROM", "Muster <control@example.org>"),
    ];
    let s = Settings::load_with_env(Some(&path), env).unwrap();
    assert!(s.problems().is_empty(), "{:?}", s.problems());
    assert_eq!(s.notify.webhook_headers.len(), 2);
}

#[test]
fn a_named_settings_file_must_exist() {
    let err = Settings::load_with_env(Some(Path::new("no/such/muster.toml")), NO_ENV).unwrap_err();
    assert!(err.to_string().contains("no/such/muster.toml"), "{err}");
}

#[test]
fn settings_errors_name_file_line_and_field() {
    let (_dir, path) =
        settings_file("[store]\nkind = \"sqlite\"\n\n[limits]\nmax_frame_bytes = \"big\"\n");
    let err = ConfigErrors::from(Settings::load_with_env(Some(&path), NO_ENV).unwrap_err());
    assert!(
        err.to_string()
            .contains("muster.toml:5: limits.max_frame_bytes: invalid type"),
        "{err}"
    );
}

#[test]
fn the_snapshot_window_is_checked_and_located() {
    for (value, words) in [
        ("0", "must be greater than 0"),
        ("1000000", "must be at most 87840"),
    ] {
        let (_dir, path) = settings_file(&format!(
            "[store]\nkind = \"sqlite\"\n\n[limits]\nsnapshot_closed_hours = {value}\n"
        ));
        let err = ConfigErrors::from(Settings::load_with_env(Some(&path), NO_ENV).unwrap_err());
        let shown = err.to_string();
        assert!(
            shown.contains(&format!(
                "muster.toml:5: limits.snapshot_closed_hours: {words}"
            )),
            "{shown}"
        );
    }
    assert_eq!(Settings::default().limits.snapshot_closed_hours, 72);
}

#[test]
fn check_all_reports_every_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let centre = dir.path().join("centre.toml");
    fs::write(&centre, with_line(31, r#"escalation = "urgnet""#)).unwrap();
    let demo =
        demo_dir("[[users]]\nusername = \"f\"\nname = \"F\"\nrole = \"pilot\"\npassword = \"x\"\n");
    let settings = dir.path().join("muster.toml");
    let text = format!(
        "[centre]\nprocedures = {:?}\ndemo_dir = {:?}\n",
        centre.display().to_string(),
        demo.path().display().to_string()
    );
    fs::write(&settings, text).unwrap();
    let errors = config::load_all_with_env(Some(&settings), NO_ENV).unwrap_err();
    let shown = errors.to_string();
    assert!(
        shown.contains("centre.toml:31: types[0].escalation"),
        "{shown}"
    );
    assert!(
        shown.contains("users.toml:4: users[0].role: unknown variant `pilot`"),
        "{shown}"
    );
}

#[test]
fn review_thresholds_are_checked_and_located() {
    let n = BASE.lines().count();
    let text = format!(
        "{BASE}[review]\nslow_dispatch_factor = 0.5\nunder_triage_rate = 1.5\nupheld_min_complaints = 0\n"
    );
    let errors = centre_errors(&text);
    assert_located(
        &errors,
        n + 2,
        "review.slow_dispatch_factor",
        "at least 1.0",
    );
    assert_located(
        &errors,
        n + 3,
        "review.under_triage_rate",
        "between 0.0 and 1.0",
    );
    assert_located(&errors, n + 4, "review.upheld_min_complaints", "at least 1");
}

#[test]
fn retention_settings_are_checked_and_located() {
    let n = BASE.lines().count();
    let text = format!("{BASE}[privacy.retention]\nstaff_locations = 40000\nstaff_details = 30\n");
    let errors = centre_errors(&text);
    assert_located(
        &errors,
        n + 2,
        "privacy.retention.staff_locations",
        "at most 36500 days",
    );
    assert_located(&errors, n + 3, "privacy.retention.staff_details", "set 0");
    let unknown = centre_errors(&format!("{BASE}[privacy.retention]\nshoe_sizes = 3\n"));
    assert!(unknown.to_string().contains("shoe_sizes"), "{unknown}");
}

#[test]
fn a_broken_places_file_is_reported_with_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let places = dir.path().join("places.csv");
    fs::write(
        &places,
        "id,name,postcode,lat,lon,kind,notes\nok,Fine,,51.5,-0.1,,\nbad id,Bad,,51.5,-0.1,,\nx,No lat,,north,-0.1,,\n",
    )
    .unwrap();
    let env = [("MUSTER_PLACES", places.display().to_string())];
    let errors = load_all_with_env(Some(Path::new("config/muster.toml")), env).unwrap_err();
    let shown = errors.to_string();
    assert!(shown.contains("places.csv:3: id: may hold only"), "{shown}");
    assert!(
        shown.contains("places.csv:4: lat: \"north\" is not a number"),
        "{shown}"
    );
    // `""` switches the gazetteer off.
    let off = load_all_with_env(
        Some(Path::new("config/muster.toml")),
        [("MUSTER_PLACES", "")],
    )
    .unwrap();
    assert!(off.places.places.is_empty());
}

#[test]
fn the_demo_gazetteer_lies_around_the_demo_resources() {
    let loaded = load_all_with_env(Some(Path::new("config/muster.toml")), NO_ENV).unwrap();
    let places = &loaded.places.places;
    assert!((20..=40).contains(&places.len()), "{}", places.len());
    assert_eq!(loaded.summary().places, places.len());
    assert!(loaded.summary().to_string().contains(" places;"));
    let resources = &loaded.demo.as_ref().unwrap().resources;
    for p in places {
        let nearest = resources
            .iter()
            .map(|r| distance_km(p.lat, p.lon, r.location.lat, r.location.lon))
            .fold(f64::INFINITY, f64::min);
        assert!(
            nearest < 6.0,
            "{} is {nearest:.1} km from any resource",
            p.id
        );
    }
    assert!(places.iter().filter(|p| !p.notes.is_empty()).count() >= 20);
}
