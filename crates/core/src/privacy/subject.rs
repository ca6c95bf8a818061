//! Data subjects: who personal data is about, how to find them, which records hold
//! their data, and whether those records are under legal hold.
//!
//! A subject id is `"{kind}:{id}"`: `caller:con_84` (a contact), `staff:usr_3` (a
//! user), `complainant:case_2` (a case), `plan:plan_7` (a support plan).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Category, ERASED, RecordRef, RecordType};
use crate::domain::case::CaseStatus;
use crate::domain::ids::{CaseId, ContactId, IncidentId, PlanId, UserId};
use crate::domain::incident::IncidentStatus;
use crate::engine::state::State;

/// The kind of data subject.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Caller,
    Staff,
    Complainant,
    Plan,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Caller => "caller",
            Kind::Staff => "staff",
            Kind::Complainant => "complainant",
            Kind::Plan => "plan",
        }
    }

    /// The categories an erasure of such a subject covers.
    pub const fn categories(self) -> &'static [Category] {
        match self {
            Kind::Caller => &[Category::CallerDetails, Category::FreeText],
            Kind::Staff => &[
                Category::StaffDetails,
                Category::StaffLocations,
                Category::CheckinNotes,
            ],
            Kind::Complainant => &[Category::Cases],
            Kind::Plan => &[Category::SupportPlans],
        }
    }
}

/// A parsed subject id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId {
    pub kind: Kind,
    pub id: String,
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// A subject id that is not `caller:…`, `staff:…`, `complainant:…` or `plan:…`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a subject id is caller:<contact id>, staff:<user id>, complainant:<case id> or plan:<plan id>, not {0:?}"
)]
pub struct BadSubjectId(pub String);

impl FromStr for SubjectId {
    type Err = BadSubjectId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadSubjectId(s.to_string());
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "caller" => Kind::Caller,
            "staff" => Kind::Staff,
            "complainant" => Kind::Complainant,
            "plan" => Kind::Plan,
            _ => return Err(bad()),
        };
        if id.is_empty() || id.len() > 64 || id.contains(['/', ':', ' ']) {
            return Err(bad());
        }
        Ok(SubjectId {
            kind,
            id: id.to_string(),
        })
    }
}

/// One match of a search: `{subject_id, kind, label, records}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Subject {
    pub subject_id: String,
    pub kind: Kind,
    pub label: String,
    pub records: Vec<RecordRef>,
}

/// Whether the subject exists in the state.
pub fn exists(state: &State, subject: &SubjectId) -> bool {
    match subject.kind {
        Kind::Caller => state.contacts.contains_key(subject.id.as_str()),
        Kind::Staff => state.users.contains_key(subject.id.as_str()),
        Kind::Complainant => state.cases.contains_key(subject.id.as_str()),
        Kind::Plan => state.plans.contains_key(subject.id.as_str()),
    }
}

fn incident_ref(state: &State, id: &IncidentId) -> RecordRef {
    RecordRef {
        record_type: RecordType::Incident,
        id: id.to_string(),
        reference: state.incidents.get(id).map(|i| i.reference.clone()),
    }
}

/// The records holding the subject's personal data (empty when there is no such
/// subject): a caller's contact, the incident it is linked to and that incident's
/// assignments; a member of staff's user, resource and the resource's assignments; a
/// complainant's case; a plan.
pub fn records_of(state: &State, subject: &SubjectId) -> Vec<RecordRef> {
    let mut out = Vec::new();
    match subject.kind {
        Kind::Caller => {
            let Some(c) = state.contacts.get(subject.id.as_str()) else {
                return out;
            };
            out.push(RecordRef::new(RecordType::Contact, c.id.as_str()));
            if let Some(i) = c.incident_id.as_ref().and_then(|i| state.incidents.get(i)) {
                out.push(incident_ref(state, &i.id));
                for a in &i.assignment_ids {
                    out.push(RecordRef::new(RecordType::Assignment, a.as_str()));
                }
            }
        }
        Kind::Staff => {
            let Some(u) = state.users.get(subject.id.as_str()) else {
                return out;
            };
            out.push(RecordRef::new(RecordType::User, u.id.as_str()));
            if let Some(r) = &u.resource_id {
                out.push(RecordRef::new(RecordType::Resource, r.as_str()));
                for a in state.assignments.values().filter(|a| &a.resource_id == r) {
                    out.push(RecordRef::new(RecordType::Assignment, a.id.as_str()));
                }
            }
        }
        Kind::Complainant => {
            if state.cases.contains_key(subject.id.as_str()) {
                out.push(RecordRef::new(RecordType::Case, subject.id.as_str()));
            }
        }
        Kind::Plan => {
            if state.plans.contains_key(subject.id.as_str()) {
                out.push(RecordRef::new(RecordType::Plan, subject.id.as_str()));
            }
        }
    }
    out
}

