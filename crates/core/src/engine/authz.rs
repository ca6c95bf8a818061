//! Authorisation, in the engine (not only in the UI): first the role × command table,
//! then the scope check that keeps field users to their own resource's work.

use super::command::{Command, CommandKind};
use super::error::Error;
use super::state::State;
use crate::domain::ids::{AssignmentId, ResourceId, UserId};
use crate::domain::user::Role;

/// Who is acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
    /// The resource a field user carries.
    pub resource_id: Option<ResourceId>,
}

impl Actor {
    /// A user acting as themselves (with the resource they carry, if any).
    pub fn of(user: &crate::domain::user::User) -> Actor {
        Actor {
            user_id: user.id.clone(),
            role: user.role,
            resource_id: user.resource_id.clone(),
        }
    }

    /// The hub itself: timers and start-up seeding.
    pub fn system() -> Actor {
        Actor {
            user_id: UserId(super::event::SYSTEM_ACTOR.into()),
            role: Role::Admin,
            resource_id: None,
        }
    }

    /// Is this the hub itself? Real users' ids never equal the system actor's.
    pub fn is_system(&self) -> bool {
        self.user_id.0 == super::event::SYSTEM_ACTOR
    }
}

/// May `role` issue this kind of command at all? Exhaustive over kinds, so a new
/// command cannot be added without deciding who may send it.
pub fn permits(role: Role, kind: CommandKind) -> bool {
    use CommandKind::*;
    let desk = role.can_dispatch();
    match kind {
        ContactReceive => role.can_receive_contacts(),
        ContactTake | ContactLink | ContactClose => desk,
        IncidentOpen | IncidentAnswer | IncidentAssess | IncidentResolve | IncidentClose
        | IncidentReopen | IncidentCancel | IncidentMerge => desk,
        // Field staff add what they see on scene to their own incidents.
        IncidentNote => desk || role.is_field(),
        IncidentOverride => role.can_override(),
        // Sharing with a partner centre is a dispatch decision.
        IncidentShare | IncidentUnshare => desk,
        UserCreate | UserDisable | UserPassword | ResourceRegister => role.can_administer(),
        ResourceStatus | ResourceLocate => desk || role.is_field() || role.can_administer(),
        AssignmentCreate | AssignmentCancel => desk,
        // The desk acts for units that report by radio.
        AssignmentAcknowledge
        | AssignmentDecline
        | AssignmentProgress
        | AssignmentActionDone
        | AssignmentActionUndone
        | Checkin => desk || role.is_field(),
        MessageBroadcast => desk,
        MessageAcknowledge => role != Role::Intake,
        // Queries and complaints are handled at the desk.
        CaseOpen | CaseAssign | CaseRespond | CaseClose => desk,
        // Raised from a review, which is a supervisor's; the owner (any desk user)
        // reports progress, checked in the handler.
        ImprovementRaise => role.can_review(),
        ImprovementUpdate => desk,
        // Between desk colleagues; the handler checks who is a party to the plan.
        SupportPropose | SupportAgree | SupportNote | SupportReview => desk,
        // Evidence from an exercise is the supervisor's (or an admin's) to attach.
        SupportAttachEvidence => role.can_review() || role.can_administer(),
        // Alerts are the supervisor's oversight of the floor: an operator clearing the
        // breach of their own incident would hide it from the one meant to see it.
        AlertAcknowledge => role == Role::Supervisor,
        // Anyone signed in may be reached by push on their own browser (the handler
        // keeps each to their own subscriptions).
        PushSubscribe | PushUnsubscribe => role != Role::Intake,
        // Only the hub itself (see `authorize`): no role may send them.
        TimerEscalate
        | TimerCheckinMissed
        | TimerTargetBreached
        | TimerCaseBreached
        | TimerPlanReviewMissed
        | NotificationRecord
        | PrivacySweep => false,
        // Subject rights are the data protection officer's, an admin's.
        PrivacyErase | PrivacyAccess | PrivacySearch => role.can_administer(),
        // Rosters: the admin office enters them; the supervisor adjusts the floor's.
        RosterAdd | RosterRemove => role.can_administer() || role == Role::Supervisor,
        // The hub's own, at shift boundaries.
        TimerShiftStart | TimerShiftEnd => false,
        UserEnable | UserUpdate | ResourceUpdate | ResourceRetire => role.can_administer(),
    }
}

/// The role check, then the scope check for field users.
pub fn authorize(state: &State, command: &Command, actor: &Actor) -> Result<(), Error> {
    if command.is_internal() && actor.is_system() {
        return Ok(());
    }
    if !permits(actor.role, command.kind()) {
        return Err(Error::Forbidden(format!(
            "a {} may not {}",
            actor.role.as_str(),
            command.kind()
        )));
    }
    if actor.role.is_field() {
        check_field_scope(state, command, actor)?;
    }
    Ok(())
}

fn check_field_scope(state: &State, command: &Command, actor: &Actor) -> Result<(), Error> {
    let owns_resource = |r: &ResourceId| actor.resource_id.as_ref() == Some(r);
    let owns_assignment = |id: &AssignmentId| {
        let a = state
            .assignments
            .get(id)
            .ok_or_else(|| Error::not_found("assignment", id))?;
        Ok::<_, Error>(owns_resource(&a.resource_id))
    };
    let mine = match command {
        Command::AssignmentAcknowledge(c) => owns_assignment(&c.assignment_id)?,
        Command::AssignmentDecline(c) => owns_assignment(&c.assignment_id)?,
        Command::AssignmentProgress(c) => owns_assignment(&c.assignment_id)?,
        Command::AssignmentActionDone(c) => owns_assignment(&c.assignment_id)?,
        Command::AssignmentActionUndone(c) => owns_assignment(&c.assignment_id)?,
        Command::Checkin(c) => owns_assignment(&c.assignment_id)?,
        Command::ResourceStatus(c) => owns_resource(&c.resource_id),
        Command::ResourceLocate(c) => owns_resource(&c.resource_id),
        Command::IncidentNote(c) => {
            let i = state
                .incidents
                .get(&c.incident_id)
                .ok_or_else(|| Error::not_found("incident", &c.incident_id))?;
            i.assignment_ids
                .iter()
                .filter_map(|a| state.assignments.get(a))
                .any(|a| owns_resource(&a.resource_id))
        }
        _ => true,
    };
    if mine {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{} concerns another resource's work",
            command.kind()
        )))
    }
}
