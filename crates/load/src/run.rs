//! Runs a scenario's runs against the hub (and the ceiling server, when given) and
//! turns what they found into figures and checks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::fanout::{self, Outcome, Plan};
use super::report::{Better, Check, Figure, RunReport, load_average};
use super::scenario::{Kind, Params, Scenario};
use super::{LoadError, Target, centre, durable, net, restart};

/// Plays every run of `scenario`; the ceiling, when given, plays the same runs.
pub async fn scenario(
    s: &Scenario,
    hub: &Target,
    ceiling: Option<&Target>,
    redis_url: &str,
) -> Result<Vec<RunReport>, LoadError> {
    let mut out = Vec::new();
    for (i, p) in s.runs.iter().enumerate() {
        let label = p.label.clone().unwrap_or_else(|| format!("run {}", i + 1));
        let load_average = load_average();
        let (figures, checks, detail) = match s.kind {
            Kind::Idle => idle(hub, ceiling, p).await?,
            Kind::Fanout => fan(hub, ceiling, p).await?,
            Kind::Storm => storm(hub, p).await?,
            Kind::Slow => slow(hub, p).await?,
            Kind::Centre => centre::report(&centre::run(hub, p).await?, p),
            Kind::Restart => restart::report(&restart::run(hub, p).await?, p),
            Kind::Durable => durable::report(&durable::run(p, redis_url).await?, p),
        };
        out.push(RunReport {
            scenario: s.id.clone(),
            label,
            load_average,
            figures,
            checks,
            detail,
        });
    }
    Ok(out)
}

type Found = (Vec<Figure>, Vec<Check>, serde_json::Value);

fn plan(p: &Params) -> Plan {
    Plan {
        watchers: p.connections,
        rate: p.rate,
        seconds: p.seconds,
        senders: p.senders,
        pad: p.pad,
        incidents: p.incidents,
        drop_within: None,
        slow: None,
        grace: 3.0,
    }
}

/// What idle sockets cost the server.
#[derive(Debug, Default, serde::Serialize)]
pub struct Idle {
    pub connections: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_connection: f64,
    pub idle_secs: f64,
    /// Server CPU while the sockets sat idle, as a share of one core.
    pub idle_cpu_share: f64,
    pub connect_secs: f64,
    /// Sockets that answered a ping at the end of the hold.
    pub still_open: usize,
    /// How the others ended (close code; 0 = no close frame, 1 = no pong in time).
    pub closes: BTreeMap<u16, u64>,
}

/// How one held socket ended.
enum Held {
    Open,
    Closed(u16),
}

/// Reads `ws` (answering the server's pings) until `end`, then sends a ping and
/// waits for its pong: a socket the server closed, or stopped serving, during the
/// hold cannot pass for an open one.
async fn hold_open(mut ws: net::Ws, end: tokio::time::Instant) -> Held {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout_at(end, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Close(f)))) => return Held::Closed(f.map_or(0, |f| f.code.into())),
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => return Held::Closed(0),
        }
    }
    if ws
        .send(Message::Ping(b"hold".to_vec().into()))
        .await
        .is_err()
    {
        return Held::Closed(0);
    }
    let answer = end + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(answer, ws.next()).await {
            Err(_) => return Held::Closed(1),
            Ok(Some(Ok(Message::Pong(_)))) => return Held::Open,
            Ok(Some(Ok(Message::Close(f)))) => return Held::Closed(f.map_or(0, |f| f.code.into())),
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => return Held::Closed(0),
        }
    }
}

