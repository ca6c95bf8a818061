//! Assignments through commands: cancelling, declining, busy resources, missing
//! skills, and every status transition.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::ids::AssignmentId;
use muster_core::domain::incident::{IncidentStatus, rules};
use muster_core::domain::resource::ResourceStatus;
use muster_core::engine::{Command, Error, Event};

use muster_core::testing::*;

#[test]
fn cancelling_one_assignment_frees_its_resource_only() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let car = w.resource("rapid-response-1");
    let amara = w.resource("amara-okafor");
    let inc = w.open_assessed(&op, "medical_emergency");
    let a1 = w.assign(&op, &inc, &car);
    let a2 = w.assign(&op, &inc, &amara);
    let recs = w.ok(&op, assignment_cancel(&a1, "closer unit found"));
    assert_eq!(
        kinds(&recs),
        ["assignment.cancelled", "resource.status_changed"]
    );
    assert_eq!(w.state.resources[&car].status, ResourceStatus::Available);
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::Assigned);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Dispatched);
    // The last one stood down sends the incident back to assessed.
    let recs = w.ok(&op, assignment_cancel(&a2, "no longer needed"));
    assert_eq!(
        kinds(&recs),
        [
            "assignment.cancelled",
            "resource.status_changed",
            "incident.status_changed"
        ]
    );
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Assessed);
}

#[test]
fn decline_frees_the_resource_and_sends_the_incident_back() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let amara = w.resource_of("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &amara);

    let e = w.err(&f1, decline(&asg, ""));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("reason:"), "{e}");

    let recs = w.ok(&f1, decline(&asg, "already treating someone"));
    assert_eq!(
        events(&recs),
        [
            Event::AssignmentDeclined {
                assignment_id: asg.clone(),
                reason: "already treating someone".into(),
            },
            Event::ResourceStatusChanged {
                resource_id: amara.clone(),
                from: ResourceStatus::Assigned,
                status: ResourceStatus::Available,
            },
            Event::IncidentStatusChanged {
                incident_id: inc.clone(),
                from: IncidentStatus::Dispatched,
                status: IncidentStatus::Assessed,
            },
        ]
    );
    let a = &w.state.assignments[&asg];
    assert_eq!(a.status, AssignmentStatus::Declined);
    assert_eq!(
        a.decline_reason.as_deref(),
        Some("already treating someone")
    );
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::Available);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Assessed);
    // The resource can be sent elsewhere at once.
    let other = w.open_assessed(&op, "medical_emergency");
    w.assign(&op, &other, &amara);
}

#[test]
fn assigning_a_busy_resource_is_a_conflict() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let amara = w.resource("amara-okafor");
    let a = w.open_assessed(&op, "medical_emergency");
    let b = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &a, &amara);
    let e = w.err(&op, assignment_create(&b, &amara, None));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), format!("{amara} is assigned, not available"));
    // Nor can it be taken off duty while it holds the assignment.
    let e = w.err(&op, resource_status(&amara, ResourceStatus::OffDuty));
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains(asg.as_str()), "{e}");
    // A resource off the board cannot be sent either.
    let car = w.resource("rapid-response-1");
    w.ok(&op, resource_status(&car, ResourceStatus::Unavailable));
    let e = w.err(&op, assignment_create(&b, &car, None));
    assert_eq!(e.code(), "conflict");
    assert_eq!(
        e.to_string(),
        format!("{car} is unavailable, not available")
    );
    // Setting the status it already has is not a transition.
    let e = w.err(&op, resource_status(&car, ResourceStatus::Unavailable));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(
        e.to_string(),
        "resource cannot go from unavailable to unavailable"
    );
}

