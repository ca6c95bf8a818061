//! `improvement.*`: actions raised by a supervisor from a review finding, updated by
//! their owner or a supervisor through their lifecycle.

use super::{Cx, long, optional, short};
use crate::domain::Lifecycle;
use crate::domain::ids::ImprovementId;
use crate::domain::improvement::{self, Improvement, NewImprovement};
use crate::domain::user::Role;
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn improvement_raise(&mut self, c: &cmd::ImprovementRaise) -> Result<(), Error> {
        let cmd::ImprovementRaise {
            title,
            finding,
            owner_id,
            due_on,
            areas,
            plan_id,
        } = c;
        short("title", title)?;
        long("finding", finding)?;
        let owner = self.user(owner_id)?;
        if owner.disabled || owner.role == Role::Intake {
            return Err(Error::validation("owner_id", "must be an active user"));
        }
        if let Some(p) = plan_id {
            self.plan(p)?;
        }
        improvement::validate_new(
            areas,
            &self.centre.support_areas,
            *due_on,
            self.now.date_naive(),
        )?;
        let improvement = NewImprovement {
            id: ImprovementId::at_seq(self.next_seq()),
            title: title.clone(),
            finding: finding.clone(),
            owner_id: owner_id.clone(),
            due_on: *due_on,
            areas: areas.clone(),
            plan_id: plan_id.clone(),
        };
        self.emit(Event::ImprovementRaised { improvement });
        Ok(())
    }

    pub(super) fn improvement_update(&mut self, c: &cmd::ImprovementUpdate) -> Result<(), Error> {
        let cmd::ImprovementUpdate {
            improvement_id,
            status,
            note,
        } = c;
        optional("note", note.as_ref())?;
        let i = self.improvement(improvement_id)?;
        if i.owner_id != self.actor.user_id && self.actor.role != Role::Supervisor {
            return Err(Error::Forbidden(format!(
                "only the owner or a supervisor may update {improvement_id}"
            )));
        }
        i.status.check_move(*status)?;
        self.emit(Event::ImprovementUpdated {
            improvement_id: improvement_id.clone(),
            status: *status,
            note: note.clone(),
        });
        Ok(())
    }

    pub fn improvement(&self, id: &ImprovementId) -> Result<&Improvement, Error> {
        self.state
            .improvements
            .get(id)
            .ok_or_else(|| Error::not_found("improvement", id))
    }
}
