//! `improvement.*`: improvements raised from reviews.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{ImprovementId, PlanId, UserId};
use crate::domain::improvement::ImprovementStatus;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImprovementRaise {
    pub title: String,
    pub finding: String,
    pub owner_id: UserId,
    /// `YYYY-MM-DD`.
    pub due_on: chrono::NaiveDate,
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default)]
    pub plan_id: Option<PlanId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImprovementUpdate {
    pub improvement_id: ImprovementId,
    pub status: ImprovementStatus,
    #[serde(default)]
    pub note: Option<String>,
}
