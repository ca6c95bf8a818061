//! The connection registry and the fan-out. Every open socket is registered with its
//! viewer (user, role, resource) and a bounded queue. The fan-out task routes each
//! durable event, already serialised once, to the queues of the connections that may
//! see it: desk connections as a group, field connections through the by-resource and
//! by-user indexes. It never waits on a client: a full queue closes that connection
//! with 4409 so it resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use dashmap::DashMap;
use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::{Notify, broadcast, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tracing::warn;

use super::Published;
use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::domain::user::Role;
use muster_core::engine::visibility::Viewer;

/// Identifies one connection for the life of the process.
pub type ConnId = u64;

/// Close code: the client fell too far behind and must resume.
pub const CLOSE_TOO_FAR_BEHIND: u16 = 4409;

/// Close code: the session ended (log-out, expiry, user disabled, new password).
pub const CLOSE_SESSION_ENDED: u16 = 4401;

/// What the socket's writer sends, in queue order.
#[derive(Debug)]
pub enum Outbound {
    /// A durable event's frame, with its seq so a resumed client gets no duplicates,
    /// and when it became durable (for the delivery latency).
    Event(u64, Utf8Bytes, std::time::Instant),
    /// Any other text frame (results, pongs), in order behind the events before it.
    Text(Utf8Bytes),
    /// A WebSocket ping (server keep-alive).
    Ping,
}

/// A request to close one connection, settable from any task.
#[derive(Debug, Default)]
pub struct Closer {
    code: AtomicU16,
    notify: Notify,
}

impl Closer {
    /// Asks the connection to close with `code`; the first request wins. Both the
    /// socket's reader and its writer wait for this, so every waiter is woken.
    pub fn close(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_waiters();
        }
    }

    /// Waits for a close request and returns its code.
    pub async fn requested(&self) -> u16 {
        loop {
            // Registered before the check, so a close between the two is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let code = self.code.load(Ordering::Acquire);
            if code != 0 {
                return code;
            }
            notified.await;
        }
    }
}

/// One registered connection.
#[derive(Debug)]
pub struct Conn {
    pub id: ConnId,
    pub viewer: Viewer,
    /// The session it was opened with, so a log-out closes exactly its sockets.
    pub token_hash: String,
    /// The session's password tag, so a socket can be checked against its user again
    /// when a revocation may have been missed.
    pub password_tag: String,
    /// Frames waiting for the socket's writer.
    pub queue: Queue,
    pub closer: Closer,
}

/// A bounded single-consumer queue that allocates only while it holds something, so
/// an idle connection costs a few words rather than a channel's first block.
#[derive(Debug)]
pub struct Queue {
    items: Mutex<VecDeque<Outbound>>,
    ready: Notify,
    capacity: usize,
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Queue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            capacity,
        }
    }

    /// Adds an item; false (and nothing added) when the queue is full.
    fn push(&self, item: Outbound) -> bool {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if items.len() >= self.capacity {
            return false;
        }
        items.push_back(item);
        drop(items);
        self.ready.notify_one();
        true
    }

    /// The next item, waiting for one.
    pub async fn pop(&self) -> Outbound {
        loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if let Some(item) = self.try_pop() {
                return item;
            }
            ready.await;
        }
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next item if there is one; gives memory back once drained.
    pub fn try_pop(&self) -> Option<Outbound> {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let item = items.pop_front();
        if items.is_empty() && items.capacity() > 64 {
            items.shrink_to(8);
        }
        item
    }
}

impl Conn {
    fn is_desk(&self) -> bool {
        self.viewer.role.sees_everything()
    }

    /// Queues a frame; a full queue closes the connection instead of waiting.
    pub fn push(&self, item: Outbound) {
        if !self.queue.push(item) {
            self.closer.close(CLOSE_TOO_FAR_BEHIND);
        }
    }

    fn push_event(&self, seq: u64, frame: &Utf8Bytes, durable: std::time::Instant) {
        self.push(Outbound::Event(seq, frame.clone(), durable));
    }
}

/// Every open connection, indexed for routing.
pub struct Registry {
    all: DashMap<ConnId, Arc<Conn>>,
    desk: DashMap<ConnId, Arc<Conn>>,
    by_user: DashMap<UserId, Vec<Arc<Conn>>>,
    by_resource: DashMap<ResourceId, Vec<Arc<Conn>>>,
    next_id: AtomicU64,
    /// Bound of each connection's queue.
    queue: usize,
    /// The seq of the last event the fan-out has routed: a connection holds back a
    /// command's result until its events have been routed, so results follow events.
    routed_tx: watch::Sender<u64>,
}

