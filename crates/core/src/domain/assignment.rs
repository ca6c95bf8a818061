//! Assignments: one resource sent to one incident, with its responsibilities and the
//! checklist of actions it must take. `notified → acknowledged → en_route → on_scene →
//! completed`; it may be declined before work starts or cancelled by the desk.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AssignmentId, IncidentId, ResourceId, UserId};
use super::resource::ResourceStatus;
use super::{DomainError, Lifecycle, MAX_SHORT_TEXT, check_text, wire_enum};

wire_enum!(
    /// Where an assignment is in its lifecycle.
    AssignmentStatus {
        Notified => "notified",
        Acknowledged => "acknowledged",
        EnRoute => "en_route",
        OnScene => "on_scene",
        Completed => "completed",
        Declined => "declined",
        Cancelled => "cancelled",
    }
);

impl Lifecycle for AssignmentStatus {
    const ENTITY: &'static str = "assignment";

    fn next(self) -> &'static [Self] {
        use AssignmentStatus::*;
        match self {
            Notified => &[Acknowledged, Declined, Cancelled],
            Acknowledged => &[EnRoute, OnScene, Completed, Declined, Cancelled],
            EnRoute => &[OnScene, Completed, Cancelled],
            OnScene => &[Completed, Cancelled],
            Completed | Declined | Cancelled => &[],
        }
    }

    fn name(self) -> &'static str {
        AssignmentStatus::name(self)
    }
}

impl AssignmentStatus {
    /// Still holding the resource.
    pub fn is_active(self) -> bool {
        use AssignmentStatus::*;
        matches!(self, Notified | Acknowledged | EnRoute | OnScene)
    }

    /// The resource status that goes with this assignment status, when it holds one.
    pub fn resource_status(self) -> Option<ResourceStatus> {
        use AssignmentStatus::*;
        match self {
            Notified | Acknowledged => Some(ResourceStatus::Assigned),
            EnRoute => Some(ResourceStatus::EnRoute),
            OnScene => Some(ResourceStatus::OnScene),
            Completed | Declined | Cancelled => None,
        }
    }

    /// The statuses `assignment.progress` may set.
    pub fn is_progress(self) -> bool {
        use AssignmentStatus::*;
        matches!(self, EnRoute | OnScene | Completed)
    }
}

/// An action as a command specifies it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionSpec {
    pub text: String,
    #[serde(default)]
    pub required: bool,
}

/// One checklist item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Action {
    pub id: String,
    pub text: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why the action was left undone when the assignment completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// One assignment as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    pub id: AssignmentId,
    pub incident_id: IncidentId,
    pub resource_id: ResourceId,
    pub responsibilities: String,
    pub actions: Vec<Action>,
    pub status: AssignmentStatus,
    /// Why this resource was chosen when it was not among the recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_by: UserId,
    pub notified_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en_route_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_scene_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkin_at: Option<DateTime<Utc>>,
}

impl Assignment {
    /// Builds the checklist, numbering actions `act_1`, `act_2`, … in order.
    pub fn checklist(specs: &[ActionSpec]) -> Result<Vec<NewAction>, DomainError> {
        if specs.len() > 50 {
            return Err(DomainError::validation("actions", "at most 50 actions"));
        }
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                check_text(&format!("actions[{i}].text"), &s.text, MAX_SHORT_TEXT, true)?;
                Ok(NewAction {
                    id: format!("act_{}", i + 1),
                    text: s.text.clone(),
                    required: s.required,
                })
            })
            .collect()
    }

    pub fn action(&self, action_id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == action_id)
    }

    /// Required actions not yet done.
    pub fn missing_required(&self) -> impl Iterator<Item = &Action> {
        self.actions
            .iter()
            .filter(|a| a.required && a.done_at.is_none())
    }

    /// Sets the status and the timestamp that belongs to entering it.
    pub fn enter(&mut self, status: AssignmentStatus, at: DateTime<Utc>) {
        use AssignmentStatus::*;
        self.status = status;
        let slot = match status {
            Notified => return,
            Acknowledged => &mut self.acknowledged_at,
            EnRoute => &mut self.en_route_at,
            OnScene => &mut self.on_scene_at,
            Completed => &mut self.completed_at,
            Declined => &mut self.declined_at,
            Cancelled => &mut self.cancelled_at,
        };
        slot.get_or_insert(at);
    }
}