/// Whether an incident is still open (not closed or cancelled): on legal hold.
pub fn incident_open(state: &State, id: &IncidentId) -> bool {
    state
        .incidents
        .get(id)
        .is_some_and(|i| !matches!(i.status, IncidentStatus::Closed | IncidentStatus::Cancelled))
}

/// Whether a case is still open (not closed): on legal hold.
pub fn case_open(state: &State, id: &CaseId) -> bool {
    state
        .cases
        .get(id)
        .is_some_and(|c| c.status != CaseStatus::Closed)
}

/// The open incidents and cases (`inc_…`, `case_…`) linked to the subject's records:
/// while any is open the subject's data is under legal hold.
pub fn holds(state: &State, subject: &SubjectId) -> Vec<String> {
    let mut incidents: BTreeSet<IncidentId> = BTreeSet::new();
    let mut cases: BTreeSet<CaseId> = BTreeSet::new();
    for r in records_of(state, subject) {
        match r.record_type {
            RecordType::Incident => {
                incidents.insert(IncidentId(r.id));
            }
            RecordType::Assignment => {
                if let Some(a) = state.assignments.get(r.id.as_str()) {
                    incidents.insert(a.incident_id.clone());
                }
            }
            RecordType::Case => {
                if let Some(c) = state.cases.get(r.id.as_str()) {
                    incidents.extend(c.incident_ids.iter().cloned());
                }
                cases.insert(CaseId(r.id));
            }
            _ => {}
        }
    }
    if subject.kind == Kind::Caller {
        let contact = ContactId(subject.id.clone());
        for c in state.cases.values() {
            let linked = c.contact_id.as_ref() == Some(&contact)
                || c.incident_ids.iter().any(|i| incidents.contains(i));
            if linked {
                cases.insert(c.id.clone());
            }
        }
    }
    incidents
        .into_iter()
        .filter(|i| incident_open(state, i))
        .map(|i| i.0)
        .chain(
            cases
                .into_iter()
                .filter(|c| case_open(state, c))
                .map(|c| c.0),
        )
        .collect()
}

/// A short human label for the subject (its name where one is held).
pub fn label(state: &State, subject: &SubjectId) -> String {
    let user_label = |id: &UserId| {
        state.users.get(id).map_or_else(
            || id.to_string(),
            |u| format!("{} ({})", u.name, u.username),
        )
    };
    match subject.kind {
        Kind::Caller => state
            .contacts
            .get(subject.id.as_str())
            .and_then(|c| {
                [&c.caller.name, &c.caller.phone, &c.caller.email]
                    .into_iter()
                    .flatten()
                    .find(|v| v.as_str() != ERASED)
                    .cloned()
            })
            .unwrap_or_else(|| format!("caller on {}", subject.id)),
        Kind::Staff => user_label(&UserId(subject.id.clone())),
        Kind::Complainant => state
            .cases
            .get(subject.id.as_str())
            .map_or_else(|| subject.id.clone(), |c| c.from.clone()),
        Kind::Plan => state.plans.get(subject.id.as_str()).map_or_else(
            || subject.id.clone(),
            |p| format!("support plan for {}", user_label(&p.colleague_id)),
        ),
    }
}

/// The shortest search text accepted (shorter matches nearly everyone).
pub const MIN_QUERY: usize = 3;

/// A phone number's digits without its country (+44) or trunk (0) prefix, so
/// `020 7946 0000` finds `+44 20 7946 0000`.
fn phone_digits(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let national = if s.trim_start().starts_with('+') {
        digits.strip_prefix("44").unwrap_or(&digits)
    } else {
        digits.strip_prefix('0').unwrap_or(&digits)
    };
    national.to_string()
}

/// Lower-cased text, and the digits alone when it has enough of them to be a phone
/// number.
struct Needle {
    text: String,
    digits: Option<String>,
}

