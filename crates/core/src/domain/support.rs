//! Colleague support plans: a supervisor (or a colleague asking for help) proposes
//! support in named areas of the centre's taxonomy with a type of support and a review
//! date. The plan is active only once the colleague agrees, so support is agreed, not
//! imposed; both parties and times are recorded. Notes follow, then a review.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{PlanId, UserId};
use super::{DomainError, Lifecycle, MAX_SHORT_TEXT, check_text, wire_enum};

wire_enum!(
    /// Where a support plan is.
    PlanStatus {
        /// Proposed, waiting for the colleague to agree.
        Proposed => "proposed",
        /// Agreed by the colleague: support is under way.
        Active => "active",
        /// Reviewed on (or after) the agreed date.
        Reviewed => "reviewed",
    }
);

impl Lifecycle for PlanStatus {
    const ENTITY: &'static str = "support plan";

    fn next(self) -> &'static [Self] {
        use PlanStatus::*;
        match self {
            Proposed => &[Active],
            Active => &[Reviewed],
            Reviewed => &[],
        }
    }

    fn name(self) -> &'static str {
        PlanStatus::name(self)
    }
}

/// A note on a plan, by either party or a supervisor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanNote {
    pub text: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// One support plan as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub id: PlanId,
    /// Whom the support is for.
    pub colleague_id: UserId,
    pub proposed_by: UserId,
    pub proposed_at: DateTime<Utc>,
    pub areas: Vec<String>,
    pub support_type: String,
    pub review_on: NaiveDate,
    pub status: PlanStatus,
    #[serde(default)]
    pub notes: Vec<PlanNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_outcome: Option<String>,
    /// Evidence attached to the plan (an exercise's debrief), oldest first.
    #[serde(default)]
    pub evidence: Vec<AttachedEvidence>,
}

wire_enum!(
    /// What a piece of evidence on a support plan is.
    EvidenceKind {
        /// A trainee's figures from an exercise's debrief (docs/EXERCISES.md).
        ExerciseDebrief => "exercise_debrief",
    }
);

/// Evidence for a support plan (`support.attach_evidence`): a trainee's exercise
/// debrief, as the debrief page downloads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The scenario's name.
    pub scenario: String,
    /// Whose debrief it is: the plan's colleague.
    pub trainee_id: UserId,
    /// Out of 100; required (`null` only once erased: it is personal data).
    #[serde(default)]
    pub score: Option<u32>,
    /// When the exercise started.
    pub started_at: DateTime<Utc>,
    /// One line for the plan's review.
    pub summary: String,
    /// The debrief's figures (an object, at most [`MAX_FIGURES_BYTES`] as JSON).
    pub figures: serde_json::Value,
}

/// The most a piece of evidence's `figures` may take, as JSON.
pub const MAX_FIGURES_BYTES: usize = 8 * 1024;

/// The most evidence one plan holds.
pub const MAX_EVIDENCE: usize = 50;

impl Evidence {
    /// Checks the shape: a scenario name, a score out of 100, a short summary and
    /// figures that are a small JSON object.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_text("evidence.scenario", &self.scenario, 200, true)?;
        check_text("evidence.summary", &self.summary, MAX_SHORT_TEXT, false)?;
        if self.score.is_none_or(|s| s > 100) {
            return Err(DomainError::validation(
                "evidence.score",
                "must be a score between 0 and 100",
            ));
        }
        if !self.figures.is_object() {
            return Err(DomainError::validation(
                "evidence.figures",
                "must be an object of the debrief's figures",
            ));
        }
        if self.figures.to_string().len() > MAX_FIGURES_BYTES {
            return Err(DomainError::validation(
                "evidence.figures",
                format!("must be at most {MAX_FIGURES_BYTES} bytes as JSON").as_str(),
            ));
        }
        Ok(())
    }

    /// The same exercise's debrief of the same trainee.
    pub fn same_as(&self, other: &Evidence) -> bool {
        self.kind == other.kind
            && self.scenario == other.scenario
            && self.trainee_id == other.trainee_id
            && self.started_at == other.started_at
    }
}

/// Evidence as the plan holds it: who attached it and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttachedEvidence {
    #[serde(flatten)]
    pub evidence: Evidence,
    pub attached_by: UserId,
    pub attached_at: DateTime<Utc>,
}

