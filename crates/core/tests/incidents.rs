//! Incidents through commands: from call to close, overrides, the dispatch rules,
//! cancelling, closing with a resource still out, and every status transition.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use std::collections::BTreeSet;

use serde_json::json;

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::contact::ContactStatus;
use muster_core::domain::ids::{AssignmentId, ContactId, IncidentId};
use muster_core::domain::incident::{IncidentStatus, rules};
use muster_core::domain::resource::ResourceStatus;
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Error, Event};

use muster_core::testing::*;

/// The happy path of one incident, end to end, checking each step's events and the
/// state of the incident, its assignment and the resource.
#[test]
fn incident_from_call_to_close() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let amara = w.resource("amara-okafor");
    assert_eq!(amara, w.resource_of("field1"));

    let recs = w.ok(&op, contact_receive("Man collapsed in the lobby"));
    let con = ContactId(created(&recs, "contact_id"));
    let recs = w.ok(&op, incident_open("medical_emergency", Some(&con)));
    let inc = IncidentId(created(&recs, "incident_id"));
    assert_eq!(inc.0, format!("inc_{}", recs[0].seq));
    {
        let i = &w.state.incidents[&inc];
        assert_eq!(i.status, IncidentStatus::New);
        assert_eq!(i.reference, "INC-2026-000001");
        assert_eq!(i.opened_by, op.user_id);
        assert_eq!(i.contact_ids, vec![con.clone()]);
        assert_eq!(w.state.contacts[&con].status, ContactStatus::Taken);
    }

    // The call script: each answer batch suggests the priority the rules give so far.
    let recs = w.ok(
        &op,
        incident_answer(
            &inc,
            &[
                ("breathing", json!(true)),
                ("conscious", json!(true)),
                ("bleeding", json!("none")),
            ],
        ),
    );
    let Event::IncidentAnswered {
        suggested_priority,
        rule,
        ..
    } = &recs[0].event
    else {
        panic!("{:?}", recs[0].event)
    };
    assert_eq!(*suggested_priority, Some(Priority::P3));
    assert_eq!(rule.as_deref(), Some("alert, breathing, no bleeding"));
    let recs = w.ok(&op, incident_answer(&inc, &[("casualties", json!(3))]));
    let Event::IncidentAnswered {
        suggested_priority,
        rule,
        ..
    } = &recs[0].event
    else {
        panic!("{:?}", recs[0].event)
    };
    assert_eq!(*suggested_priority, Some(Priority::P1));
    assert_eq!(rule.as_deref(), Some("multiple casualties"));
    assert_eq!(w.state.incidents[&inc].answers.len(), 4);

    // Assess by protocol: the script's rule decides.
    let recs = w.ok(
        &op,
        assess(&inc, Validity::Verified, None, TriageMethod::Protocol, ""),
    );
    assert_eq!(
        kinds(&recs),
        ["incident.assessed", "incident.status_changed"]
    );
    {
        let i = &w.state.incidents[&inc];
        assert_eq!(i.status, IncidentStatus::Assessed);
        assert_eq!(i.assessed_at, Some(w.now));
        assert_eq!(i.priority, Some(Priority::P1));
        assert_eq!(i.validity, Validity::Verified);
        assert_eq!(
            i.assessments[0].rule.as_deref(),
            Some("multiple casualties")
        );
    }
    // Reassess by matrix: moderate × medium is P3.
    let recs = w.ok(&op, assess_matrix(&inc, "moderate", "medium"));
    assert_eq!(kinds(&recs), ["incident.assessed"]);
    {
        let i = &w.state.incidents[&inc];
        assert_eq!(i.priority, Some(Priority::P3));
        assert_eq!(i.assessments[1].rule.as_deref(), Some("moderate×medium"));
        assert_eq!(i.assessments[1].method, TriageMethod::Matrix);
    }
    // Manual needs a reason.
    let e = w.err(&op, assess_manual(&inc, Priority::P1, "  "));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("reason:"), "{e}");
    w.ok(
        &op,
        assess_manual(&inc, Priority::P1, "three casualties, one worsening"),
    );
    assert_eq!(w.state.incidents[&inc].priority, Some(Priority::P1));
    assert_eq!(w.state.incidents[&inc].assessments.len(), 3);

    // Dispatch.
    let recs = w.ok(&op, assignment_create(&inc, &amara, None));
    assert_eq!(
        kinds(&recs),
        [
            "assignment.created",
            "resource.status_changed",
            "incident.status_changed"
        ]
    );
    let asg = AssignmentId(created(&recs, "assignment_id"));
    assert_eq!(asg.0, format!("asg_{}", recs[0].seq));
    {
        let a = &w.state.assignments[&asg];
        assert_eq!(a.status, AssignmentStatus::Notified);
        assert_eq!(a.incident_id, inc);
        assert_eq!(a.resource_id, amara);
        assert!(a.responsibilities.starts_with("Reach the casualty"));
        let ids: Vec<&str> = a.actions.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, ["act_1", "act_2", "act_3", "act_4", "act_5"]);
        let required: Vec<bool> = a.actions.iter().map(|x| x.required).collect();
        assert_eq!(required, [true, true, true, false, true]);
        assert_eq!(w.state.resources[&amara].status, ResourceStatus::Assigned);
        let i = &w.state.incidents[&inc];
        assert_eq!(i.status, IncidentStatus::Dispatched);
        assert_eq!(i.dispatched_at, Some(w.now));
        assert_eq!(i.assignment_ids, vec![asg.clone()]);
        assert_eq!(
            w.state.active_by_resource[&amara],
            BTreeSet::from([asg.clone()])
        );
    }

    let recs = w.ok(&f1, acknowledge(&asg));
    assert_eq!(kinds(&recs), ["assignment.acknowledged"]);
    assert_eq!(w.state.assignments[&asg].acknowledged_at, Some(w.now));

    let recs = w.ok(&f1, progress(&asg, AssignmentStatus::EnRoute));
    assert_eq!(
        kinds(&recs),
        [
            "assignment.progressed",
            "resource.status_changed",
            "incident.status_changed"
        ]
    );
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::EnRoute);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::InProgress);

    let recs = w.ok(&f1, progress(&asg, AssignmentStatus::OnScene));
    assert_eq!(
        kinds(&recs),
        ["assignment.progressed", "resource.status_changed"]
    );
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::OnScene);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::InProgress);

    for act in ["act_1", "act_2", "act_3"] {
        let recs = w.ok(&f1, action_done(&asg, act));
        assert_eq!(kinds(&recs), ["assignment.action_done"]);
    }
    let e = w.err(&f1, action_done(&asg, "act_1"));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), "act_1 is already done");
    let e = w.err(&f1, action_done(&asg, "act_9"));
    assert_eq!(e.code(), "not_found");
    assert_eq!(e.to_string(), "action act_9 not found");

    let recs = w.ok(
        &f1,
        complete_skipping(&asg, &[("act_5", "radio down; will report from base")]),
    );
    assert_eq!(
        kinds(&recs),
        ["assignment.progressed", "resource.status_changed"]
    );
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::Available);
    assert_eq!(
        w.state.assignments[&asg].status,
        AssignmentStatus::Completed
    );
    assert!(!w.state.active_by_resource.contains_key(&amara));

    let recs = w.ok(&op, incident_resolve(&inc));
    assert_eq!(kinds(&recs), ["incident.resolved"]);
    {
        let i = &w.state.incidents[&inc];
        assert_eq!(i.status, IncidentStatus::Resolved);
        assert_eq!(i.outcome.as_deref(), Some("treated_on_scene"));
    }

    // act_5 (required) is still open: closing is refused and names it.
    let e = w.err(&op, incident_close(&inc));
    match &e {
        Error::ProcedureViolation { rule, message } => {
            assert_eq!(rule, rules::CLOSE_REQUIRES_ACTIONS);
            assert_eq!(
                message,
                &format!(
                    "before closing: required action {asg} act_5 (Report the outcome to control) not done"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.code(), "procedure_violation");

    // Actions may still be ticked off after the assignment completed.
    w.ok(&f1, action_done(&asg, "act_5"));
    let recs = w.ok(&op, incident_close(&inc));
    assert_eq!(kinds(&recs), ["incident.closed"]);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Closed);
    assert_eq!(w.state.incidents[&inc].closed_at, Some(w.now));
    w.ok(&op, contact_close(&con, "incident_handled"));

    // Reopen goes back to assessed.
    let recs = w.ok(
        &op,
        incident_reopen(&inc, "family called: symptoms returned"),
    );
    assert_eq!(kinds(&recs), ["incident.reopened"]);
    let i = &w.state.incidents[&inc];
    assert_eq!(i.status, IncidentStatus::Assessed);
    assert_eq!(i.reopened, 1);
    assert_eq!(i.closed_at, None);
    assert_eq!(i.resolved_at, None);

    // Every event of the incident is on its timeline, in order.
    let timeline = &w.state.timelines[&inc];
    assert!(timeline.windows(2).all(|p| p[0] < p[1]));
    assert_eq!(
        timeline.len(),
        w.log
            .iter()
            .filter(|r| w.state.incident_of(&r.event).as_ref() == Some(&inc))
            .count()
    );
}

#[test]
fn supervisor_override_lets_an_incident_close_with_actions_open() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let r = w.resource("rapid-response-1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &r);
    w.ok(&op, acknowledge(&asg));
    let why = "crew called away to a P1";
    w.ok(
        &op,
        complete_skipping(
            &asg,
            &[
                ("act_1", why),
                ("act_2", why),
                ("act_3", why),
                ("act_5", why),
            ],
        ),
    );
    w.ok(&op, incident_resolve(&inc));
    let e = w.err(&op, incident_close(&inc));
    assert_eq!(e.code(), "procedure_violation");
    for act in ["act_1", "act_2", "act_3", "act_5"] {
        assert!(e.to_string().contains(&format!("{asg} {act} (")), "{e}");
    }
    assert!(!e.to_string().contains("act_4"), "act_4 is optional: {e}");

    // Operators may not override; the rule must exist; a justification is needed.
    let justification = "crew reported by radio, paperwork to follow";
    let e = w.err(
        &op,
        incident_override(&inc, rules::CLOSE_REQUIRES_ACTIONS, justification),
    );
    assert_eq!(e.code(), "forbidden");
    let e = w.err(&sup, incident_override(&inc, "no_such_rule", justification));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("rule:"), "{e}");
    assert!(e.to_string().contains(rules::CLOSE_REQUIRES_ACTIONS), "{e}");
    let e = w.err(
        &sup,
        incident_override(&inc, rules::CLOSE_REQUIRES_ACTIONS, "ok"),
    );
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("justification:"), "{e}");

    let recs = w.ok(
        &sup,
        incident_override(&inc, rules::CLOSE_REQUIRES_ACTIONS, justification),
    );
    assert_eq!(kinds(&recs), ["incident.overridden"]);
    let o = &w.state.incidents[&inc].overrides[0];
    assert_eq!(o.rule, rules::CLOSE_REQUIRES_ACTIONS);
    assert_eq!(o.by, sup.user_id);
    assert_eq!(o.justification, justification);
    // The override is on this rule only, and then closing works for anyone.
    w.ok(&op, incident_close(&inc));
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Closed);
}

