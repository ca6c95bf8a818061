//! The HTTP API through `warp::test::request()` against `routes(app)`, with a real hub
//! on a temporary SQLite log and the demo centre seeded (real Argon2id hashing of the
//! one demo password): sessions and their throttle, views by role, incident detail,
//! commands and idempotency, intake, reference and operations routes, error shapes,
//! and that no password hash ever leaves.

mod support;

use serde_json::{Value, json};

use muster::http::api::routes;

use support::{Answer, DEMO_PASSWORD, InProcess as Api, with_token};

impl Api {
    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(with_token(
            warp::test::request().method("GET").path(path),
            token,
        ))
        .await
    }

    /// A GET arriving from the TCP peer `peer` (the hub's accept loop says who that is).
    async fn get_from(&self, path: &str, peer: &str) -> Answer {
        let peer = muster::http::Peer(peer.parse().unwrap());
        self.send(
            warp::test::request()
                .method("GET")
                .path(path)
                .extension(peer),
        )
        .await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let req = warp::test::request().method("POST").path(path).json(body);
        self.send(with_token(req, token)).await
    }

    async fn login(&self, username: &str) -> Answer {
        let body = json!({"username": username, "password": DEMO_PASSWORD});
        self.post("/api/login", None, &body).await
    }

    /// Logs in and returns the token and the user object.
    async fn session(&self, username: &str) -> (String, Value) {
        let a = self.login(username).await;
        assert_eq!(a.status, 200, "{username}: {}", a.text);
        (
            a.body["token"].as_str().unwrap().to_string(),
            a.body["user"].clone(),
        )
    }

    async fn command(&self, token: &str, id: &str, command: Value) -> Answer {
        let body = json!({"id": id, "command": command});
        self.post("/api/commands", Some(token), &body).await
    }

    /// Opens a medical emergency at the Civic Centre, assesses it `P2` and assigns the
    /// resource `resource_id`; returns the incident id.
    async fn dispatched_incident(&self, token: &str, resource_id: &str) -> String {
        let open = self
            .command(
                token,
                "open-1",
                json!({
                    "kind": "incident.open", "type": "medical_emergency",
                    "description": "Person collapsed at the entrance",
                    "location": {"text": "Civic Centre", "lat": 51.5074, "lon": -0.1278}
                }),
            )
            .await;
        assert_eq!(open.status, 200, "{}", open.text);
        let id = open.body["data"]["incident_id"]
            .as_str()
            .unwrap()
            .to_string();
        let assess = json!({
            "kind": "incident.assess", "incident_id": id, "validity": "verified",
            "priority": "P2", "method": "manual", "reason": "caller on scene"
        });
        assert_eq!(self.command(token, "assess-1", assess).await.status, 200);
        let assign =
            json!({"kind": "assignment.create", "incident_id": id, "resource_id": resource_id});
        let a = self.command(token, "assign-1", assign).await;
        assert_eq!(a.status, 200, "{}", a.text);
        id
    }
}

fn error_code(a: &Answer) -> &str {
    a.body["error"]["code"].as_str().unwrap_or("")
}

// ----- sessions -----------------------------------------------------------------------

