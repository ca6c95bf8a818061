//! The pure engine against the shipped demo centre: who may do what, every lifecycle
//! driven through commands, messages and visibility, and replay determinism (live
//! state = replay of the stored, hash-chained log = snapshot + replay of the rest).

mod support;

use std::collections::BTreeSet;

use serde_json::json;

use muster::domain::assignment::AssignmentStatus;
use muster::domain::case::{CaseOutcome, CaseType};
use muster::domain::contact::ContactStatus;
use muster::domain::geo::Location;
use muster::domain::ids::{
    AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId, ResourceId,
    UserId,
};
use muster::domain::incident::{IncidentStatus, rules};
use muster::domain::message::Audience;
use muster::domain::resource::ResourceStatus;
use muster::domain::triage::{Priority, TriageMethod, Validity};
use muster::domain::user::Role;
use muster::engine::authz::{self, Actor};
use muster::engine::command as cmd;
use muster::engine::visibility;
use muster::engine::{Command, Error, Event};

use support::*;

// ==================================================================================
// 1. Authorisation
// ==================================================================================

/// One sample of every command. The ids need not exist: `permits` looks at the kind.
fn samples() -> Vec<Command> {
    let con = ContactId("con_1".into());
    let inc = IncidentId("inc_1".into());
    let res = ResourceId("res_1".into());
    let asg = AssignmentId("asg_1".into());
    let case = CaseId("case_1".into());
    let plan = PlanId("plan_1".into());
    vec![
        contact_receive("Smoke in the stairwell"),
        contact_take(&con),
        contact_link(&con, &inc),
        contact_close(&con, "advice_given"),
        incident_open("fire_alarm", None),
        incident_answer(&inc, &[("smoke_or_flames", json!(true))]),
        assess_manual(&inc, Priority::P2, "caller on scene"),
        incident_note(&inc, "Caller rang back"),
        incident_resolve(&inc),
        incident_close(&inc),
        incident_reopen(&inc, "caller rang back"),
        incident_cancel(&inc, "false alarm"),
        incident_override(&inc, rules::CLOSE_REQUIRES_ACTIONS, "checked by phone"),
        user_create("newuser", Role::Operator, None),
        Command::UserDisable(cmd::UserDisable {
            user_id: UserId("usr_1".into()),
        }),
        Command::UserPassword(cmd::UserPassword {
            user_id: UserId("usr_1".into()),
            password: "new password".into(),
            password_hash: Some(TEST_HASH.into()),
        }),
        resource_register("Spare Van", "south", &["driving"]),
        resource_status(&res, ResourceStatus::Unavailable),
        resource_locate(&res, 51.5, -0.12),
        assignment_create(&inc, &res, None),
        acknowledge(&asg),
        decline(&asg, "too far"),
        progress(&asg, AssignmentStatus::EnRoute),
        action_done(&asg, "act_1"),
        assignment_cancel(&asg, "not needed"),
        checkin(&asg, true),
        broadcast(Audience::All, "Radio check at noon", false),
        message_ack(&MessageId("msg_1".into())),
        case_open(CaseType::Complaint, Some(&inc), "Nobody came for an hour"),
        case_assign(&case, &UserId("usr_1".into())),
        case_respond(&case, "We are sorry"),
        case_close(&case, CaseOutcome::Upheld, Some("late_dispatch")),
        support_propose(&UserId("usr_1".into()), &["intake"], "coaching"),
        support_agree(&plan),
        support_note(&plan, "Went well"),
        support_review(&plan, "No further support needed"),
        improvement_raise(&UserId("usr_1".into()), &["resource_selection"], None),
        improvement_update(
            &ImprovementId("imp_1".into()),
            muster::domain::improvement::ImprovementStatus::InProgress,
            None,
        ),
        Command::TimerEscalate(cmd::TimerEscalate {
            assignment_id: asg.clone(),
            level: 1,
        }),
        Command::TimerCheckinMissed(cmd::TimerCheckinMissed {
            assignment_id: asg.clone(),
            due_at: start_time(),
        }),
        Command::TimerTargetBreached(cmd::TimerTargetBreached {
            incident_id: inc.clone(),
            target: "dispatch".into(),
        }),
        Command::TimerCaseBreached(cmd::TimerCaseBreached {
            case_id: muster::domain::ids::CaseId("case_1".into()),
            target: "respond".into(),
        }),
        Command::TimerPlanReviewMissed(cmd::TimerPlanReviewMissed {
            plan_id: muster::domain::ids::PlanId("plan_1".into()),
        }),
        Command::NotificationRecord(cmd::NotificationRecord {
            assignment_id: asg.clone(),
            channel: "sms".into(),
            level: 2,
            error: None,
            status: Some("HTTP 200".into()),
        }),
    ]
}

/// Exhaustive on purpose (no `_` arm): a new command does not compile here until the
/// matrix below decides who may send it.
fn wire_kind(c: &Command) -> &'static str {
    use Command::*;
    match c {
        ContactReceive(_) => "contact.receive",
        ContactTake(_) => "contact.take",
        ContactLink(_) => "contact.link",
        ContactClose(_) => "contact.close",
        IncidentOpen(_) => "incident.open",
        IncidentAnswer(_) => "incident.answer",
        IncidentAssess(_) => "incident.assess",
        IncidentNote(_) => "incident.note",
        IncidentResolve(_) => "incident.resolve",
        IncidentClose(_) => "incident.close",
        IncidentReopen(_) => "incident.reopen",
        IncidentCancel(_) => "incident.cancel",
        IncidentOverride(_) => "incident.override",
        UserCreate(_) => "user.create",
        UserDisable(_) => "user.disable",
        UserPassword(_) => "user.password",
        ResourceRegister(_) => "resource.register",
        ResourceStatus(_) => "resource.status",
        ResourceLocate(_) => "resource.locate",
        AssignmentCreate(_) => "assignment.create",
        AssignmentAcknowledge(_) => "assignment.acknowledge",
        AssignmentDecline(_) => "assignment.decline",
        AssignmentProgress(_) => "assignment.progress",
        AssignmentActionDone(_) => "assignment.action_done",
        AssignmentCancel(_) => "assignment.cancel",
        Checkin(_) => "checkin",
        MessageBroadcast(_) => "message.broadcast",
        MessageAcknowledge(_) => "message.acknowledge",
        CaseOpen(_) => "case.open",
        CaseAssign(_) => "case.assign",
        CaseRespond(_) => "case.respond",
        CaseClose(_) => "case.close",
        SupportPropose(_) => "support.propose",
        SupportAgree(_) => "support.agree",
        SupportNote(_) => "support.note",
        SupportReview(_) => "support.review",
        ImprovementRaise(_) => "improvement.raise",
        ImprovementUpdate(_) => "improvement.update",
        TimerEscalate(_) => "timer.escalate",
        TimerCheckinMissed(_) => "timer.checkin_missed",
        TimerTargetBreached(_) => "timer.target_breached",
        TimerCaseBreached(_) => "timer.case_breached",
        TimerPlanReviewMissed(_) => "timer.plan_review_missed",
        NotificationRecord(_) => "notification.record",
    }
}

