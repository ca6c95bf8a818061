//! One WebSocket client, from `hello` to close. The reader (this task) handles the
//! client's frames, its rate limit, session revocation, expiry and shutdown; a writer
//! task drains the connection's bounded queue, where the fan-out puts events and the
//! reader puts results behind the events they follow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tracing::{Span, debug, info};

use super::commands::{parse, prepare_for, result_json, result_json_for};
use crate::http::App;
use crate::hub::Published;
use crate::hub::connections::{Conn, Outbound};
use crate::hub::journal::Backlog;
use crate::hub::tokens::{Revoked, Session};
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Command, Error};

/// Close codes from PROTOCOL.md. The two the hub itself closes with (a lagging
/// connection, a revoked session) are its own constants, named here again.
pub mod close {
    use crate::hub::connections::{CLOSE_SESSION_ENDED, CLOSE_TOO_FAR_BEHIND};

    pub const GOING_AWAY: u16 = 1001;
    pub const BAD_FIRST_FRAME: u16 = 4400;
    pub const UNAUTHENTICATED: u16 = CLOSE_SESSION_ENDED;
    pub const HELLO_TIMEOUT: u16 = 4408;
    /// The session store cannot answer now: not "session ended" (4401), which would
    /// log the user out; come back later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const TOO_FAR_BEHIND: u16 = CLOSE_TOO_FAR_BEHIND;
    pub const TOO_LARGE: u16 = 4413;
    pub const RATE_LIMITED: u16 = 4429;
}

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Stream<S> = SplitStream<WebSocketStream<S>>;

/// The client's first frame, `{"type":"hello","token":…,"resume_from"?}`.
#[derive(Debug, Deserialize)]
pub struct Hello {
    #[serde(rename = "type")]
    kind: String,
    pub token: String,
    #[serde(default)]
    pub resume_from: Option<u64>,
}

/// Decodes the first frame's text into a hello, or the close code and reason it earns.
pub fn decode_hello(text: &str) -> Result<Hello, (u16, &'static str)> {
    let hello: Hello = serde_json::from_str(text).map_err(|_| {
        (
            close::BAD_FIRST_FRAME,
            "the first frame must be {\"type\":\"hello\",\"token\":…}",
        )
    })?;
    if hello.kind != "hello" {
        return Err((close::BAD_FIRST_FRAME, "the first frame must be a hello"));
    }
    Ok(hello)
}

/// Serves one socket until it closes.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    mut ws: WebSocketStream<S>,
    app: Arc<App>,
) {
    // Listen for revocations before the token is checked, so none can slip between.
    let revoked = app.tokens.revocations();
    let (session, resume_from) = match Box::pin(hello(&mut ws, &app)).await {
        Ok(h) => h,
        Err((code, reason)) => return close_now(&mut ws, code, reason).await,
    };
    Span::current()
        .record("user", session.user_id.as_str())
        .record("role", session.role.as_str());
    let limit = app.settings.limits.max_connections_per_user;
    let Some(registration) = app.registry.try_register(&session, limit) else {
        return close_now(
            &mut ws,
            close::RATE_LIMITED,
            "too many connections for this user",
        )
        .await;
    };
    let conn = registration.conn.clone();
    // A client that never reads its welcome must not hold this task (and its
    // registration) for ever.
    let write_limit = write_timeout(&app);
    let welcomed = tokio::time::timeout(
        write_limit,
        Box::pin(welcome(ws.get_mut(), &app, &session, resume_from)),
    )
    .await;
    let last_sent = match welcomed {
        Ok(Ok(seq)) => seq,
        Ok(Err(_)) => return,
        Err(_) => {
            debug!("the client did not take its welcome in time");
            return;
        }
    };
    info!(
        resumed = resume_from.is_some(),
        seq = last_sent,
        "connected"
    );
    let (sink, mut stream) = ws.split();
    let writer = tokio::spawn(write(
        sink,
        conn.clone(),
        last_sent,
        write_limit,
        app.hub.metrics.clone(),
    ));
    let code = read(&mut stream, &app, &session, &conn, revoked).await;
    conn.closer.close(code);
    drop(registration);
    let _ = writer.await;
    debug!(code, "disconnected");
}

