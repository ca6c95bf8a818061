//! Internal commands, which only the hub itself issues: timers and delivery outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AssignmentId, CaseId, IncidentId, MessageId, PlanId};

/// Internal (system actor only): the next rung of an unacknowledged assignment's
/// escalation ladder is due. `level` counts rungs from 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerEscalate {
    pub assignment_id: AssignmentId,
    pub level: u32,
}

/// Internal: a deployed resource's welfare check-in due at `due_at` did not come.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerCheckinMissed {
    pub assignment_id: AssignmentId,
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub due_at: DateTime<Utc>,
}

/// Internal: one of the incident's response targets (`dispatch`, `acknowledge`,
/// `arrive`, `resolve`) ran out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerTargetBreached {
    pub incident_id: IncidentId,
    pub target: String,
}

/// Internal: a case's deadline (`acknowledge`, `respond`) ran out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerCaseBreached {
    pub case_id: CaseId,
    pub target: String,
}

/// Internal: an agreed support plan's review date passed without a review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerPlanReviewMissed {
    pub plan_id: PlanId,
}

/// Internal: the outcome of one delivery on a notification channel, written after it
/// so the log holds the delivery evidence. It concerns an assignment (an escalation
/// rung) or a case (the reply e-mailed to its complainant): exactly one of the two.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotificationRecord {
    #[serde(default)]
    pub assignment_id: Option<AssignmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// A message pushed to a recipient's phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    pub channel: String,
    /// The escalation rung that asked for it (0 for a case's reply).
    #[serde(default)]
    pub level: u32,
    /// How many attempts the delivery took, retries included, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// `None` when delivered; otherwise why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// What the gateway answered (e.g. `HTTP 200`), when it answered.
    #[serde(default)]
    pub status: Option<String>,
}
