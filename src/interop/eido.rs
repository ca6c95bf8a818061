//! NENA-STA-021 EIDO (Emergency Incident Data Object) out: an incident as the JSON
//! object CAD systems exchange. [`incident`] builds it from the live state; which
//! components and fields are filled, and from what, is docs/INTEROP.md's table.
//!
//! Components refer to each other by `$id` / `$ref`, as the standard's JSON does.
//! What goes out: the incident's type, status, priority, reference, location (text
//! and coordinates), notes and the resources sent with their status; never a caller's
//! details (contacts are not part of the object) and never staff names (notes name
//! no author).

use chrono::{DateTime, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesStart, BytesText, Event};
use serde_json::{Value, json};

use muster_core::domain::assignment::{Assignment, AssignmentStatus};
use muster_core::domain::incident::{Incident, IncidentStatus};
use muster_core::domain::procedure::IncidentType;
use muster_core::engine::State;

use super::cap::{cap_time, last_changed};

/// Who sends the EIDO: the centre.
#[derive(Clone, Debug)]
pub struct Sender {
    /// `sendingSystemIdentifier`, and the domain of tracking identifiers.
    pub system: String,
    /// The centre's name, for the agency component.
    pub agency_name: String,
}

/// When the incident or any of its assignments last changed.
pub fn last_update(i: &Incident, assignments: &[&Assignment]) -> DateTime<Utc> {
    assignments
        .iter()
        .flat_map(|a| {
            [
                Some(a.notified_at),
                a.acknowledged_at,
                a.en_route_at,
                a.on_scene_at,
                a.completed_at,
                a.declined_at,
                a.cancelled_at,
                a.last_checkin_at,
            ]
        })
        .flatten()
        .fold(last_changed(i), DateTime::max)
}

/// The status registry text (NENA's incident status registry) for an incident status.
pub fn status_registry(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::New => "Received",
        IncidentStatus::Assessed => "Pending",
        IncidentStatus::Dispatched => "Dispatched",
        IncidentStatus::InProgress => "OnScene",
        IncidentStatus::Resolved => "Resolved",
        IncidentStatus::Closed => "Closed",
        IncidentStatus::Cancelled => "Cancelled",
    }
}

/// The unit status registry text for an assignment status.
pub fn unit_status_registry(s: AssignmentStatus) -> &'static str {
    match s {
        AssignmentStatus::Notified => "Dispatched",
        AssignmentStatus::Acknowledged => "Acknowledged",
        AssignmentStatus::EnRoute => "Enroute",
        AssignmentStatus::OnScene => "OnScene",
        AssignmentStatus::Completed => "Available",
        AssignmentStatus::Declined => "Declined",
        AssignmentStatus::Cancelled => "Cancelled",
    }
}

/// The incident's EIDO, or `None` when the state has no such incident.
pub fn incident(
    state: &State,
    id: &muster_core::domain::ids::IncidentId,
    kind: Option<&IncidentType>,
    sender: &Sender,
) -> Option<Value> {
    let i = state.incidents.get(id)?;
    let assignments: Vec<&Assignment> = i
        .assignment_ids
        .iter()
        .filter_map(|a| state.assignments.get(a))
        .collect();
    let updated = last_update(i, &assignments);
    let stamp = cap_time(updated);
    let agency_id = format!("agency-{}", sender.system);
    let agency_ref = json!({ "$ref": agency_id });
    let inc_id = format!("inc-{}", i.id);
    let loc_id = format!("loc-{}", i.id);
    let message_id = format!(
        "urn:muster:eido:{}:{}:{}",
        sender.system,
        i.id,
        updated.timestamp_millis()
    );

    let notes: Vec<Value> = i
        .notes
        .iter()
        .enumerate()
        .map(|(n, note)| {
            let id = format!("note-{}-{}", i.id, n + 1);
            json!({
                "$id": id,
                "componentIdentifier": id,
                "lastUpdateTimeStamp": cap_time(note.at),
                "updatedByAgencyReference": agency_ref,
                "notesActionComments": note.text,
            })
        })
        .collect();
    let notes_refs: Vec<Value> = notes.iter().map(|n| json!({ "$ref": n["$id"] })).collect();

    let resources: Vec<Value> = assignments
        .iter()
        .map(|a| {
            let id = format!("res-{}", a.id);
            let resource = state.resources.get(&a.resource_id);
            let at = [
                Some(a.notified_at),
                a.acknowledged_at,
                a.en_route_at,
                a.on_scene_at,
                a.completed_at,
                a.declined_at,
                a.cancelled_at,
            ]
            .into_iter()
            .flatten()
            .fold(a.notified_at, DateTime::max);
            json!({
                "$id": id,
                "componentIdentifier": id,
                "lastUpdateTimeStamp": cap_time(at),
                "updatedByAgencyReference": agency_ref,
                "emergencyResourceName": resource.map_or(a.resource_id.as_str(), |r| r.name.as_str()),
                "emergencyResourceTypeInternalText": resource.map_or("unknown", |r| r.resource_type.name()),
                "primaryUnitStatusRegistryText": unit_status_registry(a.status),
                "unitStatusInternal": [a.status.name()],
                "incidentReference": { "$ref": inc_id },
            })
        })
        .collect();

    let mut incident = json!({
        "$id": inc_id,
        "componentIdentifier": inc_id,
        "incidentTrackingIdentifier": format!("urn:emergency:uid:incidentid:{}:{}", i.id, sender.system),
        "lastUpdateTimeStamp": stamp,
        "updatedByAgencyReference": agency_ref,
        "internalIncidentId": i.reference,
        "incidentTypeInternalCode": i.incident_type,
        "incidentTypeInternalText": kind.map_or(i.incident_type.as_str(), |k| k.name.as_str()),
        "incidentTypeCommonRegistryText": super::cap::category(kind),
        "incidentStatusInternalText": [i.status.name()],
        "incidentStatusCommonRegistryText": [status_registry(i.status)],
        "locationReference": [{ "$ref": loc_id }],
    });
    if let Some(p) = i.priority {
        incident["incidentPriorityInternalText"] = json!(p.as_str());
        incident["incidentCommonPriorityNumber"] = json!(p as u8 + 1);
    }
    if !notes_refs.is_empty() {
        incident["notesReference"] = json!(notes_refs);
    }
    if let Some(d) = disposition(i, &agency_ref) {
        incident["dispositionComponent"] = json!([d]);
    }

    let mut location = json!({
        "$id": loc_id,
        "componentIdentifier": loc_id,
        "lastUpdateTimeStamp": cap_time(i.opened_at),
        "updatedByAgencyReference": agency_ref,
        "locationTypeDescriptionRegistryText": "Incident",
    });
    if let Some(text) = i.location.text.as_deref().filter(|t| !t.trim().is_empty()) {
        location["locationDescriptionText"] = json!(text);
    }
    if let Some((lat, lon)) = i.location.point() {
        location["locationByValue"] = json!(pidf_point(&i.id.to_string(), lat, lon, &stamp));
    }

    let agency = json!({
        "$id": agency_id,
        "componentIdentifier": agency_id,
        "lastUpdateTimeStamp": stamp,
        "agencyIdentifier": sender.system,
        "agencyJcard": jcard(&sender.agency_name),
        "incidentOwningAgencyIndicator": true,
        "agencyRoleDescriptionRegistryText": ["Primary"],
    });

    let mut eido = json!({
        "$id": message_id,
        "eidoMessageIdentifier": message_id,
        "sendingSystemIdentifier": sender.system,
        "lastUpdateTimeStamp": stamp,
        "messageKind": "Report",
        "incidentComponent": [incident],
        "locationComponent": [location],
        "agencyComponent": [agency],
    });
    if !notes.is_empty() {
        eido["notesComponent"] = json!(notes);
    }
    if !resources.is_empty() {
        eido["emergencyResourceComponent"] = json!(resources);
    }
    Some(eido)
}

