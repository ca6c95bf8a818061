//! Improvement actions: what the centre decided to change after a review finding, with
//! a named owner and a due date, tracked `open → in_progress → done`/`dropped` so the
//! next review can show whether the figure moved.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ImprovementId, PlanId, UserId};
use super::{DomainError, Lifecycle, wire_enum};

wire_enum!(
    /// Where an improvement action is.
    ImprovementStatus {
        Open => "open",
        InProgress => "in_progress",
        Done => "done",
        Dropped => "dropped",
    }
);

impl Lifecycle for ImprovementStatus {
    const ENTITY: &'static str = "improvement";

    fn next(self) -> &'static [Self] {
        use ImprovementStatus::*;
        match self {
            Open => &[InProgress],
            InProgress => &[Done, Dropped],
            Done | Dropped => &[],
        }
    }

    fn name(self) -> &'static str {
        ImprovementStatus::name(self)
    }
}

/// One step of an action's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImprovementUpdate {
    pub status: ImprovementStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// One improvement action as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Improvement {
    pub id: ImprovementId,
    pub title: String,
    /// The finding (and its figures) that prompted it.
    pub finding: String,
    pub owner_id: UserId,
    pub due_on: NaiveDate,
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<PlanId>,
    pub status: ImprovementStatus,
    pub raised_by: UserId,
    pub raised_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Vec<ImprovementUpdate>,
}

/// Every area must be from the centre's taxonomy and the due date not in the past.
pub fn validate_new(
    areas: &[String],
    known_areas: &[String],
    due_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if let Some((i, _)) = areas
        .iter()
        .enumerate()
        .find(|(_, a)| !known_areas.contains(a))
    {
        return Err(DomainError::validation(
            &format!("areas[{i}]"),
            &format!("must be one of: {}", known_areas.join(", ")),
        ));
    }
    if due_on < today {
        return Err(DomainError::validation("due_on", "must not be in the past"));
    }
    Ok(())
}

/// An improvement action as it was raised (`improvement.raised`). Who raised it and
/// when are the envelope's; it starts `open`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewImprovement {
    pub id: ImprovementId,
    pub title: String,
    pub finding: String,
    pub owner_id: UserId,
    pub due_on: NaiveDate,
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<PlanId>,
}

impl Improvement {
    /// The improvement an `improvement.raised` fact starts, raised `at` by `by`.
    pub fn raised(new: &NewImprovement, at: DateTime<Utc>, by: &UserId) -> Improvement {
        Improvement {
            id: new.id.clone(),
            title: new.title.clone(),
            finding: new.finding.clone(),
            owner_id: new.owner_id.clone(),
            due_on: new.due_on,
            areas: new.areas.clone(),
            plan_id: new.plan_id.clone(),
            status: ImprovementStatus::Open,
            raised_by: by.clone(),
            raised_at: at,
            history: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_open_in_progress_then_done_or_dropped() {
        use ImprovementStatus::*;
        assert!(Open.check_move(InProgress).is_ok());
        assert!(Open.check_move(Done).is_err());
        assert!(InProgress.check_move(Done).is_ok());
        assert!(InProgress.check_move(Dropped).is_ok());
        assert!(Done.check_move(InProgress).is_err());
    }
}
