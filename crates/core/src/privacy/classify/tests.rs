use std::collections::BTreeSet;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::engine::Event;
use crate::testing;

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
    for sample in testing::hand_event_samples()
        .into_iter()
        .chain(testing::engine_event_samples())
    {
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
    let body = testing::hand_event_samples().remove(0);
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
