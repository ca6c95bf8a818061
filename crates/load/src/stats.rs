//! Latency recording: HdrHistograms (microseconds), sharded so that thousands of
//! client tasks can record at once without one lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hdrhistogram::Histogram;
use serde::Serialize;

const SHARDS: usize = 16;

/// A latency recorder shared by many tasks.
pub struct Recorder {
    shards: Vec<Mutex<Histogram<u64>>>,
    next: AtomicUsize,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
            next: AtomicUsize::new(0),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to an hour at 3 significant figures; anything longer counts as an hour.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Recorder {
    /// Records one latency in microseconds.
    pub fn record(&self, micros: u64) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut h = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        h.saturating_record(micros.max(1));
    }

    /// Records a batch a task gathered itself (one lock for many samples).
    pub fn record_all(&self, micros: &[u64]) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut h = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        for &m in micros {
            h.saturating_record(m.max(1));
        }
    }

    /// All shards merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for s in &self.shards {
            let h = s.lock().unwrap_or_else(|p| p.into_inner());
            let _ = all.add(&*h);
        }
        all
    }

    pub fn summary(&self) -> Latency {
        Latency::of(&self.merged())
    }
}

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Share of samples in 38–44 ms against the mean of its two neighbouring 6 ms
    /// bands: well above 1 means a cluster at 40 ms (Nagle meeting delayed ACK).
    pub band_40ms_ratio: f64,
    /// Share of all samples in 38–44 ms.
    pub band_40ms_share: f64,
}

impl Latency {
    /// A cluster at 40 ms, as Nagle meeting delayed ACK makes: the 38–44 ms band well
    /// above its neighbours *and* holding a real share of the deliveries. One event
    /// held up (a slow fsync) puts all its deliveries in one place, which in a short
    /// run of 60 events is 1.7 % of them: a stall, not a cluster.
    pub fn has_40ms_cluster(&self) -> bool {
        self.band_40ms_ratio >= 3.0 && self.band_40ms_share >= 0.05 && self.p50_ms <= 30.0
    }

    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        let band = |lo: u64, hi: u64| h.count_between(lo * 1000, hi * 1000 - 1) as f64;
        let neighbours = (band(32, 38) + band(44, 50)) / 2.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            band_40ms_ratio: band(38, 44) / neighbours.max(1.0),
            band_40ms_share: band(38, 44) / h.len() as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_every_shard() {
        let r = Recorder::default();
        for us in 1..=1000u64 {
            r.record(us * 1000);
        }
        let l = r.summary();
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 1.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
    }

    #[test]
    fn a_pile_at_40ms_shows_as_a_cluster() {
        let r = Recorder::default();
        // Most deliveries prompt, a tenth held until a delayed ACK frees them.
        for _ in 0..1000 {
            r.record(4_000);
        }
        for ms in 30..50u64 {
            r.record(ms * 1000);
        }
        for _ in 0..100 {
            r.record(40_500);
        }
        let l = r.summary();
        assert!(l.band_40ms_ratio > 5.0, "{l:?}");
        assert!(l.band_40ms_share > 0.08, "{l:?}");
        assert!(l.has_40ms_cluster(), "{l:?}");
    }

    #[test]
    fn one_late_event_among_many_is_not_a_cluster() {
        let r = Recorder::default();
        // 59 events on time and one held up 40 ms, each delivered to 200 watchers.
        for _ in 0..59 * 200 {
            r.record(4_000);
        }
        for _ in 0..200 {
            r.record(41_000);
        }
        let l = r.summary();
        assert!(l.band_40ms_ratio > 5.0, "{l:?}");
        assert!(!l.has_40ms_cluster(), "{l:?}");
    }
}
