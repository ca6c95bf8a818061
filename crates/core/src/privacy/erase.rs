//! Erasure in the read state: what `privacy.erased` and `privacy.swept` blank, and the
//! key scopes each covers (the hub erases those keys once the event is durable).
//!
//! Erased strings read [`ERASED`]; optional values and lists become `None` or empty.
//! Only the fields the classification marks personal are touched, so every
//! timestamp, status, type and id, and with them the review's KPIs, stay as they were.
//! Coarse locations (contact and incident `lat`/`lon`) keep their clear value.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Category, ERASED, RecordRef, RecordType};
use crate::domain::ids::{AssignmentId, ResourceId};
use crate::engine::event::Event;
use crate::engine::state::State;

/// What the state remembers about personal data: the scopes erased (an exact scope,
/// or a prefix ending in `/` for every day of a day-scoped category) and the days
/// still holding day-scoped data, for the sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacyState {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub erased: BTreeSet<String>,
    /// UTC days with `resource.located` events not yet erased, per resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub location_days: BTreeMap<ResourceId, BTreeSet<NaiveDate>>,
    /// UTC days with check-in notes not yet erased, per assignment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checkin_days: BTreeMap<AssignmentId, BTreeSet<NaiveDate>>,
    /// The seq of the last erasure: a client that resumes from before it gets a fresh
    /// snapshot, never the events before it again.
    #[serde(default)]
    pub last_erasure: u64,
}

impl PrivacyState {
    /// Whether the whole of a record's category is erased.
    pub fn is_erased(&self, record: &RecordRef, category: Category) -> bool {
        let scope = record.scope(category);
        if category.day_scoped() {
            self.erased.contains(&format!("{scope}/"))
        } else {
            self.erased.contains(&scope)
        }
    }

    /// Whether one day of a day-scoped category is erased.
    pub fn is_day_erased(&self, record: &RecordRef, category: Category, day: NaiveDate) -> bool {
        self.is_erased(record, category) || self.erased.contains(&record.day_scope(category, day))
    }
}

fn blank(s: &mut String) {
    if !s.is_empty() {
        *s = ERASED.to_string();
    }
}

fn blank_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        *s = ERASED.to_string();
    }
}

/// Blanks the fields of one category of one record in the read models.
fn blank_record(state: &mut State, r: &RecordRef, category: Category) {
    let id = r.id.as_str();
    match (r.record_type, category) {
        (RecordType::Contact, Category::CallerDetails) => {
            if let Some(c) = state.contacts.get_mut(id) {
                blank_opt(&mut c.caller.name);
                blank_opt(&mut c.caller.phone);
                blank_opt(&mut c.caller.email);
                if let Some(l) = &mut c.location {
                    blank_opt(&mut l.text);
                }
            }
        }
        (RecordType::Contact, Category::FreeText) => {
            if let Some(c) = state.contacts.get_mut(id) {
                blank(&mut c.summary);
            }
        }
        (RecordType::Incident, Category::FreeText) => {
            if let Some(i) = state.incidents.get_mut(id) {
                blank(&mut i.description);
                blank_opt(&mut i.location.text);
                for v in i.answers.values_mut() {
                    *v = match v {
                        serde_json::Value::String(_) => ERASED.into(),
                        _ => serde_json::Value::Null,
                    };
                }
                for n in &mut i.notes {
                    blank(&mut n.text);
                }
                blank_opt(&mut i.summary);
            }
        }
        (RecordType::Assignment, Category::FreeText) => {
            if let Some(a) = state.assignments.get_mut(id) {
                for x in &mut a.actions {
                    blank_opt(&mut x.note);
                }
            }
        }
        (RecordType::User, Category::StaffDetails) => {
            if let Some(u) = state.users.get_mut(id) {
                blank(&mut u.name);
            }
            // The single sign-on subject is erased with the staff details: the person
            // can no longer sign in as this account.
            state.identities.retain(|_, user| user.as_str() != id);
            state.push_subscriptions.remove(id);
        }
        (RecordType::Resource, Category::StaffDetails) => {
            if let Some(x) = state.resources.get_mut(id) {
                blank_opt(&mut x.email);
                blank_opt(&mut x.phone);
            }
        }
        (RecordType::Case, Category::Cases) => {
            if let Some(c) = state.cases.get_mut(id) {
                blank(&mut c.from);
                blank(&mut c.text);
                blank_opt(&mut c.email);
                blank_opt(&mut c.response);
                blank_opt(&mut c.root_cause);
            }
        }
        (RecordType::Plan, Category::SupportPlans) => {
            if let Some(p) = state.plans.get_mut(id) {
                for n in &mut p.notes {
                    blank(&mut n.text);
                }
                blank_opt(&mut p.review_outcome);
                for e in &mut p.evidence {
                    blank(&mut e.evidence.summary);
                    e.evidence.score = None;
                    e.evidence.figures = serde_json::Value::Null;
                }
            }
        }
        // Day-scoped categories are handled by day; other pairs hold nothing.
        _ => {}
    }
}

