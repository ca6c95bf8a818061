//! Who may do what: every command against the role-by-command matrix, refusals
//! before anything else is looked at, and field users acting only on their own work.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use std::collections::BTreeSet;

use serde_json::json;

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::case::{CaseOutcome, CaseType};
use muster_core::domain::ids::{
    AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId, ResourceId,
    ShiftId, UserId,
};
use muster_core::domain::incident::rules;
use muster_core::domain::message::Audience;
use muster_core::domain::resource::ResourceStatus;
use muster_core::domain::triage::Priority;
use muster_core::domain::user::Role;
use muster_core::engine::Command;
use muster_core::engine::authz::{self};
use muster_core::engine::command as cmd;

use muster_core::testing::*;

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
        incident_merge(&IncidentId("inc_2".into()), &inc, "same fire"),
        incident_override(&inc, rules::CLOSE_REQUIRES_ACTIONS, "checked by phone"),
        Command::IncidentShare(cmd::IncidentShare {
            incident_id: inc.clone(),
            partner: "county-fire".into(),
        }),
        Command::IncidentUnshare(cmd::IncidentUnshare {
            incident_id: inc.clone(),
            partner: "county-fire".into(),
        }),
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
        action_undone(&asg, "act_1", "ticked by mistake"),
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
        support_attach_evidence(&plan, &UserId("usr_2".into()), 85),
        improvement_raise(&UserId("usr_1".into()), &["resource_selection"], None),
        improvement_update(
            &ImprovementId("imp_1".into()),
            muster_core::domain::improvement::ImprovementStatus::InProgress,
            None,
        ),
        Command::AlertAcknowledge(cmd::AlertAcknowledge {
            alert_id: muster_core::domain::ids::AlertId("alr_1".into()),
            note: None,
        }),
        push_subscribe("https://push.example/send/abc"),
        push_unsubscribe("https://push.example/send/abc"),
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
            case_id: muster_core::domain::ids::CaseId("case_1".into()),
            target: "respond".into(),
        }),
        Command::TimerPlanReviewMissed(cmd::TimerPlanReviewMissed {
            plan_id: muster_core::domain::ids::PlanId("plan_1".into()),
        }),
        Command::NotificationRecord(cmd::NotificationRecord {
            assignment_id: Some(asg.clone()),
            case_id: None,
            message_id: None,
            channel: "sms".into(),
            level: 2,
            attempts: None,
            error: None,
            status: Some("HTTP 200".into()),
        }),
        Command::PrivacyErase(cmd::PrivacyErase {
            subject_id: "caller:con_1".into(),
            reason: "erasure request".into(),
            r#override: false,
            justification: None,
        }),
        Command::PrivacySweep(cmd::PrivacySweep { now: start_time() }),
        Command::PrivacyAccess(cmd::PrivacyAccess {
            subject_id: "caller:con_1".into(),
            purpose: "subject access request".into(),
        }),
        Command::PrivacySearch(cmd::PrivacySearch {
            q: "Jo Caller".into(),
        }),
        roster_add(
            &res,
            start_time(),
            start_time() + chrono::Duration::hours(8),
        ),
        roster_remove(&ShiftId("shf_1".into())),
        Command::TimerShiftStart(cmd::TimerShiftStart {
            shift_id: ShiftId("shf_1".into()),
        }),
        Command::TimerShiftEnd(cmd::TimerShiftEnd {
            shift_id: ShiftId("shf_1".into()),
        }),
        Command::UserEnable(cmd::UserEnable {
            user_id: UserId("usr_1".into()),
        }),
        Command::UserUpdate(cmd::UserUpdate {
            user_id: UserId("usr_1".into()),
            name: Some("Sam Okafor".into()),
            role: None,
            resource_id: None,
        }),
        Command::ResourceUpdate(cmd::ResourceUpdate {
            resource_id: res.clone(),
            name: None,
            resource_type: None,
            team: Some("north".into()),
            skills: None,
            home: None,
        }),
        Command::ResourceRetire(cmd::ResourceRetire {
            resource_id: res.clone(),
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
        IncidentMerge(_) => "incident.merge",
        IncidentOverride(_) => "incident.override",
        IncidentShare(_) => "incident.share",
        IncidentUnshare(_) => "incident.unshare",
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
        AssignmentActionUndone(_) => "assignment.action_undone",
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
        SupportAttachEvidence(_) => "support.attach_evidence",
        ImprovementRaise(_) => "improvement.raise",
        ImprovementUpdate(_) => "improvement.update",
        AlertAcknowledge(_) => "alert.acknowledge",
        PushSubscribe(_) => "push.subscribe",
        PushUnsubscribe(_) => "push.unsubscribe",
        TimerEscalate(_) => "timer.escalate",
        TimerCheckinMissed(_) => "timer.checkin_missed",
        TimerTargetBreached(_) => "timer.target_breached",
        TimerCaseBreached(_) => "timer.case_breached",
        TimerPlanReviewMissed(_) => "timer.plan_review_missed",
        NotificationRecord(_) => "notification.record",
        PrivacyErase(_) => "privacy.erase",
        PrivacySweep(_) => "privacy.sweep",
        PrivacyAccess(_) => "privacy.access",
        PrivacySearch(_) => "privacy.search",
        RosterAdd(_) => "roster.add",
        RosterRemove(_) => "roster.remove",
        TimerShiftStart(_) => "timer.shift_start",
        TimerShiftEnd(_) => "timer.shift_end",
        UserEnable(_) => "user.enable",
        UserUpdate(_) => "user.update",
        ResourceUpdate(_) => "resource.update",
        ResourceRetire(_) => "resource.retire",
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
    "incident.merge",
    "incident.share",
    "incident.unshare",
    "resource.status",
    "resource.locate",
    "assignment.create",
    "assignment.acknowledge",
    "assignment.decline",
    "assignment.progress",
    "assignment.action_done",
    "assignment.action_undone",
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
    "push.subscribe",
    "push.unsubscribe",
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
    "push.subscribe",
    "push.unsubscribe",
    // Data subjects' rights (docs/PRIVACY.md).
    "privacy.erase",
    "privacy.access",
    "privacy.search",
    // Evidence from an exercise's debrief on a trainee's support plan.
    "support.attach_evidence",
    // Rosters are entered by the admin office.
    "roster.add",
    "roster.remove",
    // The /admin app (issue 20).
    "user.enable",
    "user.update",
    "resource.update",
    "resource.retire",
];

const FIELD: &[&str] = &[
    "incident.note",
    "resource.status",
    "resource.locate",
    "assignment.acknowledge",
    "assignment.decline",
    "assignment.progress",
    "assignment.action_done",
    "assignment.action_undone",
    "checkin",
    "message.acknowledge",
    "push.subscribe",
    "push.unsubscribe",
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
        // Alerts are the supervisor's oversight (an operator could hide their own breach).
        kinds.insert("alert.acknowledge");
        kinds.insert("support.attach_evidence");
        // The supervisor adjusts the floor's roster.
        kinds.insert("roster.add");
        kinds.insert("roster.remove");
    }
    kinds
}

#[test]
fn samples_cover_every_command_kind() {
    let samples = samples();
    let kinds: BTreeSet<&str> = samples.iter().map(wire_kind).collect();
    assert_eq!(samples.len(), 64);
    assert_eq!(kinds.len(), 64, "one sample per kind, no repeats");
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
    assert_eq!(expected_kinds(Role::Operator).len(), 38);
    assert_eq!(expected_kinds(Role::Supervisor).len(), 44);
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
        action_undone(&asg, "act_1", "not mine"),
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
