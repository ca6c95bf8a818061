//! Resources: the people, vehicles and teams a centre can send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ResourceId, UserId};
use super::{Lifecycle, wire_enum};

wire_enum!(
    /// What kind of resource it is (speeds and recommendation differ).
    ResourceType {
        Person => "person",
        Vehicle => "vehicle",
        Team => "team",
    }
);

wire_enum!(
    /// Whether a resource can be sent, and what it is doing.
    ResourceStatus {
        Available => "available",
        Assigned => "assigned",
        EnRoute => "en_route",
        OnScene => "on_scene",
        Unavailable => "unavailable",
        OffDuty => "off_duty",
    }
);

impl Lifecycle for ResourceStatus {
    const ENTITY: &'static str = "resource";

    /// Any status may follow any other except itself: the field and the desk both
    /// correct statuses, and the assignment lifecycle guards the working states.
    fn next(self) -> &'static [Self] {
        use ResourceStatus::*;
        match self {
            Available => &[Assigned, EnRoute, OnScene, Unavailable, OffDuty],
            Assigned => &[Available, EnRoute, OnScene, Unavailable, OffDuty],
            EnRoute => &[Available, Assigned, OnScene, Unavailable, OffDuty],
            OnScene => &[Available, Assigned, EnRoute, Unavailable, OffDuty],
            Unavailable => &[Available, Assigned, EnRoute, OnScene, OffDuty],
            OffDuty => &[Available, Assigned, EnRoute, OnScene, Unavailable],
        }
    }

    fn name(self) -> &'static str {
        ResourceStatus::name(self)
    }
}

/// A last known position and when it was reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    pub at: DateTime<Utc>,
}

/// One resource as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resource {
    pub id: ResourceId,
    pub name: String,
    pub resource_type: ResourceType,
    pub skills: Vec<String>,
    pub team: String,
    pub status: ResourceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Position>,
    /// The field user who carries this resource's phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub status_at: DateTime<Utc>,
    /// Personal data: the e-mail address the ladder's `email` rung writes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Personal data: the phone number an SMS gateway texts (the webhook's `to_phone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Where it is based: the position it was registered at, or as `resource.updated`
    /// last set it (what the CSV export's `lat, lon` hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<Coordinates>,
    /// Out of service for good (`resource.retired`): never recommended nor assignable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

impl Resource {
    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s == skill)
    }
}

/// Coordinates without a time: where a resource was registered (the time is the
/// event's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

/// A resource as it was registered (`resource.registered`). When is the envelope's; it
/// starts `available`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewResource {
    pub id: ResourceId,
    pub name: String,
    pub resource_type: ResourceType,
    pub skills: Vec<String>,
    pub team: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Coordinates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Resource {
    /// The resource a `resource.registered` fact starts, registered `at`.
    pub fn registered(new: &NewResource, at: DateTime<Utc>) -> Resource {
        let NewResource {
            id,
            name,
            resource_type,
            skills,
            team,
            location,
            user_id,
            email,
            phone,
        } = new;
        Resource {
            id: id.clone(),
            name: name.clone(),
            resource_type: *resource_type,
            skills: skills.clone(),
            team: team.clone(),
            status: ResourceStatus::Available,
            location: location.map(|c| Position {
                lat: c.lat,
                lon: c.lon,
                at,
            }),
            user_id: user_id.clone(),
            status_at: at,
            email: email.clone(),
            phone: phone.clone(),
            home: *location,
            retired: false,
        }
    }
}
