//! The centre's procedures on a real hub with a manual clock: the escalation ladder
//! and the other timers (webhook received by a real local HTTP server; a restart
//! continues the ladder). No sleeps: time moves by hand. The procedures as the pure
//! engine enforces them are in crates/core/tests/procedures.rs.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use muster::domain::ids::{AssignmentId, IncidentId};
use muster::domain::procedure::EscalationAction;
use muster::domain::triage::Priority;
use muster::engine::command as cmd;
use muster::engine::{Actor, Command, Engine, Event};
use muster::hub::{Hub, HubOptions, demo, timers};
use muster::notify::{self, Webhook};
use muster::store::sqlite::SqliteLog;
use muster::time::{Clock, ManualClock};

use support::*;

// ==================================================================================
// A real hub with a manual clock: the ladder, the webhook, restarts
// ==================================================================================

async fn hub_at(path: &Path, clock: &ManualClock) -> Hub {
    let log = Arc::new(SqliteLog::open(path).expect("sqlite opens"));
    let hub = Hub::start(
        Engine::new(demo_centre()),
        log,
        Arc::new(clock.clone()),
        // The tests count events in the journal, whatever the manual clock says.
        HubOptions {
            resume_window: Duration::days(1),
            ..HubOptions::default()
        },
    )
    .await
    .expect("hub starts");
    demo::seed(&hub, &demo_seed(), |_| TEST_HASH.to_string())
        .await
        .expect("seeds");
    hub
}

fn hub_actor(hub: &Hub, username: &str) -> Actor {
    hub.with_state(|s| Actor::of(&s.users[&s.usernames[username]]))
}

async fn send(
    hub: &Hub,
    actor: &Actor,
    command: Command,
) -> std::collections::BTreeMap<String, String> {
    let kind = command.kind();
    let id = format!("t-{}", uuid_like());
    match hub.submit(actor.clone(), Some(id), command).await {
        Ok(o) => o.data,
        Err(e) => panic!("{kind} refused: {e}"),
    }
}

fn uuid_like() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed))
}

/// A P1 medical emergency dispatched to field1's resource at the clock's now.
async fn p1_assignment(hub: &Hub) -> (IncidentId, AssignmentId) {
    let op = hub_actor(hub, "operator");
    let data = send(hub, &op, incident_open("medical_emergency", None)).await;
    let inc = IncidentId(data["incident_id"].clone());
    send(hub, &op, assess_manual(&inc, Priority::P1, "not breathing")).await;
    let res = hub_actor(hub, "field1").resource_id.unwrap();
    let data = send(hub, &op, assignment_create(&inc, &res, None)).await;
    (inc, AssignmentId(data["assignment_id"].clone()))
}

/// The escalations fired by one call, as `(level, action)`.
async fn fire_escalations(hub: &Hub) -> Vec<u32> {
    timers::fire_due(hub)
        .await
        .into_iter()
        .filter_map(|(c, r)| match c {
            Command::TimerEscalate(cmd::TimerEscalate { level, .. }) => {
                r.expect("fires");
                Some(level)
            }
            _ => None,
        })
        .collect()
}

/// The `assignment.escalated` events of one assignment in the log, in order.
fn escalated(
    hub: &Hub,
    asg: &AssignmentId,
) -> Vec<(u32, EscalationAction, Option<String>, chrono::DateTime<Utc>)> {
    hub.journal_after(0)
        .iter()
        .filter(|p| p.kind == "assignment.escalated")
        .filter_map(|p| {
            let v: Value = serde_json::from_str(&p.frame).unwrap();
            let e: Event = serde_json::from_value(v["event"].clone()).unwrap();
            match e {
                Event::AssignmentEscalated {
                    assignment_id,
                    level,
                    action,
                    channel,
                    ..
                } if &assignment_id == asg => Some((level, action, channel, p.at)),
                _ => None,
            }
        })
        .collect()
}

fn count(hub: &Hub, kind: &str) -> usize {
    hub.journal_after(0)
        .iter()
        .filter(|p| p.kind == kind)
        .count()
}

/// A tiny HTTP gateway: records each POST body, answers 200.
async fn gateway() -> (String, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let (head_end, length) = loop {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "request ended early");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    break (i + 4, length);
                }
            };
            while buf.len() < head_end + length {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let request_line =
                String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == b'\r').unwrap()])
                    .to_string();
            let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let _ = tx.send((request_line, body));
        }
    });
    (url, rx)
}

/// Waits (bounded) for the next durable event of `kind`.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<Arc<muster::hub::Published>>,
    kind: &str,
) -> Value {
    let wait = async {
        loop {
            let p = events.recv().await.expect("hub alive");
            if p.kind == kind {
                return serde_json::from_str::<Value>(&p.frame).unwrap();
            }
        }
    };
    tokio::time::timeout(StdDuration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} within 5 s"))
}

