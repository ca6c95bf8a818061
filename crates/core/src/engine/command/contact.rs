//! `contact.*`: the intake queue.

use serde::{Deserialize, Serialize};

use crate::domain::contact::{Caller, Channel, ContactReason};
use crate::domain::geo::Location;
use crate::domain::ids::{ContactId, IncidentId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactReceive {
    pub channel: Channel,
    #[serde(default)]
    pub caller: Caller,
    #[serde(default)]
    pub location: Option<Location>,
    pub summary: String,
    #[serde(default)]
    pub reason: ContactReason,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactTake {
    pub contact_id: ContactId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactLink {
    pub contact_id: ContactId,
    pub incident_id: IncidentId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactClose {
    pub contact_id: ContactId,
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
}
