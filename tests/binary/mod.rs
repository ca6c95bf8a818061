//! The real `muster` binary, started by a test: `muster serve` over a data dir on a free
//! loopback port, with the shipped settings and whatever the test changes. It is
//! killed when dropped, so a failing test leaves no hub behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository: where the binary runs, and its shipped settings.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How to start `muster serve`; [`Serve::start`] starts it.
pub struct Serve {
    cmd: Command,
    keep_stdout: bool,
}

impl Serve {
    /// `muster serve` over `data`, bound to `127.0.0.1:0`, quiet (`RUST_LOG=warn`, stderr
    /// discarded), with a command rate no test runs into; the demo as configured.
    pub fn new(data: &Path) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_muster"));
        cmd.arg("serve")
            .current_dir(repo_root())
            .env("MUSTER_CONFIG", repo_root().join("config/muster.toml"))
            .env("MUSTER_DATA_DIR", data)
            .env("MUSTER_BIND", "127.0.0.1:0")
            .env("MUSTER_COMMANDS_PER_SECOND", "10000")
            .env("RUST_LOG", "warn")
            .env_remove("MUSTER_DEMO")
            .env_remove("MUSTER_DEMO_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Serve {
            cmd,
            keep_stdout: true,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Serve {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Serve {
        self.cmd.envs(vars.iter().copied());
        self
    }

    /// An argument after `serve` (e.g. `--demo`).
    pub fn arg(mut self, arg: &str) -> Serve {
        self.cmd.arg(arg);
        self
    }

    pub fn stderr(mut self, stderr: impl Into<Stdio>) -> Serve {
        self.cmd.stderr(stderr);
        self
    }

    /// Closes the hub's stdout once its address is read, so its later writes fail.
    pub fn close_stdout(mut self) -> Serve {
        self.keep_stdout = false;
        self
    }

    /// Starts the binary and waits for the line that names its address.
    pub fn start(mut self) -> Binary {
        let mut child = self.cmd.spawn().expect("the muster binary starts");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = out.next().expect("a start-up line").unwrap();
        let port: u16 = first
            .split("http://")
            .nth(1)
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("an address in {first:?}"));
        // A hub bound to every interface is reached, as a neighbour would, on loopback.
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let (tx, lines) = mpsc::channel();
        if self.keep_stdout {
            std::thread::spawn(move || {
                for line in out.map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Binary { child, addr, lines }
    }
}

/// A running `muster serve`.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Binary {
    /// True while the process runs (the same process: no restart happened).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (with a deadline) for a line on stdout after the first containing `text`.
    pub fn wait_for_line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no line on stdout containing {text:?}"),
            }
        }
    }

    /// A line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{field} in {status}"))
    }

    /// SIGTERM, and the exit status (within 10 s).
    pub fn stop(self) -> ExitStatus {
        self.terminate();
        self.wait_exit()
    }

    /// Sends SIGTERM (a graceful shutdown) without waiting for it.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// SIGKILL, as a crash would, and waits for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The exit status, waiting up to 10 s for it.
    pub fn wait_exit(mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
