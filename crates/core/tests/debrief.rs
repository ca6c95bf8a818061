//! The exercise debrief's scoring (`projection::debrief`), on hand-made exercise logs
//! built through the real engine: a clean run scores 100, and each fault costs exactly
//! the points docs/EXERCISES.md gives it.

use serde_json::json;

use muster_core::config::exercise::ScriptedContact;
use muster_core::domain::ids::{ContactId, IncidentId, UserId};
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::domain::user::Role;
use muster_core::engine::authz::Actor;
use muster_core::projection::debrief::{self, Debrief, PENALTIES, Trainee};

use muster_core::testing::*;

/// The scenario: a collapse (expected P2, with the caller's answers) and a second call
/// about the same collapse.
fn scenario() -> Vec<ScriptedContact> {
    let c = |v: serde_json::Value| serde_json::from_value::<ScriptedContact>(v).unwrap();
    vec![
        c(json!({
            "id": "c01", "at_secs": 0, "channel": "phone",
            "says": "A man has collapsed in the library",
            "incident_type": "medical_emergency",
            "answers": {"breathing": true, "conscious": true, "bleeding": "minor", "casualties": 1},
            "expected_priority": "P2",
            "why": "breathing and talking, minor bleeding: urgent, not immediate",
        })),
        c(json!({
            "id": "c02", "at_secs": 60, "channel": "phone",
            "says": "Someone is lying on the floor in the library",
            "duplicate_of": "c01",
        })),
    ]
}

/// The world with the simulator account (`sim`, an intake account) added.
fn world() -> (World, UserId) {
    let mut w = World::seeded();
    w.ok(&Actor::system(), user_create("sim", Role::Intake, None));
    let sim = w.user_id("sim");
    (w, sim)
}

fn receive(w: &mut World, summary: &str) -> ContactId {
    let sim = w.actor("sim");
    let recs = w.ok(&sim, contact_receive(summary));
    ContactId(created(&recs, "contact_id"))
}

/// How the trainee handles the first call, with the faults asked for.
#[derive(Default)]
struct Faults {
    /// Seconds waited before dispatching.
    dispatch_delay: i64,
    /// Assess manually at this priority instead of by protocol.
    manual_priority: Option<Priority>,
    /// Open a new incident for the duplicate call instead of linking it.
    miss_duplicate: bool,
    /// Leave out the `casualties` answer.
    skip_question: bool,
}

/// Plays the scenario: the simulator's calls, the operator's handling.
fn play(faults: Faults) -> (World, UserId, IncidentId) {
    let (mut w, sim) = world();
    let op = w.actor("operator");
    let c1 = receive(&mut w, "A man has collapsed in the library");
    w.ok(&op, contact_take(&c1));
    let inc = IncidentId(created(
        &w.ok(&op, incident_open("medical_emergency", Some(&c1))),
        "incident_id",
    ));
    let mut answers = vec![
        ("breathing", json!(true)),
        ("conscious", json!(true)),
        ("bleeding", json!("minor")),
    ];
    if !faults.skip_question {
        answers.push(("casualties", json!(1)));
    }
    w.ok(&op, incident_answer(&inc, &answers));
    match faults.manual_priority {
        Some(p) => w.ok(&op, assess_manual(&inc, p, "sounded fine to me")),
        None if faults.skip_question => {
            w.ok(&op, assess_manual(&inc, Priority::P2, "caller is credible"))
        }
        None => w.ok(
            &op,
            assess(
                &inc,
                Validity::Verified,
                None,
                TriageMethod::Protocol,
                "script",
            ),
        ),
    };
    w.advance(faults.dispatch_delay);
    let unit = w.resource_of("field1");
    w.assign(&op, &inc, &unit);
    w.advance(50);
    let c2 = receive(&mut w, "Someone is lying on the floor in the library");
    w.ok(&op, contact_take(&c2));
    if faults.miss_duplicate {
        w.ok(&op, incident_open("medical_emergency", Some(&c2)));
    } else {
        w.ok(&op, contact_link(&c2, &inc));
    }
    (w, sim, inc)
}

fn debrief_of(w: &World, sim: &UserId) -> Debrief {
    debrief::compute(&scenario(), &w.engine.centre, sim, &w.log, w.now)
}

fn operator(w: &World, d: &Debrief) -> Trainee {
    let id = w.user_id("operator");
    d.trainees
        .iter()
        .find(|t| t.user_id == id)
        .cloned()
        .expect("the operator is a trainee")
}

fn rules(t: &Trainee) -> Vec<&'static str> {
    t.penalties.iter().map(|p| p.rule).collect()
}