#[test]
fn dispatch_needs_an_assessment_unless_overridden() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let r = w.resource("fire-safety-team");
    let inc = w.open(&op, "fire_alarm");
    let e = w.err(&op, assignment_create(&inc, &r, None));
    match &e {
        Error::ProcedureViolation { rule, message } => {
            assert_eq!(rule, rules::DISPATCH_REQUIRES_ASSESSMENT);
            assert_eq!(message, "assess validity and priority before dispatch");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.state.resources[&r].status, ResourceStatus::Available);

    w.ok(
        &sup,
        incident_override(
            &inc,
            rules::DISPATCH_REQUIRES_ASSESSMENT,
            "alarm in a care home, send now and assess after",
        ),
    );
    let recs = w.ok(&op, assignment_create(&inc, &r, None));
    assert_eq!(
        events(&recs)[2],
        Event::IncidentStatusChanged {
            incident_id: inc.clone(),
            from: IncidentStatus::New,
            status: IncidentStatus::Dispatched,
        }
    );
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Dispatched);
    assert_eq!(w.state.resources[&r].status, ResourceStatus::Assigned);
}

#[test]
fn false_reports_and_duplicates_are_not_dispatched() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let r = w.resource("fire-safety-team");
    let original = w.open_assessed(&op, "fire_alarm");
    let inc = w.open_assessed(&op, "fire_alarm");
    w.ok(
        &op,
        assess(
            &inc,
            Validity::FalseReport,
            None,
            TriageMethod::Manual,
            "test alarm, announced",
        ),
    );
    let e = w.err(&op, assignment_create(&inc, &r, None));
    assert_eq!(e.code(), "procedure_violation");
    assert!(e.to_string().contains("false_report"), "{e}");

    let mut dup = assess(
        &inc,
        Validity::Duplicate,
        None,
        TriageMethod::Manual,
        "same alarm",
    );
    if let Command::IncidentAssess(cmd::IncidentAssess { duplicate_of, .. }) = &mut dup {
        *duplicate_of = Some(original.clone());
    }
    w.ok(&op, dup);
    let i = &w.state.incidents[&inc];
    assert_eq!(i.validity, Validity::Duplicate);
    assert_eq!(i.assessments[2].duplicate_of.as_ref(), Some(&original));
    let e = w.err(&op, assignment_create(&inc, &r, None));
    assert_eq!(e.code(), "procedure_violation");
    assert!(e.to_string().contains("duplicate"), "{e}");
}

