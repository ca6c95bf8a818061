//! The centre's procedures, enforced by the pure engine: the three triage methods on
//! table cases, duplicate detection, resource recommendation on a fixed map, the
//! dispatch-before-assessment rule with a supervisor's override in the conformance
//! report, internal timer commands, and per-recipient broadcast acknowledgements for
//! every audience. The timers on a real hub are in the muster crate's
//! tests/procedures.rs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use muster_core::domain::geo::Location;
use muster_core::domain::ids::{IncidentId, MessageId, ResourceId, UserId};
use muster_core::domain::incident::rules;
use muster_core::domain::message::Audience;
use muster_core::domain::recommend;
use muster_core::domain::resource::{Position, Resource, ResourceStatus, ResourceType};
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, Event};
use muster_core::projection::conformance::{self, StepStatus, Verdict};

use muster_core::testing::*;

// ==================================================================================
// Triage: protocol, matrix, manual
// ==================================================================================

/// The latest assessment's priority and rule.
fn last_assessment(w: &World, id: &IncidentId) -> (Option<Priority>, Option<String>, TriageMethod) {
    let a = w.state.incidents[id].assessments.last().expect("assessed");
    (a.priority, a.rule.clone(), a.method)
}

/// Call-script answers, the priority they give and the rule that gives it.
type ProtocolCase<'a> = (&'a [(&'a str, Value)], Priority, &'a str);

#[test]
fn protocol_method_follows_the_call_script_rules() {
    let cases: [ProtocolCase<'_>; 6] = [
        (
            &[
                ("breathing", json!(false)),
                ("conscious", json!(true)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "not breathing",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(false)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "unconscious",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("severe")),
                ("casualties", json!(1)),
            ],
            Priority::P1,
            "severe bleeding",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("minor")),
                ("casualties", json!(4)),
            ],
            Priority::P1,
            "multiple casualties",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("none")),
                ("casualties", json!(1)),
            ],
            Priority::P3,
            "alert, breathing, no bleeding",
        ),
        (
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("minor")),
                ("casualties", json!(1)),
            ],
            Priority::P2,
            "default",
        ),
    ];
    let mut w = World::demo();
    let op = w.actor("operator");
    for (answers, priority, rule) in cases {
        let id = w.open(&op, "medical_emergency");
        let recs = w.ok(&op, incident_answer(&id, answers));
        if rule != "default" {
            assert!(matches!(
                &recs[0].event,
                Event::IncidentAnswered { suggested_priority: Some(p), rule: Some(r), .. } if *p == priority && r == rule
            ));
        }
        w.ok(
            &op,
            assess(&id, Validity::Verified, None, TriageMethod::Protocol, ""),
        );
        assert_eq!(
            last_assessment(&w, &id),
            (
                Some(priority),
                Some(rule.to_string()),
                TriageMethod::Protocol
            ),
            "{answers:?}"
        );
    }
}

// ==================================================================================
// The procedure binds: required questions, required actions
// ==================================================================================

/// The rule and message of a `procedure_violation`.
#[track_caller]
fn violation(e: muster_core::engine::Error) -> (String, String) {
    match e {
        muster_core::engine::Error::ProcedureViolation { rule, message } => (rule, message),
        other => panic!("expected procedure_violation, got {other:?}"),
    }
}

#[test]
fn assessing_by_protocol_is_refused_naming_the_unanswered_required_questions() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "medical_emergency");
    let by_protocol = || assess(&id, Validity::Verified, None, TriageMethod::Protocol, "");

    // Nothing answered: every required question is named, the optional one is not.
    let (rule, message) = violation(w.err(&op, by_protocol()));
    assert_eq!(rule, rules::REQUIRED_QUESTIONS);
    assert_eq!(
        message,
        "answer the required questions before assessing by protocol: breathing, conscious, bleeding, casualties"
    );
    assert!(w.state.incidents[&id].assessments.is_empty());

    // Partly answered (a blank text counts as no answer): only the rest are named.
    w.ok(
        &op,
        incident_answer(
            &id,
            &[("breathing", json!(true)), ("bleeding", json!("none"))],
        ),
    );
    let (_, message) = violation(w.err(&op, by_protocol()));
    assert!(message.ends_with(": conscious, casualties"), "{message}");

    // All required answered (the optional `hazards` left blank): accepted.
    w.ok(
        &op,
        incident_answer(&id, &[("conscious", json!(true)), ("casualties", json!(1))]),
    );
    w.ok(&op, by_protocol());
    assert_eq!(w.state.incidents[&id].assessments.len(), 1);
}

