//! `assignment.*` and `checkin`: sending resources and following their work. Every
//! consequence for the resource and the incident is emitted as its own event.

use std::collections::BTreeMap;

use super::{Cx, optional, short};
use crate::domain::Lifecycle;
use crate::domain::assignment::{ActionSpec, Assignment, AssignmentStatus, NewAssignment, Via};
use crate::domain::ids::{AssignmentId, IncidentId, ResourceId};
use crate::domain::incident::{IncidentStatus, rules};
use crate::domain::resource::ResourceStatus;
use crate::domain::triage::Validity;
use crate::domain::{MAX_TEXT, check_text};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn assignment_acknowledge(
        &mut self,
        c: &cmd::AssignmentAcknowledge,
    ) -> Result<(), Error> {
        let cmd::AssignmentAcknowledge { assignment_id, via } = c;
        // From a push notification the unit's own user acknowledges (the field scope
        // check has made sure it is theirs); the desk never claims it.
        if *via != Some(Via::Push) || !self.actor.role.is_field() {
            self.on_behalf(*via)?;
        }
        self.assignment(assignment_id)?
            .status
            .check_move(AssignmentStatus::Acknowledged)?;
        self.emit(Event::AssignmentAcknowledged {
            assignment_id: assignment_id.clone(),
            via: *via,
        });
        Ok(())
    }

    pub(super) fn assignment_decline(&mut self, c: &cmd::AssignmentDecline) -> Result<(), Error> {
        let cmd::AssignmentDecline {
            assignment_id,
            reason,
        } = c;
        self.end(assignment_id, reason, AssignmentStatus::Declined)
    }

    pub(super) fn assignment_progress(&mut self, c: &cmd::AssignmentProgress) -> Result<(), Error> {
        let cmd::AssignmentProgress {
            assignment_id,
            status,
            via,
            skipped,
        } = c;
        self.on_behalf(*via)?;
        self.progress(assignment_id, *status, *via, skipped)
    }

    /// `via` says the desk is recording a unit's report on its behalf: a field user
    /// reports from their own app and may not claim it came another way.
    fn on_behalf(&self, via: Option<Via>) -> Result<(), Error> {
        if via == Some(Via::Push) {
            return Err(Error::validation(
                "via",
                "push is recorded only for an acknowledgement from the notification",
            ));
        }
        if via.is_some() && !self.actor.role.can_dispatch() {
            return Err(Error::validation(
                "via",
                "only the desk records a report on a unit's behalf; leave via out when reporting from the app",
            ));
        }
        Ok(())
    }

    pub(super) fn assignment_action_done(
        &mut self,
        c: &cmd::AssignmentActionDone,
    ) -> Result<(), Error> {
        let cmd::AssignmentActionDone {
            assignment_id,
            action_id,
            note,
        } = c;
        optional("note", note.as_ref())?;
        let a = self.assignment(assignment_id)?;
        if matches!(
            a.status,
            AssignmentStatus::Declined | AssignmentStatus::Cancelled
        ) {
            return Err(Error::InvalidTransition {
                entity: "assignment",
                from: a.status.name().into(),
                to: "action_done".into(),
            });
        }
        let action = a
            .action(action_id)
            .ok_or_else(|| Error::not_found("action", action_id))?;
        if action.done_at.is_some() {
            return Err(Error::Conflict(format!("{action_id} is already done")));
        }
        self.emit(Event::AssignmentActionDone {
            assignment_id: assignment_id.clone(),
            action_id: action_id.clone(),
            note: note.clone(),
        });
        Ok(())
    }

    /// Unticks an action ticked by mistake, while the work is still going on: once the
    /// assignment is completed, declined or cancelled its checklist is the record.
    pub(super) fn assignment_action_undone(
        &mut self,
        c: &cmd::AssignmentActionUndone,
    ) -> Result<(), Error> {
        let cmd::AssignmentActionUndone {
            assignment_id,
            action_id,
            reason,
        } = c;
        short("reason", reason)?;
        let a = self.assignment(assignment_id)?;
        if !a.status.is_active() {
            return Err(Error::InvalidTransition {
                entity: "assignment",
                from: a.status.name().into(),
                to: "action_undone".into(),
            });
        }
        let action = a
            .action(action_id)
            .ok_or_else(|| Error::not_found("action", action_id))?;
        if action.done_at.is_none() {
            return Err(Error::Conflict(format!(
                "{action_id} is not done, so there is nothing to untick"
            )));
        }
        self.emit(Event::AssignmentActionUndone {
            assignment_id: assignment_id.clone(),
            action_id: action_id.clone(),
            reason: reason.clone(),
        });
        Ok(())
    }

    pub(super) fn assignment_cancel(&mut self, c: &cmd::AssignmentCancel) -> Result<(), Error> {
        let cmd::AssignmentCancel {
            assignment_id,
            reason,
        } = c;
        self.end(assignment_id, reason, AssignmentStatus::Cancelled)
    }

    pub(super) fn checkin(&mut self, c: &cmd::Checkin) -> Result<(), Error> {
        let cmd::Checkin {
            assignment_id,
            ok,
            note,
            via,
        } = c;
        optional("note", note.as_ref())?;
        self.on_behalf(*via)?;
        let a = self.assignment(assignment_id)?;
        if !a.status.is_active() {
            return Err(Error::InvalidTransition {
                entity: "assignment",
                from: a.status.name().into(),
                to: "checked_in".into(),
            });
        }
        self.emit(Event::CheckinRecorded {
            assignment_id: assignment_id.clone(),
            ok: *ok,
            note: note.clone(),
            via: *via,
        });
        Ok(())
    }

    pub(super) fn assignment_create(
        &mut self,
        command: &cmd::AssignmentCreate,
    ) -> Result<(), Error> {
        let cmd::AssignmentCreate {
            incident_id,
            resource_id,
            responsibilities,
            actions,
            reason,
        } = command;
        let incident = self.incident(incident_id)?;
        let resource = self.in_service(resource_id)?;
        if !incident.status.is_open() {
            return Err(Error::InvalidTransition {
                entity: "incident",
                from: incident.status.name().into(),
                to: "dispatched".into(),
            });
        }
        self.check_dispatch_allowed(incident_id)?;
        if resource.status != ResourceStatus::Available {
            return Err(Error::Conflict(format!(
                "{resource_id} is {}, not available",
                resource.status
            )));
        }
        let t = self.centre.incident_type(&incident.incident_type);
        let missing: Vec<&String> = t
            .map(|t| {
                t.required_skills
                    .iter()
                    .filter(|s| !resource.has_skill(s))
                    .collect()
            })
            .unwrap_or_default();
        if !missing.is_empty()
            && !incident.is_overridden(rules::REQUIRED_SKILLS)
            && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(Error::ProcedureViolation {
                rule: rules::REQUIRED_SKILLS.into(),
                message: format!(
                    "{resource_id} lacks required skills {}; give a reason to send it anyway",
                    names.join(", ")
                ),
            });
        }
        let responsibilities = match responsibilities {
            Some(r) => r.clone(),
            None => t.map(|t| t.responsibilities.clone()).unwrap_or_default(),
        };
        check_text("responsibilities", &responsibilities, MAX_TEXT, false)?;
        let specs: Vec<ActionSpec> = match actions {
            Some(a) => a.clone(),
            None => t
                .map(|t| {
                    t.actions
                        .iter()
                        .map(|a| ActionSpec {
                            text: a.text.clone(),
                            required: a.required,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        if let Some(r) = reason {
            short("reason", r)?;
        }
        let assignment = NewAssignment {
            id: AssignmentId::at_seq(self.next_seq()),
            incident_id: incident_id.clone(),
            resource_id: resource_id.clone(),
            responsibilities,
            actions: Assignment::checklist(&specs)?,
            reason: reason.clone(),
        };
        let from = incident.status;
        self.emit(Event::AssignmentCreated { assignment });
        self.set_resource_status(resource_id, ResourceStatus::Assigned)?;
        if matches!(from, IncidentStatus::New | IncidentStatus::Assessed) {
            self.emit(Event::IncidentStatusChanged {
                incident_id: incident_id.clone(),
                from,
                status: IncidentStatus::Dispatched,
            });
        }
        Ok(())
    }

    /// Dispatch needs validity and priority assessed, and a report worth sending to,
    /// unless a supervisor waived the rule on this incident.
    fn check_dispatch_allowed(&self, incident_id: &IncidentId) -> Result<(), Error> {
        let i = self.incident(incident_id)?;
        if i.is_overridden(rules::DISPATCH_REQUIRES_ASSESSMENT) {
            return Ok(());
        }
        let problem = match i.validity {
            Validity::FalseReport => {
                Some("the report is assessed as false_report; reassess before dispatch".to_string())
            }
            Validity::Duplicate => {
                Some("the report is assessed as a duplicate; dispatch to the original".to_string())
            }
            _ if i.assessments.is_empty() || i.priority.is_none() => {
                Some("assess validity and priority before dispatch".to_string())
            }
            _ => None,
        };
        match problem {
            Some(message) => Err(Error::ProcedureViolation {
                rule: rules::DISPATCH_REQUIRES_ASSESSMENT.into(),
                message,
            }),
            None => Ok(()),
        }
    }

    fn progress(
        &mut self,
        assignment_id: &AssignmentId,
        status: AssignmentStatus,
        via: Option<Via>,
        skipped: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if !status.is_progress() {
            return Err(Error::validation(
                "status",
                "use en_route, on_scene or completed",
            ));
        }
        if status != AssignmentStatus::Completed && !skipped.is_empty() {
            return Err(Error::validation(
                "skipped",
                "reasons for undone actions go with completed",
            ));
        }
        let a = self.assignment(assignment_id)?;
        a.status.check_move(status)?;
        if status == AssignmentStatus::Completed {
            check_skipped(a, skipped)?;
        }
        let (resource_id, incident_id) = (a.resource_id.clone(), a.incident_id.clone());
        self.emit(Event::AssignmentProgressed {
            assignment_id: assignment_id.clone(),
            status,
            via,
            skipped: skipped.clone(),
        });
        match status.resource_status() {
            Some(rs) => self.set_resource_status(&resource_id, rs)?,
            None => self.free_resource(&resource_id, assignment_id)?,
        }
        let i = self.incident(&incident_id)?;
        if i.status == IncidentStatus::Dispatched {
            self.emit(Event::IncidentStatusChanged {
                incident_id,
                from: IncidentStatus::Dispatched,
                status: IncidentStatus::InProgress,
            });
        }
        Ok(())
    }

    /// Declines or cancels an assignment with a reason, then releases what it held.
    fn end(
        &mut self,
        assignment_id: &AssignmentId,
        reason: &str,
        to: AssignmentStatus,
    ) -> Result<(), Error> {
        short("reason", reason)?;
        self.assignment(assignment_id)?.status.check_move(to)?;
        let (assignment_id, reason) = (assignment_id.clone(), reason.to_string());
        self.emit(match to {
            AssignmentStatus::Declined => Event::AssignmentDeclined {
                assignment_id: assignment_id.clone(),
                reason,
            },
            _ => Event::AssignmentCancelled {
                assignment_id: assignment_id.clone(),
                reason,
            },
        });
        self.after_release(&assignment_id)
    }

    /// After a decline or cancellation: free the resource, and send the incident back
    /// to `assessed` when nobody is left on it.
    fn after_release(&mut self, assignment_id: &AssignmentId) -> Result<(), Error> {
        let a = self.assignment(assignment_id)?;
        let (resource_id, incident_id) = (a.resource_id.clone(), a.incident_id.clone());
        self.free_resource(&resource_id, assignment_id)?;
        let i = self.incident(&incident_id)?;
        let others_active = i
            .assignment_ids
            .iter()
            .filter(|id| *id != assignment_id)
            .filter_map(|id| self.state.assignments.get(id))
            .any(|x| x.status.is_active());
        if i.status == IncidentStatus::Dispatched && !others_active {
            self.emit(Event::IncidentStatusChanged {
                incident_id,
                from: IncidentStatus::Dispatched,
                status: IncidentStatus::Assessed,
            });
        }
        Ok(())
    }

    /// Stands down every active assignment of an incident (on cancellation).
    pub(super) fn stand_down_all(
        &mut self,
        incident_id: &IncidentId,
        reason: &str,
    ) -> Result<(), Error> {
        let active: Vec<(AssignmentId, ResourceId)> = self
            .incident(incident_id)?
            .assignment_ids
            .iter()
            .filter_map(|id| self.state.assignments.get(id))
            .filter(|a| a.status.is_active())
            .map(|a| (a.id.clone(), a.resource_id.clone()))
            .collect();
        for (assignment_id, resource_id) in active {
            self.emit(Event::AssignmentCancelled {
                assignment_id: assignment_id.clone(),
                reason: reason.to_string(),
            });
            self.free_resource(&resource_id, &assignment_id)?;
        }
        Ok(())
    }

    /// The resource goes back to available unless another assignment still holds it
    /// or someone took it off the board meanwhile.
    fn free_resource(
        &mut self,
        resource_id: &ResourceId,
        ending: &AssignmentId,
    ) -> Result<(), Error> {
        let still_held = self
            .state
            .active_assignments_of(resource_id)
            .any(|a| &a.id != ending);
        let r = self.resource(resource_id)?;
        let working = matches!(
            r.status,
            ResourceStatus::Assigned | ResourceStatus::EnRoute | ResourceStatus::OnScene
        );
        if !still_held && working {
            // A rostered resource whose shift ended while it worked goes off duty.
            let rest = self.at_rest(resource_id);
            self.set_resource_status(resource_id, rest)?;
        }
        Ok(())
    }

    fn set_resource_status(
        &mut self,
        resource_id: &ResourceId,
        status: ResourceStatus,
    ) -> Result<(), Error> {
        let from = self.resource(resource_id)?.status;
        if from != status {
            self.emit(Event::ResourceStatusChanged {
                resource_id: resource_id.clone(),
                from,
                status,
            });
        }
        Ok(())
    }
}

/// Completing: every reason names an undone action of this assignment and says
/// something, and every undone required action has one.
fn check_skipped(a: &Assignment, skipped: &BTreeMap<String, String>) -> Result<(), Error> {
    for (action_id, reason) in skipped {
        let field = format!("skipped.{action_id}");
        match a.action(action_id) {
            None => {
                return Err(Error::validation(
                    &field,
                    "not an action of this assignment",
                ));
            }
            Some(x) if x.done_at.is_some() => {
                return Err(Error::validation(&field, "this action is done"));
            }
            Some(_) => short(&field, reason)?,
        }
    }
    let undone: Vec<String> = a
        .missing_required()
        .filter(|x| !skipped.contains_key(&x.id))
        .map(|x| format!("{} ({})", x.id, x.text))
        .collect();
    if undone.is_empty() {
        return Ok(());
    }
    Err(Error::ProcedureViolation {
        rule: rules::REQUIRED_ACTIONS.into(),
        message: format!(
            "required actions not done: {}; do them or give a reason for each",
            undone.join(", ")
        ),
    })
}
