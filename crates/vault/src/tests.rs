use std::sync::Arc;

use muster_core::engine::{Event, Record};
use muster_core::testing::{self, World};
use muster_log::sqlite::SqliteLog;
use muster_log::{EventLog, chain};

use super::*;

/// A world with a contact whose caller, place and summary are distinctive, and a
/// location ping of a field unit.
fn records() -> Vec<Record> {
    let mut w = World::seeded();
    let op = w.actor("operator");
    w.ok(&op, testing::contact_receive("Zebedee fell off the ladder"));
    let field = w.actor("field1");
    let res = w.resource_of("field1");
    w.ok(
        &field,
        testing::resource_locate(&res, 51.501_234, -0.141_567),
    );
    w.log.clone()
}

fn sealed_text(stored: &[StoredEvent]) -> String {
    stored
        .iter()
        .map(|e| e.body.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn personal_values_leave_the_clear_body_and_come_back_exactly() {
    let records = records();
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (stored, new) = vault.encode(&records, chain::GENESIS).unwrap();
    let text = sealed_text(&stored);
    for secret in [
        "Jo Caller",
        "+44 20 7946 0000",
        "Zebedee",
        "51.501234",
        "0.141567",
    ] {
        assert!(!text.contains(secret), "{secret} is in clear");
    }
    // The chain covers the sealed bodies.
    assert!(chain::check(0, chain::GENESIS.into(), &stored).is_ok());
    // Scopes: the contact's two categories and the unit's day of locations.
    let mut scopes: Vec<_> = new.wrapped.iter().map(|k| k.scope.clone()).collect();
    scopes.sort();
    let con = stored
        .iter()
        .find(|e| e.kind == "contact.received")
        .unwrap();
    let body: Value = serde_json::from_str(&con.body).unwrap();
    let id = body["contact"]["id"].as_str().unwrap();
    assert!(scopes.contains(&format!("contact:{id}/caller_details")));
    assert!(scopes.contains(&format!("contact:{id}/free_text")));
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("/staff_locations/2026-03-02"))
    );
    // Coarse: the place is kept to 3 decimals in clear.
    let lat = body["contact"]["location"]["lat"].as_f64().unwrap();
    assert_eq!(lat, classify::round(testing::place().lat.unwrap(), 3));
    // Not yet committed: the vault does not hold the batch's keys...
    assert!(!vault.holds(&scopes[0]));
    vault.commit(new);
    // ...and once it does, every event reads back as it was decided.
    for (r, e) in records.iter().zip(&stored) {
        assert_eq!(&vault.decode(e).unwrap(), r, "{}", e.kind);
    }
}

#[test]
fn erased_scopes_read_erased_and_coarse_values_stay_rounded() {
    let records = records();
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (stored, new) = vault.encode(&records, chain::GENESIS).unwrap();
    vault.commit(new);
    let con = stored
        .iter()
        .find(|e| e.kind == "contact.received")
        .unwrap();
    let Event::ContactReceived { contact } = vault.decode(con).unwrap().event else {
        panic!()
    };
    let forgotten = vault.forget(&[format!("contact:{}/", contact.id)]);
    assert_eq!(forgotten.len(), 2);
    let Event::ContactReceived { contact: after } = vault.decode(con).unwrap().event else {
        panic!()
    };
    assert_eq!(after.caller.name.as_deref(), Some(ERASED));
    assert_eq!(after.caller.phone.as_deref(), Some(ERASED));
    assert_eq!(
        after.caller.email, None,
        "a field that was never given stays absent"
    );
    assert_eq!(after.summary, ERASED);
    let loc = after.location.unwrap();
    assert_eq!(loc.text.as_deref(), Some(ERASED));
    assert_eq!(
        loc.lat,
        Some(classify::round(testing::place().lat.unwrap(), 3))
    );
    // Everything operational is as it was.
    assert_eq!(after.id, contact.id);
    assert_eq!(after.channel, contact.channel);
    assert_eq!(after.reason, contact.reason);
}

