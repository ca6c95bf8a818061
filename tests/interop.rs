//! The standards routes (docs/INTEROP.md) through `warp::test::request()` against a
//! real hub on the demo centre: incidents and messages out as OASIS CAP 1.2 alerts,
//! every one validated against the OASIS schema with `xmllint --schema`; an alarm
//! gateway's CAP alert in as a contact on the `alarm` channel, once per sender and
//! identifier, with refusals naming the element; an incident out as a NENA EIDO.
//!
//! xmllint (libxml2-utils) is installed by `scripts/test`; without it the schema
//! checks are skipped with a printed reason, except under `MUSTER_REQUIRE_ALL_TOOLS=1`.

mod support;
use std::path::PathBuf;
use support::crate_path;

use serde_json::{Value, json};

const INTAKE_KEY: &str = "demo-intake-key";

use support::{Answer, DEMO_PASSWORD, InProcess as Api, with_token};

impl Api {
    async fn get(&self, path: &str, token: &str) -> Answer {
        let req = warp::test::request().method("GET").path(path);
        self.send(with_token(req, Some(token))).await
    }

    async fn session(&self, username: &str) -> (String, Value) {
        let body = json!({"username": username, "password": DEMO_PASSWORD});
        let req = warp::test::request()
            .method("POST")
            .path("/api/login")
            .json(&body);
        let a = self.send(req).await;
        assert_eq!(a.status, 200, "{username}: {}", a.text);
        (
            a.body["token"].as_str().unwrap().to_string(),
            a.body["user"].clone(),
        )
    }

    async fn command(&self, token: &str, id: &str, command: Value) -> Value {
        let body = json!({"id": id, "command": command});
        let req = warp::test::request()
            .method("POST")
            .path("/api/commands")
            .json(&body);
        let a = self.send(with_token(req, Some(token))).await;
        assert_eq!(a.status, 200, "{id}: {}", a.text);
        a.body["data"].clone()
    }

    async fn post_cap(&self, key: Option<&str>, body: &str) -> Answer {
        let req = warp::test::request()
            .method("POST")
            .path("/api/intake/cap")
            .header("content-type", "application/cap+xml")
            .body(body);
        self.send(with_token(req, key)).await
    }
}