/// Opens `n` authenticated sockets, holds them idle for `hold` (they answer the
/// server's pings), and reports the server's memory per socket and its idle CPU, and
/// how many sockets were still open (answered a ping) at the end.
pub async fn idle_run(target: &Target, n: usize, hold: Duration) -> Result<Idle, LoadError> {
    let token = target.token("supervisor").await?;
    let before = target
        .usage()
        .ok_or_else(|| LoadError::Proc("idle needs the server's pid".into()))?;
    let started = std::time::Instant::now();
    let sockets =
        net::connect_many(target.addr, std::slice::from_ref(&token), n, 256, None).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    // Two seconds for the connections' memory to settle, then the measured hold.
    let settle = Duration::from_secs(2);
    let end = tokio::time::Instant::now() + settle + hold;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(hold_open(ws, end)))
        .collect();
    tokio::time::sleep(settle).await;
    let settled = target.usage().unwrap_or(before);
    tokio::time::sleep_until(end).await;
    let after = target.usage().unwrap_or(settled);
    let (mut still_open, mut closes) = (0, BTreeMap::new());
    for r in readers {
        match r.await.map_err(|e| LoadError::Connect(e.to_string()))? {
            Held::Open => still_open += 1,
            Held::Closed(code) => *closes.entry(code).or_default() += 1,
        }
    }
    Ok(Idle {
        connections: n,
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        kib_per_connection: after.rss_kib.saturating_sub(before.rss_kib) as f64 / n as f64,
        idle_secs: hold.as_secs_f64(),
        idle_cpu_share: (after.cpu_secs - settled.cpu_secs) / hold.as_secs_f64(),
        connect_secs,
        still_open,
        closes,
    })
}

async fn idle(hub: &Target, ceiling: Option<&Target>, p: &Params) -> Result<Found, LoadError> {
    let hold = Duration::from_secs_f64(p.seconds);
    let h = idle_run(hub, p.connections, hold).await?;
    let c = match ceiling {
        Some(c) => Some(idle_run(c, p.connections, hold).await?),
        None => None,
    };
    let mut rss = Figure::new(
        "server RSS per connection",
        h.kib_per_connection,
        "KiB",
        Better::Lower,
    )
    .floor(p.kib_per_conn_floor);
    let mut cpu = Figure::new(
        "idle CPU",
        h.idle_cpu_share * 100.0,
        "% core",
        Better::Lower,
    )
    .floor(p.cpu_floor.map(|f| f * 100.0));
    if let Some(c) = &c {
        rss = rss.ceiling(c.kib_per_connection);
        cpu = cpu.ceiling(c.idle_cpu_share * 100.0);
    }
    let checks = vec![idle_check(&h)];
    let detail = serde_json::json!({"hub": h, "ceiling": c});
    Ok((vec![rss, cpu], checks, detail))
}

/// Every socket opened and still open (it answered a ping) at the end of the hold.
pub fn idle_check(h: &Idle) -> Check {
    Check::new(
        "all connected to the end",
        h.connections > 0 && h.still_open == h.connections,
        format!(
            "{} of {} answered a ping after the hold (connected in {:.1} s); ended: {:?}",
            h.still_open, h.connections, h.connect_secs, h.closes
        ),
    )
}

/// Figures every fan-out shape shares.
fn delivery_figures(o: &Outcome, p: &Params, c: Option<&Outcome>) -> Vec<Figure> {
    let mut p99 =
        Figure::new("delivery p99", o.delivery.p99_ms, "ms", Better::Lower).floor(p.p99_floor_ms);
    let mut rate = Figure::new("deliveries/s", o.deliveries_per_sec, "/s", Better::Higher);
    let mut per = Figure::new(
        "hub CPU per delivery",
        o.hub_cpu_us_per_delivery,
        "µs",
        Better::Lower,
    );
    if let Some(c) = c {
        p99 = p99.ceiling(c.delivery.p99_ms);
        rate = rate.ceiling(c.deliveries_per_sec);
        per = per.ceiling(c.hub_cpu_us_per_delivery);
    }
    let cpu = Figure::new("hub CPU", o.hub_cpu_share * 100.0, "% core", Better::Lower);
    let band = Figure::new(
        "40 ms band / neighbours",
        o.delivery.band_40ms_ratio,
        "x",
        Better::Lower,
    );
    vec![p99, rate, per, cpu, band]
}

