use std::collections::BTreeSet;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::engine::{Event, Record};
use crate::testing::{self, World};

/// A sample of every kind, every optional field present, as JSON checked by
/// deserialising it into an [`Event`] (so a new required field breaks the sample).
fn hand_samples() -> Vec<Value> {
    let at = "2026-03-02T09:00:00Z";
    let loc = json!({"text": "12 High St", "lat": 51.50741, "lon": -0.12781, "place_id": "pl_1"});
    vec![
        json!({"kind": "contact.received", "contact": {"id": "con_1", "channel": "phone",
            "caller": {"name": "Ann", "phone": "0700", "email": "a@x"}, "location": loc,
            "summary": "s", "reason": "report", "status": "closed", "received_at": at,
            "received_by": "usr_1", "taken_at": at, "taken_by": "usr_1", "incident_id": "inc_1",
            "closed_at": at, "outcome": "o", "note": "n"}}),
        json!({"kind": "contact.taken", "contact_id": "con_1"}),
        json!({"kind": "contact.linked", "contact_id": "con_1", "incident_id": "inc_1"}),
        json!({"kind": "contact.closed", "contact_id": "con_1", "outcome": "o", "note": "n"}),
        json!({"kind": "incident.opened", "incident": {"id": "inc_1", "reference": "R-1",
            "type": "fire", "description": "d", "location": loc, "status": "new",
            "validity": "verified", "priority": "P1",
            "assessments": [{"validity": "verified", "priority": "P1", "method": "manual",
                "reason": "r", "rule": "x", "duplicate_of": "inc_2", "by": "usr_1", "at": at}],
            "answers": {"q1": "a"}, "notes": [{"text": "t", "by": "usr_1", "at": at}],
            "contact_ids": ["con_1"], "assignment_ids": ["asg_1"],
            "overrides": [{"rule": "r", "justification": "j", "by": "usr_1", "at": at}],
            "outcome": "o", "summary": "s", "opened_by": "usr_1", "opened_at": at,
            "assessed_at": at, "dispatched_at": at, "in_progress_at": at, "resolved_at": at,
            "closed_at": at, "cancelled_at": at, "cancel_reason": "c", "reopened": 1,
            "merged_into": "inc_2", "merged_from": ["inc_3"]},
            "duplicates": [{"incident_id": "inc_2", "distance_m": 1.0, "minutes_apart": 2}]}),
        json!({"kind": "incident.answered", "incident_id": "inc_1", "answers": {"q": true},
            "suggested_priority": "P2", "rule": "r"}),
        json!({"kind": "incident.assessed", "incident_id": "inc_1", "assessment":
            {"validity": "verified", "priority": "P1", "method": "manual", "reason": "r",
             "rule": "x", "duplicate_of": "inc_2", "by": "usr_1", "at": at}}),
        json!({"kind": "incident.noted", "incident_id": "inc_1",
            "note": {"text": "t", "by": "usr_1", "at": at}}),
        json!({"kind": "incident.status_changed", "incident_id": "inc_1", "from": "new",
            "status": "dispatched"}),
        json!({"kind": "incident.resolved", "incident_id": "inc_1", "outcome": "o", "summary": "s"}),
        json!({"kind": "incident.closed", "incident_id": "inc_1"}),
        json!({"kind": "incident.reopened", "incident_id": "inc_1", "reason": "r"}),
        json!({"kind": "incident.cancelled", "incident_id": "inc_1", "reason": "r"}),
        json!({"kind": "incident.merged", "incident_id": "inc_1", "into": "inc_2", "reason": "r"}),
        json!({"kind": "incident.overridden", "incident_id": "inc_1", "rule": "r",
            "justification": "j"}),
        json!({"kind": "incident.shared", "incident_id": "inc_1", "partner": "county-fire"}),
        json!({"kind": "incident.unshared", "incident_id": "inc_1", "partner": "county-fire"}),
        json!({"kind": "user.created", "user": {"id": "usr_1", "username": "u", "name": "N",
            "role": "field", "resource_id": "res_1", "disabled": false, "password_hash": "h"}}),
        json!({"kind": "user.disabled", "user_id": "usr_1"}),
        json!({"kind": "user.password_changed", "user_id": "usr_1", "password_hash": "h"}),
        json!({"kind": "user.enabled", "user_id": "usr_1"}),
        json!({"kind": "user.updated", "user_id": "usr_1", "name": "N", "role": "field",
            "resource_id": "res_1"}),
        json!({"kind": "resource.updated", "resource_id": "res_1", "name": "n",
            "resource_type": "vehicle", "team": "t", "skills": ["a"],
            "home": {"lat": 1.0, "lon": 2.0}}),
        json!({"kind": "resource.retired", "resource_id": "res_1"}),
        json!({"kind": "resource.registered", "resource": {"id": "res_1", "name": "n",
            "resource_type": "person", "skills": ["a"], "team": "t", "status": "available",
            "location": {"lat": 1.0, "lon": 2.0, "at": at}, "user_id": "usr_1",
            "status_at": at, "email": "e@x", "phone": "07"}}),
        json!({"kind": "resource.status_changed", "resource_id": "res_1", "from": "available",
            "status": "unavailable"}),
        json!({"kind": "resource.located", "resource_id": "res_1", "lat": 51.5, "lon": -0.1}),
        json!({"kind": "assignment.created", "assignment": {"id": "asg_1", "incident_id": "inc_1",
            "resource_id": "res_1", "responsibilities": "r",
            "actions": [{"id": "a1", "text": "t", "required": true, "done_at": at,
                "done_by": "usr_1", "note": "n", "skipped": "s"}],
            "status": "notified", "reason": "r", "created_by": "usr_1", "notified_at": at,
            "acknowledged_at": at, "en_route_at": at, "on_scene_at": at, "completed_at": at,
            "declined_at": at, "decline_reason": "d", "cancelled_at": at, "cancel_reason": "c",
            "last_checkin_at": at}}),
        json!({"kind": "assignment.acknowledged", "assignment_id": "asg_1", "via": "radio"}),
        json!({"kind": "assignment.declined", "assignment_id": "asg_1", "reason": "r"}),
        json!({"kind": "assignment.progressed", "assignment_id": "asg_1", "status": "completed",
            "via": "phone", "skipped": {"a1": "why"}}),
        json!({"kind": "assignment.action_done", "assignment_id": "asg_1", "action_id": "a1",
            "note": "n"}),
        json!({"kind": "assignment.action_undone", "assignment_id": "asg_1", "action_id": "a1",
            "reason": "r"}),
        json!({"kind": "assignment.cancelled", "assignment_id": "asg_1", "reason": "r"}),
        json!({"kind": "checkin.recorded", "assignment_id": "asg_1", "ok": true, "note": "n",
            "via": "radio"}),
        json!({"kind": "message.broadcast", "message": {"id": "msg_1", "audience": "team:t",
            "text": "t", "requires_ack": true, "sent_by": "usr_1", "sent_at": at,
            "recipients": ["usr_2"], "acks": {"usr_2": at}}}),
        json!({"kind": "message.acknowledged", "message_id": "msg_1", "user_id": "usr_2"}),
        json!({"kind": "case.opened", "case": {"id": "cas_1", "case_type": "complaint",
            "status": "closed", "incident_ids": ["inc_1"], "contact_id": "con_1", "from": "f",
            "text": "t", "opened_by": "usr_1", "opened_at": at, "assigned_to": "usr_2",
            "response": "r", "responded_at": at, "outcome": "upheld", "root_cause": "rc",
            "closed_at": at, "email": "e@x"}}),
        json!({"kind": "case.assigned", "case_id": "cas_1", "user_id": "usr_2"}),
        json!({"kind": "case.responded", "case_id": "cas_1", "response": "r"}),
        json!({"kind": "case.closed", "case_id": "cas_1", "outcome": "upheld", "root_cause": "rc"}),
        json!({"kind": "support.proposed", "plan": {"id": "pln_1", "colleague_id": "usr_2",
            "proposed_by": "usr_1", "proposed_at": at, "areas": ["a"], "support_type": "s",
            "review_on": "2026-04-01", "status": "reviewed",
            "notes": [{"text": "t", "by": "usr_1", "at": at}], "agreed_by": "usr_2",
            "agreed_at": at, "reviewed_by": "usr_1", "reviewed_at": at,
            "review_outcome": "o"}}),
        json!({"kind": "support.agreed", "plan_id": "pln_1"}),
        json!({"kind": "support.noted", "plan_id": "pln_1", "text": "t"}),
        json!({"kind": "support.reviewed", "plan_id": "pln_1", "outcome": "o"}),
        json!({"kind": "support.evidence_attached", "plan_id": "pln_1", "evidence": {
            "kind": "exercise_debrief", "scenario": "busy-evening", "trainee_id": "usr_2",
            "score": 85, "started_at": at, "summary": "s", "figures": {"answer": {"count": 1}}}}),
        json!({"kind": "improvement.raised", "improvement": {"id": "imp_1", "title": "t",
            "finding": "f", "owner_id": "usr_1", "due_on": "2026-04-01", "areas": ["a"],
            "plan_id": "pln_1", "status": "open", "raised_by": "usr_1", "raised_at": at,
            "history": [{"status": "open", "note": "n", "by": "usr_1", "at": at}]}}),
        json!({"kind": "improvement.updated", "improvement_id": "imp_1", "status": "done",
            "note": "n"}),
        json!({"kind": "alert.acknowledged", "alert_id": "alr_1", "note": "n"}),
        json!({"kind": "assignment.escalated", "assignment_id": "asg_1", "level": 1,
            "action": "suggest_next_resource", "channel": "sms",
            "suggested_resource_id": "res_2"}),
        json!({"kind": "checkin.missed", "assignment_id": "asg_1", "due_at": at}),
        json!({"kind": "target.breached", "incident_id": "inc_1", "case_id": "cas_1",
            "plan_id": "pln_1", "target": "t", "priority": "P1", "due_at": at}),
        json!({"kind": "notification.sent", "assignment_id": "asg_1", "case_id": "cas_1",
            "message_id": "msg_1", "channel": "webhook", "level": 1, "status": "200",
            "attempts": 1}),
        json!({"kind": "notification.failed", "assignment_id": "asg_1", "case_id": "cas_1",
            "message_id": "msg_1", "channel": "webhook", "level": 1, "error": "e",
            "attempts": 2}),
        json!({"kind": "push.subscribed", "user_id": "usr_1", "endpoint": "https://p/1",
            "keys": {"p256dh": "k", "auth": "a"}, "session": "s"}),
        json!({"kind": "push.unsubscribed", "user_id": "usr_1", "endpoint": "https://p/1",
            "reason": "gone"}),
        json!({"kind": "log.migrated", "from_head": "ab12", "from_events": 3000,
            "migrated_at": at}),
        json!({"kind": "privacy.erased", "subject_id": "caller:con_1",
            "records": [{"type": "incident", "id": "inc_2", "reference": "INC-1"}],
            "categories": ["caller_details"], "reason": "r", "override": true,
            "justification": "j"}),
        json!({"kind": "privacy.swept", "category": "staff_locations", "retention_days": 30,
            "before": at, "records": [{"type": "resource", "id": "res_1"}]}),
        json!({"kind": "privacy.accessed", "subject_id": "staff:usr_1", "purpose": "p"}),
        json!({"kind": "privacy.searched", "matches": 2}),
        json!({"kind": "roster.shift_added", "shift_id": "shf_1", "resource_id": "res_1",
            "start": at, "end": at}),
        json!({"kind": "roster.shift_removed", "shift_id": "shf_1", "resource_id": "res_1"}),
        json!({"kind": "roster.shift_started", "shift_id": "shf_1", "resource_id": "res_1"}),
        json!({"kind": "roster.shift_ended", "shift_id": "shf_1", "resource_id": "res_1",
            "busy_on": "asg_1"}),
    ]
}

