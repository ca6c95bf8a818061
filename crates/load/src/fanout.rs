//! Fan-out: sender sockets send contacts on a fixed schedule (open loop), each stamped
//! with when it was due and its index; watcher sockets check every event arrives once
//! and record how late it came. Watchers can also drop and resume (the reconnect
//! storm) or stop reading for a while (slow consumers).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use muster_core::engine::CommandKind;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::clock::{instant_of, now_us, seq_of, stamp_of};
use super::net::{self, Ws};
use super::stats::{Latency, Recorder};
use super::{LoadError, Target};

/// What to play.
#[derive(Clone, Debug)]
pub struct Plan {
    pub watchers: usize,
    pub rate: f64,
    pub seconds: f64,
    pub senders: usize,
    pub pad: usize,
    /// With n > 0, events go to n incidents in turn, each watched by its own field
    /// user's share of the watchers (see [`super::roster`]); with 0, every watcher is a
    /// supervisor and sees every event.
    pub incidents: usize,
    /// Every watcher drops once, at a random moment within this many seconds from a
    /// third of the way in, and resumes from the last seq it saw.
    pub drop_within: Option<f64>,
    /// This share of watchers stops reading for this many seconds.
    pub slow: Option<(f64, f64)>,
    /// How long after the last send watchers may take to receive everything.
    pub grace: f64,
}

/// What the run found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub watchers: usize,
    /// Incidents the events went to in turn (0: every watcher sees every event).
    pub incidents: usize,
    pub slow_watchers: usize,
    pub rate: f64,
    pub seconds: f64,
    /// Events the plan calls for (rate x seconds).
    pub events_planned: u64,
    /// Commands the senders actually wrote to their sockets.
    pub events_sent: u64,
    /// Commands the hub answered `ok` (the ceiling answers nothing: 0 there).
    pub events_accepted: u64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub duplicates: u64,
    /// Events a watcher received that belonged to another incident's watchers.
    pub foreign: u64,
    pub seq_out_of_order: u64,
    pub lost: u64,
    pub deliveries_per_sec: f64,
    /// Publish-to-delivery of the ordinary watchers: from when each event was due.
    pub delivery: Latency,
    /// The same for the slow watchers (their stall included).
    pub slow_delivery: Latency,
    /// Sender's command-to-result, from when each command was due.
    pub command: Latency,
    pub errors: BTreeMap<String, u64>,
    pub reconnects: u64,
    pub resumed: u64,
    pub snapshots: u64,
    /// Close codes the hub sent (0 = the connection ended without a close frame).
    pub closes: BTreeMap<u16, u64>,
    /// Slow watchers the hub closed with 4409 at least once.
    pub slow_closed_4409: u64,
    /// Ordinary (reading) watchers the hub closed with 4409: should be none.
    pub fast_closed_4409: u64,
    /// Longest time from a watcher's drop to its first live event after resuming.
    pub catch_up_max_secs: f64,
    pub hub_cpu_share: f64,
    pub hub_cpu_us_per_delivery: f64,
    pub hub_rss_kib: u64,
    /// Highest hub RSS seen while the run played (sampled every 250 ms).
    pub hub_rss_peak_kib: u64,
    pub connect_secs: f64,
}

/// The send schedule every sender shares.
struct Schedule {
    /// Wall-clock microseconds when the run was planned.
    run: u128,
    start_us: u64,
    rate: f64,
    total: u64,
    pad: String,
    /// The incidents events go to in turn (empty: new contacts, seen by every desk).
    incidents: Vec<String>,
}

impl Schedule {
    fn due(&self, i: u64) -> u64 {
        self.start_us + (i as f64 * 1e6 / self.rate) as u64
    }
    fn end_us(&self) -> u64 {
        self.due(self.total)
    }
    /// The incident (by index) watcher `k` watches, if events are routed by incident.
    fn group_of(&self, k: usize) -> Option<usize> {
        (!self.incidents.is_empty()).then(|| k % self.incidents.len())
    }
    /// How many of the events watchers of `group` should see.
    fn expected(&self, group: Option<usize>) -> u64 {
        match group {
            None => self.total,
            Some(g) => (g as u64..self.total).step_by(self.incidents.len()).count() as u64,
        }
    }
    /// The command that makes event `i`, stamped with when it was `due`.
    fn command(&self, i: u64, due: u64) -> serde_json::Value {
        let text = format!("due:{due} #{i} {}", self.pad);
        if self.incidents.is_empty() {
            return serde_json::json!({"kind": CommandKind::ContactReceive, "channel": "api", "summary": text});
        }
        let incident = &self.incidents[i as usize % self.incidents.len()];
        serde_json::json!({"kind": CommandKind::IncidentNote, "incident_id": incident, "text": text})
    }
}

