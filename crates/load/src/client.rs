//! One client of the hub as an app is: it logs in (`POST /api/login`), opens a
//! WebSocket with its token ([`net::connect`]) and sends commands, awaiting each one's
//! result. Events the hub sends are read (so the socket never falls behind) and
//! counted, not kept. Commands are paced under the hub's per-socket frame rate
//! (`limits.commands_per_second`): a client that would go faster waits instead of
//! being closed for it.
//!
//! The exercise simulator (the hub's `hub::exercise`) plays its callers and units with
//! it, each as a real user of the exercise's log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{LoadError, login, net};

/// How long a command may wait for its result before the client gives up on it.
const RESULT_WAIT: Duration = Duration::from_secs(30);

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// A logged-in user's WebSocket.
pub struct Client {
    tx: mpsc::UnboundedSender<Message>,
    pending: Pending,
    open: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    pace: tokio::sync::Mutex<Pace>,
}

impl Client {
    /// Logs `username` in and opens their socket; `rate` frames a second at most.
    pub async fn login(
        addr: SocketAddr,
        username: &str,
        password: &str,
        rate: u32,
    ) -> Result<Client, LoadError> {
        let token = login(addr, username, password).await?;
        Client::open(addr, &token, rate).await
    }

    /// Opens a socket with `token` (a fresh connection: its welcome carries the
    /// snapshot) and spawns its reader and writer.
    pub async fn open(addr: SocketAddr, token: &str, rate: u32) -> Result<Client, LoadError> {
        let (ws, _) = net::connect(addr, token, None, false).await?;
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let open = Arc::new(AtomicBool::new(true));
        let pending: Pending = Arc::default();
        let events = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let close = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
        });
        let (r_open, r_pending, r_events) = (open.clone(), pending.clone(), events.clone());
        let r_accepted = accepted.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                    continue;
                };
                if t.starts_with("{\"type\":\"event\"") {
                    r_events.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(&t) else {
                    continue;
                };
                if v["type"] == "result"
                    && let Some(id) = v["id"].as_str()
                    && let Some(waiter) = lock(&r_pending).remove(id)
                {
                    if v["ok"] == true {
                        r_accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = waiter.send(v);
                }
            }
            r_open.store(false, Ordering::Relaxed);
            // Whoever still waits learns that the socket is gone.
            lock(&r_pending).clear();
        });
        Ok(Client {
            tx,
            pending,
            open,
            events,
            accepted,
            pace: tokio::sync::Mutex::new(Pace::new(rate)),
        })
    }

    /// Whether the socket is still open.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Events the hub has sent this socket.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Results `ok: true` the hub sent this socket for its commands.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Sends `command` as `{"type":"command","id":…}` and answers its result frame
    /// (`ok` true or false); an error only when no result came (the socket closed or
    /// the hub did not answer in time).
    pub async fn command(&self, id: &str, command: &Value) -> Result<Value, LoadError> {
        if !self.is_open() {
            return Err(LoadError::Connect("the socket is closed".into()));
        }
        self.pace.lock().await.take().await;
        let (done, result) = oneshot::channel();
        lock(&self.pending).insert(id.to_string(), done);
        let frame = json!({"type": "command", "id": id, "command": command}).to_string();
        if self.tx.send(Message::text(frame)).is_err() {
            lock(&self.pending).remove(id);
            return Err(LoadError::Connect("the socket is closed".into()));
        }
        match tokio::time::timeout(RESULT_WAIT, result).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(LoadError::Connect(format!(
                "the socket closed before the result of {id}"
            ))),
            Err(_) => {
                lock(&self.pending).remove(id);
                Err(LoadError::Connect(format!("no result for {id} in time")))
            }
        }
    }

    /// Closes the socket (the hub sees a normal close).
    pub fn close(&self) {
        let _ = self.tx.send(Message::Close(None));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A token bucket on the client's side: `rate` frames a second, bursts of `rate`
/// (the hub allows twice that, and counts the client's pongs too).
struct Pace {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Pace {
    fn new(rate: u32) -> Pace {
        let rate = f64::from(rate.max(1));
        Pace {
            tokens: rate,
            rate,
            last: Instant::now(),
        }
    }

    /// Waits, if it must, until one more frame keeps within the rate.
    async fn take(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
            tokio::time::sleep(wait).await;
            self.tokens = 1.0;
            self.last = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_paces_itself_under_the_rate() {
        let mut pace = Pace::new(50);
        let start = Instant::now();
        for _ in 0..50 {
            pace.take().await;
        }
        // The burst goes at once…
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        for _ in 0..10 {
            pace.take().await;
        }
        // …then one frame every fiftieth of a second.
        assert!(
            start.elapsed() >= Duration::from_millis(195),
            "{:?}",
            start.elapsed()
        );
    }
}
