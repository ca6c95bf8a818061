//! Throttling log-in guesses so that it cannot be turned against the user guessed at.
//!
//! Only FAILED attempts are counted (a right password is never charged), in token
//! buckets per client address, per (account, address) and per account:
//!
//! 1. the address is checked first, so one address cannot drain anyone else's bucket;
//! 2. (account, address) gets `login_attempts_per_minute` failures: the lock is on the
//!    pair, so guesses from one address never lock the account out elsewhere;
//! 3. once an account has failed [`ACCOUNT_MULTIPLE`] times that across all addresses,
//!    only addresses that have NOT yet failed for it are still checked: guessing from
//!    many addresses slows to one guess per fresh address, while the owner, who has
//!    not failed from their own address, still gets in.
//!
//! A check is charged up front and handed back when the password was right (or never
//! checked), so parallel guesses cannot all slip past a bucket before it is charged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Failures per address, as a multiple of the per-(account, address) figure: an
/// office behind one NAT address has many users, each with a typo now and then.
pub const ADDRESS_MULTIPLE: u32 = 10;

/// Failures per account across every address, as a multiple of the per-(account,
/// address) figure, before failed addresses are refused for that account.
pub const ACCOUNT_MULTIPLE: u32 = 10;

/// Buckets are forgotten once full again; full ones are looked for this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Longest account name kept as a key: guesses at absurd names cost no more memory.
const MAX_KEY_CHARS: usize = 128;

/// One token bucket per key: `capacity` failures at once, refilled at `per_minute`.
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

    fn refilled(&self, (tokens, last): (f64, Instant), now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        (tokens + elapsed * self.per_sec).min(self.capacity)
    }

    /// Takes one token for `key`, returning how many there were; when there is none,
    /// how long until there is one.
    pub fn take(&self, key: &str, now: Instant) -> Result<f64, Duration> {
        let mut entry = self
            .buckets
            .entry(key.to_string())
            .or_insert((self.capacity, now));
        let tokens = self.refilled(*entry, now);
        if tokens < 1.0 {
            *entry = (tokens, now);
            return Err(self.wait_for_one(tokens));
        }
        *entry = (tokens - 1.0, now);
        Ok(tokens)
    }

    /// Hands back a token taken by [`Throttle::take`].
    pub fn give_back(&self, key: &str, now: Instant) {
        if let Some(mut entry) = self.buckets.get_mut(key) {
            let tokens = self.refilled(*entry, now);
            *entry = ((tokens + 1.0).min(self.capacity), now);
        }
    }

    /// Spends a token even when none is left (down to zero): a failure is counted
    /// whether or not it was the one that emptied the bucket.
    pub fn charge(&self, key: &str, now: Instant) {
        let mut entry = self
            .buckets
            .entry(key.to_string())
            .or_insert((self.capacity, now));
        let tokens = self.refilled(*entry, now);
        *entry = ((tokens - 1.0).max(0.0), now);
    }

    /// How long until `key` has a token, when it has none now.
    pub fn empty_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let tokens = self.refilled(*self.buckets.get(key)?, now);
        (tokens < 1.0).then(|| self.wait_for_one(tokens))
    }

    fn wait_for_one(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64((1.0 - tokens).max(0.0) / self.per_sec)
    }

    /// Forgets full buckets so the map does not grow with every key ever seen.
    pub fn sweep(&self, now: Instant) {
        self.buckets
            .retain(|_, bucket| self.refilled(*bucket, now) < self.capacity);
    }

    /// Keys held (for tests of the sweep).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The three log-in buckets; see the module documentation for the rules.
pub struct LoginThrottle {
    by_address: Throttle,
    by_pair: Throttle,
    by_account: Throttle,
    last_sweep: Mutex<Instant>,
}

/// A log-in allowed to check its password. Its tokens are handed back when it is
/// dropped, unless [`Attempt::failed`] kept them.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    address: String,
    pair: String,
    account: String,
    failed: bool,
}

impl LoginThrottle {
    /// `per_minute` failures per (account, address); see the multiples for the rest.
    pub fn new(per_minute: u32) -> Self {
        LoginThrottle {
            by_address: Throttle::new(per_minute.saturating_mul(ADDRESS_MULTIPLE)),
            by_pair: Throttle::new(per_minute),
            by_account: Throttle::new(per_minute.saturating_mul(ACCOUNT_MULTIPLE)),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// May `address` check a password for `account` now? Otherwise how long to wait.
    pub fn begin(
        &self,
        account: &str,
        address: &str,
        now: Instant,
    ) -> Result<Attempt<'_>, Duration> {
        self.sweep_now_and_then(now);
        let account: String = account.chars().take(MAX_KEY_CHARS).collect();
        // An address never contains a NUL, so the pair key cannot be ambiguous.
        let pair = format!("{account}\0{address}");
        self.by_address.take(address, now)?;
        let before = match self.by_pair.take(&pair, now) {
            Ok(tokens) => tokens,
            Err(wait) => {
                self.by_address.give_back(address, now);
                return Err(wait);
            }
        };
        // A pair's bucket is below full only by its own recent failures (or attempts
        // of its own in flight: the same address guessing in parallel).
        let failed_here = before < self.by_pair.capacity;
        if failed_here && let Some(wait) = self.by_account.empty_for(&account, now) {
            self.by_pair.give_back(&pair, now);
            self.by_address.give_back(address, now);
            return Err(wait);
        }
        Ok(Attempt {
            throttle: self,
            address: address.to_string(),
            pair,
            account,
            failed: false,
        })
    }

    fn sweep_now_and_then(&self, now: Instant) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return; // another log-in is sweeping
        };
        if now.saturating_duration_since(*last) >= SWEEP_EVERY {
            *last = now;
            for t in [&self.by_address, &self.by_pair, &self.by_account] {
                t.sweep(now);
            }
        }
    }

    /// Keys held in all buckets (for tests of the sweep).
    pub fn keys(&self) -> usize {
        self.by_address.len() + self.by_pair.len() + self.by_account.len()
    }
}

