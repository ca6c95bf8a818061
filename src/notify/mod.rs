//! Delivery channels for assignments and their escalations. The WebSocket channel is
//! the event stream itself: `assignment.created` and every `assignment.escalated`
//! reach the resource's phone, and the field user's `assignment.acknowledge` is the
//! delivery receipt. The webhook channel posts a signed JSON message to a gateway for
//! the ladder's `alternative_channel` rung; a rung whose channel is `email` goes out
//! over SMTP instead when `[smtp]` is configured (to the resource's e-mail address).
//! A case answered (`case.responded`) whose complainant left an e-mail address is
//! e-mailed the response. Every delivery's final outcome goes back into the log as a
//! system command (`notification.record` → `notification.sent` / `.failed`), so the
//! delivery evidence is part of the timeline.

pub mod email;
pub mod push;
pub mod webhook;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::Hub;
use crate::hub::exercise::{self, ExerciseOutbound};
pub use email::Mailer;
use muster_core::domain::ids::{AssignmentId, CaseId};
use muster_core::domain::procedure::EscalationAction;
use muster_core::engine::command as cmd;
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, Command, Error, Event, EventKind};
pub use webhook::{Webhook, WebhookError};

/// The configured channels beyond the WebSocket.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub webhook: Option<Webhook>,
    pub email: Option<Mailer>,
}

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
            "to_phone": resource.and_then(|r| r.phone.as_ref()),
            "to_email": resource.and_then(|r| r.email.as_ref()),
            "text": text,
        })
        .to_string()
    })
}

/// The e-mail of a rung: the resource's address (if it has one), the subject and the
/// message's text.
fn email_for(
    hub: &Hub,
    assignment_id: &AssignmentId,
    level: u32,
) -> (Option<String>, String, String) {
    let json: serde_json::Value =
        serde_json::from_str(&message(hub, assignment_id, level, "email")).unwrap_or_default();
    let subject = match json["reference"].as_str() {
        Some(reference) => format!("Muster: please acknowledge {reference}"),
        None => "Muster: please acknowledge your assignment".to_string(),
    };
    let to = json["to_email"].as_str().map(str::to_string);
    let text = json["text"].as_str().unwrap_or_default().to_string();
    (to, subject, text)
}

/// The `webhook-id` of a rung's delivery, `msg_<assignment>_<level>_<when the
/// assignment was made, unix ms>`: the same on every retry (and after a restart), and
/// never the same for two deliveries, even when a fresh log numbers its assignments
/// from 1 again (a gateway that drops repeated ids would drop a real alert).
pub fn webhook_id(hub: &Hub, assignment_id: &AssignmentId, level: u32) -> String {
    let made = hub.with_state(|s| {
        s.assignments
            .get(assignment_id)
            .map_or(0, |a| a.notified_at.timestamp_millis())
    });
    format!("msg_{assignment_id}_{level}_{made}")
}

/// Sends one alternative-channel notification and records the outcome: by e-mail for
/// an `email` rung when SMTP is configured, else by the webhook. Without a configured
/// channel the attempt fails (and says so in the log).
pub async fn deliver(
    hub: &Hub,
    channels: &Channels,
    assignment_id: &AssignmentId,
    level: u32,
    channel: &str,
) -> Result<CommandOutcome, Error> {
    let exercise = exercise::outbound(hub);
    let mark = exercise == Some(ExerciseOutbound::Mark);
    let (outcome, attempts) = match (&channels.email, &channels.webhook) {
        _ if exercise == Some(ExerciseOutbound::Suppress) => {
            (Err(exercise::SUPPRESSED.to_string()), None)
        }
        (Some(mailer), _) if channel == "email" => {
            let (to, mut subject, body) = email_for(hub, assignment_id, level);
            if mark {
                subject.insert_str(0, exercise::MARK);
            }
            let outcome = match to {
                Some(to) => mailer.send(&to, &subject, &body).await,
                None => Err("the resource has no e-mail address".to_string()),
            };
            (outcome, None)
        }
        (_, Some(w)) => {
            let mut body = message(hub, assignment_id, level, channel);
            if mark {
                body = exercise::mark_webhook(&body);
            }
            let outcome = w
                .deliver(&webhook_id(hub, assignment_id, level), &body)
                .await;
            let attempts = outcome.attempts;
            let result = outcome.result.map_err(|e| match attempts {
                1 => e.to_string(),
                n => format!("{e} (after {n} attempts)"),
            });
            (result, Some(attempts))
        }
        (_, None) => (
            Err("no webhook gateway configured (notify.webhook_url)".to_string()),
            None,
        ),
    };
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(e) => (None, Some(e)),
    };
    let command = Command::NotificationRecord(cmd::NotificationRecord {
        assignment_id: Some(assignment_id.clone()),
        case_id: None,
        message_id: None,
        channel: channel.to_string(),
        level,
        attempts,
        error,
        status,
    });
    let id = format!("notify:{assignment_id}:{level}");
    hub.submit(Actor::system(), Some(id), command).await
}