/// Validates `xml` against the OASIS CAP 1.2 schema with xmllint; `false` when
/// xmllint is missing (and that is allowed).
fn validate_cap(xml: &str) -> bool {
    let Some(xmllint) = xmllint() else {
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alert.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new(xmllint)
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(crate_path("tests/fixtures/cap/CAP-v1.2.xsd"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "not a valid CAP 1.2 document: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

fn xmllint() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("xmllint"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("MUSTER_REQUIRE_ALL_TOOLS").as_deref() == Ok("1") {
            panic!("MUSTER_REQUIRE_ALL_TOOLS=1 but xmllint is not installed (libxml2-utils)");
        }
        eprintln!("SKIPPED: CAP schema validation (xmllint not installed: libxml2-utils)");
    }
    found
}

/// The text of the first `<name>` element.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + end])
}

async fn open_incident(api: &Api, token: &str, id: &str) -> String {
    let data = api
        .command(
            token,
            id,
            json!({
                "kind": "incident.open", "type": "fire_alarm",
                "description": "Alarm sounding, Mrs Jane Example is still inside",
                "location": {"text": "12 Acacia Avenue", "lat": 51.507412, "lon": -0.127812}
            }),
        )
        .await;
    data["incident_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn incidents_and_messages_go_out_as_valid_cap_alerts() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let id = open_incident(&api, &op, "open-1").await;

    // Just opened: an Alert.
    let a = api.get(&format!("/api/incidents/{id}/cap"), &op).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.content_type, "application/cap+xml");
    assert!(
        a.text
            .contains(r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">"#)
    );
    assert_eq!(element(&a.text, "msgType"), Some("Alert"));
    assert_eq!(element(&a.text, "status"), Some("Actual"));
    assert_eq!(element(&a.text, "scope"), Some("Restricted"));
    assert_eq!(
        element(&a.text, "category"),
        Some("Fire"),
        "from the type's cap_category"
    );
    assert_eq!(element(&a.text, "event"), Some("Fire alarm"));
    assert_eq!(
        element(&a.text, "urgency"),
        Some("Unknown"),
        "no priority yet"
    );
    assert_eq!(
        element(&a.text, "certainty"),
        Some("Possible"),
        "unverified"
    );
    // The coarse point (3 decimals), never the free text.
    assert_eq!(element(&a.text, "circle"), Some("51.507,-0.128 0.0555"));
    for private in ["Jane Example", "Acacia"] {
        assert!(
            !a.text.contains(private),
            "{private} left the hub: {}",
            a.text
        );
    }
    let first_identifier = element(&a.text, "identifier").unwrap().to_string();
    let validated = validate_cap(&a.text);

    // Assessed P1: an Update referring to the first alert, Immediate and Extreme.
    api.command(
        &op,
        "assess-1",
        json!({"kind": "incident.assess", "incident_id": id, "validity": "verified",
               "priority": "P1", "method": "manual", "reason": "caller sees smoke"}),
    )
    .await;
    let u = api.get(&format!("/api/incidents/{id}/cap"), &op).await;
    assert_eq!(element(&u.text, "msgType"), Some("Update"));
    assert_eq!(element(&u.text, "urgency"), Some("Immediate"));
    assert_eq!(element(&u.text, "severity"), Some("Extreme"));
    assert_eq!(element(&u.text, "certainty"), Some("Observed"));
    let refs = element(&u.text, "references").unwrap();
    assert!(refs.contains(&first_identifier), "{refs}");
    validate_cap(&u.text);

    // A message to the incident's crews: its text goes out, with the incident's area.
    let m = api
        .command(
            &op,
            "msg-1",
            json!({"kind": "message.broadcast", "audience": format!("incident:{id}"),
                   "text": "Gas main nearby <keep back> & wait", "requires_ack": true}),
        )
        .await;
    let message_id = m["message_id"]
        .as_str()
        .expect("message.broadcast gives message_id");
    let mc = api
        .get(&format!("/api/messages/{message_id}/cap"), &op)
        .await;
    assert_eq!(mc.status, 200, "{}", mc.text);
    assert!(
        mc.text
            .contains("Gas main nearby &lt;keep back&gt; &amp; wait"),
        "{}",
        mc.text
    );
    assert!(mc.text.contains("<circle>"), "{}", mc.text);
    validate_cap(&mc.text);

    // Cancelled as invalid: a Cancel.
    api.command(
        &op,
        "cancel-1",
        json!({"kind": "incident.cancel", "incident_id": id, "reason": "false alarm, test of the system"}),
    )
    .await;
    let c = api.get(&format!("/api/incidents/{id}/cap"), &op).await;
    assert_eq!(element(&c.text, "msgType"), Some("Cancel"));
    assert_eq!(element(&c.text, "urgency"), Some("Past"));
    validate_cap(&c.text);

    // Field users do not export; unknown ids are 404.
    let (field, _) = api.session("field1").await;
    assert_eq!(
        api.get(&format!("/api/incidents/{id}/cap"), &field)
            .await
            .status,
        403
    );
    assert_eq!(
        api.get("/api/incidents/inc_nope/cap", &op).await.status,
        404
    );
    assert_eq!(api.get("/api/messages/msg_nope/cap", &op).await.status, 404);
    if !validated {
        eprintln!("CAP documents were not schema-checked");
    }
}

#[tokio::test]
async fn a_gateway_cap_alert_becomes_one_alarm_contact() {
    let api = Api::start().await;
    let xml = std::fs::read_to_string(crate_path("tests/fixtures/cap/gateway-alert.xml")).unwrap();
    validate_cap(&xml);

    assert_eq!(api.post_cap(None, &xml).await.status, 401);
    let first = api.post_cap(Some(INTAKE_KEY), &xml).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let contact_id = first.body["data"]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A gateway's retry: the same answer, nothing appended.
    let again = api.post_cap(Some(INTAKE_KEY), &xml).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["data"]["contact_id"], contact_id.as_str());

    let (op, _) = api.session("operator").await;
    let state = api.get("/api/state", &op).await;
    let all = contacts(&state.body);
    let alarms: Vec<&&Value> = all.iter().filter(|c| c["channel"] == "alarm").collect();
    assert_eq!(alarms.len(), 1, "{all:?}");
    let c = alarms[0];
    assert_eq!(c["id"], contact_id.as_str());
    assert_eq!(c["caller"]["name"], "alarms@depot.example.org");
    assert_eq!(
        c["summary"],
        "Smoke detector, zone 3 & 4 — Two detectors in the workshop; sprinklers not released. — Fire alarm"
    );
    assert_eq!(c["location"]["text"], "Council depot, Mill Lane");
    assert_eq!(c["location"]["lat"], 51.5034);

    // Refusals: 422 naming the element.
    let bad_circle = xml.replace("51.5034,-0.1276 0.1", "51.5034 -0.1276");
    let r = api.post_cap(Some(INTAKE_KEY), &bad_circle).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"alert/info/area/circle: expected "lat,lon radius""#),
        "{message}"
    );
    let no_event = xml.replace("<event>Fire alarm</event>", "");
    let r = api.post_cap(Some(INTAKE_KEY), &no_event).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("alert/info/event: required"), "{}", r.text);
    let wrong_ns = xml.replace("cap:1.2", "cap:1.1");
    assert_eq!(api.post_cap(Some(INTAKE_KEY), &wrong_ns).await.status, 422);
    let broken = &xml[..xml.len() / 2];
    assert_eq!(api.post_cap(Some(INTAKE_KEY), broken).await.status, 422);
    let xxe = xml.replacen(
        "<alert ",
        "<!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><alert ",
        1,
    );
    let r = api.post_cap(Some(INTAKE_KEY), &xxe).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("DTD"), "{}", r.text);
    let big = format!("{xml}{}", " ".repeat(70 * 1024));
    assert_eq!(api.post_cap(Some(INTAKE_KEY), &big).await.status, 413);
    let state = api.get("/api/state", &op).await;
    let n = contacts(&state.body)
        .iter()
        .filter(|c| c["channel"] == "alarm")
        .count();
    assert_eq!(n, 1, "refused alerts append nothing");
}

