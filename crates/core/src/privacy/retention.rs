//! Retention: how long each category of personal data is kept (`[privacy.retention]`
//! in the centre's procedures, in days), and what a sweep at `now` erases.
//!
//! Day-scoped categories (staff locations, check-in notes) count from the event's UTC
//! day; the others from the close of their record: the contact, the incident (closed
//! or cancelled), the case, the support plan's review. Records linked to an open
//! incident or case are under legal hold and never swept. `0` days keeps a category
//! until it is erased on request.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::subject::incident_open;
use super::{Category, RecordRef, RecordType};
use crate::domain::case::CaseStatus;
use crate::domain::contact::ContactStatus;
use crate::domain::ids::IncidentId;
use crate::domain::incident::Incident;
use crate::domain::support::PlanStatus;
use crate::engine::state::State;

/// `[privacy]` in the centre's procedures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub retention: Retention,
}

/// `[privacy.retention]`: days each category is kept (0: until erased).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub caller_details: u32,
    pub free_text: u32,
    pub staff_details: u32,
    pub staff_locations: u32,
    pub checkin_notes: u32,
    pub cases: u32,
    pub support_plans: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            caller_details: 2555,
            free_text: 2555,
            staff_details: 0,
            staff_locations: 30,
            checkin_notes: 365,
            cases: 2190,
            support_plans: 730,
        }
    }
}

/// The longest retention accepted: a century.
pub const MAX_DAYS: u32 = 36_500;

/// Most records one `privacy.swept` names; the next sweep takes the rest.
pub const MAX_SWEPT: usize = 1_000;

impl Retention {
    /// Days a category is kept (0: until erased).
    pub fn days(&self, category: Category) -> u32 {
        match category {
            Category::CallerDetails => self.caller_details,
            Category::FreeText => self.free_text,
            Category::StaffDetails => self.staff_details,
            Category::StaffLocations => self.staff_locations,
            Category::CheckinNotes => self.checkin_notes,
            Category::Cases => self.cases,
            Category::SupportPlans => self.support_plans,
        }
    }
}

impl Policy {
    /// What is wrong with the settings, as `(field under privacy, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for c in Category::ALL {
            let days = self.retention.days(c);
            if days > MAX_DAYS {
                out.push((
                    format!("retention.{c}"),
                    format!("at most {MAX_DAYS} days (0 keeps it until erased)"),
                ));
            }
        }
        if self.retention.staff_details != 0 {
            out.push((
                "retention.staff_details".into(),
                "staff details last as long as the account: set 0 and erase a leaver with privacy.erase".into(),
            ));
        }
        out
    }
}

/// One category's sweep: the event `privacy.swept` records.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub category: Category,
    pub retention_days: u32,
    /// Data from before this time is erased (for day-scoped categories, a midnight).
    pub before: DateTime<Utc>,
    pub records: Vec<RecordRef>,
}

/// When an incident stopped being open, if it has.
fn finished_at(i: &Incident) -> Option<DateTime<Utc>> {
    use crate::domain::incident::IncidentStatus as S;
    match i.status {
        S::Closed => i.closed_at,
        S::Cancelled => i.cancelled_at,
        _ => None,
    }
}

/// The cutoff for a category at `now`, or `None` when it is kept until erased.
pub fn cutoff(category: Category, days: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if days == 0 {
        return None;
    }
    let before = now - Duration::days(i64::from(days));
    Some(if category.day_scoped() {
        before.date_naive().and_time(NaiveTime::MIN).and_utc()
    } else {
        before
    })
}

/// Everything due for erasure at `now` under `retention`, per category (only those
/// with something due), at most [`MAX_SWEPT`] records each, in id order.
pub fn due(state: &State, retention: &Retention, now: DateTime<Utc>) -> Vec<Due> {
    // Incidents a still-open case is about stay on hold with it.
    let held_by_cases: BTreeSet<&IncidentId> = state
        .cases
        .values()
        .filter(|c| c.status != CaseStatus::Closed)
        .flat_map(|c| c.incident_ids.iter())
        .collect();
    let incident_done = |id: &IncidentId, before: DateTime<Utc>| {
        !held_by_cases.contains(id)
            && state
                .incidents
                .get(id)
                .and_then(finished_at)
                .is_some_and(|t| t < before)
    };
    let contacts_held: BTreeSet<&crate::domain::ids::ContactId> = state
        .cases
        .values()
        .filter(|c| c.status != CaseStatus::Closed)
        .filter_map(|c| c.contact_id.as_ref())
        .collect();
    let erased = |r: &RecordRef, c: Category| state.privacy.is_erased(r, c);
    let mut out = Vec::new();
    for category in Category::ALL {
        let days = retention.days(category);
        let Some(before) = cutoff(category, days, now) else {
            continue;
        };
        let mut records = Vec::new();
        let mut take = |r: RecordRef| {
            if records.len() < MAX_SWEPT && !erased(&r, category) {
                records.push(r);
            }
        };
        match category {
            Category::CallerDetails | Category::FreeText => {
                for c in state.contacts.values() {
                    let closed = c.status == ContactStatus::Closed
                        && c.closed_at.is_some_and(|t| t < before);
                    let held = c
                        .incident_id
                        .as_ref()
                        .is_some_and(|i| incident_open(state, i) || held_by_cases.contains(i))
                        || contacts_held.contains(&c.id);
                    if closed && !held {
                        take(RecordRef::new(RecordType::Contact, c.id.as_str()));
                    }
                }
                if category == Category::FreeText {
                    for i in state.incidents.values() {
                        if incident_done(&i.id, before) {
                            take(RecordRef::new(RecordType::Incident, i.id.as_str()));
                        }
                    }
                    for a in state.assignments.values() {
                        if incident_done(&a.incident_id, before) {
                            take(RecordRef::new(RecordType::Assignment, a.id.as_str()));
                        }
                    }
                }
            }
            Category::StaffDetails => {}
            Category::StaffLocations => {
                for (r, days) in &state.privacy.location_days {
                    if days.first().is_some_and(|d| *d < before.date_naive()) {
                        take(RecordRef::new(RecordType::Resource, r.as_str()));
                    }
                }
            }
            Category::CheckinNotes => {
                for (a, days) in &state.privacy.checkin_days {
                    let open = state
                        .assignments
                        .get(a)
                        .is_some_and(|a| incident_open(state, &a.incident_id));
                    if !open && days.first().is_some_and(|d| *d < before.date_naive()) {
                        take(RecordRef::new(RecordType::Assignment, a.as_str()));
                    }
                }
            }
            Category::Cases => {
                for c in state.cases.values() {
                    if c.status == CaseStatus::Closed && c.closed_at.is_some_and(|t| t < before) {
                        take(RecordRef::new(RecordType::Case, c.id.as_str()));
                    }
                }
            }
            Category::SupportPlans => {
                for p in state.plans.values() {
                    if p.status == PlanStatus::Reviewed && p.reviewed_at.is_some_and(|t| t < before)
                    {
                        take(RecordRef::new(RecordType::Plan, p.id.as_str()));
                    }
                }
            }
        }
        if !records.is_empty() {
            out.push(Due {
                category,
                retention_days: days,
                before,
                records,
            });
        }
    }
    out
}