/// Waits for the first frame: a valid `hello` within the time limit, with a live token.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut WebSocketStream<S>,
    app: &App,
) -> Result<(Session, Option<u64>), (u16, &'static str)> {
    let limit = Duration::from_secs(app.settings.limits.hello_timeout_secs);
    let first = match tokio::time::timeout(limit, stream.next()).await {
        Err(_) => return Err((close::HELLO_TIMEOUT, "no hello within the time limit")),
        Ok(None) => return Err((close::GOING_AWAY, "closed before hello")),
        Ok(Some(Err(e))) => return Err(frame_error(&e)),
        Ok(Some(Ok(m))) => m,
    };
    let Message::Text(text) = first else {
        return Err((
            close::BAD_FIRST_FRAME,
            "the first frame must be a text hello",
        ));
    };
    let hello = decode_hello(&text)?;
    let session = app
        .tokens
        .authenticate(&hello.token, &app.hub)
        .await
        .map_err(|_| {
            (
                close::TRY_AGAIN_LATER,
                "the session store cannot answer now; try again",
            )
        })?
        .ok_or((
            close::UNAUTHENTICATED,
            "token unknown or expired; log in again",
        ))?;
    Ok((session, hello.resume_from))
}

/// How long one write to a socket may take (the welcome, or a batch of frames) before
/// the client is taken not to be reading: `limits.write_timeout_secs`.
fn write_timeout(app: &App) -> Duration {
    Duration::from_secs(app.settings.limits.write_timeout_secs.max(1))
}

/// Sends the welcome and whatever the client missed, straight to the socket (see
/// [`super::frame`]); returns the last seq the client now has.
async fn welcome<W: AsyncWrite + Unpin>(
    io: &mut W,
    app: &App,
    session: &Session,
    resume_from: Option<u64>,
) -> std::io::Result<u64> {
    let user = app.hub.with_state(|s| {
        s.users
            .get(&session.user_id)
            .map(muster_core::projection::view::user_json)
    });
    if let Some(after) = resume_from
        && let Some(backlog) = backlog(app, session, after).await
    {
        // `covered` is the last seq the backlog looked at (seen or not): everything
        // after it reaches this socket live, so the welcome must not claim more.
        let (events, covered) = backlog;
        let hello =
            serde_json::json!({"type": "welcome", "user": user, "seq": covered, "resumed": true})
                .to_string();
        let mut frames: Vec<&[u8]> = vec![hello.as_bytes()];
        frames.extend(events.iter().map(|(_, f)| f.as_bytes()));
        super::frame::write_texts(io, &frames).await?;
        return Ok(covered);
    }
    let since = app.hub.closed_since();
    let (seq, snapshot) = app.hub.with_state(|s| {
        let view = muster_core::projection::view::state_for(s, &session.viewer(), since);
        (s.seq, view)
    });
    let hello = serde_json::json!({"type": "welcome", "user": user, "seq": seq, "resumed": false, "snapshot": snapshot}).to_string();
    super::frame::write_texts(io, &[hello.as_bytes()]).await?;
    Ok(seq)
}

/// The events after `after` this client may see, from memory or the log, and the last
/// seq examined; `None` when that is beyond the resume window (the client gets a
/// snapshot instead).
async fn backlog(app: &App, session: &Session, after: u64) -> Option<(Vec<(u64, Utf8Bytes)>, u64)> {
    let viewer = session.viewer();
    let (head, last_erasure) = app.hub.with_state(|s| (s.seq, s.privacy.last_erasure));
    // Events from before an erasure hold what it erased: such a client starts afresh.
    if after > head || after < last_erasure {
        return None;
    }
    let published: Vec<Arc<Published>> = match app.hub.journal.after(after, head) {
        Backlog::Events(events) => events,
        Backlog::TooOld => from_log(app, after, head).await?,
    };
    let window = app.hub.options.resume_window;
    if published
        .first()
        .is_some_and(|p| app.hub.clock.now() - p.at > window)
    {
        return None;
    }
    let covered = published.last().map_or(after, |p| p.seq);
    let visible = published
        .iter()
        .filter(|p| p.visibility.allows(&viewer))
        .map(|p| (p.seq, p.frame.clone()))
        .collect();
    Some((visible, covered))
}

/// Reads missed events back from the log, if the first of them is inside the window.
/// Visibility is judged on today's state (the journal keeps what it was when sent).
async fn from_log(app: &App, after: u64, head: u64) -> Option<Vec<Arc<Published>>> {
    let log = app.hub.log.clone();
    let first = log.read_from(after, 1).await.ok()?.into_iter().next()?;
    if app.hub.clock.now() - first.at > app.hub.options.resume_window {
        return None;
    }
    let mut out = Vec::new();
    let mut seq = after;
    while seq < head {
        let page = log.read_from(seq, 1_024).await.ok()?;
        if page.is_empty() {
            break;
        }
        let records = page
            .iter()
            .map(|s| app.hub.vault.decode(s))
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        app.hub.with_state(|s| {
            for (rec, st) in records.iter().zip(&page) {
                out.push(Arc::new(Published::new(
                    rec,
                    st,
                    muster_core::engine::visibility::of(s, rec),
                    s.incident_of(&rec.event),
                )));
            }
        });
        seq = page.last().map_or(head, |e| e.seq);
    }
    Some(out)
}

