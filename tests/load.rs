//! The load generator against a real server on port 0: what `bench/run` relies on to
//! tell a delivered event from a lost or misrouted one.

mod server;

use std::sync::Arc;
use std::time::Duration;

use muster::time::SystemClock;
use muster_load::Target;
use muster_load::fanout::{Plan, run};
use muster_load::run::{completeness, idle_check, idle_run};
use server::TestServer;

fn plan(watchers: usize, incidents: usize) -> Plan {
    Plan {
        watchers,
        rate: 30.0,
        seconds: 1.0,
        senders: 1,
        pad: 0,
        incidents,
        drop_within: None,
        slow: None,
        grace: 3.0,
    }
}

fn target(s: &TestServer) -> Target {
    Target {
        addr: s.running.addr,
        pid: None,
        password: "muster-demo".into(),
        ceiling: false,
    }
}

/// The server runs in this process: its memory and CPU are this process's.
fn in_process(s: &TestServer) -> Target {
    Target {
        pid: Some(std::process::id()),
        ..target(s)
    }
}

/// Each incident's watchers (a field user per incident, made through the API) get
/// exactly that incident's notes: all of them, once, and none of another's.
#[tokio::test]
async fn per_incident_watchers_get_their_incident_and_no_other() {
    let s = TestServer::start().await;
    let o = run(&target(&s), &plan(6, 3)).await.unwrap();
    assert_eq!(
        (o.events_planned, o.events_sent, o.events_accepted),
        (30, 30, 30)
    );
    // Two watchers per incident, ten notes per incident.
    assert_eq!(o.deliveries_expected, 60);
    assert_eq!((o.deliveries, o.lost, o.duplicates), (60, 0, 0), "{o:?}");
    assert_eq!(o.foreign, 0);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
}

/// Supervisors see every event: each watcher gets all of them.
#[tokio::test]
async fn supervisors_get_every_event() {
    let s = TestServer::start().await;
    let o = run(&target(&s), &plan(4, 0)).await.unwrap();
    assert_eq!(
        (o.deliveries_expected, o.deliveries, o.lost),
        (120, 120, 0),
        "{o:?}"
    );
    assert_eq!(
        (o.events_planned, o.events_sent, o.events_accepted),
        (30, 30, 30)
    );
    let failed: Vec<_> = completeness(&o).into_iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// S1's check passes when every socket is still open (answers a ping) after the hold.
#[tokio::test]
async fn idle_sockets_held_open_pass_the_check() {
    let s = TestServer::start().await;
    let h = idle_run(&in_process(&s), 5, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!((h.connections, h.still_open), (5, 5), "{:?}", h.closes);
    assert!(idle_check(&h).ok);
}

/// Sockets the hub closes during the hold fail S1's check: here the session ends
/// (a 2 s lifetime) inside the 3 s the sockets are held, and the hub closes them
/// with 4401. The check used to be `true` whatever happened.
#[tokio::test]
async fn idle_sockets_the_hub_closes_during_the_hold_fail_the_check() {
    let short_sessions = |l: &mut muster::config::Loaded| l.settings.auth.token_ttl_secs = 2;
    let s = TestServer::start_with(short_sessions, Arc::new(SystemClock)).await;
    let h = idle_run(&in_process(&s), 5, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(h.still_open, 0, "{h:?}");
    assert_eq!(h.closes.get(&4401), Some(&5), "{h:?}");
    let check = idle_check(&h);
    assert!(!check.ok, "{check:?}");
}
