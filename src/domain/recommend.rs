//! Which resources to send: a ranking of the available resources that hold the
//! incident type's required skills, nearest first, each with a score and the reasons
//! a dispatcher can read. Pure: the caller passes the resources and the speeds.
//!
//! A first cut (skills, availability, distance); the procedures work grows it here.

use serde::Serialize;

use super::geo::{Location, haversine_m};
use super::ids::ResourceId;
use super::procedure::{IncidentType, Speeds};
use super::resource::{Resource, ResourceStatus};

/// One ranked resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// What `assignment.create` takes.
    pub resource_id: ResourceId,
    /// What the dispatcher reads.
    pub name: String,
    /// From 0 to 1, higher is better: 1 on the spot, 0.5 at 1 km, 0 when the distance
    /// is unknown.
    pub score: f64,
    /// Why it ranks where it does, in words, so the choice can be explained.
    pub reasons: Vec<String>,
    /// Straight-line distance to the incident, when both positions are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    /// Travel time at the centre's speed for the resource's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
}

/// Ranks `resources` for an incident of `kind` at `at`: available ones with every
/// required skill, nearest first; those whose distance is unknown come last, by name.
pub fn rank<'a>(
    kind: &IncidentType,
    at: &Location,
    resources: impl IntoIterator<Item = &'a Resource>,
    speeds: &Speeds,
) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = resources
        .into_iter()
        .filter(|r| r.status == ResourceStatus::Available)
        .filter(|r| kind.required_skills.iter().all(|s| r.has_skill(s)))
        .map(|r| recommend(kind, at, r, speeds))
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &Recommendation| r.distance_m.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    out
}

fn recommend(kind: &IncidentType, at: &Location, r: &Resource, speeds: &Speeds) -> Recommendation {
    let mut reasons = vec!["available".to_string()];
    if !kind.required_skills.is_empty() {
        reasons.push(format!("has {}", kind.required_skills.join(", ")));
    }
    let distance_m = match (at.point(), &r.location) {
        (Some(p), Some(l)) => Some(haversine_m(p, (l.lat, l.lon))),
        _ => None,
    };
    let kmh = speeds.for_kind(r.resource_type);
    let eta_secs = distance_m
        .filter(|_| kmh > 0.0)
        .map(|d| (d / (kmh / 3.6)).round() as u64);
    match (distance_m, eta_secs) {
        (Some(d), Some(eta)) => reasons.push(format!(
            "{:.1} km away, about {} min",
            d / 1000.0,
            eta.div_ceil(60)
        )),
        (Some(d), None) => reasons.push(format!("{:.1} km away", d / 1000.0)),
        _ => reasons.push("distance unknown".to_string()),
    }
    let score = distance_m.map_or(0.0, |d| round3(1000.0 / (1000.0 + d)));
    Recommendation {
        resource_id: r.id.clone(),
        name: r.name.clone(),
        score,
        reasons,
        distance_m: distance_m.map(|d| d.round()),
        eta_secs,
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
        }
    }

    fn kind() -> IncidentType {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/centre.toml");
        let centre = crate::config::load_centre(std::path::Path::new(path)).unwrap();
        centre.incident_type("medical_emergency").unwrap().clone()
    }

    #[test]
    fn ranks_skilled_available_resources_nearest_first() {
        let here = Location {
            text: None,
            lat: Some(51.5074),
            lon: Some(-0.1278),
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
        let ranked = rank(&kind(), &here, &resources, &speeds);
        let ids: Vec<&str> = ranked.iter().map(|r| r.resource_id.as_str()).collect();
        assert_eq!(ids, ["res_near", "res_far", "res_lost"]);
        assert!(ranked[0].score > ranked[1].score);
        assert_eq!(ranked[2].score, 0.0);
        assert!(ranked[0].reasons.iter().any(|r| r == "has first_aid"));
        assert!(ranked[0].eta_secs.is_some());
    }
}