/// Removes the connection from every index when the socket's task ends.
pub struct Registration {
    registry: Arc<Registry>,
    pub conn: Arc<Conn>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(&self.conn);
    }
}

impl Registry {
    pub fn new(queue: usize) -> Self {
        Registry {
            all: DashMap::new(),
            desk: DashMap::new(),
            by_user: DashMap::new(),
            by_resource: DashMap::new(),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
            routed_tx: watch::channel(0).0,
        }
    }

    /// How many connections this user has open.
    pub fn count_for(&self, user_id: &UserId) -> usize {
        self.by_user.get(user_id).map_or(0, |v| v.len())
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// How many distinct users have a socket open, by role.
    pub fn users_by_role(&self) -> Vec<(Role, usize)> {
        let mut users = std::collections::HashSet::new();
        for c in self.all.iter() {
            users.insert((c.viewer.role.as_str(), c.viewer.user_id.clone()));
        }
        Role::ALL
            .iter()
            .map(|role| {
                let n = users.iter().filter(|(r, _)| *r == role.as_str()).count();
                (*role, n)
            })
            .collect()
    }

    /// Watches the seq of the last routed event.
    pub fn routed(&self) -> watch::Receiver<u64> {
        self.routed_tx.subscribe()
    }

    /// Registers a connection unless its user already has `max_per_user` open; events
    /// it may see are queued from now on. Counting and registering happen under the
    /// user's index entry lock, so parallel connects cannot both see room for one.
    pub fn try_register(
        self: &Arc<Self>,
        session: &crate::hub::tokens::Session,
        max_per_user: usize,
    ) -> Option<Registration> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            viewer: session.viewer(),
            token_hash: session.token_hash.clone(),
            password_tag: session.password_tag.clone(),
            queue: Queue::new(self.queue),
            closer: Closer::default(),
        });
        {
            let mut mine = self.by_user.entry(conn.viewer.user_id.clone()).or_default();
            if mine.len() >= max_per_user {
                drop(mine);
                // Do not leave an empty entry behind for a user with no sockets.
                self.by_user
                    .remove_if(&conn.viewer.user_id, |_, v| v.is_empty());
                return None;
            }
            mine.push(conn.clone());
        }
        self.all.insert(id, conn.clone());
        if conn.is_desk() {
            self.desk.insert(id, conn.clone());
        }
        if let Some(r) = &conn.viewer.resource_id {
            self.by_resource
                .entry(r.clone())
                .or_default()
                .push(conn.clone());
        }
        Some(Registration {
            registry: self.clone(),
            conn,
        })
    }

    fn remove(&self, conn: &Conn) {
        self.all.remove(&conn.id);
        self.desk.remove(&conn.id);
        remove_from(&self.by_user, &conn.viewer.user_id, conn.id);
        if let Some(r) = &conn.viewer.resource_id {
            remove_from(&self.by_resource, r, conn.id);
        }
    }

    /// Closes with 4401 every connection whose user may no longer use its session
    /// ([`crate::hub::tokens::user_allows`] on `users`), for when a
    /// revocation may have been missed; returns the users whose sockets were closed.
    pub fn close_stale_sessions(
        &self,
        users: &std::collections::BTreeMap<UserId, muster_core::domain::user::User>,
    ) -> Vec<UserId> {
        let mut closed: Vec<UserId> = Vec::new();
        for c in self.all.iter() {
            let user = users.get(&c.viewer.user_id);
            if !crate::hub::tokens::user_allows(&c.viewer, &c.password_tag, user) {
                c.closer.close(CLOSE_SESSION_ENDED);
                if !closed.contains(&c.viewer.user_id) {
                    closed.push(c.viewer.user_id.clone());
                }
            }
        }
        closed
    }

    /// Closes every connection matching `pred` with `code`.
    pub fn close_where(&self, code: u16, pred: impl Fn(&Conn) -> bool) {
        for c in self.all.iter() {
            if pred(c.value()) {
                c.closer.close(code);
            }
        }
    }

    /// Routes one event to every connection that may see it.
    pub fn deliver(&self, p: &Published) {
        let v = &p.visibility;
        if v.everyone {
            for c in self.all.iter() {
                if c.viewer.role != Role::Intake {
                    c.push_event(p.seq, &p.frame, p.durable);
                }
            }
            return;
        }
        if v.desk {
            for c in self.desk.iter() {
                c.push_event(p.seq, &p.frame, p.durable);
            }
        }
        let mut sent: Vec<ConnId> = Vec::new();
        let mut send = |c: &Arc<Conn>| {
            if (!v.desk || !c.is_desk()) && !sent.contains(&c.id) {
                sent.push(c.id);
                c.push_event(p.seq, &p.frame, p.durable);
            }
        };
        for r in &v.resources {
            if let Some(conns) = self.by_resource.get(r) {
                conns.iter().for_each(&mut send);
            }
        }
        for u in &v.users {
            if let Some(conns) = self.by_user.get(u) {
                conns.iter().for_each(&mut send);
            }
        }
        if (v.supervisors || v.dispatchers) && !v.desk {
            for c in self.desk.iter() {
                let role = c.viewer.role;
                if (v.supervisors && role == Role::Supervisor)
                    || (v.dispatchers && role.can_dispatch())
                {
                    send(c.value());
                }
            }
        }
    }

    /// Panics if the indexes disagree; for tests.
    pub fn check_invariants(&self) {
        for c in self.all.iter() {
            let conn = c.value();
            assert_eq!(
                self.desk.contains_key(&conn.id),
                conn.is_desk(),
                "desk index for {}",
                conn.id
            );
            let in_user = self
                .by_user
                .get(&conn.viewer.user_id)
                .is_some_and(|v| v.iter().any(|x| x.id == conn.id));
            assert!(
                in_user,
                "connection {} missing from its user's index",
                conn.id
            );
            if let Some(r) = &conn.viewer.resource_id {
                assert!(
                    self.by_resource
                        .get(r)
                        .is_some_and(|v| v.iter().any(|x| x.id == conn.id))
                );
            }
        }
        for index in [&self.by_user as &dyn IndexCheck, &self.by_resource] {
            index.check(&self.all);
        }
        assert!(
            self.desk.iter().all(|c| self.all.contains_key(c.key())),
            "desk index holds a closed connection"
        );
    }
}

