//! Incidents: what happened, as the centre understands it. An incident moves
//! `new → assessed → dispatched → in_progress → resolved → closed`; it may be
//! cancelled while open and reopened (back to `assessed`) once finished.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::geo::Location;
use super::ids::{AssignmentId, ContactId, IncidentId, UserId};
use super::triage::{Priority, TriageMethod, Validity};
use super::{Lifecycle, wire_enum};

wire_enum!(
    /// Where an incident is in its lifecycle.
    IncidentStatus {
        New => "new",
        Assessed => "assessed",
        Dispatched => "dispatched",
        InProgress => "in_progress",
        Resolved => "resolved",
        Closed => "closed",
        Cancelled => "cancelled",
    }
);

impl Lifecycle for IncidentStatus {
    const ENTITY: &'static str = "incident";

    fn next(self) -> &'static [Self] {
        use IncidentStatus::*;
        match self {
            // New → dispatched only when a supervisor waived the assessment step.
            New => &[Assessed, Dispatched, Cancelled],
            Assessed => &[Dispatched, Resolved, Cancelled],
            // Back to assessed when every resource sent has declined or been stood down.
            Dispatched => &[InProgress, Assessed, Resolved, Cancelled],
            InProgress => &[Resolved, Cancelled],
            // Reopening goes back to assessed.
            Resolved => &[Closed, Assessed],
            Closed => &[Assessed],
            Cancelled => &[Assessed],
        }
    }

    fn name(self) -> &'static str {
        IncidentStatus::name(self)
    }
}

impl IncidentStatus {
    /// Still being handled: not resolved, closed or cancelled.
    pub fn is_open(self) -> bool {
        use IncidentStatus::*;
        matches!(self, New | Assessed | Dispatched | InProgress)
    }
}

/// One validity and priority decision, kept in order so reviews can see reassessments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assessment {
    pub validity: Validity,
    pub priority: Option<Priority>,
    pub method: TriageMethod,
    pub reason: String,
    /// The priority rule or matrix cell that produced the priority, when a method did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<IncidentId>,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A free-text note on the incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Note {
    pub text: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A supervisor's recorded waiver of one procedure rule on this incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Override {
    pub rule: String,
    pub justification: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// One incident as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Incident {
    pub id: IncidentId,
    /// Human reference, `INC-2026-000123`.
    pub reference: String,
    #[serde(rename = "type")]
    pub incident_type: String,
    pub description: String,
    pub location: Location,
    pub status: IncidentStatus,
    pub validity: Validity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub assessments: Vec<Assessment>,
    /// Call-script answers by question id.
    #[serde(default)]
    pub answers: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default)]
    pub contact_ids: Vec<ContactId>,
    #[serde(default)]
    pub assignment_ids: Vec<AssignmentId>,
    #[serde(default)]
    pub overrides: Vec<Override>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub opened_by: UserId,
    pub opened_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// How often the incident was reopened.
    #[serde(default)]
    pub reopened: u32,
    /// Set when this incident was merged into another as its duplicate (it is then
    /// `cancelled`, for good: a merged incident is not reopened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<IncidentId>,
    /// The duplicates merged into this one; their notes stay on them, read by reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<IncidentId>,
    /// The partner centres it is shared with (`incident.share`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
}

/// A partner centre's name: 1 to 64 lower-case letters, digits, `_` or `-`.
pub fn valid_partner(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Incident {
    /// True when a supervisor has waived `rule` on this incident.
    pub fn is_overridden(&self, rule: &str) -> bool {
        self.overrides.iter().any(|o| o.rule == rule)
    }

    /// Sets the timestamp that belongs to entering `status`.
    pub fn stamp(&mut self, status: IncidentStatus, at: DateTime<Utc>) {
        use IncidentStatus::*;
        let slot = match status {
            New => return,
            Assessed => &mut self.assessed_at,
            Dispatched => &mut self.dispatched_at,
            InProgress => &mut self.in_progress_at,
            Resolved => &mut self.resolved_at,
            Closed => &mut self.closed_at,
            Cancelled => &mut self.cancelled_at,
        };
        slot.get_or_insert(at);
    }
}

/// Procedure rules a supervisor may waive on one incident with `incident.override`.
pub mod rules {
    /// Dispatch needs validity and priority assessed (and the report not false or a duplicate).
    pub const DISPATCH_REQUIRES_ASSESSMENT: &str = "dispatch_requires_assessment";
    /// Closing needs every required action of every assignment done.
    pub const CLOSE_REQUIRES_ACTIONS: &str = "close_requires_actions";
    /// Assigning a resource that lacks the type's required skills.
    pub const REQUIRED_SKILLS: &str = "required_skills";
    /// Assessing by protocol needs every required call-script question answered.
    pub const REQUIRED_QUESTIONS: &str = "required_questions";
    /// Completing an assignment needs every required action done, or a reason for each
    /// one left undone (`assignment.progress {skipped}`). Not waived with an override:
    /// the reasons are the waiver, given by whoever completes the work.
    pub const REQUIRED_ACTIONS: &str = "required_actions";

    /// Every rule, with what it protects, for error messages and the conformance report.
    pub const ALL: &[(&str, &str)] = &[
        (
            DISPATCH_REQUIRES_ASSESSMENT,
            "validity and priority assessed before dispatch",
        ),
        (
            CLOSE_REQUIRES_ACTIONS,
            "every required action done before closing",
        ),
        (
            REQUIRED_SKILLS,
            "resources sent have the skills the incident type requires",
        ),
        (
            REQUIRED_QUESTIONS,
            "every required call-script question answered before assessing by protocol",
        ),
    ];

    pub fn is_known(rule: &str) -> bool {
        ALL.iter().any(|(r, _)| *r == rule)
    }
}

/// The human reference for the `n`th incident of the year of `at`.
pub fn reference(at: DateTime<Utc>, n: u32) -> String {
    format!("INC-{}-{:06}", at.year(), n)
}

impl super::Finish for Incident {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            IncidentStatus::Resolved => self.resolved_at,
            IncidentStatus::Closed => self.closed_at,
            IncidentStatus::Cancelled => self.cancelled_at,
            _ => None,
        }
    }
}

