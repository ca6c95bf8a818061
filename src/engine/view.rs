//! What one person may see of the state, as the JSON the HTTP API sends: the whole
//! view (`GET /api/state`) and one incident with its timeline and conformance report
//! (`GET /api/incidents/{id}`). Pure: the caller reads the state and the log.
//!
//! Architecture invariant: no password hash leaves through here. Users are always
//! serialised through [`user_json`], which strips it.

use serde_json::{Map, Value, json};

use super::conformance;
use super::event::Record;
use super::state::State;
use super::visibility::{self, Viewer};
use crate::domain::assignment::Assignment;
use crate::domain::ids::{CaseId, IncidentId};
use crate::domain::message::{Audience, Message};
use crate::domain::user::{Role, User};

/// The caller's view: `{seq, incidents, resources, contacts, assignments, cases,
/// messages, users}`, each a JSON array. Desk roles see everything but direct messages
/// between others; a field user sees its own resource, its own assignments and their
/// incidents, and the messages addressed to it; intake sees nothing.
pub fn state_for(state: &State, viewer: &Viewer) -> Value {
    if viewer.role.sees_everything() {
        desk_view(state, viewer)
    } else if viewer.role.is_field() {
        field_view(state, viewer)
    } else {
        empty_view(state.seq)
    }
}

fn desk_view(state: &State, viewer: &Viewer) -> Value {
    json!({
        "seq": state.seq,
        "incidents": to_array(state.incidents.values()),
        "resources": to_array(state.resources.values()),
        "contacts": to_array(state.contacts.values()),
        "assignments": to_array(state.assignments.values()),
        "cases": if may_see_cases(viewer) { to_array(state.cases.values()) } else { json!([]) },
        "messages": to_array(state.messages.values().filter(|m| message_visible(m, viewer))),
        "users": state.users.values().map(user_json).collect::<Vec<_>>(),
        "plans": to_array(state.plans.values().filter(|p| plan_visible(p, viewer))),
        "improvements": to_array(state.improvements.values()),
    })
}

fn field_view(state: &State, viewer: &Viewer) -> Value {
    let own = viewer.resource_id.as_ref();
    let assignments: Vec<&Assignment> = state
        .assignments
        .values()
        .filter(|a| Some(&a.resource_id) == own)
        .collect();
    let mut incident_ids: Vec<&IncidentId> = assignments.iter().map(|a| &a.incident_id).collect();
    incident_ids.sort();
    incident_ids.dedup();
    json!({
        "seq": state.seq,
        "incidents": to_array(incident_ids.into_iter().filter_map(|id| state.incidents.get(id))),
        "resources": to_array(own.and_then(|r| state.resources.get(r))),
        "contacts": [],
        "assignments": to_array(assignments),
        "cases": [],
        "messages": to_array(state.messages.values().filter(|m| message_visible(m, viewer))),
        "users": to_array_with(state.users.get(&viewer.user_id), user_json),
        "plans": [],
        "improvements": [],
    })
}

fn empty_view(seq: u64) -> Value {
    json!({
        "seq": seq,
        "incidents": [],
        "resources": [],
        "contacts": [],
        "assignments": [],
        "cases": [],
        "messages": [],
        "users": [],
        "plans": [],
        "improvements": [],
    })
}

/// A user as clients see it: everything but the password hash.
pub fn user_json(user: &User) -> Value {
    let mut v = serde_json::to_value(user).expect("users serialise");
    if let Value::Object(map) = &mut v {
        map.remove("password_hash");
    }
    v
}

/// May `viewer` see this message? Desk roles see all but direct messages between
/// others; everyone else sees what was addressed to them or sent by them.
pub fn message_visible(message: &Message, viewer: &Viewer) -> bool {
    if viewer.role == Role::Intake {
        return false;
    }
    let involved = message.sent_by == viewer.user_id
        || message.recipients.contains(&viewer.user_id)
        || matches!(&message.audience, Audience::User(u) if u == &viewer.user_id);
    if involved || message.audience == Audience::All {
        return true;
    }
    match &message.audience {
        Audience::User(_) => false,
        Audience::Resource(r) if viewer.resource_id.as_ref() == Some(r) => true,
        _ => viewer.role.sees_everything(),
    }
}

