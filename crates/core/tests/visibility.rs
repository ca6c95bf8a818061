//! Visibility: field users see their own incidents and not others.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use std::collections::BTreeSet;

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::ids::IncidentId;
use muster_core::engine::Event;

use muster_core::testing::*;

#[test]
fn field_users_see_their_incidents_and_not_others() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let f5 = w.actor("field5");
    let r1 = w.resource_of("field1");
    let r5 = w.resource_of("field5");
    let a = w.open_assessed(&op, "medical_emergency");
    let b = w.open_assessed(&op, "medical_emergency");
    let asg_a = w.assign(&op, &a, &r1);
    let asg_b = w.assign(&op, &b, &r5);
    let joined_a = w.state.timelines[&a]
        .iter()
        .copied()
        .find(|s| w.log[(*s - 1) as usize].event.kind() == "assignment.created")
        .unwrap();
    w.ok(&f1, acknowledge(&asg_a));
    w.ok(&f5, acknowledge(&asg_b));
    w.ok(&f1, progress(&asg_a, AssignmentStatus::EnRoute));
    w.ok(&op, incident_note(&a, "Caller says side entrance"));
    w.ok(&op, incident_note(&b, "Caller is the manager"));
    w.ok(&f5, resource_locate(&r5, 51.49, -0.1));
    w.ok(&op, incident_resolve(&b));

    let seen1: BTreeSet<u64> = w.visible_seqs(&viewer_of(&f1)).into_iter().collect();
    let seen5: BTreeSet<u64> = w.visible_seqs(&viewer_of(&f5)).into_iter().collect();
    let timeline =
        |i: &IncidentId| -> BTreeSet<u64> { w.state.timelines[i].iter().copied().collect() };
    let (tl_a, tl_b) = (timeline(&a), timeline(&b));

    // From its assignment on, field1 sees every event of A, and none of B.
    let a_since: BTreeSet<u64> = tl_a.iter().copied().filter(|s| *s >= joined_a).collect();
    assert!(a_since.len() >= 6, "{a_since:?}");
    assert!(
        a_since.is_subset(&seen1),
        "missing {:?}",
        a_since.difference(&seen1)
    );
    assert!(
        seen1.is_disjoint(&tl_b),
        "field1 saw B: {:?}",
        seen1.intersection(&tl_b)
    );
    assert!(
        seen5.is_disjoint(&tl_a),
        "field5 saw A: {:?}",
        seen5.intersection(&tl_a)
    );
    // Before the assignment A was not field1's business.
    assert!(
        tl_a.iter()
            .filter(|s| **s < joined_a)
            .all(|s| !seen1.contains(s))
    );

    // Resource events: its own resource's, not another's.
    for r in &w.log {
        let (Event::ResourceStatusChanged { resource_id, .. }
        | Event::ResourceLocated { resource_id, .. }) = &r.event
        else {
            continue;
        };
        assert_eq!(seen1.contains(&r.seq), *resource_id == r1, "seq {}", r.seq);
        assert_eq!(seen5.contains(&r.seq), *resource_id == r5, "seq {}", r.seq);
    }
    // User administration is the desk's.
    let first_user = w
        .log
        .iter()
        .find(|r| r.event.kind() == "user.created")
        .unwrap()
        .seq;
    assert!(!seen1.contains(&first_user));

    // The desk sees everything here; intake nothing.
    let all: Vec<u64> = w.log.iter().map(|r| r.seq).collect();
    assert_eq!(w.visible_seqs(&w.viewer("operator2")), all);
    assert_eq!(w.visible_seqs(&w.viewer("admin")), all);
    assert!(w.visible_seqs(&viewer_of(&intake_actor())).is_empty());
}

#[test]
fn a_working_crew_gets_the_callers_call_back_number_and_nothing_more() {
    use muster_core::domain::ids::ContactId;
    use muster_core::projection::view::incident_detail;
    let mut w = World::demo();
    let op = w.actor("operator");
    let recs = w.ok(&op, contact_receive("Man collapsed outside the library"));
    let con = ContactId(created(&recs, "contact_id"));
    w.ok(&op, contact_take(&con));
    let recs = w.ok(&op, incident_open("medical_emergency", Some(&con)));
    let inc = IncidentId(created(&recs, "incident_id"));
    w.ok(
        &op,
        assess_manual(&inc, muster_core::domain::triage::Priority::P2, "credible"),
    );
    let r1 = w.resource_of("field1");
    let asg = w.assign(&op, &inc, &r1);

    let detail = |w: &World, who: &str| incident_detail(&w.state, &w.viewer(who), &inc, &w.log);
    let d = detail(&w, "field1").unwrap();
    assert_eq!(
        d["callback"],
        serde_json::json!([{"name": "Jo Caller", "phone": "+44 20 7946 0000"}])
    );
    assert!(!d.to_string().contains("email"), "only name and number");
    // The desk has the contacts themselves; another crew does not see the incident.
    assert!(detail(&w, "operator").unwrap().get("callback").is_none());
    assert!(detail(&w, "field5").is_none());
    // Once the crew's work there is over, the number is no longer theirs to see.
    w.ok(&op, assignment_cancel(&asg, "closer unit found"));
    assert!(detail(&w, "field1").unwrap().get("callback").is_none());
}
