//! Did an incident's handling follow the procedure? A report step by step (assessed,
//! dispatched, required actions done, outcome recorded), each `done`, `overridden`
//! (a supervisor waived it with a justification), `missing` (the incident moved past
//! the point where the step was required without it) or `pending` (not yet due for
//! the incident's status), and a verdict.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::assignment::{Assignment, AssignmentStatus};
use crate::domain::ids::UserId;
use crate::domain::incident::{Incident, rules};
use crate::engine::event::{Event, Record};
use crate::engine::state::State;

/// The whole report, as `GET /api/incidents/{id}` sends it under `conformance`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// The one-word answer reviews count.
    pub verdict: Verdict,
    /// The steps in procedure order, so a reviewer sees where handling diverged.
    pub steps: Vec<Step>,
}

/// `not_conforming` when a step is missing; `pending` while steps are still to come;
/// otherwise `conforming`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Conforming,
    NotConforming,
    Pending,
}

/// Where one step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Missing,
    Overridden,
    /// Not required yet at the incident's status.
    Pending,
}

/// One step of the procedure: when and by whom it was done (or waived).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Step {
    /// Stable name clients key on (`assessed`, `dispatched`, …).
    pub step: &'static str,
    pub status: StepStatus,
    /// When it was done or waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Who did or waived it, for accountability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
    /// The rule a supervisor may waive for this step, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// The supervisor's reason, when overridden.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

impl Step {
    fn new(step: &'static str, rule: Option<&'static str>) -> Step {
        Step {
            step,
            status: StepStatus::Missing,
            at: None,
            by: None,
            rule,
            justification: None,
        }
    }

    fn done(mut self, at: Option<DateTime<Utc>>, by: Option<UserId>) -> Step {
        self.status = StepStatus::Done;
        self.at = at;
        self.by = by;
        self
    }

    /// A step not done while the incident has not reached the point that requires it
    /// is still to come, not missing.
    fn pending_unless(mut self, due: bool) -> Step {
        if self.status == StepStatus::Missing && !due {
            self.status = StepStatus::Pending;
        }
        self
    }

    /// Marks a missing (or pending) step overridden when a supervisor waived its rule.
    fn or_overridden(mut self, incident: &Incident) -> Step {
        let waiver = self
            .rule
            .and_then(|r| incident.overrides.iter().find(|o| o.rule == r));
        if let (StepStatus::Missing | StepStatus::Pending, Some(o)) = (self.status, waiver) {
            self.status = StepStatus::Overridden;
            self.at = Some(o.at);
            self.by = Some(o.by.clone());
            self.justification = Some(o.justification.clone());
        }
        self
    }
}

/// Judges `incident` on the state and its timeline `events`.
pub fn assess(state: &State, incident: &Incident, events: &[Record]) -> Report {
    let assignments: Vec<&Assignment> = incident
        .assignment_ids
        .iter()
        .filter_map(|a| state.assignments.get(a))
        .collect();
    let stage = stage(incident);
    let due = |from: u8| stage >= from && stage != CANCELLED;
    let steps = vec![
        assessed(incident)
            .pending_unless(due(DISPATCHED))
            .or_overridden(incident),
        dispatched(&assignments).pending_unless(due(RESOLVED)),
        actions_done(&assignments)
            .pending_unless(due(CLOSED))
            .or_overridden(incident),
        outcome_recorded(incident, events).pending_unless(due(RESOLVED)),
    ];
    let verdict = if steps.iter().any(|s| s.status == StepStatus::Missing) {
        Verdict::NotConforming
    } else if steps.iter().any(|s| s.status == StepStatus::Pending) && stage < CANCELLED {
        Verdict::Pending
    } else {
        Verdict::Conforming
    };
    Report { verdict, steps }
}

const DISPATCHED: u8 = 2;
const RESOLVED: u8 = 4;
const CLOSED: u8 = 5;
/// Cancelled: nothing further is required, so nothing not done is missing.
const CANCELLED: u8 = 6;

/// How far along the lifecycle the incident is, for deciding what is due. A dispatch
/// with the assessment waived counts as reaching dispatch.
fn stage(incident: &Incident) -> u8 {
    use crate::domain::incident::IncidentStatus::*;
    match incident.status {
        New => 0,
        Assessed => 1,
        Dispatched => DISPATCHED,
        InProgress => 3,
        Resolved => RESOLVED,
        Closed => CLOSED,
        Cancelled => CANCELLED,
    }
}

