//! A busy centre: desks work incidents from contact to close (about twenty commands
//! each), supervisors watch everything, field phones send location pings. Contacts
//! arrive as a Poisson process (or on a replayed day's curve of rates); each incident's
//! commands are due on a fixed pace, and each command's latency runs from when it was
//! due, so a late answer delays (and is charged to) everything after it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use muster_core::engine::CommandKind;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::clock::{instant_of, now_us, stamp_of};
use super::report::{Better, Check, Figure};
use super::scenario::{Arrival, Params};
use super::stats::{Latency, Recorder};
use super::{LoadError, Target, net};

/// What the centre run found.
#[derive(Debug, Default, Serialize)]
pub struct Centre {
    pub operators: usize,
    pub supervisors: usize,
    pub field: usize,
    pub seconds: f64,
    pub incidents_started: u64,
    pub incidents_closed: u64,
    pub commands: u64,
    pub commands_per_sec: f64,
    pub pings: u64,
    /// Command to result, from when each command was due (desk commands).
    pub command: Latency,
    /// Location ping to result.
    pub ping: Latency,
    /// Publish-to-delivery of stamped events, at every socket that may see them.
    pub delivery: Latency,
    pub events_received: u64,
    pub deliveries_per_sec: f64,
    pub errors: BTreeMap<String, u64>,
    pub dropped_connections: u64,
    /// Close codes the hub sent (0 = closed without a close frame).
    pub closes: BTreeMap<u16, u64>,
    pub hub_cpu_share: f64,
    pub hub_rss_kib: u64,
    pub connect_secs: f64,
    /// Desk commands the hub answered `ok`: each makes an event every supervisor sees.
    pub desk_commands_ok: u64,
    /// Events the supervisor socket that received the fewest received.
    pub supervisor_events_min: u64,
    /// Location pings the hub answered `ok`.
    pub pings_ok: u64,
    /// Phone sockets that received fewer events than their user's accepted pings.
    pub phones_short: usize,
    /// Events the phone socket that received the fewest received.
    pub phone_events_min: u64,
}

/// Results waiting for their command's answer, by command id (unique per run).
type Pending = DashMap<String, oneshot::Sender<Value>>;

struct Shared {
    /// Tells this run's command ids from an earlier run's on the same hub.
    run: u64,
    pending: Pending,
    delivery: Recorder,
    command: Recorder,
    ping: Recorder,
    events: AtomicU64,
    commands: AtomicU64,
    pings: AtomicU64,
    closed: AtomicU64,
    dropped: AtomicU64,
    next_id: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    closes: Mutex<BTreeMap<u16, u64>>,
    resources: Mutex<Vec<String>>,
}

impl Shared {
    fn error(&self, code: &str) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code.to_string())
            .or_default() += 1;
    }
}

