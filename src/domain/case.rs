//! Cases: queries and complaints about how an incident was handled. A case is opened
//! from a contact or directly, linked to incidents, assigned to a handler, responded
//! to and closed with an outcome and (for complaints) a root cause from the centre's
//! list, so reviews can count complaints and what caused them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CaseId, ContactId, IncidentId, UserId};
use super::{DomainError, Lifecycle, MAX_SHORT_TEXT, MAX_TEXT, check_text, wire_enum};

wire_enum!(
    /// What kind of case it is.
    CaseType {
        /// A question about an incident or the service.
        Query => "query",
        /// A complaint about how an incident was handled.
        Complaint => "complaint",
    }
);

wire_enum!(
    /// Where a case is in its handling.
    CaseStatus {
        Open => "open",
        Assigned => "assigned",
        Responded => "responded",
        Closed => "closed",
    }
);

impl Lifecycle for CaseStatus {
    const ENTITY: &'static str = "case";

    fn next(self) -> &'static [Self] {
        use CaseStatus::*;
        match self {
            // Reassigning is allowed until a response is sent; a query may be answered
            // straight away by whoever opened it.
            Open => &[Assigned, Responded],
            Assigned => &[Assigned, Responded],
            Responded => &[Closed],
            Closed => &[],
        }
    }

    fn name(self) -> &'static str {
        CaseStatus::name(self)
    }
}

wire_enum!(
    /// How a case ended. `answered` is for queries; the others for complaints.
    CaseOutcome {
        Upheld => "upheld",
        PartlyUpheld => "partly_upheld",
        NotUpheld => "not_upheld",
        Answered => "answered",
    }
);

impl CaseOutcome {
    /// Upheld in whole or in part: what reviews count as an upheld complaint.
    pub fn is_upheld(self) -> bool {
        matches!(self, CaseOutcome::Upheld | CaseOutcome::PartlyUpheld)
    }
}

/// One case as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub case_type: CaseType,
    pub status: CaseStatus,
    pub incident_ids: Vec<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Who raised it (a name or address as given).
    pub from: String,
    pub text: String,
    pub opened_by: UserId,
    pub opened_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CaseOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// Checks the free text of a new case.
pub fn validate_new(from: &str, text: &str) -> Result<(), DomainError> {
    check_text("from", from, MAX_SHORT_TEXT, true)?;
    check_text("text", text, MAX_TEXT, true)
}

/// Checks a closing outcome and root cause against the case and the centre's list:
/// a query is `answered`, a complaint is judged; a root cause must be one the centre
/// counts.
pub fn check_close(
    case_type: CaseType,
    outcome: CaseOutcome,
    root_cause: Option<&str>,
    root_causes: &[String],
) -> Result<(), DomainError> {
    let answered = outcome == CaseOutcome::Answered;
    if case_type == CaseType::Query && !answered {
        return Err(DomainError::validation(
            "outcome",
            "a query is closed as answered",
        ));
    }
    if case_type == CaseType::Complaint && answered {
        return Err(DomainError::validation(
            "outcome",
            "a complaint is closed as upheld, partly_upheld or not_upheld",
        ));
    }
    match root_cause {
        Some(c) if !root_causes.iter().any(|r| r == c) => Err(DomainError::validation(
            "root_cause",
            &format!("must be one of: {}", root_causes.join(", ")),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_runs_open_to_closed() {
        use CaseStatus::*;
        assert!(Open.check_move(Assigned).is_ok());
        assert!(Assigned.check_move(Responded).is_ok());
        assert!(Responded.check_move(Closed).is_ok());
        assert!(Open.check_move(Closed).is_err());
        assert!(Closed.check_move(Assigned).is_err());
    }

    #[test]
    fn closing_checks_outcome_and_root_cause() {
        let causes = vec!["late_dispatch".to_string()];
        let c = CaseType::Complaint;
        assert!(check_close(c, CaseOutcome::Upheld, Some("late_dispatch"), &causes).is_ok());
        assert!(check_close(c, CaseOutcome::Upheld, Some("nope"), &causes).is_err());
        assert!(check_close(c, CaseOutcome::Answered, None, &causes).is_err());
        assert!(check_close(CaseType::Query, CaseOutcome::Upheld, None, &causes).is_err());
        assert!(CaseOutcome::PartlyUpheld.is_upheld());
        assert!(!CaseOutcome::NotUpheld.is_upheld());
    }
}
