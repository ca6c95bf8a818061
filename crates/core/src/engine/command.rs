//! Commands: what clients ask the hub to do. Names are imperative `noun.verb`, exactly
//! as in PROTOCOL.md; inside a command `kind` is always the command's name.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::assignment::{ActionSpec, AssignmentStatus};
use crate::domain::case::{CaseOutcome, CaseType};
use crate::domain::contact::{Caller, Channel, ContactReason};
use crate::domain::geo::Location;
use crate::domain::ids::{
    AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId, ResourceId,
    UserId,
};
use crate::domain::improvement::ImprovementStatus;
use crate::domain::message::Audience;
use crate::domain::resource::{ResourceStatus, ResourceType};
use crate::domain::triage::{Priority, TriageMethod, Validity};
use crate::domain::user::Role;

/// Every command the engine understands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Command {
    #[serde(rename = "contact.receive")]
    ContactReceive {
        channel: Channel,
        #[serde(default)]
        caller: Caller,
        #[serde(default)]
        location: Option<Location>,
        summary: String,
        #[serde(default)]
        reason: ContactReason,
    },
    #[serde(rename = "contact.take")]
    ContactTake { contact_id: ContactId },
    #[serde(rename = "contact.link")]
    ContactLink {
        contact_id: ContactId,
        incident_id: IncidentId,
    },
    #[serde(rename = "contact.close")]
    ContactClose {
        contact_id: ContactId,
        outcome: String,
        #[serde(default)]
        note: Option<String>,
    },

    #[serde(rename = "incident.open")]
    IncidentOpen {
        #[serde(default)]
        contact_id: Option<ContactId>,
        #[serde(rename = "type", alias = "incident_type")]
        incident_type: String,
        description: String,
        location: Location,
    },
    #[serde(rename = "incident.answer")]
    IncidentAnswer {
        incident_id: IncidentId,
        answers: BTreeMap<String, serde_json::Value>,
    },
    #[serde(rename = "incident.assess")]
    IncidentAssess {
        incident_id: IncidentId,
        validity: Validity,
        #[serde(default)]
        priority: Option<Priority>,
        method: TriageMethod,
        #[serde(default)]
        reason: String,
        /// For `duplicate`: the incident this one repeats.
        #[serde(default)]
        duplicate_of: Option<IncidentId>,
        /// For the `matrix` method: the impact row.
        #[serde(default)]
        impact: Option<String>,
        /// For the `matrix` method: the urgency column.
        #[serde(default)]
        urgency: Option<String>,
    },
    #[serde(rename = "incident.note")]
    IncidentNote {
        incident_id: IncidentId,
        text: String,
    },
    #[serde(rename = "incident.resolve")]
    IncidentResolve {
        incident_id: IncidentId,
        outcome: String,
        summary: String,
    },
    #[serde(rename = "incident.close")]
    IncidentClose { incident_id: IncidentId },
    #[serde(rename = "incident.reopen")]
    IncidentReopen {
        incident_id: IncidentId,
        reason: String,
    },
    #[serde(rename = "incident.cancel")]
    IncidentCancel {
        incident_id: IncidentId,
        reason: String,
    },
    #[serde(rename = "incident.override")]
    IncidentOverride {
        incident_id: IncidentId,
        rule: String,
        justification: String,
    },

    #[serde(rename = "user.create")]
    UserCreate {
        username: String,
        role: Role,
        password: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        resource_id: Option<ResourceId>,
        /// Argon2id hash of `password`, computed by the hub before the command reaches
        /// the single writer (hashing is slow and salted, so it stays out of the engine).
        #[serde(skip)]
        password_hash: Option<String>,
    },
    #[serde(rename = "user.disable")]
    UserDisable { user_id: UserId },
    #[serde(rename = "user.password")]
    UserPassword {
        user_id: UserId,
        password: String,
        #[serde(skip)]
        password_hash: Option<String>,
    },

    #[serde(rename = "resource.register")]
    ResourceRegister {
        name: String,
        resource_type: ResourceType,
        #[serde(default)]
        skills: Vec<String>,
        team: String,
        #[serde(default)]
        user_id: Option<UserId>,
        #[serde(default)]
        location: Option<Location>,
    },
    #[serde(rename = "resource.status")]
    ResourceStatus {
        resource_id: ResourceId,
        status: ResourceStatus,
    },
    #[serde(rename = "resource.locate")]
    ResourceLocate {
        resource_id: ResourceId,
        lat: f64,
        lon: f64,
    },

    #[serde(rename = "assignment.create")]
    AssignmentCreate {
        incident_id: IncidentId,
        resource_id: ResourceId,
        #[serde(default)]
        responsibilities: Option<String>,
        #[serde(default)]
        actions: Option<Vec<ActionSpec>>,
        #[serde(default)]
        reason: Option<String>,
    },
    #[serde(rename = "assignment.acknowledge")]
    AssignmentAcknowledge { assignment_id: AssignmentId },
    #[serde(rename = "assignment.decline")]
    AssignmentDecline {
        assignment_id: AssignmentId,
        reason: String,
    },
    #[serde(rename = "assignment.progress")]
    AssignmentProgress {
        assignment_id: AssignmentId,
        status: AssignmentStatus,
    },
    #[serde(rename = "assignment.action_done")]
    AssignmentActionDone {
        assignment_id: AssignmentId,
        action_id: String,
        #[serde(default)]
        note: Option<String>,
    },
    #[serde(rename = "assignment.cancel")]
    AssignmentCancel {
        assignment_id: AssignmentId,
        reason: String,
    },
    #[serde(rename = "checkin")]
    Checkin {
        assignment_id: AssignmentId,
        ok: bool,
        #[serde(default)]
        note: Option<String>,
    },

    #[serde(rename = "message.broadcast")]
    MessageBroadcast {
        audience: Audience,
        text: String,
        #[serde(default)]
        requires_ack: bool,
    },
    #[serde(rename = "message.acknowledge")]
    MessageAcknowledge { message_id: MessageId },

    #[serde(rename = "case.open")]
    CaseOpen {
        case_type: CaseType,
        #[serde(default)]
        incident_id: Option<IncidentId>,
        #[serde(default)]
        contact_id: Option<ContactId>,
        from: String,
        text: String,
    },
    #[serde(rename = "case.assign")]
    CaseAssign { case_id: CaseId, user_id: UserId },
    #[serde(rename = "case.respond")]
    CaseRespond { case_id: CaseId, response: String },
    #[serde(rename = "case.close")]
    CaseClose {
        case_id: CaseId,
        outcome: CaseOutcome,
        #[serde(default)]
        root_cause: Option<String>,
    },

    #[serde(rename = "support.propose")]
    SupportPropose {
        colleague_id: UserId,
        areas: Vec<String>,
        support_type: String,
        /// `YYYY-MM-DD`.
        review_on: chrono::NaiveDate,
        #[serde(default)]
        notes: Option<String>,
    },
    #[serde(rename = "support.agree")]
    SupportAgree { plan_id: PlanId },
    #[serde(rename = "support.note")]
    SupportNote { plan_id: PlanId, text: String },
    #[serde(rename = "support.review")]
    SupportReview { plan_id: PlanId, outcome: String },

    #[serde(rename = "improvement.raise")]
    ImprovementRaise {
        title: String,
        finding: String,
        owner_id: UserId,
        /// `YYYY-MM-DD`.
        due_on: chrono::NaiveDate,
        #[serde(default)]
        areas: Vec<String>,
        #[serde(default)]
        plan_id: Option<PlanId>,
    },
    #[serde(rename = "improvement.update")]
    ImprovementUpdate {
        improvement_id: ImprovementId,
        status: ImprovementStatus,
        #[serde(default)]
        note: Option<String>,
    },

    /// Internal (system actor only): the next rung of an unacknowledged assignment's
    /// escalation ladder is due. `level` counts rungs from 1.
    #[serde(rename = "timer.escalate")]
    TimerEscalate {
        assignment_id: AssignmentId,
        level: u32,
    },
    /// Internal: a deployed resource's welfare check-in due at `due_at` did not come.
    #[serde(rename = "timer.checkin_missed")]
    TimerCheckinMissed {
        assignment_id: AssignmentId,
        #[serde(with = "crate::time::serde_millis")]
        due_at: DateTime<Utc>,
    },
    /// Internal: one of the incident's response targets (`dispatch`, `acknowledge`,
    /// `arrive`, `resolve`) ran out.
    #[serde(rename = "timer.target_breached")]
    TimerTargetBreached {
        incident_id: IncidentId,
        target: String,
    },
    /// Internal: a case's deadline (`acknowledge`, `respond`) ran out.
    #[serde(rename = "timer.case_breached")]
    TimerCaseBreached { case_id: CaseId, target: String },
    /// Internal: an agreed support plan's review date passed without a review.
    #[serde(rename = "timer.plan_review_missed")]
    TimerPlanReviewMissed { plan_id: PlanId },
    /// Internal: the outcome of one delivery attempt on a notification channel, written
    /// after the attempt so the log holds the delivery evidence.
    #[serde(rename = "notification.record")]
    NotificationRecord {
        assignment_id: AssignmentId,
        channel: String,
        /// The escalation rung that asked for it.
        level: u32,
        /// `None` when delivered; otherwise why it failed.
        #[serde(default)]
        error: Option<String>,
        /// What the gateway answered (e.g. `HTTP 200`), when it answered.
        #[serde(default)]
        status: Option<String>,
    },
}

