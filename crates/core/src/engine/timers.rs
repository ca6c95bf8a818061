//! Timers as events. [`due`] is a pure function of the state, the centre's procedures
//! and `now`: it returns the internal commands for everything that is due (the next
//! escalation rung of each unacknowledged assignment, each missed welfare check-in,
//! each response target run out). The hub runs it on a clock and submits the commands
//! as the system actor; the engine re-checks each one against the state it decides on,
//! so a command fired twice (or by two hubs) is refused with `conflict` and nothing is
//! recorded twice. What fired is kept in the state (`escalations`, `missed_checkins`,
//! `breaches`), so a restarted hub continues where the log stopped.

use chrono::{DateTime, Duration, Utc};

use super::command as cmd;
use super::command::Command;
use super::state::State;
use crate::domain::assignment::{Assignment, AssignmentStatus};
use crate::domain::case::{self, Case};
use crate::domain::incident::Incident;
use crate::domain::procedure::{Centre, EscalationAction, EscalationStep};
use crate::domain::support::Plan;
use crate::domain::triage::Priority;

/// The response targets a timer watches, in the order they are checked.
pub const TARGETS: [&str; 4] = ["dispatch", "acknowledge", "arrive", "resolve"];

/// Every internal command due at `now`, in a stable order (escalations, check-ins,
/// targets; each by id). Only the next rung of a ladder is returned: the one after it
/// becomes due once this one is recorded.
pub fn due(state: &State, centre: &Centre, now: DateTime<Utc>) -> Vec<Command> {
    let mut out = Vec::new();
    for a in state.assignments.values() {
        if let Some((level, _, at)) = next_escalation(state, centre, a)
            && at <= now
        {
            out.push(Command::TimerEscalate(cmd::TimerEscalate {
                assignment_id: a.id.clone(),
                level,
            }));
        }
    }
    for a in state.assignments.values() {
        if let Some(at) = next_checkin(state, centre, a)
            && at <= now
        {
            out.push(Command::TimerCheckinMissed(cmd::TimerCheckinMissed {
                assignment_id: a.id.clone(),
                due_at: at,
            }));
        }
    }
    for i in state.incidents.values().filter(|i| i.status.is_open()) {
        for target in TARGETS {
            if let Some((_, at)) = target_deadline(state, centre, i, target)
                && at <= now
            {
                out.push(Command::TimerTargetBreached(cmd::TimerTargetBreached {
                    incident_id: i.id.clone(),
                    target: target.to_string(),
                }));
            }
        }
    }
    for c in state.cases.values() {
        for target in case::TARGETS {
            if case_deadline(state, centre, c, target).is_some_and(|at| at <= now) {
                out.push(Command::TimerCaseBreached(cmd::TimerCaseBreached {
                    case_id: c.id.clone(),
                    target: target.to_string(),
                }));
            }
        }
    }
    for p in state.plans.values() {
        if review_deadline(state, p).is_some_and(|at| at <= now) {
            out.push(Command::TimerPlanReviewMissed(cmd::TimerPlanReviewMissed {
                plan_id: p.id.clone(),
            }));
        }
    }
    out.extend(shift_boundaries(state, now));
    out
}

/// The shift boundaries due at `now` and not yet recorded: each shift's end once it
/// has come, else its start once that has come. A shift whose end passed before its
/// start was recorded (the hub was down throughout) only ends.
pub fn shift_boundaries(state: &State, now: DateTime<Utc>) -> Vec<Command> {
    let mut out = Vec::new();
    for s in state.shifts.values().filter(|s| s.ended_at.is_none()) {
        if s.end <= now {
            out.push(Command::TimerShiftEnd(cmd::TimerShiftEnd {
                shift_id: s.id.clone(),
            }));
        } else if s.started_at.is_none() && s.start <= now {
            out.push(Command::TimerShiftStart(cmd::TimerShiftStart {
                shift_id: s.id.clone(),
            }));
        }
    }
    // Ends before starts: a resource handed from one shift to the next back to back
    // is ended (and stays on, the next covering now) before the next is started.
    out.sort_by_key(|c| !matches!(c, Command::TimerShiftEnd(_)));
    out
}

/// A case's deadline when it is running and not yet breached.
pub fn case_deadline(
    state: &State,
    centre: &Centre,
    c: &Case,
    target: &str,
) -> Option<DateTime<Utc>> {
    let fired = state
        .case_breaches
        .get(&c.id)
        .is_some_and(|b| b.contains(target));
    if fired {
        return None;
    }
    case::deadline(c, &centre.case_targets, target)
}

/// When an agreed plan's review counts as missed, unless already recorded.
pub fn review_deadline(state: &State, p: &Plan) -> Option<DateTime<Utc>> {
    if state.plan_breaches.contains(&p.id) {
        return None;
    }
    p.review_deadline()
}

/// The priority an incident's clocks run at: its assessed priority, else its type's
/// default (a new incident is already on the clock).
pub fn effective_priority(centre: &Centre, i: &Incident) -> Option<Priority> {
    i.priority.or_else(|| {
        centre
            .incident_type(&i.incident_type)
            .map(|t| t.default_priority)
    })
}

