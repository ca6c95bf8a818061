//! Exercise scenarios as data (`config/exercises/*.toml`): the shipped ones are valid
//! and shaped as the issue asks, and each problem a scenario can have is reported with
//! its file, line and field.

use std::path::{Path, PathBuf};

use muster::config::{self, ConfigErrors, Loaded, load_all_with_env};
use muster_core::config::exercise::{InjectKind, Scenario};
use muster_core::domain::contact::ContactReason;

const NO_ENV: [(&str, &str); 0] = [];

fn loaded() -> Loaded {
    load_all_with_env(Some(Path::new("config/muster.toml")), NO_ENV).unwrap()
}

fn shipped(name: &str) -> Scenario {
    let loaded = loaded();
    loaded
        .load_exercise(&loaded.exercise_path(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn check_config_checks_every_shipped_scenario() {
    let summary = config::check_all(Some(Path::new("config/muster.toml"))).unwrap();
    assert_eq!(summary.exercises, 3, "{summary}");
    assert!(summary.to_string().contains("3 exercise scenarios"));
}

#[test]
fn every_shipped_scenario_is_a_shift_of_at_least_30_minutes_with_everything_in_it() {
    for name in ["quiet-night", "busy-evening", "major-incident"] {
        let s = shipped(name);
        assert_eq!(s.name, name);
        assert!(s.duration_mins >= 30, "{name}");
        let contacts = s.contacts();
        let reasons = |r: ContactReason| contacts.iter().filter(|c| c.reason == r).count();
        assert!(
            reasons(ContactReason::Complaint) >= 1,
            "{name}: a complaint"
        );
        assert!(
            contacts
                .iter()
                .any(|c| c.reason == ContactReason::Update && c.duplicate_of.is_some()),
            "{name}: a caller ringing back"
        );
        assert!(
            s.injects.iter().any(|i| i.kind == InjectKind::Hazard),
            "{name}: a hazard inject"
        );
        assert!(
            s.units.iter().any(|u| u.declines),
            "{name}: a unit declines"
        );
        assert!(
            s.units.iter().any(|u| u.silent),
            "{name}: a unit goes silent"
        );
        assert!(
            s.units.iter().any(|u| u.misses_checkin),
            "{name}: a unit misses a check-in"
        );
    }
}

#[test]
fn busy_evening_opens_within_30_seconds_and_keeps_coming() {
    let s = shipped("busy-evening");
    let contacts = s.contacts();
    assert!(contacts[0].at_secs <= 30, "{:?}", contacts[0]);
    // A steady stream: no gap longer than ten minutes until the last 10 minutes.
    let times: Vec<u64> = contacts.iter().map(|c| c.at_secs).collect();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] <= 600, "a gap of {pair:?} in {times:?}");
    }
    assert!(
        *times.last().unwrap() >= s.duration_secs() - 600,
        "{times:?}"
    );
    assert!(contacts.len() >= 15, "{}", contacts.len());
}

#[test]
fn the_major_incident_has_many_duplicate_calls() {
    let s = shipped("major-incident");
    let first = &s.contacts()[0];
    let dups = s
        .contacts()
        .iter()
        .filter(|c| c.duplicate_of.as_deref() == Some(first.id.as_str()))
        .count();
    assert!(dups >= 6, "{dups}");
}

#[test]
fn the_arrival_curve_expands_the_same_way_for_a_seed_and_differently_for_another() {
    let s = shipped("busy-evening");
    assert_eq!(s.contacts(), s.clone().contacts());
    let other = s.clone().with_seed(s.seed + 1).contacts();
    assert_ne!(s.contacts(), other);
    // Ids stay unique whatever the seed.
    let mut ids: Vec<_> = other.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), other.len());
}

// ---- problems, located ----------------------------------------------------------

/// A small valid scenario. Tests break one line of it, so line numbers are exact.
const BASE: &str = r#"name = "drill"
title = "Drill"
duration_mins = 30

[[contacts]]
id = "c1"
at_secs = 10
channel = "phone"
place = "civic-centre"
says = "Someone fell"
incident_type = "medical_emergency"
answers = { breathing = true, bleeding = "none" }

[[contacts]]
id = "c2"
at_secs = 100
channel = "phone"
says = "Again about the fall"
reason = "update"
duplicate_of = "c1"

[[units]]
resource = "amara-okafor"

[[injects]]
at_secs = 200
kind = "hazard"
about = "c1"
unit = "amara-okafor"
text = "Wet floor"
"#;

fn with_line(line: usize, replacement: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[line - 1] = replacement;
    lines.join("\n") + "\n"
}

fn errors(text: &str) -> ConfigErrors {
    try_load("drill", text).unwrap_err()
}

fn try_load(stem: &str, text: &str) -> Result<Scenario, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(format!("{stem}.toml"));
    std::fs::write(&path, text).unwrap();
    loaded().load_exercise(&path)
}

fn assert_located(errors: &ConfigErrors, line: usize, field: &str, words: &str) {
    let found = errors
        .0
        .iter()
        .any(|p| p.line == Some(line) && p.field == field && p.message.contains(words));
    assert!(
        found,
        "expected line {line} {field}: …{words}…, got:\n{errors}"
    );
    let shown = errors.to_string();
    assert!(
        shown.contains(&format!("drill.toml:{line}: {field}: ")),
        "{shown}"
    );
}

#[test]
fn the_base_scenario_is_valid() {
    let s = try_load("drill", BASE).unwrap();
    assert_eq!(s.contacts().len(), 2);
}

#[test]
fn the_name_must_be_the_file_stem() {
    let err = try_load("other", BASE).unwrap_err();
    assert!(
        err.to_string()
            .contains("other.toml:1: name: must be the file's name"),
        "{err}"
    );
}