/// What operators (and supervisors) do at the desk: everything but overrides and
/// administration.
const DESK: &[&str] = &[
    "contact.receive",
    "contact.take",
    "contact.link",
    "contact.close",
    "incident.open",
    "incident.answer",
    "incident.assess",
    "incident.note",
    "incident.resolve",
    "incident.close",
    "incident.reopen",
    "incident.cancel",
    "resource.status",
    "resource.locate",
    "assignment.create",
    "assignment.acknowledge",
    "assignment.decline",
    "assignment.progress",
    "assignment.action_done",
    "assignment.cancel",
    "checkin",
    "message.broadcast",
    "message.acknowledge",
    "case.open",
    "case.assign",
    "case.respond",
    "case.close",
    "support.propose",
    "support.agree",
    "support.note",
    "support.review",
    "improvement.update",
];

const ADMIN: &[&str] = &[
    "user.create",
    "user.disable",
    "user.password",
    "resource.register",
    "resource.status",
    "resource.locate",
    // Admins receive broadcasts to `all` and direct messages, so they acknowledge them.
    "message.acknowledge",
];

const FIELD: &[&str] = &[
    "incident.note",
    "resource.status",
    "resource.locate",
    "assignment.acknowledge",
    "assignment.decline",
    "assignment.progress",
    "assignment.action_done",
    "checkin",
    "message.acknowledge",
];

const INTAKE: &[&str] = &["contact.receive"];

fn expected_kinds(role: Role) -> BTreeSet<&'static str> {
    let mut kinds: BTreeSet<&str> = match role {
        Role::Operator | Role::Supervisor => DESK.iter().copied().collect(),
        Role::Admin => ADMIN.iter().copied().collect(),
        Role::Field => FIELD.iter().copied().collect(),
        Role::Intake => INTAKE.iter().copied().collect(),
    };
    if role == Role::Supervisor {
        kinds.insert("incident.override");
        kinds.insert("improvement.raise");
    }
    kinds
}

#[test]
fn samples_cover_every_command_kind() {
    let samples = samples();
    let kinds: BTreeSet<&str> = samples.iter().map(wire_kind).collect();
    assert_eq!(samples.len(), 44);
    assert_eq!(kinds.len(), 44, "one sample per kind, no repeats");
    for c in &samples {
        assert_eq!(c.kind(), wire_kind(c));
    }
    // Every kind the tables name exists.
    for role in Role::ALL {
        for k in expected_kinds(role) {
            assert!(kinds.contains(k), "{k} is not a command");
        }
    }
}