#[tokio::test]
async fn login_gives_a_token_and_refuses_unknown_users_and_bad_passwords_alike() {
    let api = Api::start().await;
    let ok = api.login("operator").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(ok.body["token"].as_str().unwrap().len() >= 32);
    assert_eq!(ok.body["user"]["role"], "operator");
    assert_eq!(ok.body["user"]["name"], "Priya Shah");
    assert!(ok.body["user"]["id"].as_str().unwrap().starts_with("usr_"));
    assert!(ok.body["expires_at"].as_str().unwrap().ends_with('Z'));
    let field = api.login("field1").await;
    assert!(
        field.body["user"]["resource_id"]
            .as_str()
            .unwrap()
            .starts_with("res_")
    );

    let wrong = api
        .post(
            "/api/login",
            None,
            &json!({"username": "operator", "password": "nope-nope"}),
        )
        .await;
    let unknown = api
        .post(
            "/api/login",
            None,
            &json!({"username": "nobody", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!((wrong.status, error_code(&wrong)), (401, "unauthorized"));
    assert_eq!(wrong.body, unknown.body, "no user enumeration");
    assert_eq!(unknown.status, 401);
}

#[tokio::test]
async fn a_thousand_rapid_guesses_on_one_account_are_mostly_refused_unchecked() {
    let api = Api::start().await;
    let guess = json!({"username": "supervisor", "password": "guess-guess"});
    let (mut refused, mut limited) = (0, 0);
    for _ in 0..1_000 {
        match api.post("/api/login", None, &guess).await.status {
            401 => refused += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused <= 100, "{refused} guesses were evaluated");
    assert_eq!(refused + limited, 1_000);
    let limited = api.post("/api/login", None, &guess).await;
    assert_eq!(error_code(&limited), "rate_limited");
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let api = Api::start().await;
    let (token, _) = api.session("operator").await;
    assert_eq!(api.get("/api/state", Some(&token)).await.status, 200);
    let out = api.post("/api/logout", Some(&token), &json!({})).await;
    assert_eq!((out.status, &out.body), (200, &json!({"ok": true})));
    let after = api.get("/api/state", Some(&token)).await;
    assert_eq!((after.status, error_code(&after)), (401, "unauthorized"));
    assert!(
        after.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("log in")
    );
    let none = api.get("/api/state", None).await;
    assert_eq!((none.status, error_code(&none)), (401, "unauthorized"));
}

// ----- views ----------------------------------------------------------------------------

#[tokio::test]
async fn state_is_everything_for_the_desk_and_only_its_own_for_a_field_user() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let (f1, field1) = api.session("field1").await;
    let (f2, _) = api.session("field2").await;
    let res1 = field1["resource_id"].as_str().unwrap();
    api.dispatched_incident(&op, res1).await;

    let desk = api.get("/api/state", Some(&op)).await.body;
    for key in [
        "incidents",
        "resources",
        "contacts",
        "assignments",
        "cases",
        "messages",
        "users",
    ] {
        assert!(desk[key].is_array(), "{key}");
    }
    assert!(desk["seq"].as_u64().unwrap() > 0);
    assert_eq!(desk["incidents"].as_array().unwrap().len(), 1);
    assert!(desk["resources"].as_array().unwrap().len() > 1);
    assert!(desk["users"].as_array().unwrap().len() > 1);

    let own = api.get("/api/state", Some(&f1)).await.body;
    assert_eq!(own["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(own["assignments"].as_array().unwrap().len(), 1);
    assert_eq!(own["resources"].as_array().unwrap().len(), 1);
    assert_eq!(own["resources"][0]["id"], res1);
    assert_eq!(own["users"].as_array().unwrap().len(), 1);
    assert_eq!(own["contacts"], json!([]));

    let other = api.get("/api/state", Some(&f2)).await.body;
    assert_eq!(other["incidents"], json!([]));
    assert_eq!(other["assignments"], json!([]));
}

#[tokio::test]
async fn incident_detail_has_timeline_and_conformance_and_hides_from_unassigned_field_users() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let (f1, field1) = api.session("field1").await;
    let (f2, _) = api.session("field2").await;
    let id = api
        .dispatched_incident(&op, field1["resource_id"].as_str().unwrap())
        .await;
    let path = format!("/api/incidents/{id}");

    let d = api.get(&path, Some(&op)).await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["id"], id.as_str());
    let timeline = d.body["timeline"].as_array().unwrap();
    assert_eq!(timeline[0]["event"]["kind"], "incident.opened");
    for e in timeline {
        assert!(e["seq"].is_u64() && e["at"].is_string() && e["actor"].is_string());
    }
    assert!(
        timeline
            .iter()
            .any(|e| e["event"]["kind"] == "assignment.created")
    );
    assert_eq!(d.body["conformance"]["verdict"], "pending");
    let steps = d.body["conformance"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["step"], "assessed");
    assert_eq!(steps[0]["status"], "done");
    assert_eq!(steps[1]["status"], "done");

    // A caller quotes the human reference, in any case, perhaps long after.
    let reference = d.body["reference"].as_str().unwrap().to_lowercase();
    let by_reference = api
        .get(&format!("/api/incidents/{reference}"), Some(&op))
        .await;
    assert_eq!(by_reference.status, 200, "{}", by_reference.text);
    assert_eq!(by_reference.body["id"], id.as_str());
    let hidden_by_reference = api
        .get(&format!("/api/incidents/{reference}"), Some(&f2))
        .await;
    assert_eq!(hidden_by_reference.status, 404);

    assert_eq!(api.get(&path, Some(&f1)).await.status, 200);
    let hidden = api.get(&path, Some(&f2)).await;
    let missing = api.get("/api/incidents/inc_999999", Some(&op)).await;
    assert_eq!((hidden.status, error_code(&hidden)), (404, "not_found"));
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn recommendations_rank_skilled_resources_for_the_desk_only() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let (f1, field1) = api.session("field1").await;
    let id = api
        .dispatched_incident(&op, field1["resource_id"].as_str().unwrap())
        .await;
    let path = format!("/api/incidents/{id}/recommendations");
    let r = api.get(&path, Some(&op)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ranked = r.body["recommendations"].as_array().unwrap();
    assert!(!ranked.is_empty());
    for x in ranked {
        assert!(x["resource_id"].is_string() && x["score"].is_number());
        assert!(
            x["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("has first_aid"))
        );
        assert_ne!(
            x["resource_id"], field1["resource_id"],
            "the assigned one is busy"
        );
    }
    let forbidden = api.get(&path, Some(&f1)).await;
    assert_eq!(
        (forbidden.status, error_code(&forbidden)),
        (403, "forbidden")
    );
}

// ----- commands -------------------------------------------------------------------------

#[tokio::test]
async fn commands_return_result_objects_and_retries_append_once() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let receive = json!({
        "kind": "contact.receive", "channel": "phone", "summary": "Smoke in the stairwell",
        "caller": {"name": "Jo"}
    });
    let first = api.command(&op, "c-1", receive.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        first
            .text
            .starts_with(r#"{"type":"result","id":"c-1","ok":true"#),
        "{}",
        first.text
    );
    assert!(
        first.body["data"]["contact_id"]
            .as_str()
            .unwrap()
            .starts_with("con_")
    );
    let seq = api.app.hub.seq();
    let again = api.command(&op, "c-1", receive).await;
    assert_eq!(again.body, first.body, "same result for the same id");
    assert_eq!(api.app.hub.seq(), seq, "nothing appended on retry");

    let bad = api
        .command(&op, "c-2", json!({"kind": "incident.explode"}))
        .await;
    assert_eq!((bad.status, bad.body["ok"].clone()), (400, json!(false)));
    assert_eq!(bad.body["error"]["code"], "bad_request");
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("incident.explode")
    );

    let (f1, _) = api.session("field1").await;
    let open = json!({"kind": "incident.open", "type": "fire_alarm", "description": "x",
                      "location": {"text": "here"}});
    let refused = api.command(&f1, "c-3", open).await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    assert_eq!(refused.body["type"], "result");
    assert_eq!(refused.body["id"], "c-3");
}

#[tokio::test]
async fn user_creation_hashes_the_password_and_no_hash_ever_leaves() {
    let api = Api::start().await;
    let (admin, _) = api.session("admin").await;
    let short = json!({"kind": "user.create", "username": "newbie", "role": "operator", "password": "short"});
    let refused = api.command(&admin, "u-0", short).await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].clone()),
        (422, json!("validation_failed"))
    );
    let create = json!({"kind": "user.create", "username": "newbie", "role": "operator",
                        "password": "correct horse battery", "name": "New Bie"});
    let created = api.command(&admin, "u-1", create).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let logged_in = api
        .post(
            "/api/login",
            None,
            &json!({"username": "newbie", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(logged_in.status, 200, "{}", logged_in.text);

    let (op, _) = api.session("operator").await;
    let (sup, _) = api.session("supervisor").await;
    let mut bodies = vec![created.text, logged_in.text];
    for token in [&admin, &op, &sup] {
        bodies.push(api.get("/api/state", Some(token)).await.text);
    }
    let user_id = created.body["data"]["user_id"].as_str().unwrap();
    assert!(bodies[2].contains(user_id), "admin sees the new user");
    for body in &bodies {
        assert!(!body.contains("argon2"), "a hash leaked: {body}");
        assert!(!body.contains("password_hash"));
        assert!(!body.contains("correct horse"));
    }
}

// ----- intake -----------------------------------------------------------------------------

#[tokio::test]
async fn intake_takes_contacts_with_the_demo_key_only() {
    let api = Api::start().await;
    let contact = json!({"id": "gw-7", "channel": "sms", "summary": "Tree across the road",
                         "caller": {"phone": "+44 7700 900000"}});
    let ok = api
        .post("/api/intake/contacts", Some("demo-intake-key"), &contact)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["ok"], true);
    assert_eq!(ok.body["id"], "gw-7");
    let contact_id = ok.body["data"]["contact_id"].as_str().unwrap().to_string();
    let seq = api.app.hub.seq();
    let again = api
        .post("/api/intake/contacts", Some("demo-intake-key"), &contact)
        .await;
    assert_eq!(again.body["data"]["contact_id"], contact_id.as_str());
    assert_eq!(api.app.hub.seq(), seq);

    let wrong = api
        .post("/api/intake/contacts", Some("not-the-key"), &contact)
        .await;
    assert_eq!((wrong.status, error_code(&wrong)), (401, "unauthorized"));
    let (op, _) = api.session("operator").await;
    let session = api.post("/api/intake/contacts", Some(&op), &contact).await;
    assert_eq!(session.status, 401, "a session is not an intake key");
    let key = api.get("/api/state", Some("demo-intake-key")).await;
    assert_eq!(key.status, 401, "an intake key is not a session");
    let state = api.get("/api/state", Some(&op)).await.body;
    assert_eq!(state["contacts"][0]["received_by"], "intake");
}

// ----- reference and operations ---------------------------------------------------------

#[tokio::test]
async fn catalogue_lists_the_services_with_their_scripts() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let c = api.get("/api/catalogue", Some(&op)).await;
    assert_eq!(c.status, 200);
    assert!(c.body["name"].is_string());
    let types = c.body["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["id"] == "medical_emergency"));
    for t in types {
        for key in [
            "id",
            "name",
            "description",
            "default_priority",
            "questions",
            "targets",
        ] {
            assert!(!t[key].is_null(), "{key} in {t}");
        }
        for q in t["questions"].as_array().unwrap() {
            assert!(q["id"].is_string() && q["text"].is_string() && q["kind"].is_string());
            assert!(q["required"].is_boolean());
        }
    }
    // The case and support pages choose from the centre's lists.
    for list in ["root_causes", "support_areas", "support_types"] {
        assert!(!c.body[list].as_array().unwrap().is_empty(), "{list}");
    }
    assert!(
        c.body["case_targets"]["respond_working_days"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(api.get("/api/catalogue", None).await.status, 401);
}

#[tokio::test]
async fn supervisors_verify_the_audit_chain_and_see_reports() {
    let api = Api::start().await;
    let (sup, _) = api.session("supervisor").await;
    let (op, _) = api.session("operator").await;
    let v = api.get("/api/audit/verify", Some(&sup)).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.body["ok"], true);
    assert_eq!(v.body["events"].as_u64().unwrap(), api.app.hub.seq());
    assert!(v.body.get("first_bad_seq").is_none());
    assert_eq!(api.get("/api/audit/verify", Some(&op)).await.status, 403);

    let r = api
        .get(
            "/api/reports/performance?by=team&from=2026-01-01",
            Some(&sup),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["by"].clone(), r.body["groups"].clone()),
        (json!("team"), json!([]))
    );
    assert_eq!(r.body["from"], "2026-01-01");
    assert_eq!(
        api.get("/api/reports/performance?by=moon", Some(&sup))
            .await
            .status,
        400
    );
    assert_eq!(
        api.get("/api/reports/performance", Some(&op)).await.status,
        403
    );
}

/// Parses a CSV answer into rows of cells (the header first).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn supervisors_and_admins_export_incidents_and_contacts_as_csv() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let (sup, _) = api.session("supervisor").await;
    let (admin, _) = api.session("admin").await;
    let receive = json!({
        "kind": "contact.receive", "channel": "phone", "summary": "Collapse",
        "caller": {"name": "Jo Bloggs", "phone": "+44 7700 900123"}
    });
    let c = api.command(&op, "rx-1", receive).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let contact = c.body["data"]["contact_id"].as_str().unwrap().to_string();
    let open = json!({
        "kind": "incident.open", "type": "medical_emergency", "description": "x",
        "contact_id": contact,
        "location": {"text": "Flat 2, \"The Mews\"\nback door", "lat": 51.507_44, "lon": -0.127_81}
    });
    let o = api.command(&op, "open-a", open).await;
    assert_eq!(o.status, 200, "{}", o.text);
    let id = o.body["data"]["incident_id"].as_str().unwrap().to_string();
    let assess = json!({
        "kind": "incident.assess", "incident_id": id, "validity": "verified",
        "priority": "P2", "method": "manual", "reason": "caller on scene"
    });
    assert_eq!(api.command(&op, "assess-a", assess).await.status, 200);
    let assign = json!({"kind": "assignment.create", "incident_id": id, "resource_id": "res_1"});
    assert_eq!(api.command(&op, "assign-a", assign).await.status, 200);
    let formula = json!({
        "kind": "incident.open", "type": "fire_alarm", "description": "y",
        "location": {"text": "=HYPERLINK(\"http://x\")"}
    });
    assert_eq!(api.command(&op, "open-b", formula).await.status, 200);

    let period = "from=2020-01-01T00:00:00Z&to=2020-12-31T00:00:00Z";
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::hours(1)).to_rfc3339();
    let to = (now + chrono::Duration::hours(1)).to_rfc3339();
    let q = format!(
        "from={}&to={}",
        from.replace('+', "%2B"),
        to.replace('+', "%2B")
    );

    // The incidents: headers, then one row per incident opened in the period.
    let res = warp::test::request()
        .method("GET")
        .path(&format!("/api/reports/incidents.csv?{q}"))
        .header("authorization", format!("Bearer {sup}"))
        .reply(&routes(api.app.clone()))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"incidents-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let text = String::from_utf8(res.body().to_vec()).unwrap();
    // RFC 4180: the comma, quotes and line break are quoted, quotes doubled.
    assert!(
        text.contains("\"Flat 2, \"\"The Mews\"\"\nback door\""),
        "{text}"
    );
    let rows = csv_rows(&text);
    assert_eq!(
        rows[0],
        [
            "reference",
            "id",
            "type",
            "priority",
            "validity",
            "status",
            "opened_at",
            "first_dispatch_at",
            "resolved_at",
            "closed_at",
            "location",
            "lat",
            "lon",
            "contacts",
            "assignments",
            "targets_met"
        ]
    );
    assert_eq!(rows.len(), 3, "{text}");
    let a = rows
        .iter()
        .find(|r| r[1] == id)
        .expect("the incident's row");
    assert!(a[0].starts_with("INC-"), "{a:?}");
    assert_eq!(
        (a[2].as_str(), a[3].as_str(), a[4].as_str()),
        ("medical_emergency", "P2", "verified")
    );
    assert_eq!(a[10], "Flat 2, \"The Mews\"\nback door");
    assert_eq!((a[11].as_str(), a[12].as_str()), ("51.507", "-0.128"));
    assert_eq!((a[13].as_str(), a[14].as_str()), ("1", "1"));
    assert!(!a[7].is_empty(), "first dispatch at: {a:?}");
    assert_eq!(a[15], "yes");
    let b = rows
        .iter()
        .find(|r| r[2] == "fire_alarm")
        .expect("the other row");
    // The formula guard: a leading ' so a spreadsheet shows the text.
    assert_eq!(b[10], "'=HYPERLINK(\"http://x\")");
    assert_eq!((b[3].as_str(), b[7].as_str(), b[15].as_str()), ("", "", ""));

    // The contacts: no caller details.
    let c = api
        .get(&format!("/api/reports/contacts.csv?{q}"), Some(&admin))
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    let rows = csv_rows(&c.text);
    assert_eq!(
        rows[0],
        [
            "id",
            "channel",
            "reason",
            "status",
            "received_at",
            "taken_at",
            "taken_by",
            "closed_at",
            "outcome",
            "incident_reference"
        ]
    );
    assert_eq!(rows.len(), 2, "{}", c.text);
    assert_eq!(rows[1][0], contact);
    assert_eq!(rows[1][1], "phone");
    assert_eq!(rows[1][6], "operator");
    assert_eq!(rows[1][9], a[0]);
    for secret in ["Jo Bloggs", "7700", "900123"] {
        assert!(!c.text.contains(secret), "{secret} in {}", c.text);
    }

    // Another period: the header alone.
    let empty = api
        .get(&format!("/api/reports/incidents.csv?{period}"), Some(&sup))
        .await;
    assert_eq!(csv_rows(&empty.text).len(), 1, "{}", empty.text);

    // Operators may not; the period is validated, naming the parameter.
    for route in ["incidents", "contacts"] {
        let path = format!("/api/reports/{route}.csv");
        assert_eq!(api.get(&path, Some(&op)).await.status, 403);
        assert_eq!(api.get(&path, None).await.status, 401);
        for (query, named) in [
            ("from=yesterday", "from"),
            ("to=2026-13-01T00:00:00Z", "to"),
            (
                "from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z",
                "366 days",
            ),
            (
                "from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z",
                "after from",
            ),
        ] {
            let r = api.get(&format!("{path}?{query}"), Some(&sup)).await;
            assert_eq!(
                (r.status, error_code(&r)),
                (422, "validation_failed"),
                "{query}"
            );
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(named), "{query}: {message}");
        }
    }
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let api = Api::start().await;
    let h = api.get("/healthz", None).await;
    assert_eq!((h.status, &h.body), (200, &json!({"ok": true})));
    let r = api.get("/readyz", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ready"], true);
    assert_eq!(r.body["store"]["store"], "sqlite");
    assert_eq!(r.body["seq"].as_u64().unwrap(), api.app.hub.seq());
    let _session = api.session("operator").await;
    let m = api.get_from("/metrics", "127.0.0.1:40000").await;
    assert_eq!(m.status, 200);
    for name in [
        "muster_commands_total",
        "muster_commands_rejected_total",
        "muster_events_total",
        "muster_batches_total",
        "muster_append_failures_total",
        "muster_append_seconds_count",
        "muster_connections 0",
        "muster_sessions 1",
    ] {
        assert!(m.text.contains(name), "{name} missing:\n{}", m.text);
    }
    assert!(
        m.text
            .contains(&format!("muster_seq {}", api.app.hub.seq()))
    );
}

/// The metric's value on the line that starts with `series ` (labels included).
fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} is not on /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A hub with work in hand serves the figures a duty manager watches, by label, and
/// `promtool check metrics` (the Prometheus project's linter) passes them.
#[tokio::test]
async fn metrics_count_commands_by_kind_and_the_duty_figures_and_pass_promtool() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let before = api.get_from("/metrics", "127.0.0.1:40000").await.text;
    let waiting_before = metric_value(&before, "muster_contacts_waiting");
    let contact = json!({
        "channel": "phone", "caller": {"name": "Jo Caller", "phone": "+44 20 7946 0000"},
        "summary": "Smoke in the stairwell", "reason": "report"
    });
    let a = api
        .post("/api/intake/contacts", Some("demo-intake-key"), &contact)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let id = api.dispatched_incident(&op, "res_1").await;
    let refused = api
        .command(
            &op,
            "close-early",
            json!({"kind": "incident.close", "incident_id": id}),
        )
        .await;
    assert_ne!(refused.status, 200);
    let m = api.get_from("/metrics", "127.0.0.1:40000").await;
    assert_eq!(m.status, 200);
    let text = &m.text;
    let open = r#"muster_commands_total{kind="incident.open",outcome="accepted"}"#;
    assert_eq!(metric_value(text, open), 1.0);
    let close = r#"muster_commands_total{kind="incident.close",outcome="refused"}"#;
    assert_eq!(metric_value(text, close), 1.0);
    assert_eq!(
        metric_value(
            text,
            r#"muster_command_seconds_count{kind="assignment.create"}"#
        ),
        1.0
    );
    assert!(metric_value(text, "muster_append_seconds_count") >= 3.0);
    assert_eq!(
        metric_value(text, "muster_contacts_waiting"),
        waiting_before + 1.0
    );
    assert!(metric_value(text, "muster_contact_oldest_wait_seconds") >= 0.0);
    assert_eq!(
        metric_value(
            text,
            r#"muster_incidents_open{priority="P2",status="dispatched"}"#
        ),
        1.0
    );
    assert!(metric_value(text, "muster_assignments_unacknowledged") >= 1.0);
    assert_eq!(
        metric_value(text, r#"muster_users_connected{role="operator"}"#),
        0.0
    );
    assert_eq!(
        metric_value(
            text,
            r#"muster_target_breaches{item="incident",target="dispatch"}"#
        ),
        0.0
    );
    for family in [
        "# TYPE muster_delivery_seconds histogram",
        "# TYPE muster_ws_queue_depth histogram",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    promtool_check(text);
}

/// `promtool check metrics` on `text`: skipped when promtool is not installed, except
/// under `MUSTER_REQUIRE_ALL_TOOLS=1` (CI; scripts/test installs it).
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("MUSTER_REQUIRE_ALL_TOOLS").as_deref() == Ok("1") {
                panic!("MUSTER_REQUIRE_ALL_TOOLS=1 but promtool cannot run: {e}");
            }
            eprintln!("skipped: promtool check metrics (promtool not installed: {e})");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ----- errors and the web apps --------------------------------------------------------------

#[tokio::test]
async fn refusals_from_warp_have_the_error_shape_too() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let unknown = api.get("/api/nothing-here", Some(&op)).await;
    assert_eq!((unknown.status, error_code(&unknown)), (404, "not_found"));
    let method = api.get("/api/login", None).await;
    assert_eq!(method.status, 405);
    assert_eq!(error_code(&method), "bad_request");
    let bad_json = api
        .send(
            warp::test::request()
                .method("POST")
                .path("/api/login")
                .body("{not json"),
        )
        .await;
    assert_eq!(
        (bad_json.status, error_code(&bad_json)),
        (400, "bad_request")
    );
    let missing = api
        .post("/api/commands", Some(&op), &json!({"command": {}}))
        .await;
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("id")
    );
    let huge =
        json!({"id": "big", "command": {"kind": "incident.note", "text": "x".repeat(70_000)}});
    let too_large = api.post("/api/commands", Some(&op), &huge).await;
    assert_eq!(
        (too_large.status, error_code(&too_large)),
        (413, "too_large")
    );
}