impl Attempt<'_> {
    /// The password was wrong (or the account disabled): the tokens taken stay spent
    /// and the account's bucket is charged too.
    pub fn failed(mut self) {
        self.failed = true;
        self.throttle
            .by_account
            .charge(&self.account, Instant::now());
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.failed {
            let now = Instant::now();
            self.throttle.by_pair.give_back(&self.pair, now);
            self.throttle.by_address.give_back(&self.address, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "127.0.0.2";
    const B: &str = "127.0.0.1";

    #[test]
    fn a_bucket_is_cut_to_its_capacity_and_refills_with_time() {
        let t = Throttle::new(10);
        let start = Instant::now();
        let allowed = (0..1_000).filter(|_| t.take("k", start).is_ok()).count();
        assert_eq!(allowed, 10);
        assert!(t.take("other", start).is_ok(), "keys are independent");
        let wait = t.take("k", start).unwrap_err();
        assert!(
            wait.as_secs_f64() > 5.9 && wait.as_secs_f64() <= 6.0,
            "{wait:?}"
        );
        let later = start + Duration::from_secs(6);
        assert!(t.take("k", later).is_ok(), "one back after 6 s");
        assert!(t.take("k", later).is_err());
    }

    #[test]
    fn right_passwords_are_never_charged() {
        let t = LoginThrottle::new(2);
        let now = Instant::now();
        for _ in 0..1_000 {
            drop(t.begin("field8", B, now).expect("never refused"));
        }
    }

    #[test]
    fn failures_lock_the_pair_not_the_account() {
        let t = LoginThrottle::new(3);
        let now = Instant::now();
        for _ in 0..3 {
            t.begin("field8", A, now).unwrap().failed();
        }
        assert!(t.begin("field8", A, now).is_err(), "the pair is locked");
        assert!(
            t.begin("field9", A, now).is_ok(),
            "other accounts from A are not"
        );
        assert!(t.begin("field8", B, now).is_ok(), "field8 from B is not");
    }

    #[test]
    fn the_address_is_checked_before_the_account_is_charged() {
        let t = LoginThrottle::new(1);
        let now = Instant::now();
        for i in 0..ADDRESS_MULTIPLE {
            t.begin(&format!("u{i}"), A, now).unwrap().failed();
        }
        for _ in 0..100 {
            assert!(t.begin("field8", A, now).is_err());
        }
        assert!(t.by_account.empty_for("field8", now).is_none());
        assert!(t.begin("field8", B, now).is_ok());
    }

    #[test]
    fn a_guessed_account_refuses_failed_addresses_but_not_fresh_ones() {
        let t = LoginThrottle::new(3);
        let now = Instant::now();
        // One guess from each of many addresses empties the account's bucket.
        for i in 0..3 * ACCOUNT_MULTIPLE {
            t.begin("field8", &format!("10.0.0.{i}"), now)
                .unwrap()
                .failed();
        }
        assert!(
            t.begin("field8", "10.0.0.0", now).is_err(),
            "an address that failed waits while the account is hot"
        );
        assert!(t.begin("field9", "10.0.0.0", now).is_ok());
        assert!(
            t.begin("field8", B, now).is_ok(),
            "the owner has not failed"
        );
        // A fresh guesser gets one guess, then waits too.
        t.begin("field8", "10.0.1.1", now).unwrap().failed();
        assert!(t.begin("field8", "10.0.1.1", now).is_err());
        let later = now + Duration::from_secs(60);
        assert!(t.begin("field8", "10.0.0.0", later).is_ok(), "refilled");
    }

    #[test]
    fn full_buckets_are_swept() {
        let t = LoginThrottle::new(1);
        let now = Instant::now();
        for i in 0..50 {
            t.begin("field8", &format!("10.0.0.{i}"), now)
                .unwrap()
                .failed();
        }
        assert!(t.keys() > 0);
        let _ = t.begin("x", "10.9.9.9", now + SWEEP_EVERY * 20);
        assert!(t.keys() <= 3, "{} keys left", t.keys());
    }
}
