//! Units nobody carries the app for: their escalation ladder starts with "call by
//! radio", never pushes to the unit, stops at the desk's radio acknowledgement and ends.

use muster_core::domain::assignment::Via;
use muster_core::domain::ids::AssignmentId;
use muster_core::domain::procedure::EscalationAction;
use muster_core::domain::triage::Priority;
use muster_core::engine::timers;
use muster_core::engine::{Actor, Command, Event};
use muster_core::testing::*;

/// Runs the hub's timers once a second for `secs` seconds (from now); returns the escalations of
/// `asg` as (level, action, channel, seconds after the assignment).
fn tick(
    w: &mut World,
    asg: &AssignmentId,
    secs: i64,
) -> Vec<(u32, EscalationAction, Option<String>, i64)> {
    let start = w.state.assignments[asg].notified_at;
    let mut out = Vec::new();
    for _ in 0..secs {
        for c in timers::due(&w.state, &w.engine.centre, w.now) {
            let recs = w.submit(&Actor::system(), None, &c).unwrap();
            for e in events(&recs) {
                if let Event::AssignmentEscalated {
                    assignment_id,
                    level,
                    action,
                    channel,
                    ..
                } = e
                    && &assignment_id == asg
                {
                    out.push((level, action, channel, (w.now - start).num_seconds()));
                }
            }
        }
        w.advance(1);
    }
    out
}

fn urgent_for(w: &mut World, resource: &str) -> AssignmentId {
    let op = w.actor("operator");
    let inc = w.open(&op, "medical_emergency");
    w.ok(&op, assess_manual(&inc, Priority::P1, "not breathing"));
    let r = w.resource(resource);
    w.assign(&op, &inc, &r)
}

#[test]
fn a_unit_without_the_app_is_called_by_radio_first_never_pushed_and_the_ladder_ends() {
    let mut w = World::demo();
    // Hana Ito has first aid and no app user.
    assert!(w.state.resources[&w.resource("hana-ito")].user_id.is_none());
    let asg = urgent_for(&mut w, "hana-ito");
    let fired = tick(&mut w, &asg, 600);
    assert_eq!(
        fired,
        [
            (1, EscalationAction::CallByRadio, None, 0),
            (2, EscalationAction::SupervisorAlert, None, 90),
            (3, EscalationAction::SuggestNextResource, None, 120),
        ],
        "call by radio at once; no renotify or SMS (pushes) to a unit with no user"
    );
    // The ladder has ended: nothing more is due, even a day later.
    w.advance(86_400);
    let due = timers::due(&w.state, &w.engine.centre, w.now);
    assert!(
        !due.iter()
            .any(|c| matches!(c, Command::TimerEscalate(t) if t.assignment_id == asg)),
        "{due:?}"
    );
    // On the wire.
    let rec = w
        .log
        .iter()
        .find(|r| matches!(&r.event, Event::AssignmentEscalated { level: 1, .. }))
        .unwrap();
    let json = serde_json::to_value(&rec.event).unwrap();
    assert_eq!(json["action"], "call_by_radio");
    assert!(json.get("channel").is_none());
}

#[test]
fn the_desk_s_radio_acknowledgement_stops_the_ladder() {
    let mut w = World::demo();
    let asg = urgent_for(&mut w, "hana-ito");
    let fired = tick(&mut w, &asg, 5);
    assert_eq!(fired, [(1, EscalationAction::CallByRadio, None, 0)]);
    let op = w.actor("operator");
    w.ok(&op, acknowledge_via(&asg, Via::Radio));
    assert!(tick(&mut w, &asg, 600).is_empty());
}

#[test]
fn a_unit_with_the_app_keeps_the_policy_s_ladder() {
    let mut w = World::demo();
    let asg = urgent_for(&mut w, "amara-okafor");
    let fired = tick(&mut w, &asg, 200);
    let actions: Vec<_> = fired.iter().map(|f| (f.0, f.1, f.3)).collect();
    assert_eq!(
        actions,
        [
            (1, EscalationAction::Push, 30),
            (2, EscalationAction::AlternativeChannel, 60),
            (3, EscalationAction::SupervisorAlert, 90),
            (4, EscalationAction::SuggestNextResource, 120),
        ]
    );
}
