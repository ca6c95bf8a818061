//! The contract every [`EventLog`] keeps, as one reusable test: each implementation's
//! tests hand a fresh, empty log to [`run_all`]. Kept out of `#[cfg(test)]` so
//! integration tests (and a future Redis test) can reach it; hidden from the docs.
//!
//! The steps run in order on the same log, each starting from the state the previous
//! one left, and panic with a message naming the step on the first broken promise.

use chrono::{DateTime, TimeZone, Utc};

use std::sync::Arc;

use super::{EventLog, Snapshot, StoreError, StoredEvent, VerifyReport, WrappedKey, chain};

/// Runs every contract step on `log`, which must be fresh and empty.
pub async fn run_all(log: &dyn EventLog) {
    empty_log_starts_at_genesis(log).await;
    empty_batch_is_a_no_op(log).await;
    let first = append_round_trips_exactly(log).await;
    read_from_pages_in_order(log, &first).await;
    stale_or_early_batch_conflicts_and_changes_nothing(log).await;
    gapped_batch_is_refused_whole(log).await;
    second_batch_extends_the_chain(log).await;
    racing_appends_one_wins(log).await;
    snapshots_latest_wins(log).await;
    scrub_keeps_only_the_fresh_snapshot_and_the_events(log).await;
    durability_is_reported(log).await;
    data_keys_go_with_their_batch_and_are_erased_by_scope_or_prefix(log).await;
    // Last: it leaves a forged event at the head.
    versions_are_kept_and_hashed(log).await;
}

/// `n` correctly linked events following `(prev_seq, prev_hash)`, with varied fields:
/// `command_id` both present and absent, non-ASCII text, millisecond times.
pub fn chain_events(prev_seq: u64, prev_hash: &str, n: usize) -> Vec<StoredEvent> {
    let mut prev = prev_hash.to_string();
    (1..=n as u64)
        .map(|i| {
            let seq = prev_seq + i;
            let mut e = StoredEvent {
                seq,
                at: time_of(seq),
                actor: format!("user-{}", seq % 3),
                command_id: seq.is_multiple_of(2).then(|| format!("cmd-{seq}")),
                kind: "incident.noted".to_string(),
                body: format!(r#"{{"kind":"incident.noted","n":{seq},"text":"Zürich – ✓"}}"#),
                v: crate::record::VERSION,
                hash: String::new(),
            };
            e.hash = chain::link(&prev, &e);
            prev = e.hash.clone();
            e
        })
        .collect()
}

/// A whole-millisecond time that differs per seq (and in the millisecond digits).
pub fn time_of(seq: u64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 11, 28, 17, 20, 2)
        .single()
        .expect("valid base time");
    base + chrono::Duration::milliseconds(seq as i64 * 1_001 + 123)
}

async fn head(log: &dyn EventLog, step: &str) -> (u64, String) {
    match log.head().await {
        Ok(h) => h,
        Err(e) => panic!("{step}: head failed: {e}"),
    }
}

async fn read_all(log: &dyn EventLog, step: &str) -> Vec<StoredEvent> {
    match log.read_from(0, usize::MAX).await {
        Ok(v) => v,
        Err(e) => panic!("{step}: read_from failed: {e}"),
    }
}

async fn append_ok(log: &dyn EventLog, batch: &[StoredEvent], step: &str) {
    if let Err(e) = log.append(batch).await {
        panic!("{step}: append failed: {e}");
    }
}

async fn empty_log_starts_at_genesis(log: &dyn EventLog) {
    let step = "empty log";
    assert_eq!(
        head(log, step).await,
        (0, chain::GENESIS.to_string()),
        "{step}"
    );
    assert!(read_all(log, step).await.is_empty(), "{step}: events");
    assert_eq!(
        log.latest_snapshot().await.ok(),
        Some(None),
        "{step}: snapshot"
    );
    assert_eq!(
        log.verify().await.ok(),
        Some(VerifyReport {
            ok: true,
            events: 0,
            first_bad_seq: None
        }),
        "{step}: verify"
    );
}