impl Plan {
    /// The two people a plan is between.
    pub fn parties(&self) -> [&UserId; 2] {
        [&self.colleague_id, &self.proposed_by]
    }

    pub fn involves(&self, user: &UserId) -> bool {
        self.parties().contains(&user)
    }

    /// When an agreed plan's review is missed: the end of its review day (UTC), if it
    /// is active and not yet reviewed.
    pub fn review_deadline(&self) -> Option<DateTime<Utc>> {
        if self.status != PlanStatus::Active {
            return None;
        }
        let next_day = self.review_on.succ_opt()?;
        Some(next_day.and_hms_opt(0, 0, 0)?.and_utc())
    }
}

/// The one deadline a plan runs against, as `target.breached` names it.
pub const REVIEW_TARGET: &str = "review";

/// Checks a proposal against the centre's taxonomy: at least one area, every area and
/// the type from the centre's lists, no area twice, and a review date not in the past.
pub fn validate_proposal(
    areas: &[String],
    support_type: &str,
    review_on: NaiveDate,
    today: NaiveDate,
    known_areas: &[String],
    known_types: &[String],
) -> Result<(), DomainError> {
    if areas.is_empty() {
        return Err(DomainError::validation("areas", "name at least one area"));
    }
    for (i, a) in areas.iter().enumerate() {
        if !known_areas.contains(a) {
            return Err(DomainError::validation(
                &format!("areas[{i}]"),
                &format!("must be one of: {}", known_areas.join(", ")),
            ));
        }
        if areas[..i].contains(a) {
            return Err(DomainError::validation(
                &format!("areas[{i}]"),
                "is named twice",
            ));
        }
    }
    if !known_types.iter().any(|t| t == support_type) {
        return Err(DomainError::validation(
            "support_type",
            &format!("must be one of: {}", known_types.join(", ")),
        ));
    }
    if review_on < today {
        return Err(DomainError::validation(
            "review_on",
            "must not be in the past",
        ));
    }
    Ok(())
}

/// A note given with a proposal; who and when are the envelope's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewPlanNote {
    pub text: String,
}

/// A support plan as it was proposed (`support.proposed`). Who proposed it and when
/// are the envelope's; it starts `proposed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewPlan {
    pub id: PlanId,
    pub colleague_id: UserId,
    pub areas: Vec<String>,
    pub support_type: String,
    pub review_on: NaiveDate,
    #[serde(default)]
    pub notes: Vec<NewPlanNote>,
}

impl Plan {
    /// The plan a `support.proposed` fact starts, proposed `at` by `by`.
    pub fn proposed(new: &NewPlan, at: DateTime<Utc>, by: &UserId) -> Plan {
        Plan {
            id: new.id.clone(),
            colleague_id: new.colleague_id.clone(),
            proposed_by: by.clone(),
            proposed_at: at,
            areas: new.areas.clone(),
            support_type: new.support_type.clone(),
            review_on: new.review_on,
            status: PlanStatus::Proposed,
            notes: new
                .notes
                .iter()
                .map(|n| PlanNote {
                    text: n.text.clone(),
                    by: by.clone(),
                    at,
                })
                .collect(),
            agreed_by: None,
            agreed_at: None,
            reviewed_by: None,
            reviewed_at: None,
            review_outcome: None,
            evidence: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_use_the_centres_lists() {
        let areas = vec!["intake".to_string(), "monitoring".to_string()];
        let types = vec!["coaching".to_string()];
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-03-02");
        let ok = |a: &[&str], t: &str, on: &str| {
            let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            validate_proposal(&a, t, d(on), today, &areas, &types)
        };
        assert!(ok(&["intake"], "coaching", "2026-03-02").is_ok());
        assert!(ok(&[], "coaching", "2026-04-01").is_err());
        assert!(ok(&["cooking"], "coaching", "2026-04-01").is_err());
        assert!(ok(&["intake", "intake"], "coaching", "2026-04-01").is_err());
        assert!(ok(&["intake"], "karaoke", "2026-04-01").is_err());
        assert!(ok(&["intake"], "coaching", "2026-03-01").is_err());
    }

    #[test]
    fn a_plan_is_active_only_after_agreement() {
        use PlanStatus::*;
        assert!(Proposed.check_move(Active).is_ok());
        assert!(Proposed.check_move(Reviewed).is_err());
        assert!(Active.check_move(Reviewed).is_ok());
        assert!(Reviewed.check_move(Active).is_err());
    }
}