#[tokio::test]
async fn the_web_apps_are_served_and_unknown_files_are_json_404s() {
    let api = Api::start().await;
    let index = api.get("/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.text.contains("<title>Muster</title>"));
    for link in ["/console", "/board", "/field"] {
        assert!(index.text.contains(link));
    }
    // Every file under web/ is embedded (build.rs), nested ones included.
    for path in [
        "/console",
        "/board",
        "/field",
        "/lib/muster.js",
        "/vendor/leaflet/leaflet.js",
    ] {
        assert_eq!(api.get(path, None).await.status, 200, "{path}");
    }
    let missing = api.get("/no-such-page.html", None).await;
    assert_eq!((missing.status, error_code(&missing)), (404, "not_found"));
    let post = api.post("/elsewhere", None, &json!({})).await;
    assert_eq!(post.status, 404);
}

#[tokio::test]
async fn metrics_are_served_only_to_the_addresses_allowed() {
    let api = Api::start().await;
    // How busy the centre is is nobody else's business: a neighbour on the network,
    // or a request whose peer is unknown, is refused.
    for peer in ["192.0.2.7:40000", "[2001:db8::7]:40000"] {
        let m = api.get_from("/metrics", peer).await;
        assert_eq!(m.status, 403, "{peer}: {}", m.text);
        assert_eq!(m.body["error"]["code"], "forbidden");
        assert!(!m.text.contains("muster_"), "{}", m.text);
    }
    assert_eq!(api.get("/metrics", None).await.status, 403, "no peer known");
    for peer in ["127.0.0.1:40000", "[::1]:40000", "[::ffff:127.0.0.1]:40000"] {
        assert_eq!(api.get_from("/metrics", peer).await.status, 200, "{peer}");
    }
}