async fn empty_batch_is_a_no_op(log: &dyn EventLog) {
    let step = "empty batch";
    append_ok(log, &[], step).await;
    assert_eq!(head(log, step).await.0, 0, "{step}");
}

/// Appends events 1..=5 and reads them back field for field.
async fn append_round_trips_exactly(log: &dyn EventLog) -> Vec<StoredEvent> {
    let step = "round trip";
    let batch = chain_events(0, chain::GENESIS, 5);
    append_ok(log, &batch, step).await;
    assert_eq!(read_all(log, step).await, batch, "{step}: events");
    assert_eq!(
        head(log, step).await,
        (5, batch[4].hash.clone()),
        "{step}: head"
    );
    batch
}

async fn read_from_pages_in_order(log: &dyn EventLog, first: &[StoredEvent]) {
    let step = "read_from";
    let page = log.read_from(2, 2).await.ok();
    assert_eq!(
        page.as_deref(),
        Some(&first[2..4]),
        "{step}: after 2, limit 2"
    );
    let tail = log.read_from(3, 100).await.ok();
    assert_eq!(tail.as_deref(), Some(&first[3..]), "{step}: after 3");
    assert_eq!(
        log.read_from(5, 10).await.ok(),
        Some(vec![]),
        "{step}: at head"
    );
    assert_eq!(
        log.read_from(0, 0).await.ok(),
        Some(vec![]),
        "{step}: limit 0"
    );
    let kept = log.read_from_skipping(2, 2, &["case.opened"]).await.ok();
    assert_eq!(
        kept.as_deref(),
        Some(&first[2..4]),
        "{step}: skipping others"
    );
    let none = log.read_from_skipping(0, 2, &["incident.noted"]).await.ok();
    assert_eq!(
        none,
        Some(vec![]),
        "{step}: skipping every kind reads to the end"
    );
}

/// Head is 5: a batch starting at 5 (stale) or 7 (early) must conflict.
async fn stale_or_early_batch_conflicts_and_changes_nothing(log: &dyn EventLog) {
    let step = "conflict";
    let before = read_all(log, step).await;
    let stale = chain_events(4, &before[3].hash, 2);
    assert_conflict(log.append(&stale).await, 4, 5, "stale batch");
    let early = chain_events(6, chain::GENESIS, 2);
    assert_conflict(log.append(&early).await, 6, 5, "early batch");
    assert_eq!(read_all(log, step).await, before, "{step}: log changed");
}

fn assert_conflict(got: Result<(), StoreError>, expected: u64, found: u64, step: &str) {
    match got {
        Err(StoreError::Conflict {
            expected: e,
            found: f,
        }) => assert_eq!((e, f), (expected, found), "{step}: conflict fields"),
        other => panic!("{step}: expected Conflict{{{expected}, {found}}}, got {other:?}"),
    }
}

/// A batch whose first event fits but which skips a seq keeps nothing, not even the
/// first event.
async fn gapped_batch_is_refused_whole(log: &dyn EventLog) {
    let step = "gapped batch";
    let before = read_all(log, step).await;
    let mut batch = chain_events(5, &before[4].hash, 3);
    batch.remove(1);
    assert!(log.append(&batch).await.is_err(), "{step}: accepted");
    let mut dup = chain_events(5, &before[4].hash, 2);
    dup[1].seq = 6;
    assert!(log.append(&dup).await.is_err(), "{step}: duplicate seq");
    assert_eq!(read_all(log, step).await, before, "{step}: log changed");
}

/// Appends 6..=10 and the whole chain verifies.
async fn second_batch_extends_the_chain(log: &dyn EventLog) {
    let step = "second batch";
    let (seq, hash) = head(log, step).await;
    let batch = chain_events(seq, &hash, 5);
    append_ok(log, &batch, step).await;
    assert_eq!(head(log, step).await, (10, batch[4].hash.clone()), "{step}");
    let all = read_all(log, step).await;
    assert_eq!(all.len(), 10, "{step}: count");
    assert_eq!(&all[5..], &batch[..], "{step}: tail");
    assert_eq!(
        log.verify().await.ok(),
        Some(VerifyReport {
            ok: true,
            events: 10,
            first_bad_seq: None
        }),
        "{step}: verify"
    );
}

