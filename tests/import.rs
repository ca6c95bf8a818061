//! CSV import and export of users and resources (`/api/import/*`) through the routes,
//! against a real hub on a temporary SQLite log with the demo centre: a file with bad
//! rows applies nothing and names exactly those lines; a corrected file applies in one
//! append (one batch of logged commands); the same file again applies nothing; a dry
//! run applies nothing; the export reads back as an import that changes nothing.

mod support;

use serde_json::{Value, json};

use muster::hub::metrics::Metrics;

use support::{Answer, DEMO_PASSWORD, InProcess as Hub};

impl Hub {
    async fn token(&self, username: &str) -> String {
        self.login(username, DEMO_PASSWORD).await
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let a = self
            .send(
                warp::test::request()
                    .method("POST")
                    .path("/api/login")
                    .json(&json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body["token"].as_str().unwrap().to_string()
    }

    async fn import(&self, token: &str, what: &str, csv: &str, dry_run: bool) -> Answer {
        let q = if dry_run { "?dry_run=true" } else { "" };
        self.send(
            warp::test::request()
                .method("POST")
                .path(&format!("/api/import/{what}{q}"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await
    }

    async fn export(&self, token: &str, what: &str) -> Answer {
        self.send(
            warp::test::request()
                .method("GET")
                .path(&format!("/api/import/{what}"))
                .header("authorization", format!("Bearer {token}")),
        )
        .await
    }

    fn seq(&self) -> u64 {
        self.app.hub.seq()
    }

    fn batches(&self) -> u64 {
        Metrics::get(&self.app.hub.metrics.batches)
    }

    /// The stored events after `seq`: (seq, at, kind).
    async fn events_after(&self, seq: u64) -> Vec<(u64, String, String)> {
        self.app
            .hub
            .log
            .read_from(seq, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.at.to_rfc3339(), e.kind))
            .collect()
    }
}

fn answer(a: &Answer) -> (u64, Vec<(u64, String)>, u64) {
    let errors = a.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list: {}", a.text))
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (
        a.body["rows"].as_u64().unwrap(),
        errors,
        a.body["applied"].as_u64().unwrap(),
    )
}

/// 500 users, operators and supervisors; with `bad`, three rows refused for three
/// reasons.
fn users_csv(bad: bool) -> String {
    let mut csv = String::from("username,name,role,resource\n");
    for i in 1..=500 {
        let role = if i % 2 == 0 { "operator" } else { "supervisor" };
        let line = i + 1;
        let row = match (bad, line) {
            // An upper-case username, a role the hub does not know, a resource nobody
            // has: lines 41, 302 and 499.
            (true, 41) => format!("Staff{i:03},Staff {i},{role},"),
            (true, 302) => format!("staff{i:03},Staff {i},pilot,"),
            (true, 499) => format!("staff{i:03},Staff {i},field,No Such Van"),
            _ => format!("staff{i:03},Staff {i},{role},"),
        };
        csv.push_str(&row);
        csv.push('\n');
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_users_apply_all_or_nothing_in_one_append() {
    let hub = Hub::start().await;
    let admin = hub.token("admin").await;

    // Three bad rows: nothing applied, exactly those lines named.
    let before = hub.seq();
    let a = hub.import(&admin, "users", &users_csv(true), false).await;
    assert_eq!(a.status, 422, "{}", a.text);
    let (rows, errors, applied) = answer(&a);
    assert_eq!((rows, applied), (500, 0));
    let lines: Vec<u64> = errors.iter().map(|e| e.0).collect();
    assert_eq!(lines, [41, 302, 499], "{errors:?}");
    assert!(errors[0].1.starts_with("username:"), "{errors:?}");
    assert!(errors[1].1.starts_with("role:"), "{errors:?}");
    assert!(errors[2].1.starts_with("resource:"), "{errors:?}");
    assert_eq!(hub.seq(), before, "nothing applied");

    // A dry run of the corrected file: valid, nothing applied.
    let good = users_csv(false);
    let a = hub.import(&admin, "users", &good, true).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(answer(&a), (500, vec![], 0));
    assert_eq!(hub.seq(), before, "a dry run applies nothing");

    // The corrected file: 500 users created in one append, one time, consecutive seqs.
    let batches = hub.batches();
    let a = hub.import(&admin, "users", &good, false).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(answer(&a), (500, vec![], 500));
    assert_eq!(hub.batches(), batches + 1, "one append");
    let events = hub.events_after(before).await;
    assert_eq!(events.len(), 500);
    assert!(events.iter().all(|e| e.2 == "user.created"));
    assert!(
        events.iter().all(|e| e.1 == events[0].1),
        "one time for the batch"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (before + 1..=before + 500).collect::<Vec<_>>());
    hub.app.hub.with_state(|s| {
        let id = &s.usernames["staff250"];
        assert_eq!(s.users[id].name, "Staff 250");
    });

    // The same file again: nothing to do.
    let after = hub.seq();
    let a = hub.import(&admin, "users", &good, false).await;
    assert_eq!(answer(&a), (500, vec![], 0));
    assert_eq!(hub.seq(), after);

    // A changed row is an update of what changed, nothing else.
    let changed = good.replace(
        "staff007,Staff 7,supervisor,",
        "staff007,Staff Seven,operator,",
    );
    let a = hub.import(&admin, "users", &changed, false).await;
    assert_eq!(answer(&a), (500, vec![], 1));
    let events = hub.events_after(after).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].2, "user.updated");

    // The export reads back as an import that changes nothing, and holds no password.
    let csv = hub.export(&admin, "users").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.text.starts_with("username,name,role,resource\r\n"),
        "{}",
        csv.text
    );
    assert!(csv.text.contains("staff007,Staff Seven,operator,\r\n"));
    assert!(!csv.text.contains("argon2"));
    let a = hub.import(&admin, "users", &csv.text, false).await;
    assert_eq!(answer(&a).1, vec![]);
    assert_eq!(answer(&a).2, 0, "the export is the state");

    // Admins only.
    let op = hub.token("operator").await;
    assert_eq!(hub.import(&op, "users", &good, true).await.status, 403);
    assert_eq!(hub.export(&op, "users").await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_are_imported_linked_and_updated() {
    let hub = Hub::start().await;
    let admin = hub.token("admin").await;
    let before = hub.seq();
    // A new field user must carry a resource: the resources first, then the users.
    let resources = "name,kind,team,skills,lat,lon,user\n\
        Van 7,vehicle,north,driving;first_aid,51.51,-0.12,\n\
        Bike 2,person,south,,,,\n\
        Bike 3,bicycle,south,,,,\n\
        Boat 1,vehicle,river,,51.5,,\n";
    let a = hub.import(&admin, "resources", resources, true).await;
    let (rows, errors, applied) = answer(&a);
    assert_eq!((rows, applied), (4, 0));
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        [4, 5],
        "{errors:?}"
    );
    let good = resources
        .replace("Bike 3,bicycle", "Bike 3,person")
        .replace("51.5,,", "51.5,-0.09,");
    let a = hub.import(&admin, "resources", &good, false).await;
    assert_eq!(answer(&a), (4, vec![], 4), "{}", a.text);
    let users = "username,name,role,resource,password\n\
        rider2,Rider Two,field,Bike 2,a good long password\n";
    let a = hub.import(&admin, "users", users, false).await;
    assert_eq!(answer(&a), (1, vec![], 1), "{}", a.text);
    // The password was hashed by the hub and works; it is not in the log.
    let rider = hub.login("rider2", "a good long password").await;
    assert!(!rider.is_empty());
    for e in hub.app.hub.log.read_from(before, 10_000).await.unwrap() {
        assert!(!e.body.contains("a good long password"), "{}", e.body);
    }

    // Moving the rider to Bike 3 and changing the van's team: two commands.
    let moved = good
        .replace("Bike 3,person,south,,,,", "Bike 3,person,south,,,,rider2")
        .replace("Van 7,vehicle,north", "Van 7,vehicle,east");
    let seq = hub.seq();
    let a = hub.import(&admin, "resources", &moved, false).await;
    assert_eq!(answer(&a), (4, vec![], 2), "{}", a.text);
    let kinds: Vec<String> = hub
        .events_after(seq)
        .await
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(kinds, ["resource.updated", "user.updated"]);
    hub.app.hub.with_state(|s| {
        let rider = &s.users[&s.usernames["rider2"]];
        let bike = &s.resources[rider.resource_id.as_ref().unwrap()];
        assert_eq!(bike.name, "Bike 3");
        let van = s.resources.values().find(|r| r.name == "Van 7").unwrap();
        assert_eq!(van.team, "east");
        assert_eq!(van.skills, ["driving", "first_aid"]);
    });

    // A new resource linked to a user in the same file: registered, then linked.
    let seq = hub.seq();
    let more = format!("{moved}Car 9,vehicle,east,,,,rider2\n");
    let a = hub.import(&admin, "resources", &more, false).await;
    assert_eq!(answer(&a), (5, vec![], 2), "{}", a.text);
    let kinds: Vec<String> = hub
        .events_after(seq)
        .await
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(kinds, ["resource.registered", "user.updated"]);

    // The export reads back as nothing to do; formula-like cells are guarded and read
    // back as written.
    let seq = hub.seq();
    let odd = "name,kind,team,skills,lat,lon,user\n=Cart,vehicle,@team,,,,\n";
    assert_eq!(
        answer(&hub.import(&admin, "resources", odd, false).await).2,
        1
    );
    let csv = hub.export(&admin, "resources").await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.contains("'=Cart,vehicle,'@team"), "{}", csv.text);
    assert!(
        csv.text
            .contains("Van 7,vehicle,east,driving;first_aid,51.51,-0.12,\r\n"),
        "{}",
        csv.text
    );
    let a = hub.import(&admin, "resources", &csv.text, false).await;
    assert_eq!(answer(&a), (answer(&a).0, vec![], 0), "{}", a.text);
    assert_eq!(hub.seq(), seq + 1);

    // A header the hub does not know is line 1; too large a body is refused.
    let a = hub
        .import(&admin, "resources", "name,colour\nx,red\n", true)
        .await;
    assert_eq!(answer(&a).1[0].0, 1);
    let big = "name,kind,team\n".to_string() + &"x,person,t\n".repeat(300_000);
    let a = hub.import(&admin, "resources", &big, true).await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "too_large");
}

mod binary;

/// `muster import` against the real binary: a dry run applies nothing, a file with a
/// bad row exits non-zero naming its line, the good file applies and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_imports_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let hub = binary::Serve::new(dir.path()).start();
    let url = format!("http://{}", hub.addr);
    let file = dir.path().join("users.csv");
    let run = |file: &std::path::Path, dry_run: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_muster"));
        cmd.args(["import", "users"])
            .arg(file)
            .args(["--hub", &url])
            .env("MUSTER_USERNAME", "admin")
            .env("MUSTER_PASSWORD", DEMO_PASSWORD)
            .stdin(std::process::Stdio::null());
        if dry_run {
            cmd.arg("--dry-run");
        }
        cmd.output().unwrap()
    };
    let token = muster_load::login(hub.addr, "admin", DEMO_PASSWORD)
        .await
        .unwrap();
    let count = || async {
        let res = reqwest::Client::new()
            .get(format!("{url}/api/state"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let state: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        state["users"].as_array().unwrap().len()
    };
    let before = count().await;

    std::fs::write(
        &file,
        "username,name,role\nclerk1,Clerk One,operator\nclerk2,,nobody\n",
    )
    .unwrap();
    let out = run(&file, false);
    assert!(!out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["errors"][0]["line"], 3, "{printed}");
    assert_eq!(printed["applied"], 0);

    std::fs::write(
        &file,
        "username,name,role\nclerk1,Clerk One,operator\nclerk2,,supervisor\n",
    )
    .unwrap();
    let out = run(&file, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count().await, before, "a dry run applies nothing");
    let out = run(&file, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["applied"], 2, "{printed}");
    assert_eq!(count().await, before + 2);
    drop(hub);
}

/// Shifts from CSV: bad rows named by line and nothing applied; the corrected file
/// adds each shift with `roster.add` in one append; the same file again adds nothing;
/// the export reads back as an import that changes nothing.
#[tokio::test]
async fn shifts_are_imported_all_or_nothing_and_read_back() {
    let hub = Hub::start().await;
    let admin = hub.token("admin").await;
    let at = |hours: i64| {
        let now = chrono::Utc::now() + chrono::Duration::hours(hours);
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (h1, h5, h9, h10, h18) = (at(1), at(5), at(9), at(10), at(18));
    let bad = format!(
        "resource,start,end\n\
         Chen Wei,{h1},{h9}\n\
         Chen Wei,{h5},{h18}\n\
         Chen Wei,tomorrow,{h18}\n\
         Nobody Here,{h1},{h9}\n"
    );
    let before = hub.seq();
    let a = hub.import(&admin, "shifts", &bad, false).await;
    let (rows, errors, applied) = answer(&a);
    assert_eq!((rows, applied), (4, 0), "{}", a.text);
    // The second overlaps the first (which the trial applied), the third's start is not
    // a time, the fourth's resource does not exist.
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        [3, 4, 5],
        "{errors:?}"
    );
    assert!(errors[1].1.starts_with("start:"), "{errors:?}");
    assert_eq!(hub.seq(), before, "nothing applied");

    let good = format!("resource,start,end\nChen Wei,{h1},{h9}\nChen Wei,{h10},{h18}\n");
    let batches = hub.batches();
    let a = hub.import(&admin, "shifts", &good, false).await;
    assert_eq!(answer(&a), (2, vec![], 2), "{}", a.text);
    assert_eq!(hub.batches(), batches + 1, "one append");
    let kinds: Vec<String> = hub
        .events_after(before)
        .await
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(kinds, ["roster.shift_added", "roster.shift_added"]);

    let a = hub.import(&admin, "shifts", &good, false).await;
    assert_eq!(
        answer(&a),
        (2, vec![], 0),
        "the same file again: {}",
        a.text
    );
    let exported = hub.export(&admin, "shifts").await;
    assert_eq!(exported.status, 200);
    assert_eq!(
        exported.text.lines().collect::<Vec<_>>(),
        good.lines().collect::<Vec<_>>()
    );
    let a = hub.import(&admin, "shifts", &exported.text, false).await;
    assert_eq!(answer(&a), (2, vec![], 0), "{}", a.text);
}