#[test]
fn required_questions_bind_only_a_protocol_assessment_of_a_real_report() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "medical_emergency");
    // The other methods carry their own justification (a reason, a matrix cell), and a
    // false report needs no script.
    w.ok(
        &op,
        assess_manual(&id, Priority::P2, "caller is a nurse on scene"),
    );
    w.ok(&op, assess_matrix(&id, "significant", "high"));
    w.ok(
        &op,
        assess(
            &id,
            Validity::FalseReport,
            None,
            TriageMethod::Protocol,
            "prank",
        ),
    );
    let (rule, _) = violation(w.err(
        &op,
        assess(&id, Validity::Unverified, None, TriageMethod::Protocol, ""),
    ));
    assert_eq!(rule, rules::REQUIRED_QUESTIONS);
}

#[test]
fn a_supervisor_s_override_of_required_questions_lets_the_protocol_assessment_through() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let id = w.open(&op, "medical_emergency");
    w.ok(&op, incident_answer(&id, &[("breathing", json!(false))]));
    let justification = "caller hung up after saying he is not breathing";
    // Operators may not waive it.
    assert_eq!(
        w.err(
            &op,
            incident_override(&id, rules::REQUIRED_QUESTIONS, justification)
        )
        .code(),
        "forbidden"
    );
    let recs = w.ok(
        &sup,
        incident_override(&id, rules::REQUIRED_QUESTIONS, justification),
    );
    assert_eq!(kinds(&recs), ["incident.overridden"]);
    w.ok(
        &op,
        assess(&id, Validity::Verified, None, TriageMethod::Protocol, ""),
    );
    assert_eq!(
        last_assessment(&w, &id),
        (
            Some(Priority::P1),
            Some("not breathing".into()),
            TriageMethod::Protocol
        )
    );
    // The waiver is only for this incident.
    let other = w.open(&op, "medical_emergency");
    let (rule, _) = violation(w.err(
        &op,
        assess(&other, Validity::Verified, None, TriageMethod::Protocol, ""),
    ));
    assert_eq!(rule, rules::REQUIRED_QUESTIONS);
}

#[test]
fn answers_are_bounded_like_notes() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "security_incident");
    let e = w.err(
        &op,
        incident_answer(&id, &[("description", json!("x".repeat(4_001)))]),
    );
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(
        e.to_string(),
        "answers.description: must be at most 4000 characters"
    );
    assert!(w.state.incidents[&id].answers.is_empty());
    w.ok(
        &op,
        incident_answer(&id, &[("description", json!("x".repeat(4_000)))]),
    );
}