/// A finished incident's disposition: its outcome (resolved or closed), or why it was
/// cancelled, or that it proved a duplicate or false.
fn disposition(i: &Incident, agency_ref: &Value) -> Option<Value> {
    let (category, text, at) = match i.status {
        IncidentStatus::Resolved | IncidentStatus::Closed => (
            "Completed",
            i.outcome.clone().unwrap_or_else(|| "resolved".into()),
            i.closed_at.or(i.resolved_at)?,
        ),
        IncidentStatus::Cancelled => (
            "Cancelled",
            match &i.merged_into {
                Some(into) => format!("duplicate of {into}"),
                None => i
                    .cancel_reason
                    .clone()
                    .unwrap_or_else(|| "cancelled".into()),
            },
            i.cancelled_at?,
        ),
        _ => return None,
    };
    let id = format!("disp-{}", i.id);
    Some(json!({
        "$id": id,
        "componentIdentifier": id,
        "lastUpdateTimeStamp": cap_time(at),
        "updatedByAgencyReference": agency_ref,
        "dispositionPrimaryIndicator": true,
        "dispositionCategoryText": category,
        "dispositionDescriptionText": text,
    }))
}

/// The agency as a jCard (RFC 7095): its formatted name.
fn jcard(name: &str) -> String {
    json!([
        "vcard",
        [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", name],
            ["kind", {}, "text", "org"]
        ]
    ])
    .to_string()
}

/// A PIDF-LO (RFC 4119, RFC 5491) document with a GML point: EIDO's location by value.
fn pidf_point(entity: &str, lat: f64, lon: f64, stamp: &str) -> String {
    let mut w = Writer::new(Vec::new());
    let pos = format!("{lat} {lon}");
    let entity = format!("pres:{entity}");
    let result: std::io::Result<()> = (|| {
        w.write_event(Event::Start(BytesStart::new("presence").with_attributes([
            ("xmlns", "urn:ietf:params:xml:ns:pidf"),
            ("xmlns:gp", "urn:ietf:params:xml:ns:pidf:geopriv10"),
            ("xmlns:gml", "http://www.opengis.net/gml"),
            ("entity", entity.as_str()),
        ])))?;
        w.write_event(Event::Start(
            BytesStart::new("tuple").with_attributes([("id", "incident")]),
        ))?;
        w.write_event(Event::Start(BytesStart::new("status")))?;
        w.write_event(Event::Start(BytesStart::new("gp:geopriv")))?;
        w.write_event(Event::Start(BytesStart::new("gp:location-info")))?;
        w.write_event(Event::Start(
            BytesStart::new("gml:Point")
                .with_attributes([("srsName", "urn:ogc:def:crs:EPSG::4326")]),
        ))?;
        w.create_element("gml:pos")
            .write_text_content(BytesText::new(&pos))?;
        w.write_event(Event::End(BytesStart::new("gml:Point").to_end()))?;
        w.write_event(Event::End(BytesStart::new("gp:location-info").to_end()))?;
        w.write_event(Event::End(BytesStart::new("gp:geopriv").to_end()))?;
        w.write_event(Event::End(BytesStart::new("status").to_end()))?;
        w.create_element("timestamp")
            .write_text_content(BytesText::new(stamp))?;
        w.write_event(Event::End(BytesStart::new("tuple").to_end()))?;
        w.write_event(Event::End(BytesStart::new("presence").to_end()))?;
        Ok(())
    })();
    result.expect("writing to a Vec cannot fail");
    String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8")
}