/// Drains the connection's queue into the socket until a close is asked for. What
/// queued up while the socket was busy goes out in one write: under load a desk gets
/// hundreds of events a second, and one syscall per frame was most of the hub's CPU.
async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    mut sink: Sink<S>,
    conn: Arc<Conn>,
    mut last_sent: u64,
    limit: Duration,
    metrics: Arc<crate::hub::metrics::Metrics>,
) {
    let exported = &metrics.exported;
    loop {
        let first = tokio::select! {
            biased;
            code = conn.closer.requested() => return close_when_possible(sink, code).await,
            item = conn.queue.pop() => item,
        };
        exported
            .ws_queue_depth
            .observe((conn.queue.len() + 1) as f64);
        let sent = tokio::select! {
            biased;
            code = conn.closer.requested() => return close_when_possible(sink, code).await,
            sent = tokio::time::timeout(limit, send_queued(&mut sink, first, &conn, &mut last_sent)) => sent,
        };
        match sent {
            Ok(Ok(Some(oldest))) => exported
                .delivery_seconds
                .observe(oldest.elapsed().as_secs_f64()),
            Ok(Ok(None)) => {}
            Ok(Err(_)) => {
                conn.closer.close(close::GOING_AWAY);
                return;
            }
            // The client stopped reading: drop the socket (a close frame could not get
            // through either); it resumes when it reconnects.
            Err(_) => {
                conn.closer.close(close::TOO_FAR_BEHIND);
                return;
            }
        }
    }
}

/// Frames written per wake-up at most, so one busy socket cannot hold a worker long.
const MAX_BATCH: usize = 64;

/// Buffers `first` and what else is queued, up to [`MAX_BATCH`] frames (tungstenite
/// writes through once its buffer passes [`super::ws::WRITE_BUFFER`]), and flushes
/// once; events the client already has (sent in the welcome's backlog) are skipped.
/// Answers when the oldest event written became durable, if it wrote any.
async fn send_queued<S: AsyncRead + AsyncWrite + Unpin>(
    sink: &mut Sink<S>,
    first: Outbound,
    conn: &Conn,
    last_sent: &mut u64,
) -> Result<Option<std::time::Instant>, WsError> {
    let mut next = Some(first);
    let mut taken = 0;
    let mut oldest = None;
    while let Some(item) = next {
        let message = match item {
            Outbound::Event(seq, ..) if seq <= *last_sent => None,
            Outbound::Event(seq, frame, durable) => {
                *last_sent = seq;
                oldest.get_or_insert(durable);
                Some(Message::Text(frame))
            }
            Outbound::Text(frame) => Some(Message::Text(frame)),
            Outbound::Ping => Some(Message::Ping(Default::default())),
        };
        if let Some(message) = message {
            sink.feed(message).await?;
        }
        taken += 1;
        next = if taken < MAX_BATCH {
            conn.queue.try_pop()
        } else {
            None
        };
    }
    sink.flush().await?;
    Ok(oldest)
}

/// Sends the close frame if the peer is still reading, but never waits long for a
/// peer that stopped.
async fn close_when_possible<S: AsyncRead + AsyncWrite + Unpin>(mut sink: Sink<S>, code: u16) {
    let reason = match code {
        close::TOO_FAR_BEHIND => "too far behind; reconnect with resume_from",
        close::UNAUTHENTICATED => "session ended; log in again",
        close::RATE_LIMITED => "too many frames; slow down",
        close::TOO_LARGE => "frame too large",
        close::GOING_AWAY => "server going away",
        _ => "",
    };
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}

async fn close_now<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    code: u16,
    reason: &'static str,
) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(Some(frame))).await;
}

/// Maps a read error to the close code the client gets.
fn frame_error(e: &WsError) -> (u16, &'static str) {
    match e {
        WsError::Capacity(_) => (close::TOO_LARGE, "frame too large"),
        WsError::Utf8(_) => (close::BAD_FIRST_FRAME, "text frames must be UTF-8"),
        _ => (close::GOING_AWAY, "connection error"),
    }
}

/// What the reader loop asks for next.
type Pending = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (String, Result<CommandOutcome, muster_core::engine::Error>),
            > + Send,
    >,
>;