#[test]
fn cancel_stands_down_every_active_assignment() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f5 = w.actor("field5");
    let car = w.resource("rapid-response-1");
    let amara = w.resource("amara-okafor");
    let inc = w.open_assessed(&op, "medical_emergency");
    let a1 = w.assign(&op, &inc, &car);
    let a2 = w.assign(&op, &inc, &amara);
    w.ok(&f5, acknowledge(&a1));
    w.ok(&f5, progress(&a1, AssignmentStatus::EnRoute));
    assert_eq!(w.state.resources[&car].status, ResourceStatus::EnRoute);

    let e = w.err(&op, incident_cancel(&inc, " "));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("reason:"), "{e}");

    let recs = w.ok(
        &op,
        incident_cancel(&inc, "caller's friend drove them to A&E"),
    );
    assert_eq!(
        kinds(&recs),
        [
            "assignment.cancelled",
            "resource.status_changed",
            "assignment.cancelled",
            "resource.status_changed",
            "incident.cancelled"
        ]
    );
    for (a, r) in [(&a1, &car), (&a2, &amara)] {
        let asg = &w.state.assignments[a];
        assert_eq!(asg.status, AssignmentStatus::Cancelled);
        assert_eq!(asg.cancel_reason.as_deref(), Some("incident cancelled"));
        assert_eq!(w.state.resources[r].status, ResourceStatus::Available);
        assert!(!w.state.active_by_resource.contains_key(r));
    }
    let i = &w.state.incidents[&inc];
    assert_eq!(i.status, IncidentStatus::Cancelled);
    assert_eq!(
        i.cancel_reason.as_deref(),
        Some("caller's friend drove them to A&E")
    );

    let e = w.err(&op, incident_cancel(&inc, "again"));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(
        e.to_string(),
        "incident cannot go from cancelled to cancelled"
    );
    let e = w.err(&f5, progress(&a1, AssignmentStatus::OnScene));
    assert_eq!(
        e.to_string(),
        "assignment cannot go from cancelled to on_scene"
    );

    // Reopened, it goes back to assessed and can be dispatched again.
    w.ok(
        &op,
        incident_reopen(&inc, "caller rang back: still at home"),
    );
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Assessed);
    assert_eq!(w.state.incidents[&inc].cancelled_at, None);
    w.assign(&op, &inc, &car);
    assert_eq!(w.state.incidents[&inc].status, IncidentStatus::Dispatched);
}

