//! Events: what happened, past tense `noun.verbed`, as facts. An event that creates
//! something carries, under its noun, a `New<Noun>` with what was given when it
//! happened (no status, times, actor or lists that later events fill in); the others
//! carry the ids they concern and the fields that changed. Who and when live in the
//! [`Record`] envelope; [`State::apply`](super::state::State::apply) builds the read
//! models from both.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::assignment::{AssignmentStatus, NewAssignment, Via};
use crate::domain::case::{CaseOutcome, NewCase};
use crate::domain::contact::NewContact;
use crate::domain::duplicate::Candidate;
use crate::domain::ids::{
    AlertId, AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId,
    ResourceId, ShiftId, UserId,
};
use crate::domain::improvement::{ImprovementStatus, NewImprovement};
use crate::domain::incident::{IncidentStatus, NewAssessment, NewIncident, NewNote};
use crate::domain::message::NewMessage;
use crate::domain::procedure::EscalationAction;
use crate::domain::push::{PushKeys, UnsubscribeReason};
use crate::domain::resource::{NewResource, ResourceStatus};
use crate::domain::support::{Evidence, NewPlan};
use crate::domain::triage::Priority;
use crate::domain::user::NewUser;
use crate::privacy::{Category, RecordRef};

/// Declares every event once: its wire name, its variant and its fields. From the
/// table come [`Event`] (serde-tagged with those names), the fieldless [`EventKind`]
/// and [`Event::kind`], so a wire name is never written twice.
macro_rules! events {
    ($(
        $(#[$meta:meta])*
        $name:literal => $variant:ident { $($fields:tt)* },
    )*) => {
        /// Every event the engine emits.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "kind")]
        pub enum Event {
            $(
                $(#[$meta])*
                #[serde(rename = $name)]
                $variant { $($fields)* },
            )*
        }

        /// What kind of event: an [`Event`] without its fields. It serialises as the
        /// wire name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The wire name, e.g. `incident.opened`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
        }

        impl Event {
            /// What kind of event this is.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant { .. } => EventKind::$variant,)*
                }
            }
        }
    };
}