#[test]
fn role_by_command_matrix() {
    let mut mismatches = Vec::new();
    for role in Role::ALL {
        let allowed = expected_kinds(role);
        for c in samples() {
            let want = allowed.contains(wire_kind(&c));
            if authz::permits(role, c.kind()) != want {
                mismatches.push(format!("{} {} expected {want}", role.as_str(), c.kind()));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // Spot checks of the table itself.
    assert_eq!(expected_kinds(Role::Operator).len(), 32);
    assert_eq!(expected_kinds(Role::Supervisor).len(), 34);
    assert_eq!(expected_kinds(Role::Intake).len(), 1);
}

/// Whatever the command's content, a role that may not send it gets `forbidden`
/// before anything else is looked at (even when the ids do not exist).
#[test]
fn unpermitted_commands_are_forbidden_by_the_engine() {
    let w = World::demo();
    let actors = [
        w.actor("operator"),
        w.actor("supervisor"),
        w.actor("admin"),
        w.actor("field1"),
        intake_actor(),
    ];
    for actor in &actors {
        let allowed = expected_kinds(actor.role);
        for c in samples() {
            if allowed.contains(c.kind().as_str()) {
                continue;
            }
            let e = w
                .engine
                .handle(&w.state, &c, actor, w.now)
                .expect_err(c.kind().as_str());
            assert_eq!(
                e.code(),
                "forbidden",
                "{} {}",
                actor.role.as_str(),
                c.kind()
            );
            assert_eq!(
                e.to_string(),
                format!("a {} may not {}", actor.role.as_str(), c.kind())
            );
        }
    }
}

#[test]
fn field_users_act_only_on_their_own_resources_work() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let f1 = w.actor("field1");
    let f2 = w.actor("field2");
    let r1 = w.resource_of("field1");
    let r2 = w.resource_of("field2");
    let inc = w.open_assessed(&op, "medical_emergency");
    let asg = w.assign(&op, &inc, &r1);

    let others = [
        acknowledge(&asg),
        decline(&asg, "not mine"),
        progress(&asg, AssignmentStatus::EnRoute),
        action_done(&asg, "act_1"),
        checkin(&asg, true),
        incident_note(&inc, "I am not on this one"),
        resource_status(&r1, ResourceStatus::Unavailable),
        resource_locate(&r1, 51.5, -0.1),
    ];
    for c in others {
        let kind = c.kind();
        let e = w.err(&f2, c);
        assert_eq!(e.code(), "forbidden", "{kind}");
        assert_eq!(
            e.to_string(),
            format!("{kind} concerns another resource's work")
        );
    }
    // Unknown objects are not_found, not forbidden.
    let e = w.err(&f2, acknowledge(&AssignmentId("asg_404".into())));
    assert_eq!(e.code(), "not_found");
    assert_eq!(e.to_string(), "assignment asg_404 not found");

    // Its own resource's work: accepted.
    w.ok(&f1, acknowledge(&asg));
    w.ok(&f1, checkin(&asg, true));
    w.ok(&f1, incident_note(&inc, "On my way, 5 minutes"));
    w.ok(&f1, progress(&asg, AssignmentStatus::EnRoute));
    w.ok(&f1, action_done(&asg, "act_1"));
    w.ok(&f1, resource_locate(&r1, 51.52, -0.12));
    w.ok(&f2, resource_status(&r2, ResourceStatus::Unavailable));
    let a = &w.state.assignments[&asg];
    assert_eq!(a.status, AssignmentStatus::EnRoute);
    assert_eq!(a.actions[0].done_by.as_ref(), Some(&f1.user_id));
    assert!(a.last_checkin_at.is_some());
    assert_eq!(w.state.incidents[&inc].notes[0].by, f1.user_id);
    assert_eq!(w.state.resources[&r2].status, ResourceStatus::Unavailable);
    assert_eq!(w.state.resources[&r1].location.as_ref().unwrap().lat, 51.52);
}

// ==================================================================================
// 2. Lifecycles through commands
// ==================================================================================

#[derive(Clone, Copy, Debug)]
enum ContactOp {
    Take,
    Close,
    Link,
    OpenFrom,
}

#[test]
fn contact_lifecycle() {
    use ContactOp::*;
    use ContactStatus::*;
    // (steps before, the step, Ok(status after) or Err((from, to)))
    let cases: Vec<(&[ContactOp], ContactOp, Result<ContactStatus, (&str, &str)>)> = vec![
        (&[], Take, Ok(Taken)),
        (&[], Close, Ok(Closed)),
        (&[], Link, Ok(Taken)),
        (&[], OpenFrom, Ok(Taken)),
        (&[Take], Close, Ok(Closed)),
        (&[Take], Link, Ok(Taken)),
        (&[Take], Take, Err(("taken", "taken"))),
        (&[Close], Take, Err(("closed", "taken"))),
        (&[Take, Close], Close, Err(("closed", "closed"))),
        (&[Close], Link, Err(("closed", "linked"))),
        (&[Close], OpenFrom, Err(("closed", "linked"))),
    ];
    for (before, step, expected) in cases {
        let mut w = World::demo();
        let op = w.actor("operator");
        let target = w.open_assessed(&op, "road_hazard");
        let recs = w.ok(&op, contact_receive("Tree down on Upper Street"));
        let con = ContactId(created(&recs, "contact_id"));
        assert_eq!(w.state.contacts[&con].status, Queued);
        let command = |s: ContactOp| -> Command {
            match s {
                Take => contact_take(&con),
                Close => contact_close(&con, "passed_to_highways"),
                Link => contact_link(&con, &target),
                OpenFrom => incident_open("road_hazard", Some(&con)),
            }
        };
        for &s in before {
            let c = command(s);
            w.ok(&op, c);
        }
        let c = command(step);
        let label = format!("{before:?} then {step:?}");
        match expected {
            Ok(status) => {
                let recs = w.ok(&op, c);
                let contact = &w.state.contacts[&con];
                assert_eq!(contact.status, status, "{label}");
                match step {
                    Take => assert_eq!(contact.taken_by.as_ref(), Some(&op.user_id)),
                    Close => {
                        assert_eq!(contact.outcome.as_deref(), Some("passed_to_highways"));
                        assert!(contact.closed_at.is_some());
                    }
                    Link => {
                        assert_eq!(contact.incident_id.as_ref(), Some(&target));
                        assert!(w.state.incidents[&target].contact_ids.contains(&con));
                        let expect: &[&str] = if before.is_empty() {
                            &["contact.taken", "contact.linked"]
                        } else {
                            &["contact.linked"]
                        };
                        assert_eq!(kinds(&recs), expect, "{label}");
                    }
                    OpenFrom => {
                        assert_eq!(
                            kinds(&recs),
                            ["incident.opened", "contact.taken", "contact.linked"]
                        );
                        let inc = IncidentId(created(&recs, "incident_id"));
                        assert_eq!(contact.incident_id.as_ref(), Some(&inc));
                        assert_eq!(w.state.incidents[&inc].contact_ids, vec![con.clone()]);
                    }
                }
            }
            Err((from, to)) => {
                let e = w.err(&op, c);
                assert_eq!(e.code(), "invalid_transition", "{label}");
                assert_eq!(
                    e.to_string(),
                    format!("contact cannot go from {from} to {to}"),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn linking_twice_to_the_same_incident_is_a_conflict() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let inc = w.open(&op, "road_hazard");
    let recs = w.ok(&op, contact_receive("Pothole again"));
    let con = ContactId(created(&recs, "contact_id"));
    w.ok(&op, contact_link(&con, &inc));
    let e = w.err(&op, contact_link(&con, &inc));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), format!("{con} is already linked to {inc}"));
}

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

    let recs = w.ok(&f1, progress(&asg, AssignmentStatus::Completed));
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
    w.ok(&op, progress(&asg, AssignmentStatus::Completed));
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
fn assignment_transitions_through_commands() {
    use AssignmentStatus::*;
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
            Completed => vec![acknowledge(&asg), progress(&asg, Completed)],
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
    let completed: Build = |a| progress(a, Completed);
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

#[test]
fn validation_errors_name_the_field() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let inc = w.open(&op, "medical_emergency");
    let con = ContactId(created(&w.ok(&op, contact_receive("x")), "contact_id"));
    let car = w.resource("rapid-response-1");
    let asg = {
        let other = w.open_assessed(&op, "medical_emergency");
        w.assign(&op, &other, &car)
    };
    let long = "x".repeat(5_000);

    let mut no_summary = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { summary, .. }) = &mut no_summary {
        *summary = "  ".into();
    }
    let mut long_name = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { caller, .. }) = &mut long_name {
        caller.name = Some("n".repeat(501));
    }
    let mut half_point = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { location, .. }) = &mut half_point {
        *location = Some(Location {
            text: None,
            lat: Some(51.5),
            lon: None,
        });
    }
    let mut no_description = incident_open("medical_emergency", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { description, .. }) = &mut no_description {
        description.clear();
    }
    let mut nowhere = incident_open("medical_emergency", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut nowhere {
        *location = Location::default();
    }
    let mut no_priority = assess_manual(&inc, Priority::P2, "because");
    if let Command::IncidentAssess(cmd::IncidentAssess { priority, .. }) = &mut no_priority {
        *priority = None;
    }
    let mut matrix_half = assess_matrix(&inc, "minor", "low");
    if let Command::IncidentAssess(cmd::IncidentAssess { urgency, .. }) = &mut matrix_half {
        *urgency = None;
    }
    let field_without_resource = user_create("field99", Role::Field, None);
    let assessed = w.open_assessed(&op, "medical_emergency");
    let amara = w.resource("amara-okafor");

    let cases: Vec<(&Actor, Command, &str)> = vec![
        (&op, no_summary, "summary"),
        (&op, long_name, "caller.name"),
        (&op, half_point, "location"),
        (&op, contact_close(&con, ""), "outcome"),
        (&op, incident_open("alien_landing", None), "type"),
        (&op, no_description, "description"),
        (&op, nowhere, "location"),
        (
            &op,
            incident_answer(&inc, &[("breathing", json!("maybe"))]),
            "answers.breathing",
        ),
        (
            &op,
            incident_answer(&inc, &[("bleeding", json!("lots"))]),
            "answers.bleeding",
        ),
        (
            &op,
            incident_answer(&inc, &[("colour", json!("red"))]),
            "answers.colour",
        ),
        (&op, incident_answer(&inc, &[]), "answers"),
        (&op, assess_manual(&inc, Priority::P2, ""), "reason"),
        (&op, assess_manual(&inc, Priority::P2, &long), "reason"),
        (&op, no_priority, "priority"),
        (&op, matrix_half, "impact"),
        (&op, assess_matrix(&inc, "cosmic", "low"), "impact"),
        (
            &op,
            assess(
                &inc,
                Validity::Duplicate,
                None,
                TriageMethod::Manual,
                "same",
            ),
            "duplicate_of",
        ),
        (&op, incident_note(&inc, ""), "text"),
        (&op, incident_note(&inc, &long), "text"),
        (&op, incident_reopen(&inc, ""), "reason"),
        (&op, incident_cancel(&inc, ""), "reason"),
        (
            &sup,
            incident_override(&inc, rules::REQUIRED_SKILLS, "short"),
            "justification",
        ),
        (
            &admin,
            user_create("No Spaces!", Role::Operator, None),
            "username",
        ),
        (&admin, user_create("ab", Role::Operator, None), "username"),
        (&admin, field_without_resource, "resource_id"),
        (&admin, resource_register("", "north", &[]), "name"),
        (&admin, resource_register("Van", " ", &[]), "team"),
        (
            &admin,
            resource_register("Van", "north", &["ok", ""]),
            "skills[1]",
        ),
        (&op, resource_locate(&car, 91.0, 0.0), "lat"),
        (&op, resource_locate(&car, 0.0, f64::NAN), "lat"),
        (
            &op,
            assignment_with_actions(&assessed, &amara, &[("Fine", true), ("", false)]),
            "actions[1].text",
        ),
        (&op, assignment_cancel(&asg, ""), "reason"),
        (&op, broadcast(Audience::All, " ", false), "text"),
        (&op, broadcast(Audience::All, &long, false), "text"),
    ];
    for (actor, command, field) in cases {
        let kind = command.kind();
        let e = w.err(actor, command);
        assert_eq!(e.code(), "validation_failed", "{kind} {field}: {e}");
        assert!(
            e.to_string().starts_with(&format!("{field}:")),
            "{kind}: {e:?} should name {field}"
        );
        match e {
            Error::ValidationFailed { field: f, .. } => assert_eq!(f, field, "{kind}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn unknown_ids_are_not_found() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let admin = w.actor("admin");
    let f1 = w.actor("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let con = ContactId(created(&w.ok(&op, contact_receive("x")), "contact_id"));
    let amara = w.resource("amara-okafor");
    let no_con = ContactId("con_404".into());
    let no_inc = IncidentId("inc_404".into());
    let no_res = ResourceId("res_404".into());
    let no_asg = AssignmentId("asg_404".into());
    let no_msg = MessageId("msg_404".into());
    let no_usr = UserId("usr_404".into());
    let mut dup = assess(
        &inc,
        Validity::Duplicate,
        None,
        TriageMethod::Manual,
        "same",
    );
    if let Command::IncidentAssess(cmd::IncidentAssess { duplicate_of, .. }) = &mut dup {
        *duplicate_of = Some(no_inc.clone());
    }
    let cases: Vec<(&Actor, Command, &str)> = vec![
        (&op, contact_take(&no_con), "contact con_404"),
        (&op, contact_close(&no_con, "done"), "contact con_404"),
        (&op, contact_link(&no_con, &inc), "contact con_404"),
        (&op, contact_link(&con, &no_inc), "incident inc_404"),
        (
            &op,
            incident_open("road_hazard", Some(&no_con)),
            "contact con_404",
        ),
        (&op, incident_note(&no_inc, "hello"), "incident inc_404"),
        (&op, incident_resolve(&no_inc), "incident inc_404"),
        (&op, incident_close(&no_inc), "incident inc_404"),
        (&op, incident_cancel(&no_inc, "x"), "incident inc_404"),
        (
            &op,
            assess_manual(&no_inc, Priority::P1, "x"),
            "incident inc_404",
        ),
        (&op, dup, "incident inc_404"),
        (
            &op,
            assignment_create(&no_inc, &amara, None),
            "incident inc_404",
        ),
        (
            &op,
            assignment_create(&inc, &no_res, None),
            "resource res_404",
        ),
        (&op, acknowledge(&no_asg), "assignment asg_404"),
        (
            &op,
            progress(&no_asg, AssignmentStatus::EnRoute),
            "assignment asg_404",
        ),
        (&op, checkin(&no_asg, true), "assignment asg_404"),
        (&f1, checkin(&no_asg, true), "assignment asg_404"),
        (&f1, incident_note(&no_inc, "x"), "incident inc_404"),
        (
            &op,
            resource_status(&no_res, ResourceStatus::OffDuty),
            "resource res_404",
        ),
        (&op, resource_locate(&no_res, 1.0, 1.0), "resource res_404"),
        (&op, message_ack(&no_msg), "message msg_404"),
        (
            &admin,
            Command::UserDisable(cmd::UserDisable {
                user_id: no_usr.clone(),
            }),
            "user usr_404",
        ),
        (
            &admin,
            user_create("newfield", Role::Field, Some(&no_res)),
            "resource res_404",
        ),
        (
            &op,
            broadcast(Audience::Incident(no_inc.clone()), "hi", false),
            "incident inc_404",
        ),
        (
            &op,
            broadcast(Audience::Resource(no_res.clone()), "hi", false),
            "resource res_404",
        ),
        (
            &op,
            broadcast(Audience::User(no_usr.clone()), "hi", false),
            "user usr_404",
        ),
        (
            &op,
            broadcast(Audience::Team("west".into()), "hi", false),
            "team west",
        ),
    ];
    for (actor, command, what) in cases {
        let kind = command.kind();
        let e = w.err(actor, command);
        assert_eq!(e.code(), "not_found", "{kind}: {e}");
        assert_eq!(e.to_string(), format!("{what} not found"), "{kind}");
    }
}

#[test]
fn users_and_resources_are_administered() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let recs = w.ok(
        &admin,
        resource_register("Spare Van", "south", &["driving"]),
    );
    let van = ResourceId(created(&recs, "resource_id"));
    assert_eq!(w.state.resources[&van].status, ResourceStatus::Available);
    let recs = w.ok(&admin, user_create("field9", Role::Field, Some(&van)));
    let id = UserId(created(&recs, "user_id"));
    assert_eq!(w.state.resources[&van].user_id.as_ref(), Some(&id));
    assert_eq!(w.state.usernames["field9"], id);
    assert_eq!(w.state.users[&id].password_hash, TEST_HASH);
    // Usernames are unique, case-insensitively.
    let e = w.err(&admin, user_create("operator", Role::Operator, None));
    assert_eq!(e.code(), "conflict");
    let recs = w.ok(
        &admin,
        Command::UserPassword(cmd::UserPassword {
            user_id: id.clone(),
            password: "another one".into(),
            password_hash: Some("$argon2id$other".into()),
        }),
    );
    assert_eq!(kinds(&recs), ["user.password_changed"]);
    assert_eq!(w.state.users[&id].password_hash, "$argon2id$other");
    // The hash never leaves the hub.
    let Some(Event::UserPasswordChanged { password_hash, .. }) = recs[0].event.redacted() else {
        panic!()
    };
    assert!(password_hash.is_empty());
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: id.clone(),
        }),
    );
    assert!(w.state.users[&id].disabled);
    let e = w.err(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: id.clone(),
        }),
    );
    assert_eq!(e.code(), "conflict");
    // A password the hub did not hash is refused.
    let e = w.err(
        &admin,
        Command::UserPassword(cmd::UserPassword {
            user_id: id,
            password: "plain".into(),
            password_hash: None,
        }),
    );
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("password:"));
}

