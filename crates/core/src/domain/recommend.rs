//! Which resources to send: hard filters first (available — which also rules out off
//! duty and busy — and every required skill), then a score from travel time, the
//! resource's workload today and its spare skills. Every result carries the reasons a
//! dispatcher reads, so a choice can be explained afterwards. Pure and deterministic:
//! the caller passes the resources, the speeds and the workload; ties go by id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::geo::{Location, haversine_m};
use super::ids::ResourceId;
use super::procedure::{IncidentType, Speeds};
use super::resource::{Resource, ResourceStatus};
use super::roster::{Shift, Standing, standings};

/// Weight of travel time in the score: getting there first matters most.
const W_ETA: f64 = 0.7;
/// Weight of today's workload: spread the jobs over the team.
const W_WORKLOAD: f64 = 0.2;
/// Weight of spare skills: a generalist copes with surprises on scene.
const W_SURPLUS: f64 = 0.1;
/// Travel time (minutes) at which the ETA part of the score halves.
const ETA_HALF_MIN: f64 = 10.0;
/// Spare skills beyond which more do not count.
const SURPLUS_CAP: usize = 3;

/// The reason a resource nobody carries the app for shows.
pub const NO_APP: &str = "no app: call by radio";

/// One ranked resource.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Recommendation {
    /// What `assignment.create` takes.
    pub resource_id: ResourceId,
    /// What the dispatcher reads.
    pub name: String,
    /// From 0 to 1, higher is better (three decimals, so equal scores tie exactly).
    pub score: f64,
    /// Why it ranks where it does, in words: travel, skills, workload.
    pub reasons: Vec<String>,
    /// The reasons in one line, e.g. "2.3 km, about 4 min; has first_aid, driving; 1 job today".
    pub summary: String,
    /// Straight-line distance to the incident, when both positions are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    /// Travel time at the centre's speed for the resource's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
    /// Assignments created for it today.
    pub jobs_today: u32,
    /// When its shift ends, for a resource on shift (rostered resources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_ends_at: Option<DateTime<Utc>>,
    /// Set when its shift ends before the incident's resolve target: what to tell the
    /// dispatcher (also the last of `reasons`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_warning: Option<String>,
}

/// What the roster says when ranking: each rostered resource's standing now, and
/// when the incident should be resolved by (its resolve target at its priority).
/// The default (no shifts) ranks as before rosters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Roster {
    pub standings: BTreeMap<ResourceId, Standing>,
    pub target_at: Option<DateTime<Utc>>,
}

impl Roster {
    /// The roster's view at `now` of `shifts`, for an incident due resolved by `target_at`.
    pub fn at<'a>(
        shifts: impl IntoIterator<Item = &'a Shift>,
        now: DateTime<Utc>,
        target_at: Option<DateTime<Utc>>,
    ) -> Roster {
        Roster {
            standings: standings(shifts, now),
            target_at,
        }
    }

    /// The tier a resource ranks in (lower first), its shift's end, the reason to
    /// show and the warning: on shift through the target, then on shift but ending
    /// before the target, then resources without shifts, then rostered but off shift
    /// (made available by hand).
    fn judge(&self, id: &ResourceId) -> (u8, Option<DateTime<Utc>>, Option<String>, bool) {
        match self.standings.get(id) {
            None | Some(Standing::Unrostered) => (2, None, None, false),
            Some(Standing::OnShift { ends_at }) => match self.target_at {
                Some(target) if *ends_at < target => (
                    1,
                    Some(*ends_at),
                    Some(format!(
                        "shift ends {}, before the resolve target {}",
                        hhmm(*ends_at),
                        hhmm(target)
                    )),
                    true,
                ),
                _ => (
                    0,
                    Some(*ends_at),
                    Some(format!("on shift until {}", hhmm(*ends_at))),
                    false,
                ),
            },
            Some(Standing::OffShift) => (3, None, Some(OFF_SHIFT.to_string()), false),
        }
    }
}

/// The reason a rostered resource off shift, yet available, shows.
pub const OFF_SHIFT: &str = "off shift: made available by hand";

