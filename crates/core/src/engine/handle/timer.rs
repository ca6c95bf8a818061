//! The internal commands the hub issues: timer rungs and delivery outcomes. Each
//! re-checks against the state that it is still due, so a duplicate (a second tick,
//! a second hub) is refused with `conflict` and records nothing.

use super::Cx;
use crate::domain::ids::{AssignmentId, CaseId, IncidentId, PlanId};
use crate::domain::procedure::EscalationAction;
use crate::domain::recommend;
use crate::domain::{case, support};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;
use crate::engine::timers;

impl Cx<'_> {
    pub(super) fn timer_escalate(&mut self, c: &cmd::TimerEscalate) -> Result<(), Error> {
        let cmd::TimerEscalate {
            assignment_id,
            level,
        } = c;
        self.escalate(assignment_id, *level)
    }

    pub(super) fn timer_checkin_missed(
        &mut self,
        c: &cmd::TimerCheckinMissed,
    ) -> Result<(), Error> {
        let cmd::TimerCheckinMissed {
            assignment_id,
            due_at,
        } = c;
        let a = self.assignment(assignment_id)?;
        let next = timers::next_checkin(self.state, self.centre, a);
        if next != Some(*due_at) || *due_at > self.now {
            return Err(not_due("check-in", assignment_id.as_str()));
        }
        self.emit(Event::CheckinMissed {
            assignment_id: assignment_id.clone(),
            due_at: *due_at,
        });
        Ok(())
    }

    pub(super) fn timer_target_breached(
        &mut self,
        c: &cmd::TimerTargetBreached,
    ) -> Result<(), Error> {
        let cmd::TimerTargetBreached {
            incident_id,
            target,
        } = c;
        self.breach(incident_id, target)
    }

    pub(super) fn timer_case_breached(&mut self, c: &cmd::TimerCaseBreached) -> Result<(), Error> {
        let cmd::TimerCaseBreached { case_id, target } = c;
        self.case_breach(case_id, target)
    }

    pub(super) fn timer_plan_review_missed(
        &mut self,
        c: &cmd::TimerPlanReviewMissed,
    ) -> Result<(), Error> {
        let cmd::TimerPlanReviewMissed { plan_id } = c;
        self.review_missed(plan_id)
    }

    pub(super) fn notification_record(&mut self, c: &cmd::NotificationRecord) -> Result<(), Error> {
        let cmd::NotificationRecord {
            assignment_id,
            case_id,
            message_id,
            channel,
            level,
            attempts,
            error,
            status,
        } = c;
        match (assignment_id, case_id, message_id) {
            (Some(id), None, None) => {
                self.assignment(id)?;
            }
            (None, Some(id), None) => {
                self.case(id)?;
            }
            (None, None, Some(id)) => {
                self.message(id)?;
            }
            _ => {
                return Err(Error::validation(
                    "assignment_id",
                    "give one of assignment_id, case_id and message_id",
                ));
            }
        }
        let (assignment_id, case_id, message_id) =
            (assignment_id.clone(), case_id.clone(), message_id.clone());
        let event = match error {
            Some(error) => Event::NotificationFailed {
                assignment_id,
                case_id,
                message_id,
                channel: channel.clone(),
                level: *level,
                error: error.clone(),
                attempts: *attempts,
            },
            None => Event::NotificationSent {
                assignment_id,
                case_id,
                message_id,
                channel: channel.clone(),
                level: *level,
                status: status.clone().unwrap_or_else(|| "delivered".into()),
                attempts: *attempts,
            },
        };
        self.emit(event);
        Ok(())
    }

    /// Fires rung `level` when it is exactly the next one and its time has come.
    fn escalate(&mut self, assignment_id: &AssignmentId, level: u32) -> Result<(), Error> {
        let a = self.assignment(assignment_id)?;
        let Some((next, step, at)) = timers::next_escalation(self.state, self.centre, a) else {
            return Err(not_due("escalation", assignment_id.as_str()));
        };
        if next != level || at > self.now {
            return Err(not_due("escalation", assignment_id.as_str()));
        }
        let suggested_resource_id = match step.action {
            EscalationAction::SuggestNextResource => self.next_best_resource(assignment_id)?,
            _ => None,
        };
        let channel = match step.action {
            EscalationAction::AlternativeChannel => step.channel.clone(),
            EscalationAction::Renotify => Some("websocket".into()),
            EscalationAction::Push => Some("push".into()),
            _ => None,
        };
        self.emit(Event::AssignmentEscalated {
            assignment_id: assignment_id.clone(),
            level,
            action: step.action,
            channel,
            suggested_resource_id,
        });
        Ok(())
    }

    /// The best-ranked resource not already on the assignment's incident.
    fn next_best_resource(
        &self,
        assignment_id: &AssignmentId,
    ) -> Result<Option<crate::domain::ids::ResourceId>, Error> {
        let a = self.assignment(assignment_id)?;
        let i = self.incident(&a.incident_id)?;
        let Some(kind) = self.centre.incident_type(&i.incident_type) else {
            return Ok(None);
        };
        let on_it = crate::engine::visibility::resources_on(self.state, &i.id);
        let ranked = recommend::rank_on_roster(
            kind,
            &i.location,
            self.state
                .resources
                .values()
                .filter(|r| !on_it.contains(&r.id)),
            &self.centre.speeds_kmh,
            &self.state.jobs_today(self.now),
            &timers::roster_for(self.state, self.centre, i, self.now),
        );
        Ok(ranked.into_iter().next().map(|r| r.resource_id))
    }

    fn breach(&mut self, incident_id: &IncidentId, target: &str) -> Result<(), Error> {
        let i = self.incident(incident_id)?;
        if !timers::TARGETS.contains(&target) {
            return Err(Error::validation(
                "target",
                format!("unknown target; known: {}", timers::TARGETS.join(", ")),
            ));
        }
        let Some((priority, due_at)) = timers::target_deadline(self.state, self.centre, i, target)
        else {
            return Err(not_due("target", incident_id.as_str()));
        };
        if due_at > self.now {
            return Err(not_due("target", incident_id.as_str()));
        }
        self.emit(Event::TargetBreached {
            incident_id: Some(incident_id.clone()),
            case_id: None,
            plan_id: None,
            target: target.to_string(),
            priority: Some(priority),
            due_at,
        });
        Ok(())
    }

    /// A case's deadline, when it is still running and has run out.
    fn case_breach(&mut self, case_id: &CaseId, target: &str) -> Result<(), Error> {
        let c = self.case(case_id)?;
        if !case::TARGETS.contains(&target) {
            return Err(Error::validation(
                "target",
                format!("unknown target; known: {}", case::TARGETS.join(", ")),
            ));
        }
        let Some(due_at) = timers::case_deadline(self.state, self.centre, c, target) else {
            return Err(not_due("target", case_id.as_str()));
        };
        if due_at > self.now {
            return Err(not_due("target", case_id.as_str()));
        }
        self.emit(Event::TargetBreached {
            incident_id: None,
            case_id: Some(case_id.clone()),
            plan_id: None,
            target: target.to_string(),
            priority: None,
            due_at,
        });
        Ok(())
    }

    /// An agreed plan's review date has passed without a review.
    fn review_missed(&mut self, plan_id: &PlanId) -> Result<(), Error> {
        let p = self.plan(plan_id)?;
        let Some(due_at) = timers::review_deadline(self.state, p) else {
            return Err(not_due("review", plan_id.as_str()));
        };
        if due_at > self.now {
            return Err(not_due("review", plan_id.as_str()));
        }
        self.emit(Event::TargetBreached {
            incident_id: None,
            case_id: None,
            plan_id: Some(plan_id.clone()),
            target: support::REVIEW_TARGET.to_string(),
            priority: None,
            due_at,
        });
        Ok(())
    }
}

/// A timer that is no longer (or not yet) due: already fired, or the step was done.
fn not_due(what: &str, id: &str) -> Error {
    Error::Conflict(format!("no {what} is due for {id}"))
}
