//! Alerts held by the hub: raised by the timers' events (an escalation, a missed
//! check-in, an incident's breached target), the same for every desk user, in the view
//! the apps load, cleared only by a supervisor's logged acknowledgement.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use chrono::{DateTime, Utc};

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::case::CaseType;
use muster_core::domain::ids::{AlertId, AssignmentId, IncidentId};
use muster_core::domain::triage::Priority;
use muster_core::engine::authz::Actor;
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Event, State, timers};
use muster_core::projection::view::state_for;

use muster_core::testing::*;

/// Submits everything the timers say is due now, as the hub's clock task does.
fn fire_due(w: &mut World) -> Vec<Event> {
    let due = timers::due(&w.state, &w.engine.centre, w.now);
    let mut out = Vec::new();
    for (n, c) in due.iter().enumerate() {
        let recs = w
            .submit(&Actor::system(), Some(format!("timer-{}-{n}", w.now)), c)
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        out.extend(events(&recs));
    }
    out
}

fn ack(alert: &AlertId, note: Option<&str>) -> Command {
    Command::AlertAcknowledge(cmd::AlertAcknowledge {
        alert_id: alert.clone(),
        note: note.map(String::from),
    })
}

/// A P1 medical emergency assigned to field1's resource, not yet acknowledged.
fn p1_assigned(w: &mut World) -> (IncidentId, AssignmentId) {
    let op = w.actor("operator");
    let inc = w.open(&op, "medical_emergency");
    w.ok(&op, assess_manual(&inc, Priority::P1, "not breathing"));
    let asg = w.assign(&op, &inc, &w.resource_of("field1"));
    (inc, asg)
}

/// A second supervisor (the demo has one), as a second wallboard's user.
fn second_supervisor(w: &mut World) -> Actor {
    let admin = w.actor("admin");
    w.ok(
        &admin,
        user_create(
            "supervisor2",
            muster_core::domain::user::Role::Supervisor,
            None,
        ),
    );
    w.actor("supervisor2")
}

/// The `alerts` of a user's view, as the apps get it.
fn view_alerts(w: &World, username: &str) -> Vec<serde_json::Value> {
    let since: DateTime<Utc> = w.now - chrono::Duration::hours(24);
    state_for(&w.state, &w.viewer(username), since)["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("{username}'s view has an alerts list"))
        .clone()
}

#[test]
fn each_kind_of_timer_event_raises_one_alert_numbered_by_its_seq() {
    let mut w = World::demo();
    let (inc, asg) = p1_assigned(&mut w);
    assert!(w.state.alerts.is_empty());

    // The first escalation rung (30 s for the urgent ladder).
    w.advance(30);
    fire_due(&mut w);
    let escalated = w
        .log
        .iter()
        .find(|r| r.event.kind().as_str() == "assignment.escalated")
        .expect("the first rung fired")
        .clone();
    let id = AlertId(format!("alr_{}", escalated.seq));
    let a = &w.state.alerts[&id];
    assert_eq!(a.kind, "assignment.escalated");
    assert_eq!(a.incident_id, inc);
    assert_eq!(a.assignment_id.as_ref(), Some(&asg));
    assert_eq!(a.raised_at, escalated.at);
    assert_eq!(a.cause, escalated.event);
    assert!(a.is_open());

    // The acknowledge target (30 s for a P1) runs out with it.
    let kinds: Vec<String> = w.state.alerts.values().map(|a| a.kind.clone()).collect();
    assert!(
        kinds.contains(&"target.breached".to_string()),
        "the acknowledge target breached too: {kinds:?}"
    );
    let breach = w
        .state
        .alerts
        .values()
        .find(|a| a.kind == "target.breached")
        .unwrap();
    assert_eq!(breach.incident_id, inc);
    assert_eq!(breach.assignment_id, None);
    assert!(
        matches!(&breach.cause, Event::TargetBreached { target, .. } if target == "acknowledge")
    );

    // A missed check-in: deployed, then silent past the 300 s interval.
    let field = w.actor("field1");
    w.ok(&field, acknowledge(&asg));
    w.ok(&field, progress(&asg, AssignmentStatus::EnRoute));
    let before = w.state.alerts.len();
    w.advance(301);
    let fired = fire_due(&mut w);
    assert!(
        fired.iter().any(|e| e.kind().as_str() == "checkin.missed"),
        "{fired:?}"
    );
    let missed: Vec<_> = w
        .state
        .alerts
        .values()
        .filter(|a| a.kind == "checkin.missed")
        .collect();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].assignment_id.as_ref(), Some(&asg));
    // One alert per event that raises one, and nothing else raises any.
    let raising = w
        .log
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                Event::AssignmentEscalated { .. }
                    | Event::CheckinMissed { .. }
                    | Event::TargetBreached { .. }
            )
        })
        .count();
    assert_eq!(w.state.alerts.len(), raising);
    assert!(w.state.alerts.len() > before);
}

#[test]
fn a_cases_missed_deadline_is_casework_and_raises_no_alert() {
    let mut w = World::demo();
    let op = w.actor("operator");
    w.ok(
        &op,
        case_open(CaseType::Complaint, None, "Nobody rang me back"),
    );
    // Far past every case deadline.
    w.advance(90 * 86_400);
    let fired = fire_due(&mut w);
    assert!(
        fired.iter().any(|e| matches!(
            e,
            Event::TargetBreached {
                case_id: Some(_),
                ..
            }
        )),
        "{fired:?}"
    );
    assert!(w.state.alerts.is_empty(), "{:?}", w.state.alerts);
}

