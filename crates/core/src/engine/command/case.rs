//! `case.*`: queries and complaints.

use serde::{Deserialize, Serialize};

use crate::domain::case::{CaseOutcome, CaseType};
use crate::domain::ids::{CaseId, ContactId, IncidentId, UserId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseOpen {
    pub case_type: CaseType,
    #[serde(default)]
    pub incident_id: Option<IncidentId>,
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    pub from: String,
    pub text: String,
    /// Personal data: the complainant's e-mail address; the response is e-mailed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseAssign {
    pub case_id: CaseId,
    pub user_id: UserId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseRespond {
    pub case_id: CaseId,
    pub response: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseClose {
    pub case_id: CaseId,
    pub outcome: CaseOutcome,
    #[serde(default)]
    pub root_cause: Option<String>,
}
