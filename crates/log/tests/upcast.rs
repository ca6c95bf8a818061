//! Version 1 bodies (events that carried whole read models, as hubs wrote them before
//! versions existed) read as today's facts: for every kind that changed, a v1 body
//! (copied from a log written by 3d01c86, or written as that hub serialised it) is
//! upcast to exactly the v2 shape, and folding it gives the very object the v1 body
//! carried: nothing the state needs is lost.

use chrono::DateTime;
use muster_core::domain::assignment::Assignment;
use muster_core::domain::case::Case;
use muster_core::domain::contact::Contact;
use muster_core::domain::improvement::Improvement;
use muster_core::domain::incident::{Assessment, Incident, Note};
use muster_core::domain::message::Message;
use muster_core::domain::resource::{Coordinates, Resource};
use muster_core::domain::support::Plan;
use muster_core::engine::{Event, Record, State};
use muster_log::record::{self, DecodeError, VERSION};
use muster_log::{StoredEvent, chain, upcast};
use serde_json::{Value, json};

/// A v1 stored event, as a hub before versions wrote it.
fn v1(seq: u64, at: &str, actor: &str, body: &str) -> StoredEvent {
    let body: Value = serde_json::from_str(body).unwrap();
    let mut e = StoredEvent {
        seq,
        at: DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
        actor: actor.into(),
        command_id: None,
        kind: body["kind"].as_str().unwrap().into(),
        body: body.to_string(),
        v: 1,
        hash: String::new(),
    };
    e.hash = chain::link(chain::GENESIS, &e);
    e
}

/// Decodes a v1 event and checks its upcast body is exactly the v2 event it decodes
/// to (nothing left over that v2 does not have, nothing missing).
fn decode_v1(stored: &StoredEvent) -> Record {
    let rec = record::decode(stored).unwrap_or_else(|e| panic!("{}: {e}", stored.kind));
    let upcast = upcast::to_current(1, serde_json::from_str(&stored.body).unwrap());
    assert_eq!(
        upcast,
        serde_json::to_value(&rec.event).unwrap(),
        "{}: the upcast body is the v2 shape",
        stored.kind
    );
    rec
}

/// The object a v1 creation body carried under `key`, read as a read model.
fn carried<T: serde::de::DeserializeOwned>(stored: &StoredEvent, key: &str) -> T {
    let body: Value = serde_json::from_str(&stored.body).unwrap();
    serde_json::from_value(body[key].clone()).unwrap()
}

fn fold(events: &[&StoredEvent]) -> State {
    let mut state = State::default();
    for e in events {
        state.apply(&decode_v1(e));
    }
    state
}

// Real v1 bodies from the log 3d01c86 wrote (demo centre and a generated day).

fn contact_received() -> StoredEvent {
    v1(
        84,
        "2025-01-01T00:00:00.000Z",
        "usr_74",
        r#"{"kind":"contact.received","contact":{"id":"con_84","channel":"api","caller":{"name":"Caller","phone":"07700 900123"},"location":{"text":"Near the civic centre","lat":51.487935312758395,"lon":-0.1243326725989057},"summary":"Report about welfare_concern","reason":"report","status":"queued","received_at":"2025-01-01T00:00:00Z","received_by":"usr_74"}}"#,
    )
}

fn incident_opened() -> StoredEvent {
    v1(
        86,
        "2025-01-01T00:01:43.000Z",
        "usr_74",
        r#"{"kind":"incident.opened","incident":{"id":"inc_86","reference":"INC-2025-000001","type":"welfare_concern","description":"As the caller describes it","location":{"text":"Near the civic centre","lat":51.55760034494297,"lon":-0.08760665610177225},"status":"new","validity":"unverified","assessments":[],"answers":{},"notes":[],"contact_ids":[],"assignment_ids":[],"overrides":[],"opened_by":"usr_74","opened_at":"2025-01-01T00:01:43Z","reopened":0}}"#,
    )
}

fn incident_assessed() -> StoredEvent {
    v1(
        89,
        "2025-01-01T00:04:06.000Z",
        "usr_74",
        r#"{"kind":"incident.assessed","incident_id":"inc_86","assessment":{"validity":"verified","priority":"P2","method":"matrix","reason":"as the caller described","rule":"widespread×high","by":"usr_74","at":"2025-01-01T00:04:06Z"}}"#,
    )
}

fn incident_noted() -> StoredEvent {
    v1(
        204,
        "2025-01-01T02:10:11.258Z",
        "usr_78",
        r#"{"kind":"incident.noted","incident_id":"inc_86","note":{"text":"Update from the crew on scene.","by":"usr_78","at":"2025-01-01T02:10:11.258Z"}}"#,
    )
}