/// `17:00 UTC`.
fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// Ranks `resources` for an incident of `kind` at `at`: only available ones holding
/// every required skill, best score first, ties by id. `jobs_today` counts each
/// resource's assignments created today (absent means none).
pub fn rank<'a>(
    kind: &IncidentType,
    at: &Location,
    resources: impl IntoIterator<Item = &'a Resource>,
    speeds: &Speeds,
    jobs_today: &BTreeMap<ResourceId, u32>,
) -> Vec<Recommendation> {
    rank_on_roster(kind, at, resources, speeds, jobs_today, &Roster::default())
}

/// [`rank`] with the roster: resources on shift first, those whose shift lasts to the
/// incident's resolve target before those whose shift ends sooner (`shift_warning`
/// says so), then those without shifts, then rostered ones off shift; by score within
/// each.
/// (Off duty — a shift ended — is filtered out with the other statuses.)
pub fn rank_on_roster<'a>(
    kind: &IncidentType,
    at: &Location,
    resources: impl IntoIterator<Item = &'a Resource>,
    speeds: &Speeds,
    jobs_today: &BTreeMap<ResourceId, u32>,
    roster: &Roster,
) -> Vec<Recommendation> {
    let mut out: Vec<(u8, Recommendation)> = resources
        .into_iter()
        .filter(|r| eligible(kind, r))
        .map(|r| {
            let jobs = jobs_today.get(&r.id).copied().unwrap_or(0);
            let mut rec = recommend(kind, at, r, speeds, jobs);
            let (tier, ends_at, reason, warn) = roster.judge(&r.id);
            rec.shift_ends_at = ends_at;
            if let Some(reason) = reason {
                if warn {
                    rec.shift_warning = Some(reason.clone());
                }
                rec.reasons.push(reason);
                rec.summary = rec.reasons.join("; ");
            }
            (tier, rec)
        })
        .collect();
    out.sort_by(|(ta, a), (tb, b)| {
        ta.cmp(tb)
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.resource_id.cmp(&b.resource_id))
    });
    out.into_iter().map(|(_, r)| r).collect()
}

/// The hard filters: in service, available now and holding every skill the type
/// requires.
pub fn eligible(kind: &IncidentType, r: &Resource) -> bool {
    !r.retired
        && r.status == ResourceStatus::Available
        && kind.required_skills.iter().all(|s| r.has_skill(s))
}

fn recommend(
    kind: &IncidentType,
    at: &Location,
    r: &Resource,
    speeds: &Speeds,
    jobs: u32,
) -> Recommendation {
    let distance_m = match (at.point(), &r.location) {
        (Some(p), Some(l)) => Some(haversine_m(p, (l.lat, l.lon))),
        _ => None,
    };
    let kmh = speeds.for_kind(r.resource_type);
    let eta_secs = distance_m
        .filter(|_| kmh > 0.0)
        .map(|d| (d / (kmh / 3.6)).round() as u64);
    let surplus = spare_skills(kind, r);
    let mut reasons = vec![
        travel_reason(distance_m, eta_secs),
        skills_reason(kind, &surplus),
        workload_reason(jobs),
    ];
    // Nobody carries the app for it: it is told by radio, and its escalation ladder
    // starts with "call by radio" (see `timers::next_escalation`).
    if r.user_id.is_none() {
        reasons.push(NO_APP.to_string());
    }
    let eta_part = eta_secs.map_or(0.0, |s| {
        let minutes = s as f64 / 60.0;
        ETA_HALF_MIN / (ETA_HALF_MIN + minutes)
    });
    let workload_part = 1.0 / (1.0 + f64::from(jobs));
    let surplus_part = surplus.len().min(SURPLUS_CAP) as f64 / SURPLUS_CAP as f64;
    let score = round3(W_ETA * eta_part + W_WORKLOAD * workload_part + W_SURPLUS * surplus_part);
    Recommendation {
        resource_id: r.id.clone(),
        name: r.name.clone(),
        score,
        summary: reasons.join("; "),
        reasons,
        distance_m: distance_m.map(|d| d.round()),
        eta_secs,
        jobs_today: jobs,
        shift_ends_at: None,
        shift_warning: None,
    }
}

