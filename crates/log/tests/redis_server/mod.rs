//! A private `redis-server` for one test: a free port, a temp dir, AOF with
//! `appendfsync always`, killed (SIGKILL) when the guard drops.
//!
//! The tests that use it are `#[ignore = "needs redis-server; scripts/test runs them"]`:
//! plain `cargo test` reports them as ignored (never as passed without running), and
//! `scripts/test` runs them with `-- --ignored`, installing redis-server when it can.
//! Run that way, a missing redis-server fails the test (under CI, always).
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub fsync: &'static str,
}

impl RedisServer {
    /// Starts one with `appendfsync always`.
    pub fn start() -> RedisServer {
        Self::start_with("always")
    }

    /// Starts one with `appendfsync` set to `fsync`; panics when redis-server is not
    /// installed: a test that needs it must not pass without it.
    pub fn start_with(fsync: &'static str) -> RedisServer {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        assert!(
            installed,
            "redis-server is not installed: this test needs it (scripts/test installs it \
             when it can, then runs these tests with `-- --ignored`)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            fsync,
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)starts on the same port and dir, waiting until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                self.fsync,
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        self.wait_ready();
        // A port another test took in the meantime: ours exited, theirs answered.
        let exited = self.child.as_mut().map(|c| c.try_wait());
        assert!(
            matches!(exited, Some(Ok(None))),
            "redis-server on port {} exited: {exited:?}",
            self.port
        );
    }

    fn wait_ready(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok()
                    && let Ok(n) = s.read(&mut buf)
                    && buf[..n].starts_with(b"+PONG")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not start", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