#[tokio::test]
async fn an_unacknowledged_p1_assignment_walks_the_whole_ladder_and_the_webhook_is_received() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let (url, mut posts) = gateway().await;
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2)).unwrap();
    let notifier = notify::spawn(
        hub.clone(),
        notify::Channels {
            webhook: Some(webhook),
            email: None,
        },
    );
    let mut events = hub.subscribe();

    let t0 = clock.now();
    let (_, asg) = p1_assignment(&hub).await;
    // The demo's urgent ladder: 30 s push, 60 s sms, 90 s supervisor, 120 s next resource.
    let mut fired = Vec::new();
    for at in [29, 30, 45, 60, 61, 90, 119, 120, 300] {
        clock.set(t0 + Duration::seconds(at));
        for level in fire_escalations(&hub).await {
            fired.push((at, level));
        }
        if at == 60 {
            let (request_line, body) =
                tokio::time::timeout(StdDuration::from_secs(5), posts.recv())
                    .await
                    .expect("the gateway got a POST in time")
                    .unwrap();
            assert_eq!(request_line, "POST /sms/send HTTP/1.1");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["assignment_id"], asg.as_str());
            assert_eq!(body["channel"], "sms");
            assert_eq!(body["level"], 2);
            assert!(
                body["text"]
                    .as_str()
                    .unwrap()
                    .contains("please acknowledge")
            );
            let sent = next_event(&mut events, "notification.sent").await;
            assert_eq!(sent["event"]["assignment_id"], asg.as_str());
            assert_eq!(sent["event"]["status"], "HTTP 200");
        }
    }
    assert_eq!(fired, [(30, 1), (60, 2), (90, 3), (120, 4)]);
    let ladder = escalated(&hub, &asg);
    let got: Vec<(u32, EscalationAction, Option<&str>, i64)> = ladder
        .iter()
        .map(|(l, a, c, at)| (*l, *a, c.as_deref(), (*at - t0).num_seconds()))
        .collect();
    assert_eq!(
        got,
        [
            (1, EscalationAction::Push, Some("push"), 30),
            (2, EscalationAction::AlternativeChannel, Some("sms"), 60),
            (3, EscalationAction::SupervisorAlert, None, 90),
            (4, EscalationAction::SuggestNextResource, None, 120),
        ]
    );
    // The escalations are in the incident's timeline.
    let inc = hub.with_state(|s| s.assignments[&asg].incident_id.clone());
    let in_timeline = hub.with_state(|s| s.timelines[&inc].len());
    assert!(in_timeline >= 8);
    notifier.abort();
}

#[tokio::test]
async fn the_ladder_stops_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let t0 = clock.now();
    let (_, asg) = p1_assignment(&hub).await;
    clock.set(t0 + Duration::seconds(30));
    assert_eq!(fire_escalations(&hub).await, [1]);
    clock.set(t0 + Duration::seconds(40));
    send(&hub, &hub_actor(&hub, "field1"), acknowledge(&asg)).await;
    for at in [60, 90, 120, 600] {
        clock.set(t0 + Duration::seconds(at));
        assert!(fire_escalations(&hub).await.is_empty(), "at {at}");
    }
    assert_eq!(escalated(&hub, &asg).len(), 1);
}

#[tokio::test]
async fn after_a_restart_mid_ladder_the_ladder_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let clock = ManualClock::new(start_time());
    let t0 = clock.now();
    let asg = {
        let hub = hub_at(&path, &clock).await;
        let (_, asg) = p1_assignment(&hub).await;
        clock.set(t0 + Duration::seconds(30));
        assert_eq!(fire_escalations(&hub).await, [1]);
        asg
    };
    // A new hub on the same log, while the ladder is between rungs 1 and 2.
    let hub = hub_at(&path, &clock).await;
    assert_eq!(hub.with_state(|s| s.escalations[&asg]), 1);
    clock.set(t0 + Duration::seconds(45));
    assert!(
        fire_escalations(&hub).await.is_empty(),
        "rung 1 is not repeated"
    );
    clock.set(t0 + Duration::seconds(60));
    assert_eq!(fire_escalations(&hub).await, [2]);
    clock.set(t0 + Duration::seconds(90));
    assert_eq!(fire_escalations(&hub).await, [3]);
}

