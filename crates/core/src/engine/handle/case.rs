//! `case.*`: queries and complaints, opened from a contact or directly, linked to the
//! incidents they are about, assigned, responded to and closed with an outcome.

use super::{Cx, long};
use crate::domain::Lifecycle;
use crate::domain::case::{self, Case, CaseStatus, NewCase};
use crate::domain::ids::{CaseId, ContactId, IncidentId, UserId};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn case_open(&mut self, c: &cmd::CaseOpen) -> Result<(), Error> {
        let cmd::CaseOpen {
            case_type,
            incident_id,
            contact_id,
            from,
            text,
            email,
        } = c;
        case::validate_new(from, text)?;
        if let Some(e) = email {
            crate::domain::check_email("email", e)?;
        }
        let incident_ids = self.case_incidents(incident_id.as_ref(), contact_id.as_ref())?;
        let case = NewCase {
            id: CaseId::at_seq(self.next_seq()),
            case_type: *case_type,
            incident_ids,
            contact_id: contact_id.clone(),
            from: from.clone(),
            text: text.clone(),
            email: email.clone(),
        };
        self.emit(Event::CaseOpened { case });
        Ok(())
    }

    pub(super) fn case_assign(&mut self, c: &cmd::CaseAssign) -> Result<(), Error> {
        let cmd::CaseAssign { case_id, user_id } = c;
        self.case(case_id)?
            .status
            .check_move(CaseStatus::Assigned)?;
        self.check_case_handler(user_id)?;
        self.emit(Event::CaseAssigned {
            case_id: case_id.clone(),
            user_id: user_id.clone(),
        });
        Ok(())
    }

    pub(super) fn case_respond(&mut self, c: &cmd::CaseRespond) -> Result<(), Error> {
        let cmd::CaseRespond { case_id, response } = c;
        long("response", response)?;
        self.case(case_id)?
            .status
            .check_move(CaseStatus::Responded)?;
        self.emit(Event::CaseResponded {
            case_id: case_id.clone(),
            response: response.clone(),
        });
        Ok(())
    }

    pub(super) fn case_close(&mut self, c: &cmd::CaseClose) -> Result<(), Error> {
        let cmd::CaseClose {
            case_id,
            outcome,
            root_cause,
        } = c;
        let c = self.case(case_id)?;
        c.status.check_move(CaseStatus::Closed)?;
        case::check_close(
            c.case_type,
            *outcome,
            root_cause.as_deref(),
            &self.centre.root_causes,
        )?;
        self.emit(Event::CaseClosed {
            case_id: case_id.clone(),
            outcome: *outcome,
            root_cause: root_cause.clone(),
        });
        Ok(())
    }

    pub fn case(&self, id: &CaseId) -> Result<&Case, Error> {
        self.state
            .cases
            .get(id)
            .ok_or_else(|| Error::not_found("case", id))
    }

    /// The incidents a new case is about: the one named, and the one its contact is
    /// linked to (so a complaint taken on a call reaches the incident's record).
    fn case_incidents(
        &self,
        incident_id: Option<&IncidentId>,
        contact_id: Option<&ContactId>,
    ) -> Result<Vec<IncidentId>, Error> {
        let mut out = Vec::new();
        if let Some(id) = incident_id {
            self.incident(id)?;
            out.push(id.clone());
        }
        if let Some(c) = contact_id {
            let linked = self.contact(c)?.incident_id.clone();
            out.extend(linked.filter(|i| !out.contains(i)));
        }
        Ok(out)
    }

    /// A case goes to someone who works the desk and can still sign in.
    fn check_case_handler(&self, user_id: &UserId) -> Result<(), Error> {
        let u = self.user(user_id)?;
        if u.disabled || !u.role.can_dispatch() {
            return Err(Error::validation(
                "user_id",
                "must be an active operator or supervisor",
            ));
        }
        Ok(())
    }
}
