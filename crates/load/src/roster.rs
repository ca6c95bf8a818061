//! Per-incident watchers (S2's "100 incidents × 100 watchers"): one field user per
//! incident, carrying its own resource, which is assigned to that incident alone. Each
//! user's sockets then see that incident's events and no other's, so the hub's routing
//! by incident is what gets measured, not its broadcast to desks.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use muster_core::engine::CommandKind;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::net::{self, Ws};
use super::{LoadError, Target};

/// The incidents made for a run and, for each, a session of the user watching it.
pub struct Roster {
    pub incidents: Vec<String>,
    pub tokens: Vec<String>,
}

/// Parallel lanes of set-up: each lane has its own admin and operator socket, so no
/// socket goes past the hub's per-socket command rate.
const LANES: usize = 10;

/// Creates `n` watched incidents, each with its own field user, through the real API.
pub async fn build(target: &Target, n: usize) -> Result<Roster, LoadError> {
    let admin = target.token("admin").await?;
    let operator = target.token("operator").await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let lanes = (0..LANES.min(n)).map(|lane| {
        let (admin, operator) = (admin.clone(), operator.clone());
        async move {
            let mut admin = Rpc::open(target, &admin).await?;
            let mut desk = Rpc::open(target, &operator).await?;
            let mut made = Vec::new();
            for g in (lane..n).step_by(LANES) {
                made.push((g, watched(target, &mut admin, &mut desk, run, g).await?));
            }
            Ok::<_, LoadError>(made)
        }
    });
    let mut all: Vec<(usize, (String, String))> = Vec::with_capacity(n);
    for lane in futures_util::future::join_all(lanes).await {
        all.extend(lane?);
    }
    all.sort_by_key(|(g, _)| *g);
    let (incidents, tokens) = all.into_iter().map(|(_, pair)| pair).unzip();
    Ok(Roster { incidents, tokens })
}

/// One watched incident: its resource, its user (logged in), the incident, assessed
/// and dispatched to that resource. Returns the incident id and the user's token.
async fn watched(
    target: &Target,
    admin: &mut Rpc,
    desk: &mut Rpc,
    run: u128,
    g: usize,
) -> Result<(String, String), LoadError> {
    let (resource, token) = field_user(
        target,
        admin,
        &format!("Watcher {g}"),
        &format!("w{run}g{g}"),
    )
    .await?;
    let incident = dispatchable(
        desk,
        &format!("watched incident {g}"),
        &format!("Watch street {g}"),
    )
    .await?;
    desk.call(
        json!({"kind": CommandKind::AssignmentCreate, "incident_id": incident,
        "resource_id": resource, "reason": "load run"}),
    )
    .await?;
    Ok((incident, token))
}

/// A field user `username` carrying a new first-aider resource `name`, made by `admin`
/// and logged in: the resource's id and the user's session token.
pub(crate) async fn field_user(
    target: &Target,
    admin: &mut Rpc,
    name: &str,
    username: &str,
) -> Result<(String, String), LoadError> {
    let resource = admin
        .call(json!({"kind": CommandKind::ResourceRegister, "name": name,
            "resource_type": "person", "skills": ["first_aid"], "team": "central"}))
        .await?["resource_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let password = format!("{username}-load-pass");
    admin
        .call(
            json!({"kind": CommandKind::UserCreate, "username": username, "role": "field",
            "password": password, "resource_id": resource}),
        )
        .await?;
    let token = super::login(target.addr, username, &password).await?;
    Ok((resource, token))
}

/// A medical emergency at `place`, answered and assessed (P3), so it may be dispatched.
pub(crate) async fn dispatchable(
    desk: &mut Rpc,
    description: &str,
    place: &str,
) -> Result<String, LoadError> {
    let incident = desk
        .call(
            json!({"kind": CommandKind::IncidentOpen, "type": "medical_emergency",
            "description": description,
            "location": {"text": place, "lat": 51.5, "lon": -0.12}}),
        )
        .await?["incident_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    desk.call(
        json!({"kind": CommandKind::IncidentAnswer, "incident_id": incident, "answers":
        {"breathing": true, "conscious": true, "bleeding": "none", "casualties": 1}}),
    )
    .await?;
    desk.call(
        json!({"kind": CommandKind::IncidentAssess, "incident_id": incident, "validity": "verified",
        "priority": "P3", "method": "manual", "reason": "load run"}),
    )
    .await?;
    Ok(incident)
}

/// A socket used one command at a time: send, then read until its result.
pub(crate) struct Rpc {
    ws: Ws,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Rpc {
    pub(crate) async fn open(target: &Target, token: &str) -> Result<Self, LoadError> {
        // A fresh welcome: its snapshot is the open work (bounded by the window).
        let (ws, _) = net::connect(target.addr, token, None, false).await?;
        Ok(Rpc { ws })
    }

    /// The result's `data`, or the hub's error as a set-up failure.
    pub(crate) async fn call(&mut self, command: Value) -> Result<Value, LoadError> {
        let id = format!("roster-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let frame = json!({"type": "command", "id": id, "command": command}).to_string();
        let kind = command["kind"].as_str().unwrap_or("").to_string();
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|e| LoadError::Setup(format!("{kind}: {e}")))?;
        while let Some(frame) = self.ws.next().await {
            let Ok(Message::Text(t)) = frame else {
                continue;
            };
            if !t.starts_with("{\"type\":\"result\"") || !t.contains(&format!("\"id\":\"{id}\"")) {
                continue;
            }
            let v: Value = serde_json::from_str(&t).unwrap_or_default();
            return if v["ok"] == true {
                Ok(v["data"].clone())
            } else {
                Err(LoadError::Setup(format!("{kind}: {}", v["error"])))
            };
        }
        Err(LoadError::Setup(format!("{kind}: the socket closed")))
    }
}