/// Skills the resource holds beyond the type's requirements, sorted.
fn spare_skills<'a>(kind: &IncidentType, r: &'a Resource) -> Vec<&'a str> {
    let mut extra: Vec<&str> = r
        .skills
        .iter()
        .filter(|s| !kind.required_skills.contains(s))
        .map(String::as_str)
        .collect();
    extra.sort_unstable();
    extra.dedup();
    extra
}

fn travel_reason(distance_m: Option<f64>, eta_secs: Option<u64>) -> String {
    match (distance_m, eta_secs) {
        (Some(d), Some(eta)) => format!("{:.1} km, about {} min", d / 1000.0, eta.div_ceil(60)),
        (Some(d), None) => format!("{:.1} km", d / 1000.0),
        _ => "distance unknown".to_string(),
    }
}

/// The required skills first (in the procedure's order), then the spare ones.
fn skills_reason(kind: &IncidentType, surplus: &[&str]) -> String {
    let all: Vec<&str> = kind
        .required_skills
        .iter()
        .map(String::as_str)
        .chain(surplus.iter().copied())
        .collect();
    if all.is_empty() {
        "no particular skills".to_string()
    } else {
        format!("has {}", all.join(", "))
    }
}

fn workload_reason(jobs: u32) -> String {
    match jobs {
        0 => "no jobs today".to_string(),
        1 => "1 job today".to_string(),
        n => format!("{n} jobs today"),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resource::{Position, ResourceType};
    use chrono::Utc;

    fn resource(id: &str, skills: &[&str], at: Option<(f64, f64)>) -> Resource {
        Resource {
            id: ResourceId(id.into()),
            name: id.to_uppercase(),
            resource_type: ResourceType::Person,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            team: "north".into(),
            status: ResourceStatus::Available,
            location: at.map(|(lat, lon)| Position {
                lat,
                lon,
                at: Utc::now(),
            }),
            user_id: None,
            status_at: Utc::now(),
            email: None,
            phone: None,
            home: None,
            retired: false,
        }
    }

    fn kind() -> IncidentType {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/centre.toml");
        let centre = crate::config::load_centre(std::path::Path::new(path)).unwrap();
        centre.incident_type("medical_emergency").unwrap().clone()
    }

    #[test]
    fn ranks_skilled_available_resources_nearest_first() {
        let here = Location {
            text: None,
            lat: Some(51.5074),
            lon: Some(-0.1278),
            place_id: None,
        };
        let mut busy = resource("res_busy", &["first_aid"], Some((51.5074, -0.1278)));
        busy.status = ResourceStatus::Assigned;
        let resources = [
            resource("res_far", &["first_aid"], Some((51.60, -0.20))),
            resource("res_near", &["first_aid"], Some((51.508, -0.128))),
            resource("res_lost", &["first_aid"], None),
            resource("res_unskilled", &["driving"], Some((51.5074, -0.1278))),
            busy,
        ];
        let speeds = Speeds {
            person: 5.0,
            vehicle: 30.0,
            team: 15.0,
        };
        let ranked = rank(&kind(), &here, &resources, &speeds, &BTreeMap::new());
        let ids: Vec<&str> = ranked.iter().map(|r| r.resource_id.as_str()).collect();
        assert_eq!(ids, ["res_near", "res_far", "res_lost"]);
        assert!(ranked[0].score > ranked[1].score);
        assert_eq!(ranked[2].reasons[0], "distance unknown");
        assert!(ranked[0].reasons.iter().any(|r| r == "has first_aid"));
        assert!(ranked[0].eta_secs.is_some());
        // None of these has an app user: each says so, last.
        assert!(ranked.iter().all(|r| r.reasons.last().unwrap() == NO_APP));
        assert!(ranked[0].summary.ends_with("; no app: call by radio"));
        let mut carried = resource("res_app", &["first_aid"], Some((51.508, -0.128)));
        carried.user_id = Some(crate::domain::ids::UserId("usr_1".into()));
        let ranked = rank(&kind(), &here, [&carried], &speeds, &BTreeMap::new());
        assert!(!ranked[0].reasons.iter().any(|r| r == NO_APP));
    }
}