/// Reads the client's frames until the connection should close; returns the code.
async fn read<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut Stream<S>,
    app: &Arc<App>,
    session: &Session,
    conn: &Arc<Conn>,
    mut revoked: tokio::sync::broadcast::Receiver<Revoked>,
) -> u16 {
    let limits = &app.settings.limits;
    let mut bucket = Bucket::new(limits.commands_per_second);
    let mut pending: FuturesUnordered<Pending> = FuturesUnordered::new();

    let mut shutdown = app.shutdown.clone();
    let mut routed = app.registry.routed();
    let idle = Duration::from_secs(limits.idle_timeout_secs);
    let mut ping = tokio::time::interval(Duration::from_secs(limits.ping_interval_secs));
    ping.reset();
    let mut last_heard = Instant::now();
    let expires = tokio::time::Instant::now()
        + (session.expires_at - app.hub.clock.now())
            .to_std()
            .unwrap_or_default();
    loop {
        tokio::select! {
            biased;
            code = conn.closer.requested() => return code,
            _ = super::stopping(&mut shutdown) => return close::GOING_AWAY,
            r = revoked.recv() => match r {
                Ok(Revoked::Token(t)) if t == session.token_hash => return close::UNAUTHENTICATED,
                Ok(Revoked::User(u)) if u == session.user_id => return close::UNAUTHENTICATED,
                // Missed revocations may have named this session: ask again. A store
                // that cannot answer keeps the socket open (it is not a log-out).
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Ok(None) = app.tokens.authenticate_hash(&session.token_hash, &app.hub).await {
                        return close::UNAUTHENTICATED;
                    }
                }
                _ => {}
            },
            _ = tokio::time::sleep_until(expires) => return close::UNAUTHENTICATED,
            Some((id, result)) = pending.next() => {
                if let Ok(o) = &result {
                    // Results follow their events: wait until the fan-out has routed them.
                    let _ = routed.wait_for(|s| *s >= o.seq).await;
                }
                conn.push(Outbound::Text(result_json(&id, &result).into()));
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > idle {
                    return close::GOING_AWAY;
                }
                conn.push(Outbound::Ping);
            }
            frame = stream.next() => {
                last_heard = Instant::now();
                let message = match frame {
                    None => return close::GOING_AWAY,
                    Some(Err(e)) => return frame_error(&e).0,
                    Some(Ok(m)) => m,
                };
                // Every frame costs the server work (a ping costs a pong), so every
                // frame counts against the rate, not only commands.
                if !matches!(message, Message::Close(_)) && !bucket.take() {
                    return close::RATE_LIMITED;
                }
                match message {
                    Message::Text(text) => on_text(&text, app, session, conn, &mut pending),
                    Message::Binary(_) => conn.push(Outbound::Text(bad_frame("send JSON in text frames").into())),
                    Message::Close(_) => return close::GOING_AWAY,
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
        }
    }
}

/// Handles one text frame (already counted against the rate).
fn on_text(
    text: &str,
    app: &Arc<App>,
    session: &Session,
    conn: &Conn,
    pending: &mut FuturesUnordered<Pending>,
) {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            conn.push(Outbound::Text(bad_frame(format!("not JSON: {e}")).into()));
            return;
        }
    };
    match value.get("type").and_then(|t| t.as_str()) {
        Some("ping") => conn.push(Outbound::Text(Utf8Bytes::from_static(r#"{"type":"pong"}"#))),
        Some("command") => {
            let id = value
                .get("id")
                .and_then(|i| i.as_str())
                .unwrap_or("")
                .to_string();
            if id.is_empty() || id.len() > 128 {
                conn.push(Outbound::Text(
                    bad_frame("a command needs an id: a string of 1 to 128 characters").into(),
                ));
                return;
            }
            let command = parse(value.get("command").cloned().unwrap_or_default()).and_then(|c| {
                super::commands::for_session(c, &session.token_hash, app.push.as_deref())
            });
            match command {
                Ok(command) => pending.push(submit(app.clone(), session.actor(), id, command)),
                Err(e) => conn.push(Outbound::Text(result_json(&id, &Err(e)).into())),
            }
        }
        Some(other) => conn.push(Outbound::Text(
            bad_frame(format!("unknown frame type {other:?}; use command or ping")).into(),
        )),
        None => conn.push(Outbound::Text(bad_frame("a frame needs a \"type\"").into())),
    }
}

fn submit(
    app: Arc<App>,
    actor: muster_core::engine::Actor,
    id: String,
    command: Command,
) -> Pending {
    Box::pin(async move {
        let result = match prepare_for(&actor, command).await {
            Ok(command) => app.hub.submit(actor, Some(id.clone()), command).await,
            Err(e) => Err(e),
        };
        (id, result)
    })
}

/// The `bad_request` result for a frame that carries no command id we could answer.
fn bad_frame(message: impl Into<String>) -> String {
    result_json_for(None, &Err(Error::BadRequest(message.into())))
}

/// A per-connection token bucket: `rate` frames a second, bursts of twice that.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Bucket {
            tokens: rate * 2.0,
            rate,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
            .min(self.rate * 2.0);
        self.last = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_frame_gets_a_result_with_a_null_id_type_first() {
        assert_eq!(
            bad_frame("a \"b\""),
            r#"{"type":"result","id":null,"ok":false,"error":{"code":"bad_request","message":"a \"b\"","retryable":false}}"#
        );
    }
}