#[derive(Default)]
struct Tally {
    command: Recorder,
    /// Commands written to a socket, and those answered `ok`.
    sent: AtomicU64,
    accepted: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Plays `plan` against `target`.
pub async fn run(target: &Target, plan: &Plan) -> Result<Outcome, LoadError> {
    let sender_token = target.token("operator").await?;
    let (incidents, tokens) = if plan.incidents > 0 {
        let r = super::roster::build(target, plan.incidents).await?;
        (r.incidents, r.tokens)
    } else {
        (Vec::new(), vec![target.token("supervisor").await?])
    };
    let n_slow = plan.slow.map_or(0, |(share, _)| {
        ((plan.watchers as f64 * share).ceil() as usize).min(plan.watchers)
    });
    // Watchers join as clients that were already connected (resuming from the head):
    // a fresh welcome carries the caller's whole view, which grows with every run's
    // contacts and would be measured instead of the fan-out.
    let head = net::connect(target.addr, &sender_token, None, false)
        .await?
        .1
        .seq;
    let connecting = now_us();
    // Socket k is watcher k, with token k mod the number of incidents (see group_of).
    let sockets = net::connect_many(
        target.addr,
        &tokens,
        plan.watchers - n_slow,
        256,
        Some(head),
    )
    .await?;
    let connect_secs = (now_us() - connecting) as f64 / 1e6;
    let total = (plan.rate * plan.seconds).round() as u64;
    let sched = Arc::new(Schedule {
        run: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros()),
        start_us: now_us() + 1_000_000,
        rate: plan.rate,
        total,
        pad: "x".repeat(plan.pad),
        incidents,
    });
    let deadline = sched.end_us() + (plan.grace * 1e6) as u64;
    let delivery = Arc::new(Recorder::default());
    let slow_delivery = Arc::new(Recorder::default());
    let mut watchers = Vec::with_capacity(plan.watchers);
    let sockets = sockets
        .into_iter()
        .map(Some)
        .chain((0..n_slow).map(|_| None));
    for (k, ws) in sockets.enumerate() {
        let slow = ws.is_none();
        let stall = plan.slow.filter(|_| slow).map(|(_, secs)| {
            let from = sched.start_us + 500_000;
            (from, from + (secs * 1e6) as u64)
        });
        let drop_at = plan.drop_within.map(|within| {
            sched.start_us
                + (plan.seconds * 1e6 / 3.0) as u64
                + (rand::random::<f64>() * within * 1e6) as u64
        });
        let group = sched.group_of(k);
        let w = Watcher {
            addr: target.addr,
            token: tokens[k % tokens.len()].clone(),
            total,
            group: group.map(|g| (g as u64, tokens.len() as u64)),
            expect: sched.expected(group),
            head,
            deadline,
            drop_at,
            stall,
            rec: if slow {
                slow_delivery.clone()
            } else {
                delivery.clone()
            },
            slow,
        };
        watchers.push(tokio::spawn(w.run(ws)));
    }
    let tally = Arc::new(Tally::default());
    let before = target.usage();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (target, peak) = (target.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                if let Some(u) = target.usage() {
                    peak.fetch_max(u.rss_kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let senders: Vec<_> = (0..plan.senders.max(1))
        .map(|k| {
            let (sched, tally, token) = (sched.clone(), tally.clone(), sender_token.clone());
            let plan = plan.clone();
            let (addr, expect_results) = (target.addr, !target.ceiling);
            tokio::spawn(async move {
                let n = plan.senders.max(1);
                send(addr, &token, &sched, (k, n), tally, expect_results).await
            })
        })
        .collect();
    let mut out = Outcome {
        watchers: plan.watchers,
        incidents: plan.incidents,
        slow_watchers: n_slow,
        rate: plan.rate,
        seconds: plan.seconds,
        events_planned: total,
        deliveries_expected: (0..plan.watchers)
            .map(|k| sched.expected(sched.group_of(k)))
            .sum(),
        connect_secs,
        ..Outcome::default()
    };
    for s in senders {
        s.await.map_err(|e| LoadError::Connect(e.to_string()))??;
    }
    out.events_sent = tally.sent.load(Ordering::Relaxed);
    out.events_accepted = tally.accepted.load(Ordering::Relaxed);
    for w in watchers {
        let got = w.await.map_err(|e| LoadError::Connect(e.to_string()))?;
        out.add(&got);
    }
    let after = target.usage();
    sampler.abort();
    out.hub_rss_peak_kib = peak
        .load(Ordering::Relaxed)
        .max(after.map_or(0, |a| a.rss_kib));
    let wall = (now_us().saturating_sub(sched.start_us)) as f64 / 1e6;
    if let (Some(b), Some(a)) = (before, after) {
        out.hub_cpu_share = (a.cpu_secs - b.cpu_secs) / wall;
        out.hub_cpu_us_per_delivery =
            (a.cpu_secs - b.cpu_secs) * 1e6 / out.deliveries.max(1) as f64;
        out.hub_rss_kib = a.rss_kib;
    }
    out.lost = out.deliveries_expected.saturating_sub(out.deliveries);
    out.deliveries_per_sec = out.deliveries as f64 / plan.seconds;
    out.delivery = delivery.summary();
    out.slow_delivery = slow_delivery.summary();
    out.command = tally.command.summary();
    out.errors = tally
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(out)
}

/// Sender `k` of `n` sends indices `k, k + n, …`, each when due, whether or not the
/// hub has answered the last (open loop). Its reader records command-to-result from
/// the due time and counts errors by code.
async fn send(
    addr: SocketAddr,
    token: &str,
    sched: &Schedule,
    (k, n): (usize, usize),
    tally: Arc<Tally>,
    expect_results: bool,
) -> Result<(), LoadError> {
    let (ws, _) = net::connect(addr, token, None, false).await?;
    let (mut tx, mut rx) = ws.split();
    let mine = (k as u64..sched.total).step_by(n).count() as u64;
    let counts = tally.clone();
    let mut reader = tokio::spawn(async move {
        let mut answered = 0;
        while answered < mine || !expect_results {
            let Some(Ok(Message::Text(t))) = rx.next().await else {
                break;
            };
            if !t.starts_with("{\"type\":\"result\"") {
                continue;
            }
            answered += 1;
            if let Some((due, _)) = stamp_of(&t) {
                tally.command.record(now_us().saturating_sub(due));
            }
            if t.contains("\"ok\":true") {
                tally.accepted.fetch_add(1, Ordering::Relaxed);
            } else {
                let code = error_code(&t).unwrap_or("unknown").to_string();
                *tally
                    .errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(code)
                    .or_default() += 1;
            }
        }
    });
    for i in (k as u64..sched.total).step_by(n) {
        let due = sched.due(i);
        tokio::time::sleep_until(instant_of(due).into()).await;
        // The id carries the stamp too, so the result can be timed without a map.
        // The wall clock makes ids unique across runs on one hub (it dedupes by id).
        let cmd = serde_json::json!({"type": "command", "id": format!("due:{due} #{i} {}", sched.run),
            "command": sched.command(i, due)});
        tx.send(Message::text(cmd.to_string()))
            .await
            .map_err(|e| LoadError::Connect(format!("sender: {e}")))?;
        counts.sent.fetch_add(1, Ordering::Relaxed);
    }
    if expect_results {
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut reader).await;
    }
    reader.abort();
    Ok(())
}

/// The `code` of a failed result.
fn error_code(frame: &str) -> Option<&str> {
    let start = frame.find("\"code\":\"")? + "\"code\":\"".len();
    frame[start..].split('"').next()
}

impl Outcome {
    fn add(&mut self, w: &WatchOut) {
        self.deliveries += w.distinct;
        self.duplicates += w.duplicates;
        self.foreign += w.foreign;
        self.seq_out_of_order += w.seq_back;
        self.reconnects += w.reconnects;
        self.resumed += w.resumed;
        self.snapshots += w.snapshots;
        for (code, n) in &w.closes {
            *self.closes.entry(*code).or_default() += n;
        }
        if w.closes.contains_key(&4409) {
            if w.slow {
                self.slow_closed_4409 += 1;
            } else {
                self.fast_closed_4409 += 1;
            }
        }
        if let Some(c) = w.caught_up_us {
            self.catch_up_max_secs = self.catch_up_max_secs.max(c as f64 / 1e6);
        }
    }
}

/// One watcher's findings.
#[derive(Default)]
struct WatchOut {
    /// Whether this watcher was one of the slow ones.
    slow: bool,
    distinct: u64,
    duplicates: u64,
    foreign: u64,
    seq_back: u64,
    reconnects: u64,
    resumed: u64,
    snapshots: u64,
    closes: BTreeMap<u16, u64>,
    caught_up_us: Option<u64>,
}

struct Watcher {
    addr: SocketAddr,
    token: String,
    total: u64,
    /// This watcher's incident (its index and how many there are), if it watches one.
    group: Option<(u64, u64)>,
    /// How many distinct events it should receive.
    expect: u64,
    /// The hub's seq when the run began: watchers resume from it.
    head: u64,
    deadline: u64,
    drop_at: Option<u64>,
    stall: Option<(u64, u64)>,
    rec: Arc<Recorder>,
    /// One of the watchers that stop reading (`stall` is cleared once it has stalled).
    slow: bool,
}

/// What interrupted reading.
enum Interrupt {
    Deadline,
    Drop,
    Stall(u64),
}

impl Watcher {
    async fn run(mut self, ws: Option<Ws>) -> WatchOut {
        let mut out = WatchOut {
            slow: self.slow,
            ..WatchOut::default()
        };
        let mut seen = vec![0u64; (self.total as usize).div_ceil(64)];
        let mut last_seq = self.head;
        let mut pending = Vec::with_capacity(256);
        let mut dropped_at: Option<u64> = None;
        let mut ws = match ws {
            Some(ws) => Some(ws),
            None => self.reconnect(Some(self.head), &mut out, true).await,
        };
        while out.distinct < self.expect && now_us() < self.deadline {
            let Some(socket) = ws.as_mut() else { break };
            let (wake, why) = self.next_interrupt();
            let frame = tokio::time::timeout_at(instant_of(wake).into(), socket.next()).await;
            match frame {
                Err(_) => match why {
                    Interrupt::Deadline => break,
                    Interrupt::Drop => {
                        self.drop_at = None;
                        drop(ws.take());
                        dropped_at = Some(now_us());
                        ws = self.reconnect(Some(last_seq), &mut out, false).await;
                    }
                    Interrupt::Stall(until) => {
                        self.stall = None;
                        tokio::time::sleep_until(instant_of(until).into()).await;
                    }
                },
                Ok(Some(Ok(Message::Text(t)))) => {
                    if !t.starts_with("{\"type\":\"event\"") {
                        continue;
                    }
                    if let Some(seq) = seq_of(&t) {
                        if seq <= last_seq {
                            out.seq_back += 1;
                        }
                        last_seq = last_seq.max(seq);
                    }
                    let Some((due, Some(i))) = stamp_of(&t) else {
                        continue;
                    };
                    let now = now_us();
                    if let Some(d) = dropped_at
                        && due >= d
                    {
                        out.caught_up_us = Some(now - d);
                        dropped_at = None;
                    }
                    if self.group.is_some_and(|(g, n)| i % n != g) {
                        out.foreign += 1;
                        continue;
                    }
                    let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
                    if word >= seen.len() {
                        continue;
                    }
                    if seen[word] & bit != 0 {
                        out.duplicates += 1;
                        continue;
                    }
                    seen[word] |= bit;
                    out.distinct += 1;
                    pending.push(now.saturating_sub(due));
                    if pending.len() == pending.capacity() {
                        self.rec.record_all(&pending);
                        pending.clear();
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code = frame.map_or(0, |f| u16::from(f.code));
                    *out.closes.entry(code).or_default() += 1;
                    drop(ws.take());
                    ws = self.reconnect(Some(last_seq), &mut out, false).await;
                }
                Ok(Some(Ok(_))) => {}
                Ok(None) | Ok(Some(Err(_))) => {
                    *out.closes.entry(0).or_default() += 1;
                    drop(ws.take());
                    ws = self.reconnect(Some(last_seq), &mut out, false).await;
                }
            }
        }
        self.rec.record_all(&pending);
        out
    }

    fn next_interrupt(&self) -> (u64, Interrupt) {
        let mut next = (self.deadline, Interrupt::Deadline);
        if let Some(at) = self.drop_at
            && at < next.0
        {
            next = (at, Interrupt::Drop);
        }
        if let Some((from, until)) = self.stall
            && from < next.0
        {
            next = (from, Interrupt::Stall(until));
        }
        next
    }

    /// Connects again (resuming after `last_seq`), retrying until the deadline.
    async fn reconnect(
        &self,
        last_seq: Option<u64>,
        out: &mut WatchOut,
        first: bool,
    ) -> Option<Ws> {
        let small = self.stall.is_some();
        while now_us() < self.deadline {
            match net::connect(self.addr, &self.token, last_seq, small).await {
                Ok((ws, welcome)) => {
                    if !first {
                        out.reconnects += 1;
                        if welcome.resumed {
                            out.resumed += 1;
                        } else {
                            out.snapshots += 1;
                        }
                    }
                    return Some(ws);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        None
    }
}
