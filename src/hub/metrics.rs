//! Counters the hub keeps about itself, read by `/metrics` and the benchmarks, and
//! whether the event log can be written now, read by `/readyz`.
//!
//! `/metrics` is written by the `prometheus` crate ([`Exported`]): histograms of
//! command, append and delivery latency and of WebSocket queue depth, counters of
//! commands by kind and outcome, and the gauges a duty manager watches, computed from
//! the state when scraped. The hot path only touches atomics: every label set of a
//! per-command series is made once, at start, and kept by command kind.

use std::sync::Mutex;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use muster_core::engine::{CommandKind, Error};

/// Monotonic counters; each is updated by exactly one task.
#[derive(Default)]
pub struct Metrics {
    /// Commands decided (accepted, refused or de-duplicated).
    pub commands: AtomicU64,
    /// Commands refused with an error.
    pub rejected: AtomicU64,
    /// Events made durable.
    pub events: AtomicU64,
    /// Appends (group commits) made durable.
    pub batches: AtomicU64,
    /// Appends that failed.
    pub append_failures: AtomicU64,
    /// Appends that lost the race to another hub on a shared log (and were retried).
    pub append_conflicts: AtomicU64,
    /// Total time spent in durable appends, microseconds.
    pub append_micros: AtomicU64,
    /// Times the writer found the log writable again after a fault.
    pub store_recoveries: AtomicU64,
    /// Whether the log can be written now (see [`StoreHealth`]).
    pub store: StoreHealth,
    /// What `/metrics` serves.
    pub exported: Exported,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("commands", &self.commands)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

/// The writer's verdict on the event log: available, or down with the reason. Only the
/// writer changes it (down when an append fails, up once a probe write and the check
/// of the log's tail succeed); `/readyz` and `/metrics` read it.
#[derive(Debug)]
pub struct StoreHealth {
    available: AtomicBool,
    /// What is wrong, while the log is down.
    reason: Mutex<Option<String>>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            available: AtomicBool::new(true),
            reason: Mutex::new(None),
        }
    }
}

impl StoreHealth {
    /// True unless the writer found the log failing and has not yet seen it recover.
    pub fn available(&self) -> bool {
        self.available.load(Acquire)
    }

    /// Why the log is down; `None` while it is available.
    pub fn reason(&self) -> Option<String> {
        if self.available() {
            return None;
        }
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The log failed: `reason` says how. The reason is stored before the flag drops,
    /// so a reader that sees "down" also sees why.
    pub fn down(&self, reason: &str) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        self.available.store(false, Release);
    }

