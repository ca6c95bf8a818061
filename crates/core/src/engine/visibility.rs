//! Who may see an event. Desk roles (operator, supervisor, admin) see all but direct
//! messages between others, support plans of others and (admins) cases; a field user sees its own resource's work, the incidents
//! it is assigned to and the messages addressed to it; intake sees nothing.

use super::event::{Event, Record};
use super::state::State;
use crate::domain::ids::{ResourceId, UserId};
use crate::domain::message::Audience;
use crate::domain::user::Role;

/// The audience of one event, computed once by the writer when it is published.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Operators, supervisors and admins see it.
    pub desk: bool,
    /// Every signed-in user sees it (a broadcast to `all`).
    pub everyone: bool,
    /// Field users carrying these resources see it.
    pub resources: Vec<ResourceId>,
    /// These users see it (direct messages, acknowledgements).
    pub users: Vec<UserId>,
    /// Every supervisor sees it (support plans: the parties and supervisors only).
    pub supervisors: bool,
    /// Operators and supervisors see it, admins do not (cases: complaints about how
    /// colleagues handled an incident are the desk's business, not the system's).
    pub dispatchers: bool,
}

/// The person looking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: UserId,
    pub role: Role,
    pub resource_id: Option<ResourceId>,
}

impl Visibility {
    fn desk() -> Self {
        Visibility {
            desk: true,
            ..Default::default()
        }
    }

    /// May `viewer` see the event?
    pub fn allows(&self, viewer: &Viewer) -> bool {
        if viewer.role == Role::Intake {
            return false;
        }
        if self.everyone || self.users.contains(&viewer.user_id) {
            return true;
        }
        if self.supervisors && viewer.role == Role::Supervisor {
            return true;
        }
        if self.dispatchers && viewer.role.can_dispatch() {
            return true;
        }
        if viewer.role.sees_everything() {
            return self.desk;
        }
        viewer
            .resource_id
            .as_ref()
            .is_some_and(|r| self.resources.contains(r))
    }
}

/// Who may see `rec`, judged on the state right after it was applied.
pub fn of(state: &State, rec: &Record) -> Visibility {
    use Event::*;
    match &rec.event {
        ResourceRegistered { resource } => with_resources(vec![resource.id.clone()]),
        ResourceStatusChanged { resource_id, .. } | ResourceLocated { resource_id, .. } => {
            with_resources(vec![resource_id.clone()])
        }
        // A resource's shifts: the desk's, and its own crew's.
        RosterShiftAdded { resource_id, .. }
        | RosterShiftRemoved { resource_id, .. }
        | RosterShiftStarted { resource_id, .. }
        | RosterShiftEnded { resource_id, .. } => with_resources(vec![resource_id.clone()]),
        MessageBroadcast { message } => {
            message_audience(state, &message.audience, &message.recipients, &rec.actor)
        }
        // A browser's push endpoint and keys are its user's alone.
        PushSubscribed { user_id, .. } | PushUnsubscribed { user_id, .. } => Visibility {
            users: vec![user_id.clone()],
            ..Default::default()
        },
        MessageAcknowledged {
            message_id,
            user_id,
        } => match state.messages.get(message_id) {
            Some(m) => {
                let mut v = message_audience(state, &m.audience, &m.recipients, &m.sent_by);
                v.users.push(user_id.clone());
                v
            }
            None => Visibility::desk(),
        },
        event if event.plan_id().is_some() => plan_audience(state, event),
        // Every app that may hold the erased data must drop it.
        PrivacyErased { .. } | PrivacySwept { .. } => Visibility {
            desk: true,
            everyone: true,
            ..Default::default()
        },
        // A read of personal data is the reader's own business (and the audit's).
        PrivacyAccessed { .. } | PrivacySearched { .. } => Visibility {
            users: vec![rec.actor.clone()],
            ..Default::default()
        },
        // An assignment's own events go to its resource, not to every crew on the
        // incident: a field user sees its own assignments (the incident's own events,
        // below, reach every crew on it).
        event if event.assignment_id().is_some() => {
            let resource = event
                .assignment_id()
                .and_then(|a| state.assignments.get(a))
                .map(|a| a.resource_id.clone());
            with_resources(resource.into_iter().collect())
        }
        // A case's missed deadline: supervisors and whoever is handling it.
        TargetBreached {
            case_id: Some(case_id),
            ..
        } => Visibility {
            users: state
                .cases
                .get(case_id)
                .and_then(|c| c.assigned_to.clone())
                .into_iter()
                .collect(),
            supervisors: true,
            ..Default::default()
        },
        CaseOpened { .. } | CaseAssigned { .. } | CaseResponded { .. } | CaseClosed { .. } => {
            Visibility {
                dispatchers: true,
                ..Default::default()
            }
        }
        _ => match state.incident_of(&rec.event) {
            Some(incident_id) => with_resources(resources_on(state, &incident_id)),
            None => Visibility::desk(),
        },
    }
}

/// A support plan's events go to its two parties and to supervisors, never to other
/// operators: support is personal.
fn plan_audience(state: &State, event: &Event) -> Visibility {
    let users = event
        .plan_id()
        .and_then(|id| state.plans.get(id))
        .map(|p| p.parties().into_iter().cloned().collect())
        .unwrap_or_default();
    Visibility {
        users,
        supervisors: true,
        ..Default::default()
    }
}

fn with_resources(resources: Vec<ResourceId>) -> Visibility {
    Visibility {
        desk: true,
        resources,
        ..Default::default()
    }
}

/// Every resource ever assigned to the incident.
pub fn resources_on(
    state: &State,
    incident_id: &crate::domain::ids::IncidentId,
) -> Vec<ResourceId> {
    let Some(i) = state.incidents.get(incident_id) else {
        return Vec::new();
    };
    let mut out: Vec<ResourceId> = i
        .assignment_ids
        .iter()
        .filter_map(|a| state.assignments.get(a))
        .map(|a| a.resource_id.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn message_audience(
    state: &State,
    audience: &Audience,
    recipients: &[UserId],
    sender: &UserId,
) -> Visibility {
    match audience {
        Audience::All => Visibility {
            desk: true,
            everyone: true,
            ..Default::default()
        },
        // The field users it was sent to, and the desk that follows the answers.
        Audience::Field => Visibility {
            desk: true,
            users: recipients.to_vec(),
            ..Default::default()
        },
        Audience::Team(team) => with_resources(
            state
                .resources
                .values()
                .filter(|r| &r.team == team)
                .map(|r| r.id.clone())
                .collect(),
        ),
        Audience::Incident(incident_id) => with_resources(resources_on(state, incident_id)),
        Audience::Resource(resource_id) => with_resources(vec![resource_id.clone()]),
        Audience::User(user_id) => Visibility {
            users: vec![sender.clone(), user_id.clone()],
            ..Default::default()
        },
    }
}