#[test]
fn an_unknown_place_is_located() {
    let e = errors(&with_line(9, r#"place = "atlantis""#));
    assert_located(&e, 9, "contacts[0].place", "unknown place id atlantis");
}

#[test]
fn an_unknown_incident_type_is_located() {
    let e = errors(&with_line(11, r#"incident_type = "alien_landing""#));
    assert_located(
        &e,
        11,
        "contacts[0].incident_type",
        "unknown incident type alien_landing",
    );
}

#[test]
fn an_unknown_question_is_located() {
    let e = errors(&with_line(
        12,
        r#"answers = { breathing = true, colour = "red" }"#,
    ));
    assert_located(
        &e,
        12,
        "contacts[0].answers.colour",
        "not a question of medical_emergency",
    );
}

#[test]
fn an_answer_the_script_does_not_allow_is_located() {
    let e = errors(&with_line(
        12,
        r#"answers = { breathing = true, bleeding = "lots" }"#,
    ));
    assert_located(
        &e,
        12,
        "contacts[0].answers.bleeding",
        "answer one of: none, minor, severe",
    );
    let e = errors(&with_line(12, r#"answers = { breathing = "yes" }"#));
    assert_located(
        &e,
        12,
        "contacts[0].answers.breathing",
        "answer with a yes_no value",
    );
}

#[test]
fn an_unknown_resource_is_located() {
    let e = errors(&with_line(23, r#"resource = "batmobile""#));
    assert_located(&e, 23, "units[0].resource", "unknown resource batmobile");
}

#[test]
fn a_resource_without_a_field_log_in_is_refused() {
    let e = errors(&with_line(23, r#"resource = "fire-safety-team""#));
    assert_located(&e, 23, "units[0].resource", "no field log-in");
}

#[test]
fn a_duplicate_contact_id_is_located() {
    let e = errors(&with_line(15, r#"id = "c1""#));
    assert_located(&e, 15, "contacts[1].id", "duplicate contact id c1");
}

#[test]
fn a_duplicate_unit_is_located() {
    let text = BASE.replace(
        "[[injects]]",
        "[[units]]\nresource = \"Amara Okafor\"\n\n[[injects]]",
    );
    let e = errors(&text);
    assert_located(&e, 26, "units[1].resource", "duplicate unit");
}

#[test]
fn duplicate_of_an_unknown_contact_is_located() {
    let e = errors(&with_line(20, r#"duplicate_of = "c9""#));
    assert_located(&e, 20, "contacts[1].duplicate_of", "unknown contact c9");
}

#[test]
fn duplicate_of_a_later_contact_is_located() {
    let e = errors(&with_line(16, "at_secs = 5"));
    assert_located(&e, 20, "contacts[1].duplicate_of", "c1 comes later");
}

#[test]
fn an_inject_about_an_unknown_or_later_contact_is_located() {
    let e = errors(&with_line(28, r#"about = "c7""#));
    assert_located(&e, 28, "injects[0].about", "unknown contact c7");
    let e = errors(&with_line(26, "at_secs = 50").replace(r#"about = "c1""#, r#"about = "c2""#));
    assert_located(&e, 28, "injects[0].about", "c2 comes later");
}

#[test]
fn at_secs_beyond_the_duration_is_located() {
    let e = errors(&with_line(7, "at_secs = 1801"));
    assert_located(
        &e,
        7,
        "contacts[0].at_secs",
        "beyond the scenario's duration (1800 s)",
    );
    let e = errors(&with_line(26, "at_secs = 4000"));
    assert_located(
        &e,
        26,
        "injects[0].at_secs",
        "beyond the scenario's duration",
    );
}

#[test]
fn an_inject_by_a_unit_the_scenario_does_not_play_is_located() {
    let e = errors(&with_line(29, r#"unit = "ben-hughes""#));
    assert_located(&e, 29, "injects[0].unit", "unknown unit ben-hughes");
}

#[test]
fn an_arrival_curve_is_checked_like_the_contacts() {
    let text = format!(
        "{BASE}\n[[arrivals]]\nid_prefix = \"c\"\nuntil_secs = 2000\nmean_gap_secs = 60\n\n[[arrivals.templates]]\nchannel = \"sms\"\nsays = \"x\"\nplace = \"nowhere\"\n"
    );
    let e = errors(&text);
    assert_located(&e, 33, "arrivals[0].id_prefix", "duplicate ids");
    assert_located(
        &e,
        34,
        "arrivals[0].until_secs",
        "beyond the scenario's duration",
    );
    assert_located(
        &e,
        40,
        "arrivals[0].templates[0].place",
        "unknown place id nowhere",
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let e = errors(&with_line(24, "ack_sec = 5"));
    assert_located(&e, 24, "units[0].ack_sec", "unknown field");
}

#[test]
fn exercise_outbound_is_suppress_unless_set_to_mark() {
    use muster::config::{ExerciseOutbound, Settings};
    let mut settings = Settings::default();
    assert_eq!(settings.exercise.outbound, ExerciseOutbound::Suppress);
    settings
        .apply_env([("MUSTER_EXERCISE_OUTBOUND", "mark")])
        .unwrap();
    assert_eq!(settings.exercise.outbound, ExerciseOutbound::Mark);
    let err = settings
        .apply_env([("MUSTER_EXERCISE_OUTBOUND", "shout")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("MUSTER_EXERCISE_OUTBOUND"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(&file, "[exercise]\noutbound = \"mark\"\n").unwrap();
    let s = Settings::load_with_env(Some(&file), NO_ENV).unwrap();
    assert_eq!(s.exercise.outbound, ExerciseOutbound::Mark);
}