    /// The log answers writes again.
    pub fn up(&self) {
        self.available.store(true, Release);
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Latency buckets in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Queue depth buckets in frames, up to the default bound of 1,024.
const DEPTH_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// The series of one command kind, made at start so the hot path allocates nothing.
struct KindSeries {
    latency: Histogram,
    accepted: IntCounter,
    refused: IntCounter,
    unavailable: IntCounter,
}

/// The Prometheus registry of one hub and the handles its code updates.
pub struct Exported {
    registry: Registry,
    /// By `CommandKind as usize`.
    by_kind: Vec<KindSeries>,
    /// One durable append (group commit), from the start of the write to its fsync.
    pub append_seconds: Histogram,
    /// From an event being durable (published) to the write batch that carried it
    /// being flushed to a socket, for the batch's oldest event.
    pub delivery_seconds: Histogram,
    /// Frames waiting in a socket's queue when its writer wakes.
    pub ws_queue_depth: Histogram,
    // Mirrors of the counters above, brought up to date when scraped.
    mirrored: Mutex<()>,
    events: IntCounter,
    batches: IntCounter,
    rejected: IntCounter,
    append_failures: IntCounter,
    append_conflicts: IntCounter,
    store_recoveries: IntCounter,
    // Gauges set when scraped.
    pub store_available: IntGauge,
    pub connections: IntGauge,
    pub sessions: IntGauge,
    pub seq: IntGauge,
    pub contacts_waiting: IntGauge,
    pub contact_oldest_wait: Gauge,
    pub incidents_open: IntGaugeVec,
    pub assignments_unacknowledged: IntGauge,
    pub target_breaches: IntGaugeVec,
    pub users_connected: IntGaugeVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid counter");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("a valid gauge");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("a valid histogram");
    registry
        .register(Box::new(h.clone()))
        .expect("registered once");
    h
}

impl Default for Exported {
    fn default() -> Self {
        let r = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "muster_command_seconds",
                "Time from a command reaching the hub to its result (durable, or refused), by kind.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["kind"],
        )
        .expect("a valid histogram");
        r.register(Box::new(latency.clone()))
            .expect("registered once");
        let commands = IntCounterVec::new(
            Opts::new(
                "muster_commands_total",
                "Commands answered, by kind and outcome: accepted, refused (the command itself), failed (the hub could not take it now: retryable).",
            ),
            &["kind", "outcome"],
        )
        .expect("a valid counter");
        r.register(Box::new(commands.clone()))
            .expect("registered once");
        let by_kind = CommandKind::ALL
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                assert_eq!(
                    *kind as usize, i,
                    "CommandKind::ALL is in declaration order"
                );
                let name = kind.as_str();
                KindSeries {
                    latency: latency.with_label_values(&[name]),
                    accepted: commands.with_label_values(&[name, "accepted"]),
                    refused: commands.with_label_values(&[name, "refused"]),
                    unavailable: commands.with_label_values(&[name, "failed"]),
                }
            })
            .collect();
        Exported {
            by_kind,
            append_seconds: histogram(
                &r,
                "muster_append_seconds",
                "One durable append (group commit) to the event log.",
                LATENCY_BUCKETS,
            ),
            delivery_seconds: histogram(
                &r,
                "muster_delivery_seconds",
                "From an event being durable to its frame being written to a WebSocket (per write, its oldest event).",
                LATENCY_BUCKETS,
            ),
            ws_queue_depth: histogram(
                &r,
                "muster_ws_queue_depth",
                "Frames waiting in a WebSocket's outbound queue when its writer wakes.",
                DEPTH_BUCKETS,
            ),
            mirrored: Mutex::new(()),
            events: counter(&r, "muster_events_total", "Events made durable."),
            batches: counter(&r, "muster_batches_total", "Group commits made durable."),
            rejected: counter(
                &r,
                "muster_commands_rejected_total",
                "Commands the writer refused with an error.",
            ),
            append_failures: counter(
                &r,
                "muster_append_failures_total",
                "Appends to the event log that failed.",
            ),
            append_conflicts: counter(
                &r,
                "muster_append_conflicts_total",
                "Appends that lost the race to another hub on a shared log (and were decided again).",
            ),
            store_recoveries: counter(
                &r,
                "muster_store_recoveries_total",
                "Times the hub found the event log writable again after a failed append.",
            ),
            store_available: gauge(
                &r,
                "muster_store_available",
                "1 while the event log accepts writes; 0 from a failed append until the hub has recovered the log.",
            ),
            connections: gauge(&r, "muster_connections", "Open WebSocket connections."),
            sessions: gauge(&r, "muster_sessions", "Live log-in sessions."),
            seq: gauge(&r, "muster_seq", "Seq of the last durable event."),
            contacts_waiting: gauge(
                &r,
                "muster_contacts_waiting",
                "Contacts queued, not yet taken by an operator.",
            ),
            contact_oldest_wait: {
                let g = Gauge::new(
                    "muster_contact_oldest_wait_seconds",
                    "How long the oldest queued contact has waited (0 when none waits).",
                )
                .expect("a valid gauge");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            incidents_open: gauge_vec(
                &r,
                "muster_incidents_open",
                "Open incidents by priority (none until assessed) and status.",
                &["priority", "status"],
            ),
            assignments_unacknowledged: gauge(
                &r,
                "muster_assignments_unacknowledged",
                "Assignments notified and not yet acknowledged.",
            ),
            target_breaches: gauge_vec(
                &r,
                "muster_target_breaches",
                "Targets breached on items still open, by item (incident, case, plan) and target.",
                &["item", "target"],
            ),
            users_connected: gauge_vec(
                &r,
                "muster_users_connected",
                "Users with at least one open WebSocket, by role.",
                &["role"],
            ),
            registry: r,
        }
    }
}

impl Exported {
    /// A command answered after `took`: its latency and its outcome. Atomics only.
    pub fn command(&self, kind: CommandKind, took: Duration, result: Result<(), &Error>) {
        let series = &self.by_kind[kind as usize];
        series.latency.observe(took.as_secs_f64());
        match result {
            Ok(()) => series.accepted.inc(),
            Err(e) if e.code().retryable() => series.unavailable.inc(),
            Err(_) => series.refused.inc(),
        }
    }

    /// Brings the mirrored counters up to the hub's own (concurrent scrapes add each
    /// difference once).
    fn mirror(&self, m: &Metrics) {
        let _one = self.mirrored.lock().unwrap_or_else(|e| e.into_inner());
        for (mirror, own) in [
            (&self.events, &m.events),
            (&self.batches, &m.batches),
            (&self.rejected, &m.rejected),
            (&self.append_failures, &m.append_failures),
            (&self.append_conflicts, &m.append_conflicts),
            (&self.store_recoveries, &m.store_recoveries),
        ] {
            let now = Metrics::get(own);
            mirror.inc_by(now.saturating_sub(mirror.get()));
        }
        self.store_available
            .set(i64::from(u8::from(m.store.available())));
    }

    /// Every metric in the Prometheus text format.
    pub fn text(&self, m: &Metrics) -> String {
        self.mirror(m);
        let mut out = Vec::with_capacity(32 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text format encodes");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}