impl Needle {
    fn new(q: &str) -> Needle {
        let digits = phone_digits(q);
        Needle {
            text: q.trim().to_lowercase(),
            digits: (digits.len() >= 4).then_some(digits),
        }
    }

    fn matches(&self, value: Option<&String>) -> bool {
        let Some(v) = value else { return false };
        if v == ERASED {
            return false;
        }
        if v.to_lowercase().contains(&self.text) {
            return true;
        }
        self.digits
            .as_ref()
            .is_some_and(|d| phone_digits(v).contains(d.as_str()))
    }
}

/// The subjects whose personal data matches `q` (case-insensitive; a phone number
/// matches on its digits whatever the spacing): callers by name, phone or e-mail,
/// staff by name or username, complainants by name or e-mail, plans by colleague.
pub fn search(state: &State, q: &str) -> Vec<Subject> {
    let needle = Needle::new(q);
    if needle.text.chars().count() < MIN_QUERY {
        return Vec::new();
    }
    let mut found: Vec<SubjectId> = Vec::new();
    for c in state.contacts.values() {
        let caller = &c.caller;
        if [&caller.name, &caller.phone, &caller.email]
            .into_iter()
            .any(|v| needle.matches(v.as_ref()))
        {
            found.push(SubjectId {
                kind: Kind::Caller,
                id: c.id.to_string(),
            });
        }
    }
    let mut staff: BTreeSet<UserId> = BTreeSet::new();
    for u in state.users.values() {
        if needle.matches(Some(&u.name)) || needle.matches(Some(&u.username)) {
            staff.insert(u.id.clone());
            found.push(SubjectId {
                kind: Kind::Staff,
                id: u.id.to_string(),
            });
        }
    }
    for c in state.cases.values() {
        if needle.matches(Some(&c.from)) || needle.matches(c.email.as_ref()) {
            found.push(SubjectId {
                kind: Kind::Complainant,
                id: c.id.to_string(),
            });
        }
    }
    for p in state.plans.values() {
        if staff.contains(&p.colleague_id) {
            found.push(SubjectId {
                kind: Kind::Plan,
                id: p.id.to_string(),
            });
        }
    }
    found
        .into_iter()
        .map(|s| Subject {
            subject_id: s.to_string(),
            kind: s.kind,
            label: label(state, &s),
            records: records_of(state, &s),
        })
        .collect()
}

/// Everything the state holds about the subject, in clear, as one document: the
/// subject, its records and each record as the state holds it (the state holds no
/// password hash). `None` when there is no such subject.
pub fn export(state: &State, subject: &SubjectId) -> Option<Value> {
    if !exists(state, subject) {
        return None;
    }
    let records = records_of(state, subject);
    let mut held = serde_json::Map::new();
    let mut put = |key: &str, value: Value| {
        if let Value::Array(list) = held
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(value);
        }
    };
    for r in &records {
        let id = r.id.as_str();
        match r.record_type {
            RecordType::Contact => state.contacts.get(id).map(|v| put("contacts", json!(v))),
            RecordType::Incident => state.incidents.get(id).map(|v| put("incidents", json!(v))),
            RecordType::Assignment => state
                .assignments
                .get(id)
                .map(|v| put("assignments", json!(v))),
            RecordType::User => state.users.get(id).map(|u| {
                put("users", json!(u));
                if let Some(subs) = state.push_subscriptions.get(id) {
                    put("push_subscriptions", json!(subs));
                }
            }),
            RecordType::Resource => state.resources.get(id).map(|v| put("resources", json!(v))),
            RecordType::Case => state.cases.get(id).map(|v| put("cases", json!(v))),
            RecordType::Plan => state.plans.get(id).map(|v| put("plans", json!(v))),
        };
    }
    let holds = holds(state, subject);
    Some(json!({
        "subject_id": subject.to_string(),
        "kind": subject.kind,
        "label": label(state, subject),
        "records": records,
        "categories": subject.kind.categories(),
        "holds": holds,
        "held": held,
    }))
}

/// The plan ids of a colleague (for an export of a member of staff's subjects).
pub fn plans_of(state: &State, user: &UserId) -> Vec<PlanId> {
    state
        .plans
        .values()
        .filter(|p| &p.colleague_id == user)
        .map(|p| p.id.clone())
        .collect()
}