/// Erases the days before `before` (every day when `None`) of a day-scoped category.
fn erase_days(state: &mut State, r: &RecordRef, category: Category, before: Option<NaiveDate>) {
    let days = match (r.record_type, category) {
        (RecordType::Resource, Category::StaffLocations) => {
            let cut = before.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
            if let Some(x) = state.resources.get_mut(r.id.as_str())
                && x.location
                    .as_ref()
                    .is_some_and(|p| cut.is_none_or(|c| p.at < c))
            {
                x.location = None;
            }
            state.privacy.location_days.get_mut(r.id.as_str())
        }
        (RecordType::Assignment, Category::CheckinNotes) => {
            state.privacy.checkin_days.get_mut(r.id.as_str())
        }
        _ => return,
    };
    let Some(days) = days else {
        if before.is_none() {
            state
                .privacy
                .erased
                .insert(format!("{}/", r.scope(category)));
        }
        return;
    };
    let gone: Vec<NaiveDate> = days
        .iter()
        .copied()
        .filter(|d| before.is_none_or(|b| *d < b))
        .collect();
    for d in &gone {
        days.remove(d);
    }
    let empty = days.is_empty();
    match before {
        None => {
            state
                .privacy
                .erased
                .insert(format!("{}/", r.scope(category)));
        }
        Some(_) => {
            for d in gone {
                state.privacy.erased.insert(r.day_scope(category, d));
            }
        }
    }
    if empty {
        match category {
            Category::StaffLocations => {
                state.privacy.location_days.remove(r.id.as_str());
            }
            _ => {
                state.privacy.checkin_days.remove(r.id.as_str());
            }
        }
    }
}

/// The fold of `privacy.erased`: every category of every record, all days.
pub fn apply_erased(state: &mut State, records: &[RecordRef], categories: &[Category]) {
    state.privacy.last_erasure = state.seq;
    for r in records {
        for &c in categories {
            if !r.record_type.categories().contains(&c) {
                continue;
            }
            if c.day_scoped() {
                erase_days(state, r, c, None);
            } else {
                blank_record(state, r, c);
                state.privacy.erased.insert(r.scope(c));
            }
        }
    }
}

/// The fold of `privacy.swept`: one category of the records, data from before
/// `before`.
pub fn apply_swept(
    state: &mut State,
    category: Category,
    before: DateTime<Utc>,
    records: &[RecordRef],
) {
    state.privacy.last_erasure = state.seq;
    for r in records {
        if !r.record_type.categories().contains(&category) {
            continue;
        }
        if category.day_scoped() {
            erase_days(state, r, category, Some(before.date_naive()));
        } else {
            blank_record(state, r, category);
            state.privacy.erased.insert(r.scope(category));
        }
    }
}

/// The key scopes an event erased, judged on the state right after it was applied:
/// exact scopes, or prefixes ending in `/` (every day of a day-scoped category). Empty
/// for every other event.
pub fn scopes(event: &Event, state_after: &State) -> Vec<String> {
    let mut out = Vec::new();
    match event {
        Event::PrivacyErased {
            records,
            categories,
            ..
        } => {
            for r in records {
                for &c in categories {
                    if !r.record_type.categories().contains(&c) {
                        continue;
                    }
                    if c.day_scoped() {
                        out.push(format!("{}/", r.scope(c)));
                    } else {
                        out.push(r.scope(c));
                    }
                }
            }
        }
        Event::PrivacySwept {
            category,
            before,
            records,
            ..
        } => {
            for r in records {
                if !r.record_type.categories().contains(category) {
                    continue;
                }
                if category.day_scoped() {
                    let prefix = format!("{}/", r.scope(*category));
                    let before = before.date_naive().format("%Y-%m-%d").to_string();
                    out.extend(
                        state_after
                            .privacy
                            .erased
                            .range(prefix.clone()..)
                            .take_while(|s| s.starts_with(&prefix))
                            .filter(|s| s.len() > prefix.len() && s[prefix.len()..] < *before)
                            .cloned(),
                    );
                } else {
                    out.push(r.scope(*category));
                }
            }
        }
        _ => {}
    }
    out
}