#[test]
fn closing_is_refused_while_a_resource_is_still_out_and_an_override_stands_it_down() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let inc = w.open_assessed(&op, "medical_emergency");
    let amara = w.resource_of("field1");
    let asg = w.assign(&op, &inc, &amara);
    w.ok(&op, incident_resolve(&inc));
    let e = w.err(&op, incident_close(&inc));
    assert_eq!(e.code(), "procedure_violation");
    assert!(
        e.to_string().contains(&format!("{asg} is still notified")),
        "{e}"
    );

    w.ok(
        &sup,
        incident_override(
            &inc,
            rules::CLOSE_REQUIRES_ACTIONS,
            "crew released by phone, checklist done on paper",
        ),
    );
    let recs = w.ok(&op, incident_close(&inc));
    assert_eq!(
        kinds(&recs),
        [
            "assignment.cancelled",
            "resource.status_changed",
            "incident.closed"
        ]
    );
    assert_eq!(w.state.resources[&amara].status, ResourceStatus::Available);
    assert_eq!(
        w.state.assignments[&asg].status,
        AssignmentStatus::Cancelled
    );
}

/// Brings a fresh incident into `status` and returns it. Dispatched incidents get one
/// assignment with an empty checklist so they may close.
fn incident_in(w: &mut World, status: IncidentStatus) -> IncidentId {
    use IncidentStatus::*;
    let op = w.actor("operator");
    let r = w.resource("rapid-response-1");
    let inc = match status {
        New => return w.open(&op, "medical_emergency"),
        _ => w.open_assessed(&op, "medical_emergency"),
    };
    let dispatch = |w: &mut World| {
        let recs = w.ok(&op, assignment_with_actions(&inc, &r, &[]));
        let asg = AssignmentId(created(&recs, "assignment_id"));
        w.ok(&op, acknowledge(&asg));
        asg
    };
    match status {
        New | Assessed => {}
        Dispatched => {
            dispatch(w);
        }
        InProgress => {
            let asg = dispatch(w);
            w.ok(&op, progress(&asg, AssignmentStatus::EnRoute));
        }
        Resolved | Closed => {
            let asg = dispatch(w);
            w.ok(&op, progress(&asg, AssignmentStatus::Completed));
            w.ok(&op, incident_resolve(&inc));
            if status == Closed {
                w.ok(&op, incident_close(&inc));
            }
        }
        Cancelled => {
            w.ok(&op, incident_cancel(&inc, "caller withdrew"));
        }
    }
    assert_eq!(w.state.incidents[&inc].status, status);
    inc
}