/// True when a field user's resource has (or had) an assignment on the incident: the
/// one way a field user comes to see an incident.
pub fn field_may_see_incident(state: &State, viewer: &Viewer, id: &IncidentId) -> bool {
    let (Some(own), Some(incident)) = (&viewer.resource_id, state.incidents.get(id)) else {
        return false;
    };
    viewer.role.is_field()
        && incident
            .assignment_ids
            .iter()
            .filter_map(|a| state.assignments.get(a))
            .any(|a| &a.resource_id == own)
}

/// May `viewer` see the incident at all? Callers answer `not_found` when not, so an
/// incident's existence does not leak.
pub fn may_see_incident(state: &State, viewer: &Viewer, id: &IncidentId) -> bool {
    if viewer.role.sees_everything() {
        state.incidents.contains_key(id)
    } else {
        field_may_see_incident(state, viewer, id)
    }
}

/// The incident alone, if the viewer may see it.
pub fn incident_for(state: &State, viewer: &Viewer, id: &IncidentId) -> Option<Value> {
    if !may_see_incident(state, viewer, id) {
        return None;
    }
    state
        .incidents
        .get(id)
        .map(|i| serde_json::to_value(i).expect("incidents serialise"))
}

/// The incident with its `assignments` (those the viewer may see), its `timeline`
/// (`events`: the records `state.timelines[id]` names, read from the log by the
/// caller; secrets redacted) and its `conformance` report.
pub fn incident_detail(
    state: &State,
    viewer: &Viewer,
    id: &IncidentId,
    events: &[Record],
) -> Option<Value> {
    let mut value = incident_for(state, viewer, id)?;
    let incident = state.incidents.get(id)?;
    let own = viewer.resource_id.as_ref();
    let assignments = incident
        .assignment_ids
        .iter()
        .filter_map(|a| state.assignments.get(a))
        .filter(|a| viewer.role.sees_everything() || Some(&a.resource_id) == own);
    let timeline: Vec<Value> = events
        .iter()
        .filter(|r| state.incident_of(&r.event).as_ref() == Some(id))
        .filter(|r| visibility::of(state, r).allows(viewer))
        .map(timeline_entry)
        .collect();
    let report = conformance::assess(state, incident, events);
    let map: &mut Map<String, Value> = value.as_object_mut()?;
    map.insert("assignments".into(), to_array(assignments));
    map.insert("timeline".into(), Value::Array(timeline));
    map.insert(
        "conformance".into(),
        serde_json::to_value(report).expect("reports serialise"),
    );
    Some(value)
}

/// May `viewer` see a support plan? Its two parties and supervisors only.
pub fn plan_visible(plan: &crate::domain::support::Plan, viewer: &Viewer) -> bool {
    viewer.role == Role::Supervisor || plan.involves(&viewer.user_id)
}

/// May `viewer` see cases? They are handled at the desk (operators, supervisors);
/// admins and field users do not see complaints about colleagues.
pub fn may_see_cases(viewer: &Viewer) -> bool {
    viewer.role.can_dispatch()
}

/// The seqs of every linked incident's timeline, merged in log order: what the caller
/// reads from the log for [`case_evidence`].
pub fn case_timeline_seqs(state: &State, id: &CaseId) -> Vec<u64> {
    let Some(case) = state.cases.get(id) else {
        return Vec::new();
    };
    let mut seqs: Vec<u64> = case
        .incident_ids
        .iter()
        .filter_map(|i| state.timelines.get(i))
        .flatten()
        .copied()
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

/// The evidence pack of a case: the case, and for each linked incident its detail with
/// `timeline` and `conformance` (who knew what when, and whether the procedure was
/// followed), plus the messages sent about it. `None` when the viewer may not see it.
pub fn case_evidence(
    state: &State,
    viewer: &Viewer,
    id: &CaseId,
    events: &[Record],
) -> Option<Value> {
    if !may_see_cases(viewer) {
        return None;
    }
    let case = state.cases.get(id)?;
    let incidents: Vec<Value> = case
        .incident_ids
        .iter()
        .filter_map(|i| {
            let mut detail = incident_detail(state, viewer, i, events)?;
            let messages = state.messages.values().filter(|m| {
                m.audience == Audience::Incident(i.clone()) && message_visible(m, viewer)
            });
            detail
                .as_object_mut()?
                .insert("messages".into(), to_array(messages));
            Some(detail)
        })
        .collect();
    Some(json!({
        "case": case,
        "incidents": incidents,
    }))
}

/// One timeline entry, `{seq, at, actor, event: {kind, …}}`, secrets removed.
pub fn timeline_entry(rec: &Record) -> Value {
    let event = rec.event.redacted();
    let event = event.as_ref().unwrap_or(&rec.event);
    json!({
        "seq": rec.seq,
        "at": crate::time::rfc3339(rec.at),
        "actor": rec.actor,
        "event": event,
    })
}

fn to_array<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|x| serde_json::to_value(x).expect("state objects serialise"))
            .collect(),
    )
}

