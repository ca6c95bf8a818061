//! Rosters: when each resource is on shift. A shift is `[start, end)` for one resource,
//! at most [`MAX_SHIFT_HOURS`] long; one resource's shifts never overlap (back to back
//! is fine). The hub puts a resource on duty when a shift starts and off duty when it
//! ends (`timer.shift_start` / `timer.shift_end`, see `engine::timers`); a resource with
//! no shifts at all keeps its status by hand, as before rosters.
//!
//! Pure: the caller passes `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Finish;
use super::ids::{ResourceId, ShiftId};

/// The longest shift the hub takes.
pub const MAX_SHIFT_HOURS: i64 = 24;

/// One shift as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shift {
    pub id: ShiftId,
    pub resource_id: ResourceId,
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub end: DateTime<Utc>,
    /// When the hub recorded its start (`roster.shift_started`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the hub recorded its end (`roster.shift_ended`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

impl Shift {
    /// Does the shift cover `t` (`start <= t < end`)?
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Do the two half-open intervals meet in more than a point?
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && start < self.end
    }
}

impl Finish for Shift {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.ended_at
    }
}

/// Where a resource stands on the roster at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// No shifts at all: its status is kept by hand.
    Unrostered,
    /// On a shift that ends at this time.
    OnShift { ends_at: DateTime<Utc> },
    /// Has shifts, but none covers the moment.
    OffShift,
}

/// Each rostered resource's standing at `now` (a resource absent is unrostered), in
/// one pass over the shifts.
pub fn standings<'a>(
    shifts: impl IntoIterator<Item = &'a Shift>,
    now: DateTime<Utc>,
) -> BTreeMap<ResourceId, Standing> {
    let mut out = BTreeMap::new();
    for s in shifts {
        let entry = out
            .entry(s.resource_id.clone())
            .or_insert(Standing::OffShift);
        if s.covers(now) {
            *entry = Standing::OnShift { ends_at: s.end };
        }
    }
    out
}

/// The standing of one resource at `now`.
pub fn standing<'a>(
    shifts: impl IntoIterator<Item = &'a Shift>,
    resource_id: &ResourceId,
    now: DateTime<Utc>,
) -> Standing {
    let mut out = Standing::Unrostered;
    for s in shifts.into_iter().filter(|s| &s.resource_id == resource_id) {
        if s.covers(now) {
            return Standing::OnShift { ends_at: s.end };
        }
        out = Standing::OffShift;
    }
    out
}

/// Why a new shift is refused, with the field to show it at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    #[error("must be after start")]
    EndNotAfterStart,
    #[error("a shift is at most {MAX_SHIFT_HOURS} hours long")]
    TooLong,
    #[error("the shift would already have ended")]
    InThePast,
    #[error("overlaps {0}")]
    Overlaps(ShiftId),
}

impl ShiftError {
    /// The command field the error belongs to.
    pub fn field(&self) -> &'static str {
        match self {
            ShiftError::Overlaps(_) => "start",
            _ => "end",
        }
    }
}

/// Checks a new shift `[start, end)` for `resource_id` against the shifts held.
pub fn check_new<'a>(
    shifts: impl IntoIterator<Item = &'a Shift>,
    resource_id: &ResourceId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ShiftError> {
    if end <= start {
        return Err(ShiftError::EndNotAfterStart);
    }
    if end - start > Duration::hours(MAX_SHIFT_HOURS) {
        return Err(ShiftError::TooLong);
    }
    if end <= now {
        return Err(ShiftError::InThePast);
    }
    if let Some(other) = shifts
        .into_iter()
        .find(|s| &s.resource_id == resource_id && s.overlaps(start, end))
    {
        return Err(ShiftError::Overlaps(other.id.clone()));
    }
    Ok(())
}

/// The next moment after `now` at which some resource goes on or off shift, and who.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShiftChange {
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub at: DateTime<Utc>,
    /// Resources whose shift starts then (sorted).
    pub on: Vec<ResourceId>,
    /// Resources whose shift ends then (sorted). A resource whose next shift starts as
    /// this one ends stays on and is in neither list.
    pub off: Vec<ResourceId>,
}

