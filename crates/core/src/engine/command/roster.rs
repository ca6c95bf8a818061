//! `roster.*`: resources' shifts, and the internal commands the hub issues at their
//! boundaries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ResourceId, ShiftId};

/// A shift for a resource, `[start, end)` in RFC 3339 (admins and supervisors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RosterAdd {
    pub resource_id: ResourceId,
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub end: DateTime<Utc>,
}

/// Takes a shift off the roster; one under way ends now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RosterRemove {
    pub shift_id: ShiftId,
}

/// Internal: a shift's start has come; its resource goes on duty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerShiftStart {
    pub shift_id: ShiftId,
}

/// Internal: a shift's end has come; its resource goes off duty (when its work ends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerShiftEnd {
    pub shift_id: ShiftId,
}
