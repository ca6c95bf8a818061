//! Duplicate detection: a new report of the same type close in space and time to an
//! open incident is probably the same event seen by another caller. The engine flags
//! the candidates on `incident.opened`; the operator decides (links the contact,
//! assesses `duplicate` with `duplicate_of`, or goes on with a reason).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::geo::haversine_m;
use super::ids::IncidentId;
use super::incident::Incident;
use super::procedure::DuplicateRule;

/// An open incident a new report may repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub incident_id: IncidentId,
    /// Straight-line distance between the two locations, rounded to the metre.
    pub distance_m: f64,
    /// Whole minutes between the candidate's opening and the new report.
    pub minutes_apart: i64,
}

/// The open incidents of `incident_type` within the rule's distance and time of a
/// report at `point` made at `now`, nearest first (ties by id, so it is deterministic).
/// Reports without coordinates cannot be compared and have no candidates.
pub fn candidates<'a>(
    rule: &DuplicateRule,
    incident_type: &str,
    point: Option<(f64, f64)>,
    now: DateTime<Utc>,
    open: impl IntoIterator<Item = &'a Incident>,
) -> Vec<Candidate> {
    let Some(here) = point else {
        return Vec::new();
    };
    let mut out: Vec<Candidate> = open
        .into_iter()
        .filter(|i| i.status.is_open() && i.incident_type == incident_type)
        .filter_map(|i| {
            let there = i.location.point()?;
            let distance_m = haversine_m(here, there);
            let apart = (now - i.opened_at).num_seconds().abs();
            (distance_m <= rule.distance_m && apart <= rule.window_secs as i64).then(|| Candidate {
                incident_id: i.id.clone(),
                distance_m: distance_m.round(),
                minutes_apart: apart / 60,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.incident_id.cmp(&b.incident_id))
    });
    out
}