/// An incident as it was opened (`incident.opened`): its reference, type, description
/// and place. Who opened it and when are the envelope's; it starts `new`, unverified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewIncident {
    pub id: IncidentId,
    pub reference: String,
    #[serde(rename = "type")]
    pub incident_type: String,
    pub description: String,
    pub location: Location,
}

/// An assessment as it was made (`incident.assessed`); who and when are the envelope's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewAssessment {
    pub validity: Validity,
    /// `null` for a duplicate or false report.
    #[serde(default)]
    pub priority: Option<Priority>,
    pub method: TriageMethod,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<IncidentId>,
}

/// A note as it was written (`incident.noted`); who and when are the envelope's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewNote {
    pub text: String,
}

impl Incident {
    /// The incident an `incident.opened` fact starts, opened `at` by `by`.
    pub fn opened(new: &NewIncident, at: DateTime<Utc>, by: &UserId) -> Incident {
        let NewIncident {
            id,
            reference,
            incident_type,
            description,
            location,
        } = new;
        Incident {
            id: id.clone(),
            reference: reference.clone(),
            incident_type: incident_type.clone(),
            description: description.clone(),
            location: location.clone(),
            status: IncidentStatus::New,
            validity: Validity::Unverified,
            priority: None,
            assessments: Vec::new(),
            answers: BTreeMap::new(),
            notes: Vec::new(),
            contact_ids: Vec::new(),
            assignment_ids: Vec::new(),
            overrides: Vec::new(),
            outcome: None,
            summary: None,
            opened_by: by.clone(),
            opened_at: at,
            assessed_at: None,
            dispatched_at: None,
            in_progress_at: None,
            resolved_at: None,
            closed_at: None,
            cancelled_at: None,
            cancel_reason: None,
            reopened: 0,
            merged_into: None,
            merged_from: Vec::new(),
            shared_with: Vec::new(),
        }
    }
}

impl Assessment {
    /// The assessment an `incident.assessed` fact records, made `at` by `by`.
    pub fn made(new: &NewAssessment, at: DateTime<Utc>, by: &UserId) -> Assessment {
        Assessment {
            validity: new.validity,
            priority: new.priority,
            method: new.method,
            reason: new.reason.clone(),
            rule: new.rule.clone(),
            duplicate_of: new.duplicate_of.clone(),
            by: by.clone(),
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    #[test]
    fn incident_lifecycle_table() {
        let allowed = [
            (New, Assessed),
            (New, Dispatched),
            (New, Cancelled),
            (Assessed, Dispatched),
            (Assessed, Resolved),
            (Assessed, Cancelled),
            (Dispatched, InProgress),
            (Dispatched, Assessed),
            (Dispatched, Resolved),
            (Dispatched, Cancelled),
            (InProgress, Resolved),
            (InProgress, Cancelled),
            (Resolved, Closed),
            (Resolved, Assessed),
            (Closed, Assessed),
            (Cancelled, Assessed),
        ];
        for &from in IncidentStatus::ALL {
            for &to in IncidentStatus::ALL {
                assert_eq!(
                    from.check_move(to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(
            New.check_move(Closed).unwrap_err().to_string(),
            "incident cannot go from new to closed"
        );
    }

    /// The rules `incident.override` accepts are one list: PROTOCOL.md's `rule`
    /// (override) values and the rules its "Centre rules" table waives by override are
    /// exactly `rules::ALL`, and the catalogue hands the apps the same list.
    #[test]
    fn override_rules_are_one_list_in_the_engine_the_protocol_and_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md");
        let text = std::fs::read_to_string(path).expect("docs/PROTOCOL.md");
        let ours: std::collections::BTreeSet<&str> = rules::ALL.iter().map(|(r, _)| *r).collect();
        let ticked = |cell: &str| -> std::collections::BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .map(str::to_string)
                .collect()
        };
        let values = text
            .lines()
            .find(|l| l.starts_with("| `rule` (override) |"))
            .expect("PROTOCOL.md lists the override's rule values");
        let cell = values.split('|').nth(2).unwrap();
        let listed = ticked(cell.split('(').next().unwrap());
        assert_eq!(listed, ours.iter().map(|r| r.to_string()).collect());
        let start = text
            .find("### Centre rules")
            .expect("a Centre rules section");
        let waived_by_override: std::collections::BTreeSet<String> = text[start..]
            .lines()
            .skip_while(|l| !l.starts_with("| `"))
            .take_while(|l| l.starts_with('|'))
            .filter(|l| {
                l.rsplit('|')
                    .nth(1)
                    .is_some_and(|c| c.contains("`incident.override`"))
            })
            .filter_map(|l| ticked(l.split('|').nth(1).unwrap()).into_iter().next())
            .collect();
        assert_eq!(
            waived_by_override,
            ours.iter().map(|r| r.to_string()).collect()
        );
        let centre = crate::testing::demo_centre();
        let catalogue: std::collections::BTreeSet<&str> = centre
            .catalogue()
            .override_rules
            .iter()
            .map(|r| r.rule)
            .collect();
        assert_eq!(catalogue, ours);
    }

    #[test]
    fn references_are_year_and_six_digits() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(reference(at, 123), "INC-2026-000123");
    }
}