#[tokio::test]
async fn a_missed_checkin_and_a_breached_target_each_raise_exactly_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let op = hub_actor(&hub, "operator");
    let t0 = clock.now();

    // A P1 medical emergency nobody is sent to: its 60 s dispatch target runs out.
    let data = send(&hub, &op, incident_open("medical_emergency", None)).await;
    let waiting = IncidentId(data["incident_id"].clone());
    send(
        &hub,
        &op,
        assess_manual(&waiting, Priority::P1, "unconscious"),
    )
    .await;
    clock.set(t0 + Duration::seconds(59));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "target.breached"), 0);
    clock.set(t0 + Duration::seconds(61));
    timers::fire_due(&hub).await;
    timers::fire_due(&hub).await;
    let breaches: Vec<Value> = hub
        .journal_after(0)
        .iter()
        .filter(|p| p.kind == "target.breached")
        .map(|p| serde_json::from_str::<Value>(&p.frame).unwrap()["event"].clone())
        .collect();
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0]["incident_id"], waiting.as_str());
    assert_eq!(breaches[0]["target"], "dispatch");
    assert_eq!(breaches[0]["priority"], "P1");

    // Another resource on scene and silent: one missed check-in after the interval.
    let t1 = t0 + Duration::seconds(100);
    clock.set(t1);
    let f3 = hub_actor(&hub, "field3");
    let data = send(&hub, &op, incident_open("medical_emergency", None)).await;
    let inc = IncidentId(data["incident_id"].clone());
    send(
        &hub,
        &op,
        assess_manual(&inc, Priority::P2, "fainted, now awake"),
    )
    .await;
    let data = send(
        &hub,
        &op,
        assignment_create(&inc, f3.resource_id.as_ref().unwrap(), None),
    )
    .await;
    let asg = AssignmentId(data["assignment_id"].clone());
    send(&hub, &f3, acknowledge(&asg)).await;
    send(
        &hub,
        &f3,
        progress(&asg, muster::domain::assignment::AssignmentStatus::OnScene),
    )
    .await;
    // medical_emergency: check in every 300 s.
    clock.set(t1 + Duration::seconds(299));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 0);
    clock.set(t1 + Duration::seconds(300));
    timers::fire_due(&hub).await;
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 1);
    // The check-in comes; the next one is due a full interval later.
    clock.set(t1 + Duration::seconds(320));
    send(&hub, &f3, checkin(&asg, true)).await;
    clock.set(t1 + Duration::seconds(619));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 1);
    clock.set(t1 + Duration::seconds(620));
    timers::fire_due(&hub).await;
    assert_eq!(count(&hub, "checkin.missed"), 2);
    assert_eq!(count(&hub, "target.breached"), 1, "no other target ran out");
}

/// The gateway may fail: the attempt is recorded as `notification.failed`.
#[tokio::test]
async fn a_failed_webhook_delivery_is_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let (_, asg) = p1_assignment(&hub).await;
    // Nothing listens on port 9 of localhost (discard): the connection is refused.
    let webhook = Webhook::parse("http://127.0.0.1:9/x", StdDuration::from_secs(1)).unwrap();
    let channels = notify::Channels {
        webhook: Some(webhook),
        email: None,
    };
    let out = notify::deliver(&hub, &channels, &asg, 2, "sms")
        .await
        .unwrap();
    assert!(out.seq > 0);
    assert_eq!(count(&hub, "notification.failed"), 1);
    notify::deliver(&hub, &notify::Channels::default(), &asg, 3, "sms")
        .await
        .unwrap();
    assert_eq!(count(&hub, "notification.failed"), 2);
}