events! {
    "contact.received" => ContactReceived { contact: NewContact },
    "contact.taken" => ContactTaken { contact_id: ContactId },
    "contact.linked" => ContactLinked {
        contact_id: ContactId,
        incident_id: IncidentId,
    },
    "contact.closed" => ContactClosed {
        contact_id: ContactId,
        outcome: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    "incident.opened" => IncidentOpened {
        incident: NewIncident,
        /// Open incidents of the same type close in space and time: possible
        /// duplicates for the operator to link or dismiss.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        duplicates: Vec<Candidate>,
    },
    "incident.answered" => IncidentAnswered {
        incident_id: IncidentId,
        answers: BTreeMap<String, serde_json::Value>,
        /// The priority the call script's rules give so far, and the rule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suggested_priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
    "incident.assessed" => IncidentAssessed {
        incident_id: IncidentId,
        assessment: NewAssessment,
    },
    "incident.noted" => IncidentNoted { incident_id: IncidentId, note: NewNote },
    /// A status change that follows from another step (dispatch, first resource en
    /// route, assessment, every resource stood down).
    "incident.status_changed" => IncidentStatusChanged {
        incident_id: IncidentId,
        from: IncidentStatus,
        status: IncidentStatus,
    },
    "incident.resolved" => IncidentResolved {
        incident_id: IncidentId,
        outcome: String,
        summary: String,
    },
    "incident.closed" => IncidentClosed { incident_id: IncidentId },
    "incident.reopened" => IncidentReopened {
        incident_id: IncidentId,
        reason: String,
    },
    "incident.cancelled" => IncidentCancelled {
        incident_id: IncidentId,
        reason: String,
    },
    /// A duplicate folded into `into`: it is now `cancelled` with `merged_into`; its
    /// contacts were moved (`contact.linked`) and its resources stood down just before.
    "incident.merged" => IncidentMerged {
        incident_id: IncidentId,
        into: IncidentId,
        reason: String,
    },
    "incident.overridden" => IncidentOverridden {
        incident_id: IncidentId,
        rule: String,
        justification: String,
    },
    /// A partner centre follows the incident from now on (`incident.share`).
    "incident.shared" => IncidentShared { incident_id: IncidentId, partner: String },
    /// The partner centre no longer follows it.
    "incident.unshared" => IncidentUnshared { incident_id: IncidentId, partner: String },

    /// A new account. Its password hash went to the credential store, not here.
    "user.created" => UserCreated { user: NewUser },
    "user.disabled" => UserDisabled { user_id: UserId },
    /// The password was set anew (by whom and when: the envelope); the hash is in the
    /// credential store.
    "user.password_changed" => UserPasswordChanged { user_id: UserId },

    "resource.registered" => ResourceRegistered { resource: NewResource },
    "resource.status_changed" => ResourceStatusChanged {
        resource_id: ResourceId,
        from: ResourceStatus,
        status: ResourceStatus,
    },
    /// `lat`/`lon` are always given; they read `null` once erased (the position is
    /// then left as it was).
    "resource.located" => ResourceLocated {
        resource_id: ResourceId,
        lat: Option<f64>,
        lon: Option<f64>,
    },

    "assignment.created" => AssignmentCreated { assignment: NewAssignment },
    /// `via` when the desk recorded it on the unit's behalf (the actor is the desk user).
    "assignment.acknowledged" => AssignmentAcknowledged {
        assignment_id: AssignmentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<Via>,
    },
    "assignment.declined" => AssignmentDeclined {
        assignment_id: AssignmentId,
        reason: String,
    },
    "assignment.progressed" => AssignmentProgressed {
        assignment_id: AssignmentId,
        status: AssignmentStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<Via>,
        /// Why each action left undone at completion was not done, by action id.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        skipped: BTreeMap<String, String>,
    },
    "assignment.action_done" => AssignmentActionDone {
        assignment_id: AssignmentId,
        action_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An action unticked: it is no longer done (the reason says why).
    "assignment.action_undone" => AssignmentActionUndone {
        assignment_id: AssignmentId,
        action_id: String,
        reason: String,
    },
    "assignment.cancelled" => AssignmentCancelled {
        assignment_id: AssignmentId,
        reason: String,
    },
    "checkin.recorded" => CheckinRecorded {
        assignment_id: AssignmentId,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<Via>,
    },

    "message.broadcast" => MessageBroadcast { message: NewMessage },
    "message.acknowledged" => MessageAcknowledged {
        message_id: MessageId,
        user_id: UserId,
    },

    "case.opened" => CaseOpened { case: NewCase },
    "case.assigned" => CaseAssigned { case_id: CaseId, user_id: UserId },
    "case.responded" => CaseResponded { case_id: CaseId, response: String },
    "case.closed" => CaseClosed {
        case_id: CaseId,
        outcome: CaseOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_cause: Option<String>,
    },

    "support.proposed" => SupportProposed { plan: NewPlan },
    /// The colleague agreed: who and when are in the envelope.
    "support.agreed" => SupportAgreed { plan_id: PlanId },
    "support.noted" => SupportNoted { plan_id: PlanId, text: String },
    "support.reviewed" => SupportReviewed { plan_id: PlanId, outcome: String },
    /// Evidence (a trainee's exercise debrief) attached to their plan; who and when are
    /// in the envelope.
    "support.evidence_attached" => SupportEvidenceAttached {
        plan_id: PlanId,
        evidence: Evidence,
    },

    "improvement.raised" => ImprovementRaised { improvement: NewImprovement },
    "improvement.updated" => ImprovementUpdated {
        improvement_id: ImprovementId,
        status: ImprovementStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    /// A supervisor acknowledged an alert (who and when are in the envelope): it leaves
    /// the open list.
    "alert.acknowledged" => AlertAcknowledged {
        alert_id: AlertId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },

    /// A rung of the escalation ladder fired for an unacknowledged assignment.
    "assignment.escalated" => AssignmentEscalated {
        assignment_id: AssignmentId,
        level: u32,
        action: EscalationAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// For `suggest_next_resource`: the best other resource now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suggested_resource_id: Option<ResourceId>,
    },
    /// A deployed resource did not check in by `due_at`.
    "checkin.missed" => CheckinMissed {
        assignment_id: AssignmentId,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        due_at: DateTime<Utc>,
    },
    /// A deadline ran out before its step was done: an incident's response target
    /// (`incident_id`, `priority`), a case's (`case_id`: `acknowledge`, `respond`) or a
    /// support plan's review (`plan_id`: `review`). Exactly one id is present.
    "target.breached" => TargetBreached {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident_id: Option<IncidentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_id: Option<CaseId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan_id: Option<PlanId>,
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        due_at: DateTime<Utc>,
    },
    /// A notification reached its channel (for the webhook: the gateway accepted it;
    /// for e-mail: the SMTP server did). About an assignment's rung, or a case's reply
    /// to its complainant (`case_id`, level 0).
    "notification.sent" => NotificationSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignment_id: Option<AssignmentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_id: Option<CaseId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
        channel: String,
        level: u32,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
    },
    /// A delivery failed (after its retries); the ladder goes on regardless.
    "notification.failed" => NotificationFailed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignment_id: Option<AssignmentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_id: Option<CaseId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
        channel: String,
        level: u32,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
    },
    /// A user's browser can be reached by Web Push at `endpoint`. `session` (the
    /// session that subscribed, for log-out) stays in the log: [`Event::redacted`]
    /// removes it from what any client is sent.
    "push.subscribed" => PushSubscribed {
        user_id: UserId,
        endpoint: String,
        keys: PushKeys,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// A subscription was removed: `user`, `logged_out`, `gone` (the push service
    /// said it no longer exists) or `replaced` (by a newer one).
    "push.unsubscribed" => PushUnsubscribed {
        user_id: UserId,
        endpoint: String,
        reason: UnsubscribeReason,
    },
    /// The first event of a log `muster migrate-log` wrote from an older one: that
    /// log's head hash and length, so the old file proves what the new one started
    /// from. Its `at` is the old log's first event's, keeping the log in time order.
    "log.migrated" => LogMigrated {
        from_head: String,
        from_events: u64,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        migrated_at: DateTime<Utc>,
    },

    /// A data subject's personal data erased on request (docs/PRIVACY.md): the records
    /// and categories it covered. `override` with a `justification` when a linked
    /// incident or case was still open (legal hold).
    "privacy.erased" => PrivacyErased {
        subject_id: String,
        records: Vec<RecordRef>,
        categories: Vec<Category>,
        reason: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        r#override: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        justification: Option<String>,
    },
    /// The retention sweep erased one category's data from before `before` in these
    /// records, under a policy of `retention_days`.
    "privacy.swept" => PrivacySwept {
        category: Category,
        retention_days: u32,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        before: DateTime<Utc>,
        records: Vec<RecordRef>,
    },
    /// An admin read a subject's export (who and when in the envelope), and why.
    "privacy.accessed" => PrivacyAccessed { subject_id: String, purpose: String },
    /// An admin searched for data subjects: how many matched (never the search text).
    "privacy.searched" => PrivacySearched { matches: u32 },

    /// A shift on a resource's roster, `[start, end)` (`roster.add`).
    "roster.shift_added" => RosterShiftAdded {
        shift_id: ShiftId,
        resource_id: ResourceId,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        start: DateTime<Utc>,
        #[serde(with = "crate::time::serde_millis")]
        #[schemars(with = "DateTime<Utc>")]
        end: DateTime<Utc>,
    },
    /// A shift taken off the roster (`roster.remove`); one under way ended with it
    /// (`roster.shift_ended` just before).
    "roster.shift_removed" => RosterShiftRemoved {
        shift_id: ShiftId,
        resource_id: ResourceId,
    },
    /// The hub recorded a shift's start (`timer.shift_start`); a resource off duty went
    /// on duty with it (`resource.status_changed` after).
    "roster.shift_started" => RosterShiftStarted {
        shift_id: ShiftId,
        resource_id: ResourceId,
    },
    /// The hub recorded a shift's end. `busy_on`: the resource was on this assignment,
    /// and goes off duty when it ends rather than now.
    "roster.shift_ended" => RosterShiftEnded {
        shift_id: ShiftId,
        resource_id: ResourceId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        busy_on: Option<AssignmentId>,
    },
    /// A disabled account may log in again.
    "user.enabled" => UserEnabled { user_id: UserId },
    /// What changed (absent: unchanged). `resource_id: null`: the user no longer
    /// carries a resource; an id: they carry that one (and no longer their old one).
    "user.updated" => UserUpdated {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<crate::domain::user::Role>,
        #[serde(
            default,
            deserialize_with = "crate::engine::command::double_option",
            skip_serializing_if = "Option::is_none"
        )]
        #[schemars(with = "Option<ResourceId>")]
        resource_id: Option<Option<ResourceId>>,
    },
    /// What changed (absent: unchanged).
    "resource.updated" => ResourceUpdated {
        resource_id: ResourceId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_type: Option<crate::domain::resource::ResourceType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skills: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        home: Option<crate::domain::resource::Coordinates>,
    },
    /// Out of service for good: never recommended nor assignable, left out of the
    /// lists, kept in history.
    "resource.retired" => ResourceRetired { resource_id: ResourceId },
}

impl EventKind {
    /// The kind with this wire name, if there is one.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// The wire names of `kinds`, usable in a `const` (for static lists of names).
    pub const fn names<const N: usize>(kinds: [EventKind; N]) -> [&'static str; N] {
        let mut names = [""; N];
        let mut i = 0;
        while i < N {
            names[i] = kinds[i].as_str();
            i += 1;
        }
        names
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// On the wire the name, one of the table's: the API documents list them all.
impl schemars::JsonSchema for EventKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        schemars::json_schema!({"type": "string", "description": "An event kind.", "enum": names})
    }
}

/// A kind equals its wire name, so a kind read from elsewhere (a stored event, a
/// frame) compares directly.
impl PartialEq<str> for EventKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<EventKind> for &str {
    fn eq(&self, other: &EventKind) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<EventKind> for String {
    fn eq(&self, other: &EventKind) -> bool {
        self == other.as_str()
    }
}

impl Event {
    /// The assignment an event is about, if it is about one.
    pub fn assignment_id(&self) -> Option<&AssignmentId> {
        use Event::*;
        match self {
            AssignmentCreated { assignment } => Some(&assignment.id),
            AssignmentAcknowledged { assignment_id, .. }
            | AssignmentDeclined { assignment_id, .. }
            | AssignmentProgressed { assignment_id, .. }
            | AssignmentActionDone { assignment_id, .. }
            | AssignmentActionUndone { assignment_id, .. }
            | AssignmentCancelled { assignment_id, .. }
            | CheckinRecorded { assignment_id, .. }
            | AssignmentEscalated { assignment_id, .. }
            | CheckinMissed { assignment_id, .. } => Some(assignment_id),
            NotificationSent { assignment_id, .. } | NotificationFailed { assignment_id, .. } => {
                assignment_id.as_ref()
            }
            _ => None,
        }
    }

    /// The support plan an event is about, if it is about one.
    pub fn plan_id(&self) -> Option<&PlanId> {
        use Event::*;
        match self {
            SupportProposed { plan } => Some(&plan.id),
            SupportAgreed { plan_id }
            | SupportNoted { plan_id, .. }
            | SupportReviewed { plan_id, .. }
            | SupportEvidenceAttached { plan_id, .. } => Some(plan_id),
            TargetBreached {
                plan_id: Some(plan_id),
                ..
            } => Some(plan_id),
            _ => None,
        }
    }

    /// The id this event created, as it appears in a command result's `data`.
    pub fn created(&self) -> Option<(&'static str, String)> {
        self.created_ref().map(|(name, id)| (name, id.to_string()))
    }

    /// [`created`](Self::created), borrowed.
    pub fn created_ref(&self) -> Option<(&'static str, &str)> {
        use Event::*;
        match self {
            ContactReceived { contact } => Some(("contact_id", contact.id.as_str())),
            IncidentOpened { incident, .. } => Some(("incident_id", incident.id.as_str())),
            UserCreated { user } => Some(("user_id", user.id.as_str())),
            ResourceRegistered { resource } => Some(("resource_id", resource.id.as_str())),
            AssignmentCreated { assignment } => Some(("assignment_id", assignment.id.as_str())),
            MessageBroadcast { message } => Some(("message_id", message.id.as_str())),
            CaseOpened { case } => Some(("case_id", case.id.as_str())),
            SupportProposed { plan } => Some(("plan_id", plan.id.as_str())),
            ImprovementRaised { improvement } => Some(("improvement_id", improvement.id.as_str())),
            RosterShiftAdded { shift_id, .. } => Some(("shift_id", shift_id.as_str())),
            _ => None,
        }
    }

    /// A copy safe to send to clients: what only the hub needs removed. `None` when
    /// nothing was.
    pub fn redacted(&self) -> Option<Event> {
        match self {
            Event::PushSubscribed {
                user_id,
                endpoint,
                keys,
                session: Some(_),
            } => Some(Event::PushSubscribed {
                user_id: user_id.clone(),
                endpoint: endpoint.clone(),
                keys: keys.clone(),
                session: None,
            }),
            // A single sign-on subject is personal data the apps have no use for.
            Event::UserCreated { user } if user.identity.is_some() => Some(Event::UserCreated {
                user: NewUser {
                    identity: None,
                    ..user.clone()
                },
            }),
            _ => None,
        }
    }
}

/// The actor id used for events no user caused (timers, start-up seeding).
pub const SYSTEM_ACTOR: &str = "system";

/// An event with its envelope: position, time, actor and the command that caused it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: UserId,
    pub command_id: Option<String>,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_wire_name_and_is_found_by_it() {
        let names: std::collections::BTreeSet<_> =
            EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), EventKind::ALL.len());
        for &k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::from_name("incident.open"), None);
    }

    #[test]
    fn the_kind_is_the_serde_tag() {
        let e = Event::UserDisabled {
            user_id: UserId("usr_1".into()),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], e.kind().as_str());
        assert_eq!(serde_json::to_value(e.kind()).unwrap(), v["kind"]);
        assert_eq!(e.kind().to_string(), e.kind().as_str());
    }
}
