//! `message.*`: broadcasts and direct guidance, with acknowledgement tracking.

use super::{Cx, long};
use crate::domain::ids::{MessageId, UserId};
use crate::domain::message::{Audience, Message, NewMessage};
use crate::domain::user::Role;
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn message_broadcast(&mut self, c: &cmd::MessageBroadcast) -> Result<(), Error> {
        let cmd::MessageBroadcast {
            audience,
            text,
            requires_ack,
        } = c;
        long("text", text)?;
        let recipients = self.recipients(audience)?;
        let message = NewMessage {
            id: MessageId::at_seq(self.next_seq()),
            audience: audience.clone(),
            text: text.clone(),
            requires_ack: *requires_ack,
            recipients,
        };
        self.emit(Event::MessageBroadcast { message });
        Ok(())
    }

    pub fn message(&self, id: &MessageId) -> Result<&Message, Error> {
        self.state
            .messages
            .get(id)
            .ok_or_else(|| Error::not_found("message", id))
    }

    pub(super) fn message_acknowledge(&mut self, c: &cmd::MessageAcknowledge) -> Result<(), Error> {
        let cmd::MessageAcknowledge { message_id } = c;
        let m = self.message(message_id)?;
        let me = &self.actor.user_id;
        if !m.recipients.contains(me) {
            return Err(Error::Forbidden(format!(
                "{message_id} was not addressed to you"
            )));
        }
        if m.acks.contains_key(me) {
            return Err(Error::Conflict(format!(
                "{message_id} is already acknowledged"
            )));
        }
        self.emit(Event::MessageAcknowledged {
            message_id: message_id.clone(),
            user_id: me.clone(),
        });
        Ok(())
    }

    /// The users a message is addressed to, judged when it is sent.
    fn recipients(&self, audience: &Audience) -> Result<Vec<UserId>, Error> {
        let state = self.state;
        let users_of = |resources: Vec<crate::domain::ids::ResourceId>| -> Vec<UserId> {
            resources
                .iter()
                .filter_map(|r| state.resources.get(r)?.user_id.clone())
                .filter(|u| state.users.get(u).is_some_and(|u| !u.disabled))
                .collect()
        };
        let out = match audience {
            Audience::All => state
                .users
                .values()
                .filter(|u| !u.disabled && u.role != Role::Intake && u.id != self.actor.user_id)
                .map(|u| u.id.clone())
                .collect(),
            Audience::Field => state
                .users
                .values()
                .filter(|u| !u.disabled && u.role.is_field() && u.id != self.actor.user_id)
                .map(|u| u.id.clone())
                .collect(),
            Audience::Team(team) => {
                let members: Vec<_> = state
                    .resources
                    .values()
                    .filter(|r| &r.team == team)
                    .map(|r| r.id.clone())
                    .collect();
                if members.is_empty() {
                    return Err(Error::not_found("team", team));
                }
                users_of(members)
            }
            Audience::Incident(incident_id) => {
                self.incident(incident_id)?;
                users_of(crate::engine::visibility::resources_on(state, incident_id))
            }
            Audience::Resource(resource_id) => {
                self.resource(resource_id)?;
                users_of(vec![resource_id.clone()])
            }
            Audience::User(user_id) => {
                self.user(user_id)?;
                vec![user_id.clone()]
            }
        };
        Ok(out)
    }
}
