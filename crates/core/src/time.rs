//! Time as an input: a clock trait with the system clock and a manual clock tests
//! move by hand, and the one RFC 3339 format every timestamp uses.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// Where `now` comes from. Domain and engine code never read the clock themselves.
/// Times are whole milliseconds, so they survive a round trip through RFC 3339.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that only moves when a test says so.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start.trunc_subsecs(3))))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap();
        *t += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to.trunc_subsecs(3);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A clock that runs `speed` times faster than the wall clock from a start: `start +
/// (wall − wall_start) × speed` (exercise mode, `muster exercise --speed N`). The hub's
/// timers then fire on simulated time.
#[derive(Clone, Debug)]
pub struct ScaledClock {
    start: DateTime<Utc>,
    wall_start: std::time::Instant,
    speed: f64,
}

impl ScaledClock {
    /// Starts now at `start`; `speed` is clamped to at least 0.001.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        ScaledClock {
            start: start.trunc_subsecs(3),
            wall_start: std::time::Instant::now(),
            speed: if speed.is_finite() {
                speed.max(0.001)
            } else {
                1.0
            },
        }
    }

    /// The simulated time `wall` of real time after the start.
    pub fn at(&self, wall: std::time::Duration) -> DateTime<Utc> {
        let micros = (wall.as_secs_f64() * self.speed * 1e6) as i64;
        (self.start + chrono::Duration::microseconds(micros)).trunc_subsecs(3)
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        self.at(self.wall_start.elapsed())
    }
}

/// RFC 3339 UTC with milliseconds: `2026-11-28T17:20:02.123Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339(&mut out, t);
    out
}

/// Appends `t` as RFC 3339 with milliseconds. Written by hand because every event is
/// stamped, hashed and framed with it: chrono's formatter is the slower road.
pub fn write_rfc3339(out: &mut String, t: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
        return;
    }
    let ms = t.timestamp_subsec_millis().min(999);
    let parts = [
        (year as u32, 4),
        (t.month(), 2),
        (t.day(), 2),
        (t.hour(), 2),
        (t.minute(), 2),
        (t.second(), 2),
        (ms, 3),
    ];
    let seps = ["-", "-", "T", ":", ":", ".", "Z"];
    for ((value, width), sep) in parts.into_iter().zip(seps) {
        push_padded(out, value, width);
        out.push_str(sep);
    }
}

fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_speed_times_faster_from_its_start() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ScaledClock::new(start, 20.0);
        assert_eq!(clock.at(std::time::Duration::ZERO), start);
        assert_eq!(
            clock.at(std::time::Duration::from_secs(3)),
            start + chrono::Duration::seconds(60)
        );
        assert_eq!(
            clock.at(std::time::Duration::from_millis(1500)),
            start + chrono::Duration::seconds(30)
        );
        let a = clock.now();
        let b = clock.now();
        assert!(a >= start && b >= a);
    }

    #[test]
    fn rfc3339_matches_chrono_to_the_millisecond() {
        for s in [
            "2026-11-28T17:20:02.123Z",
            "2026-01-02T03:04:05.006Z",
            "1999-12-31T23:59:59.999Z",
            "2026-06-01T00:00:00.000Z",
        ] {
            let t = DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
            assert_eq!(rfc3339(t), s);
            assert_eq!(rfc3339(t), t.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
    }
}

/// Serde helpers: timestamps travel as RFC 3339 with milliseconds.
pub mod serde_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
