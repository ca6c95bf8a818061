//! Sockets for the load generator: many connections from one machine, spread over
//! several loopback source addresses, with the open-file limit raised first.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::LoadError;

/// A client socket, after the welcome.
pub type Ws = WebSocketStream<TcpStream>;

/// How many `127.0.0.x` source addresses connections are spread over. Each address
/// has its own ephemeral ports, so one machine can open far more than one address's
/// ~28,000 connections to one hub port. 32 also keeps each address under the hub's
/// shipped per-address cap (`limits.max_connections_per_address`, 1,000): 15,000
/// sockets are ~470 an address, and even a reconnect wave that overlaps the sockets
/// it replaces stays under 1,000. The suite thus runs the cap a real hub ships with
/// rather than lifting it.
const SOURCES: u32 = 32;

static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// Raises this process's open-file limit to the hard limit; returns the new soft
/// limit (one socket is one file, so this caps the connections a run can open).
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write or read only the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

/// Fails early, saying which limit stops the run, when `n` sockets (plus a margin
/// for the process's own files) would not fit in this process's open-file limit.
pub fn check_room(n: usize) -> Result<(), LoadError> {
    let limit = raise_nofile();
    let needed = n as u64 + 64;
    if limit < needed {
        return Err(LoadError::Limit(format!(
            "{n} connections need {needed} open files but this process may open {limit} \
             (RLIMIT_NOFILE hard limit); run fewer connections or raise the hard limit"
        )));
    }
    Ok(())
}

/// A TCP connection to `addr` from the next loopback source address, Nagle off.
pub async fn tcp(addr: SocketAddr, small_rcvbuf: bool) -> Result<TcpStream, LoadError> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| connect_error(&e))?;
    if addr.is_ipv4() && addr.ip().is_loopback() {
        let i = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) as u32 % SOURCES;
        let source = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 1)) + i);
        socket
            .bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))
            .map_err(|e| connect_error(&e))?;
    }
    if small_rcvbuf {
        // A slow consumer's kernel buffer stays small, so the hub's queue fills
        // (rather than megabytes of socket buffer) when it stops reading.
        socket
            .set_recv_buffer_size(4096)
            .map_err(|e| connect_error(&e))?;
    }
    let stream = socket.connect(addr).await.map_err(|e| connect_error(&e))?;
    stream.set_nodelay(true).map_err(|e| connect_error(&e))?;
    Ok(stream)
}

fn connect_error(e: &std::io::Error) -> LoadError {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => LoadError::Limit(format!(
            "out of file descriptors ({e}): the open-file limit stops this run"
        )),
        Some(libc::EADDRNOTAVAIL) => LoadError::Limit(format!(
            "out of local ports ({e}): spread over more source addresses"
        )),
        _ => LoadError::Connect(e.to_string()),
    }
}

/// The welcome frame, parsed.
pub struct Welcome {
    pub seq: u64,
    pub resumed: bool,
}

/// Connects, says hello (resuming after `resume_from` if given) and reads the welcome.
pub async fn connect(
    addr: SocketAddr,
    token: &str,
    resume_from: Option<u64>,
    small_rcvbuf: bool,
) -> Result<(Ws, Welcome), LoadError> {
    let stream = tcp(addr, small_rcvbuf).await?;
    // Small buffers, as the hub uses: tungstenite's default 128 KiB read buffer per
    // socket would make 10,000 watchers cost the generator over a gigabyte.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let request = format!("ws://{addr}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| LoadError::Connect(e.to_string()))?;
    let mut hello = serde_json::json!({"type": "hello", "token": token});
    if let Some(seq) = resume_from {
        hello["resume_from"] = seq.into();
    }
    ws.send(Message::text(hello.to_string()))
        .await
        .map_err(|e| LoadError::Connect(e.to_string()))?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("\"welcome\"") => {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
            let welcome = Welcome {
                seq: v["seq"].as_u64().unwrap_or(0),
                resumed: v["resumed"].as_bool().unwrap_or(false),
            };
            Ok((ws, welcome))
        }
        other => Err(LoadError::Connect(format!("no welcome: {other:?}"))),
    }
}

/// Opens `n` sockets with the given tokens (round robin), at most `parallel`
/// handshakes at a time, each resuming after `resume_from` when given (a client that
/// was already connected: no snapshot in its welcome).
pub async fn connect_many(
    addr: SocketAddr,
    tokens: &[String],
    n: usize,
    parallel: usize,
    resume_from: Option<u64>,
) -> Result<Vec<Ws>, LoadError> {
    check_room(n)?;
    let gate = Arc::new(Semaphore::new(parallel));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (gate, token) = (gate.clone(), tokens[i % tokens.len()].clone());
            tokio::spawn(async move {
                let _p = gate.acquire_owned().await;
                connect(addr, &token, resume_from, false)
                    .await
                    .map(|(ws, _)| ws)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.map_err(|e| LoadError::Connect(e.to_string()))??);
    }
    Ok(out)
}
