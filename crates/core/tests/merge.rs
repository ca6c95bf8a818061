//! `incident.merge`: a duplicate folded into the incident it repeats.

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::ids::{ContactId, IncidentId};
use muster_core::domain::incident::IncidentStatus;
use muster_core::domain::resource::ResourceStatus;
use muster_core::engine::timers;
use muster_core::engine::{Command, Event};
use muster_core::projection::conformance::{self, Verdict};
use muster_core::projection::view;
use muster_core::testing::*;

/// A contact taken and opened as an incident of `incident_type`: (contact, incident).
fn called_in(w: &mut World, incident_type: &str, summary: &str) -> (ContactId, IncidentId) {
    let op = w.actor("operator");
    let recs = w.ok(&op, contact_receive(summary));
    let con = ContactId(created(&recs, "contact_id"));
    w.ok(&op, contact_take(&con));
    let recs = w.ok(&op, incident_open(incident_type, Some(&con)));
    (con, IncidentId(created(&recs, "incident_id")))
}

#[test]
fn merge_moves_contacts_stands_resources_down_and_ends_the_duplicate() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let (first_caller, survivor) = called_in(&mut w, "medical_emergency", "Man collapsed");
    w.ok(
        &op,
        assess_manual(
            &survivor,
            muster_core::domain::triage::Priority::P2,
            "credible",
        ),
    );
    let (second_caller, dup) = called_in(&mut w, "medical_emergency", "Someone fell down");
    w.ok(
        &op,
        assess_manual(&dup, muster_core::domain::triage::Priority::P2, "credible"),
    );
    w.ok(&op, incident_note(&dup, "Caller says he is breathing"));
    let car = w.resource("rapid-response-1");
    let sent = w.assign(&op, &dup, &car);
    assert_eq!(w.state.resources[&car].status, ResourceStatus::Assigned);

    let recs = w.ok(
        &op,
        incident_merge(&dup, &survivor, "same collapse, second caller"),
    );
    assert_eq!(
        kinds(&recs),
        [
            "contact.linked",
            "assignment.cancelled",
            "resource.status_changed",
            "incident.merged"
        ]
    );
    let merged = events(&recs).pop().unwrap();
    assert_eq!(
        merged,
        Event::IncidentMerged {
            incident_id: dup.clone(),
            into: survivor.clone(),
            reason: "same collapse, second caller".into(),
        }
    );

    // The duplicate: cancelled for good, naming the survivor, its contact gone, its
    // notes kept (read by reference from the survivor's merged_from).
    let d = &w.state.incidents[&dup];
    assert_eq!(d.status, IncidentStatus::Cancelled);
    assert_eq!(d.merged_into.as_ref(), Some(&survivor));
    assert_eq!(
        d.cancel_reason.as_deref(),
        Some("same collapse, second caller")
    );
    assert!(d.cancelled_at.is_some());
    assert!(d.contact_ids.is_empty());
    assert_eq!(d.notes.len(), 1);
    // Its resource stood down, free for the survivor.
    let a = &w.state.assignments[&sent];
    assert_eq!(a.status, AssignmentStatus::Cancelled);
    let reference = w.state.incidents[&survivor].reference.clone();
    assert_eq!(
        a.cancel_reason.as_deref(),
        Some(format!("merged into {reference}").as_str())
    );
    assert_eq!(w.state.resources[&car].status, ResourceStatus::Available);
    // The survivor: both callers, and the duplicate named.
    let s = &w.state.incidents[&survivor];
    assert_eq!(s.contact_ids, [first_caller, second_caller.clone()]);
    assert_eq!(s.merged_from, std::slice::from_ref(&dup));
    assert_eq!(
        w.state.contacts[&second_caller].incident_id.as_ref(),
        Some(&survivor)
    );
    assert!(s.status.is_open());

    // On the wire: the fields clients read.
    let json = view::incident_for(&w.state, &w.viewer("operator"), &dup).unwrap();
    assert_eq!(json["status"], "cancelled");
    assert_eq!(json["merged_into"], survivor.as_str());
    let json = view::incident_for(&w.state, &w.viewer("operator"), &survivor).unwrap();
    assert_eq!(json["merged_from"][0], dup.as_str());
}