#[test]
fn a_clean_run_scores_100_with_its_figures() {
    let (w, sim, inc) = play(Faults::default());
    let d = debrief_of(&w, &sim);
    // Only the operator acted: the simulator, the system and the unit are no trainees.
    assert_eq!(d.trainees.len(), 1, "{:?}", d.trainees);
    let t = operator(&w, &d);
    assert_eq!(t.penalties, vec![]);
    assert_eq!(t.score, 100);
    assert_eq!(t.name, "operator");
    // Each call is taken one second after it arrives (the world's clock ticks a second
    // a command).
    assert_eq!(t.answer.count, 2);
    assert_eq!(t.answer.median_secs, Some(1));
    assert_eq!(t.answer.over_target, 0);
    // Opened at +3s, answered, assessed, assigned at +6s.
    assert_eq!(t.dispatch.count, 1);
    assert_eq!(t.dispatch.worst_secs, Some(3));
    assert_eq!(t.triage.assessed, 1);
    assert_eq!(t.triage.correct, 1);
    let item = &t.triage.items[0];
    assert_eq!(item.contact, "c01");
    assert_eq!(item.incident, inc);
    assert_eq!((item.expected, item.given), (Priority::P2, Priority::P2));
    assert_eq!(item.method, TriageMethod::Protocol);
    assert_eq!(item.rule.as_deref(), Some("default"));
    assert!(item.why.starts_with("breathing and talking"));
    assert_eq!(t.questions_skipped, 0);
    assert_eq!(t.duplicates.linked, 1);
    assert_eq!(t.duplicates.missed, 0);
    assert_eq!(t.escalations_missed, 0);
    assert!(t.violations.is_empty());
    // The incident's timeline, in order, with who did each step.
    assert_eq!(d.incidents.len(), 1);
    let tl = &d.incidents[0];
    assert_eq!(tl.id, inc);
    let kinds: Vec<&str> = tl.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            "incident.opened",
            "contact.linked",
            "incident.answered",
            "incident.assessed",
            "incident.status_changed",
            "assignment.created",
            "incident.status_changed",
            "contact.linked",
        ]
    );
    assert!(tl.timeline.iter().all(|e| e.actor == w.user_id("operator")));
    assert!(tl.timeline.windows(2).all(|p| p[0].at <= p[1].at));
    assert_eq!(tl.timeline[3].summary, "P2 by protocol (default)");
    assert_eq!(tl.timeline[5].summary, "Unit A assigned");
}

#[test]
fn a_late_dispatch_costs_its_points() {
    // The P2 target is 120 s; dispatching 200 s later than the clean run misses it.
    let (w, sim, _) = play(Faults {
        dispatch_delay: 200,
        ..Faults::default()
    });
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(rules(&t), [debrief::LATE_DISPATCH]);
    assert_eq!(debrief::points(debrief::LATE_DISPATCH), 5);
    assert_eq!(t.score, 95);
    assert_eq!(t.dispatch.worst_secs, Some(203));
    assert_eq!(t.dispatch.over_target, 1);
    assert!(t.penalties[0].detail.contains("203s (target 120s)"));
}

#[test]
fn under_triage_costs_more_than_over_triage() {
    let (w, sim, _) = play(Faults {
        manual_priority: Some(Priority::P3),
        ..Faults::default()
    });
    let under = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(rules(&under), [debrief::UNDER_TRIAGE]);
    assert_eq!(under.score, 90);
    assert_eq!((under.triage.under, under.triage.correct), (1, 0));
    let item = &under.triage.items[0];
    assert_eq!((item.expected, item.given), (Priority::P2, Priority::P3));
    assert_eq!(item.method, TriageMethod::Manual);
    assert_eq!(item.rule, None);

    let (w, sim, _) = play(Faults {
        manual_priority: Some(Priority::P1),
        ..Faults::default()
    });
    let over = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(rules(&over), [debrief::OVER_TRIAGE]);
    assert_eq!(over.score, 97);
    assert_eq!(over.triage.over, 1);
    assert!(over.score > under.score);
}

#[test]
fn a_missed_duplicate_costs_its_points() {
    let (w, sim, _) = play(Faults {
        miss_duplicate: true,
        ..Faults::default()
    });
    let d = debrief_of(&w, &sim);
    let t = operator(&w, &d);
    assert_eq!(rules(&t), [debrief::DUPLICATE_MISSED]);
    assert_eq!(t.score, 95);
    assert_eq!((t.duplicates.linked, t.duplicates.missed), (0, 1));
    assert_eq!(d.incidents.len(), 2);
}

#[test]
fn a_duplicate_opened_then_merged_into_the_original_counts_as_linked() {
    let (mut w, sim, inc) = play(Faults {
        miss_duplicate: true,
        ..Faults::default()
    });
    let second = w
        .state
        .incidents
        .keys()
        .find(|i| **i != inc)
        .cloned()
        .unwrap();
    let op = w.actor("operator");
    w.ok(&op, incident_merge(&second, &inc, "same collapse"));
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!((t.duplicates.linked, t.duplicates.missed), (1, 0));
    assert_eq!(t.score, 100);
}

#[test]
fn a_skipped_question_costs_a_point() {
    let (w, sim, _) = play(Faults {
        skip_question: true,
        ..Faults::default()
    });
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(rules(&t), [debrief::QUESTION_SKIPPED]);
    assert_eq!(t.questions_skipped, 1);
    assert_eq!(t.score, 99);
}

#[test]
fn faults_add_up() {
    let (w, sim, _) = play(Faults {
        dispatch_delay: 200,
        manual_priority: Some(Priority::P3),
        miss_duplicate: true,
        skip_question: false,
    });
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(t.score, 100 - 5 - 10 - 5);
}

