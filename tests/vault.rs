//! Personal data in the log is sealed (issue 17): a caller's name, phone, e-mail and
//! what they said never reach a file in clear, yet read back through the API; once
//! their keys are erased, the API shows `"[erased]"` after a restart and the log's
//! hash chain still verifies.

#[path = "../crates/log/tests/redis_server/mod.rs"]
mod redis_server;
mod server;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use muster::config::StoreKind;
use muster::engine::command as cmd;
use muster::engine::{Actor, Command};
use muster::time::SystemClock;
use redis_server::RedisServer;
use server::{TestServer, http};

const NAME: &str = "Quintessa Vantablack-Ormerod";
const PHONE: &str = "+44 7700 900 731";
const EMAIL: &str = "quintessa.vo@example.invalid";
const SUMMARY: &str = "Bartholomew Zyxwright collapsed in the stairwell";
const LOCATION: &str = "Flat 9, Obscuraplatz Mansions";

fn secrets() -> [&'static str; 5] {
    [NAME, PHONE, EMAIL, SUMMARY, LOCATION]
}

fn contact() -> Command {
    use muster::domain::contact::{Caller, Channel, ContactReason};
    use muster::domain::geo::Location;
    Command::ContactReceive(cmd::ContactReceive {
        channel: Channel::Phone,
        caller: Caller {
            name: Some(NAME.into()),
            phone: Some(PHONE.into()),
            email: Some(EMAIL.into()),
        },
        location: Some(Location {
            text: Some(LOCATION.into()),
            lat: Some(51.507_412_3),
            lon: Some(-0.127_891_2),
            place_id: None,
        }),
        summary: SUMMARY.into(),
        reason: ContactReason::Report,
    })
}

/// Receives the distinctive contact as the demo's operator; returns its id.
async fn receive(s: &TestServer) -> String {
    let hub = &s.running.app.hub;
    let op = hub.with_state(|st| Actor::of(&st.users[&st.usernames["operator"]]));
    let out = hub.submit(op, None, contact()).await.unwrap();
    out.data["contact_id"].clone()
}

/// Every file under `dir` (recursively) that holds one of `needles`, with which.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for n in needles {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{} holds {n:?}", path.display()));
                }
            }
        }
    }
    found
}