/// Events the engine really makes (their nested read models as the handlers fill them).
fn engine_samples() -> Vec<Value> {
    let w = World::with_dispatched_incident();
    let mut w2 = World::seeded();
    let op = w2.actor("operator");
    w2.ok(&op, testing::contact_receive("caller fell"));
    w.log
        .iter()
        .chain(&w2.log)
        .map(|r: &Record| serde_json::to_value(&r.event).unwrap())
        .collect()
}

/// The leaf paths of `v` (objects by key, arrays by `*`), without the `kind` tag.
/// Empty maps and lists hold nothing and are no leaves.
fn leaves(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if prefix.is_empty() && k == "kind" {
                    continue;
                }
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}/{k}")
                };
                leaves(child, &p, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                leaves(child, &format!("{prefix}/*"), out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn covered(kind: EventKind, leaf: &str) -> bool {
    let segments: Vec<&str> = leaf.split('/').collect();
    TABLE
        .iter()
        .any(|row| row.kind == kind && covers(row.path, &segments))
}

#[test]
fn every_leaf_of_every_kind_is_classified() {
    let mut kinds = BTreeSet::new();
    let mut missing = Vec::new();
    let mut bad = Vec::new();
    for sample in hand_samples().into_iter().chain(engine_samples()) {
        let event: Event = match serde_json::from_value(sample.clone()) {
            Ok(e) => e,
            Err(e) => {
                bad.push(format!("{}: {e}", sample["kind"]));
                continue;
            }
        };
        let kind = event.kind();
        kinds.insert(kind);
        let mut paths = BTreeSet::new();
        leaves(&serde_json::to_value(&event).unwrap(), "", &mut paths);
        for p in paths {
            if !covered(kind, &p) {
                missing.push(format!("{kind} {p}"));
            }
        }
    }
    assert!(bad.is_empty(), "samples that are no events: {bad:#?}");
    assert!(
        missing.is_empty(),
        "fields with no row in the table: {missing:#?}"
    );
    let unsampled: Vec<_> = EventKind::ALL
        .iter()
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(unsampled.is_empty(), "kinds with no sample: {unsampled:?}");
}

#[test]
fn every_row_names_a_kind_path_once_and_personal_rows_name_an_id_outside_themselves() {
    let mut seen = BTreeSet::new();
    for row in TABLE {
        assert!(
            seen.insert((row.kind, row.path)),
            "{} {} twice",
            row.kind,
            row.path
        );
        if let Class::Personal(p) = row.class {
            assert!(p.id.starts_with('/'));
            assert!(
                !p.id[1..].starts_with(row.path),
                "{} {}",
                row.kind,
                row.path
            );
        }
    }
}

#[test]
fn the_contract_examples_give_their_scopes_and_pointers() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 23, 59, 0).unwrap();
    let body = hand_samples().remove(0);
    let scopes = personal_leaves(K::ContactReceived, &body, at).unwrap();
    let names: Vec<_> = scopes.iter().map(|s| s.scope.as_str()).collect();
    assert_eq!(
        names,
        ["contact:con_1/caller_details", "contact:con_1/free_text"]
    );
    let pointers: Vec<_> = scopes[0]
        .leaves
        .iter()
        .map(|l| l.pointer.as_str())
        .collect();
    assert_eq!(
        pointers,
        [
            "/contact/caller/name",
            "/contact/caller/phone",
            "/contact/caller/email",
            "/contact/location/text",
            "/contact/location/lat",
            "/contact/location/lon"
        ]
    );
    assert_eq!(scopes[0].leaves[4].keep, Keep::Coarse);
    let free: Vec<_> = scopes[1]
        .leaves
        .iter()
        .map(|l| l.pointer.as_str())
        .collect();
    assert_eq!(free, ["/contact/summary", "/contact/note"]);

    let located =
        json!({"kind": "resource.located", "resource_id": "res_3", "lat": 1.0, "lon": 2.0});
    let scopes = personal_leaves(K::ResourceLocated, &located, at).unwrap();
    assert_eq!(scopes.len(), 1);
    assert_eq!(scopes[0].scope, "resource:res_3/staff_locations/2026-12-07");
    assert_eq!(scopes[0].leaves[0].erased, Erased::Null);

    // Nothing personal: nothing to seal.
    let closed = json!({"kind": "incident.closed", "incident_id": "inc_1"});
    assert!(
        personal_leaves(K::IncidentClosed, &closed, at)
            .unwrap()
            .is_empty()
    );
    // An absent optional field is no leaf.
    let noted = json!({"kind": "contact.closed", "contact_id": "con_1", "outcome": "o"});
    assert!(
        personal_leaves(K::ContactClosed, &noted, at)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn map_keys_are_escaped_in_pointers_and_found_again() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
    let body = json!({"kind": "incident.answered", "incident_id": "inc_9",
        "answers": {"a/b": "x", "c~d": 1}});
    let scopes = personal_leaves(K::IncidentAnswered, &body, at).unwrap();
    let pointers: Vec<_> = scopes[0].leaves.iter().map(|l| l.pointer.clone()).collect();
    assert_eq!(pointers, ["/answers/a~1b", "/answers/c~0d"]);
    for p in &pointers {
        assert!(body.pointer(p).is_some());
        assert_eq!(
            personal_at(K::IncidentAnswered, p).unwrap().category,
            FreeText
        );
    }
    assert!(personal_at(K::IncidentAnswered, "/incident_id").is_none());
}

#[test]
fn coarse_rounding_keeps_the_given_decimals() {
    assert_eq!(round(51.507_412, 3), 51.507);
    assert_eq!(round(-0.127_81, 3), -0.128);
    assert_eq!(round(51.5, 0), 52.0);
}