/// Validity and priority decided: the first assessment that set a priority.
fn assessed(incident: &Incident) -> Step {
    let step = Step::new("assessed", Some(rules::DISPATCH_REQUIRES_ASSESSMENT));
    match incident.assessments.iter().find(|a| a.priority.is_some()) {
        Some(a) => step.done(Some(a.at), Some(a.by.clone())),
        None => step,
    }
}

/// A resource sent: the first assignment.
fn dispatched(assignments: &[&Assignment]) -> Step {
    let step = Step::new("dispatched", None);
    match assignments.iter().min_by_key(|a| a.notified_at) {
        Some(a) => step.done(Some(a.notified_at), Some(a.created_by.clone())),
        None => step,
    }
}

/// Every required action of every live (not declined or cancelled) assignment done;
/// `at`/`by` are the last one's.
fn actions_done(assignments: &[&Assignment]) -> Step {
    let step = Step::new("required_actions_done", Some(rules::CLOSE_REQUIRES_ACTIONS));
    let live: Vec<&&Assignment> = assignments
        .iter()
        .filter(|a| {
            !matches!(
                a.status,
                AssignmentStatus::Declined | AssignmentStatus::Cancelled
            )
        })
        .collect();
    if live.is_empty() || live.iter().any(|a| a.missing_required().next().is_some()) {
        return step;
    }
    let last = live
        .iter()
        .flat_map(|a| a.actions.iter())
        .filter(|x| x.required)
        .max_by_key(|x| x.done_at);
    match last {
        Some(x) => step.done(x.done_at, x.done_by.clone()),
        None => step.done(None, None),
    }
}

/// An outcome recorded when resolving; `by` is whoever resolved it last.
fn outcome_recorded(incident: &Incident, events: &[Record]) -> Step {
    let step = Step::new("outcome_recorded", None);
    if incident.outcome.is_none() {
        return step;
    }
    let resolver = events
        .iter()
        .rev()
        .find(|r| matches!(&r.event, Event::IncidentResolved { incident_id, .. } if incident_id == &incident.id));
    step.done(
        resolver.map(|r| r.at).or(incident.resolved_at),
        resolver.map(|r| r.actor.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Command;
    use crate::engine::command as cmd;
    use crate::testing::World;

    fn statuses(r: &Report) -> Vec<(&'static str, StepStatus)> {
        r.steps.iter().map(|s| (s.step, s.status)).collect()
    }

    #[test]
    fn a_new_incident_has_every_step_pending() {
        let mut w = World::seeded();
        let op = w.actor("operator");
        w.ok(
            &op,
            Command::IncidentOpen(cmd::IncidentOpen {
                contact_id: None,
                incident_type: "welfare_concern".into(),
                description: "Neighbour not seen".into(),
                location: crate::domain::geo::Location {
                    text: Some("12 High Street".into()),
                    lat: None,
                    lon: None,
                    place_id: None,
                },
            }),
        );
        let i = w.state.incidents.values().next().unwrap();
        let r = assess(&w.state, i, &w.log);
        assert_eq!(r.verdict, Verdict::Pending);
        assert!(r.steps.iter().all(|s| s.status == StepStatus::Pending));
    }

    #[test]
    fn a_dispatched_incident_has_assessment_and_dispatch_done() {
        let w = World::with_dispatched_incident();
        let i = &w.state.incidents[&w.incident];
        let r = assess(&w.state, i, &w.log);
        assert_eq!(
            statuses(&r),
            vec![
                ("assessed", StepStatus::Done),
                ("dispatched", StepStatus::Done),
                ("required_actions_done", StepStatus::Pending),
                ("outcome_recorded", StepStatus::Pending),
            ]
        );
        assert_eq!(r.steps[0].by, Some(w.user_id("operator")));
    }

    #[test]
    fn a_waived_rule_shows_as_overridden_with_its_justification() {
        let mut w = World::with_dispatched_incident();
        let sup = w.actor("supervisor");
        w.ok(
            &sup,
            Command::IncidentOverride(cmd::IncidentOverride {
                incident_id: w.incident.clone(),
                rule: rules::CLOSE_REQUIRES_ACTIONS.into(),
                justification: "confirmed by phone".into(),
            }),
        );
        let r = assess(&w.state, &w.state.incidents[&w.incident], &w.log);
        let step = &r.steps[2];
        assert_eq!(step.status, StepStatus::Overridden);
        assert_eq!(step.justification.as_deref(), Some("confirmed by phone"));
        assert_eq!(step.by, Some(w.user_id("supervisor")));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["steps"][2]["status"], "overridden");
        assert_eq!(json["verdict"], "pending");
    }
}
