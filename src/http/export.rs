//! `GET /api/reports/incidents.csv` and `GET /api/reports/contacts.csv`: the incidents
//! opened (contacts received) in a period as CSV, for the spreadsheets a centre keeps.
//!
//! Read from the state as it holds them (an erased location reads `[erased]`). The
//! contacts CSV carries no caller details (docs/PRIVACY.md). Quoting is RFC 4180 (the
//! `csv` writer); a cell a spreadsheet would read as a formula gets a leading `'`.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use warp::Rejection;
use warp::http::header;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::domain::incident::Incident;
use muster_core::domain::user::Role;
use muster_core::engine::{Code, State};

/// The query of both CSV routes.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    /// Start of the period (RFC 3339); default 24 h before `to`.
    pub from: Option<String>,
    /// End of the period (RFC 3339); default now.
    pub to: Option<String>,
}

/// The longest period one export covers.
const MAX_DAYS: i64 = 366;

/// `GET /api/reports/incidents.csv`.
pub async fn incidents(
    app: Arc<App>,
    session: Session,
    q: PeriodQuery,
) -> Result<Response, Rejection> {
    let (from, to) = period(&session, &q, Utc::now())?;
    let centre = app.hub.engine.centre.clone();
    let rows = app.hub.with_state(|s| {
        s.incidents
            .values()
            .filter(|i| i.opened_at >= from && i.opened_at < to)
            .map(|i| incident_row(s, &centre, i))
            .collect::<Vec<_>>()
    });
    csv_reply("incidents", from, to, &INCIDENT_HEADER, rows)
}

