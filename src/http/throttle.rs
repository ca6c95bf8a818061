//! Throttling log-in attempts per account and per address: a token bucket each, so a
//! burst of guesses is mostly refused before any password is checked.

use std::time::Instant;

use dashmap::DashMap;

/// One bucket per key: `capacity` attempts at once, refilled at `per_minute`.
pub struct Throttle {
    buckets: DashMap<String, (f64, Instant)>,
    capacity: f64,
    per_sec: f64,
}

impl Throttle {
    pub fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Throttle {
            buckets: DashMap::new(),
            capacity,
            per_sec: capacity / 60.0,
        }
    }

    /// Takes one attempt for `key`; false when the key has none left.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let mut entry = self
            .buckets
            .entry(key.to_string())
            .or_insert((self.capacity, now));
        let (tokens, last) = *entry;
        let refilled =
            (tokens + now.duration_since(last).as_secs_f64() * self.per_sec).min(self.capacity);
        if refilled < 1.0 {
            *entry = (refilled, now);
            return false;
        }
        *entry = (refilled - 1.0, now);
        true
    }

    /// Forgets full buckets so the map does not grow with every address ever seen.
    pub fn sweep(&self, now: Instant) {
        self.buckets.retain(|_, (tokens, last)| {
            *tokens + now.duration_since(*last).as_secs_f64() * self.per_sec < self.capacity
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_to_the_bucket_and_refills_with_time() {
        let t = Throttle::new(10);
        let start = Instant::now();
        let allowed = (0..1_000).filter(|_| t.allow("operator", start)).count();
        assert_eq!(allowed, 10);
        assert!(t.allow("other", start), "keys are independent");
        assert!(
            t.allow("operator", start + std::time::Duration::from_secs(6)),
            "one attempt back after 6 s"
        );
        assert!(!t.allow("operator", start + std::time::Duration::from_secs(6)));
    }
}
