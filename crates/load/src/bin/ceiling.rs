//! The ceiling for the load suite's WebSocket scenarios (S1–S3): a broadcast server
//! with no application logic. It speaks just enough of the hub's protocol for
//! `muster load` to play the same runs against it: `POST /api/login` answers a fixed
//! token, a WebSocket's first frame is answered with a welcome, and every command
//! frame is wrapped as an event and sent to every socket, in order, through a bounded
//! queue (a socket that falls 1,024 events behind is closed with 4409, as the hub
//! does). Sockets get the hub's small buffers, so memory compares like for like.
//!
//! `cargo run --release -p muster-load --bin ceiling -- 127.0.0.1:18090`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

const QUEUE: usize = 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".into());
    raise_nofile();
    let listener = TcpListener::bind(&addr).await?;
    println!("ceiling serving on {addr}");
    let (events, _) = broadcast::channel::<Message>(QUEUE);
    let seq = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of files: keep serving the sockets already open.
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, events.clone(), seq.clone()));
    }
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the calls read and write only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn serve(stream: TcpStream, events: broadcast::Sender<Message>, seq: Arc<AtomicU64>) {
    let mut head = [0u8; 5];
    if stream.peek(&mut head).await.is_err() {
        return;
    }
    if &head == b"POST " || &head[..4] == b"GET " && !is_upgrade(&stream).await {
        return answer_http(stream).await;
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(65536 * 4)
        .max_message_size(Some(65536))
        .max_frame_size(Some(65536));
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    // The first frame is the hello; anything will do.
    if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
        return;
    }
    let welcome = format!(
        r#"{{"type":"welcome","seq":{},"resumed":false}}"#,
        seq.load(Ordering::Relaxed)
    );
    let mut rx = events.subscribe();
    if ws.send(Message::text(welcome)).await.is_err() {
        return;
    }
    let (mut sink, mut source) = ws.split();
    let writer = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(m) => {
                    // What else is waiting goes out in the same write, as the hub does.
                    if sink.feed(m).await.is_err() {
                        return;
                    }
                    for _ in 1..64 {
                        let Ok(m) = rx.try_recv() else { break };
                        if sink.feed(m).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let close = CloseFrame {
                        code: CloseCode::from(4409),
                        reason: "too far behind".into(),
                    };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(Ok(msg)) = source.next().await {
        if let Message::Text(t) = msg
            && t.contains(r#""type":"command""#)
        {
            let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
            let event = format!(r#"{{"type":"event","seq":{n},"event":{t}}}"#);
            let _ = events.send(Message::text(event));
        }
    }
    writer.abort();
}

/// A GET that asks for a WebSocket (peeking, so the handshake can still read it).
async fn is_upgrade(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 2048];
    let n = stream.peek(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .to_ascii_lowercase()
        .contains("upgrade: websocket")
}

/// Log-in (a fixed token) and anything else over plain HTTP (200, empty JSON).
async fn answer_http(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let _ = stream.read(&mut buf).await;
    let body = r#"{"token":"ceiling","user":{"id":"usr_ceiling","role":"supervisor"}}"#;
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
}