/// Whether events were sent at all and every watcher got each of its own once.
/// Each check requires work done: 0 of 0 is a failure, not a pass.
/// Only for the hub's runs: the ceiling answers no commands.
pub fn completeness(o: &Outcome) -> Vec<Check> {
    let mut checks = vec![
        Check::new(
            "every event sent",
            o.events_sent > 0
                && o.events_sent == o.events_planned
                && o.events_accepted == o.events_sent,
            format!(
                "{} of {} sent, {} accepted",
                o.events_sent, o.events_planned, o.events_accepted
            ),
        ),
        Check::new(
            "every event delivered",
            o.deliveries_expected > 0 && o.deliveries == o.deliveries_expected && o.lost == 0,
            format!(
                "{} of {} ({} lost)",
                o.deliveries, o.deliveries_expected, o.lost
            ),
        ),
        Check::new(
            "none duplicated",
            o.duplicates == 0 && o.seq_out_of_order == 0,
            format!(
                "{} duplicates, {} seq not increasing",
                o.duplicates, o.seq_out_of_order
            ),
        ),
        Check::new(
            "no command errors",
            o.errors.is_empty(),
            format!("{:?}", o.errors),
        ),
    ];
    if o.incidents > 0 {
        checks.push(Check::new(
            "none to another incident's watchers",
            o.foreign == 0,
            format!("{} events reached watchers of another incident", o.foreign),
        ));
    }
    checks
}

async fn fan(hub: &Target, ceiling: Option<&Target>, p: &Params) -> Result<Found, LoadError> {
    let h = fanout::run(hub, &plan(p)).await?;
    // The ceiling broadcasts to everyone: it has no incidents to route by.
    let c = match ceiling.filter(|_| p.incidents == 0) {
        Some(c) => Some(fanout::run(c, &plan(p)).await?),
        None => None,
    };
    let figures = delivery_figures(&h, p, c.as_ref());
    let mut checks = completeness(&h);
    checks.push(Check::new(
        "no 40 ms cluster",
        !h.delivery.has_40ms_cluster(),
        format!(
            "38–44 ms band is {:.1}x its neighbours, {:.1} % of deliveries",
            h.delivery.band_40ms_ratio,
            h.delivery.band_40ms_share * 100.0
        ),
    ));
    Ok((figures, checks, serde_json::json!({"hub": h, "ceiling": c})))
}

async fn storm(hub: &Target, p: &Params) -> Result<Found, LoadError> {
    let mut plan = plan(p);
    plan.drop_within = Some(p.drop_within_secs);
    plan.grace = p.catch_up_floor_secs.unwrap_or(10.0) + 5.0;
    let o = fanout::run(hub, &plan).await?;
    let catch_up = Figure::new(
        "catch-up, slowest client",
        o.catch_up_max_secs,
        "s",
        Better::Lower,
    )
    .floor(p.catch_up_floor_secs);
    let p99 = Figure::new(
        "delivery p99 (incl. resumed)",
        o.delivery.p99_ms,
        "ms",
        Better::Lower,
    );
    let mut checks = completeness(&o);
    checks.push(Check::new(
        "every client resumed",
        o.resumed > 0 && o.resumed as usize == o.watchers && o.snapshots == 0,
        format!(
            "{} resumed, {} got a snapshot, {} clients",
            o.resumed, o.snapshots, o.watchers
        ),
    ));
    Ok((
        vec![catch_up, p99],
        checks,
        serde_json::to_value(&o).unwrap_or_default(),
    ))
}

/// The slow clients, and only they, are closed with 4409, and resume. Counted per
/// class: fast clients closed with 4409 must not make up for slow ones left open.
pub fn slow_checks(o: &Outcome) -> Vec<Check> {
    let closed = o.slow_closed_4409;
    vec![
        Check::new(
            "slow clients closed with 4409",
            o.slow_watchers > 0 && closed as usize == o.slow_watchers,
            format!(
                "{closed} of {} slow closed with 4409; closes {:?}",
                o.slow_watchers, o.closes
            ),
        ),
        Check::new(
            "reading clients not closed",
            o.fast_closed_4409 == 0,
            format!(
                "{} of {} reading clients closed with 4409",
                o.fast_closed_4409,
                o.watchers - o.slow_watchers
            ),
        ),
        Check::new(
            "slow clients resumed",
            o.snapshots == 0 && o.resumed >= closed && closed > 0,
            format!("{} resumed, {} snapshots", o.resumed, o.snapshots),
        ),
    ]
}