fn resource_registered() -> StoredEvent {
    v1(
        1,
        "2025-01-01T00:00:00.000Z",
        "system",
        r#"{"kind":"resource.registered","resource":{"id":"res_1","name":"Amara Okafor","resource_type":"person","skills":["first_aid","fire_warden"],"team":"north","status":"available","location":{"lat":51.5265,"lon":-0.119,"at":"2025-01-01T00:00:00Z"},"status_at":"2025-01-01T00:00:00Z"}}"#,
    )
}

fn assignment_created() -> StoredEvent {
    v1(
        91,
        "2025-01-01T00:05:49.000Z",
        "usr_74",
        r#"{"kind":"assignment.created","assignment":{"id":"asg_91","incident_id":"inc_86","resource_id":"res_63","responsibilities":"Visit in pairs unless the risk is known to be low, make contact, assess wellbeing, refer to social care or health, and record what was found and done.","actions":[{"id":"act_1","text":"Check records for known risks before visiting","required":true},{"id":"act_2","text":"Attend in pairs where the risk is unknown","required":false},{"id":"act_3","text":"Make contact and assess wellbeing","required":true},{"id":"act_4","text":"Refer to social care or health as needed","required":false},{"id":"act_5","text":"Record the outcome and any referral made","required":true}],"status":"notified","reason":"nearest free unit","created_by":"usr_74","notified_at":"2025-01-01T00:05:49Z"}}"#,
    )
}

// Kinds that log has none of, written as 3d01c86 serialised them (its structs, every
// optional field present).

fn resource_registered_with_contact() -> StoredEvent {
    v1(
        3,
        "2025-01-02T08:00:00.250Z",
        "usr_2",
        r#"{"kind":"resource.registered","resource":{"id":"res_3","name":"Sam Field","resource_type":"person","skills":[],"team":"south","status":"available","user_id":"usr_9","status_at":"2025-01-02T08:00:00.250Z","email":"sam@example.org","phone":"07700 900456"}}"#,
    )
}

fn message_broadcast() -> StoredEvent {
    v1(
        300,
        "2025-01-02T09:00:00.500Z",
        "usr_2",
        r#"{"kind":"message.broadcast","message":{"id":"msg_300","audience":"team:north","text":"Road closed at the bridge","requires_ack":true,"sent_by":"usr_2","sent_at":"2025-01-02T09:00:00.500Z","recipients":["usr_9","usr_10"],"acks":{}}}"#,
    )
}

fn case_opened() -> StoredEvent {
    v1(
        301,
        "2025-01-02T09:05:00.000Z",
        "usr_2",
        r#"{"kind":"case.opened","case":{"id":"case_301","case_type":"complaint","status":"open","incident_ids":["inc_86"],"contact_id":"con_84","from":"Ada Lovelace","text":"Nobody came for an hour","opened_by":"usr_2","opened_at":"2025-01-02T09:05:00Z","email":"ada@example.org"}}"#,
    )
}

fn support_proposed() -> StoredEvent {
    v1(
        302,
        "2025-01-02T09:10:00.125Z",
        "usr_3",
        r#"{"kind":"support.proposed","plan":{"id":"pln_302","colleague_id":"usr_2","proposed_by":"usr_3","proposed_at":"2025-01-02T09:10:00.125Z","areas":["intake"],"support_type":"coaching","review_on":"2025-01-30","status":"proposed","notes":[{"text":"After the Tuesday call","by":"usr_3","at":"2025-01-02T09:10:00.125Z"}]}}"#,
    )
}

fn improvement_raised() -> StoredEvent {
    v1(
        303,
        "2025-01-02T09:15:00.000Z",
        "usr_3",
        r#"{"kind":"improvement.raised","improvement":{"id":"imp_303","title":"Faster triage","finding":"P2 waits rose in January","owner_id":"usr_2","due_on":"2025-02-28","areas":["triage"],"plan_id":"pln_302","status":"open","raised_by":"usr_3","raised_at":"2025-01-02T09:15:00Z","history":[]}}"#,
    )
}