trait IndexCheck {
    fn check(&self, all: &DashMap<ConnId, Arc<Conn>>);
}

impl<K: std::hash::Hash + Eq + std::fmt::Debug> IndexCheck for DashMap<K, Vec<Arc<Conn>>> {
    fn check(&self, all: &DashMap<ConnId, Arc<Conn>>) {
        for e in self.iter() {
            assert!(!e.value().is_empty(), "empty index entry for {:?}", e.key());
            assert!(
                e.value().iter().all(|c| all.contains_key(&c.id)),
                "index {:?} holds a closed connection",
                e.key()
            );
        }
    }
}

fn remove_from<K: std::hash::Hash + Eq + Clone>(
    index: &DashMap<K, Vec<Arc<Conn>>>,
    key: &K,
    id: ConnId,
) {
    let empty = match index.get_mut(key) {
        Some(mut v) => {
            v.retain(|c| c.id != id);
            v.is_empty()
        }
        None => false,
    };
    if empty {
        index.remove_if(key, |_, v| v.is_empty());
    }
}

/// Runs the fan-out: every published event, in order, to the connections that may
/// see it. If the fan-out itself falls behind the publisher, every connection is told
/// to resume rather than silently missing events.
pub fn spawn_fanout(registry: Arc<Registry>, mut events: broadcast::Receiver<Arc<Published>>) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(p) => {
                    registry.deliver(&p);
                    registry.routed_tx.send_replace(p.seq);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(
                        missed = n,
                        "fan-out fell behind; every connection must resume"
                    );
                    registry.close_where(CLOSE_TOO_FAR_BEHIND, |_| true);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::tokens::Session;

    fn session() -> Session {
        Session {
            token_hash: "h".into(),
            user_id: UserId("usr_1".into()),
            role: Role::Supervisor,
            resource_id: None,
            expires_at: chrono::Utc::now(),
            password_tag: String::new(),
        }
    }

    #[test]
    fn parallel_registrations_never_pass_the_cap() {
        let registry = Arc::new(Registry::new(8));
        let session = session();
        let held: Vec<Registration> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..200)
                            .filter_map(|_| registry.try_register(&session, 3))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        assert_eq!(held.len(), 3);
        assert_eq!(registry.count_for(&session.user_id), 3);
        registry.check_invariants();
        drop(held);
        assert!(registry.is_empty());
        registry.check_invariants();
    }
}
