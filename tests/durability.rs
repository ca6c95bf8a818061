//! Crash durability against the real binary: `muster stress` appends under load from
//! many submitters and prints `ok <command id>` for every command whose result came
//! back. The test kills it with SIGKILL at a random moment, restarts it on the same
//! log, and repeats; then every acknowledged command must be in the log, the seqs
//! dense, and the hash chain whole.
//!
//! The kill delay is random on purpose (seeded; set `MUSTER_TEST_SEED` to replay a
//! failure): the point is to land the kill anywhere in a group commit, a snapshot
//! write or recovery.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use rusqlite::Connection;

use muster::store::sqlite::{SqliteLog, verify_blocking};
use muster::store::{EventLog, VerifyReport};

/// How many times the process is killed and restarted on the same log.
const RUNS: usize = 4;

/// The longest a (debug-built) stress process may take to acknowledge its first command.
const FIRST_ACK_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed() -> u64 {
    std::env::var("MUSTER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// One life of `muster stress`: started, under load for `after_first_ack`, killed.
/// Returns the command ids it acknowledged (every `ok` line it wrote before dying).
fn run_and_kill(dir: &Path, after_first_ack: Duration) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["stress", "--dir"])
        .arg(dir)
        .current_dir(repo_root())
        .env("MUSTER_CONFIG", repo_root().join("config/muster.toml"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the muster binary starts");

    // A reader thread forwards lines until EOF, which comes when the process dies: the
    // lines written before the kill are still in the pipe and are read too.
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acked = Vec::new();
    let first = match line_rx.recv_timeout(FIRST_ACK_TIMEOUT) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let status = child.wait().unwrap();
            panic!("stress acknowledged nothing ({e:?}); it exited with {status}");
        }
    };
    acked.push(first);

    // Under load now: keep reading until the random moment, then SIGKILL.
    let kill_at = Instant::now() + after_first_ack;
    while let Some(left) = kill_at.checked_duration_since(Instant::now()) {
        match line_rx.recv_timeout(left) {
            Ok(line) => acked.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("stress exited before it was killed: {:?}", child.wait())
            }
        }
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished: {status}");
    acked.extend(line_rx.iter());
    reader.join().unwrap();

    acked
        .into_iter()
        .map(|line| {
            line.strip_prefix("ok ")
                .unwrap_or_else(|| panic!("unexpected stress output {line:?}"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_acknowledged_command_survives_sigkill() {
    let seed = seed();
    eprintln!("durability seed {seed} (MUSTER_TEST_SEED={seed} replays the kill delays)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();

    let mut acked = BTreeSet::new();
    for run in 0..RUNS {
        let delay = Duration::from_millis(rng.random_range(100..=600));
        let ids = run_and_kill(dir.path(), delay);
        eprintln!(
            "run {run}: killed {delay:?} after the first ack, {} acks",
            ids.len()
        );
        for id in ids {
            assert!(
                acked.insert(id.clone()),
                "command id {id} acknowledged twice"
            );
        }
    }

    let path = dir.path().join("stress.sqlite");
    let db = Connection::open(&path).unwrap();

    // Every acknowledged command is in the log.
    let mut logged = BTreeSet::new();
    let mut st = db
        .prepare("SELECT DISTINCT command_id FROM events WHERE command_id IS NOT NULL")
        .unwrap();
    for id in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        logged.insert(id.unwrap());
    }
    let missing: Vec<_> = acked.difference(&logged).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged commands are not in the log, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );

    // Seqs are dense from 1.
    let (count, min, max): (i64, i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((count, min), (max, 1), "seqs are not dense");
    let max = max as u64;
    drop(st);
    drop(db);

    // The hash chain is whole: what `muster verify-log` runs, on the crashed file...
    let report = verify_blocking(&path).expect("a crashed log can be verified");
    assert_eq!(
        report,
        VerifyReport {
            ok: true,
            events: max,
            first_bad_seq: None
        }
    );

    // ...and through the store itself, after which the hub starts on it at the head.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let log = SqliteLog::open(&path).unwrap();
        assert_eq!(log.verify().await.unwrap().first_bad_seq, None);
        // The stress hub seals nothing (it has no master key).
        let vault = muster_vault::Vault::new(&muster_vault::MasterKey::generate(), 3).plain();
        let (state, _) = muster::hub::recovery::load(&log, &vault).await.unwrap();
        assert_eq!(state.seq, max);
        assert!(log.latest_snapshot().await.unwrap().is_some());
    });
}
