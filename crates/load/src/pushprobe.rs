//! The push probe (issue 16's floor): how long from an operator's `assignment.create`
//! to the push service receiving the hub's Web Push for the assigned unit's phone.
//!
//! The probe is its own push service: an HTTP/1.1 server on loopback (hyper) that
//! takes every POST to `/push/{n}` as a push for subscription `n`. It makes `users`
//! field users, each carrying its own resource and subscribed with an endpoint on
//! that server, then dispatches them one probe at a time per lane: note the time,
//! `assignment.create` to the unit's own incident, wait for the push at that user's
//! endpoint, stand the unit down (`assignment.cancel`). The hub must run
//! with `MUSTER_PUSH_ALLOW_HTTP=1`, as the endpoints are `http://` on loopback.
//!
//! Every subscription carries the same public key and auth secret, those of RFC 8291's
//! worked example: the hub really encrypts each push to them, and nothing here needs
//! to read the pushes, only to time them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use muster_core::engine::CommandKind;
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::roster::{Rpc, dispatchable, field_user};
use super::stats::{Latency, Recorder};
use super::{LoadError, Target};

/// RFC 8291 §5's receiver public key and authentication secret (base64url).
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// How long a probe waits for its push before counting it lost.
const PATIENCE: Duration = Duration::from_secs(10);

/// The least time one probe takes on its desk socket: its five commands then stay under
/// the hub's 50 commands a second per socket, which would close a faster one (4429).
const PROBE_PACE: Duration = Duration::from_millis(125);

/// What one probe run found.
#[derive(Debug, Serialize)]
pub struct PushReport {
    pub users: usize,
    /// Probes made (fewer than asked when the time ran out).
    pub probes: usize,
    /// `assignment.create` sent → the push service has the whole request.
    pub latency: Latency,
    /// Probes whose push did not arrive within 10 s.
    pub lost: usize,
    /// Pushes that arrived with no probe waiting (renotifies, strays).
    pub unexpected: usize,
}

/// The probe's push service: a waiter per subscription number.
#[derive(Default)]
struct Sink {
    waiting: DashMap<usize, oneshot::Sender<Instant>>,
    unexpected: std::sync::atomic::AtomicUsize,
}