/// A gateway that never answers fails the attempt within its timeout; one that
/// answers a redirect is not followed; `https://` needs TLS; no error names the URL's
/// path or query.
#[tokio::test]
async fn a_silent_or_redirecting_gateway_fails_the_attempt() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let url = format!("http://{addr}/sms/send?token=secret");
    let webhook = Webhook::parse(&url, StdDuration::from_millis(300)).unwrap();
    let started = std::time::Instant::now();
    let err = webhook.deliver("msg_t", "{}").await.result.unwrap_err();
    assert!(started.elapsed() < StdDuration::from_secs(5));
    assert_eq!(err, notify::WebhookError::Timeout(addr.to_string(), 300));

    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = redirecting.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = redirecting.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let url = format!("http://{addr}/sms/send?token=secret");
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2)).unwrap();
    let err = webhook.deliver("msg_t", "{}").await.result.unwrap_err();
    assert_eq!(err.to_string(), "the gateway answered HTTP 307");
    // https:// speaks TLS: a plain-HTTP answer is not taken for the gateway's.
    let url = format!("https://{addr}/sms/send");
    let err = Webhook::parse(&url, StdDuration::from_secs(2))
        .unwrap()
        .deliver("msg_t", "{}")
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(
            err,
            notify::WebhookError::Connect(..) | notify::WebhookError::Io(..)
        ),
        "{err}"
    );

    // Refused: the error names host and port only.
    let err = Webhook::parse(
        "http://127.0.0.1:9/x?token=secret",
        StdDuration::from_secs(1),
    )
    .unwrap()
    .deliver("msg_t", "{}")
    .await
    .result
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("connecting to 127.0.0.1:9: "), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// A case answered whose complainant left an e-mail address: the reply's outcome is a
/// notification keyed by the case. Without SMTP that is a failure saying so (the desk
/// must reply another way); a case without an address is not e-mailed at all.
#[tokio::test]
async fn a_case_reply_is_recorded_against_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start_time());
    let hub = hub_at(&dir.path().join("log.sqlite"), &clock).await;
    let sup = hub_actor(&hub, "supervisor");
    let open = |email: Option<&str>| {
        Command::CaseOpen(cmd::CaseOpen {
            case_type: muster::domain::case::CaseType::Complaint,
            incident_id: None,
            contact_id: None,
            from: "Sam".into(),
            text: "Nobody called back".into(),
            email: email.map(str::to_string),
        })
    };
    let with = muster::domain::ids::CaseId(
        send(&hub, &sup, open(Some("sam@example.org"))).await["case_id"].clone(),
    );
    let without =
        muster::domain::ids::CaseId(send(&hub, &sup, open(None)).await["case_id"].clone());
    for case_id in [&with, &without] {
        send(
            &hub,
            &sup,
            Command::CaseRespond(cmd::CaseRespond {
                case_id: case_id.clone(),
                response: "Sorry".into(),
            }),
        )
        .await;
    }
    assert_eq!(
        hub.with_state(|s| s.cases[&with].email.clone()),
        Some("sam@example.org".into())
    );
    let none = notify::Channels::default();
    notify::reply(&hub, &none, &without, 1).await.unwrap();
    assert_eq!(count(&hub, "notification.failed"), 0);
    notify::reply(&hub, &none, &with, 2).await.unwrap();
    // The same response again (a retried reaction) is recorded once.
    notify::reply(&hub, &none, &with, 2).await.unwrap();
    let failed: Vec<Value> = hub
        .journal_after(0)
        .iter()
        .filter(|p| p.kind == "notification.failed")
        .map(|p| serde_json::from_str(&p.frame).unwrap())
        .collect();
    assert_eq!(failed.len(), 1);
    let event = &failed[0]["event"];
    assert_eq!(event["case_id"], with.as_str());
    assert_eq!(event.get("assignment_id"), None);
    assert_eq!(event["channel"], "email");
    assert_eq!(event["level"], 0);
    assert_eq!(event["error"], "no SMTP server configured (smtp.host)");
    // A bad address is refused with the field named.
    let err = hub
        .submit(
            sup.clone(),
            Some("bad-email".into()),
            open(Some("not an address")),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("email"), "{err}");
}

/// A gateway that answers each request with the next status of `statuses` (the last
/// one from then on), with `Retry-After: 0` on a 429; records the `webhook-id` of each.
async fn scripted_gateway(
    statuses: &'static [u16],
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf).to_lowercase();
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("webhook-id:"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            let n = {
                let mut ids = ids.lock().unwrap();
                ids.push(id);
                ids.len()
            };
            let status = statuses[(n - 1).min(statuses.len() - 1)];
            let extra = if status == 429 {
                "Retry-After: 0\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

/// 429, 408 and 5xx are tried again under the same `webhook-id` (a `Retry-After`
/// honoured); any other 4xx is final at once; the attempts are bounded.
#[tokio::test]
async fn the_webhook_retries_what_may_pass_and_nothing_else() {
    let (url, ids) = scripted_gateway(&[429, 408, 502, 200]).await;
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2))
        .unwrap()
        .with_retries(5, StdDuration::from_millis(10));
    let outcome = webhook.deliver("msg_a_1", "{}").await;
    assert_eq!(outcome.result, Ok("HTTP 200".to_string()));
    assert_eq!(outcome.attempts, 4);
    assert_eq!(*ids.lock().unwrap(), ["msg_a_1"; 4]);

    let (url, ids) = scripted_gateway(&[400, 200]).await;
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2))
        .unwrap()
        .with_retries(5, StdDuration::from_millis(10));
    let outcome = webhook.deliver("msg_b_1", "{}").await;
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "the gateway answered HTTP 400"
    );
    assert_eq!(outcome.attempts, 1);
    assert_eq!(ids.lock().unwrap().len(), 1);

    let (url, ids) = scripted_gateway(&[503]).await;
    let webhook = Webhook::parse(&url, StdDuration::from_secs(2))
        .unwrap()
        .with_retries(3, StdDuration::from_millis(10));
    let outcome = webhook.deliver("msg_c_1", "{}").await;
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "the gateway answered HTTP 503"
    );
    assert_eq!(outcome.attempts, 3);
    assert_eq!(ids.lock().unwrap().len(), 3);
}