// ==================================================================================
// 3. Messages
// ==================================================================================

#[test]
fn team_broadcast_reaches_the_teams_users() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let recs = w.ok(
        &op,
        broadcast(Audience::Team("north".into()), "Road closed at Angel", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let m = &w.state.messages[&msg];
    // North: Amara (field1), Ben (field2); its other resources have no user.
    let recipients: BTreeSet<UserId> = m.recipients.iter().cloned().collect();
    assert_eq!(
        recipients,
        BTreeSet::from([w.user_id("field1"), w.user_id("field2")])
    );
    assert_eq!(m.recipients.len(), 2);
    assert_eq!(m.sent_by, op.user_id);
    assert!(m.requires_ack);

    let seq = recs[0].seq;
    for (who, sees) in [
        ("field1", true),
        ("field2", true),
        ("field5", false),
        ("operator2", true),
        ("admin", true),
    ] {
        assert_eq!(w.sees(&w.viewer(who), seq), sees, "{who}");
    }

    let f1 = w.actor("field1");
    let f5 = w.actor("field5");
    let e = w.err(&f5, message_ack(&msg));
    assert_eq!(e.code(), "forbidden");
    assert_eq!(e.to_string(), format!("{msg} was not addressed to you"));
    let recs = w.ok(&f1, message_ack(&msg));
    assert_eq!(
        events(&recs),
        [Event::MessageAcknowledged {
            message_id: msg.clone(),
            user_id: f1.user_id.clone(),
        }]
    );
    assert_eq!(w.state.messages[&msg].acks[&f1.user_id], w.now);
    let e = w.err(&f1, message_ack(&msg));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), format!("{msg} is already acknowledged"));
}

