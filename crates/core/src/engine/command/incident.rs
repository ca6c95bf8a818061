//! `incident.*`: opening, scripting, assessing, resolving, closing, overriding.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::domain::geo::Location;
use crate::domain::ids::{ContactId, IncidentId};
use crate::domain::triage::{Priority, TriageMethod, Validity};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentOpen {
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    #[serde(rename = "type", alias = "incident_type")]
    pub incident_type: String,
    pub description: String,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentAnswer {
    pub incident_id: IncidentId,
    pub answers: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentAssess {
    pub incident_id: IncidentId,
    pub validity: Validity,
    #[serde(default)]
    pub priority: Option<Priority>,
    pub method: TriageMethod,
    #[serde(default)]
    pub reason: String,
    /// For `duplicate`: the incident this one repeats.
    #[serde(default)]
    pub duplicate_of: Option<IncidentId>,
    /// For the `matrix` method: the impact row.
    #[serde(default)]
    pub impact: Option<String>,
    /// For the `matrix` method: the urgency column.
    #[serde(default)]
    pub urgency: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentNote {
    pub incident_id: IncidentId,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentResolve {
    pub incident_id: IncidentId,
    pub outcome: String,
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentClose {
    pub incident_id: IncidentId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentReopen {
    pub incident_id: IncidentId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentCancel {
    pub incident_id: IncidentId,
    pub reason: String,
}

/// Folds a duplicate into the incident it repeats: its contacts move to `into`, its
/// resources still out are stood down, and it ends `cancelled` with `merged_into`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentMerge {
    pub incident_id: IncidentId,
    pub into: IncidentId,
    pub reason: String,
}

/// Shares the incident with a partner centre (a name in `auth.partner_keys`): the
/// partner then follows it read only, as EIDO updates over `/ws/eido`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentShare {
    pub incident_id: IncidentId,
    pub partner: String,
}

/// Stops sharing the incident with a partner centre.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentUnshare {
    pub incident_id: IncidentId,
    pub partner: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentOverride {
    pub incident_id: IncidentId,
    pub rule: String,
    pub justification: String,
}
