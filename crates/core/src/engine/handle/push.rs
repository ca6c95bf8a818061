//! `push.*`: Web Push subscriptions. A user subscribes and unsubscribes their own;
//! the hub itself removes one the push service says is gone, and those of a session
//! that logged out. Each user keeps at most the engine's limit: a new one replaces
//! the oldest (`push.unsubscribed {reason: replaced}`, an explicit event, so replaying
//! the log never needs the limit).

use super::Cx;
use crate::domain::push::{self, PushSubscription, UnsubscribeReason};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

/// Longest session tag the hub records.
const MAX_SESSION_TAG: usize = 64;

impl Cx<'_> {
    pub(super) fn push_subscribe(&mut self, c: &cmd::PushSubscribe) -> Result<(), Error> {
        let cmd::PushSubscribe {
            endpoint,
            keys,
            session,
        } = c;
        if self.actor.is_system() {
            return Err(Error::Forbidden(
                "a push subscription belongs to a user".into(),
            ));
        }
        push::check_endpoint(endpoint)?;
        push::check_keys(keys)?;
        if session.as_ref().is_some_and(|s| s.len() > MAX_SESSION_TAG) {
            return Err(Error::validation("session", "too long"));
        }
        let user_id = self.actor.user_id.clone();
        // The same browser signed in as someone else now: its pushes are theirs.
        for (other, subs) in &self.state.push_subscriptions {
            if *other != user_id && subs.iter().any(|s| &s.endpoint == endpoint) {
                self.events.push(Event::PushUnsubscribed {
                    user_id: other.clone(),
                    endpoint: endpoint.clone(),
                    reason: UnsubscribeReason::Replaced,
                });
            }
        }
        let mine: &[PushSubscription] = self
            .state
            .push_subscriptions
            .get(&user_id)
            .map_or(&[], Vec::as_slice);
        // Subscribing again is not an error: the keys may have changed.
        if !mine.iter().any(|s| &s.endpoint == endpoint) {
            let over = (mine.len() + 1).saturating_sub(self.max_push_subscriptions.max(1));
            for oldest in mine.iter().take(over) {
                self.events.push(Event::PushUnsubscribed {
                    user_id: user_id.clone(),
                    endpoint: oldest.endpoint.clone(),
                    reason: UnsubscribeReason::Replaced,
                });
            }
        }
        self.emit(Event::PushSubscribed {
            user_id,
            endpoint: endpoint.clone(),
            keys: keys.clone(),
            session: session.clone(),
        });
        Ok(())
    }

    pub(super) fn push_unsubscribe(&mut self, c: &cmd::PushUnsubscribe) -> Result<(), Error> {
        let cmd::PushUnsubscribe {
            endpoint,
            user_id,
            reason,
        } = c;
        let system = self.actor.is_system();
        if !system && (user_id.is_some() || reason.is_some()) {
            return Err(Error::Forbidden(
                "only the hub names whose subscription it removes, and why; leave user_id and reason out".into(),
            ));
        }
        let user_id = match user_id {
            Some(u) => u.clone(),
            None if system => {
                return Err(Error::validation("user_id", "the hub must name the user"));
            }
            None => self.actor.user_id.clone(),
        };
        let held = self
            .state
            .push_subscriptions
            .get(&user_id)
            .is_some_and(|subs| subs.iter().any(|s| &s.endpoint == endpoint));
        if !held {
            // The endpoint is not echoed: it is a capability to push to a browser.
            return Err(Error::not_found("push subscription", "with this endpoint"));
        }
        self.emit(Event::PushUnsubscribed {
            user_id,
            endpoint: endpoint.clone(),
            reason: reason.unwrap_or(UnsubscribeReason::User),
        });
        Ok(())
    }
}
