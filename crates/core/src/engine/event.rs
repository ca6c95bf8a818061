//! Events: what happened, past tense `noun.verbed`. An event that creates something
//! carries the whole object under its noun; the others carry the ids they concern and
//! the fields that changed. Who and when live in the [`Record`] envelope.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::assignment::{Assignment, AssignmentStatus};
use crate::domain::case::{Case, CaseOutcome};
use crate::domain::contact::Contact;
use crate::domain::duplicate::Candidate;
use crate::domain::ids::{
    AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId, ResourceId,
    UserId,
};
use crate::domain::improvement::{Improvement, ImprovementStatus};
use crate::domain::incident::{Assessment, Incident, IncidentStatus, Note};
use crate::domain::message::Message;
use crate::domain::procedure::EscalationAction;
use crate::domain::resource::{Resource, ResourceStatus};
use crate::domain::support::Plan;
use crate::domain::triage::Priority;
use crate::domain::user::User;

/// Every event the engine emits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    #[serde(rename = "contact.received")]
    ContactReceived { contact: Contact },
    #[serde(rename = "contact.taken")]
    ContactTaken { contact_id: ContactId },
    #[serde(rename = "contact.linked")]
    ContactLinked {
        contact_id: ContactId,
        incident_id: IncidentId,
    },
    #[serde(rename = "contact.closed")]
    ContactClosed {
        contact_id: ContactId,
        outcome: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    #[serde(rename = "incident.opened")]
    IncidentOpened {
        incident: Incident,
        /// Open incidents of the same type close in space and time: possible
        /// duplicates for the operator to link or dismiss.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        duplicates: Vec<Candidate>,
    },
    #[serde(rename = "incident.answered")]
    IncidentAnswered {
        incident_id: IncidentId,
        answers: BTreeMap<String, serde_json::Value>,
        /// The priority the call script's rules give so far, and the rule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suggested_priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
    #[serde(rename = "incident.assessed")]
    IncidentAssessed {
        incident_id: IncidentId,
        assessment: Assessment,
    },
    #[serde(rename = "incident.noted")]
    IncidentNoted { incident_id: IncidentId, note: Note },
    /// A status change that follows from another step (dispatch, first resource en
    /// route, assessment, every resource stood down).
    #[serde(rename = "incident.status_changed")]
    IncidentStatusChanged {
        incident_id: IncidentId,
        from: IncidentStatus,
        status: IncidentStatus,
    },
    #[serde(rename = "incident.resolved")]
    IncidentResolved {
        incident_id: IncidentId,
        outcome: String,
        summary: String,
    },
    #[serde(rename = "incident.closed")]
    IncidentClosed { incident_id: IncidentId },
    #[serde(rename = "incident.reopened")]
    IncidentReopened {
        incident_id: IncidentId,
        reason: String,
    },
    #[serde(rename = "incident.cancelled")]
    IncidentCancelled {
        incident_id: IncidentId,
        reason: String,
    },
    #[serde(rename = "incident.overridden")]
    IncidentOverridden {
        incident_id: IncidentId,
        rule: String,
        justification: String,
    },

    #[serde(rename = "user.created")]
    UserCreated { user: User },
    #[serde(rename = "user.disabled")]
    UserDisabled { user_id: UserId },
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged {
        user_id: UserId,
        password_hash: String,
    },

    #[serde(rename = "resource.registered")]
    ResourceRegistered { resource: Resource },
    #[serde(rename = "resource.status_changed")]
    ResourceStatusChanged {
        resource_id: ResourceId,
        from: ResourceStatus,
        status: ResourceStatus,
    },
    #[serde(rename = "resource.located")]
    ResourceLocated {
        resource_id: ResourceId,
        lat: f64,
        lon: f64,
    },

    #[serde(rename = "assignment.created")]
    AssignmentCreated { assignment: Assignment },
    #[serde(rename = "assignment.acknowledged")]
    AssignmentAcknowledged { assignment_id: AssignmentId },
    #[serde(rename = "assignment.declined")]
    AssignmentDeclined {
        assignment_id: AssignmentId,
        reason: String,
    },
    #[serde(rename = "assignment.progressed")]
    AssignmentProgressed {
        assignment_id: AssignmentId,
        status: AssignmentStatus,
    },
    #[serde(rename = "assignment.action_done")]
    AssignmentActionDone {
        assignment_id: AssignmentId,
        action_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    #[serde(rename = "assignment.cancelled")]
    AssignmentCancelled {
        assignment_id: AssignmentId,
        reason: String,
    },
    #[serde(rename = "checkin.recorded")]
    CheckinRecorded {
        assignment_id: AssignmentId,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    #[serde(rename = "message.broadcast")]
    MessageBroadcast { message: Message },
    #[serde(rename = "message.acknowledged")]
    MessageAcknowledged {
        message_id: MessageId,
        user_id: UserId,
    },

    #[serde(rename = "case.opened")]
    CaseOpened { case: Case },
    #[serde(rename = "case.assigned")]
    CaseAssigned { case_id: CaseId, user_id: UserId },
    #[serde(rename = "case.responded")]
    CaseResponded { case_id: CaseId, response: String },
    #[serde(rename = "case.closed")]
    CaseClosed {
        case_id: CaseId,
        outcome: CaseOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_cause: Option<String>,
    },

    #[serde(rename = "support.proposed")]
    SupportProposed { plan: Plan },
    /// The colleague agreed: who and when are in the envelope.
    #[serde(rename = "support.agreed")]
    SupportAgreed { plan_id: PlanId },
    #[serde(rename = "support.noted")]
    SupportNoted { plan_id: PlanId, text: String },
    #[serde(rename = "support.reviewed")]
    SupportReviewed { plan_id: PlanId, outcome: String },

    #[serde(rename = "improvement.raised")]
    ImprovementRaised { improvement: Improvement },
    #[serde(rename = "improvement.updated")]
    ImprovementUpdated {
        improvement_id: ImprovementId,
        status: ImprovementStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    /// A rung of the escalation ladder fired for an unacknowledged assignment.
    #[serde(rename = "assignment.escalated")]
    AssignmentEscalated {
        assignment_id: AssignmentId,
        level: u32,
        action: EscalationAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// For `suggest_next_resource`: the best other resource now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suggested_resource_id: Option<ResourceId>,
    },
    /// A deployed resource did not check in by `due_at`.
    #[serde(rename = "checkin.missed")]
    CheckinMissed {
        assignment_id: AssignmentId,
        #[serde(with = "crate::time::serde_millis")]
        due_at: DateTime<Utc>,
    },
    /// A deadline ran out before its step was done: an incident's response target
    /// (`incident_id`, `priority`), a case's (`case_id`: `acknowledge`, `respond`) or a
    /// support plan's review (`plan_id`: `review`). Exactly one id is present.
    #[serde(rename = "target.breached")]
    TargetBreached {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident_id: Option<IncidentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_id: Option<CaseId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan_id: Option<PlanId>,
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(with = "crate::time::serde_millis")]
        due_at: DateTime<Utc>,
    },
    /// A notification reached its channel (for the webhook: the gateway accepted it).
    #[serde(rename = "notification.sent")]
    NotificationSent {
        assignment_id: AssignmentId,
        channel: String,
        level: u32,
        status: String,
    },
    /// A delivery attempt failed; the ladder goes on regardless.
    #[serde(rename = "notification.failed")]
    NotificationFailed {
        assignment_id: AssignmentId,
        channel: String,
        level: u32,
        error: String,
    },
}

impl Event {
    /// The assignment an event is about, if it is about one.
    pub fn assignment_id(&self) -> Option<&AssignmentId> {
        use Event::*;
        match self {
            AssignmentCreated { assignment } => Some(&assignment.id),
            AssignmentAcknowledged { assignment_id }
            | AssignmentDeclined { assignment_id, .. }
            | AssignmentProgressed { assignment_id, .. }
            | AssignmentActionDone { assignment_id, .. }
            | AssignmentCancelled { assignment_id, .. }
            | CheckinRecorded { assignment_id, .. }
            | AssignmentEscalated { assignment_id, .. }
            | CheckinMissed { assignment_id, .. }
            | NotificationSent { assignment_id, .. }
            | NotificationFailed { assignment_id, .. } => Some(assignment_id),
            _ => None,
        }
    }

    /// The support plan an event is about, if it is about one.
    pub fn plan_id(&self) -> Option<&PlanId> {
        use Event::*;
        match self {
            SupportProposed { plan } => Some(&plan.id),
            SupportAgreed { plan_id }
            | SupportNoted { plan_id, .. }
            | SupportReviewed { plan_id, .. } => Some(plan_id),
            TargetBreached {
                plan_id: Some(plan_id),
                ..
            } => Some(plan_id),
            _ => None,
        }
    }

    /// The event's wire name, e.g. `incident.opened`.
    pub fn kind(&self) -> &'static str {
        use Event::*;
        match self {
            ContactReceived { .. } => "contact.received",
            ContactTaken { .. } => "contact.taken",
            ContactLinked { .. } => "contact.linked",
            ContactClosed { .. } => "contact.closed",
            IncidentOpened { .. } => "incident.opened",
            IncidentAnswered { .. } => "incident.answered",
            IncidentAssessed { .. } => "incident.assessed",
            IncidentNoted { .. } => "incident.noted",
            IncidentStatusChanged { .. } => "incident.status_changed",
            IncidentResolved { .. } => "incident.resolved",
            IncidentClosed { .. } => "incident.closed",
            IncidentReopened { .. } => "incident.reopened",
            IncidentCancelled { .. } => "incident.cancelled",
            IncidentOverridden { .. } => "incident.overridden",
            UserCreated { .. } => "user.created",
            UserDisabled { .. } => "user.disabled",
            UserPasswordChanged { .. } => "user.password_changed",
            ResourceRegistered { .. } => "resource.registered",
            ResourceStatusChanged { .. } => "resource.status_changed",
            ResourceLocated { .. } => "resource.located",
            AssignmentCreated { .. } => "assignment.created",
            AssignmentAcknowledged { .. } => "assignment.acknowledged",
            AssignmentDeclined { .. } => "assignment.declined",
            AssignmentProgressed { .. } => "assignment.progressed",
            AssignmentActionDone { .. } => "assignment.action_done",
            AssignmentCancelled { .. } => "assignment.cancelled",
            CheckinRecorded { .. } => "checkin.recorded",
            MessageBroadcast { .. } => "message.broadcast",
            MessageAcknowledged { .. } => "message.acknowledged",
            CaseOpened { .. } => "case.opened",
            CaseAssigned { .. } => "case.assigned",
            CaseResponded { .. } => "case.responded",
            CaseClosed { .. } => "case.closed",
            SupportProposed { .. } => "support.proposed",
            SupportAgreed { .. } => "support.agreed",
            SupportNoted { .. } => "support.noted",
            SupportReviewed { .. } => "support.reviewed",
            ImprovementRaised { .. } => "improvement.raised",
            ImprovementUpdated { .. } => "improvement.updated",
            AssignmentEscalated { .. } => "assignment.escalated",
            CheckinMissed { .. } => "checkin.missed",
            TargetBreached { .. } => "target.breached",
            NotificationSent { .. } => "notification.sent",
            NotificationFailed { .. } => "notification.failed",
        }
    }

    /// The id this event created, as it appears in a command result's `data`.
    pub fn created(&self) -> Option<(&'static str, String)> {
        use Event::*;
        match self {
            ContactReceived { contact } => Some(("contact_id", contact.id.to_string())),
            IncidentOpened { incident, .. } => Some(("incident_id", incident.id.to_string())),
            UserCreated { user } => Some(("user_id", user.id.to_string())),
            ResourceRegistered { resource } => Some(("resource_id", resource.id.to_string())),
            AssignmentCreated { assignment } => Some(("assignment_id", assignment.id.to_string())),
            MessageBroadcast { message } => Some(("message_id", message.id.to_string())),
            CaseOpened { case } => Some(("case_id", case.id.to_string())),
            SupportProposed { plan } => Some(("plan_id", plan.id.to_string())),
            ImprovementRaised { improvement } => {
                Some(("improvement_id", improvement.id.to_string()))
            }
            _ => None,
        }
    }

    /// A copy safe to send to clients: secrets removed. `None` when nothing was secret.
    pub fn redacted(&self) -> Option<Event> {
        match self {
            Event::UserCreated { user } => {
                let mut user = user.clone();
                user.password_hash.clear();
                Some(Event::UserCreated { user })
            }
            Event::UserPasswordChanged { user_id, .. } => Some(Event::UserPasswordChanged {
                user_id: user_id.clone(),
                password_hash: String::new(),
            }),
            _ => None,
        }
    }
}

/// The actor id used for events no user caused (timers, start-up seeding).
pub const SYSTEM_ACTOR: &str = "system";

/// An event with its envelope: position, time, actor and the command that caused it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: UserId,
    pub command_id: Option<String>,
    pub event: Event,
}