#[test]
fn merge_is_refused_into_itself_into_a_finished_incident_and_from_a_closed_one() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let a = w.open_assessed(&op, "medical_emergency");
    let b = w.open_assessed(&op, "medical_emergency");
    let c = w.open_assessed(&op, "medical_emergency");

    let e = w.err(&op, incident_merge(&a, &a, "same"));
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(
        e.to_string(),
        "into: an incident cannot be merged into itself"
    );

    let e = w.err(&op, incident_merge(&a, &b, " "));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("reason:"), "{e}");

    let e = w.err(
        &op,
        incident_merge(&a, &IncidentId("inc_nope".into()), "same"),
    );
    assert_eq!(e.code(), "not_found");

    // Field staff and intake may not merge; operators and supervisors may (as cancel).
    let e = w.err(&w.actor("field1"), incident_merge(&a, &b, "same"));
    assert_eq!(e.code(), "forbidden");

    w.ok(&op, incident_merge(&c, &b, "same caller rang twice"));
    // Into a merged incident: refused, naming where it went.
    let e = w.err(&op, incident_merge(&a, &c, "same"));
    assert_eq!(e.code(), "validation_failed");
    let b_ref = &w.state.incidents[&b].reference;
    assert!(
        e.to_string().contains(&format!("already merged into {b}")),
        "{e} ({b_ref})"
    );
    // From a merged (cancelled) one: refused, and it is not reopened either.
    let e = w.err(&op, incident_merge(&c, &a, "again"));
    assert_eq!(e.code(), "invalid_transition");
    let e = w.err(&op, incident_reopen(&c, "meant the other one"));
    assert_eq!(e.code(), "invalid_transition");
    assert!(e.to_string().contains("merged"), "{e}");

    // Into a cancelled, resolved or closed incident: refused.
    w.ok(&op, incident_cancel(&b, "caller withdrew"));
    let e = w.err(&op, incident_merge(&a, &b, "same"));
    assert_eq!(e.code(), "validation_failed");
    assert!(
        e.to_string()
            .contains("is cancelled; merge into an open incident"),
        "{e}"
    );
    let d = w.open_assessed(&op, "medical_emergency");
    w.ok(&op, incident_resolve(&d));
    let e = w.err(&op, incident_merge(&a, &d, "same"));
    assert_eq!(e.code(), "validation_failed");
    w.ok(&op, incident_close(&d));
    let e = w.err(&op, incident_merge(&a, &d, "same"));
    assert!(e.to_string().contains("is closed"), "{e}");
    // From a closed one.
    let e = w.err(&op, incident_merge(&d, &a, "same"));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(e.to_string(), "incident cannot go from closed to merged");
    // Nothing of the refusals changed a.
    assert!(w.state.incidents[&a].status.is_open());
    assert!(w.state.incidents[&a].merged_from.is_empty());
}

#[test]
fn a_merged_incident_s_timers_stop_and_its_report_is_not_open() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let survivor = w.open_assessed(&op, "medical_emergency");
    let dup = w.open(&op, "medical_emergency");
    w.ok(
        &op,
        assess_manual(
            &dup,
            muster_core::domain::triage::Priority::P1,
            "not breathing",
        ),
    );
    let asg = w.assign(&op, &dup, &w.resource("amara-okafor"));
    w.advance(30);
    let due = timers::due(&w.state, &w.engine.centre, w.now);
    let about_dup = |c: &Command| match c {
        Command::TimerEscalate(t) => t.assignment_id == asg,
        Command::TimerTargetBreached(t) => t.incident_id == dup,
        _ => false,
    };
    assert!(due.iter().any(about_dup), "before: {due:?}");

    w.ok(&op, incident_merge(&dup, &survivor, "same call"));
    // A day later nothing is due for the duplicate: no rung, no target breach.
    w.advance(86_400);
    let due = timers::due(&w.state, &w.engine.centre, w.now);
    assert!(!due.iter().any(about_dup), "after: {due:?}");
    assert!(
        due.iter()
            .any(|c| matches!(c, Command::TimerTargetBreached(t) if t.incident_id == survivor)),
        "the survivor's targets still run: {due:?}"
    );
    // Conformance reads it as cancelled (finished, nothing further due).
    let report = conformance::assess(&w.state, &w.state.incidents[&dup], &w.log);
    assert_ne!(report.verdict, Verdict::Pending);
    assert_ne!(report.verdict, Verdict::NotConforming);
}
