//! The single writer's logic: `handle(state, command, actor, now)` checks
//! authorisation and the procedure and returns events or a typed error; `apply` folds
//! events into the state and never fails. Neither does I/O.
//!
//! Architecture invariant: nothing here reads the clock, touches the network or the
//! disk, or spawns a task. The hub owns all of that.

pub mod alert;
pub mod authz;
pub mod code;
pub mod command;
pub mod error;
pub mod event;
mod handle;
pub mod state;
pub mod timers;
pub mod visibility;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use authz::Actor;
pub use code::Code;
pub use command::{Command, CommandKind};
pub use error::Error;
pub use event::{Event, EventKind, Record};
pub use state::State;

use crate::domain::procedure::Centre;

/// The engine: the centre's procedures plus the rules that turn commands into events.
#[derive(Clone, Debug)]
pub struct Engine {
    pub centre: Arc<Centre>,
    /// How many Web Push subscriptions one user may hold (the hub's
    /// `push.max_subscriptions_per_user`); a new one replaces the oldest.
    pub max_push_subscriptions: usize,
}

/// The default of [`Engine::max_push_subscriptions`].
pub const DEFAULT_MAX_PUSH_SUBSCRIPTIONS: usize = 5;

impl Engine {
    pub fn new(centre: Centre) -> Self {
        Engine {
            centre: Arc::new(centre),
            max_push_subscriptions: DEFAULT_MAX_PUSH_SUBSCRIPTIONS,
        }
    }

    /// The same engine with another per-user push subscription limit (at least 1).
    pub fn with_max_push_subscriptions(mut self, limit: usize) -> Self {
        self.max_push_subscriptions = limit.max(1);
        self
    }

    /// Decides a command against the current state. On success the events are in the
    /// order they must be applied; the `i`th will get `seq = state.seq + 1 + i`.
    pub fn handle(
        &self,
        state: &State,
        command: &Command,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, Error> {
        authz::authorize(state, command, actor)?;
        let mut cx = handle::Cx {
            centre: &self.centre,
            state,
            actor,
            now,
            events: Vec::new(),
            max_push_subscriptions: self.max_push_subscriptions,
        };
        cx.dispatch(command)?;
        debug_assert!(
            !cx.events.is_empty(),
            "an accepted command always records something"
        );
        Ok(cx.events)
    }

    /// Decides a command and builds its records, ready to append.
    pub fn records(
        &self,
        state: &State,
        command: &Command,
        actor: &Actor,
        command_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, Error> {
        let events = self.handle(state, command, actor, now)?;
        Ok(events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Record {
                seq: state.seq + 1 + i as u64,
                at: now,
                actor: actor.user_id.clone(),
                command_id: command_id.map(str::to_string),
                event,
            })
            .collect())
    }
}