/// The contacts of a `GET /api/state` answer.
fn contacts(state: &Value) -> Vec<&Value> {
    state["contacts"]
        .as_object()
        .map(|m| m.values().collect())
        .or_else(|| state["contacts"].as_array().map(|a| a.iter().collect()))
        .expect("contacts in the state")
}

#[tokio::test]
async fn an_incident_goes_out_as_an_eido() {
    let api = Api::start().await;
    let (op, _) = api.session("operator").await;
    let (_, field) = api.session("field1").await;
    let resource_id = field["resource_id"].as_str().unwrap().to_string();
    let id = open_incident(&api, &op, "open-1").await;
    api.command(
        &op,
        "assess-1",
        json!({"kind": "incident.assess", "incident_id": id, "validity": "verified",
               "priority": "P2", "method": "manual", "reason": "caller sees smoke"}),
    )
    .await;
    api.command(
        &op,
        "note-1",
        json!({"kind": "incident.note", "incident_id": id, "text": "Side gate open"}),
    )
    .await;
    api.command(
        &op,
        "assign-1",
        json!({"kind": "assignment.create", "incident_id": id, "resource_id": resource_id}),
    )
    .await;

    let e = api.get(&format!("/api/incidents/{id}/eido"), &op).await;
    assert_eq!(e.status, 200, "{}", e.text);
    let eido = &e.body;
    check_eido_shape(eido);
    assert!(
        eido["eidoMessageIdentifier"]
            .as_str()
            .unwrap()
            .contains(&id)
    );
    assert_eq!(eido["sendingSystemIdentifier"], "muster:muster-demo-centre");
    let inc = &eido["incidentComponent"][0];
    assert_eq!(
        inc["incidentTrackingIdentifier"],
        format!("urn:emergency:uid:incidentid:{id}:muster:muster-demo-centre")
    );
    assert_eq!(inc["incidentTypeInternalText"], "Fire alarm");
    assert_eq!(inc["incidentStatusInternalText"][0], "dispatched");
    assert_eq!(inc["incidentCommonPriorityNumber"], 2);
    assert_eq!(
        eido["notesComponent"][0]["notesActionComments"],
        "Side gate open"
    );
    let loc = &eido["locationComponent"][0];
    assert_eq!(loc["locationDescriptionText"], "12 Acacia Avenue");
    assert!(
        loc["locationByValue"]
            .as_str()
            .unwrap()
            .contains("<gml:pos>51.507412 -0.127812</gml:pos>")
    );
    let unit = &eido["emergencyResourceComponent"][0];
    assert_eq!(unit["primaryUnitStatusRegistryText"], "Dispatched");
    assert_eq!(
        eido["agencyComponent"][0]["incidentOwningAgencyIndicator"],
        true
    );
    assert!(!e.text.contains("usr_"), "no staff ids: {}", e.text);

    // Closed: a disposition.
    api.command(
        &op,
        "cancel-1",
        json!({"kind": "incident.cancel", "incident_id": id, "reason": "alarm reset by keyholder"}),
    )
    .await;
    let e = api.get(&format!("/api/incidents/{id}/eido"), &op).await;
    let d = &e.body["incidentComponent"][0]["dispositionComponent"][0];
    assert_eq!(d["dispositionCategoryText"], "Cancelled");
    assert_eq!(d["dispositionDescriptionText"], "alarm reset by keyholder");
    check_eido_shape(&e.body);

    let (field_token, _) = api.session("field1").await;
    assert_eq!(
        api.get(&format!("/api/incidents/{id}/eido"), &field_token)
            .await
            .status,
        403
    );
}

/// The EIDO's structure as NENA-STA-021 names it: the message's identifiers and
/// timestamp, and every component with `$id`, `componentIdentifier` and a timestamp
/// with an offset; every `$ref` resolves to a component in the object.
fn check_eido_shape(eido: &Value) {
    for field in [
        "eidoMessageIdentifier",
        "sendingSystemIdentifier",
        "lastUpdateTimeStamp",
    ] {
        assert!(eido[field].is_string(), "{field} missing: {eido}");
    }
    let mut ids = std::collections::BTreeSet::new();
    for (name, components) in eido.as_object().unwrap() {
        if !name.ends_with("Component") {
            continue;
        }
        for c in components.as_array().expect("components are arrays") {
            for field in ["$id", "componentIdentifier", "lastUpdateTimeStamp"] {
                assert!(c[field].is_string(), "{name}.{field} missing: {c}");
            }
            let t = c["lastUpdateTimeStamp"].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(t).expect("timestamps are RFC 3339");
            ids.insert(c["$id"].as_str().unwrap().to_string());
            if let Some(d) = c.get("dispositionComponent") {
                for x in d.as_array().unwrap() {
                    ids.insert(x["$id"].as_str().unwrap().to_string());
                }
            }
        }
    }
    let text = eido.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        assert!(ids.contains(target), "$ref {target} resolves to nothing");
    }
}
