//! `support.*`: colleague support plans. Only the colleague agrees; either party or a
//! supervisor adds notes; the proposer or a supervisor reviews.

use super::{Cx, long, short};
use crate::domain::Lifecycle;
use crate::domain::ids::{PlanId, UserId};
use crate::domain::support::{self, NewPlan, NewPlanNote, Plan, PlanStatus};
use crate::domain::user::Role;
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn support_propose(&mut self, c: &cmd::SupportPropose) -> Result<(), Error> {
        let cmd::SupportPropose {
            colleague_id,
            areas,
            support_type,
            review_on,
            notes,
        } = c;
        self.propose(colleague_id, areas, support_type, *review_on, notes)
    }

    pub(super) fn support_agree(&mut self, c: &cmd::SupportAgree) -> Result<(), Error> {
        let cmd::SupportAgree { plan_id } = c;
        let p = self.plan(plan_id)?;
        if !p.involves(&self.actor.user_id) && !self.is_supervisor() {
            return Err(self.not_party(plan_id));
        }
        if p.colleague_id != self.actor.user_id {
            return Err(Error::Forbidden(format!(
                "only the colleague may agree to {plan_id}"
            )));
        }
        p.status.check_move(PlanStatus::Active)?;
        self.emit(Event::SupportAgreed {
            plan_id: plan_id.clone(),
        });
        Ok(())
    }

    pub(super) fn support_note(&mut self, c: &cmd::SupportNote) -> Result<(), Error> {
        let cmd::SupportNote { plan_id, text } = c;
        long("text", text)?;
        let p = self.plan(plan_id)?;
        if !p.involves(&self.actor.user_id) && !self.is_supervisor() {
            return Err(self.not_party(plan_id));
        }
        self.emit(Event::SupportNoted {
            plan_id: plan_id.clone(),
            text: text.clone(),
        });
        Ok(())
    }

    pub(super) fn support_review(&mut self, c: &cmd::SupportReview) -> Result<(), Error> {
        let cmd::SupportReview { plan_id, outcome } = c;
        short("outcome", outcome)?;
        let p = self.plan(plan_id)?;
        if !p.involves(&self.actor.user_id) && !self.is_supervisor() {
            return Err(self.not_party(plan_id));
        }
        if p.proposed_by != self.actor.user_id && !self.is_supervisor() {
            return Err(Error::Forbidden(format!(
                "only the proposer or a supervisor may review {plan_id}"
            )));
        }
        p.status.check_move(PlanStatus::Reviewed)?;
        self.emit(Event::SupportReviewed {
            plan_id: plan_id.clone(),
            outcome: outcome.clone(),
        });
        Ok(())
    }

    pub(super) fn support_attach_evidence(
        &mut self,
        c: &cmd::SupportAttachEvidence,
    ) -> Result<(), Error> {
        let cmd::SupportAttachEvidence { plan_id, evidence } = c;
        evidence.validate()?;
        let p = self.plan(plan_id)?;
        if p.colleague_id != evidence.trainee_id {
            return Err(Error::validation(
                "evidence.trainee_id",
                format!("must be the plan's colleague ({})", p.colleague_id),
            ));
        }
        if p.status == PlanStatus::Reviewed {
            return Err(Error::Conflict(format!(
                "{plan_id} has been reviewed: evidence goes on a plan still under way"
            )));
        }
        if p.evidence.iter().any(|e| e.evidence.same_as(evidence)) {
            return Err(Error::Conflict(format!(
                "this debrief is already attached to {plan_id}"
            )));
        }
        if p.evidence.len() >= support::MAX_EVIDENCE {
            return Err(Error::Conflict(format!(
                "{plan_id} already holds {} pieces of evidence",
                support::MAX_EVIDENCE
            )));
        }
        self.emit(Event::SupportEvidenceAttached {
            plan_id: plan_id.clone(),
            evidence: evidence.clone(),
        });
        Ok(())
    }

    fn propose(
        &mut self,
        colleague_id: &UserId,
        areas: &[String],
        support_type: &str,
        review_on: chrono::NaiveDate,
        notes: &Option<String>,
    ) -> Result<(), Error> {
        super::optional("notes", notes.as_ref())?;
        let colleague = self.user(colleague_id)?;
        if colleague.disabled || !colleague.role.can_dispatch() {
            return Err(Error::validation(
                "colleague_id",
                "must be an active operator or supervisor",
            ));
        }
        // An operator may ask for support for themselves; proposing it for someone
        // else is a supervisor's call.
        if colleague_id != &self.actor.user_id && !self.is_supervisor() {
            return Err(Error::Forbidden(
                "only a supervisor may propose support for someone else".into(),
            ));
        }
        support::validate_proposal(
            areas,
            support_type,
            review_on,
            self.now.date_naive(),
            &self.centre.support_areas,
            &self.centre.support_types,
        )?;
        let plan = NewPlan {
            id: PlanId::at_seq(self.next_seq()),
            colleague_id: colleague_id.clone(),
            areas: areas.to_vec(),
            support_type: support_type.to_string(),
            review_on,
            notes: notes
                .iter()
                .filter(|n| !n.trim().is_empty())
                .map(|n| NewPlanNote { text: n.clone() })
                .collect(),
        };
        self.emit(Event::SupportProposed { plan });
        Ok(())
    }

    pub fn plan(&self, id: &PlanId) -> Result<&Plan, Error> {
        self.state
            .plans
            .get(id)
            .ok_or_else(|| Error::not_found("support plan", id))
    }

    fn is_supervisor(&self) -> bool {
        self.actor.role == Role::Supervisor
    }

    /// Other operators may not learn a plan exists: refuse as if it did not.
    fn not_party(&self, id: &PlanId) -> Error {
        Error::not_found("support plan", id)
    }
}
