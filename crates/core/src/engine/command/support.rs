//! `support.*`: support plans between desk colleagues.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{PlanId, UserId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupportPropose {
    pub colleague_id: UserId,
    pub areas: Vec<String>,
    pub support_type: String,
    /// `YYYY-MM-DD`.
    pub review_on: chrono::NaiveDate,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupportAgree {
    pub plan_id: PlanId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupportNote {
    pub plan_id: PlanId,
    pub text: String,
}

/// Attaches evidence (a trainee's exercise debrief) to their support plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupportAttachEvidence {
    pub plan_id: PlanId,
    pub evidence: crate::domain::support::Evidence,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupportReview {
    pub plan_id: PlanId,
    pub outcome: String,
}