impl Command {
    /// The command's wire name, e.g. `incident.open`.
    pub fn kind(&self) -> &'static str {
        use Command::*;
        match self {
            ContactReceive { .. } => "contact.receive",
            ContactTake { .. } => "contact.take",
            ContactLink { .. } => "contact.link",
            ContactClose { .. } => "contact.close",
            IncidentOpen { .. } => "incident.open",
            IncidentAnswer { .. } => "incident.answer",
            IncidentAssess { .. } => "incident.assess",
            IncidentNote { .. } => "incident.note",
            IncidentResolve { .. } => "incident.resolve",
            IncidentClose { .. } => "incident.close",
            IncidentReopen { .. } => "incident.reopen",
            IncidentCancel { .. } => "incident.cancel",
            IncidentOverride { .. } => "incident.override",
            UserCreate { .. } => "user.create",
            UserDisable { .. } => "user.disable",
            UserPassword { .. } => "user.password",
            ResourceRegister { .. } => "resource.register",
            ResourceStatus { .. } => "resource.status",
            ResourceLocate { .. } => "resource.locate",
            AssignmentCreate { .. } => "assignment.create",
            AssignmentAcknowledge { .. } => "assignment.acknowledge",
            AssignmentDecline { .. } => "assignment.decline",
            AssignmentProgress { .. } => "assignment.progress",
            AssignmentActionDone { .. } => "assignment.action_done",
            AssignmentCancel { .. } => "assignment.cancel",
            Checkin { .. } => "checkin",
            MessageBroadcast { .. } => "message.broadcast",
            MessageAcknowledge { .. } => "message.acknowledge",
            CaseOpen { .. } => "case.open",
            CaseAssign { .. } => "case.assign",
            CaseRespond { .. } => "case.respond",
            CaseClose { .. } => "case.close",
            SupportPropose { .. } => "support.propose",
            SupportAgree { .. } => "support.agree",
            SupportNote { .. } => "support.note",
            SupportReview { .. } => "support.review",
            ImprovementRaise { .. } => "improvement.raise",
            ImprovementUpdate { .. } => "improvement.update",
            TimerEscalate { .. } => "timer.escalate",
            TimerCheckinMissed { .. } => "timer.checkin_missed",
            TimerTargetBreached { .. } => "timer.target_breached",
            TimerCaseBreached { .. } => "timer.case_breached",
            TimerPlanReviewMissed { .. } => "timer.plan_review_missed",
            NotificationRecord { .. } => "notification.record",
        }
    }

    /// Commands only the hub itself issues (timers, delivery outcomes): every real
    /// role is refused them.
    pub fn is_internal(&self) -> bool {
        use Command::*;
        matches!(
            self,
            TimerEscalate { .. }
                | TimerCheckinMissed { .. }
                | TimerTargetBreached { .. }
                | TimerCaseBreached { .. }
                | TimerPlanReviewMissed { .. }
                | NotificationRecord { .. }
        )
    }

    /// The incident a command concerns directly, for tracing spans.
    pub fn incident_id(&self) -> Option<&IncidentId> {
        use Command::*;
        match self {
            ContactLink { incident_id, .. }
            | IncidentAnswer { incident_id, .. }
            | IncidentAssess { incident_id, .. }
            | IncidentNote { incident_id, .. }
            | IncidentResolve { incident_id, .. }
            | IncidentClose { incident_id }
            | IncidentReopen { incident_id, .. }
            | IncidentCancel { incident_id, .. }
            | IncidentOverride { incident_id, .. }
            | TimerTargetBreached { incident_id, .. }
            | AssignmentCreate { incident_id, .. } => Some(incident_id),
            _ => None,
        }
    }
}
