//! What one person may see of the state, as the JSON the HTTP API sends: the whole
//! view (`GET /api/state`) and one incident with its timeline and conformance report
//! (`GET /api/incidents/{id}`). Pure: the caller reads the state and the log.
//!
//! Architecture invariant: no password hash leaves through here. Users are always
//! serialised through [`user_json`], which strips it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::conformance;
use crate::domain::Finish;
use crate::domain::assignment::Assignment;
use crate::domain::case::Case;
use crate::domain::contact::Contact;
use crate::domain::ids::{AssignmentId, CaseId, ContactId, IncidentId};
use crate::domain::incident::Incident;
use crate::domain::message::{Audience, Message};
use crate::domain::user::{Role, User};
use crate::engine::alert::Alert;
use crate::engine::event::Record;
use crate::engine::state::State;
use crate::engine::visibility::{self, Viewer};

/// The caller's view: `{seq, closed_since, incidents, resources, contacts, assignments,
/// cases, messages, users, plans, improvements, alerts, shifts}` (alerts: desk roles only), each list a JSON array. Desk roles see
/// everything but direct messages between others; a field user sees its own resource,
/// its own assignments and their incidents, and the messages addressed to it; intake
/// sees nothing.
///
/// Incidents, contacts, assignments and messages that finished before `closed_since`
/// are left out, so the snapshot holds the open work and recent history rather than
/// every year on record (see [`Window`]); older incidents stay reachable one at a time
/// (`GET /api/incidents/{id}`). Cases, plans and improvements are kept whole: a few
/// hundred a year, and casework looks back further than any window.
pub fn state_for(state: &State, viewer: &Viewer, closed_since: DateTime<Utc>) -> Value {
    let window = Window::since(closed_since);
    let mut view = if viewer.role.sees_everything() {
        desk_view(state, viewer, window)
    } else if viewer.role.is_field() {
        field_view(state, viewer, window)
    } else {
        empty_view(state.seq)
    };
    view["closed_since"] = json!(crate::time::rfc3339(closed_since));
    view
}

/// Which items a snapshot keeps: every open one, and the finished ones that finished at
/// or after `since`. An item whose finish time is unknown counts as open.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    since: DateTime<Utc>,
}

impl Window {
    pub fn since(since: DateTime<Utc>) -> Window {
        Window { since }
    }

    pub fn keeps(self, item: &impl Finish) -> bool {
        item.finished_at().is_none_or(|at| at >= self.since)
    }
}

fn desk_view(state: &State, viewer: &Viewer, window: Window) -> Value {
    let cases: Vec<&Case> = if may_see_cases(viewer) {
        state.cases.values().collect()
    } else {
        Vec::new()
    };
    let work = DeskWork::of(state, window, &cases);
    json!({
        "seq": state.seq,
        "incidents": to_array(work.incidents),
        "resources": to_array(state.resources.values()),
        "contacts": to_array(work.contacts),
        "assignments": to_array(work.assignments),
        "cases": to_array(cases),
        "messages": to_array(state.messages.values().filter(|m| window.keeps(*m) && message_visible(m, viewer))),
        "users": state.users.values().map(user_json).collect::<Vec<_>>(),
        "plans": to_array(state.plans.values().filter(|p| plan_visible(p, viewer))),
        "improvements": to_array(state.improvements.values()),
        "alerts": to_array(state.alerts.values().filter(|a| alert_kept(state, window, a))),
        "shifts": to_array(state.shifts.values().filter(|s| window.keeps(*s))),
    })
}

/// The incidents, contacts and assignments a desk snapshot holds, kept consistent:
/// - incidents the window keeps, plus the incident of every kept assignment and every
///   case (an open assignment or a complaint on a long-closed incident shows it);
/// - every assignment the window keeps, and every assignment of a kept incident (the
///   incident page lists them);
/// - a contact linked to an incident goes with its incident, since contacts that opened
///   an incident are seldom closed; an unlinked one by its own finish time.
struct DeskWork<'a> {
    incidents: Vec<&'a Incident>,
    contacts: Vec<&'a Contact>,
    assignments: Vec<&'a Assignment>,
}

impl<'a> DeskWork<'a> {
    fn of(state: &'a State, window: Window, cases: &[&'a Case]) -> DeskWork<'a> {
        let assignments = state.assignments.values().filter(|a| window.keeps(*a));
        let mut incident_ids: BTreeSet<&IncidentId> = state
            .incidents
            .values()
            .filter(|i| window.keeps(*i))
            .map(|i| &i.id)
            .collect();
        incident_ids.extend(assignments.clone().map(|a| &a.incident_id));
        incident_ids.extend(cases.iter().flat_map(|c| &c.incident_ids));
        let incidents: Vec<&Incident> = incident_ids
            .iter()
            .filter_map(|id| state.incidents.get(*id))
            .collect();
        let mut assignment_ids: BTreeSet<&AssignmentId> = assignments.map(|a| &a.id).collect();
        assignment_ids.extend(incidents.iter().flat_map(|i| &i.assignment_ids));
        let mut contact_ids: BTreeSet<&ContactId> = state
            .contacts
            .values()
            .filter(|c| match &c.incident_id {
                Some(i) => incident_ids.contains(i),
                None => window.keeps(*c),
            })
            .map(|c| &c.id)
            .collect();
        contact_ids.extend(incidents.iter().flat_map(|i| &i.contact_ids));
        DeskWork {
            incidents,
            contacts: contact_ids
                .into_iter()
                .filter_map(|id| state.contacts.get(id))
                .collect(),
            assignments: assignment_ids
                .into_iter()
                .filter_map(|id| state.assignments.get(id))
                .collect(),
        }
    }
}

