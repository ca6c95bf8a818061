//! `privacy.*`: erasure on request, the retention sweep, and the record of every read
//! of personal data through the subject-rights routes.

use super::{Cx, long, short};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;
use crate::privacy::retention;
use crate::privacy::subject::{self, SubjectId};

impl Cx<'_> {
    fn subject(&self, subject_id: &str) -> Result<SubjectId, Error> {
        let subject: SubjectId = subject_id
            .parse()
            .map_err(|e: subject::BadSubjectId| Error::validation("subject_id", e.to_string()))?;
        if !subject::exists(self.state, &subject) {
            return Err(Error::not_found("subject", subject_id));
        }
        Ok(subject)
    }

    pub(super) fn privacy_erase(&mut self, c: &cmd::PrivacyErase) -> Result<(), Error> {
        let cmd::PrivacyErase {
            subject_id,
            reason,
            r#override,
            justification,
        } = c;
        let subject = self.subject(subject_id)?;
        short("reason", reason)?;
        let holds = subject::holds(self.state, &subject);
        let justification = match (r#override, justification) {
            (true, Some(j)) => {
                long("justification", j)?;
                Some(j.clone())
            }
            (true, None) => {
                return Err(Error::validation(
                    "justification",
                    "an override of a legal hold needs a justification",
                ));
            }
            (false, _) if !holds.is_empty() => {
                return Err(Error::LegalHold(format!(
                    "{subject} is under legal hold while {} {} open; erase it once closed, or with override and a justification",
                    holds.join(", "),
                    if holds.len() == 1 { "is" } else { "are" }
                )));
            }
            (false, _) => None,
        };
        self.emit(Event::PrivacyErased {
            subject_id: subject.to_string(),
            records: subject::records_of(self.state, &subject),
            categories: subject.kind.categories().to_vec(),
            reason: reason.clone(),
            r#override: *r#override,
            justification,
        });
        Ok(())
    }

    pub(super) fn privacy_sweep(&mut self, c: &cmd::PrivacySweep) -> Result<(), Error> {
        if c.now > self.now {
            return Err(Error::validation(
                "now",
                "a sweep cannot run ahead of the clock",
            ));
        }
        let due = retention::due(self.state, &self.centre.privacy.retention, c.now);
        if due.is_empty() {
            return Err(Error::Conflict(
                "no personal data is due for erasure".into(),
            ));
        }
        for d in due {
            self.emit(Event::PrivacySwept {
                category: d.category,
                retention_days: d.retention_days,
                before: d.before,
                records: d.records,
            });
        }
        Ok(())
    }

    pub(super) fn privacy_access(&mut self, c: &cmd::PrivacyAccess) -> Result<(), Error> {
        let subject = self.subject(&c.subject_id)?;
        short("purpose", &c.purpose)?;
        self.emit(Event::PrivacyAccessed {
            subject_id: subject.to_string(),
            purpose: c.purpose.clone(),
        });
        Ok(())
    }

    pub(super) fn privacy_search(&mut self, c: &cmd::PrivacySearch) -> Result<(), Error> {
        if c.q.trim().chars().count() < subject::MIN_QUERY {
            return Err(Error::validation(
                "q",
                format!("search for at least {} characters", subject::MIN_QUERY),
            ));
        }
        short("q", &c.q)?;
        let matches = subject::search(self.state, &c.q).len();
        self.emit(Event::PrivacySearched {
            matches: u32::try_from(matches).unwrap_or(u32::MAX),
        });
        Ok(())
    }
}
