//! Alerts: what the hub's timers raised about live work (an assignment escalated, a
//! welfare check-in missed, an incident's response target breached), held by the hub
//! until a supervisor acknowledges them. Every supervisor sees the same list, and a
//! fresh log-in shows it (it is part of the state, not of a browser's memory).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::Event;
use crate::domain::Finish;
use crate::domain::ids::{AlertId, AssignmentId, IncidentId, UserId};

/// One alert. `kind` is the wire name of the event that raised it and `cause` is that
/// event (the apps word the alert from its fields); the alert is numbered by the seq of
/// that event (`alr_<seq>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alert {
    pub id: AlertId,
    pub kind: String,
    pub incident_id: IncidentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    pub raised_at: DateTime<Utc>,
    pub cause: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Alert {
    /// Has someone acknowledged it?
    pub fn is_open(&self) -> bool {
        self.acknowledged_at.is_none()
    }
}

impl Finish for Alert {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.acknowledged_at
    }
}
