//! The load generator against a real server on port 0: what `bench/run` relies on to
//! tell a delivered event from a lost or misrouted one.

mod server;

use muster::load::Target;
use muster::load::fanout::{Plan, run};
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

/// Each incident's watchers (a field user per incident, made through the API) get
/// exactly that incident's notes: all of them, once, and none of another's.
#[tokio::test]
async fn per_incident_watchers_get_their_incident_and_no_other() {
    let s = TestServer::start().await;
    let o = run(&target(&s), &plan(6, 3)).await.unwrap();
    assert_eq!(o.events_sent, 30);
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
}