/// A medical emergency dispatched to `rapid-response-1` with the type's checklist
/// (act_1, act_2, act_3 and act_5 required; act_4 optional), on scene.
fn on_scene(w: &mut World) -> muster_core::domain::ids::AssignmentId {
    let op = w.actor("operator");
    let r = w.resource("rapid-response-1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &r);
    w.ok(&op, acknowledge(&asg));
    w.ok(
        &op,
        progress(
            &asg,
            muster_core::domain::assignment::AssignmentStatus::OnScene,
        ),
    );
    asg
}

#[test]
fn completing_with_required_actions_undone_is_refused_naming_them() {
    use muster_core::domain::assignment::AssignmentStatus::{Completed, OnScene};
    let mut w = World::demo();
    let op = w.actor("operator");
    let asg = on_scene(&mut w);
    w.ok(&op, action_done(&asg, "act_1"));
    w.ok(&op, action_done(&asg, "act_3"));
    let (rule, message) = violation(w.err(&op, progress(&asg, Completed)));
    assert_eq!(rule, rules::REQUIRED_ACTIONS);
    assert_eq!(
        message,
        "required actions not done: act_2 (Make the scene safe before approaching), \
         act_5 (Report the outcome to control); do them or give a reason for each"
    );
    assert_eq!(w.state.assignments[&asg].status, OnScene);
    // A reason for only one of the two is not enough.
    let (_, message) = violation(w.err(
        &op,
        complete_skipping(&asg, &[("act_2", "scene was already safe, police present")]),
    ));
    assert!(
        message.contains("act_5") && !message.contains("act_2"),
        "{message}"
    );
    // The optional act_4 never needs a reason.
    w.ok(&op, action_done(&asg, "act_2"));
    w.ok(&op, action_done(&asg, "act_5"));
    w.ok(&op, progress(&asg, Completed));
    assert_eq!(w.state.assignments[&asg].status, Completed);
}

#[test]
fn completing_with_a_reason_for_each_undone_required_action_records_the_reasons() {
    use muster_core::domain::assignment::AssignmentStatus::{Completed, EnRoute};
    let mut w = World::demo();
    let op = w.actor("operator");
    let asg = on_scene(&mut w);
    w.ok(&op, action_done(&asg, "act_1"));
    w.ok(&op, action_done(&asg, "act_3"));

    // Reasons must name undone actions of this assignment, say something, and go
    // only with `completed`.
    let bad: [(&[(&str, &str)], &str); 3] = [
        (
            &[("act_2", "safe"), ("act_5", " ")],
            "skipped.act_5: must not be empty",
        ),
        (
            &[("act_2", "safe"), ("act_5", "radio"), ("act_9", "x")],
            "skipped.act_9: not an action of this assignment",
        ),
        (
            &[
                ("act_1", "done twice"),
                ("act_2", "safe"),
                ("act_5", "radio"),
            ],
            "skipped.act_1: this action is done",
        ),
    ];
    for (skipped, expected) in bad {
        let e = w.err(&op, complete_skipping(&asg, skipped));
        assert_eq!(e.code(), "validation_failed");
        assert_eq!(e.to_string(), expected);
    }
    let mut early = progress(&asg, EnRoute);
    if let Command::AssignmentProgress(p) = &mut early {
        p.skipped.insert("act_2".into(), "no".into());
    }
    assert!(w.err(&op, early).to_string().starts_with("skipped:"));

    let recs = w.ok(
        &op,
        complete_skipping(
            &asg,
            &[
                ("act_2", "police had already secured the scene"),
                ("act_5", "radio down; reported by phone"),
            ],
        ),
    );
    let Event::AssignmentProgressed {
        status, skipped, ..
    } = &recs[0].event
    else {
        panic!("{:?}", recs[0].event);
    };
    assert_eq!(*status, Completed);
    assert_eq!(
        skipped,
        &BTreeMap::from([
            (
                "act_2".to_string(),
                "police had already secured the scene".to_string()
            ),
            (
                "act_5".to_string(),
                "radio down; reported by phone".to_string()
            ),
        ])
    );
    let a = &w.state.assignments[&asg];
    assert_eq!(a.status, Completed);
    assert_eq!(
        a.action("act_5").unwrap().skipped.as_deref(),
        Some("radio down; reported by phone")
    );
    assert_eq!(a.action("act_1").unwrap().skipped, None);
    // The reasons are on the wire as `skipped` too.
    let wire = serde_json::to_value(&recs[0].event).unwrap();
    assert_eq!(
        wire["skipped"]["act_2"],
        "police had already secured the scene"
    );
}

#[test]
fn matrix_method_reads_the_impact_by_urgency_table() {
    let cells = [
        ("widespread", "critical", Priority::P1),
        ("widespread", "medium", Priority::P2),
        ("significant", "high", Priority::P2),
        ("moderate", "critical", Priority::P2),
        ("moderate", "low", Priority::P4),
        ("minor", "critical", Priority::P3),
        ("minor", "low", Priority::P4),
    ];
    let mut w = World::demo();
    let op = w.actor("operator");
    for (impact, urgency, priority) in cells {
        let id = w.open(&op, "utility_outage");
        w.ok(&op, assess_matrix(&id, impact, urgency));
        assert_eq!(
            last_assessment(&w, &id),
            (
                Some(priority),
                Some(format!("{impact}×{urgency}")),
                TriageMethod::Matrix
            )
        );
    }
    let id = w.open(&op, "utility_outage");
    let e = w.err(&op, assess_matrix(&id, "catastrophic", "high"));
    assert_eq!(e.code(), "validation_failed");
    let mut no_urgency = assess_matrix(&id, "minor", "low");
    if let Command::IncidentAssess(cmd::IncidentAssess { urgency, .. }) = &mut no_urgency {
        *urgency = None;
    }
    assert_eq!(w.err(&op, no_urgency).code(), "validation_failed");
}

#[test]
fn manual_method_needs_a_reason_and_records_it() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "welfare_concern");
    let e = w.err(&op, assess_manual(&id, Priority::P2, "  "));
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(e.to_string(), "reason: the manual method needs a reason");
    w.ok(
        &op,
        assess_manual(&id, Priority::P1, "caller fears self-harm"),
    );
    let a = w.state.incidents[&id].assessments.last().unwrap();
    assert_eq!(
        (a.priority, a.method),
        (Some(Priority::P1), TriageMethod::Manual)
    );
    assert_eq!(a.reason, "caller fears self-harm");
    assert_eq!(a.rule, None);
}