#[test]
fn a_changed_seal_is_an_error_not_an_erasure() {
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (mut stored, new) = vault.encode(&records(), chain::GENESIS).unwrap();
    vault.commit(new);
    let e = stored
        .iter_mut()
        .find(|e| e.kind == "contact.received")
        .unwrap();
    let mut body: Value = serde_json::from_str(&e.body).unwrap();
    let data = body["sealed"][0]["data"].as_str().unwrap().to_string();
    let mut bytes = B64.decode(data).unwrap();
    bytes[30] ^= 1;
    body["sealed"][0]["data"] = Value::String(B64.encode(bytes));
    e.body = body.to_string();
    assert!(matches!(vault.decode(e), Err(VaultError::BadSeal { .. })));
}

#[test]
fn entries_sealed_as_pointer_objects_by_earlier_versions_still_open() {
    let records = records();
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (mut stored, new) = vault.encode(&records, chain::GENESIS).unwrap();
    vault.commit(new);
    let at = stored
        .iter()
        .position(|e| e.kind == "contact.received")
        .unwrap();
    // Re-seal each entry as the earlier versions did: `{pointer: value}`.
    let mut body: Value = serde_json::from_str(&stored[at].body).unwrap();
    for entry in body["sealed"].as_array_mut().unwrap() {
        let scope = entry["scope"].as_str().unwrap().to_string();
        let key = vault.key(&scope).unwrap().unwrap();
        let cipher = key.cipher();
        let data = B64.decode(entry["data"].as_str().unwrap()).unwrap();
        let plain = cipher.open(scope.as_bytes(), &data).unwrap();
        let Value::Array(values) = serde_json::from_slice(&plain).unwrap() else {
            panic!("this version seals a list of values")
        };
        let fields = entry["fields"].as_array().unwrap();
        let old: Map<String, Value> = fields
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .zip(values)
            .collect();
        let old = serde_json::to_vec(&Value::Object(old)).unwrap();
        entry["data"] = Value::String(B64.encode(cipher.seal(scope.as_bytes(), &old)));
    }
    stored[at].body = body.to_string();
    assert_eq!(vault.decode(&stored[at]).unwrap(), records[at]);
}

#[test]
fn plain_seals_nothing_and_still_opens_sealed_events() {
    let records = records();
    let master = MasterKey::generate();
    let plain = Vault::new(&master, 3).plain();
    let (stored, new) = plain.encode(&records, chain::GENESIS).unwrap();
    assert!(new.is_empty());
    assert!(sealed_text(&stored).contains("Jo Caller"));
    for (r, e) in records.iter().zip(&stored) {
        assert_eq!(
            e,
            &muster_log::record::encode(r, &e.hash_prev_for_test(&stored))
        );
    }
}

trait PrevHash {
    fn hash_prev_for_test(&self, all: &[StoredEvent]) -> String;
}

impl PrevHash for StoredEvent {
    fn hash_prev_for_test(&self, all: &[StoredEvent]) -> String {
        let i = all.iter().position(|e| e.seq == self.seq).unwrap();
        if i == 0 {
            chain::GENESIS.into()
        } else {
            all[i - 1].hash.clone()
        }
    }
}

