//! `contact.*`: the intake queue.

use super::{Cx, optional, short};
use crate::domain::Lifecycle;
use crate::domain::contact::{self, ContactStatus, NewContact};
use crate::domain::ids::ContactId;
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn contact_receive(&mut self, c: &cmd::ContactReceive) -> Result<(), Error> {
        let cmd::ContactReceive {
            channel,
            caller,
            location,
            summary,
            reason,
        } = c;
        contact::validate_new(caller, location.as_ref(), summary)?;
        let contact = NewContact {
            id: ContactId::at_seq(self.next_seq()),
            channel: *channel,
            caller: caller.clone(),
            location: location.clone(),
            summary: summary.clone(),
            reason: *reason,
        };
        self.emit(Event::ContactReceived { contact });
        Ok(())
    }

    pub(super) fn contact_take(&mut self, c: &cmd::ContactTake) -> Result<(), Error> {
        let cmd::ContactTake { contact_id } = c;
        self.contact(contact_id)?
            .status
            .check_move(ContactStatus::Taken)?;
        self.emit(Event::ContactTaken {
            contact_id: contact_id.clone(),
        });
        Ok(())
    }

    pub(super) fn contact_link(&mut self, c: &cmd::ContactLink) -> Result<(), Error> {
        let cmd::ContactLink {
            contact_id,
            incident_id,
        } = c;
        let c = self.contact(contact_id)?;
        c.check_linkable()?;
        self.incident(incident_id)?;
        if c.incident_id.as_ref() == Some(incident_id) {
            return Err(Error::Conflict(format!(
                "{contact_id} is already linked to {incident_id}"
            )));
        }
        self.take_if_queued(contact_id)?;
        self.emit(Event::ContactLinked {
            contact_id: contact_id.clone(),
            incident_id: incident_id.clone(),
        });
        Ok(())
    }

    pub(super) fn contact_close(&mut self, c: &cmd::ContactClose) -> Result<(), Error> {
        let cmd::ContactClose {
            contact_id,
            outcome,
            note,
        } = c;
        short("outcome", outcome)?;
        optional("note", note.as_ref())?;
        self.contact(contact_id)?
            .status
            .check_move(ContactStatus::Closed)?;
        self.emit(Event::ContactClosed {
            contact_id: contact_id.clone(),
            outcome: outcome.clone(),
            note: note.clone(),
        });
        Ok(())
    }

    /// Handling a queued contact (linking it, opening an incident from it) takes it.
    pub(super) fn take_if_queued(&mut self, contact_id: &ContactId) -> Result<(), Error> {
        if self.contact(contact_id)?.status == ContactStatus::Queued {
            self.emit(Event::ContactTaken {
                contact_id: contact_id.clone(),
            });
        }
        Ok(())
    }
}
