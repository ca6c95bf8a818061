//! `contact.*`: the intake queue.

use super::{Cx, optional, short};
use crate::domain::Lifecycle;
use crate::domain::contact::{self, Contact, ContactStatus};
use crate::domain::ids::ContactId;
use crate::engine::command::Command;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn on_contact(&mut self, command: &Command) -> Result<(), Error> {
        match command {
            Command::ContactReceive {
                channel,
                caller,
                location,
                summary,
                reason,
            } => {
                contact::validate_new(caller, location.as_ref(), summary)?;
                let contact = Contact {
                    id: ContactId::at_seq(self.next_seq()),
                    channel: *channel,
                    caller: caller.clone(),
                    location: location.clone(),
                    summary: summary.clone(),
                    reason: *reason,
                    status: ContactStatus::Queued,
                    received_at: self.now,
                    received_by: self.actor.user_id.clone(),
                    taken_at: None,
                    taken_by: None,
                    incident_id: None,
                    closed_at: None,
                    outcome: None,
                    note: None,
                };
                self.emit(Event::ContactReceived { contact });
            }
            Command::ContactTake { contact_id } => {
                self.contact(contact_id)?
                    .status
                    .check_move(ContactStatus::Taken)?;
                self.emit(Event::ContactTaken {
                    contact_id: contact_id.clone(),
                });
            }
            Command::ContactLink {
                contact_id,
                incident_id,
            } => {
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
            }
            Command::ContactClose {
                contact_id,
                outcome,
                note,
            } => {
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
            }
            _ => unreachable!("dispatch routes only contact commands here"),
        }
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