#[tokio::test]
async fn keys_kept_with_the_batch_open_it_after_a_restart_and_erase_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let master = MasterKey::generate();
    let records = records();
    let stored = {
        let log = SqliteLog::open(&path).unwrap();
        let vault = Vault::load(&log, &master, 3).await.unwrap();
        let (stored, new) = vault.encode(&records, chain::GENESIS).unwrap();
        log.append_with_keys(
            chain::GENESIS,
            Arc::new(stored.clone()),
            Arc::new(new.wrapped.clone()),
        )
        .await
        .unwrap();
        vault.commit(new);
        stored
    };
    let log = SqliteLog::open(&path).unwrap();
    let vault = Vault::load(&log, &master, 3).await.unwrap();
    for (r, e) in records.iter().zip(&stored) {
        assert_eq!(&vault.decode(e).unwrap(), r);
    }
    // Erase a prefix: gone from the store and from memory, the log verifies.
    let con = stored
        .iter()
        .find(|e| e.kind == "contact.received")
        .unwrap();
    let body: Value = serde_json::from_str(&con.body).unwrap();
    let prefix = format!("contact:{}/", body["contact"]["id"].as_str().unwrap());
    let erased = vault
        .erase(&log, std::slice::from_ref(&prefix))
        .await
        .unwrap();
    assert_eq!(erased.len(), 2, "{erased:?}");
    assert!(log.verify().await.unwrap().ok);
    let again = Vault::load(&log, &master, 3).await.unwrap();
    let Event::ContactReceived { contact } = again.decode(con).unwrap().event else {
        panic!()
    };
    assert_eq!(contact.caller.name.as_deref(), Some(ERASED));
    assert!(
        again
            .erase(&log, &[CHECK_SCOPE.into()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_found_at_start_and_rotation_rewraps_without_touching_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&dir.path().join("log.db")).unwrap();
    let old = MasterKey::generate();
    let records = records();
    let vault = Vault::load(&log, &old, 3).await.unwrap();
    let (stored, new) = vault.encode(&records, chain::GENESIS).unwrap();
    let made = new.wrapped.len();
    log.append_with_keys(
        chain::GENESIS,
        Arc::new(stored.clone()),
        Arc::new(new.wrapped),
    )
    .await
    .unwrap();

    let wrong = MasterKey::generate();
    let err = Vault::load(&log, &wrong, 3).await.unwrap_err();
    assert!(matches!(err, VaultError::WrongMasterKey));
    assert!(err.to_string().contains(MASTER_KEY_VARIABLE));

    let (head_before, _) = log.head().await.unwrap();
    let n = Vault::rotate(&log, &wrong, &old).await;
    assert!(
        matches!(n, Err(VaultError::WrongMasterKey)),
        "rotating from the wrong key"
    );
    let n = Vault::rotate(&log, &old, &wrong).await.unwrap();
    assert_eq!(n, made);
    assert!(matches!(
        Vault::load(&log, &old, 3).await,
        Err(VaultError::WrongMasterKey)
    ));
    let rotated = Vault::load(&log, &wrong, 3).await.unwrap();
    for (r, e) in records.iter().zip(&stored) {
        assert_eq!(&rotated.decode(e).unwrap(), r);
    }
    assert_eq!(log.read_from(0, 100).await.unwrap(), stored);
    assert_eq!(log.head().await.unwrap().0, head_before);
}

#[test]
fn erased_events_still_read_as_their_kind() {
    use muster_core::domain::ids::UserId;
    let vault = Vault::new(&MasterKey::generate(), 3);
    let rec = Record {
        seq: 1,
        at: testing::start_time(),
        actor: UserId("usr_1".into()),
        command_id: None,
        event: Event::PushSubscribed {
            user_id: UserId("usr_1".into()),
            endpoint: "https://push.example/abc".into(),
            keys: testing::push_keys(),
            session: None,
        },
    };
    let (stored, new) = vault
        .encode(std::slice::from_ref(&rec), chain::GENESIS)
        .unwrap();
    assert!(!stored[0].body.contains("push.example"));
    vault.commit(new);
    assert_eq!(vault.decode(&stored[0]).unwrap(), rec);
    vault.forget(&["user:usr_1/".into()]);
    let Event::PushSubscribed { endpoint, keys, .. } = vault.decode(&stored[0]).unwrap().event
    else {
        panic!()
    };
    assert_eq!((endpoint.as_str(), keys.auth.as_str()), (ERASED, ERASED));
}

/// Every kind's samples (every optional field present, and what the engine makes):
/// the writer's one-pass split seals what the classification table finds in the
/// event's JSON, under the same scopes and pointers; the clear body keeps none of it
/// (coarse values only rounded); and the event opens as it was decided.
#[test]
fn every_kind_is_sealed_as_the_table_says_and_opens_as_it_was() {
    use muster_core::domain::ids::UserId;
    use muster_core::privacy::classify::{Keep, personal_leaves};
    let vault = Vault::new(&MasterKey::generate(), 3);
    let samples = testing::hand_event_samples()
        .into_iter()
        .chain(testing::engine_event_samples());
    for (n, sample) in samples.enumerate() {
        let event: Event = serde_json::from_value(sample).unwrap();
        let rec = Record {
            seq: n as u64 + 1,
            at: testing::start_time(),
            actor: UserId("usr_1".into()),
            command_id: None,
            event,
        };
        let json = serde_json::to_value(&rec.event).unwrap();
        let expected = personal_leaves(rec.event.kind(), &json, rec.at).unwrap();
        if let Some(sealed) = vault.seal(&rec, &mut NewKeys::default()).unwrap() {
            let clear = serde_json::to_string(&rec.event).unwrap();
            assert_eq!(sealed.clear, clear, "{}: in clear", rec.event.kind());
        }
        let (stored, new) = vault
            .encode(std::slice::from_ref(&rec), chain::GENESIS)
            .unwrap();
        vault.commit(new);
        let body: Value = serde_json::from_str(&stored[0].body).unwrap();
        let sealed: Vec<(String, Vec<String>)> = body["sealed"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let fields = e["fields"].as_array().unwrap().iter();
                let fields = fields.map(|f| f.as_str().unwrap().to_string());
                (e["scope"].as_str().unwrap().to_string(), fields.collect())
            })
            .collect();
        let mut want: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|s| {
                let pointers = s.leaves.iter().map(|l| l.pointer.clone());
                (s.scope.clone(), pointers.collect())
            })
            .collect();
        let mut got = sealed.clone();
        for list in [&mut want, &mut got] {
            list.iter_mut().for_each(|(_, f)| f.sort());
            list.sort();
        }
        assert_eq!(got, want, "{}: scopes and fields", rec.event.kind());
        for leaf in expected.iter().flat_map(|s| &s.leaves) {
            let clear = body.pointer(&leaf.pointer);
            match leaf.keep {
                Keep::Sealed => assert!(
                    clear.is_none_or(Value::is_null),
                    "{}: {} left in clear",
                    rec.event.kind(),
                    leaf.pointer
                ),
                Keep::Coarse => {
                    let exact = json.pointer(&leaf.pointer).and_then(Value::as_f64);
                    let rounded = exact.map(|x| classify::round(x, 3));
                    assert_eq!(clear.and_then(Value::as_f64), rounded, "{}", leaf.pointer);
                }
            }
        }
        assert_eq!(
            vault.decode(&stored[0]).unwrap(),
            rec,
            "{}",
            rec.event.kind()
        );
    }
}

