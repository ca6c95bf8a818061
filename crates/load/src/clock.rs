//! One clock for the whole generator: microseconds since the process's first look.
//! Senders stamp each event with when it was due on this clock and receivers in the
//! same process read it, so publish-to-delivery needs no clock agreement.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ORIGIN: OnceLock<Instant> = OnceLock::new();

fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

/// Microseconds since the origin.
pub fn now_us() -> u64 {
    origin().elapsed().as_micros() as u64
}

/// The instant `us` microseconds after the origin.
pub fn instant_of(us: u64) -> Instant {
    origin() + Duration::from_micros(us)
}

/// The `due:<µs>` stamp an event's text carries, and the `#<index>` after it.
pub fn stamp_of(frame: &str) -> Option<(u64, Option<u64>)> {
    let start = frame.find("due:")? + "due:".len();
    let rest = &frame[start..];
    let due = digits(rest)?;
    let index = rest
        .find('#')
        .filter(|&i| i < 24)
        .and_then(|i| digits(&rest[i + 1..]));
    Some((due, index))
}

fn digits(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The `seq` of an event or result frame (`"seq":N`).
pub fn seq_of(frame: &str) -> Option<u64> {
    let start = frame.find("\"seq\":")? + "\"seq\":".len();
    digits(&frame[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_seqs_are_read_from_frames() {
        let f = r##"{"type":"event","seq":42,"at":"x","event":{"contact":{"summary":"due:1234 #7 xxxx"}}}"##;
        assert_eq!(stamp_of(f), Some((1234, Some(7))));
        assert_eq!(seq_of(f), Some(42));
        assert_eq!(stamp_of(r#"{"summary":"due:99"}"#), Some((99, None)));
        assert_eq!(stamp_of(r#"{"summary":"nothing"}"#), None);
    }
}