// ==================================================================================
// Duplicate detection
// ==================================================================================

fn open_at(incident_type: &str, lat: f64, lon: f64) -> Command {
    Command::IncidentOpen(cmd::IncidentOpen {
        contact_id: None,
        incident_type: incident_type.into(),
        description: "Report from a passer-by".into(),
        location: Location {
            text: None,
            lat: Some(lat),
            lon: Some(lon),
            place_id: None,
        },
    })
}

fn duplicates_of(recs: &[muster_core::engine::Record]) -> Vec<(IncidentId, f64, i64)> {
    recs.iter()
        .find_map(|r| match &r.event {
            Event::IncidentOpened { duplicates, .. } => Some(
                duplicates
                    .iter()
                    .map(|d| (d.incident_id.clone(), d.distance_m, d.minutes_apart))
                    .collect(),
            ),
            _ => None,
        })
        .expect("an incident.opened")
}

#[test]
fn a_second_report_100_m_and_3_minutes_away_is_flagged_as_a_possible_duplicate() {
    let (lat, lon) = (51.5074, -0.1278);
    // ~100 m north is 0.0009° of latitude.
    let mut w = World::demo();
    let op = w.actor("operator");
    let first = IncidentId(created(
        &w.ok(&op, open_at("road_hazard", lat, lon)),
        "incident_id",
    ));
    w.advance(179);
    let recs = w.ok(&op, open_at("road_hazard", lat + 0.0009, lon));
    assert_eq!(duplicates_of(&recs), vec![(first.clone(), 100.0, 3)]);
    let second = IncidentId(created(&recs, "incident_id"));

    // The operator confirms it: a duplicate of the first, which may not be dispatched.
    let mut dup = assess(
        &second,
        Validity::Duplicate,
        None,
        TriageMethod::Manual,
        "same pothole",
    );
    if let Command::IncidentAssess(cmd::IncidentAssess { duplicate_of, .. }) = &mut dup {
        *duplicate_of = Some(first.clone());
    }
    w.ok(&op, dup);
    assert_eq!(w.state.incidents[&second].validity, Validity::Duplicate);

    // 1 km away: not flagged. Another type on the same spot: not flagged.
    let recs = w.ok(&op, open_at("road_hazard", lat + 0.009, lon));
    assert!(duplicates_of(&recs).is_empty());
    let recs = w.ok(&op, open_at("medical_emergency", lat, lon));
    assert!(duplicates_of(&recs).is_empty());
    // Two hours later on the same spot: outside the window.
    w.advance(2 * 3600);
    let recs = w.ok(&op, open_at("road_hazard", lat, lon));
    assert!(duplicates_of(&recs).is_empty());
}

// ==================================================================================
// Recommendation on a fixed map
// ==================================================================================

fn res(
    id: &str,
    kind: ResourceType,
    skills: &[&str],
    north_deg: Option<f64>,
    status: ResourceStatus,
) -> Resource {
    Resource {
        id: ResourceId(id.into()),
        name: id.to_uppercase(),
        resource_type: kind,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        team: "central".into(),
        status,
        location: north_deg.map(|d| Position {
            lat: 51.5 + d,
            lon: -0.12,
            at: start_time(),
        }),
        // Each carried by an app user (no "no app: call by radio" reason).
        user_id: Some(UserId(format!("usr_{id}"))),
        status_at: start_time(),
        email: None,
        phone: None,
        home: None,
        retired: false,
    }
}