fn to_array_with<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Value) -> Value {
    Value::Array(items.into_iter().map(f).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_world::World;

    #[test]
    fn desk_sees_everything_and_never_a_password_hash() {
        let w = World::with_dispatched_incident();
        let v = state_for(&w.state, &w.viewer("operator"));
        for key in [
            "incidents",
            "resources",
            "contacts",
            "assignments",
            "cases",
            "messages",
            "users",
        ] {
            assert!(v[key].is_array(), "{key} is an array");
        }
        assert_eq!(v["seq"], w.state.seq);
        assert_eq!(v["resources"].as_array().unwrap().len(), 2);
        assert_eq!(v["users"].as_array().unwrap().len(), 5);
        assert!(!v.to_string().contains("password_hash"));
        assert!(!v.to_string().contains("argon2"));
    }

    #[test]
    fn field_sees_only_its_own_work() {
        let w = World::with_dispatched_incident();
        let assigned = state_for(&w.state, &w.viewer("field1"));
        assert_eq!(assigned["incidents"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["assignments"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["resources"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["contacts"], json!([]));
        assert_eq!(assigned["users"].as_array().unwrap().len(), 1);
        let idle = state_for(&w.state, &w.viewer("field2"));
        assert_eq!(idle["incidents"], json!([]));
        assert_eq!(idle["assignments"], json!([]));
        assert_eq!(idle["users"][0]["username"], "field2");
    }

    #[test]
    fn intake_sees_nothing() {
        let w = World::with_dispatched_incident();
        let v = state_for(&w.state, &World::intake_viewer());
        assert_eq!(v["incidents"], json!([]));
        assert_eq!(v["users"], json!([]));
        assert_eq!(v["seq"], w.state.seq);
    }

    #[test]
    fn direct_messages_are_seen_by_the_two_alone() {
        let mut w = World::with_dispatched_incident();
        let operator = w.user_id("operator");
        w.broadcast("supervisor", Audience::User(operator), "take the next call");
        w.broadcast("supervisor", Audience::All, "shift change at six");
        let count = |name: &str| {
            state_for(&w.state, &w.viewer(name))["messages"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(count("supervisor"), 2);
        assert_eq!(count("operator"), 2);
        assert_eq!(count("admin"), 1, "admin sees the broadcast, not the DM");
        assert_eq!(count("field1"), 1);
    }

    #[test]
    fn incident_detail_has_timeline_and_conformance_for_those_who_may_see_it() {
        let w = World::with_dispatched_incident();
        let id = w.incident.clone();
        let d = incident_detail(&w.state, &w.viewer("operator"), &id, &w.log).unwrap();
        let kinds: Vec<&str> = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds[0], "incident.opened");
        assert!(kinds.contains(&"assignment.created"));
        assert_eq!(d["conformance"]["verdict"], "pending");
        assert_eq!(d["conformance"]["steps"][0]["step"], "assessed");
        assert_eq!(d["conformance"]["steps"][0]["status"], "done");
        assert_eq!(d["conformance"]["steps"][1]["status"], "done");
        assert!(incident_detail(&w.state, &w.viewer("field1"), &id, &w.log).is_some());
        assert!(incident_detail(&w.state, &w.viewer("field2"), &id, &w.log).is_none());
        assert!(field_may_see_incident(&w.state, &w.viewer("field1"), &id));
        assert!(!field_may_see_incident(&w.state, &w.viewer("field2"), &id));
        assert!(incident_for(&w.state, &World::intake_viewer(), &id).is_none());
    }
}