/// A socket's sending half, shared by the tasks that use it.
#[derive(Clone)]
struct Desk {
    tx: mpsc::UnboundedSender<Message>,
    shared: Arc<Shared>,
    /// Events this socket received, and its commands the hub answered `ok`.
    events: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl Desk {
    fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Desk {
    /// Sends `command` (once `due`) and waits for its result; records the latency from
    /// `due` in `rec`. `None` when it failed (counted by code).
    async fn command(&self, due: u64, command: Value, rec: &Recorder) -> Option<Value> {
        tokio::time::sleep_until(instant_of(due).into()).await;
        // Unique across runs too: the hub answers a repeated id with the first result.
        let n = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("c{}-{n}", self.shared.run);
        let (done, result) = oneshot::channel();
        self.shared.pending.insert(id.clone(), done);
        let frame = json!({"type": "command", "id": id, "command": command}).to_string();
        if self.tx.send(Message::text(frame)).is_err() {
            self.shared.pending.remove(&id);
            self.shared.error("socket_closed");
            return None;
        }
        let r = match tokio::time::timeout(Duration::from_secs(30), result).await {
            Ok(Ok(r)) => r,
            _ => {
                self.shared.pending.remove(&id);
                self.shared.error("no_result");
                return None;
            }
        };
        rec.record(now_us().saturating_sub(due));
        self.shared.commands.fetch_add(1, Ordering::Relaxed);
        if r["ok"] == true {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            Some(r["data"].clone())
        } else {
            self.shared
                .error(r["error"]["code"].as_str().unwrap_or("unknown"));
            None
        }
    }
}

/// Opens a socket as `token`, spawning its reader (results to their waiters, events
/// timed) and writer.
async fn open(addr: SocketAddr, token: &str, shared: &Arc<Shared>) -> Result<Desk, LoadError> {
    let (ws, _) = net::connect(addr, token, None, false).await?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let s = shared.clone();
    let events = Arc::new(AtomicU64::new(0));
    let mine = events.clone();
    tokio::spawn(async move {
        let mut pending = Vec::with_capacity(64);
        loop {
            let code = match stream.next().await {
                Some(Ok(Message::Text(t))) => Ok(t),
                Some(Ok(Message::Close(f))) => Err(f.map_or(0, |f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                _ => Err(0),
            };
            let t = match code {
                Ok(t) => t,
                Err(code) => {
                    s.dropped.fetch_add(1, Ordering::Relaxed);
                    *s.closes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(code)
                        .or_default() += 1;
                    break;
                }
            };
            if t.starts_with("{\"type\":\"event\"") {
                s.events.fetch_add(1, Ordering::Relaxed);
                mine.fetch_add(1, Ordering::Relaxed);
                if let Some((due, _)) = stamp_of(&t) {
                    pending.push(now_us().saturating_sub(due));
                    if pending.len() == pending.capacity() {
                        s.delivery.record_all(&pending);
                        pending.clear();
                    }
                }
            } else if t.starts_with("{\"type\":\"result\"") {
                let v: Value = serde_json::from_str(&t).unwrap_or_default();
                if let Some((_, done)) = v["id"].as_str().and_then(|id| s.pending.remove(id)) {
                    let _ = done.send(v);
                }
            }
            // Flush now and then so a quiet socket's samples are not lost at the end.
            if !pending.is_empty() && s.events.load(Ordering::Relaxed).is_multiple_of(512) {
                s.delivery.record_all(&pending);
                pending.clear();
            }
        }
        s.delivery.record_all(&pending);
    });
    Ok(Desk {
        tx,
        shared: shared.clone(),
        events,
        accepted: Arc::new(AtomicU64::new(0)),
    })
}

/// Opens `n` sockets over `tokens` (round robin), 256 handshakes at a time.
async fn open_many(
    addr: SocketAddr,
    tokens: &[String],
    n: usize,
    shared: &Arc<Shared>,
) -> Result<Vec<Desk>, LoadError> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(256) {
        let opened = futures_util::future::join_all(
            chunk
                .iter()
                .map(|&i| open(addr, &tokens[i % tokens.len()], shared)),
        )
        .await;
        for d in opened {
            out.push(d?);
        }
    }
    Ok(out)
}

fn place(i: u64) -> Value {
    let (lat, lon) = (
        51.50 + (i % 97) as f64 * 0.0004,
        -0.12 + (i % 89) as f64 * 0.0004,
    );
    json!({"text": format!("Load street {}", i % 1000), "lat": lat, "lon": lon})
}

/// Registers `n` first-aid resources as admin, paced under the per-socket rate limit.
async fn register_resources(
    target: &Target,
    n: usize,
    shared: &Arc<Shared>,
) -> Result<(), LoadError> {
    let admin = target.token("admin").await?;
    let desks = open_many(target.addr, &[admin], n.div_ceil(200).clamp(1, 32), shared).await?;
    let scratch = Recorder::default();
    let start = now_us() + 100_000;
    let per_desk = n.div_ceil(desks.len());
    let tasks = desks.iter().enumerate().map(|(d, desk)| {
        let scratch = &scratch;
        async move {
            let mut ids = Vec::new();
            for k in 0..per_desk {
                let i = d * per_desk + k;
                if i >= n {
                    break;
                }
                // 40 a second per socket, under the hub's 50.
                let due = start + k as u64 * 25_000;
                let cmd = json!({"kind": CommandKind::ResourceRegister, "name": format!("Load responder {i}"),
                    "resource_type": "person", "skills": ["first_aid"], "team": "central",
                    "location": place(i as u64)});
                if let Some(data) = desk.command(due, cmd, scratch).await
                    && let Some(id) = data["resource_id"].as_str()
                {
                    ids.push(id.to_string());
                }
            }
            ids
        }
    });
    let ids: Vec<String> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    if ids.len() < n {
        return Err(LoadError::Setup(format!(
            "registered {} of {n} resources: {:?}",
            ids.len(),
            shared.errors.lock().unwrap_or_else(|p| p.into_inner())
        )));
    }
    *shared.resources.lock().unwrap_or_else(|p| p.into_inner()) = ids;
    Ok(())
}

/// One incident, contact to close, on `desk`, its commands due every `gap` µs from `t0`.
async fn incident(desk: Desk, t0: u64, gap: u64, p: Arc<Params>, n: u64) {
    let s = desk.shared.clone();
    let rec = &s.command;
    let mut k = 0u64;
    let mut due = || {
        k += 1;
        t0 + (k - 1) * gap
    };
    let stamp = |due: u64, what: &str| format!("due:{due} {what}");
    let d = due();
    let Some(c) = desk
        .command(
            d,
            json!({"kind": CommandKind::ContactReceive, "channel": "phone", "caller": {"name": "Load caller"},
            "summary": stamp(d, "someone collapsed"), "location": place(n)}),
            rec,
        )
        .await
    else {
        return;
    };
    let contact = c["contact_id"].clone();
    let d = due();
    let Some(i) = desk
        .command(
            d,
            json!({"kind": CommandKind::IncidentOpen, "contact_id": contact, "type": "medical_emergency",
            "description": stamp(d, "adult collapsed"), "location": place(n)}),
            rec,
        )
        .await
    else {
        return;
    };
    let inc = i["incident_id"].clone();
    let d = due();
    desk.command(
        d,
        json!({"kind": CommandKind::IncidentAnswer, "incident_id": inc, "answers":
        {"breathing": true, "conscious": true, "bleeding": "none", "casualties": 1}}),
        rec,
    )
    .await;
    let d = due();
    desk.command(
        d,
        json!({"kind": CommandKind::IncidentAssess, "incident_id": inc, "validity": "verified",
        "priority": "P3", "method": "manual", "reason": stamp(d, "caller with the patient")}),
        rec,
    )
    .await;
    let resource = s.resources.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let Some(resource) = resource else {
        s.error("no_free_resource (register more)");
        return;
    };
    let d = due();
    let a = desk
        .command(
            d,
            json!({"kind": CommandKind::AssignmentCreate, "incident_id": inc, "resource_id": resource,
            "reason": "load run"}),
            rec,
        )
        .await;
    if let Some(a) = a {
        let asg = a["assignment_id"].clone();
        let mut steps = vec![
            json!({"kind": CommandKind::AssignmentAcknowledge, "assignment_id": asg}),
            json!({"kind": CommandKind::AssignmentProgress, "assignment_id": asg, "status": "en_route"}),
            json!({"kind": CommandKind::AssignmentProgress, "assignment_id": asg, "status": "on_scene"}),
        ];
        for act in 1..=5 {
            steps.push(
                json!({"kind": CommandKind::AssignmentActionDone, "assignment_id": asg,
                "action_id": format!("act_{act}"), "note": "done"}),
            );
        }
        for _ in 0..p.checkins {
            steps.push(
                json!({"kind": CommandKind::Checkin, "assignment_id": asg, "ok": true, "note": "all well"}),
            );
        }
        for _ in 0..p.notes {
            steps.push(
                json!({"kind": CommandKind::IncidentNote, "incident_id": inc, "text": "note"}),
            );
        }
        steps.push(
            json!({"kind": CommandKind::AssignmentProgress, "assignment_id": asg, "status": "completed"}),
        );
        for mut step in steps {
            let d = due();
            for field in ["note", "text"] {
                if step.get(field).is_some() {
                    step[field] = stamp(d, "on scene").into();
                }
            }
            desk.command(d, step, rec).await;
        }
    }
    let d = due();
    desk.command(
        d,
        json!({"kind": CommandKind::IncidentResolve, "incident_id": inc, "outcome": "treated_on_scene",
        "summary": stamp(d, "treated and handed over")}),
        rec,
    )
    .await;
    let d = due();
    if desk
        .command(
            d,
            json!({"kind": CommandKind::IncidentClose, "incident_id": inc}),
            rec,
        )
        .await
        .is_some()
    {
        s.closed.fetch_add(1, Ordering::Relaxed);
    }
    let d = due();
    desk.command(
        d,
        json!({"kind": CommandKind::ContactClose, "contact_id": contact, "outcome": "incident_opened"}),
        rec,
    )
    .await;
    s.resources
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(resource);
}

/// The arrival times (µs after the start) of new contacts over the run.
pub fn arrivals(p: &Params) -> Vec<u64> {
    let curve = if p.curve.is_empty() {
        vec![p.incidents_per_sec]
    } else {
        p.curve.clone()
    };
    let segment = p.seconds / curve.len() as f64;
    let mut out = Vec::new();
    for (s, &rate) in curve.iter().enumerate() {
        if rate <= 0.0 {
            continue;
        }
        let (from, to) = (s as f64 * segment, (s + 1) as f64 * segment);
        let mut t = from;
        loop {
            t += match p.arrival {
                Arrival::Fixed => 1.0 / rate,
                Arrival::Poisson => -(1.0 - rand::random::<f64>()).ln() / rate,
            };
            if t >= to {
                break;
            }
            out.push((t * 1e6) as u64);
        }
    }
    out
}

/// Runs the centre against `target`.
pub async fn run(target: &Target, p: &Params) -> Result<Centre, LoadError> {
    let addr = target.addr;
    net::check_room(p.operators + p.supervisors + p.field + 40)?;
    let shared = Arc::new(Shared {
        run: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
        pending: DashMap::new(),
        delivery: Recorder::default(),
        command: Recorder::default(),
        ping: Recorder::default(),
        events: AtomicU64::new(0),
        commands: AtomicU64::new(0),
        pings: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        next_id: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
        closes: Mutex::new(BTreeMap::new()),
        resources: Mutex::new(Vec::new()),
    });
    register_resources(target, p.resources, &shared).await?;
    let ops = vec![
        target.token("operator").await?,
        target.token("operator2").await?,
    ];
    let sups = vec![target.token("supervisor").await?];
    let mut phones_as = Vec::new();
    for i in 1..=8 {
        let (token, resource) = login_with_resource(target, &format!("field{i}")).await?;
        phones_as.push((token, resource));
    }
    let started = now_us();
    let desks = open_many(addr, &ops, p.operators, &shared).await?;
    let watchers = open_many(addr, &sups, p.supervisors, &shared).await?;
    let phone_tokens: Vec<String> = phones_as.iter().map(|(t, _)| t.clone()).collect();
    let phones = open_many(addr, &phone_tokens, p.field, &shared).await?;
    let connect_secs = (now_us() - started) as f64 / 1e6;
    let events_before = shared.events.load(Ordering::Relaxed);
    let commands_before = shared.commands.load(Ordering::Relaxed);
    let before = target.usage();
    let start = now_us() + 500_000;
    let end = start + (p.seconds * 1e6) as u64;
    let phone_desks = phones.clone();
    // Only `ping_phones` phones ping: phones share the eight demo field users, and a
    // user's sockets all see its resource's pings, so more would multiply deliveries
    // in a way no real roster (one phone per user) does.
    let ping_tasks: Vec<_> = phones
        .into_iter()
        .take(p.ping_phones)
        .enumerate()
        .map(|(i, phone)| {
            let resource = phones_as[i % phones_as.len()].1.clone();
            let period = (p.ping_secs * 1e6) as u64;
            let phase = (rand::random::<f64>() * period as f64) as u64;
            tokio::spawn(async move {
                let mut due = start + phase;
                let mut n = i as u64;
                while due < end {
                    let s = phone.shared.clone();
                    let cmd = json!({"kind": CommandKind::ResourceLocate, "resource_id": resource,
                        "lat": 51.5 + (n % 50) as f64 * 0.001, "lon": -0.12});
                    phone.command(due, cmd, &s.ping).await;
                    s.pings.fetch_add(1, Ordering::Relaxed);
                    due += period;
                    n += 7;
                }
            })
        })
        .collect();
    let params = Arc::new(p.clone());
    let next_desk = AtomicUsize::new(0);
    let gap = p.command_gap_ms * 1000;
    let mut incidents = Vec::new();
    for (n, at) in arrivals(p).into_iter().enumerate() {
        let t0 = start + at;
        tokio::time::sleep_until(instant_of(t0).into()).await;
        let desk = desks[next_desk.fetch_add(1, Ordering::Relaxed) % desks.len()].clone();
        incidents.push(tokio::spawn(incident(
            desk,
            t0,
            gap,
            params.clone(),
            n as u64,
        )));
    }
    let started_n = incidents.len() as u64;
    for t in ping_tasks {
        let _ = t.await;
    }
    for t in incidents {
        let _ = t.await;
    }
    // Let the last events reach every socket: wait (bounded) until each supervisor has
    // every desk command's event and each phone its user's pings.
    let desk_ok: u64 = desks.iter().map(Desk::accepted).sum();
    let pings_ok = pings_by_user(&phone_desks, phones_as.len());
    let seen = || Seen::of(&watchers, &phone_desks, desk_ok, &pings_ok);
    let until = now_us() + 10_000_000;
    while !seen().all() && now_us() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen();
    let after = target.usage();
    let wall = (now_us() - start) as f64 / 1e6;
    let (cpu, rss) = match (before, after) {
        (Some(b), Some(a)) => ((a.cpu_secs - b.cpu_secs) / wall, a.rss_kib),
        _ => (0.0, 0),
    };
    let dropped = shared.dropped.load(Ordering::Relaxed);
    for d in desks.iter().chain(&watchers).chain(&phone_desks) {
        let _ = d.tx.send(Message::Close(None));
    }
    let commands = shared.commands.load(Ordering::Relaxed) - commands_before;
    let events = shared.events.load(Ordering::Relaxed) - events_before;
    Ok(Centre {
        operators: p.operators,
        supervisors: p.supervisors,
        field: p.field,
        seconds: p.seconds,
        incidents_started: started_n,
        incidents_closed: shared.closed.load(Ordering::Relaxed),
        commands,
        commands_per_sec: commands as f64 / wall,
        pings: shared.pings.load(Ordering::Relaxed),
        command: shared.command.summary(),
        ping: shared.ping.summary(),
        delivery: shared.delivery.summary(),
        events_received: events,
        deliveries_per_sec: events as f64 / wall,
        errors: shared
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        dropped_connections: dropped,
        closes: shared
            .closes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        hub_cpu_share: cpu,
        hub_rss_kib: rss,
        connect_secs,
        desk_commands_ok: desk_ok,
        supervisor_events_min: seen.supervisor_min,
        pings_ok: pings_ok.iter().sum(),
        phones_short: seen.phones_short,
        phone_events_min: seen.phone_min,
    })
}

/// Accepted pings per field user; phone `i` logs in as user `i mod users`.
fn pings_by_user(phones: &[Desk], users: usize) -> Vec<u64> {
    let mut out = vec![0; users];
    for (i, phone) in phones.iter().enumerate() {
        out[i % users] += phone.accepted();
    }
    out
}

/// What the supervisor and phone sockets have received so far.
struct Seen {
    supervisor_min: u64,
    /// Every supervisor has at least one event per accepted desk command.
    supervisors_ok: bool,
    phone_min: u64,
    phones_short: usize,
}

impl Seen {
    fn of(supervisors: &[Desk], phones: &[Desk], desk_ok: u64, pings: &[u64]) -> Self {
        let supervisor_min = supervisors.iter().map(Desk::events).min().unwrap_or(0);
        let phones_short = phones
            .iter()
            .enumerate()
            .filter(|(i, p)| p.events() < pings[i % pings.len()])
            .count();
        Self {
            supervisor_min,
            supervisors_ok: supervisor_min >= desk_ok,
            phone_min: phones.iter().map(Desk::events).min().unwrap_or(0),
            phones_short,
        }
    }

    fn all(&self) -> bool {
        self.supervisors_ok && self.phones_short == 0
    }
}

async fn login_with_resource(target: &Target, user: &str) -> Result<(String, String), LoadError> {
    let v = super::login_json(target.addr, user, &target.password).await?;
    let token = v["token"].as_str().unwrap_or_default().to_string();
    let resource = v["user"]["resource_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((token, resource))
}

/// Figures and checks for a centre run.
pub fn report(c: &Centre, p: &Params) -> (Vec<Figure>, Vec<Check>, Value) {
    let figures = vec![
        Figure::new("command p99", c.command.p99_ms, "ms", Better::Lower).floor(p.p99_floor_ms),
        Figure::new("delivery p99", c.delivery.p99_ms, "ms", Better::Lower)
            .floor(p.delivery_p99_floor_ms),
        Figure::new("hub CPU", c.hub_cpu_share * 100.0, "% core", Better::Lower)
            .floor(p.cpu_floor.map(|f| f * 100.0)),
        Figure::new("commands/s", c.commands_per_sec, "/s", Better::Higher),
        Figure::new("deliveries/s", c.deliveries_per_sec, "/s", Better::Higher),
        Figure::new("ping p99", c.ping.p99_ms, "ms", Better::Lower),
    ];
    let checks = vec![
        Check::new(
            "every incident closed",
            c.incidents_closed == c.incidents_started && c.incidents_started > 0,
            format!("{} of {}", c.incidents_closed, c.incidents_started),
        ),
        Check::new(
            "no command errors",
            c.errors.is_empty(),
            format!("{:?}", c.errors),
        ),
        Check::new(
            "supervisors got every desk event",
            c.desk_commands_ok > 0
                && c.supervisors > 0
                && c.supervisor_events_min >= c.desk_commands_ok,
            format!(
                "fewest at a supervisor socket: {} events for {} accepted desk commands",
                c.supervisor_events_min, c.desk_commands_ok
            ),
        ),
        Check::new(
            "phones got their pings",
            c.pings_ok > 0 && c.field > 0 && c.phones_short == 0,
            format!(
                "{} pings accepted; {} of {} phone sockets short of their user's pings (fewest: {} events)",
                c.pings_ok, c.phones_short, c.field, c.phone_events_min
            ),
        ),
        Check::new(
            "no connection dropped",
            c.dropped_connections == 0,
            format!(
                "{} dropped, close codes {:?}",
                c.dropped_connections, c.closes
            ),
        ),
    ];
    (figures, checks, serde_json::to_value(c).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(c: &Centre) -> Vec<String> {
        report(c, &Params::default())
            .1
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect()
    }

    fn worked() -> Centre {
        Centre {
            supervisors: 2,
            field: 16,
            incidents_started: 3,
            incidents_closed: 3,
            desk_commands_ok: 63,
            supervisor_events_min: 70,
            pings_ok: 8,
            phone_events_min: 1,
            ..Centre::default()
        }
    }

    #[test]
    fn a_centre_whose_watchers_got_everything_passes() {
        assert!(failed(&worked()).is_empty());
    }

    /// Supervisors or phones that got nothing used to go unnoticed.
    #[test]
    fn supervisors_or_phones_missing_events_fail() {
        let deaf = Centre {
            supervisor_events_min: 62,
            ..worked()
        };
        assert_eq!(failed(&deaf), ["supervisors got every desk event"]);
        let short = Centre {
            phones_short: 1,
            ..worked()
        };
        assert_eq!(failed(&short), ["phones got their pings"]);
        let no_pings = Centre {
            pings_ok: 0,
            ..worked()
        };
        assert_eq!(failed(&no_pings), ["phones got their pings"]);
    }
}