/// When an incident should be resolved by: opened plus its type's resolve target at
/// its effective priority (what a recommended resource's shift is held against).
pub fn resolve_by(centre: &Centre, i: &Incident) -> Option<DateTime<Utc>> {
    let priority = effective_priority(centre, i)?;
    let set = centre
        .incident_type(&i.incident_type)?
        .targets
        .for_priority(priority);
    Some(i.opened_at + secs(set.resolve_secs))
}

/// The roster as recommendations for incident `i` see it at `now`.
pub fn roster_for(
    state: &State,
    centre: &Centre,
    i: &Incident,
    now: DateTime<Utc>,
) -> crate::domain::recommend::Roster {
    crate::domain::recommend::Roster::at(state.shifts.values(), now, resolve_by(centre, i))
}

/// The next rung of an unacknowledged assignment's ladder: its level (from 1), the
/// step, and when it falls due (`after_secs` after notification). `None` once the
/// assignment is acknowledged, declined or cancelled, or the ladder is exhausted.
///
/// A unit nobody carries the app for (its resource has no `user_id`) is never pushed
/// to: its ladder is `call_by_radio` at once, then only the policy's steps that do not
/// push to the unit (`supervisor_alert`, `suggest_next_resource`) at their times, and
/// it ends there. The desk's radio acknowledgement (`via: "radio"`) stops it.
pub fn next_escalation(
    state: &State,
    centre: &Centre,
    a: &Assignment,
) -> Option<(u32, EscalationStep, DateTime<Utc>)> {
    if a.status != AssignmentStatus::Notified {
        return None;
    }
    let incident = state.incidents.get(&a.incident_id)?;
    let priority = effective_priority(centre, incident)?;
    let policy = centre.escalation_for(&incident.incident_type, priority)?;
    let fired = state.escalations.get(&a.id).copied().unwrap_or(0);
    let by_radio = state
        .resources
        .get(&a.resource_id)
        .is_some_and(|r| r.user_id.is_none());
    let step = match (by_radio, fired) {
        (false, _) => policy.steps.get(fired as usize)?.clone(),
        (true, 0) => EscalationStep {
            after_secs: 0,
            action: EscalationAction::CallByRadio,
            channel: None,
        },
        (true, _) => policy
            .steps
            .iter()
            .filter(|s| !s.action.pushes_to_unit())
            .nth(fired as usize - 1)?
            .clone(),
    };
    let at = a.notified_at + secs(step.after_secs);
    Some((fired + 1, step, at))
}

/// When the next welfare check-in of a deployed (en route or on scene) assignment is
/// missed: one interval after the latest of deployment, the last check-in and the
/// last missed check-in. `None` when not deployed or the type sets no interval.
pub fn next_checkin(state: &State, centre: &Centre, a: &Assignment) -> Option<DateTime<Utc>> {
    if !matches!(
        a.status,
        AssignmentStatus::EnRoute | AssignmentStatus::OnScene
    ) {
        return None;
    }
    let incident = state.incidents.get(&a.incident_id)?;
    let interval = centre
        .incident_type(&incident.incident_type)?
        .checkin_interval_secs;
    if interval == 0 {
        return None;
    }
    let base = [
        a.en_route_at,
        a.on_scene_at,
        a.last_checkin_at,
        state.missed_checkins.get(&a.id).copied(),
    ]
    .into_iter()
    .flatten()
    .max()?;
    Some(base + secs(interval))
}

/// A target's deadline when it is running: not yet met, not yet breached, its clock
/// started. Returns the priority it runs at and when it runs out.
pub fn target_deadline(
    state: &State,
    centre: &Centre,
    i: &Incident,
    target: &str,
) -> Option<(Priority, DateTime<Utc>)> {
    if !i.status.is_open()
        || state
            .breaches
            .get(&i.id)
            .is_some_and(|b| b.contains(target))
    {
        return None;
    }
    let priority = effective_priority(centre, i)?;
    let set = centre
        .incident_type(&i.incident_type)?
        .targets
        .for_priority(priority);
    let assignments: Vec<&Assignment> = i
        .assignment_ids
        .iter()
        .filter_map(|id| state.assignments.get(id))
        .collect();
    let first_notified = assignments.iter().map(|a| a.notified_at).min();
    let (start, limit, met) = match target {
        "dispatch" => (
            Some(clock_start(state, i)),
            set.dispatch_secs,
            !assignments.is_empty(),
        ),
        "acknowledge" => (
            first_notified,
            set.acknowledge_secs,
            assignments.iter().any(|a| a.acknowledged_at.is_some()),
        ),
        "arrive" => (
            first_notified,
            set.arrive_secs,
            assignments.iter().any(|a| a.on_scene_at.is_some()),
        ),
        "resolve" => (Some(i.opened_at), set.resolve_secs, i.resolved_at.is_some()),
        _ => return None,
    };
    if met {
        return None;
    }
    Some((priority, start? + secs(limit)))
}

/// The dispatch clock starts when the first contact about the incident arrived (or
/// when the incident was opened, for one raised without a contact).
fn clock_start(state: &State, i: &Incident) -> DateTime<Utc> {
    i.contact_ids
        .iter()
        .filter_map(|c| state.contacts.get(c))
        .map(|c| c.received_at)
        .chain([i.opened_at])
        .min()
        .unwrap_or(i.opened_at)
}

/// Seconds from the procedures file; absurd values saturate at a century.
fn secs(s: u64) -> Duration {
    i64::try_from(s)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or_else(|| Duration::days(36_500))
}