/// The first shift boundary strictly after `now` at which some resource's duty
/// changes, or `None` when no shift starts or ends later.
pub fn next_change<'a>(
    shifts: impl IntoIterator<Item = &'a Shift> + Clone,
    now: DateTime<Utc>,
) -> Option<ShiftChange> {
    let mut times: Vec<DateTime<Utc>> = shifts
        .clone()
        .into_iter()
        .flat_map(|s| [s.start, s.end])
        .filter(|t| *t > now)
        .collect();
    times.sort_unstable();
    times.dedup();
    for at in times {
        let mut on: Vec<ResourceId> = Vec::new();
        let mut off: Vec<ResourceId> = Vec::new();
        for s in shifts.clone() {
            if s.start == at {
                on.push(s.resource_id.clone());
            }
            if s.end == at {
                off.push(s.resource_id.clone());
            }
        }
        // Back to back: off and on again at the same moment is no change.
        let both: Vec<ResourceId> = on.iter().filter(|r| off.contains(r)).cloned().collect();
        on.retain(|r| !both.contains(r));
        off.retain(|r| !both.contains(r));
        if on.is_empty() && off.is_empty() {
            continue;
        }
        on.sort();
        on.dedup();
        off.sort();
        off.dedup();
        return Some(ShiftChange { at, on, off });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn shift(id: &str, res: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Shift {
        Shift {
            id: ShiftId(id.into()),
            resource_id: ResourceId(res.into()),
            start,
            end,
            started_at: None,
            ended_at: None,
        }
    }

    #[test]
    fn new_shifts_are_checked_for_length_time_and_overlap() {
        let held = [shift("shf_1", "res_1", t(9, 0), t(17, 0))];
        let r1 = ResourceId("res_1".into());
        let now = t(8, 0);
        assert_eq!(
            check_new(&held, &r1, t(17, 0), t(16, 0), now),
            Err(ShiftError::EndNotAfterStart)
        );
        assert_eq!(
            check_new(&held, &r1, t(17, 0), t(17, 0) + Duration::hours(25), now),
            Err(ShiftError::TooLong)
        );
        assert_eq!(
            check_new(&held, &r1, t(6, 0), t(7, 0), now),
            Err(ShiftError::InThePast)
        );
        let e = check_new(&held, &r1, t(16, 0), t(20, 0), now).unwrap_err();
        assert_eq!(e, ShiftError::Overlaps(ShiftId("shf_1".into())));
        assert_eq!(e.field(), "start");
        assert_eq!(e.to_string(), "overlaps shf_1");
        // Back to back, or another resource at the same time: fine.
        assert_eq!(check_new(&held, &r1, t(17, 0), t(23, 0), now), Ok(()));
        let r2 = ResourceId("res_2".into());
        assert_eq!(check_new(&held, &r2, t(9, 0), t(17, 0), now), Ok(()));
        // Started already but not ended: taken (it starts at once).
        assert_eq!(check_new(&[], &r1, t(7, 0), t(9, 0), now), Ok(()));
    }

    #[test]
    fn standing_follows_the_half_open_interval() {
        let held = [shift("shf_1", "res_1", t(9, 0), t(17, 0))];
        let r1 = ResourceId("res_1".into());
        assert_eq!(standing(&held, &r1, t(8, 59)), Standing::OffShift);
        assert_eq!(
            standing(&held, &r1, t(9, 0)),
            Standing::OnShift { ends_at: t(17, 0) }
        );
        assert_eq!(standing(&held, &r1, t(17, 0)), Standing::OffShift);
        let other = ResourceId("res_2".into());
        assert_eq!(standing(&held, &other, t(10, 0)), Standing::Unrostered);
        let all = standings(&held, t(10, 0));
        assert_eq!(all.get(&r1), Some(&Standing::OnShift { ends_at: t(17, 0) }));
        assert_eq!(all.get(&other), None);
    }

    #[test]
    fn the_next_change_names_who_goes_on_and_off() {
        let held = [
            shift("shf_1", "res_1", t(9, 0), t(17, 0)),
            shift("shf_2", "res_2", t(13, 0), t(21, 0)),
            shift("shf_3", "res_3", t(9, 0), t(17, 0)),
            // res_1 again straight after: no change for res_1 at 17:00.
            shift("shf_4", "res_1", t(17, 0), t(23, 0)),
            shift("shf_5", "res_4", t(17, 0), t(23, 0)),
        ];
        let c = next_change(&held, t(8, 0)).unwrap();
        assert_eq!(c.at, t(9, 0));
        assert_eq!(
            c.on,
            [ResourceId("res_1".into()), ResourceId("res_3".into())]
        );
        assert!(c.off.is_empty());
        // Strictly after now: at 09:00 the next is 13:00.
        assert_eq!(next_change(&held, t(9, 0)).unwrap().at, t(13, 0));
        let c = next_change(&held, t(14, 0)).unwrap();
        assert_eq!(c.at, t(17, 0));
        assert_eq!(c.on, [ResourceId("res_4".into())]);
        assert_eq!(c.off, [ResourceId("res_3".into())]);
        assert_eq!(next_change(&held, t(23, 0)), None);
        // Only a back-to-back change at a moment: skipped to the next real one.
        let only = [
            shift("shf_1", "res_1", t(9, 0), t(17, 0)),
            shift("shf_2", "res_1", t(17, 0), t(23, 0)),
        ];
        assert_eq!(next_change(&only, t(10, 0)).unwrap().at, t(23, 0));
    }
}