/// The contact as `GET /api/state` shows it to the operator.
async fn contact_via_api(s: &TestServer, id: &str) -> Value {
    let token = s.token("operator").await;
    let (status, body) = http(s.running.addr, "GET", "/api/state", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).unwrap();
    state["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("contact {id} is not in the state"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_details_are_sealed_on_disk_readable_through_the_api_and_erasable() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), |_| {}).await;
    let id = receive(&s).await;

    // Readable through the API...
    let c = contact_via_api(&s, &id).await;
    assert_eq!(c["caller"]["name"], NAME);
    assert_eq!(c["caller"]["phone"], PHONE);
    assert_eq!(c["caller"]["email"], EMAIL);
    assert_eq!(c["summary"], SUMMARY);
    assert_eq!(c["location"]["text"], LOCATION);
    let status = c["status"].clone();
    // ...and in no file of the data dir (the log, its WAL, the keys, the master key).
    assert_eq!(files_holding(dir.path(), &secrets()), Vec::<String>::new());
    let log_path = dir.path().join("muster.sqlite");
    assert!(
        files_holding(dir.path(), &["contact.received"]).len() >= 1,
        "the log was written"
    );
    let key = dir.path().join("master.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the generated master key is owner-only"
        );
    }

    // Erase every key of the contact; the keys are gone from the store.
    let erased = s
        .running
        .app
        .hub
        .erase_keys(&[format!("contact:{id}/")])
        .await
        .unwrap();
    assert_eq!(
        erased,
        [
            format!("contact:{id}/caller_details"),
            format!("contact:{id}/free_text")
        ]
    );
    s.running.shutdown().await;

    // After a restart the API shows them erased; the rounded place is kept; the
    // hash chain is untouched.
    let s = TestServer::start_in(dir.path(), |_| {}).await;
    let c = contact_via_api(&s, &id).await;
    assert_eq!(c["caller"]["name"], "[erased]");
    assert_eq!(c["caller"]["phone"], "[erased]");
    assert_eq!(c["caller"]["email"], "[erased]");
    assert_eq!(c["summary"], "[erased]");
    assert_eq!(c["location"]["text"], "[erased]");
    assert_eq!(c["location"]["lat"], 51.507);
    assert_eq!(c["location"]["lon"], -0.128);
    assert_eq!(c["status"], status, "operational facts are kept");
    s.running.shutdown().await;
    let report = muster::store::sqlite::verify_blocking(&log_path).unwrap();
    assert!(report.ok, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_stops_the_hub_with_a_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), |_| {}).await;
    receive(&s).await;
    s.running.shutdown().await;
    let other = dir.path().join("other.key");
    muster_vault::MasterKey::generate()
        .write_new(&other)
        .unwrap();
    let mut loaded = server::loaded(dir.path());
    loaded.settings.privacy.master_key_file = other;
    let err = muster::server::start_hub(&loaded, Arc::new(SystemClock))
        .await
        .err()
        .expect("the hub refuses a key that does not open the log's keys");
    let text = err.to_string();
    assert!(text.contains("MUSTER_MASTER_KEY_FILE"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn on_redis_a_callers_details_are_in_no_persistence_file_and_erased_keys_leave_the_aof() {
    let redis = RedisServer::start();
    let key = tempfile::tempdir().unwrap();
    let key_file = key.path().join("master.key");
    muster_vault::MasterKey::load_or_create(&key_file).unwrap();
    let url = redis.url();
    let s = TestServer::start_with(
        move |l| {
            l.settings.store.kind = StoreKind::Redis;
            l.settings.store.redis_url = url;
            l.settings.privacy.master_key_file = key_file;
        },
        Arc::new(SystemClock),
    )
    .await;
    let id = receive(&s).await;
    let c = contact_via_api(&s, &id).await;
    assert_eq!(c["caller"]["name"], NAME);
    assert_eq!(
        files_holding(redis.dir.path(), &secrets()),
        Vec::<String>::new()
    );
    let scope = format!("contact:{id}/caller_details");
    assert!(
        !files_holding(redis.dir.path(), &[&scope]).is_empty(),
        "the key was kept"
    );

    let erased = s
        .running
        .app
        .hub
        .erase_keys(&[format!("contact:{id}/")])
        .await
        .unwrap();
    assert_eq!(erased.len(), 2);
    // The AOF is rewritten in the background: wait for it, then the erased keys'
    // scopes (and so their wrapped bytes) are in no file.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query_async(&mut conn)
            .await
            .unwrap();
        let idle =
            info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0");
        if idle && files_holding(redis.dir.path(), &[&scope]).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "the AOF still holds {scope}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test runs them"]
async fn on_redis_another_hub_opens_what_one_hub_sealed_under_a_key_it_made() {
    let redis = RedisServer::start();
    let key = tempfile::tempdir().unwrap();
    let key_file = key.path().join("master.key");
    muster_vault::MasterKey::load_or_create(&key_file).unwrap();
    let start = |url: String, key_file: std::path::PathBuf| {
        TestServer::start_with(
            move |l| {
                l.settings.store.kind = StoreKind::Redis;
                l.settings.store.redis_url = url;
                l.settings.privacy.master_key_file = key_file;
            },
            Arc::new(SystemClock),
        )
    };
    let a = start(redis.url(), key_file.clone()).await;
    let b = start(redis.url(), key_file.clone()).await;
    let id = receive(&a).await;
    let seq = a.running.app.hub.seq();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.running.app.hub.seq() < seq {
        assert!(std::time::Instant::now() < until, "hub b did not follow");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let c = contact_via_api(&b, &id).await;
    assert_eq!(c["caller"]["name"], NAME, "hub b read the key hub a made");
    assert_eq!(c["summary"], SUMMARY);
    a.running.shutdown().await;
    b.running.shutdown().await;
}