/// Two writers both append seq 11: exactly one wins, the other sees the conflict.
async fn racing_appends_one_wins(log: &dyn EventLog) {
    let step = "race";
    let (seq, hash) = head(log, step).await;
    let a = chain_events(seq, &hash, 2);
    let mut b = chain_events(seq, &hash, 1);
    b[0].actor = "other-writer".to_string();
    b[0].hash = chain::link(&hash, &b[0]);
    let (ra, rb) = tokio::join!(log.append(&a), log.append(&b));
    let winner = match (ra, rb) {
        (Ok(()), lost) => {
            assert_conflict(lost, 10, 12, step);
            a
        }
        (lost, Ok(())) => {
            assert_conflict(lost, 10, 11, step);
            b
        }
        (ra, rb) => panic!("{step}: neither append won: {ra:?} / {rb:?}"),
    };
    let last = winner.last().cloned().expect("non-empty batch");
    assert_eq!(head(log, step).await, (last.seq, last.hash), "{step}: head");
    assert_eq!(
        log.read_from(10, 10).await.ok(),
        Some(winner),
        "{step}: tail"
    );
}

async fn snapshots_latest_wins(log: &dyn EventLog) {
    let step = "snapshots";
    for seq in [3, 5, 9] {
        let snap = Snapshot {
            seq,
            body: format!(r#"{{"as_of":{seq}}}"#),
        };
        if let Err(e) = log.save_snapshot(&snap).await {
            panic!("{step}: save {seq} failed: {e}");
        }
        assert_eq!(
            log.latest_snapshot().await.ok(),
            Some(Some(snap)),
            "{step}: latest after {seq}"
        );
    }
}

async fn scrub_keeps_only_the_fresh_snapshot_and_the_events(log: &dyn EventLog) {
    let step = "scrub";
    let before = head(log, step).await;
    let snap = Snapshot {
        seq: 10,
        body: r#"{"as_of":10,"name":"[erased]"}"#.to_string(),
    };
    if let Err(e) = log.scrub(&snap).await {
        panic!("{step}: failed: {e}");
    }
    assert_eq!(
        log.latest_snapshot().await.ok(),
        Some(Some(snap)),
        "{step}: the scrubbed snapshot is the latest"
    );
    assert_eq!(head(log, step).await, before, "{step}: the events stay");
    match log.verify().await {
        Ok(r) => assert!(r.ok, "{step}: the chain still verifies: {r:?}"),
        Err(e) => panic!("{step}: verify failed: {e}"),
    }
}

async fn durability_is_reported(log: &dyn EventLog) {
    let step = "durability";
    match log.durability().await {
        Ok(d) => {
            assert!(!d.store.is_empty(), "{step}: store name");
            assert!(!d.detail.is_empty(), "{step}: detail");
        }
        Err(e) => panic!("{step}: failed: {e}"),
    }
}

/// A version 1 record (hashed without its version, as before versions existed) and a
/// version 2 record round-trip with their versions and verify; a record whose stored
/// version is not the one its hash covers is caught by `verify`.
async fn versions_are_kept_and_hashed(log: &dyn EventLog) {
    let step = "versions";
    let (seq, hash) = head(log, step).await;
    let mut batch = chain_events(seq, &hash, 2);
    batch[0].v = 1;
    batch[0].hash = chain::link(&hash, &batch[0]);
    batch[1].hash = chain::link(&batch[0].hash, &batch[1]);
    assert_ne!(
        batch[1].hash,
        chain::link(
            &batch[0].hash,
            &StoredEvent {
                v: 3,
                ..batch[1].clone()
            }
        ),
        "{step}: the hash covers the version"
    );
    append_ok(log, &batch, step).await;
    let back = log.read_from(seq, 10).await.ok();
    assert_eq!(back.as_ref(), Some(&batch), "{step}: read back");
    let versions: Vec<u32> = batch.iter().map(|e| e.v).collect();
    assert_eq!(versions, [1, 2], "{step}: versions");
    let verified = log.verify().await.ok().map(|r| r.ok);
    assert_eq!(verified, Some(true), "{step}: verify");
    // Hashed as version 2, stored as version 1: an edited version.
    let mut forged = chain_events(seq + 2, &batch[1].hash, 1);
    forged[0].v = 1;
    append_ok(log, &forged, step).await;
    assert_eq!(
        log.verify().await.ok(),
        Some(VerifyReport {
            ok: false,
            events: seq + 3,
            first_bad_seq: Some(seq + 3)
        }),
        "{step}: an edited version breaks the chain"
    );
}

fn key(scope: &str, byte: u8) -> WrappedKey {
    WrappedKey {
        scope: scope.to_string(),
        wrapped: vec![byte, 0, 255, byte],
    }
}

fn sorted(mut keys: Vec<WrappedKey>) -> Vec<WrappedKey> {
    keys.sort_by(|a, b| a.scope.cmp(&b.scope));
    keys
}

/// Data keys are kept with the batch that first uses them, all or nothing; a scope
/// kept already fails the append (and nothing of the batch is kept); erasing takes
/// exact scopes and `/`-ended prefixes; a re-wrap replaces keys in place.
async fn data_keys_go_with_their_batch_and_are_erased_by_scope_or_prefix(log: &dyn EventLog) {
    let step = "data keys";
    let before = log.load_keys().await.expect(step);
    assert!(before.is_empty(), "{step}: a fresh log keeps no keys");
    let (seq, hash) = head(log, step).await;
    let batch = chain_events(seq, &hash, 2);
    let keys = vec![
        key("contact:con_1/caller_details", 1),
        key("contact:con_1/free_text", 2),
        key("resource:res_1/staff_locations/2026-12-07", 3),
        key("contact:con_10/caller_details", 4),
    ];
    log.append_with_keys(&hash, Arc::new(batch.clone()), Arc::new(keys.clone()))
        .await
        .unwrap_or_else(|e| panic!("{step}: append with keys: {e}"));
    assert_eq!(head(log, step).await, (seq + 2, batch[1].hash.clone()));
    assert_eq!(
        sorted(log.load_keys().await.expect(step)),
        sorted(keys.clone())
    );

    // A scope kept already: refused whole, the batch not appended.
    let next = chain_events(seq + 2, &batch[1].hash, 1);
    let dup = vec![
        key("plan:pln_1/support_plans", 5),
        key("contact:con_1/free_text", 6),
    ];
    let refused = log
        .append_with_keys(&batch[1].hash, Arc::new(next.clone()), Arc::new(dup))
        .await;
    assert!(refused.is_err(), "{step}: a kept scope was written again");
    assert_eq!(head(log, step).await, (seq + 2, batch[1].hash.clone()));
    assert_eq!(
        log.load_keys().await.expect(step).len(),
        4,
        "{step}: partial keys kept"
    );

    // Exact and prefix erasure; `contact:con_1/` does not reach `contact:con_10/`.
    let mut erased = log
        .erase_keys(&[
            "contact:con_1/".into(),
            "resource:res_1/staff_locations/2026-12-07".into(),
            "case:none/cases".into(),
        ])
        .await
        .expect(step);
    erased.sort();
    assert_eq!(
        erased,
        [
            "contact:con_1/caller_details",
            "contact:con_1/free_text",
            "resource:res_1/staff_locations/2026-12-07"
        ]
    );
    assert_eq!(log.load_keys().await.expect(step), vec![keys[3].clone()]);

    // Re-wrapping replaces in place and adds; the events are untouched.
    let rewrapped = vec![
        key("contact:con_10/caller_details", 9),
        key("master:check", 7),
    ];
    log.rewrap_keys(&rewrapped).await.expect(step);
    assert_eq!(
        sorted(log.load_keys().await.expect(step)),
        sorted(rewrapped)
    );
    assert_eq!(head(log, step).await, (seq + 2, batch[1].hash.clone()));
    let report = log.verify().await.expect(step);
    assert!(report.ok, "{step}: {report:?}");
}