impl super::Finish for Assignment {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            AssignmentStatus::Completed => self.completed_at,
            AssignmentStatus::Declined => self.declined_at,
            AssignmentStatus::Cancelled => self.cancelled_at,
            _ => None,
        }
    }
}

/// An action of a checklist as it was set (`assignment.created`): not yet done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewAction {
    pub id: String,
    pub text: String,
    pub required: bool,
}

/// An assignment as it was created (`assignment.created`). Who and when are the
/// envelope's; it starts `notified`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewAssignment {
    pub id: AssignmentId,
    pub incident_id: IncidentId,
    pub resource_id: ResourceId,
    pub responsibilities: String,
    pub actions: Vec<NewAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Assignment {
    /// The assignment an `assignment.created` fact starts, created `at` by `by`.
    pub fn created(new: &NewAssignment, at: DateTime<Utc>, by: &UserId) -> Assignment {
        Assignment {
            id: new.id.clone(),
            incident_id: new.incident_id.clone(),
            resource_id: new.resource_id.clone(),
            responsibilities: new.responsibilities.clone(),
            actions: new
                .actions
                .iter()
                .map(|a| Action {
                    id: a.id.clone(),
                    text: a.text.clone(),
                    required: a.required,
                    done_at: None,
                    done_by: None,
                    note: None,
                    skipped: None,
                })
                .collect(),
            status: AssignmentStatus::Notified,
            reason: new.reason.clone(),
            created_by: by.clone(),
            notified_at: at,
            acknowledged_at: None,
            en_route_at: None,
            on_scene_at: None,
            completed_at: None,
            declined_at: None,
            decline_reason: None,
            cancelled_at: None,
            cancel_reason: None,
            last_checkin_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssignmentStatus::*;

    #[test]
    fn assignment_lifecycle_table() {
        let allowed = [
            (Notified, Acknowledged),
            (Notified, Declined),
            (Notified, Cancelled),
            (Acknowledged, EnRoute),
            (Acknowledged, OnScene),
            (Acknowledged, Completed),
            (Acknowledged, Declined),
            (Acknowledged, Cancelled),
            (EnRoute, OnScene),
            (EnRoute, Completed),
            (EnRoute, Cancelled),
            (OnScene, Completed),
            (OnScene, Cancelled),
        ];
        for &from in AssignmentStatus::ALL {
            for &to in AssignmentStatus::ALL {
                assert_eq!(
                    from.check_move(to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(
            Notified.check_move(EnRoute).unwrap_err().to_string(),
            "assignment cannot go from notified to en_route"
        );
    }

    #[test]
    fn checklist_numbers_actions_and_rejects_empty_text() {
        let specs = vec![
            ActionSpec {
                text: "Assess casualty".into(),
                required: true,
            },
            ActionSpec {
                text: "Report".into(),
                required: false,
            },
        ];
        let actions = Assignment::checklist(&specs).unwrap();
        assert_eq!(actions[0].id, "act_1");
        assert_eq!(actions[1].id, "act_2");
        assert!(actions[0].required);
        let bad = vec![ActionSpec {
            text: " ".into(),
            required: false,
        }];
        assert_eq!(
            Assignment::checklist(&bad).unwrap_err().to_string(),
            "actions[0].text: must not be empty"
        );
    }
}

/// How a unit's report reached the hub when someone at the desk records it on the
/// unit's behalf (an acknowledgement, progress or a check-in said over the radio). The
/// event's actor is the desk user who recorded it; `via` says it was not the unit's app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Radio,
    Phone,
    /// The unit's own user, from the Acknowledge action of a push notification (the
    /// hub's ack link): the actor is that user, not the desk.
    Push,
}
