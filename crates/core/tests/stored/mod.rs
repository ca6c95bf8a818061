//! The stored form of a test world's log, through muster-log (a dev-dependency of
//! muster-core): to check that a log replays from what the stores keep.

#![allow(dead_code)]

use muster_core::engine::{Record, State};
use muster_log::{StoredEvent, chain};

/// The stored, hash-chained form of a log, starting from the genesis hash.
pub fn to_stored(log: &[Record]) -> Vec<StoredEvent> {
    let mut prev = chain::GENESIS.to_string();
    log.iter()
        .map(|r| {
            let s = muster_log::record::encode(r, &prev);
            prev = s.hash.clone();
            s
        })
        .collect()
}

/// Folds stored events (read back from their JSON bodies) into `state`.
pub fn replay_stored(mut state: State, stored: &[StoredEvent]) -> State {
    for s in stored {
        let r = muster_log::record::decode(s).expect("stored events read back");
        state.apply(&r);
    }
    state
}

/// The log as a hub before schema versions wrote it (version 1): each creation event
/// carried the whole object as it stood once the event applied, and assessments and
/// notes their `by` and `at`; hashed without a version. Built by folding the log and
/// reading each created object back from the state.
pub fn to_stored_v1(log: &[Record]) -> Vec<StoredEvent> {
    use muster_core::engine::Event::*;
    use serde_json::to_value;
    let mut state = State::default();
    let mut prev = chain::GENESIS.to_string();
    log.iter()
        .map(|r| {
            state.apply(r);
            let s = &state;
            let mut body = to_value(&r.event).expect("events serialise");
            let whole = match &r.event {
                ContactReceived { contact } => {
                    Some(("contact", to_value(&s.contacts[&contact.id])))
                }
                IncidentOpened { incident, .. } => {
                    Some(("incident", to_value(&s.incidents[&incident.id])))
                }
                IncidentAssessed { incident_id, .. } => Some((
                    "assessment",
                    to_value(s.incidents[incident_id].assessments.last()),
                )),
                IncidentNoted { incident_id, .. } => {
                    Some(("note", to_value(s.incidents[incident_id].notes.last())))
                }
                ResourceRegistered { resource } => {
                    Some(("resource", to_value(&s.resources[&resource.id])))
                }
                AssignmentCreated { assignment } => {
                    Some(("assignment", to_value(&s.assignments[&assignment.id])))
                }
                MessageBroadcast { message } => {
                    Some(("message", to_value(&s.messages[&message.id])))
                }
                CaseOpened { case } => Some(("case", to_value(&s.cases[&case.id]))),
                SupportProposed { plan } => Some(("plan", to_value(&s.plans[&plan.id]))),
                ImprovementRaised { improvement } => {
                    Some(("improvement", to_value(&s.improvements[&improvement.id])))
                }
                _ => None,
            };
            if let Some((key, object)) = whole {
                body[key] = object.expect("read models serialise");
            }
            let mut e = muster_log::record::encode(r, &prev);
            e.v = 1;
            e.body = body.to_string();
            e.hash = chain::link(&prev, &e);
            prev = e.hash.clone();
            e
        })
        .collect()
}