/// An alert is in a desk snapshot while it is open or was acknowledged in the window,
/// and its incident is one the window keeps: an alert never left acknowledged about an
/// incident finished long ago (a log from before alerts existed holds every one) stays
/// in the state and the log, not on every board.
fn alert_kept(state: &State, window: Window, a: &Alert) -> bool {
    window.keeps(a)
        && state
            .incidents
            .get(&a.incident_id)
            .is_none_or(|i| window.keeps(i))
}

fn field_view(state: &State, viewer: &Viewer, window: Window) -> Value {
    let own = viewer.resource_id.as_ref();
    let assignments: Vec<&Assignment> = state
        .assignments
        .values()
        .filter(|a| Some(&a.resource_id) == own && window.keeps(*a))
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
        "messages": to_array(state.messages.values().filter(|m| window.keeps(*m) && message_visible(m, viewer))),
        "users": to_array_with(state.users.get(&viewer.user_id), user_json),
        "plans": [],
        "improvements": [],
        "alerts": [],
        "shifts": to_array(state.shifts.values().filter(|s| Some(&s.resource_id) == own && window.keeps(*s))),
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
        "alerts": [],
        "shifts": [],
    })
}

/// A user as clients see it: everything but `password_seq`, which only sessions need.
pub fn user_json(user: &User) -> Value {
    let mut v = serde_json::to_value(user).expect("users serialise");
    if let Value::Object(map) = &mut v {
        map.remove("password_seq");
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
    let callback = field_callback(state, viewer, incident);
    let map: &mut Map<String, Value> = value.as_object_mut()?;
    if let Some(callback) = callback {
        map.insert("callback".into(), callback);
    }
    map.insert("assignments".into(), to_array(assignments));
    map.insert("timeline".into(), Value::Array(timeline));
    map.insert(
        "conformance".into(),
        serde_json::to_value(report).expect("reports serialise"),
    );
    Some(value)
}

/// For a field user whose resource is working the incident now (an active assignment):
/// the callers' call-back numbers, `[{name?, phone}]`, from the contacts linked to it.
/// Nothing else of the contacts, and nothing once their work there is over: personal
/// data goes to the crew that needs it, while it needs it. `None` for anyone else (the
/// desk has the contacts themselves).
fn field_callback(state: &State, viewer: &Viewer, incident: &Incident) -> Option<Value> {
    let own = viewer.resource_id.as_ref()?;
    let working = viewer.role.is_field()
        && incident
            .assignment_ids
            .iter()
            .filter_map(|a| state.assignments.get(a))
            .any(|a| &a.resource_id == own && a.status.is_active());
    if !working {
        return None;
    }
    let numbers: Vec<Value> = incident
        .contact_ids
        .iter()
        .filter_map(|c| state.contacts.get(c))
        .filter_map(|c| {
            let phone = c.caller.phone.as_deref()?.trim();
            (!phone.is_empty()).then(|| json!({"name": c.caller.name, "phone": phone}))
        })
        .collect();
    Some(Value::Array(numbers))
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
    use chrono::Duration;

    use super::*;
    use crate::domain::contact::{Caller, Channel, ContactReason};
    use crate::domain::geo::Location;
    use crate::domain::incident::IncidentStatus;
    use crate::engine::Command;
    use crate::engine::command as cmd;
    use crate::testing::{World, created};

    /// A window that keeps every finished item.
    const EVERYTHING: DateTime<Utc> = DateTime::<Utc>::MIN_UTC;

    /// The ids in one list of a view, sorted.
    fn ids(view: &Value, list: &str) -> Vec<String> {
        let mut ids: Vec<String> = view[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} is an array"))
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    fn open_incident(w: &mut World, text: &str) -> IncidentId {
        let place = Location {
            text: Some(text.into()),
            lat: None,
            lon: None,
            place_id: None,
        };
        w.open_incident(text, place)
    }

    /// The dispatched incident cancelled (standing its assignment down), a message,
    /// then a week later a new incident; returns the old and new incidents and the
    /// time the first was cancelled.
    fn a_week_after_a_cancelled_incident() -> (World, IncidentId, IncidentId, DateTime<Utc>) {
        let mut w = World::with_dispatched_incident();
        let old = w.incident.clone();
        let op = w.actor("operator");
        // A contact about it, linked and (as at a real desk) never closed.
        let recs = w.ok(
            &op,
            Command::ContactReceive(cmd::ContactReceive {
                channel: Channel::Phone,
                caller: Caller::default(),
                location: None,
                summary: "Second caller".into(),
                reason: ContactReason::Report,
            }),
        );
        let contact_id = ContactId(created(&recs, "contact_id"));
        w.ok(
            &op,
            Command::ContactLink(cmd::ContactLink {
                contact_id,
                incident_id: old.clone(),
            }),
        );
        w.ok(
            &op,
            Command::IncidentCancel(cmd::IncidentCancel {
                incident_id: old.clone(),
                reason: "false alarm".into(),
            }),
        );
        let cancelled = w.now;
        w.broadcast("supervisor", Audience::All, "stand down");
        w.now += Duration::days(7);
        let new = open_incident(&mut w, "Library steps");
        (w, old, new, cancelled)
    }

    #[test]
    fn the_window_leaves_out_what_finished_before_it_and_keeps_open_work() {
        let (w, old, new, cancelled) = a_week_after_a_cancelled_incident();
        let since = cancelled + Duration::seconds(10);
        let desk = state_for(&w.state, &w.viewer("supervisor"), since);
        assert_eq!(ids(&desk, "incidents"), vec![new.0.clone()]);
        assert_eq!(ids(&desk, "assignments"), Vec::<String>::new());
        assert_eq!(ids(&desk, "contacts"), Vec::<String>::new());
        assert_eq!(ids(&desk, "messages"), Vec::<String>::new());
        assert_eq!(desk["resources"].as_array().unwrap().len(), 2);
        assert_eq!(desk["users"].as_array().unwrap().len(), 5);
        assert_eq!(desk["closed_since"], crate::time::rfc3339(since));
        let field = state_for(&w.state, &w.viewer("field1"), since);
        assert_eq!(ids(&field, "assignments"), Vec::<String>::new());
        assert_eq!(ids(&field, "incidents"), Vec::<String>::new());

        let desk = state_for(&w.state, &w.viewer("supervisor"), cancelled);
        let mut both = vec![old.0.clone(), new.0];
        both.sort();
        assert_eq!(ids(&desk, "incidents"), both);
        assert_eq!(ids(&desk, "assignments"), vec![w.assignment.0.clone()]);
        assert_eq!(ids(&desk, "contacts").len(), 1);
        assert_eq!(ids(&desk, "messages").len(), 1);
        let field = state_for(&w.state, &w.viewer("field1"), cancelled);
        assert_eq!(ids(&field, "incidents"), vec![old.0]);
    }

    #[test]
    fn an_open_assignment_keeps_its_incident_and_the_incident_its_assignments() {
        let mut w = World::with_dispatched_incident();
        let since = w.now + Duration::days(1);
        // Not a state the commands reach today; the snapshot must stay whole if one does.
        let incident = w.state.incidents.get_mut(&w.incident).unwrap();
        incident.status = IncidentStatus::Closed;
        incident.closed_at = Some(w.now);
        let desk = state_for(&w.state, &w.viewer("operator"), since);
        assert_eq!(ids(&desk, "incidents"), vec![w.incident.0.clone()]);
        assert_eq!(ids(&desk, "assignments"), vec![w.assignment.0.clone()]);
    }

    #[test]
    fn an_item_finished_at_an_unknown_time_counts_as_open() {
        let mut w = World::with_dispatched_incident();
        let incident = w.state.incidents.get_mut(&w.incident).unwrap();
        incident.status = IncidentStatus::Closed;
        incident.closed_at = None;
        let later = w.now + Duration::days(30);
        let desk = state_for(&w.state, &w.viewer("operator"), later);
        assert_eq!(ids(&desk, "incidents"), vec![w.incident.0.clone()]);
    }

    #[test]
    fn desk_sees_everything_and_never_a_password_hash() {
        let w = World::with_dispatched_incident();
        let v = state_for(&w.state, &w.viewer("operator"), EVERYTHING);
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
        let assigned = state_for(&w.state, &w.viewer("field1"), EVERYTHING);
        assert_eq!(assigned["incidents"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["assignments"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["resources"].as_array().unwrap().len(), 1);
        assert_eq!(assigned["contacts"], json!([]));
        assert_eq!(assigned["users"].as_array().unwrap().len(), 1);
        let idle = state_for(&w.state, &w.viewer("field2"), EVERYTHING);
        assert_eq!(idle["incidents"], json!([]));
        assert_eq!(idle["assignments"], json!([]));
        assert_eq!(idle["users"][0]["username"], "field2");
    }

    #[test]
    fn intake_sees_nothing() {
        let w = World::with_dispatched_incident();
        let v = state_for(&w.state, &World::intake_viewer(), EVERYTHING);
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
            state_for(&w.state, &w.viewer(name), EVERYTHING)["messages"]
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