#[test]
fn recommendation_ranks_ten_resources_with_reasons() {
    use ResourceStatus::{Assigned, Available, OffDuty};
    use ResourceType::{Person, Team, Vehicle};
    let map = [
        res("res_01", Person, &["first_aid"], Some(0.009), Available),
        res(
            "res_02",
            Person,
            &["first_aid", "driving"],
            Some(0.009),
            Available,
        ),
        res(
            "res_03",
            Vehicle,
            &["first_aid", "driving"],
            Some(0.045),
            Available,
        ),
        res("res_04", Person, &["first_aid"], Some(0.0), Available),
        res(
            "res_05",
            Team,
            &["first_aid", "fire_warden"],
            Some(0.018),
            Available,
        ),
        res("res_06", Person, &["security"], Some(0.0), Available),
        res("res_07", Person, &["first_aid"], Some(0.001), Assigned),
        res("res_08", Person, &["first_aid"], Some(0.001), OffDuty),
        res("res_09", Person, &["first_aid"], None, Available),
        res(
            "res_10",
            Person,
            &["first_aid", "security", "driving", "electrical"],
            Some(0.0045),
            Available,
        ),
    ];
    let centre = demo_centre();
    let kind = centre.incident_type("medical_emergency").unwrap();
    let at = Location {
        text: None,
        lat: Some(51.5),
        lon: Some(-0.12),
        place_id: None,
    };
    let jobs = BTreeMap::from([
        (ResourceId("res_02".into()), 1),
        (ResourceId("res_04".into()), 3),
    ]);
    let ranked = recommend::rank(kind, &at, &map, &centre.speeds_kmh, &jobs);
    let got: Vec<(&str, f64, &str)> = ranked
        .iter()
        .map(|r| (r.resource_id.as_str(), r.score, r.summary.as_str()))
        .collect();
    assert_eq!(got, EXPECTED_RANKING);
    assert_eq!(
        ranked[1].reasons,
        [
            "0.5 km, about 6 min",
            "has first_aid, driving, electrical, security",
            "no jobs today"
        ]
    );
    // Deterministic: the same input in another order gives the same ranking.
    let mut reversed = map.clone();
    reversed.reverse();
    assert_eq!(
        recommend::rank(kind, &at, &reversed, &centre.speeds_kmh, &jobs),
        ranked
    );
}

/// Off duty (res_08), busy (res_07) and unskilled (res_06) are filtered out. Travel
/// time dominates (a van 5 km away beats a walker 1 km away), then workload (res_04 on
/// the spot has had 3 jobs today), then spare skills; an unknown position comes last.
const EXPECTED_RANKING: &[(&str, f64, &str)] = &[
    (
        "res_04",
        0.75,
        "0.0 km, about 0 min; has first_aid; 3 jobs today",
    ),
    (
        "res_10",
        0.737,
        "0.5 km, about 6 min; has first_aid, driving, electrical, security; no jobs today",
    ),
    (
        "res_05",
        0.622,
        "2.0 km, about 8 min; has first_aid, fire_warden; no jobs today",
    ),
    (
        "res_03",
        0.583,
        "5.0 km, about 10 min; has first_aid, driving; no jobs today",
    ),
    (
        "res_01",
        0.518,
        "1.0 km, about 13 min; has first_aid; no jobs today",
    ),
    (
        "res_02",
        0.451,
        "1.0 km, about 13 min; has first_aid, driving; 1 job today",
    ),
    (
        "res_09",
        0.2,
        "distance unknown; has first_aid; no jobs today",
    ),
];

// ==================================================================================
// Dispatch before assessment, the supervisor's override, the conformance report
// ==================================================================================

#[test]
fn dispatching_an_unassessed_incident_needs_a_supervisors_override_shown_in_conformance() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let id = w.open(&op, "medical_emergency");
    let amara = w.resource("amara-okafor");

    let e = w.err(&op, assignment_create(&id, &amara, None));
    assert_eq!(e.code(), "procedure_violation");
    assert_eq!(
        e.to_string(),
        "assess validity and priority before dispatch"
    );
    assert!(
        matches!(&e, muster_core::engine::Error::ProcedureViolation { rule, .. } if rule == rules::DISPATCH_REQUIRES_ASSESSMENT)
    );

    let why = "caller collapsed mid-call; sending first, assessing after";
    let e = w.err(
        &op,
        incident_override(&id, rules::DISPATCH_REQUIRES_ASSESSMENT, why),
    );
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &sup,
        incident_override(&id, rules::DISPATCH_REQUIRES_ASSESSMENT, why),
    );
    let override_at = w.now;
    w.ok(&op, assignment_create(&id, &amara, None));

    let report = conformance::assess(&w.state, &w.state.incidents[&id], &w.log);
    let assessed = &report.steps[0];
    assert_eq!(assessed.step, "assessed");
    assert_eq!(assessed.status, StepStatus::Overridden);
    assert_eq!(assessed.by, Some(sup.user_id.clone()));
    assert_eq!(assessed.at, Some(override_at));
    assert_eq!(assessed.justification.as_deref(), Some(why));
    assert_eq!(report.steps[1].status, StepStatus::Done);
    // Closing is not reachable yet: pending, not missing.
    assert_eq!(report.steps[2].status, StepStatus::Pending);
    assert_eq!(report.steps[3].status, StepStatus::Pending);
    assert_eq!(report.verdict, Verdict::Pending);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["steps"][0]["status"], "overridden");
    assert_eq!(json["steps"][0]["justification"], why);
}

