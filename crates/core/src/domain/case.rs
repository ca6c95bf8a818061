//! Cases: queries and complaints about how an incident was handled. A case is opened
//! from a contact or directly, linked to incidents, assigned to a handler, responded
//! to and closed with an outcome and (for complaints) a root cause from the centre's
//! list, so reviews can count complaints and what caused them.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CaseId, ContactId, IncidentId, UserId};
use super::procedure::CaseTargets;
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Personal data: the complainant's e-mail address, where the response is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
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

/// The deadlines a case runs against, as `target.breached` names them.
pub const TARGETS: [&str; 2] = ["acknowledge", "respond"];

/// When a case's `target` (`acknowledge` or `respond`) runs out, if it is still
/// running: acknowledging means assigning or responding; responding means a response.
/// `None` once met, for a closed case, or for an unknown target.
pub fn deadline(case: &Case, targets: &CaseTargets, target: &str) -> Option<DateTime<Utc>> {
    if case.status == CaseStatus::Closed || case.responded_at.is_some() {
        return None;
    }
    match target {
        "acknowledge" => (case.status == CaseStatus::Open).then(|| {
            let hours = i64::try_from(targets.acknowledge_hours).unwrap_or(i64::MAX / 7_200);
            case.opened_at + Duration::hours(hours.min(24 * 36_500))
        }),
        "respond" => Some(add_working_days(
            case.opened_at,
            targets.respond_working_days,
        )),
        _ => None,
    }
}

/// `days` working days (Monday to Friday) after `from`, at the same time of day. A
/// case opened at a weekend starts counting on the Monday.
pub fn add_working_days(from: DateTime<Utc>, days: u64) -> DateTime<Utc> {
    let mut at = from;
    let mut left = days.min(36_500);
    while left > 0 {
        at += Duration::days(1);
        if at.weekday().num_days_from_monday() < 5 {
            left -= 1;
        }
    }
    at
}

/// A case as it was opened (`case.opened`): the incidents it is about, judged when it
/// was opened. Who and when are the envelope's; it starts `open`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewCase {
    pub id: CaseId,
    pub case_type: CaseType,
    pub incident_ids: Vec<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    pub from: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Case {
    /// The case a `case.opened` fact starts, opened `at` by `by`.
    pub fn opened(new: &NewCase, at: DateTime<Utc>, by: &UserId) -> Case {
        Case {
            id: new.id.clone(),
            case_type: new.case_type,
            status: CaseStatus::Open,
            incident_ids: new.incident_ids.clone(),
            contact_id: new.contact_id.clone(),
            from: new.from.clone(),
            text: new.text.clone(),
            opened_by: by.clone(),
            opened_at: at,
            assigned_to: None,
            response: None,
            responded_at: None,
            outcome: None,
            root_cause: None,
            closed_at: None,
            email: new.email.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn case_at(opened_at: DateTime<Utc>) -> Case {
        Case {
            id: CaseId("case_1".into()),
            case_type: CaseType::Complaint,
            status: CaseStatus::Open,
            incident_ids: vec![],
            contact_id: None,
            from: "ada".into(),
            text: "late".into(),
            opened_by: UserId("usr_1".into()),
            opened_at,
            assigned_to: None,
            response: None,
            responded_at: None,
            outcome: None,
            root_cause: None,
            closed_at: None,
            email: None,
        }
    }

    #[test]
    fn working_days_skip_weekends() {
        // Friday 2026-03-06 10:00 + 1 working day = Monday 10:00; + 10 = Friday week.
        let fri = Utc.with_ymd_and_hms(2026, 3, 6, 10, 0, 0).unwrap();
        assert_eq!(add_working_days(fri, 1), fri + Duration::days(3));
        assert_eq!(add_working_days(fri, 10), fri + Duration::days(14));
        let sat = Utc.with_ymd_and_hms(2026, 3, 7, 9, 0, 0).unwrap();
        assert_eq!(add_working_days(sat, 1), sat + Duration::days(2));
    }

    #[test]
    fn deadlines_run_until_met() {
        let t = CaseTargets {
            acknowledge_hours: 24,
            respond_working_days: 10,
        };
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut c = case_at(at);
        assert_eq!(
            deadline(&c, &t, "acknowledge"),
            Some(at + Duration::hours(24))
        );
        assert_eq!(deadline(&c, &t, "respond"), Some(at + Duration::days(14)));
        assert_eq!(deadline(&c, &t, "lunch"), None);
        c.status = CaseStatus::Assigned;
        assert_eq!(deadline(&c, &t, "acknowledge"), None);
        assert!(deadline(&c, &t, "respond").is_some());
        c.responded_at = Some(at);
        assert_eq!(deadline(&c, &t, "respond"), None);
    }

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