#[test]
fn only_an_id_numbered_by_the_event_s_own_seq_is_taken_as_new() {
    assert!(numbered_at("con_84", 84));
    assert!(!numbered_at("con_84", 85));
    assert!(!numbered_at("res_ambulance", 84));
    assert!(!numbered_at("84", 84));
}

#[test]
fn a_record_new_with_an_event_gets_one_key_per_scope_and_later_batches_reuse_it() {
    let mut w = World::seeded();
    let op = w.actor("operator");
    w.ok(&op, testing::incident_open("medical_emergency", None));
    let first = w.log.clone();
    let id = first
        .iter()
        .find_map(|r| r.event.created_ref().filter(|(n, _)| *n == "incident_id"))
        .map(|(_, id)| id.to_string())
        .unwrap();
    let scope = format!("incident:{id}/free_text");
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (stored, new) = vault.encode(&first, chain::GENESIS).unwrap();
    let made: Vec<_> = new.wrapped.iter().map(|k| k.scope.clone()).collect();
    assert_eq!(made.iter().filter(|s| **s == scope).count(), 1, "{made:?}");
    vault.commit(new);
    // A later note on it seals under the key made with it, in this batch and after.
    w.ok(
        &op,
        testing::incident_note(&id.as_str().into(), "Zebedee is on the roof"),
    );
    w.ok(
        &op,
        testing::incident_note(&id.as_str().into(), "Zebedee is down"),
    );
    let later: Vec<Record> = w.log[first.len()..].to_vec();
    let prev = &stored.last().unwrap().hash;
    let (again, new) = vault.encode(&later, prev).unwrap();
    assert!(
        new.wrapped.iter().all(|k| k.scope != scope),
        "a held scope got a second key"
    );
    let text = sealed_text(&again);
    assert!(!text.contains("Zebedee") && text.contains(&scope), "{text}");
    for e in stored.iter().chain(&again) {
        let opened = vault.decode(e).unwrap();
        assert_eq!(opened.event, w.log[(e.seq - first[0].seq) as usize].event);
    }
}