#[test]
fn a_resolved_incident_without_dispatch_reads_missing() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open_assessed(&op, "welfare_concern");
    w.ok(&op, incident_resolve(&id));
    let report = conformance::assess(&w.state, &w.state.incidents[&id], &w.log);
    let got: Vec<(&str, StepStatus)> = report.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        got,
        [
            ("assessed", StepStatus::Done),
            ("dispatched", StepStatus::Missing),
            ("required_actions_done", StepStatus::Pending),
            ("outcome_recorded", StepStatus::Done),
        ]
    );
    assert_eq!(report.verdict, Verdict::NotConforming);
}

// ==================================================================================
// Internal timer commands: the system actor only, and never twice
// ==================================================================================

#[test]
fn timer_commands_come_only_from_the_system_and_fire_once() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = w.open(&op, "medical_emergency");
    w.ok(&op, assess_manual(&id, Priority::P1, "not breathing"));
    let asg = w.assign(&op, &id, &w.resource("amara-okafor"));
    let rung = Command::TimerEscalate(cmd::TimerEscalate {
        assignment_id: asg.clone(),
        level: 1,
    });
    for who in ["operator", "supervisor", "admin", "field1"] {
        let e = w.err(&w.actor(who), rung.clone());
        assert_eq!(e.code(), "forbidden", "{who}");
    }
    // Not yet due: refused.
    assert_eq!(w.err(&Actor::system(), rung.clone()).code(), "conflict");
    w.advance(30);
    let due = muster_core::engine::timers::due(&w.state, &w.engine.centre, w.now);
    assert!(due.contains(&rung), "{due:?}");
    w.ok(&Actor::system(), rung.clone());
    assert_eq!(w.err(&Actor::system(), rung).code(), "conflict");
    assert_eq!(w.state.escalations[&asg], 1);
}

// ==================================================================================
// Broadcast acknowledgements for every audience
// ==================================================================================

#[test]
fn broadcast_acknowledgements_are_tracked_per_recipient_for_every_audience() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let inc = w.open_assessed(&op, "medical_emergency");
    w.assign(&op, &inc, &w.resource_of("field1"));
    let audiences = [
        Audience::All,
        Audience::Team("north".into()),
        Audience::Incident(inc.clone()),
        Audience::Resource(w.resource_of("field2")),
        Audience::User(w.user_id("operator2")),
    ];
    for audience in audiences {
        let recs = w.ok(
            &sup,
            broadcast(audience.clone(), "Acknowledge please", true),
        );
        let msg = MessageId(created(&recs, "message_id"));
        let recipients = w.state.messages[&msg].recipients.clone();
        assert!(!recipients.is_empty(), "{audience:?}");
        for (n, user) in recipients.iter().enumerate() {
            let actor = Actor::of(&w.state.users[user]);
            w.ok(&actor, message_ack(&msg));
            assert_eq!(w.state.messages[&msg].acks.len(), n + 1, "{audience:?}");
            assert_eq!(w.err(&actor, message_ack(&msg)).code(), "conflict");
        }
        let outsider = ["field8", "field5", "admin"]
            .into_iter()
            .map(|u| w.actor(u))
            .find(|a| !recipients.contains(&a.user_id));
        if let Some(a) = outsider {
            assert_eq!(
                w.err(&a, message_ack(&msg)).code(),
                "forbidden",
                "{audience:?}"
            );
        }
        let m = &w.state.messages[&msg];
        assert!(recipients.iter().all(|u| m.acks.contains_key(u)));
    }
}