#[test]
fn a_trainee_sees_only_their_figures_and_incidents() {
    let (mut w, sim, _) = play(Faults::default());
    // The supervisor handles a call of their own on another incident.
    let sup = w.actor("supervisor");
    let c = receive(&mut w, "A smell of gas");
    w.ok(&sup, contact_take(&c));
    w.ok(&sup, incident_open("utility_outage", Some(&c)));
    let d = debrief_of(&w, &sim);
    assert_eq!(d.trainees.len(), 2);
    assert_eq!(d.incidents.len(), 2);
    let mine = d.only_for(&w.user_id("operator"));
    assert_eq!(mine.trainees.len(), 1);
    assert_eq!(mine.trainees[0].user_id, w.user_id("operator"));
    assert_eq!(mine.incidents.len(), 1);
    assert!(
        mine.incidents[0]
            .timeline
            .iter()
            .all(|e| e.actor == w.user_id("operator"))
    );
}

#[test]
fn the_documented_penalties_are_the_ones_scored() {
    let text = std::fs::read_to_string(repo_path("docs/EXERCISES.md")).unwrap();
    for (rule, points, _) in PENALTIES {
        let row = format!("| `{rule}` | {points} |");
        assert!(text.contains(&row), "docs/EXERCISES.md lacks {row}");
    }
    let rows = text.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, PENALTIES.len(), "one row a rule in docs/EXERCISES.md");
    let module =
        std::fs::read_to_string(repo_path("crates/core/src/projection/debrief.rs")).unwrap();
    for (rule, points, _) in PENALTIES {
        assert!(module.contains(&format!("//! | `{rule}` | {points} |")));
    }
}

/// Submits everything the timers say is due now, as the hub's clock task does.
fn fire_due(w: &mut World) {
    for round in 0..10 {
        let due = muster_core::engine::timers::due(&w.state, &w.engine.centre, w.now);
        if due.is_empty() {
            return;
        }
        for (n, c) in due.iter().enumerate() {
            w.submit(&Actor::system(), Some(format!("timer-{round}-{n}")), c)
                .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
    }
}

#[test]
fn an_escalation_left_unhandled_past_its_window_costs_its_points() {
    // The unit never acknowledges: at 90 s the ladder alerts the supervisor (a rung the
    // desk must act on); the P2 acknowledge target gives the desk 60 s from then.
    let (mut w, sim, _) = play(Faults::default());
    let asg = w.state.assignments.keys().next().cloned().unwrap();
    w.now = w.state.assignments[&asg].notified_at + chrono::Duration::seconds(95);
    fire_due(&mut w);
    assert!(
        w.log.iter().any(
            |r| matches!(&r.event, muster_core::engine::Event::AssignmentEscalated { action, .. }
                if !action.pushes_to_unit())
        ),
        "the ladder reached the supervisor: {:?}",
        kinds(&w.log)
    );
    // Still inside the window: not (yet) missed.
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(t.escalations_missed, 0);
    assert_eq!(t.score, 100);

    let mut late = w.now + chrono::Duration::seconds(61);
    let t = operator(
        &w,
        &debrief::compute(&scenario(), &w.engine.centre, &sim, &w.log, late),
    );
    assert_eq!(rules(&t), [debrief::ESCALATION_MISSED]);
    assert_eq!(t.escalations_missed, 1);
    assert_eq!(t.score, 95);

    // The unit reached by radio and acknowledged through the desk in time: handled.
    w.advance(20);
    let op = w.actor("operator");
    w.ok(
        &op,
        acknowledge_via(&asg, muster_core::domain::assignment::Via::Radio),
    );
    late = w.now + chrono::Duration::seconds(600);
    let t = operator(
        &w,
        &debrief::compute(&scenario(), &w.engine.centre, &sim, &w.log, late),
    );
    assert_eq!(t.escalations_missed, 0);
    assert_eq!(t.score, 100);
}

#[test]
fn a_missing_procedure_step_costs_its_points() {
    // Resolved without sending anyone: the conformance report's `dispatched` step is
    // missing, charged to whoever opened the incident.
    let (mut w, sim) = world();
    let op = w.actor("operator");
    let c1 = receive(&mut w, "A man has collapsed in the library");
    w.ok(&op, contact_take(&c1));
    let inc = IncidentId(created(
        &w.ok(&op, incident_open("medical_emergency", Some(&c1))),
        "incident_id",
    ));
    w.ok(
        &op,
        incident_answer(
            &inc,
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("minor")),
                ("casualties", json!(1)),
            ],
        ),
    );
    w.ok(&op, assess_manual(&inc, Priority::P2, "caller is credible"));
    w.ok(&op, incident_resolve(&inc));
    let t = operator(&w, &debrief_of(&w, &sim));
    assert_eq!(rules(&t), [debrief::PROCEDURE_VIOLATION]);
    assert_eq!(t.violations.len(), 1);
    assert_eq!(t.violations[0].step, "dispatched");
    assert_eq!(t.dispatch.count, 0);
    assert_eq!(t.score, 90);
}