#[test]
fn incident_transitions_through_commands() {
    use IncidentStatus::*;
    type Build = fn(&World, &IncidentId) -> Command;
    let resolve: Build = |_, i| incident_resolve(i);
    let close: Build = |_, i| incident_close(i);
    let reopen: Build = |_, i| incident_reopen(i, "new information");
    let cancel: Build = |_, i| incident_cancel(i, "not needed");
    let answer: Build = |_, i| incident_answer(i, &[("breathing", json!(true))]);
    let assess: Build = |_, i| assess_manual(i, Priority::P3, "reassessed");
    let dispatch: Build = |w, i| assignment_create(i, &w.resource("amara-okafor"), None);
    let cases: Vec<(
        IncidentStatus,
        &str,
        Build,
        Result<IncidentStatus, (&str, &str)>,
    )> = vec![
        (New, "resolve", resolve, Err(("new", "resolved"))),
        (New, "close", close, Err(("new", "closed"))),
        (New, "reopen", reopen, Err(("new", "reopened"))),
        (New, "cancel", cancel, Ok(Cancelled)),
        (Assessed, "close", close, Err(("assessed", "closed"))),
        (Assessed, "resolve", resolve, Ok(Resolved)),
        (Assessed, "dispatch", dispatch, Ok(Dispatched)),
        (Dispatched, "close", close, Err(("dispatched", "closed"))),
        (Dispatched, "resolve", resolve, Ok(Resolved)),
        (Dispatched, "assess", assess, Ok(Dispatched)),
        (
            InProgress,
            "reopen",
            reopen,
            Err(("in_progress", "reopened")),
        ),
        (InProgress, "dispatch", dispatch, Ok(InProgress)),
        (InProgress, "cancel", cancel, Ok(Cancelled)),
        (Resolved, "resolve", resolve, Err(("resolved", "resolved"))),
        (Resolved, "cancel", cancel, Err(("resolved", "cancelled"))),
        (Resolved, "answer", answer, Err(("resolved", "assessed"))),
        (
            Resolved,
            "dispatch",
            dispatch,
            Err(("resolved", "dispatched")),
        ),
        (Resolved, "close", close, Ok(Closed)),
        (Resolved, "reopen", reopen, Ok(Assessed)),
        (Closed, "close", close, Err(("closed", "closed"))),
        (Closed, "assess", assess, Err(("closed", "assessed"))),
        (Closed, "reopen", reopen, Ok(Assessed)),
        (Cancelled, "cancel", cancel, Err(("cancelled", "cancelled"))),
        (
            Cancelled,
            "dispatch",
            dispatch,
            Err(("cancelled", "dispatched")),
        ),
        (Cancelled, "reopen", reopen, Ok(Assessed)),
    ];
    for (from, name, build, expected) in cases {
        let mut w = World::demo();
        let op = w.actor("operator");
        let inc = incident_in(&mut w, from);
        let command = build(&w, &inc);
        let label = format!("{from} {name}");
        match expected {
            Ok(status) => {
                w.ok(&op, command);
                assert_eq!(w.state.incidents[&inc].status, status, "{label}");
            }
            Err((f, t)) => {
                let e = w.err(&op, command);
                assert_eq!(e.code(), "invalid_transition", "{label}");
                assert_eq!(
                    e.to_string(),
                    format!("incident cannot go from {f} to {t}"),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn sharing_with_a_partner_centre_is_recorded_once_and_undone() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let inc = w.open_assessed(&op, "fire_alarm");
    let share = |partner: &str| {
        Command::IncidentShare(muster_core::engine::command::IncidentShare {
            incident_id: inc.clone(),
            partner: partner.into(),
        })
    };
    let unshare = |partner: &str| {
        Command::IncidentUnshare(muster_core::engine::command::IncidentUnshare {
            incident_id: inc.clone(),
            partner: partner.into(),
        })
    };
    let recs = w.ok(&op, share("county-fire"));
    assert_eq!(
        recs[0].event,
        Event::IncidentShared {
            incident_id: inc.clone(),
            partner: "county-fire".into()
        }
    );
    assert_eq!(w.state.incidents[&inc].shared_with, vec!["county-fire"]);
    assert_eq!(
        w.err(&op, share("county-fire")).code().as_str(),
        "validation_failed"
    );
    assert_eq!(
        w.err(&op, share("County Fire")).code().as_str(),
        "validation_failed"
    );
    assert_eq!(w.err(&f1, share("police")).code().as_str(), "forbidden");
    w.ok(&op, unshare("county-fire"));
    assert!(w.state.incidents[&inc].shared_with.is_empty());
    assert_eq!(
        w.err(&op, unshare("county-fire")).code().as_str(),
        "validation_failed"
    );
}
