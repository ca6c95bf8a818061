//! Command handlers, one file per area. A handler reads the state as it was before the
//! command and pushes every consequence as an explicit event (a resource freed, an
//! incident moved on), so `apply` stays a plain record of what happened.

mod assignment;
mod case;
mod contact;
mod improvement;
mod incident;
mod message;
mod resource;
mod support;
mod timer;

use chrono::{DateTime, Utc};

use super::authz::Actor;
use super::command::Command;
use super::error::Error;
use super::event::Event;
use super::state::State;
use crate::domain::assignment::Assignment;
use crate::domain::contact::Contact;
use crate::domain::ids::{AssignmentId, ContactId, IncidentId, ResourceId};
use crate::domain::incident::Incident;
use crate::domain::procedure::Centre;
use crate::domain::resource::Resource;
use crate::domain::{MAX_SHORT_TEXT, MAX_TEXT, check_text};

/// One command being decided.
pub(super) struct Cx<'a> {
    pub centre: &'a Centre,
    pub state: &'a State,
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    pub events: Vec<Event>,
}

impl Cx<'_> {
    pub fn dispatch(&mut self, command: &Command) -> Result<(), Error> {
        use Command::*;
        match command {
            ContactReceive { .. }
            | ContactTake { .. }
            | ContactLink { .. }
            | ContactClose { .. } => self.on_contact(command),
            IncidentOpen { .. }
            | IncidentAnswer { .. }
            | IncidentAssess { .. }
            | IncidentNote { .. }
            | IncidentResolve { .. }
            | IncidentClose { .. }
            | IncidentReopen { .. }
            | IncidentCancel { .. }
            | IncidentOverride { .. } => self.on_incident(command),
            UserCreate { .. }
            | UserDisable { .. }
            | UserPassword { .. }
            | ResourceRegister { .. }
            | ResourceStatus { .. }
            | ResourceLocate { .. } => self.on_resource(command),
            AssignmentCreate { .. }
            | AssignmentAcknowledge { .. }
            | AssignmentDecline { .. }
            | AssignmentProgress { .. }
            | AssignmentActionDone { .. }
            | AssignmentCancel { .. }
            | Checkin { .. } => self.on_assignment(command),
            MessageBroadcast { .. } | MessageAcknowledge { .. } => self.on_message(command),
            CaseOpen { .. } | CaseAssign { .. } | CaseRespond { .. } | CaseClose { .. } => {
                self.on_case(command)
            }
            SupportPropose { .. }
            | SupportAgree { .. }
            | SupportNote { .. }
            | SupportReview { .. } => self.on_support(command),
            ImprovementRaise { .. } | ImprovementUpdate { .. } => self.on_improvement(command),
            TimerEscalate { .. }
            | TimerCheckinMissed { .. }
            | TimerTargetBreached { .. }
            | TimerCaseBreached { .. }
            | TimerPlanReviewMissed { .. }
            | NotificationRecord { .. } => self.on_timer(command),
        }
    }

    /// The seq the next emitted event will get (ids are numbered by it).
    pub fn next_seq(&self) -> u64 {
        self.state.seq + 1 + self.events.len() as u64
    }

    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn contact(&self, id: &ContactId) -> Result<&Contact, Error> {
        self.state
            .contacts
            .get(id)
            .ok_or_else(|| Error::not_found("contact", id))
    }

    pub fn incident(&self, id: &IncidentId) -> Result<&Incident, Error> {
        self.state
            .incidents
            .get(id)
            .ok_or_else(|| Error::not_found("incident", id))
    }

    pub fn resource(&self, id: &ResourceId) -> Result<&Resource, Error> {
        self.state
            .resources
            .get(id)
            .ok_or_else(|| Error::not_found("resource", id))
    }

    pub fn assignment(&self, id: &AssignmentId) -> Result<&Assignment, Error> {
        self.state
            .assignments
            .get(id)
            .ok_or_else(|| Error::not_found("assignment", id))
    }
}

/// A required short text (names, outcomes, reasons).
pub(super) fn short(field: &str, text: &str) -> Result<(), Error> {
    Ok(check_text(field, text, MAX_SHORT_TEXT, true)?)
}

/// A required long text (descriptions, notes, messages).
pub(super) fn long(field: &str, text: &str) -> Result<(), Error> {
    Ok(check_text(field, text, MAX_TEXT, true)?)
}

/// An optional text that must still be within bounds.
pub(super) fn optional(field: &str, text: Option<&String>) -> Result<(), Error> {
    match text {
        Some(t) => Ok(check_text(field, t, MAX_TEXT, false)?),
        None => Ok(()),
    }
}
