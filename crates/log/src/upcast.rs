//! Upcasters: an older version's event body, as JSON, brought to the shape of
//! [`crate::record::VERSION`] before it is deserialised. Pure JSON to JSON, so a log
//! written by any earlier hub reads into today's events.

use muster_core::engine::EventKind;
use serde_json::{Map, Value};

/// `body` (written at version `v`) in the current version's shape.
pub fn to_current(v: u32, body: Value) -> Value {
    let mut body = body;
    if v <= 1 {
        body = v1_to_v2(body);
    }
    body
}

/// Version 1 → 2. Version 1 creation events carried the whole read model as it was
/// created; version 2 carries the fact (`New<Noun>`): what was given. The rest of a
/// version 1 object was either the envelope's (`received_at`/`opened_at`/… equal its
/// `at`, `received_by`/`opened_by`/… its `actor`: the handler stamped both from the same
/// command) or what every new object starts with (status, empty lists), which the fold
/// sets again. Assessments and notes lose their `by`/`at` the same way. Everything
/// else a version 1 object carried that the envelope does not (a message's recipients,
/// a case's incidents, a checklist, a plan's first notes) stays in the fact.
///
/// Fields are kept by name (not dropped by name), so the result has exactly the
/// version 2 shape whatever else an old body held.
pub fn v1_to_v2(body: Value) -> Value {
    let Value::Object(mut event) = body else {
        return body;
    };
    let Some(kind) = event
        .get("kind")
        .and_then(Value::as_str)
        .and_then(EventKind::from_name)
    else {
        return Value::Object(event);
    };
    let (key, fields): (&str, &[&str]) = match kind {
        EventKind::ContactReceived => (
            "contact",
            &["id", "channel", "caller", "location", "summary", "reason"],
        ),
        EventKind::IncidentOpened => (
            "incident",
            &["id", "reference", "type", "description", "location"],
        ),
        EventKind::IncidentAssessed => (
            "assessment",
            &[
                "validity",
                "priority",
                "method",
                "reason",
                "rule",
                "duplicate_of",
            ],
        ),
        EventKind::IncidentNoted => ("note", &["text"]),
        EventKind::ResourceRegistered => (
            "resource",
            &[
                "id",
                "name",
                "resource_type",
                "skills",
                "team",
                "location",
                "user_id",
                "email",
                "phone",
            ],
        ),
        EventKind::AssignmentCreated => (
            "assignment",
            &[
                "id",
                "incident_id",
                "resource_id",
                "responsibilities",
                "actions",
                "reason",
            ],
        ),
        EventKind::MessageBroadcast => (
            "message",
            &["id", "audience", "text", "requires_ack", "recipients"],
        ),
        EventKind::CaseOpened => (
            "case",
            &[
                "id",
                "case_type",
                "incident_ids",
                "contact_id",
                "from",
                "text",
                "email",
            ],
        ),
        EventKind::SupportProposed => (
            "plan",
            &[
                "id",
                "colleague_id",
                "areas",
                "support_type",
                "review_on",
                "notes",
            ],
        ),
        EventKind::ImprovementRaised => (
            "improvement",
            &[
                "id", "title", "finding", "owner_id", "due_on", "areas", "plan_id",
            ],
        ),
        _ => return Value::Object(event),
    };
    if let Some(Value::Object(old)) = event.remove(key) {
        let mut fact = keep(old, fields);
        match kind {
            // The registration's position: its time is the envelope's.
            EventKind::ResourceRegistered => narrow(&mut fact, "location", &["lat", "lon"]),
            // A checklist as set: nothing done yet.
            EventKind::AssignmentCreated => {
                narrow_each(&mut fact, "actions", &["id", "text", "required"])
            }
            // The first notes' author and time are the proposal's.
            EventKind::SupportProposed => narrow_each(&mut fact, "notes", &["text"]),
            _ => {}
        }
        event.insert(key.to_string(), Value::Object(fact));
    }
    Value::Object(event)
}

/// The entries of `object` named in `fields`, in the object's order.
fn keep(object: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    object
        .into_iter()
        .filter(|(k, _)| fields.contains(&k.as_str()))
        .collect()
}

/// Keeps only `fields` of the object at `key`, when there is one.
fn narrow(object: &mut Map<String, Value>, key: &str, fields: &[&str]) {
    if let Some(Value::Object(inner)) = object.remove(key) {
        object.insert(key.to_string(), Value::Object(keep(inner, fields)));
    }
}

/// Keeps only `fields` of each object in the array at `key`, when there is one.
fn narrow_each(object: &mut Map<String, Value>, key: &str, fields: &[&str]) {
    if let Some(Value::Array(items)) = object.get_mut(key) {
        for item in items.iter_mut() {
            if let Value::Object(inner) = std::mem::take(item) {
                *item = Value::Object(keep(inner, fields));
            }
        }
    }
}
