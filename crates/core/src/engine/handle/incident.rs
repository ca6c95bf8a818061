//! `incident.*`: opening, scripting, assessing, resolving, closing, and the
//! supervisor's override.

use super::{Cx, long, short};
use crate::domain::ids::IncidentId;
use crate::domain::incident::{
    self, Incident, IncidentStatus, NewAssessment, NewIncident, NewNote, rules,
};
use crate::domain::triage::{Priority, TriageMethod, Validity};
use crate::domain::{Lifecycle, MAX_TEXT, check_text};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn incident_answer(&mut self, c: &cmd::IncidentAnswer) -> Result<(), Error> {
        let cmd::IncidentAnswer {
            incident_id,
            answers,
        } = c;
        let i = self.incident(incident_id)?;
        open_status(i)?;
        let t = self
            .centre
            .incident_type(&i.incident_type)
            .ok_or_else(|| unknown_type(&i.incident_type))?;
        if answers.is_empty() {
            return Err(Error::validation("answers", "give at least one answer"));
        }
        for (question, value) in answers {
            t.check_answer(question, value)
                .map_err(|reason| Error::validation(&format!("answers.{question}"), reason))?;
            if let Some(text) = value.as_str() {
                check_text(&format!("answers.{question}"), text, MAX_TEXT, false)?;
            }
        }
        let mut all = i.answers.clone();
        all.extend(answers.iter().map(|(k, v)| (k.clone(), v.clone())));
        let (priority, rule) = t.protocol_priority(&all);
        self.emit(Event::IncidentAnswered {
            incident_id: incident_id.clone(),
            answers: answers.clone(),
            suggested_priority: Some(priority),
            rule,
        });
        Ok(())
    }

    pub(super) fn incident_note(&mut self, c: &cmd::IncidentNote) -> Result<(), Error> {
        let cmd::IncidentNote { incident_id, text } = c;
        long("text", text)?;
        self.incident(incident_id)?;
        let note = NewNote { text: text.clone() };
        self.emit(Event::IncidentNoted {
            incident_id: incident_id.clone(),
            note,
        });
        Ok(())
    }

    pub(super) fn incident_resolve(&mut self, c: &cmd::IncidentResolve) -> Result<(), Error> {
        let cmd::IncidentResolve {
            incident_id,
            outcome,
            summary,
        } = c;
        short("outcome", outcome)?;
        long("summary", summary)?;
        self.incident(incident_id)?
            .status
            .check_move(IncidentStatus::Resolved)?;
        self.emit(Event::IncidentResolved {
            incident_id: incident_id.clone(),
            outcome: outcome.clone(),
            summary: summary.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_close(&mut self, c: &cmd::IncidentClose) -> Result<(), Error> {
        let cmd::IncidentClose { incident_id } = c;
        self.close(incident_id)
    }

    pub(super) fn incident_reopen(&mut self, c: &cmd::IncidentReopen) -> Result<(), Error> {
        let cmd::IncidentReopen {
            incident_id,
            reason,
        } = c;
        short("reason", reason)?;
        let i = self.incident(incident_id)?;
        if i.status.is_open() {
            return Err(Error::InvalidTransition {
                entity: "incident",
                from: i.status.name().into(),
                to: "reopened".into(),
            });
        }
        if let Some(into) = &i.merged_into {
            return Err(Error::InvalidTransition {
                entity: "incident",
                from: format!("merged (into {into})"),
                to: "reopened".into(),
            });
        }
        i.status.check_move(IncidentStatus::Assessed)?;
        self.emit(Event::IncidentReopened {
            incident_id: incident_id.clone(),
            reason: reason.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_cancel(&mut self, c: &cmd::IncidentCancel) -> Result<(), Error> {
        let cmd::IncidentCancel {
            incident_id,
            reason,
        } = c;
        short("reason", reason)?;
        self.incident(incident_id)?
            .status
            .check_move(IncidentStatus::Cancelled)?;
        self.stand_down_all(incident_id, "incident cancelled")?;
        self.emit(Event::IncidentCancelled {
            incident_id: incident_id.clone(),
            reason: reason.clone(),
        });
        Ok(())
    }

    /// Folds a duplicate into the incident it repeats. Contacts move to the survivor
    /// (`contact.linked`); resources still out on the duplicate are stood down (the
    /// desk sends whoever the survivor needs, so nobody is sent twice without a
    /// decision); notes stay on the duplicate, which the survivor names in
    /// `merged_from`. The duplicate ends `cancelled` with `merged_into`.
    pub(super) fn incident_merge(&mut self, c: &cmd::IncidentMerge) -> Result<(), Error> {
        let cmd::IncidentMerge {
            incident_id,
            into,
            reason,
        } = c;
        short("reason", reason)?;
        if into == incident_id {
            return Err(Error::validation(
                "into",
                "an incident cannot be merged into itself",
            ));
        }
        let duplicate = self.incident(incident_id)?;
        if !duplicate.status.is_open() {
            return Err(Error::InvalidTransition {
                entity: "incident",
                from: duplicate.status.name().into(),
                to: "merged".into(),
            });
        }
        let contacts = duplicate.contact_ids.clone();
        let survivor = self.incident(into)?;
        if !survivor.status.is_open() {
            let state = match &survivor.merged_into {
                Some(other) => format!("already merged into {other}"),
                None => survivor.status.name().to_string(),
            };
            return Err(Error::validation(
                "into",
                format!(
                    "{} is {state}; merge into an open incident",
                    survivor.reference
                ),
            ));
        }
        let note = format!("merged into {}", survivor.reference);
        for contact_id in contacts {
            self.emit(Event::ContactLinked {
                contact_id,
                incident_id: into.clone(),
            });
        }
        self.stand_down_all(incident_id, &note)?;
        self.emit(Event::IncidentMerged {
            incident_id: incident_id.clone(),
            into: into.clone(),
            reason: reason.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_share(&mut self, c: &cmd::IncidentShare) -> Result<(), Error> {
        let cmd::IncidentShare {
            incident_id,
            partner,
        } = c;
        check_partner(partner)?;
        if self.incident(incident_id)?.shared_with.contains(partner) {
            return Err(Error::validation(
                "partner",
                format!("the incident is already shared with {partner}"),
            ));
        }
        self.emit(Event::IncidentShared {
            incident_id: incident_id.clone(),
            partner: partner.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_unshare(&mut self, c: &cmd::IncidentUnshare) -> Result<(), Error> {
        let cmd::IncidentUnshare {
            incident_id,
            partner,
        } = c;
        check_partner(partner)?;
        if !self.incident(incident_id)?.shared_with.contains(partner) {
            return Err(Error::validation(
                "partner",
                format!("the incident is not shared with {partner}"),
            ));
        }
        self.emit(Event::IncidentUnshared {
            incident_id: incident_id.clone(),
            partner: partner.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_override(&mut self, c: &cmd::IncidentOverride) -> Result<(), Error> {
        let cmd::IncidentOverride {
            incident_id,
            rule,
            justification,
        } = c;
        if !rules::is_known(rule) {
            let known: Vec<&str> = rules::ALL.iter().map(|(r, _)| *r).collect();
            return Err(Error::validation(
                "rule",
                format!("unknown rule; known rules: {}", known.join(", ")),
            ));
        }
        long("justification", justification)?;
        if justification.trim().len() < 10 {
            return Err(Error::validation(
                "justification",
                "write at least 10 characters saying why",
            ));
        }
        self.incident(incident_id)?;
        self.emit(Event::IncidentOverridden {
            incident_id: incident_id.clone(),
            rule: rule.clone(),
            justification: justification.clone(),
        });
        Ok(())
    }

    pub(super) fn incident_open(&mut self, command: &cmd::IncidentOpen) -> Result<(), Error> {
        let cmd::IncidentOpen {
            contact_id,
            incident_type,
            description,
            location,
        } = command;
        if self.centre.incident_type(incident_type).is_none() {
            return Err(unknown_type(incident_type));
        }
        long("description", description)?;
        location.validate("location", true)?;
        if let Some(c) = contact_id {
            self.contact(c)?.check_linkable()?;
        }
        let id = IncidentId::at_seq(self.next_seq());
        let incident = NewIncident {
            id: id.clone(),
            reference: incident::reference(self.now, self.state.next_reference(self.now)),
            incident_type: incident_type.clone(),
            description: description.clone(),
            location: location.clone(),
        };
        let since = self.now - chrono::Duration::seconds(self.centre.duplicate.window_secs as i64);
        let recent = self
            .state
            .opened_since(incident_type, since)
            .map(|o| (o.at, &o.id, o.point));
        let is_open = |id: &IncidentId| {
            self.state
                .incidents
                .get(id)
                .is_some_and(|i| i.status.is_open())
        };
        let duplicates = crate::domain::duplicate::candidates(
            &self.centre.duplicate,
            location.point(),
            self.now,
            recent,
            is_open,
        );
        self.emit(Event::IncidentOpened {
            incident,
            duplicates,
        });
        if let Some(c) = contact_id {
            self.take_if_queued(c)?;
            self.emit(Event::ContactLinked {
                contact_id: c.clone(),
                incident_id: id,
            });
        }
        Ok(())
    }

    pub(super) fn incident_assess(&mut self, command: &cmd::IncidentAssess) -> Result<(), Error> {
        let cmd::IncidentAssess {
            incident_id,
            validity,
            priority,
            method,
            reason,
            duplicate_of,
            impact,
            urgency,
        } = command;
        let i = self.incident(incident_id)?;
        open_status(i)?;
        if *method == TriageMethod::Protocol
            && matches!(validity, Validity::Verified | Validity::Unverified)
            && !i.is_overridden(rules::REQUIRED_QUESTIONS)
        {
            let t = self
                .centre
                .incident_type(&i.incident_type)
                .ok_or_else(|| unknown_type(&i.incident_type))?;
            let missing = t.unanswered_required(&i.answers);
            if !missing.is_empty() {
                return Err(Error::ProcedureViolation {
                    rule: rules::REQUIRED_QUESTIONS.into(),
                    message: format!(
                        "answer the required questions before assessing by protocol: {}",
                        missing.join(", ")
                    ),
                });
            }
        }
        if reason.chars().count() > crate::domain::MAX_SHORT_TEXT {
            return Err(Error::validation(
                "reason",
                "must be at most 500 characters",
            ));
        }
        let (priority, rule) = self.decide_priority(
            i,
            *method,
            *priority,
            reason,
            impact.as_deref(),
            urgency.as_deref(),
        )?;
        if *validity == Validity::Duplicate {
            let Some(original) = duplicate_of else {
                return Err(Error::validation(
                    "duplicate_of",
                    "name the incident this one duplicates",
                ));
            };
            if original == incident_id {
                return Err(Error::validation(
                    "duplicate_of",
                    "an incident cannot duplicate itself",
                ));
            }
            self.incident(original)?;
        }
        let needs_priority = matches!(validity, Validity::Verified | Validity::Unverified);
        if needs_priority && priority.is_none() {
            return Err(Error::validation(
                "priority",
                "required unless the report is a duplicate or false",
            ));
        }
        let from = i.status;
        let assessment = NewAssessment {
            validity: *validity,
            priority,
            method: *method,
            reason: reason.clone(),
            rule,
            duplicate_of: duplicate_of.clone(),
        };
        self.emit(Event::IncidentAssessed {
            incident_id: incident_id.clone(),
            assessment,
        });
        if from == IncidentStatus::New {
            self.emit(Event::IncidentStatusChanged {
                incident_id: incident_id.clone(),
                from,
                status: IncidentStatus::Assessed,
            });
        }
        Ok(())
    }

    /// The priority each method gives, and the rule or cell behind it.
    fn decide_priority(
        &self,
        i: &Incident,
        method: TriageMethod,
        given: Option<Priority>,
        reason: &str,
        impact: Option<&str>,
        urgency: Option<&str>,
    ) -> Result<(Option<Priority>, Option<String>), Error> {
        match method {
            TriageMethod::Manual => {
                if reason.trim().is_empty() {
                    return Err(Error::validation(
                        "reason",
                        "the manual method needs a reason",
                    ));
                }
                Ok((given, None))
            }
            TriageMethod::Protocol => {
                let t = self
                    .centre
                    .incident_type(&i.incident_type)
                    .ok_or_else(|| unknown_type(&i.incident_type))?;
                let (computed, rule) = t.protocol_priority(&i.answers);
                Ok((
                    Some(given.unwrap_or(computed)),
                    rule.or_else(|| Some("default".into())),
                ))
            }
            TriageMethod::Matrix => {
                let (Some(impact), Some(urgency)) = (impact, urgency) else {
                    return Err(Error::validation(
                        "impact",
                        "the matrix method needs impact and urgency",
                    ));
                };
                let p = self
                    .centre
                    .matrix
                    .priority(impact, urgency)
                    .ok_or_else(|| {
                        Error::validation(
                            "impact",
                            format!("no matrix cell for impact {impact:?} and urgency {urgency:?}"),
                        )
                    })?;
                Ok((
                    Some(given.unwrap_or(p)),
                    Some(format!("{impact}×{urgency}")),
                ))
            }
        }
    }

    fn close(&mut self, incident_id: &IncidentId) -> Result<(), Error> {
        let i = self.incident(incident_id)?;
        i.status.check_move(IncidentStatus::Closed)?;
        let waived = i.is_overridden(rules::CLOSE_REQUIRES_ACTIONS);
        let checks_actions = self
            .centre
            .incident_type(&i.incident_type)
            .is_none_or(|t| t.closure.require_required_actions);
        if !waived {
            let mut open = self.still_open_work(i, checks_actions);
            if !open.is_empty() {
                open.sort();
                return Err(Error::ProcedureViolation {
                    rule: rules::CLOSE_REQUIRES_ACTIONS.into(),
                    message: format!("before closing: {}", open.join("; ")),
                });
            }
        }
        // With the rule waived, whoever is still out is stood down as the incident closes.
        self.stand_down_all(incident_id, "incident closed")?;
        self.emit(Event::IncidentClosed {
            incident_id: incident_id.clone(),
        });
        Ok(())
    }

    /// What keeps an incident from closing: resources still out, required actions not done.
    fn still_open_work(&self, i: &crate::domain::incident::Incident, actions: bool) -> Vec<String> {
        use crate::domain::assignment::AssignmentStatus::{Cancelled, Declined};
        let live = i
            .assignment_ids
            .iter()
            .filter_map(|a| self.state.assignments.get(a))
            .filter(|a| !matches!(a.status, Cancelled | Declined));
        let mut out = Vec::new();
        for a in live {
            if a.status.is_active() {
                out.push(format!("{} is still {}", a.id, a.status));
            }
            if actions {
                out.extend(
                    a.missing_required().map(|x| {
                        format!("required action {} {} ({}) not done", a.id, x.id, x.text)
                    }),
                );
            }
        }
        out
    }
}

/// Answers and assessments are taken while the incident is being handled.
fn open_status(i: &Incident) -> Result<(), Error> {
    if i.status.is_open() {
        Ok(())
    } else {
        Err(Error::InvalidTransition {
            entity: "incident",
            from: i.status.name().into(),
            to: "assessed".into(),
        })
    }
}

fn unknown_type(t: &str) -> Error {
    Error::validation(
        "type",
        format!("unknown incident type {t:?}; see GET /api/catalogue"),
    )
}

/// A partner's name: 1 to 64 lower-case letters, digits, `_` or `-` (as
/// `muster partner add` accepts it).
fn check_partner(partner: &str) -> Result<(), Error> {
    if crate::domain::incident::valid_partner(partner) {
        Ok(())
    } else {
        Err(Error::validation(
            "partner",
            "a partner's name is 1 to 64 lower-case letters, digits, _ or -",
        ))
    }
}
