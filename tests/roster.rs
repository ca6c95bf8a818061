//! Rosters on a hub with a controllable clock: the hub's own timer loop
//! (`hub::timers::fire_due`) records each shift boundary once, as the system actor,
//! under a command id a second hub would send too; the duty change follows.
//! The rules themselves, through the pure engine: crates/core/tests/roster.rs.

mod support;

use std::sync::Arc;

use chrono::Duration;
use serde_json::Value;

use muster::domain::ids::ResourceId;
use muster::domain::resource::ResourceStatus;
use muster::engine::{Actor, Command, Engine};
use muster::hub::{Hub, HubOptions, demo, timers};
use muster::store::sqlite::SqliteLog;
use muster::time::{Clock, ManualClock};

use support::{demo_centre, demo_seed, roster_add, start_time};

async fn hub_at(dir: &std::path::Path, clock: &ManualClock) -> Hub {
    let log = Arc::new(SqliteLog::open(&dir.join("log.sqlite")).expect("sqlite opens"));
    let hub = Hub::start(
        Engine::new(demo_centre()),
        log,
        Arc::new(clock.clone()),
        HubOptions {
            // The test reads the journal however far the clock moves.
            resume_window: Duration::days(2),
            ..HubOptions::default()
        },
    )
    .await
    .expect("hub starts");
    demo::seed(&hub, &demo_seed(), |_| "not-a-hash".to_string())
        .await
        .expect("seeds");
    hub
}

/// The shift commands among what fired, with their results' seqs.
async fn fire_shifts(hub: &Hub) -> Vec<(Command, u64)> {
    timers::fire_due(hub)
        .await
        .into_iter()
        .filter(|(c, _)| matches!(c, Command::TimerShiftStart(_) | Command::TimerShiftEnd(_)))
        .map(|(c, r)| {
            let kind = c.kind();
            (c, r.unwrap_or_else(|e| panic!("{kind} refused: {e}")).seq)
        })
        .collect()
}

fn status(hub: &Hub, r: &ResourceId) -> ResourceStatus {
    hub.with_state(|s| s.resources[r].status)
}

#[tokio::test]
async fn the_hub_records_each_shift_boundary_once_as_the_system_actor() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let t0 = clock.now();
    let hub = hub_at(dir.path(), &clock).await;
    let sup = hub.with_state(|s| Actor::of(&s.users[&s.usernames["supervisor"]]));
    let r = hub.with_state(|s| s.resources.keys().next().unwrap().clone());
    let (start, end) = (t0 + Duration::hours(1), t0 + Duration::hours(9));
    hub.submit(sup, Some("shift-1".into()), roster_add(&r, start, end))
        .await
        .expect("roster.add");

    clock.set(start - Duration::seconds(1));
    assert!(fire_shifts(&hub).await.is_empty());
    clock.set(start);
    let fired = fire_shifts(&hub).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (started, seq) = fired[0].clone();
    assert!(matches!(started, Command::TimerShiftStart(_)));
    let id = timers::command_id(&started);
    assert!(id.starts_with("timer:shift_start:shf_"), "{id}");
    // Recorded once: the next tick finds nothing due, and the same command from a
    // second hub (same id) is answered with the first result and appends nothing.
    assert!(fire_shifts(&hub).await.is_empty());
    let again = hub
        .submit(Actor::system(), Some(id), started)
        .await
        .expect("a retry is answered");
    assert_eq!(again.seq, seq);
    assert_eq!(hub.seq(), seq);
    let frames: Vec<Value> = hub
        .journal_after(seq - 1)
        .iter()
        .filter(|p| p.kind.as_str().starts_with("roster.shift_"))
        .map(|p| serde_json::from_slice(p.frame.as_bytes()).unwrap())
        .collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["actor"], "system");
    assert_eq!(frames[0]["event"]["resource_id"], r.as_str());

    clock.set(end);
    let fired = fire_shifts(&hub).await;
    assert!(
        matches!(fired[..], [(Command::TimerShiftEnd(_), _)]),
        "{fired:?}"
    );
    assert_eq!(status(&hub, &r), ResourceStatus::OffDuty);
}