async fn slow(hub: &Target, p: &Params) -> Result<Found, LoadError> {
    let mut base = plan(p);
    base.grace = p.stall_secs + 10.0;
    let baseline = fanout::run(hub, &base).await?;
    let mut with_slow = base.clone();
    with_slow.slow = Some((p.slow_share, p.stall_secs));
    let o = fanout::run(hub, &with_slow).await?;
    let others = Figure::new(
        "others' p99 with slow ones",
        o.delivery.p99_ms,
        "ms",
        Better::Lower,
    )
    .floor(Some(baseline.delivery.p99_ms * 1.1));
    let base_fig = Figure::new(
        "others' p99, none slow",
        baseline.delivery.p99_ms,
        "ms",
        Better::Lower,
    );
    let rss = Figure::new(
        "hub RSS peak",
        o.hub_rss_peak_kib as f64 / 1024.0,
        "MiB",
        Better::Lower,
    );
    let mut checks = completeness(&o);
    checks.extend(slow_checks(&o));
    let detail = serde_json::json!({"baseline": baseline, "with_slow": o});
    Ok((vec![base_fig, others, rss], checks, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(checks: &[Check]) -> Vec<String> {
        checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.clone())
            .collect()
    }

    /// Nothing sent, nothing expected: 0 of 0 used to pass as "every event delivered".
    #[test]
    fn a_run_that_sent_nothing_fails() {
        let idle = Outcome::default();
        let f = failed(&completeness(&idle));
        assert!(f.iter().any(|n| n == "every event sent"), "{f:?}");
        assert!(f.iter().any(|n| n == "every event delivered"), "{f:?}");
    }

    #[test]
    fn every_event_sent_accepted_and_delivered_passes() {
        let o = Outcome {
            watchers: 2,
            events_planned: 3,
            events_sent: 3,
            events_accepted: 3,
            deliveries_expected: 6,
            deliveries: 6,
            ..Outcome::default()
        };
        assert!(failed(&completeness(&o)).is_empty());
        let unanswered = Outcome {
            events_accepted: 2,
            ..o.clone()
        };
        assert_eq!(failed(&completeness(&unanswered)), ["every event sent"]);
    }

    /// Two reading clients closed with 4409 and the two slow ones left open: the
    /// old count across all watchers (2 closes >= 2 slow) passed this.
    #[test]
    fn closing_reading_clients_does_not_count_for_slow_ones() {
        let o = Outcome {
            watchers: 10,
            slow_watchers: 2,
            fast_closed_4409: 2,
            closes: [(4409, 2)].into(),
            resumed: 2,
            ..Outcome::default()
        };
        let f = failed(&slow_checks(&o));
        assert_eq!(
            f,
            [
                "slow clients closed with 4409",
                "reading clients not closed",
                "slow clients resumed"
            ]
        );
        let right = Outcome {
            fast_closed_4409: 0,
            slow_closed_4409: 2,
            ..o
        };
        assert!(failed(&slow_checks(&right)).is_empty());
    }

    #[test]
    fn a_socket_closed_during_the_hold_fails_the_idle_check() {
        let all = Idle {
            connections: 3,
            still_open: 3,
            ..Idle::default()
        };
        assert!(idle_check(&all).ok);
        let one_closed = Idle {
            still_open: 2,
            closes: [(4401, 1)].into(),
            ..all
        };
        assert!(!idle_check(&one_closed).ok);
        assert!(!idle_check(&Idle::default()).ok, "0 of 0 sockets");
    }
}