#[test]
fn every_desk_user_sees_the_same_alerts_in_the_view_and_field_users_none() {
    let mut w = World::demo();
    second_supervisor(&mut w);
    p1_assigned(&mut w);
    w.advance(30);
    fire_due(&mut w);
    let sup = view_alerts(&w, "supervisor");
    assert!(!sup.is_empty());
    assert_eq!(view_alerts(&w, "operator"), sup);
    assert_eq!(view_alerts(&w, "supervisor2"), sup);
    assert!(view_alerts(&w, "field1").is_empty());
    // The fields the apps word an alert from.
    let a = &sup[0];
    for field in ["id", "kind", "incident_id", "raised_at", "cause"] {
        assert!(a.get(field).is_some(), "{field} in {a}");
    }
    assert!(a["id"].as_str().unwrap().starts_with("alr_"));
    assert_eq!(a["cause"]["kind"], a["kind"]);
}

#[test]
fn a_supervisor_acknowledges_an_alert_once_and_the_log_says_who() {
    let mut w = World::demo();
    let sup2 = second_supervisor(&mut w);
    p1_assigned(&mut w);
    w.advance(30);
    fire_due(&mut w);
    let id = w.state.alerts.keys().next().unwrap().clone();

    // Operators, admins and field users may not clear what oversees them.
    for who in ["operator", "admin", "field1"] {
        assert_eq!(
            w.err(&w.actor(who), ack(&id, None)).code(),
            "forbidden",
            "{who}"
        );
    }
    assert_eq!(
        w.err(
            &w.actor("supervisor"),
            ack(&AlertId("alr_999999".into()), None)
        )
        .code(),
        "not_found"
    );
    let long = "x".repeat(5000);
    assert_eq!(
        w.err(&w.actor("supervisor"), ack(&id, Some(&long))).code(),
        "validation_failed"
    );

    let sup = w.actor("supervisor");
    let recs = w.ok(&sup, ack(&id, Some("crew confirmed by radio")));
    assert_eq!(kinds(&recs), ["alert.acknowledged"]);
    assert_eq!(recs[0].actor, sup.user_id);
    let a = &w.state.alerts[&id];
    assert!(!a.is_open());
    assert_eq!(a.acknowledged_by.as_ref(), Some(&sup.user_id));
    assert_eq!(a.acknowledged_at, Some(recs[0].at));
    assert_eq!(a.note.as_deref(), Some("crew confirmed by radio"));

    // A second acknowledgement (another supervisor, a second board) is refused and
    // says by whom; nothing changes.
    let e = w.err(&sup2, ack(&id, None));
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains("already acknowledged"), "{e}");

    // The view still lists it, acknowledged, so every board drops it from the open list.
    let listed = view_alerts(&w, "operator");
    let mine = listed.iter().find(|x| x["id"] == id.as_str()).unwrap();
    assert_eq!(mine["acknowledged_by"], sup.user_id.as_str());
    // Seen by every desk user, not by field users.
    let seq = recs[0].seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor2"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
}

#[test]
fn alerts_and_their_acknowledgements_survive_replay() {
    let mut w = World::demo();
    p1_assigned(&mut w);
    w.advance(30);
    fire_due(&mut w);
    let id = w.state.alerts.keys().next().unwrap().clone();
    w.ok(&w.actor("supervisor"), ack(&id, None));
    w.advance(60);
    fire_due(&mut w);
    let mut replayed = State::default();
    for r in &w.log {
        replayed.apply(r);
    }
    assert_eq!(replayed.alerts, w.state.alerts);
    assert!(replayed.alerts.len() >= 3);
    assert!(!replayed.alerts[&id].is_open());
    // And through the state's own stored form (snapshots).
    let back: State = serde_json::from_str(&serde_json::to_string(&w.state).unwrap()).unwrap();
    assert_eq!(back.alerts, w.state.alerts);
}

#[test]
fn an_unacknowledged_alert_leaves_the_view_with_its_incident_but_not_the_state() {
    let mut w = World::demo();
    let (inc, asg) = p1_assigned(&mut w);
    w.advance(30);
    fire_due(&mut w);
    let ids: Vec<AlertId> = w.state.alerts.keys().cloned().collect();
    assert!(!ids.is_empty());
    // The incident is worked and closed; nobody acknowledges its alerts.
    let field = w.actor("field1");
    w.ok(&field, acknowledge(&asg));
    w.ok(&field, progress(&asg, AssignmentStatus::EnRoute));
    w.ok(&field, progress(&asg, AssignmentStatus::OnScene));
    let actions: Vec<String> = w.state.assignments[&asg]
        .actions
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for a in &actions {
        w.ok(&field, action_done(&asg, a));
    }
    w.ok(&field, progress(&asg, AssignmentStatus::Completed));
    let op = w.actor("operator");
    w.ok(&op, incident_resolve(&inc));
    w.ok(&op, incident_close(&inc));
    // Within the window: still on the boards.
    assert_eq!(view_alerts(&w, "supervisor").len(), ids.len());
    // Two days later (the view here looks back 24 h): gone from the view, kept in the
    // state, and still acknowledgeable.
    w.advance(2 * 86_400);
    assert!(view_alerts(&w, "supervisor").is_empty());
    assert_eq!(w.state.alerts.len(), ids.len());
    w.ok(&w.actor("supervisor"), ack(&ids[0], None));
}
