//! A private `redis-server` for one test: a free port, a temp dir, AOF with
//! `appendfsync always`, killed (SIGKILL) when the guard drops. When redis-server is
//! not installed the test is skipped loudly, or fails under `MUSTER_REQUIRE_ALL_TOOLS=1`.
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
    /// Starts one with `appendfsync always`; `None` (after printing SKIPPED) when
    /// redis-server is missing and tools are not required.
    pub fn start() -> Option<RedisServer> {
        Self::start_with("always")
    }

    pub fn start_with(fsync: &'static str) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            if std::env::var("MUSTER_REQUIRE_ALL_TOOLS").as_deref() == Ok("1") {
                panic!("redis-server not installed and MUSTER_REQUIRE_ALL_TOOLS=1");
            }
            eprintln!("SKIPPED: redis-server not installed");
            return None;
        }
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
        Some(s)
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
