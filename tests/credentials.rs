//! Password hashes live in the credential store beside the log, never in it (issue
//! 17): against the real binary, an account made and given a new password over the
//! API logs in after a restart with the new password only, and no file in the data
//! directory but `credentials.sqlite3` holds an Argon2id hash.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{Value, json};

mod binary;
use binary::{Binary, Serve};

fn start(dir: &Path) -> Binary {
    Serve::new(dir).start()
}

async fn command(addr: SocketAddr, token: &str, id: &str, command: Value) -> Value {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("http://{addr}/api/commands"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({"id": id, "command": command}).to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "{id}: {status} {body}");
    body
}

/// Every file under `dir` (recursively) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found
}

#[tokio::test]
async fn passwords_live_in_the_credential_store_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start(dir.path());
    let admin = muster_load::login(hub.addr, "admin", "muster-demo")
        .await
        .unwrap();
    let made = command(
        hub.addr,
        &admin,
        "make-1",
        json!({"kind": "user.create", "username": "ledger", "role": "operator",
               "password": "first password 1"}),
    )
    .await;
    let user_id = made["data"]["user_id"].as_str().unwrap().to_string();
    muster_load::login(hub.addr, "ledger", "first password 1")
        .await
        .unwrap();
    command(
        hub.addr,
        &admin,
        "reset-1",
        json!({"kind": "user.password", "user_id": user_id, "password": "second password 2"}),
    )
    .await;
    hub.stop();

    let hub = start(dir.path());
    assert!(
        muster_load::login(hub.addr, "ledger", "first password 1")
            .await
            .is_err(),
        "the old password no longer works"
    );
    muster_load::login(hub.addr, "ledger", "second password 2")
        .await
        .unwrap();
    muster_load::login(hub.addr, "admin", "muster-demo")
        .await
        .unwrap();
    hub.stop();

    assert_eq!(
        files_containing(dir.path(), b"$argon2id$"),
        ["credentials.sqlite3"],
        "only the credential store holds password hashes"
    );
}
