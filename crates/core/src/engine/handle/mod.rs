//! Command handlers, one file per area. A handler reads the state as it was before the
//! command and pushes every consequence as an explicit event (a resource freed, an
//! incident moved on), so `apply` stays a plain record of what happened.

mod alert;
mod assignment;
mod case;
mod contact;
mod improvement;
mod incident;
mod message;
mod privacy;
mod push;
mod resource;
mod roster;
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
    /// Web Push subscriptions a user may hold; a new one replaces the oldest.
    pub max_push_subscriptions: usize,
}

impl Cx<'_> {
    /// The one dispatch: each command's struct goes to its handler in `<area>.rs`.
    pub fn dispatch(&mut self, command: &Command) -> Result<(), Error> {
        match command {
            Command::ContactReceive(c) => self.contact_receive(c),
            Command::ContactTake(c) => self.contact_take(c),
            Command::ContactLink(c) => self.contact_link(c),
            Command::ContactClose(c) => self.contact_close(c),
            Command::IncidentOpen(c) => self.incident_open(c),
            Command::IncidentAnswer(c) => self.incident_answer(c),
            Command::IncidentAssess(c) => self.incident_assess(c),
            Command::IncidentNote(c) => self.incident_note(c),
            Command::IncidentResolve(c) => self.incident_resolve(c),
            Command::IncidentClose(c) => self.incident_close(c),
            Command::IncidentReopen(c) => self.incident_reopen(c),
            Command::IncidentCancel(c) => self.incident_cancel(c),
            Command::IncidentMerge(c) => self.incident_merge(c),
            Command::IncidentOverride(c) => self.incident_override(c),
            Command::IncidentShare(c) => self.incident_share(c),
            Command::IncidentUnshare(c) => self.incident_unshare(c),
            Command::UserCreate(c) => self.user_create(c),
            Command::UserDisable(c) => self.user_disable(c),
            Command::UserPassword(c) => self.user_password(c),
            Command::ResourceRegister(c) => self.resource_register(c),
            Command::ResourceStatus(c) => self.resource_status(c),
            Command::ResourceLocate(c) => self.resource_locate(c),
            Command::AssignmentCreate(c) => self.assignment_create(c),
            Command::AssignmentAcknowledge(c) => self.assignment_acknowledge(c),
            Command::AssignmentDecline(c) => self.assignment_decline(c),
            Command::AssignmentProgress(c) => self.assignment_progress(c),
            Command::AssignmentActionDone(c) => self.assignment_action_done(c),
            Command::AssignmentActionUndone(c) => self.assignment_action_undone(c),
            Command::AssignmentCancel(c) => self.assignment_cancel(c),
            Command::Checkin(c) => self.checkin(c),
            Command::MessageBroadcast(c) => self.message_broadcast(c),
            Command::MessageAcknowledge(c) => self.message_acknowledge(c),
            Command::CaseOpen(c) => self.case_open(c),
            Command::CaseAssign(c) => self.case_assign(c),
            Command::CaseRespond(c) => self.case_respond(c),
            Command::CaseClose(c) => self.case_close(c),
            Command::SupportPropose(c) => self.support_propose(c),
            Command::SupportAgree(c) => self.support_agree(c),
            Command::SupportNote(c) => self.support_note(c),
            Command::SupportAttachEvidence(c) => self.support_attach_evidence(c),
            Command::SupportReview(c) => self.support_review(c),
            Command::ImprovementRaise(c) => self.improvement_raise(c),
            Command::ImprovementUpdate(c) => self.improvement_update(c),
            Command::AlertAcknowledge(c) => self.alert_acknowledge(c),
            Command::PushSubscribe(c) => self.push_subscribe(c),
            Command::PushUnsubscribe(c) => self.push_unsubscribe(c),
            Command::TimerEscalate(c) => self.timer_escalate(c),
            Command::TimerCheckinMissed(c) => self.timer_checkin_missed(c),
            Command::TimerTargetBreached(c) => self.timer_target_breached(c),
            Command::TimerCaseBreached(c) => self.timer_case_breached(c),
            Command::TimerPlanReviewMissed(c) => self.timer_plan_review_missed(c),
            Command::NotificationRecord(c) => self.notification_record(c),
            Command::PrivacyErase(c) => self.privacy_erase(c),
            Command::PrivacySweep(c) => self.privacy_sweep(c),
            Command::PrivacyAccess(c) => self.privacy_access(c),
            Command::PrivacySearch(c) => self.privacy_search(c),
            Command::RosterAdd(c) => self.roster_add(c),
            Command::RosterRemove(c) => self.roster_remove(c),
            Command::TimerShiftStart(c) => self.timer_shift_start(c),
            Command::TimerShiftEnd(c) => self.timer_shift_end(c),
            Command::UserEnable(c) => self.user_enable(c),
            Command::UserUpdate(c) => self.user_update(c),
            Command::ResourceUpdate(c) => self.resource_update(c),
            Command::ResourceRetire(c) => self.resource_retire(c),
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