/// E-mails a case's response to its complainant and records the outcome
/// (`notification.sent/failed` with the `case_id`, channel `email`, level 0). `seq` is
/// the `case.responded` record's, so each response is recorded once.
pub async fn reply(
    hub: &Hub,
    channels: &Channels,
    case_id: &CaseId,
    seq: u64,
) -> Result<CommandOutcome, Error> {
    let found = hub.with_state(|s| {
        let c = s.cases.get(case_id)?;
        let to = c.email.clone()?;
        let kind = serde_json::to_value(c.case_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "case".into());
        Some((to, kind, c.response.clone().unwrap_or_default()))
    });
    let Some((to, kind, response)) = found else {
        return Ok(CommandOutcome::default());
    };
    let exercise = exercise::outbound(hub);
    let outcome = match &channels.email {
        _ if exercise == Some(ExerciseOutbound::Suppress) => Err(exercise::SUPPRESSED.to_string()),
        Some(mailer) => {
            let mut subject = format!("Your {kind} ({case_id}): our response");
            if exercise == Some(ExerciseOutbound::Mark) {
                subject.insert_str(0, exercise::MARK);
            }
            mailer.send(&to, &subject, &response).await
        }
        None => Err("no SMTP server configured (smtp.host)".to_string()),
    };
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(e) => (None, Some(e)),
    };
    let command = Command::NotificationRecord(cmd::NotificationRecord {
        assignment_id: None,
        case_id: Some(case_id.clone()),
        message_id: None,
        channel: "email".to_string(),
        level: 0,
        attempts: None,
        error,
        status,
    });
    let id = format!("notify:{case_id}:reply:{seq}");
    hub.submit(Actor::system(), Some(id), command).await
}

/// What a durable event asks this module to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// An `alternative_channel` rung: `(assignment, level, channel)`.
    Rung(AssignmentId, u32, String),
    /// A case's response, for its complainant.
    Reply(CaseId),
}

/// The delivery an event asks for: an `alternative_channel` rung, or a case's reply.
pub fn wanted(event: &Event) -> Option<Wanted> {
    match event {
        Event::AssignmentEscalated {
            assignment_id,
            level,
            action: EscalationAction::AlternativeChannel,
            channel,
            ..
        } => Some(Wanted::Rung(
            assignment_id.clone(),
            *level,
            channel.clone().unwrap_or_else(|| "webhook".into()),
        )),
        Event::CaseResponded { case_id, .. } => Some(Wanted::Reply(case_id.clone())),
        _ => None,
    }
}

/// Follows the hub's durable events and delivers every alternative-channel rung and
/// case reply. Each delivery runs in its own task so a slow gateway holds nothing up.
pub fn spawn(hub: Hub, channels: Channels) -> tokio::task::JoinHandle<()> {
    let channels = Arc::new(channels);
    follow(hub.clone(), "notifier", move |records| {
        for (seq, wanted) in records
            .iter()
            .filter_map(|r| wanted(&r.event).map(|w| (r.seq, w)))
        {
            let (hub, channels) = (hub.clone(), channels.clone());
            tokio::spawn(async move {
                let r = match &wanted {
                    Wanted::Rung(assignment_id, level, channel) => {
                        deliver(&hub, &channels, assignment_id, *level, channel).await
                    }
                    Wanted::Reply(case_id) => reply(&hub, &channels, case_id, seq).await,
                };
                if let Err(e) = r {
                    tracing::warn!(?wanted, error = %e, "recording a delivery failed");
                }
            });
        }
    })
}

/// Calls `on_batch` with every batch of durable records the hub publishes, in order,
/// until the hub stops; a follower that falls behind skips what it missed and says so
/// (`who` names it in the log).
pub fn follow(
    hub: Hub,
    who: &'static str,
    mut on_batch: impl FnMut(&crate::hub::Records) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let mut batches = hub.subscribe_records();
    tokio::spawn(async move {
        loop {
            match batches.recv().await {
                Ok(records) => on_batch(&records),
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed_batches = n, "{who} lagged; some deliveries skipped");
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}