#[test]
fn every_creation_kind_upcasts_to_its_fact_and_folds_to_the_object_v1_carried() {
    let contact = contact_received();
    let opened = incident_opened();
    let assessed = incident_assessed();
    let noted = incident_noted();
    let resource = resource_registered();
    let staffed = resource_registered_with_contact();
    let assignment = assignment_created();
    let message = message_broadcast();
    let case = case_opened();
    let plan = support_proposed();
    let improvement = improvement_raised();
    let state = fold(&[
        &resource,
        &staffed,
        &contact,
        &opened,
        &assessed,
        &assignment,
        &noted,
        &message,
        &case,
        &plan,
        &improvement,
    ]);

    let c: Contact = carried(&contact, "contact");
    assert_eq!(state.contacts[&c.id], c);
    // A resource's home (issue 20) is where it was registered: v1 carried no such field.
    let homed = |mut r: Resource| {
        r.home = r.location.as_ref().map(|p| Coordinates {
            lat: p.lat,
            lon: p.lon,
        });
        r
    };
    let r: Resource = homed(carried(&resource, "resource"));
    assert_eq!(state.resources[&r.id], r);
    let r: Resource = homed(carried(&staffed, "resource"));
    assert_eq!(state.resources[&r.id], r);
    let a: Assignment = carried(&assignment, "assignment");
    assert_eq!(state.assignments[&a.id], a);
    let m: Message = carried(&message, "message");
    assert_eq!(state.messages[&m.id], m);
    let k: Case = carried(&case, "case");
    assert_eq!(state.cases[&k.id], k);
    let p: Plan = carried(&plan, "plan");
    assert_eq!(state.plans[&p.id], p);
    let i: Improvement = carried(&improvement, "improvement");
    assert_eq!(state.improvements[&i.id], i);

    // The incident as opened, then the assessment and note as v1 recorded them.
    let mut i: Incident = carried(&opened, "incident");
    let assessment: Assessment = carried(&assessed, "assessment");
    let note: Note = carried(&noted, "note");
    i.validity = assessment.validity;
    i.priority = assessment.priority;
    i.assessments.push(assessment);
    i.notes.push(note);
    i.assignment_ids.push(a.id.clone());
    assert_eq!(state.incidents[&i.id], i);
    assert_eq!(state.references.get(&2025), Some(&1));
}

#[test]
fn v1_facts_keep_only_what_was_given() {
    let e = decode_v1(&contact_received()).event;
    let body = serde_json::to_value(&e).unwrap();
    assert_eq!(
        body,
        json!({"kind": "contact.received", "contact": {
            "id": "con_84", "channel": "api",
            "caller": {"name": "Caller", "phone": "07700 900123"},
            "location": {"text": "Near the civic centre", "lat": 51.487935312758395, "lon": -0.1243326725989057},
            "summary": "Report about welfare_concern", "reason": "report"}})
    );
    let Event::IncidentNoted { note, .. } = decode_v1(&incident_noted()).event else {
        panic!("a note");
    };
    assert_eq!(note.text, "Update from the crew on scene.");
    let body = upcast::to_current(
        1,
        serde_json::from_str(&resource_registered().body).unwrap(),
    );
    assert_eq!(
        body["resource"]["location"],
        json!({"lat": 51.5265, "lon": -0.119})
    );
    let body = upcast::to_current(1, serde_json::from_str(&support_proposed().body).unwrap());
    assert_eq!(
        body["plan"]["notes"],
        json!([{"text": "After the Tuesday call"}])
    );
}

#[test]
fn kinds_that_did_not_change_read_as_they_were() {
    for body in [
        r#"{"kind":"resource.located","resource_id":"res_1","lat":51.5,"lon":-0.1}"#,
        r#"{"kind":"incident.closed","incident_id":"inc_86"}"#,
        r#"{"kind":"contact.closed","contact_id":"con_84","outcome":"advice","note":"rang off"}"#,
    ] {
        let stored = v1(5, "2025-01-01T00:00:00.000Z", "usr_1", body);
        decode_v1(&stored);
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(upcast::to_current(1, v.clone()), v);
    }
}

#[test]
fn a_version_newer_than_this_hub_is_refused_by_name() {
    let mut stored = incident_noted();
    stored.v = VERSION + 1;
    let err = record::decode(&stored).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownVersion { seq: 204, v } if v == VERSION + 1));
    assert!(
        err.to_string()
            .contains(&format!("schema version {}", VERSION + 1)),
        "{err}"
    );
}

#[test]
fn records_written_now_are_the_current_version_and_read_back() {
    let rec = decode_v1(&incident_noted());
    let stored = record::encode(&rec, chain::GENESIS);
    assert_eq!(stored.v, VERSION);
    assert_eq!(record::decode(&stored).unwrap(), rec);
    assert_eq!(
        serde_json::from_str::<Value>(&stored.body).unwrap()["note"],
        json!({"text": "Update from the crew on scene."})
    );
}
