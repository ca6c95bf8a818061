//! Connection places: `limits.max_connections` in total, and at most a per-address
//! share of them from any one client address, so one address cannot take everyone's
//! places. The reverse proxies in `server.trusted_proxies` carry everyone's traffic
//! and are held only to the total.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Refusals are logged as one line per this long, not a line per socket: a flood of
/// refused sockets must not become a flood of log lines.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The places, shared by the accept loop and every connection's [`Slot`].
pub struct Slots {
    total: Arc<Semaphore>,
    per_address: DashMap<IpAddr, usize>,
    cap: usize,
    exempt: Vec<IpNet>,
    refused_total: AtomicU64,
    refused_per_address: AtomicU64,
    last_warn: Mutex<Option<Instant>>,
}

/// Why a connection got no place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Every place is taken.
    Full,
    /// This address already holds its share.
    AddressFull,
}

/// One connection's place: given back when the connection (or the WebSocket it was
/// upgraded to) ends.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    address: Option<(Arc<Slots>, IpAddr)>,
}

/// The cap one address is held to: the setting, but never more than half of all
/// places (and at least one).
pub fn per_address_cap(max_connections: usize, per_address: usize) -> usize {
    per_address.min((max_connections / 2).max(1))
}

impl Slots {
    pub fn new(max_connections: usize, per_address: usize, exempt: Vec<IpNet>) -> Arc<Slots> {
        Arc::new(Slots {
            total: Arc::new(Semaphore::new(max_connections)),
            per_address: DashMap::new(),
            cap: per_address_cap(max_connections, per_address),
            exempt,
            refused_total: AtomicU64::new(0),
            refused_per_address: AtomicU64::new(0),
            last_warn: Mutex::new(None),
        })
    }

    /// A place for a connection from `ip`. Counting and taking happen under the
    /// address's map lock, so parallel connects cannot race past the cap.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let ip = ip.to_canonical();
        let taken = if super::peer::is_trusted(ip, &self.exempt) {
            self.take_total().map(|p| (p, None))
        } else {
            self.take_for(ip).map(|p| (p, Some((self.clone(), ip))))
        };
        match taken {
            Ok((permit, address)) => Ok(Slot {
                _permit: permit,
                address,
            }),
            Err(why) => {
                self.note_refusal(why, ip);
                Err(why)
            }
        }
    }

    fn take_total(&self) -> Result<OwnedSemaphorePermit, Refused> {
        self.total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Full)
    }

    /// A place under the total and under `ip`'s share, counted while the entry is
    /// locked.
    fn take_for(&self, ip: IpAddr) -> Result<OwnedSemaphorePermit, Refused> {
        match self.per_address.entry(ip) {
            Entry::Occupied(mut held) => {
                if *held.get() >= self.cap {
                    return Err(Refused::AddressFull);
                }
                let permit = self.take_total()?;
                *held.get_mut() += 1;
                Ok(permit)
            }
            Entry::Vacant(v) => {
                let permit = self.take_total()?;
                v.insert(1);
                Ok(permit)
            }
        }
    }

    /// Connections held from `ip` now (for tests and metrics).
    pub fn held_by(&self, ip: IpAddr) -> usize {
        self.per_address.get(&ip.to_canonical()).map_or(0, |n| *n)
    }

    /// Counts a refusal; at most one warning per [`WARN_EVERY`], with the counts.
    fn note_refusal(&self, why: Refused, ip: IpAddr) {
        match why {
            Refused::Full => self.refused_total.fetch_add(1, Ordering::Relaxed),
            Refused::AddressFull => self.refused_per_address.fetch_add(1, Ordering::Relaxed),
        };
        let Ok(mut last) = self.last_warn.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            over_total = self.refused_total.swap(0, Ordering::Relaxed),
            over_per_address = self.refused_per_address.swap(0, Ordering::Relaxed),
            per_address_cap = self.cap,
            last_peer = %ip,
            "connections refused since the last report"
        );
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((slots, ip)) = &self.address else {
            return;
        };
        if let Entry::Occupied(mut held) = slots.per_address.entry(*ip) {
            *held.get_mut() -= 1;
            if *held.get() == 0 {
                held.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_gets_at_most_half_the_places() {
        assert_eq!(per_address_cap(64, 1000), 32);
        assert_eq!(per_address_cap(20_000, 1000), 1000);
        assert_eq!(per_address_cap(1, 1000), 1);
    }

    #[tokio::test]
    async fn places_are_counted_per_address_and_given_back() {
        let slots = Slots::new(4, 1000, vec!["10.0.0.0/8".parse().unwrap()]);
        let a: Vec<_> = (0..3).map(|_| slots.take(ip("127.0.0.2"))).collect();
        assert!(a[0].is_ok() && a[1].is_ok());
        assert_eq!(a[2].as_ref().err(), Some(&Refused::AddressFull));
        assert_eq!(slots.held_by(ip("127.0.0.2")), 2);
        let b = slots.take(ip("::ffff:127.0.0.1")).unwrap();
        assert_eq!(
            slots.held_by(ip("127.0.0.1")),
            1,
            "mapped addresses are one address"
        );
        // A trusted proxy is held only to the total: one place is left.
        let proxy = slots.take(ip("10.1.1.1")).unwrap();
        assert_eq!(slots.take(ip("10.1.1.1")).err(), Some(Refused::Full));
        drop((a, b, proxy));
        assert_eq!(slots.held_by(ip("127.0.0.2")), 0);
        assert!(slots.per_address.is_empty(), "empty counts are forgotten");
        assert_eq!(slots.total.available_permits(), 4);
    }

    #[test]
    fn parallel_connects_from_one_address_never_pass_its_cap() {
        let slots = Slots::new(64, 1000, Vec::new());
        let held = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        if let Ok(slot) = slots.take(ip("127.0.0.2")) {
                            held.lock().unwrap().push(slot);
                        }
                    }
                });
            }
        });
        assert_eq!(held.lock().unwrap().len(), 32);
        assert_eq!(slots.held_by(ip("127.0.0.2")), 32);
    }
}
