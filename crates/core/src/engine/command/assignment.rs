//! `assignment.*` and `checkin`: dispatch and the work on scene.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::domain::assignment::{ActionSpec, AssignmentStatus, Via};
use crate::domain::ids::{AssignmentId, IncidentId, ResourceId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentCreate {
    pub incident_id: IncidentId,
    pub resource_id: ResourceId,
    #[serde(default)]
    pub responsibilities: Option<String>,
    #[serde(default)]
    pub actions: Option<Vec<ActionSpec>>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentAcknowledge {
    pub assignment_id: AssignmentId,
    /// Set by the desk recording the unit's acknowledgement on its behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentDecline {
    pub assignment_id: AssignmentId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentProgress {
    pub assignment_id: AssignmentId,
    pub status: AssignmentStatus,
    /// Set by the desk recording the unit's progress on its behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// With `completed`: why each action left undone was not done, by action id. Every
    /// undone required action needs one (rule `required_actions`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentActionDone {
    pub assignment_id: AssignmentId,
    pub action_id: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Unticks an action ticked by mistake; the reason is kept in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentActionUndone {
    pub assignment_id: AssignmentId,
    pub action_id: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssignmentCancel {
    pub assignment_id: AssignmentId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Checkin {
    pub assignment_id: AssignmentId,
    pub ok: bool,
    #[serde(default)]
    pub note: Option<String>,
    /// Set by the desk recording the unit's check-in on its behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}