#[test]
fn broadcast_to_all_reaches_everyone_but_the_sender() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let gone = w.user_id("field8");
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: gone.clone(),
        }),
    );
    let recs = w.ok(
        &sup,
        broadcast(Audience::All, "Shift change in 10 minutes", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let recipients: BTreeSet<UserId> = w.state.messages[&msg].recipients.iter().cloned().collect();
    let expected: BTreeSet<UserId> = w
        .state
        .users
        .keys()
        .filter(|u| **u != sup.user_id && **u != gone)
        .cloned()
        .collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(recipients, expected);
    let seq = recs[0].seq;
    assert!(w.sees(&w.viewer("field5"), seq));
    assert!(!w.sees(&viewer_of(&intake_actor()), seq));
    // Admins and field users acknowledge; the sender cannot.
    w.ok(&admin, message_ack(&msg));
    w.ok(&w.actor("field5"), message_ack(&msg));
    assert_eq!(w.err(&sup, message_ack(&msg)).code(), "forbidden");
}

#[test]
fn direct_message_is_seen_by_sender_and_recipient_alone() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    let recs = w.ok(
        &sup,
        broadcast(
            Audience::User(op.user_id.clone()),
            "Ask whether 999 has been called",
            true,
        ),
    );
    let msg = MessageId(created(&recs, "message_id"));
    assert_eq!(w.state.messages[&msg].recipients, vec![op.user_id.clone()]);
    let seq = recs[0].seq;
    let v = visibility::of(&w.state, &recs[0]);
    assert!(!v.desk);
    assert!(v.allows(&viewer_of(&sup)));
    assert!(v.allows(&viewer_of(&op)));
    for who in ["operator2", "admin", "field1"] {
        assert!(!v.allows(&w.viewer(who)), "{who} must not see it");
        assert!(!w.sees(&w.viewer(who), seq), "{who}");
    }

    let e = w.err(&op2, message_ack(&msg));
    assert_eq!(e.code(), "forbidden");
    let recs = w.ok(&op, message_ack(&msg));
    let v = visibility::of(&w.state, &recs[0]);
    assert!(v.allows(&viewer_of(&sup)));
    assert!(v.allows(&viewer_of(&op)));
    assert!(!v.allows(&viewer_of(&op2)));
    let e = w.err(&op, message_ack(&msg));
    assert_eq!(e.code(), "conflict");
}

