//! Delivery channels for assignments and their escalations. The WebSocket channel is
//! the event stream itself: `assignment.created` and every `assignment.escalated`
//! reach the resource's phone, and the field user's `assignment.acknowledge` is the
//! delivery receipt. The webhook channel posts a JSON message to a gateway for the
//! ladder's `alternative_channel` rung. Every attempt's outcome goes back into the log
//! as a system command (`notification.record` → `notification.sent` / `.failed`), so
//! the delivery evidence is part of the timeline.

pub mod push;
pub mod webhook;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::Hub;
use muster_core::domain::ids::AssignmentId;
use muster_core::domain::procedure::EscalationAction;
use muster_core::engine::command as cmd;
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, Command, Error, Event, EventKind};
pub use webhook::{Webhook, WebhookError};

/// What the gateway receives: enough for an SMS or e-mail on its own.
pub fn message(hub: &Hub, assignment_id: &AssignmentId, level: u32, channel: &str) -> String {
    hub.with_state(|s| {
        let a = s.assignments.get(assignment_id);
        let incident = a.and_then(|a| s.incidents.get(&a.incident_id));
        let resource = a.and_then(|a| s.resources.get(&a.resource_id));
        let text = match (incident, a) {
            (Some(i), Some(a)) => format!(
                "Muster: please acknowledge {} ({}, {}) at {}. {}",
                i.reference,
                i.incident_type,
                i.priority.map_or("unprioritised", |p| p.as_str()),
                i.location.text.as_deref().unwrap_or("see the app"),
                a.responsibilities
            ),
            _ => format!("Muster: please acknowledge assignment {assignment_id}"),
        };
        json!({
            "kind": EventKind::AssignmentEscalated,
            "channel": channel,
            "level": level,
            "assignment_id": assignment_id,
            "incident_id": a.map(|a| &a.incident_id),
            "reference": incident.map(|i| &i.reference),
            "resource_id": a.map(|a| &a.resource_id),
            "to": resource.map(|r| &r.name),
            "text": text,
        })
        .to_string()
    })
}

/// Sends one alternative-channel notification and records the outcome. Without a
/// configured gateway the attempt fails (and says so in the log).
pub async fn deliver(
    hub: &Hub,
    webhook: Option<&Webhook>,
    assignment_id: &AssignmentId,
    level: u32,
    channel: &str,
) -> Result<CommandOutcome, Error> {
    let outcome = match webhook {
        Some(w) => w
            .post(&message(hub, assignment_id, level, channel))
            .await
            .map_err(|e| e.to_string()),
        None => Err("no webhook gateway configured (notify.webhook_url)".to_string()),
    };
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(e) => (None, Some(e)),
    };
    let command = Command::NotificationRecord(cmd::NotificationRecord {
        assignment_id: assignment_id.clone(),
        channel: channel.to_string(),
        level,
        error,
        status,
    });
    let id = format!("notify:{assignment_id}:{level}");
    hub.submit(Actor::system(), Some(id), command).await
}

/// The delivery an event asks for: `(assignment, level, channel)` of an
/// `alternative_channel` rung.
pub fn wanted(event: &Event) -> Option<(AssignmentId, u32, String)> {
    match event {
        Event::AssignmentEscalated {
            assignment_id,
            level,
            action: EscalationAction::AlternativeChannel,
            channel,
            ..
        } => Some((
            assignment_id.clone(),
            *level,
            channel.clone().unwrap_or_else(|| "webhook".into()),
        )),
        _ => None,
    }
}

/// Follows the hub's durable events and delivers every alternative-channel rung.
/// Each delivery runs in its own task so a slow gateway holds nothing up.
pub fn spawn(hub: Hub, webhook: Option<Webhook>) -> tokio::task::JoinHandle<()> {
    let webhook = Arc::new(webhook);
    let mut batches = hub.subscribe_records();
    tokio::spawn(async move {
        loop {
            match batches.recv().await {
                Ok(records) => {
                    for (assignment_id, level, channel) in
                        records.iter().filter_map(|r| wanted(&r.event))
                    {
                        let (hub, webhook) = (hub.clone(), webhook.clone());
                        tokio::spawn(async move {
                            let r = deliver(
                                &hub,
                                webhook.as_ref().as_ref(),
                                &assignment_id,
                                level,
                                &channel,
                            )
                            .await;
                            if let Err(e) = r {
                                tracing::warn!(%assignment_id, error = %e, "recording a delivery failed");
                            }
                        });
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed_batches = n,
                        "notifier lagged; some deliveries skipped"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}
