//! Duplicate detection: a new report of the same type close in space and time to an
//! open incident is probably the same event seen by another caller. The engine flags
//! the candidates on `incident.opened`; the operator decides (links the contact,
//! assesses `duplicate` with `duplicate_of`, or goes on with a reason).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::geo::haversine_m;
use super::ids::IncidentId;
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

/// The open incidents among `recent` (openings of the same type: when, which, where)
/// within the rule's distance and time of a report at `point` made at `now`, nearest
/// first (ties by id, so it is deterministic), at most [`MAX_CANDIDATES`]. Whether an
/// incident is still open is asked only of the nearest, so a busy hour costs little.
/// Reports without coordinates cannot be compared and have no candidates.
pub fn candidates<'a>(
    rule: &DuplicateRule,
    point: Option<(f64, f64)>,
    now: DateTime<Utc>,
    recent: impl IntoIterator<Item = (DateTime<Utc>, &'a IncidentId, Option<(f64, f64)>)>,
    is_open: impl Fn(&IncidentId) -> bool,
) -> Vec<Candidate> {
    let Some(here) = point else {
        return Vec::new();
    };
    let mut near: Vec<Candidate> = recent
        .into_iter()
        .filter_map(|(at, id, there)| {
            let there = there?;
            // A degree of latitude is about 111 km: most reports are ruled out without
            // the trigonometry.
            if (there.0 - here.0).abs() * 111_000.0 > rule.distance_m {
                return None;
            }
            let distance_m = haversine_m(here, there);
            let apart = (now - at).num_seconds().abs();
            let near = distance_m <= rule.distance_m && apart <= rule.window_secs as i64;
            near.then(|| Candidate {
                incident_id: id.clone(),
                distance_m: distance_m.round(),
                minutes_apart: apart / 60,
            })
        })
        .collect();
    near.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.incident_id.cmp(&b.incident_id))
    });
    // An operator weighs a handful of candidates, not a whole busy hour of them.
    near.into_iter()
        .filter(|c| is_open(&c.incident_id))
        .take(MAX_CANDIDATES)
        .collect()
}

/// The most candidates an opened incident carries, nearest first.
pub const MAX_CANDIDATES: usize = 5;