impl Sink {
    /// Takes one push request: reads it whole, then wakes the probe waiting on `n`.
    async fn take(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let n = req
            .uri()
            .path()
            .strip_prefix("/push/")
            .and_then(|n| n.parse::<usize>().ok());
        let _ = req.into_body().collect().await;
        let arrived = Instant::now();
        match n.and_then(|n| self.waiting.remove(&n)) {
            Some((_, waiter)) => {
                let _ = waiter.send(arrived);
            }
            None => {
                self.unexpected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = hyper::StatusCode::CREATED;
        Ok(answer)
    }

    /// Serves HTTP/1.1 on a loopback port until the run ends.
    async fn serve(self: Arc<Self>) -> Result<SocketAddr, LoadError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| LoadError::Setup(format!("the push service: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LoadError::Setup(format!("the push service: {e}")))?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = self.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| sink.clone().take(req));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(addr)
    }
}

/// How many probes, over how many subscribed users, `lanes` at a time; no new probe
/// starts after `seconds` (0: no limit), counted from when the users are subscribed.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub users: usize,
    pub probes: usize,
    pub lanes: usize,
    pub seconds: u64,
}

/// Runs the plan's probes.
pub async fn run(target: &Target, plan: Plan) -> Result<PushReport, LoadError> {
    let Plan {
        users,
        probes,
        lanes,
        seconds,
    } = plan;
    let sink = Arc::new(Sink::default());
    let service = sink.clone().serve().await?;
    let resources = subscribe_users(target, users, service).await?;
    // A script running a scenario beside the probe starts it on this line, so that the
    // two set-ups (hundreds of log-ins) do not meet.
    eprintln!("push probe: {users} users subscribed; probing");
    let deadline = (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds));
    let recorder = Arc::new(Recorder::default());
    let operator = target.token("operator").await?;
    let lanes = lanes.clamp(1, users.max(1));
    let lost = futures_util::future::join_all((0..lanes).map(|lane| {
        let (sink, recorder, operator, resources) =
            (sink.clone(), recorder.clone(), operator.clone(), &resources);
        async move {
            let mut desk = Rpc::open(target, &operator).await?;
            let mut lost = 0;
            // Lane `lane` owns users lane, lane + lanes, …: no two probes share a unit.
            let mine: Vec<usize> = (lane..resources.len()).step_by(lanes).collect();
            let mut incidents: Vec<Option<String>> = vec![None; resources.len()];
            for i in (lane..probes).step_by(lanes) {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = mine[(i / lanes) % mine.len()];
                let paced = tokio::time::sleep(PROBE_PACE);
                match probe(&mut desk, &sink, n, &resources[n], &mut incidents[n]).await? {
                    Some(micros) => recorder.record(micros),
                    None => lost += 1,
                }
                paced.await;
            }
            Ok::<usize, LoadError>(lost)
        }
    }))
    .await
    .into_iter()
    .sum::<Result<usize, LoadError>>()?;
    let latency = recorder.summary();
    Ok(PushReport {
        users,
        probes: latency.count as usize + lost,
        latency,
        lost,
        unexpected: sink.unexpected.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// One dispatch of resource `n` to its own incident (opened by its first probe, so
/// the probes add assignments, not incidents, to what every desk's welcome carries):
/// the microseconds until its push arrived, or `None`. The unit is stood down after.
async fn probe(
    desk: &mut Rpc,
    sink: &Sink,
    n: usize,
    resource: &str,
    incident: &mut Option<String>,
) -> Result<Option<u64>, LoadError> {
    if incident.is_none() {
        let (what, place) = (
            format!("push probe for unit {n}"),
            format!("Probe street {n}"),
        );
        *incident = Some(dispatchable(desk, &what, &place).await?);
    }
    let incident = incident.as_deref().unwrap_or_default();
    let (tx, rx) = oneshot::channel();
    sink.waiting.insert(n, tx);
    let sent = Instant::now();
    let assignment = desk
        .call(
            json!({"kind": CommandKind::AssignmentCreate, "incident_id": incident,
            "resource_id": resource, "reason": "push probe"}),
        )
        .await?["assignment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arrived = tokio::time::timeout(PATIENCE, rx).await;
    sink.waiting.remove(&n);
    desk.call(
        json!({"kind": CommandKind::AssignmentCancel, "assignment_id": assignment,
        "reason": "push probe done"}),
    )
    .await?;
    Ok(match arrived {
        Ok(Ok(at)) => Some(at.saturating_duration_since(sent).as_micros() as u64),
        _ => None,
    })
}

/// Makes `users` field users with a resource each and subscribes each to push at
/// `/push/{n}` on the probe's service. Returns the resource ids, by `n`.
async fn subscribe_users(
    target: &Target,
    users: usize,
    service: SocketAddr,
) -> Result<Vec<String>, LoadError> {
    let mut admin = Rpc::open(target, &target.token("admin").await?).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut resources = Vec::with_capacity(users);
    for n in 0..users {
        // Two commands on the admin socket: paced as the probes are.
        let paced = tokio::time::sleep(PROBE_PACE / 2);
        let (name, username) = (format!("Pushed unit {n}"), format!("p{run}u{n}"));
        let (resource, token) = field_user(target, &mut admin, &name, &username).await?;
        let mut phone = Rpc::open(target, &token).await?;
        phone
            .call(json!({"kind": CommandKind::PushSubscribe,
                "endpoint": format!("http://{service}/push/{n}"),
                "keys": {"p256dh": P256DH, "auth": AUTH}}))
            .await?;
        resources.push(resource);
        paced.await;
    }
    Ok(resources)
}
