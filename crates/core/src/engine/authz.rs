//! Authorisation, in the engine (not only in the UI): first the role × command table,
//! then the scope check that keeps field users to their own resource's work.

use super::command::Command;
use super::error::Error;
use super::state::State;
use crate::domain::ids::{ResourceId, UserId};
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

/// May `role` issue this kind of command at all? Exhaustive over commands, so a new
/// command cannot be added without deciding who may send it.
pub fn permits(role: Role, command: &Command) -> bool {
    use Command::*;
    let desk = role.can_dispatch();
    match command {
        ContactReceive { .. } => role.can_receive_contacts(),
        ContactTake { .. } | ContactLink { .. } | ContactClose { .. } => desk,
        IncidentOpen { .. }
        | IncidentAnswer { .. }
        | IncidentAssess { .. }
        | IncidentResolve { .. }
        | IncidentClose { .. }
        | IncidentReopen { .. }
        | IncidentCancel { .. } => desk,
        // Field staff add what they see on scene to their own incidents.
        IncidentNote { .. } => desk || role.is_field(),
        IncidentOverride { .. } => role.can_override(),
        UserCreate { .. } | UserDisable { .. } | UserPassword { .. } | ResourceRegister { .. } => {
            role.can_administer()
        }
        ResourceStatus { .. } | ResourceLocate { .. } => {
            desk || role.is_field() || role.can_administer()
        }
        AssignmentCreate { .. } | AssignmentCancel { .. } => desk,
        // The desk acts for units that report by radio.
        AssignmentAcknowledge { .. }
        | AssignmentDecline { .. }
        | AssignmentProgress { .. }
        | AssignmentActionDone { .. }
        | Checkin { .. } => desk || role.is_field(),
        MessageBroadcast { .. } => desk,
        MessageAcknowledge { .. } => role != Role::Intake,
        // Queries and complaints are handled at the desk.
        CaseOpen { .. } | CaseAssign { .. } | CaseRespond { .. } | CaseClose { .. } => desk,
        // Raised from a review, which is a supervisor's; the owner (any desk user)
        // reports progress, checked in the handler.
        ImprovementRaise { .. } => role.can_review(),
        ImprovementUpdate { .. } => desk,
        // Between desk colleagues; the handler checks who is a party to the plan.
        SupportPropose { .. } | SupportAgree { .. } | SupportNote { .. } | SupportReview { .. } => {
            desk
        }
        // Only the hub itself (see `authorize`): no role may send them.
        TimerEscalate { .. }
        | TimerCheckinMissed { .. }
        | TimerTargetBreached { .. }
        | TimerCaseBreached { .. }
        | TimerPlanReviewMissed { .. }
        | NotificationRecord { .. } => false,
    }
}

/// The role check, then the scope check for field users.
pub fn authorize(state: &State, command: &Command, actor: &Actor) -> Result<(), Error> {
    if command.is_internal() && actor.is_system() {
        return Ok(());
    }
    if !permits(actor.role, command) {
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
    use Command::*;
    let own = actor.resource_id.as_ref();
    let refuse = || {
        Error::Forbidden(format!(
            "{} concerns another resource's work",
            command.kind()
        ))
    };
    let owns_resource = |r: &ResourceId| own == Some(r);
    match command {
        AssignmentAcknowledge { assignment_id }
        | AssignmentDecline { assignment_id, .. }
        | AssignmentProgress { assignment_id, .. }
        | AssignmentActionDone { assignment_id, .. }
        | Checkin { assignment_id, .. } => {
            let a = state
                .assignments
                .get(assignment_id)
                .ok_or_else(|| Error::not_found("assignment", assignment_id))?;
            if !owns_resource(&a.resource_id) {
                return Err(refuse());
            }
        }
        ResourceStatus { resource_id, .. } | ResourceLocate { resource_id, .. }
            if !owns_resource(resource_id) =>
        {
            return Err(refuse());
        }
        IncidentNote { incident_id, .. } => {
            let i = state
                .incidents
                .get(incident_id)
                .ok_or_else(|| Error::not_found("incident", incident_id))?;
            let mine = i
                .assignment_ids
                .iter()
                .filter_map(|a| state.assignments.get(a))
                .any(|a| owns_resource(&a.resource_id));
            if !mine {
                return Err(refuse());
            }
        }
        _ => {}
    }
    Ok(())
}