#[test]
fn missing_skills_need_a_reason_or_an_override() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let amara = w.resource("amara-okafor"); // first_aid, fire_warden: no welfare
    let ben = w.resource("ben-hughes"); // security, first_aid: no welfare
    let inc = w.open_assessed(&op, "welfare_concern");
    for reason in [None, Some("   ")] {
        let e = w.err(&op, assignment_create(&inc, &amara, reason));
        match &e {
            Error::ProcedureViolation { rule, message } => {
                assert_eq!(rule, rules::REQUIRED_SKILLS);
                assert_eq!(
                    message,
                    &format!(
                        "{amara} lacks required skills welfare; give a reason to send it anyway"
                    )
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let recs = w.ok(
        &op,
        assignment_create(&inc, &amara, Some("nearest unit; welfare team 40 min away")),
    );
    let asg = AssignmentId(created(&recs, "assignment_id"));
    assert_eq!(
        w.state.assignments[&asg].reason.as_deref(),
        Some("nearest unit; welfare team 40 min away")
    );

    // A resource with the skill needs no reason.
    let dana = w.resource("dana-kowalski");
    let other = w.open_assessed(&op, "welfare_concern");
    w.assign(&op, &other, &dana);

    // After a supervisor waives the rule on an incident, no reason is needed there.
    let third = w.open_assessed(&op, "welfare_concern");
    w.ok(
        &sup,
        incident_override(
            &third,
            rules::REQUIRED_SKILLS,
            "any trained responder will do tonight",
        ),
    );
    w.assign(&op, &third, &ben);
}

#[test]
fn assignment_transitions_through_commands() {
    use AssignmentStatus::*;
    // Completing with the medical checklist's required actions skipped with reasons,
    // so only the lifecycle decides.
    fn complete(a: &AssignmentId) -> Command {
        let why = "handed over to the ambulance crew";
        complete_skipping(
            a,
            &[
                ("act_1", why),
                ("act_2", why),
                ("act_3", why),
                ("act_5", why),
            ],
        )
    }
    // Brings a fresh assignment into `status`.
    fn assignment_in(w: &mut World, status: AssignmentStatus) -> AssignmentId {
        let op = w.actor("operator");
        let r = w.resource("rapid-response-1");
        let inc = w.open_assessed(&op, "medical_emergency");
        let asg = w.assign(&op, &inc, &r);
        let steps: Vec<Command> = match status {
            Notified => vec![],
            Acknowledged => vec![acknowledge(&asg)],
            EnRoute => vec![acknowledge(&asg), progress(&asg, EnRoute)],
            OnScene => vec![acknowledge(&asg), progress(&asg, OnScene)],
            Completed => vec![acknowledge(&asg), complete(&asg)],
            Declined => vec![decline(&asg, "busy")],
            Cancelled => vec![assignment_cancel(&asg, "not needed")],
        };
        for s in steps {
            w.ok(&op, s);
        }
        assert_eq!(w.state.assignments[&asg].status, status);
        asg
    }
    type Build = fn(&AssignmentId) -> Command;
    let ack: Build = |a| acknowledge(a);
    let dec: Build = |a| decline(a, "too far");
    let cancel: Build = |a| assignment_cancel(a, "stood down");
    let en_route: Build = |a| progress(a, EnRoute);
    let on_scene: Build = |a| progress(a, OnScene);
    let completed: Build = complete;
    let check: Build = |a| checkin(a, true);
    let act: Build = |a| action_done(a, "act_1");
    let cases: Vec<(
        AssignmentStatus,
        &str,
        Build,
        Result<AssignmentStatus, (&str, &str)>,
    )> = vec![
        (Notified, "ack", ack, Ok(Acknowledged)),
        (
            Notified,
            "en_route",
            en_route,
            Err(("notified", "en_route")),
        ),
        (
            Notified,
            "completed",
            completed,
            Err(("notified", "completed")),
        ),
        (Notified, "checkin", check, Ok(Notified)),
        (
            Acknowledged,
            "ack",
            ack,
            Err(("acknowledged", "acknowledged")),
        ),
        (Acknowledged, "on_scene", on_scene, Ok(OnScene)),
        (Acknowledged, "completed", completed, Ok(Completed)),
        (Acknowledged, "decline", dec, Ok(Declined)),
        (EnRoute, "decline", dec, Err(("en_route", "declined"))),
        (EnRoute, "en_route", en_route, Err(("en_route", "en_route"))),
        (EnRoute, "cancel", cancel, Ok(Cancelled)),
        (OnScene, "en_route", en_route, Err(("on_scene", "en_route"))),
        (OnScene, "completed", completed, Ok(Completed)),
        (Completed, "decline", dec, Err(("completed", "declined"))),
        (Completed, "cancel", cancel, Err(("completed", "cancelled"))),
        (
            Completed,
            "checkin",
            check,
            Err(("completed", "checked_in")),
        ),
        (Completed, "action", act, Ok(Completed)),
        (Declined, "ack", ack, Err(("declined", "acknowledged"))),
        (Declined, "action", act, Err(("declined", "action_done"))),
        (
            Cancelled,
            "on_scene",
            on_scene,
            Err(("cancelled", "on_scene")),
        ),
        (
            Cancelled,
            "checkin",
            check,
            Err(("cancelled", "checked_in")),
        ),
    ];
    for (from, name, build, expected) in cases {
        let mut w = World::demo();
        let op = w.actor("operator");
        let asg = assignment_in(&mut w, from);
        let label = format!("{from} {name}");
        match expected {
            Ok(status) => {
                w.ok(&op, build(&asg));
                assert_eq!(w.state.assignments[&asg].status, status, "{label}");
            }
            Err((f, t)) => {
                let e = w.err(&op, build(&asg));
                assert_eq!(e.code(), "invalid_transition", "{label}");
                assert_eq!(
                    e.to_string(),
                    format!("assignment cannot go from {f} to {t}"),
                    "{label}"
                );
            }
        }
    }
    // `progress` only sets the three working statuses.
    let mut w = World::demo();
    let op = w.actor("operator");
    let asg = assignment_in(&mut w, Notified);
    let e = w.err(&op, progress(&asg, Acknowledged));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("status:"), "{e}");
}

/// A unit without the app reports by radio: the desk records its acknowledgement,
/// progress and check-in on its behalf. The log says who recorded each (the actor, the
/// operator) and that it came by radio (`via`).
#[test]
fn the_desk_records_a_radio_report_with_who_recorded_it_and_how_it_came() {
    use muster_core::domain::assignment::Via;
    let mut w = World::demo();
    let op = w.actor("operator");
    let car = w.resource("rapid-response-1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &car);

    let recs = w.ok(&op, acknowledge_via(&asg, Via::Radio));
    assert_eq!(
        events(&recs),
        [Event::AssignmentAcknowledged {
            assignment_id: asg.clone(),
            via: Some(Via::Radio),
        }]
    );
    assert_eq!(recs[0].actor, op.user_id, "the log names who recorded it");
    let wire = serde_json::to_value(&recs[0].event).unwrap();
    assert_eq!(wire["via"], "radio");
    assert_eq!(
        w.state.assignments[&asg].status,
        AssignmentStatus::Acknowledged
    );

    let recs = w.ok(
        &op,
        progress_via(&asg, AssignmentStatus::EnRoute, Via::Radio),
    );
    assert_eq!(
        events(&recs)[0],
        Event::AssignmentProgressed {
            assignment_id: asg.clone(),
            status: AssignmentStatus::EnRoute,
            via: Some(Via::Radio),
            skipped: Default::default(),
        }
    );
    assert_eq!(recs[0].actor, op.user_id);

    let recs = w.ok(&op, checkin_via(&asg, Via::Radio));
    assert_eq!(
        events(&recs),
        [Event::CheckinRecorded {
            assignment_id: asg.clone(),
            ok: true,
            note: None,
            via: Some(Via::Radio),
        }]
    );
}

#[test]
fn a_report_from_the_app_has_no_via_and_a_field_user_may_not_claim_one() {
    use muster_core::domain::assignment::Via;
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let amara = w.resource_of("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &amara);

    let e = w.err(&f1, acknowledge_via(&asg, Via::Radio));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("via:"), "{e}");
    let e = w.err(&f1, checkin_via(&asg, Via::Phone));
    assert_eq!(e.code(), "validation_failed");

    let recs = w.ok(&f1, acknowledge(&asg));
    assert_eq!(recs[0].actor, f1.user_id);
    let wire = serde_json::to_value(&recs[0].event).unwrap();
    assert!(wire.get("via").is_none(), "{wire}");
    let e = w.err(
        &f1,
        progress_via(&asg, AssignmentStatus::EnRoute, Via::Radio),
    );
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(
        w.state.assignments[&asg].status,
        AssignmentStatus::Acknowledged
    );
}

#[test]
fn an_action_ticked_by_mistake_is_unticked_with_a_reason_while_the_work_goes_on() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let amara = w.resource_of("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &amara);
    w.ok(&f1, acknowledge(&asg));
    w.ok(&f1, action_done(&asg, "act_1"));

    // Not done yet: nothing to untick.
    let e = w.err(&f1, action_undone(&asg, "act_2", "mistake"));
    assert_eq!(e.code(), "conflict");
    assert_eq!(
        e.to_string(),
        "act_2 is not done, so there is nothing to untick"
    );
    let e = w.err(&f1, action_undone(&asg, "act_9", "mistake"));
    assert_eq!(e.code(), "not_found");
    // A reason is required.
    let e = w.err(&f1, action_undone(&asg, "act_1", "  "));
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(e.to_string(), "reason: must not be empty");

    let recs = w.ok(&f1, action_undone(&asg, "act_1", "ticked the wrong line"));
    assert_eq!(
        events(&recs),
        [Event::AssignmentActionUndone {
            assignment_id: asg.clone(),
            action_id: "act_1".into(),
            reason: "ticked the wrong line".into(),
        }]
    );
    assert_eq!(recs[0].actor, f1.user_id, "the log says who unticked it");
    let a = &w.state.assignments[&asg];
    let x = a.action("act_1").unwrap();
    assert_eq!((x.done_at, x.done_by.as_ref()), (None, None));
    assert!(
        a.missing_required().any(|x| x.id == "act_1"),
        "counts as not done again"
    );
    let e = w.err(&f1, action_undone(&asg, "act_1", "again"));
    assert_eq!(e.code(), "conflict");

    // It can be ticked again, and the desk may untick too (radio).
    w.ok(&f1, action_done(&asg, "act_1"));
    w.ok(&op, action_undone(&asg, "act_1", "unit says not yet"));
    w.ok(&f1, action_done(&asg, "act_1"));

    // Once the assignment is complete its checklist is the record.
    w.ok(&f1, progress(&asg, AssignmentStatus::OnScene));
    for act in ["act_2", "act_3", "act_5"] {
        w.ok(&f1, action_done(&asg, act));
    }
    w.ok(&f1, progress(&asg, AssignmentStatus::Completed));
    let e = w.err(&f1, action_undone(&asg, "act_1", "late"));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(
        e.to_string(),
        "assignment cannot go from completed to action_undone"
    );
}

#[test]
fn a_cancelled_assignments_actions_cannot_be_unticked() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let amara = w.resource_of("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &amara);
    w.ok(&f1, acknowledge(&asg));
    w.ok(&f1, action_done(&asg, "act_1"));
    w.ok(&op, assignment_cancel(&asg, "closer unit found"));
    let e = w.err(&f1, action_undone(&asg, "act_1", "mistake"));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(
        e.to_string(),
        "assignment cannot go from cancelled to action_undone"
    );
}