/// `GET /api/reports/contacts.csv`.
pub async fn contacts(
    app: Arc<App>,
    session: Session,
    q: PeriodQuery,
) -> Result<Response, Rejection> {
    let (from, to) = period(&session, &q, Utc::now())?;
    let rows = app.hub.with_state(|s| {
        s.contacts
            .values()
            .filter(|c| c.received_at >= from && c.received_at < to)
            .map(|c| {
                vec![
                    c.id.to_string(),
                    name(&c.channel),
                    name(&c.reason),
                    name(&c.status),
                    time(Some(c.received_at)),
                    time(c.taken_at),
                    c.taken_by
                        .as_ref()
                        .and_then(|u| s.users.get(u))
                        .map(|u| u.username.clone())
                        .unwrap_or_default(),
                    time(c.closed_at),
                    c.outcome.clone().unwrap_or_default(),
                    c.incident_id
                        .as_ref()
                        .and_then(|i| s.incidents.get(i))
                        .map(|i| i.reference.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>()
    });
    csv_reply("contacts", from, to, &CONTACT_HEADER, rows)
}

const INCIDENT_HEADER: [&str; 16] = [
    "reference",
    "id",
    "type",
    "priority",
    "validity",
    "status",
    "opened_at",
    "first_dispatch_at",
    "resolved_at",
    "closed_at",
    "location",
    "lat",
    "lon",
    "contacts",
    "assignments",
    "targets_met",
];

const CONTACT_HEADER: [&str; 10] = [
    "id",
    "channel",
    "reason",
    "status",
    "received_at",
    "taken_at",
    "taken_by",
    "closed_at",
    "outcome",
    "incident_reference",
];

/// Supervisors and admins only; the period parsed, defaulted and bounded.
fn period(
    session: &Session,
    q: &PeriodQuery,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    if !matches!(session.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::forbidden(
            "only a supervisor or an admin may export reports",
        ));
    }
    let bound = |field: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
        match v.as_deref().filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc3339(v)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    ApiError::new(
                        Code::ValidationFailed,
                        format!("{field} must be an RFC 3339 time (2026-01-31T00:00:00Z)"),
                    )
                }),
        }
    };
    let to = bound("to", &q.to)?.unwrap_or(now);
    let from = bound("from", &q.from)?.unwrap_or(to - Duration::hours(24));
    if to <= from {
        return Err(ApiError::new(
            Code::ValidationFailed,
            "to must be after from",
        ));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::new(
            Code::ValidationFailed,
            format!("from: the period may be at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn incident_row(
    s: &State,
    centre: &muster_core::domain::procedure::Centre,
    i: &Incident,
) -> Vec<String> {
    let first_dispatch = i
        .assignment_ids
        .iter()
        .filter_map(|a| s.assignments.get(a))
        .map(|a| a.notified_at)
        .min();
    let round = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    vec![
        i.reference.clone(),
        i.id.to_string(),
        i.incident_type.clone(),
        i.priority.as_ref().map(name).unwrap_or_default(),
        name(&i.validity),
        name(&i.status),
        time(Some(i.opened_at)),
        time(first_dispatch),
        time(i.resolved_at),
        time(i.closed_at),
        i.location.text.clone().unwrap_or_default(),
        round(i.location.lat),
        round(i.location.lon),
        i.contact_ids.len().to_string(),
        i.assignment_ids.len().to_string(),
        targets_met(s, centre, i, first_dispatch),
    ]
}

/// `yes` when the answer and dispatch clocks both ran within the incident's targets,
/// `no` when one did not, blank when neither is measured yet or no target applies.
fn targets_met(
    s: &State,
    centre: &muster_core::domain::procedure::Centre,
    i: &Incident,
    first_dispatch: Option<DateTime<Utc>>,
) -> String {
    let Some(t) = i.priority.and_then(|p| {
        Some(
            centre
                .incident_type(&i.incident_type)?
                .targets
                .for_priority(p),
        )
    }) else {
        return String::new();
    };
    let contacts: Vec<_> = i
        .contact_ids
        .iter()
        .filter_map(|c| s.contacts.get(c))
        .collect();
    let received = contacts
        .iter()
        .map(|c| c.received_at)
        .min()
        .map_or(i.opened_at, |r| r.min(i.opened_at));
    let secs = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_seconds().max(0) as u64;
    let mut checks = Vec::new();
    for c in &contacts {
        if let Some(taken) = c.taken_at {
            checks.push(secs(c.received_at, taken) <= t.answer_secs);
        }
    }
    if let Some(d) = first_dispatch {
        checks.push(secs(received, d) <= t.dispatch_secs);
    }
    match checks.is_empty() {
        true => String::new(),
        false if checks.iter().all(|&ok| ok) => "yes".into(),
        false => "no".into(),
    }
}

/// An enum's wire name (`P1`, `in_progress`).
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A cell a spreadsheet would run as a formula gets a leading `'`. A plain number
/// (`-0.128`, a western longitude) is left as it is: it cannot run, and a spreadsheet
/// must still read it as a number.
pub fn guard(cell: &str) -> String {
    match cell.chars().next() {
        Some('-' | '+') if cell.parse::<f64>().is_ok_and(f64::is_finite) => cell.to_string(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Writes the header and rows (RFC 4180, every cell guarded) and answers it as an
/// attachment named after the period.
pub fn to_csv(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.write_record(row.iter().map(|c| guard(c)))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn csv_reply(
    what: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<Response, Rejection> {
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let file = format!("{what}-{}-{}.csv", stamp(from), stamp(to));
    csv_attachment(&file, header, rows)
}

/// `rows` under `header` as a CSV file to download, named `file`.
pub(super) fn csv_attachment(
    file: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<Response, Rejection> {
    let body = to_csv(header, rows)
        .map_err(|e| ApiError::unavailable(format!("the CSV could not be written: {e}")))?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_guards() {
        let out = to_csv(
            &["a", "b"],
            vec![vec!["x, \"y\"\nz".into(), "=SUM(A1)".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\r\n\"x, \"\"y\"\"\nz\",'=SUM(A1)\r\n"
        );
        for bad in ["=1", "+1+1", "-1+2", "-inf", "@x", "\tx", "\rx"] {
            assert!(guard(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(guard("ok"), "ok");
        assert_eq!(guard("-0.128"), "-0.128");
    }
}