/// Records a day of day-scoped personal data arriving (a location ping, a check-in
/// note), so the sweep knows what it holds.
pub fn note_day(state: &mut State, event: &Event, at: DateTime<Utc>) {
    match event {
        Event::ResourceLocated { resource_id, .. } => {
            state
                .privacy
                .location_days
                .entry(resource_id.clone())
                .or_default()
                .insert(at.date_naive());
        }
        Event::CheckinRecorded {
            assignment_id,
            note: Some(_),
            ..
        } => {
            state
                .privacy
                .checkin_days
                .entry(assignment_id.clone())
                .or_default()
                .insert(at.date_naive());
        }
        _ => {}
    }
}

/// Blanks, in a record read back from the log, the personal fields whose scope has
/// been erased, as they read once their key is gone: for readers of old events (an
/// incident's timeline, a case's evidence pack) while the log holds them in clear.
pub fn redact(rec: &mut crate::engine::event::Record, privacy: &PrivacyState) {
    use Category::*;
    use RecordType as T;
    let day = rec.at.date_naive();
    let gone = |t: RecordType, id: &str, c: Category| {
        let r = RecordRef::new(t, id);
        if c.day_scoped() {
            privacy.is_day_erased(&r, c, day)
        } else {
            privacy.is_erased(&r, c)
        }
    };
    match &mut rec.event {
        Event::ContactReceived { contact: c } => {
            if gone(T::Contact, c.id.as_str(), CallerDetails) {
                blank_opt(&mut c.caller.name);
                blank_opt(&mut c.caller.phone);
                blank_opt(&mut c.caller.email);
                if let Some(l) = &mut c.location {
                    blank_opt(&mut l.text);
                }
            }
            if gone(T::Contact, c.id.as_str(), FreeText) {
                blank(&mut c.summary);
            }
        }
        Event::ContactClosed {
            contact_id, note, ..
        } if gone(T::Contact, contact_id.as_str(), FreeText) => blank_opt(note),
        Event::IncidentOpened { incident: i, .. } if gone(T::Incident, i.id.as_str(), FreeText) => {
            blank(&mut i.description);
            blank_opt(&mut i.location.text);
        }
        Event::IncidentAnswered {
            incident_id,
            answers,
            ..
        } if gone(T::Incident, incident_id.as_str(), FreeText) => {
            for v in answers.values_mut() {
                *v = match v {
                    serde_json::Value::String(_) => ERASED.into(),
                    _ => serde_json::Value::Null,
                };
            }
        }
        Event::IncidentNoted { incident_id, note }
            if gone(T::Incident, incident_id.as_str(), FreeText) =>
        {
            blank(&mut note.text)
        }
        Event::IncidentResolved {
            incident_id,
            summary,
            ..
        } if gone(T::Incident, incident_id.as_str(), FreeText) => blank(summary),
        Event::AssignmentActionDone {
            assignment_id,
            note,
            ..
        } if gone(T::Assignment, assignment_id.as_str(), FreeText) => blank_opt(note),
        Event::CheckinRecorded {
            assignment_id,
            note,
            ..
        } if gone(T::Assignment, assignment_id.as_str(), CheckinNotes) => blank_opt(note),
        Event::UserCreated { user } if gone(T::User, user.id.as_str(), StaffDetails) => {
            if let Some(identity) = &mut user.identity {
                blank(&mut identity.subject);
            }
            blank(&mut user.name)
        }
        Event::ResourceRegistered { resource }
            if gone(T::Resource, resource.id.as_str(), StaffDetails) =>
        {
            blank_opt(&mut resource.email);
            blank_opt(&mut resource.phone);
        }
        Event::CaseOpened { case } if gone(T::Case, case.id.as_str(), Cases) => {
            blank(&mut case.from);
            blank(&mut case.text);
            blank_opt(&mut case.email);
        }
        Event::CaseResponded { case_id, response } if gone(T::Case, case_id.as_str(), Cases) => {
            blank(response)
        }
        Event::CaseClosed {
            case_id,
            root_cause,
            ..
        } if gone(T::Case, case_id.as_str(), Cases) => blank_opt(root_cause),
        Event::SupportNoted { plan_id, text } if gone(T::Plan, plan_id.as_str(), SupportPlans) => {
            blank(text)
        }
        Event::SupportReviewed { plan_id, outcome }
            if gone(T::Plan, plan_id.as_str(), SupportPlans) =>
        {
            blank(outcome)
        }
        _ => {}
    }
}
