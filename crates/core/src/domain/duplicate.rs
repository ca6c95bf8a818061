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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    // Within a rule's reach (hundreds of metres) the earth is flat enough: a planar
    // distance rules each report in or out without trigonometry, and only the few kept
    // get the exact great-circle distance. A busy hour puts hundreds of openings here.
    let metres_per_degree_lon = METRES_PER_DEGREE * here.0.to_radians().cos();
    let reach = rule.distance_m * (1.0 + FLAT_EARTH_MARGIN);
    let mut near: Vec<Near<'_>> = recent
        .into_iter()
        .filter_map(|(at, id, there)| {
            let there = there?;
            if (now - at).num_seconds().abs() > rule.window_secs as i64 {
                return None;
            }
            let dy = (there.0 - here.0) * METRES_PER_DEGREE;
            let dx = wrap_degrees(there.1 - here.1) * metres_per_degree_lon;
            let flat = dx * dx + dy * dy;
            (flat <= reach * reach).then_some(Near {
                flat,
                id,
                at,
                there,
            })
        })
        .collect();
    near.sort_by(|a, b| a.flat.total_cmp(&b.flat).then_with(|| a.id.cmp(b.id)));
    // An operator weighs a handful of candidates, not a whole busy hour of them.
    near.into_iter()
        .filter_map(|Near { id, at, there, .. }| {
            let distance_m = haversine_m(here, there);
            (distance_m <= rule.distance_m && is_open(id)).then(|| Candidate {
                incident_id: id.clone(),
                distance_m: distance_m.round(),
                minutes_apart: (now - at).num_seconds().abs() / 60,
            })
        })
        .take(MAX_CANDIDATES)
        .collect()
}

/// An opening that passed the planar pre-check: its squared planar distance, and
/// what the exact check and the candidate need.
struct Near<'a> {
    flat: f64,
    id: &'a IncidentId,
    at: DateTime<Utc>,
    there: (f64, f64),
}

/// A difference of longitudes in -180..=180, the short way round the antimeridian.
fn wrap_degrees(d: f64) -> f64 {
    if d > 180.0 {
        d - 360.0
    } else if d < -180.0 {
        d + 360.0
    } else {
        d
    }
}

/// Metres in a degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_195.0;

/// How much further than the rule's distance the planar pre-check lets through, so
/// the flat-earth error never rules out a report the exact distance would keep.
const FLAT_EARTH_MARGIN: f64 = 0.01;

/// The most candidates an opened incident carries, nearest first.
pub const MAX_CANDIDATES: usize = 5;