#[test]
fn incident_and_resource_broadcasts_reach_the_crews() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let r1 = w.resource_of("field1");
    let r5 = w.resource_of("field5");
    let inc = w.open_assessed(&op, "medical_emergency");
    let a1 = w.assign(&op, &inc, &r1);
    w.assign(&op, &inc, &r5);
    w.ok(&w.actor("field1"), decline(&a1, "flat tyre"));
    // Everyone ever sent to the incident hears about it.
    let recs = w.ok(
        &op,
        broadcast(
            Audience::Incident(inc.clone()),
            "Paramedics 2 min out",
            false,
        ),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let recipients: BTreeSet<UserId> = w.state.messages[&msg].recipients.iter().cloned().collect();
    assert_eq!(
        recipients,
        BTreeSet::from([w.user_id("field1"), w.user_id("field5")])
    );
    assert!(w.state.timelines[&inc].contains(&recs[0].seq));
    let recs = w.ok(
        &op,
        broadcast(Audience::Resource(r5.clone()), "Call control", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    assert_eq!(w.state.messages[&msg].recipients, vec![w.user_id("field5")]);
    assert!(w.sees(&w.viewer("field5"), recs[0].seq));
    assert!(!w.sees(&w.viewer("field1"), recs[0].seq));
}

// ==================================================================================
// 4. Visibility
// ==================================================================================

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

// ==================================================================================
// 5. Replay determinism
// ==================================================================================

/// Found by the property below: without serde_json's `float_roundtrip`, some
/// coordinates came back from the stored JSON one ULP off, so a restarted hub's state
/// differed from the live one.
#[test]
fn coordinates_survive_the_stored_form_exactly() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let r = w.resource("amara-okafor");
    w.ok(&op, resource_locate(&r, 0.0, -127.78631569343369));
    let mut open = incident_open("road_hazard", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut open {
        location.lat = Some(51.50735091065834);
        location.lon = Some(-0.12775829997968753);
    }
    w.ok(&op, open);
    let replayed = replay_stored(Default::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
    let json = serde_json::to_string(&w.state).unwrap();
    let back: muster::engine::State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, w.state);
}

mod replay {
    use super::*;
    use muster::domain::assignment::{ActionSpec, Assignment};
    use muster::domain::incident::Incident;
    use muster::domain::procedure::QuestionKind;
    use muster::domain::resource::ResourceType;
    use muster::engine::State;
    use muster::store::chain;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// Who sends an operation: the role that would normally send it (most of the
    /// time), or any user at all (to exercise refusals).
    #[derive(Clone, Debug)]
    enum Who {
        Natural,
        Any(Index),
    }

    /// An object picked by index; `smart` prefers one the operation can apply to
    /// (an open incident to assess, an active assignment to progress), so flows move
    /// on, while the others exercise refusals.
    #[derive(Clone, Debug)]
    struct T {
        i: Index,
        smart: bool,
    }

    #[derive(Clone, Debug)]
    enum Op {
        ContactReceive {
            empty: bool,
        },
        ContactTake(Index),
        ContactLink(Index, T),
        ContactClose(Index),
        IncidentOpen {
            contact: Option<Index>,
            ty: Index,
            lat: f64,
            lon: f64,
        },
        IncidentAnswer {
            incident: T,
            question: Index,
            pick: Index,
            num: f64,
            garbage: bool,
        },
        IncidentAssess {
            incident: T,
            validity: Index,
            method: Index,
            priority: Option<Index>,
            cell: (Index, Index),
            other: Index,
        },
        IncidentNote(T),
        IncidentResolve(T),
        IncidentClose(T),
        IncidentReopen(T),
        IncidentCancel(T),
        IncidentOverride(T, Index),
        UserCreate {
            n: u8,
            role: Index,
            resource: Index,
        },
        UserDisable(Index),
        UserPassword(Index),
        ResourceRegister {
            team: Index,
            skills: Index,
        },
        ResourceStatus(Index, Index),
        ResourceLocate(Index, f64, f64),
        AssignmentCreate {
            incident: T,
            resource: T,
            reason: bool,
            checklist: Option<Vec<bool>>,
        },
        Acknowledge(T),
        Decline(T),
        Progress(T, Index),
        ActionDone(T, Index),
        AssignmentCancel(T),
        Checkin(T, bool),
        Broadcast {
            audience: Index,
            target: Index,
            ack: bool,
        },
        MessageAck {
            message: Index,
            who: Index,
        },
    }

    fn t() -> impl Strategy<Value = T> {
        (any::<Index>(), prop::bool::weighted(0.8)).prop_map(|(i, smart)| T { i, smart })
    }

    fn op() -> impl Strategy<Value = Op> {
        let i = any::<Index>;
        let lat = || -90.0f64..=90.0;
        let lon = || -180.0f64..=180.0;
        prop_oneof![
            3 => Just(Op::ContactReceive { empty: false }),
            1 => Just(Op::ContactReceive { empty: true }),
            2 => i().prop_map(Op::ContactTake),
            1 => (i(), t()).prop_map(|(a, b)| Op::ContactLink(a, b)),
            1 => i().prop_map(Op::ContactClose),
            6 => (proptest::option::weighted(0.3, i()), i(), lat(), lon())
                .prop_map(|(contact, ty, lat, lon)| Op::IncidentOpen { contact, ty, lat, lon }),
            4 => (t(), i(), i(), -5.0f64..80.0, prop::bool::weighted(0.1)).prop_map(
                |(incident, question, pick, num, garbage)| Op::IncidentAnswer { incident, question, pick, num, garbage }
            ),
            6 => (t(), i(), i(), proptest::option::of(i()), (i(), i()), i()).prop_map(
                |(incident, validity, method, priority, cell, other)| Op::IncidentAssess { incident, validity, method, priority, cell, other }
            ),
            1 => t().prop_map(Op::IncidentNote),
            3 => t().prop_map(Op::IncidentResolve),
            3 => t().prop_map(Op::IncidentClose),
            1 => t().prop_map(Op::IncidentReopen),
            1 => t().prop_map(Op::IncidentCancel),
            1 => (t(), i()).prop_map(|(a, b)| Op::IncidentOverride(a, b)),
            1 => (0u8..6, i(), i()).prop_map(|(n, role, resource)| Op::UserCreate { n, role, resource }),
            1 => i().prop_map(Op::UserDisable),
            1 => i().prop_map(Op::UserPassword),
            1 => (i(), i()).prop_map(|(team, skills)| Op::ResourceRegister { team, skills }),
            2 => (i(), i()).prop_map(|(a, b)| Op::ResourceStatus(a, b)),
            1 => (i(), lat(), lon()).prop_map(|(r, lat, lon)| Op::ResourceLocate(r, lat, lon)),
            8 => (t(), t(), any::<bool>(), proptest::option::weighted(0.3, prop::collection::vec(any::<bool>(), 0..4)))
                .prop_map(|(incident, resource, reason, checklist)| Op::AssignmentCreate { incident, resource, reason, checklist }),
            5 => t().prop_map(Op::Acknowledge),
            1 => t().prop_map(Op::Decline),
            8 => (t(), i()).prop_map(|(a, b)| Op::Progress(a, b)),
            6 => (t(), i()).prop_map(|(a, b)| Op::ActionDone(a, b)),
            1 => t().prop_map(Op::AssignmentCancel),
            1 => (t(), any::<bool>()).prop_map(|(a, ok)| Op::Checkin(a, ok)),
            2 => (i(), i(), any::<bool>()).prop_map(|(audience, target, ack)| Op::Broadcast { audience, target, ack }),
            2 => (i(), i()).prop_map(|(message, who)| Op::MessageAck { message, who }),
        ]
    }

    fn who() -> impl Strategy<Value = Who> {
        prop_oneof![
            9 => Just(Who::Natural),
            1 => any::<Index>().prop_map(Who::Any),
        ]
    }

    /// A key of the map (biased towards the newest), or one that does not exist when
    /// the map is empty.
    fn nth<K: Clone + From<&'static str> + std::fmt::Display, V>(
        map: &std::collections::BTreeMap<K, V>,
        i: &Index,
        missing: &'static str,
    ) -> K {
        choose(map.keys().cloned().collect(), i).unwrap_or_else(|| K::from(missing))
    }

    /// One of `keys` (ids numbered by seq): half the time any, half the time one of
    /// the three newest.
    fn choose<K: std::fmt::Display>(mut keys: Vec<K>, i: &Index) -> Option<K> {
        if keys.is_empty() {
            return None;
        }
        let seq = |k: &K| {
            let s = k.to_string();
            s.rsplit('_')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        keys.sort_by_key(seq);
        let len = keys.len();
        let k = i.index(2 * len);
        let at = if k < len {
            k
        } else {
            len - 1 - (k - len) % len.min(3)
        };
        Some(keys.swap_remove(at))
    }

    fn pick<'a, T>(items: &'a [T], i: &Index) -> &'a T {
        &items[i.index(items.len())]
    }

    /// The actor of a user id in the state.
    fn actor_of(state: &State, id: &UserId) -> Actor {
        Actor::of(&state.users[id])
    }

    fn by_username(state: &State, name: &str) -> Actor {
        actor_of(state, &state.usernames[name])
    }

    /// The field user carrying a resource, if it has one.
    fn carrier(state: &State, r: &ResourceId) -> Option<Actor> {
        state
            .resources
            .get(r)
            .and_then(|r| r.user_id.as_ref())
            .filter(|u| state.users.get(*u).is_some_and(|u| u.role == Role::Field))
            .map(|u| actor_of(state, u))
    }

    /// The field user carrying the assignment's resource, else an operator (the desk
    /// acts for units that report by radio).
    fn crew_of(state: &State, asg: &AssignmentId) -> Actor {
        state
            .assignments
            .get(asg)
            .and_then(|a| carrier(state, &a.resource_id))
            .unwrap_or_else(|| by_username(state, "operator"))
    }

    fn incident_where(s: &State, t: &T, pred: impl Fn(&Incident) -> bool) -> IncidentId {
        if t.smart {
            let fit = s
                .incidents
                .values()
                .filter(|x| pred(x))
                .map(|x| x.id.clone());
            if let Some(x) = choose(fit.collect(), &t.i) {
                return x;
            }
        }
        nth(&s.incidents, &t.i, "inc_0")
    }

    fn assignment_where(s: &State, t: &T, pred: impl Fn(&Assignment) -> bool) -> AssignmentId {
        if t.smart {
            let fit = s
                .assignments
                .values()
                .filter(|x| pred(x))
                .map(|x| x.id.clone());
            if let Some(x) = choose(fit.collect(), &t.i) {
                return x;
            }
        }
        nth(&s.assignments, &t.i, "asg_0")
    }

    /// Turns an operation into a command and its natural sender, against the state.
    fn build(w: &World, op: &Op) -> (Command, Actor) {
        use IncidentStatus as I;
        let s = &w.state;
        let desk = by_username(s, "operator");
        let sup = by_username(s, "supervisor");
        let admin = by_username(s, "admin");
        let open = |x: &Incident| x.status.is_open();
        let active = |x: &Assignment| x.status.is_active();
        let con = |i: &Index| nth(&s.contacts, i, "con_0");
        let res = |i: &Index| nth(&s.resources, i, "res_0");
        let usr = |i: &Index| nth(&s.users, i, "usr_0");
        match op {
            Op::ContactReceive { empty } => (
                contact_receive(if *empty {
                    ""
                } else {
                    "Caller reports a problem"
                }),
                desk,
            ),
            Op::ContactTake(c) => (contact_take(&con(c)), desk),
            Op::ContactLink(c, i) => (contact_link(&con(c), &incident_where(s, i, open)), desk),
            Op::ContactClose(c) => (contact_close(&con(c), "handled"), desk),
            Op::IncidentOpen {
                contact,
                ty,
                lat,
                lon,
            } => {
                let types: Vec<&str> = w
                    .engine
                    .centre
                    .types
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect();
                let c = contact.as_ref().filter(|_| !s.contacts.is_empty()).map(con);
                let mut cmd = incident_open(*pick(&types, ty), c.as_ref());
                if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut cmd {
                    location.lat = Some(*lat);
                    location.lon = Some(*lon);
                }
                (cmd, desk)
            }
            Op::IncidentAnswer {
                incident,
                question,
                pick: p,
                num,
                garbage,
            } => {
                let id = incident_where(s, incident, open);
                let t = s
                    .incidents
                    .get(&id)
                    .and_then(|i| w.engine.centre.incident_type(&i.incident_type))
                    .unwrap_or(&w.engine.centre.types[0]);
                let q = pick(&t.questions, question);
                let value = if *garbage {
                    json!({"not": "an answer"})
                } else {
                    match q.kind {
                        QuestionKind::YesNo => json!(p.index(2) == 0),
                        QuestionKind::Number if p.index(2) == 0 => json!(num.round() as i64),
                        QuestionKind::Number => json!(num),
                        QuestionKind::Text => json!("as the caller says"),
                        QuestionKind::Choice => json!(pick(q.options.as_deref().unwrap_or(&[]), p)),
                    }
                };
                (incident_answer(&id, &[(q.id.as_str(), value)]), desk)
            }
            Op::IncidentAssess {
                incident,
                validity,
                method,
                priority,
                cell,
                other,
            } => {
                let id = incident_where(s, incident, open);
                let validity = *pick(
                    &[
                        Validity::Verified,
                        Validity::Verified,
                        Validity::Unverified,
                        Validity::Duplicate,
                        Validity::FalseReport,
                    ],
                    validity,
                );
                let method = *pick(
                    &[
                        TriageMethod::Protocol,
                        TriageMethod::Matrix,
                        TriageMethod::Manual,
                    ],
                    method,
                );
                let m = &w.engine.centre.matrix;
                let reason = if method == TriageMethod::Manual {
                    "operator's judgement"
                } else {
                    ""
                };
                let mut cmd = assess(
                    &id,
                    validity,
                    priority.as_ref().map(|p| *pick(&Priority::ALL, p)),
                    method,
                    reason,
                );
                if let Command::IncidentAssess(cmd::IncidentAssess {
                    impact,
                    urgency,
                    duplicate_of,
                    ..
                }) = &mut cmd
                {
                    *impact = Some(pick(&m.impacts, &cell.0).clone());
                    *urgency = Some(pick(&m.urgencies, &cell.1).clone());
                    if validity == Validity::Duplicate {
                        *duplicate_of = Some(nth(&s.incidents, other, "inc_0"));
                    }
                }
                (cmd, desk)
            }
            Op::IncidentNote(i) => (
                incident_note(&incident_where(s, i, |_| true), "more from the caller"),
                desk,
            ),
            Op::IncidentResolve(i) => (incident_resolve(&incident_where(s, i, open)), desk),
            Op::IncidentClose(i) => (
                incident_close(&incident_where(s, i, |x| x.status == I::Resolved)),
                desk,
            ),
            Op::IncidentReopen(i) => (
                incident_reopen(
                    &incident_where(s, i, |x| !x.status.is_open()),
                    "new information",
                ),
                desk,
            ),
            Op::IncidentCancel(i) => (
                incident_cancel(&incident_where(s, i, open), "no longer needed"),
                desk,
            ),
            Op::IncidentOverride(i, r) => {
                let rule = pick(rules::ALL, r).0;
                (
                    incident_override(
                        &incident_where(s, i, |_| true),
                        rule,
                        "supervisor's decision, logged",
                    ),
                    sup,
                )
            }
            Op::UserCreate { n, role, resource } => {
                let role = *pick(&Role::ALL, role);
                let r = res(resource);
                let linked = matches!(role, Role::Field) || resource.index(3) == 0;
                (
                    user_create(&format!("user{n}"), role, linked.then_some(&r)),
                    admin,
                )
            }
            Op::UserDisable(u) => (
                Command::UserDisable(cmd::UserDisable { user_id: usr(u) }),
                admin,
            ),
            Op::UserPassword(u) => (
                Command::UserPassword(cmd::UserPassword {
                    user_id: usr(u),
                    password: "new secret".into(),
                    password_hash: Some(format!("$argon2id${}", s.seq)),
                }),
                admin,
            ),
            Op::ResourceRegister { team, skills } => {
                let team = *pick(&["north", "south", "central", "east"], team);
                let options: [&[&str]; 4] = [
                    &["first_aid"],
                    &["welfare", "driving"],
                    &["security", "fire_warden", "electrical"],
                    &[],
                ];
                let mut cmd =
                    resource_register(&format!("Unit {}", s.seq), team, *pick(&options, skills));
                if let Command::ResourceRegister(cmd::ResourceRegister { resource_type, .. }) =
                    &mut cmd
                {
                    *resource_type = ResourceType::ALL[s.seq as usize % ResourceType::ALL.len()];
                }
                (cmd, admin)
            }
            Op::ResourceStatus(r, st) => {
                let id = res(r);
                let actor = carrier(s, &id).unwrap_or(desk);
                (resource_status(&id, *pick(ResourceStatus::ALL, st)), actor)
            }
            Op::ResourceLocate(r, lat, lon) => (resource_locate(&res(r), *lat, *lon), desk),
            Op::AssignmentCreate {
                incident,
                resource,
                reason,
                checklist,
            } => {
                // Smart: an assessed open incident and an available resource with the
                // skills its type requires.
                let i = incident_where(s, incident, |x| open(x) && x.priority.is_some());
                let needs = s
                    .incidents
                    .get(&i)
                    .and_then(|x| w.engine.centre.incident_type(&x.incident_type))
                    .map(|t| t.required_skills.clone())
                    .unwrap_or_default();
                let fit: Vec<ResourceId> = s
                    .resources
                    .values()
                    .filter(|x| x.status == ResourceStatus::Available)
                    .filter(|x| needs.iter().all(|n| x.has_skill(n)))
                    .map(|x| x.id.clone())
                    .collect();
                let r = resource
                    .smart
                    .then(|| choose(fit, &resource.i))
                    .flatten()
                    .unwrap_or_else(|| res(&resource.i));
                let mut cmd = assignment_create(&i, &r, reason.then_some("closest unit"));
                if let (
                    Some(list),
                    Command::AssignmentCreate(cmd::AssignmentCreate { actions, .. }),
                ) = (checklist, &mut cmd)
                {
                    *actions = Some(
                        list.iter()
                            .enumerate()
                            .map(|(n, required)| ActionSpec {
                                text: format!("Step {n}"),
                                required: *required,
                            })
                            .collect(),
                    );
                }
                (cmd, desk)
            }
            Op::Acknowledge(a) => {
                let id = assignment_where(s, a, |x| x.status == AssignmentStatus::Notified);
                (acknowledge(&id), crew_of(s, &id))
            }
            Op::Decline(a) => {
                let id = assignment_where(s, a, active);
                (decline(&id, "cannot attend"), crew_of(s, &id))
            }
            Op::Progress(a, st) => {
                let id = assignment_where(s, a, |x| {
                    active(x) && x.status != AssignmentStatus::Notified
                });
                let status = *pick(
                    &[
                        AssignmentStatus::EnRoute,
                        AssignmentStatus::OnScene,
                        AssignmentStatus::Completed,
                        AssignmentStatus::EnRoute,
                        AssignmentStatus::OnScene,
                        AssignmentStatus::Completed,
                        AssignmentStatus::Acknowledged,
                    ],
                    st,
                );
                (progress(&id, status), crew_of(s, &id))
            }
            Op::ActionDone(a, n) => {
                let id = assignment_where(s, a, |x| x.actions.iter().any(|y| y.done_at.is_none()));
                let count = s.assignments.get(&id).map_or(1, |a| a.actions.len() + 1);
                (
                    action_done(&id, &format!("act_{}", n.index(count) + 1)),
                    crew_of(s, &id),
                )
            }
            Op::AssignmentCancel(a) => (
                assignment_cancel(&assignment_where(s, a, active), "stood down"),
                desk,
            ),
            Op::Checkin(a, ok) => {
                let id = assignment_where(s, a, active);
                (checkin(&id, *ok), crew_of(s, &id))
            }
            Op::Broadcast {
                audience,
                target,
                ack,
            } => {
                let audience = match audience.index(5) {
                    0 => Audience::All,
                    1 => Audience::Team(
                        pick(&["north", "south", "central", "west"], target).to_string(),
                    ),
                    2 => Audience::Incident(nth(&s.incidents, target, "inc_0")),
                    3 => Audience::Resource(res(target)),
                    _ => Audience::User(usr(target)),
                };
                (broadcast(audience, "Attention please", *ack), sup)
            }
            Op::MessageAck { message, who } => {
                let id = nth(&s.messages, message, "msg_0");
                let actor = s
                    .messages
                    .get(&id)
                    .filter(|m| !m.recipients.is_empty())
                    .map(|m| actor_of(s, pick(&m.recipients, who)))
                    .unwrap_or(desk);
                (message_ack(&id), actor)
            }
        }
    }

    fn run(ops: &[(Op, Who, u8)], midpoint: Index) -> Result<(), TestCaseError> {
        let mut w = World::demo();
        let seeded = w.log.len();
        // A little work already on the board, so early operations have targets.
        let op = w.actor("operator");
        for ty in ["medical_emergency", "road_hazard", "welfare_concern"] {
            w.open_assessed(&op, ty);
        }
        let first = w.state.incidents.keys().next().unwrap().clone();
        w.assign(&op, &first, &w.resource("rapid-response-1"));
        w.ok(&op, contact_receive("Caller waiting"));
        for (step, (op, who, dt)) in ops.iter().enumerate() {
            let (command, natural) = build(&w, op);
            let actor = match who {
                Who::Natural => natural,
                Who::Any(i) => {
                    if i.index(12) == 0 {
                        intake_actor()
                    } else {
                        actor_of(&w.state, &nth(&w.state.users, i, "usr_0"))
                    }
                }
            };
            w.advance(*dt as i64);
            let before = w.state.clone();
            let log_len = w.log.len();
            let command_id = (step % 7 != 3).then(|| format!("p-{step}"));
            match w.submit(&actor, command_id, &command) {
                Ok(recs) => {
                    prop_assert!(!recs.is_empty());
                    prop_assert_eq!(recs[0].seq, before.seq + 1);
                    prop_assert!(recs.windows(2).all(|p| p[1].seq == p[0].seq + 1));
                }
                Err(e) => {
                    prop_assert_eq!(
                        &w.state,
                        &before,
                        "{} refused ({}) yet changed the state",
                        command.kind(),
                        e
                    );
                    prop_assert_eq!(w.log.len(), log_len);
                    prop_assert!(
                        e.code() != "bad_request" && e.code() != "unavailable",
                        "{e:?}"
                    );
                }
            }
            if let Err(problem) = check_invariants(&w.state) {
                return Err(TestCaseError::fail(format!(
                    "after step {step} {op:?} ({}): {problem}",
                    command.kind()
                )));
            }
        }
        prop_assert_eq!(w.state.seq as usize, w.log.len());
        prop_assert!(w.log.len() >= seeded);

        // (a) The stored form (hash-chained JSON) replays to the live state.
        let stored = to_stored(&w.log);
        let replayed = replay_stored(State::default(), &stored);
        prop_assert_eq!(&replayed, &w.state, "replay of the stored log differs");

        // (b) A JSON snapshot at any point, plus the rest of the log, gives it too.
        let k = midpoint.index(stored.len() + 1);
        let head = replay_stored(State::default(), &stored[..k]);
        let json = serde_json::to_string(&head).expect("state serialises");
        let restored: State = serde_json::from_str(&json).expect("state deserialises");
        prop_assert_eq!(&restored, &head, "snapshot at {} does not round-trip", k);
        let resumed = replay_stored(restored, &stored[k..]);
        prop_assert_eq!(&resumed, &w.state, "snapshot at {} + replay differs", k);

        // (c) The chain verifies and ends at the last hash.
        let last = stored.last().unwrap();
        prop_assert_eq!(
            chain::check(0, chain::GENESIS.to_string(), &stored),
            Ok((last.seq, last.hash.clone()))
        );
        // ... and an edited body breaks it at that event.
        let mut tampered = stored.clone();
        let at = midpoint.index(tampered.len());
        tampered[at].body.push(' ');
        prop_assert_eq!(
            chain::check(0, chain::GENESIS.to_string(), &tampered),
            Err(tampered[at].seq)
        );
        Ok(())
    }

    /// What must hold after every command, whatever happened before.
    fn check_invariants(s: &State) -> Result<(), String> {
        let mut active: std::collections::BTreeMap<ResourceId, BTreeSet<AssignmentId>> =
            Default::default();
        for a in s.assignments.values() {
            let i = s
                .incidents
                .get(&a.incident_id)
                .ok_or(format!("{} on unknown incident", a.id))?;
            if !i.assignment_ids.contains(&a.id) {
                return Err(format!("{} missing from {}", a.id, i.id));
            }
            if !s.resources.contains_key(&a.resource_id) {
                return Err(format!("{} on unknown resource", a.id));
            }
            if a.status.is_active() {
                active
                    .entry(a.resource_id.clone())
                    .or_default()
                    .insert(a.id.clone());
                if i.status == IncidentStatus::Cancelled {
                    return Err(format!("{} active on cancelled {}", a.id, i.id));
                }
            }
        }
        if active != s.active_by_resource {
            return Err(format!(
                "active_by_resource {:?} != {:?}",
                s.active_by_resource, active
            ));
        }
        for (r, set) in &active {
            if set.len() > 1 {
                return Err(format!("{r} holds {set:?}"));
            }
            if s.resources[r].status == ResourceStatus::Available {
                return Err(format!("{r} is available while on {set:?}"));
            }
        }
        for i in s.incidents.values() {
            if i.status == IncidentStatus::Dispatched
                && !i
                    .assignment_ids
                    .iter()
                    .any(|a| s.assignments[a].status.is_active())
            {
                return Err(format!("{} dispatched with nobody on it", i.id));
            }
        }
        for m in s.messages.values() {
            if let Some(u) = m.acks.keys().find(|u| !m.recipients.contains(u)) {
                return Err(format!("{} acknowledged by non-recipient {u}", m.id));
            }
        }
        for c in s.contacts.values() {
            if let Some(i) = &c.incident_id
                && !s
                    .incidents
                    .get(i)
                    .is_some_and(|i| i.contact_ids.contains(&c.id))
            {
                return Err(format!("{} linked to {i} but not listed there", c.id));
            }
        }
        for (name, id) in &s.usernames {
            if s.users.get(id).map(|u| u.username.to_lowercase()) != Some(name.clone()) {
                return Err(format!("username {name} does not match {id}"));
            }
        }
        Ok(())
    }

    proptest! {
        // 64 cases by default; PROPTEST_CASES=5000 for a deeper search.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
            ..ProptestConfig::default()
        })]

        #[test]
        fn live_state_equals_replay_of_the_stored_log(
            ops in prop::collection::vec((op(), who(), 0u8..90), 10..60),
            midpoint in any::<Index>(),
        ) {
            run(&ops, midpoint)?;
        }
    }
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

#[test]
fn relinking_a_contact_moves_it_between_incidents() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let con = ContactId(created(
        &w.ok(&op, contact_receive("smoke seen")),
        "contact_id",
    ));
    let first = w.open(&op, "fire_alarm");
    let second = w.open(&op, "fire_alarm");
    w.ok(&op, contact_link(&con, &first));
    w.ok(&op, contact_link(&con, &second));
    assert!(w.state.incidents[&first].contact_ids.is_empty());
    assert_eq!(w.state.incidents[&second].contact_ids, vec![con.clone()]);
    assert_eq!(w.state.contacts[&con].incident_id.as_ref(), Some(&second));
}

#[test]
fn a_resource_carries_one_field_user() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let amara = w.resource_of("field1");
    let e = w.err(&admin, user_create("field1b", Role::Field, Some(&amara)));
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains("already carried by"), "{e}");
}
