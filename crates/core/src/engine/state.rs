//! The authoritative state: a fold of the event log. [`State::apply`] never fails and
//! never does I/O; the engine validates before an event exists, so applying one only
//! records what the event says. Events are facts: a created object's read model is
//! built from its `New<Noun>` and the envelope (`at`, `actor`).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::event::{Event, Record};
use crate::domain::assignment::Assignment;
use crate::domain::case::{Case, CaseStatus};
use crate::domain::contact::{Contact, ContactStatus};
use crate::domain::ids::{
    AlertId, AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId,
    ResourceId, ShiftId, UserId,
};
use crate::domain::improvement::{Improvement, ImprovementUpdate};
use crate::domain::incident::{Assessment, Incident, IncidentStatus, Note};
use crate::domain::message::Message;
use crate::domain::push::PushSubscription;
use crate::domain::resource::{Position, Resource};
use crate::domain::roster::Shift;
use crate::domain::support::{AttachedEvidence, Plan, PlanNote, PlanStatus};
use crate::domain::user::User;

/// How many command results are kept for de-duplication. Older command ids are
/// forgotten in log order, so every replica forgets the same ones.
pub const DEDUPE_WINDOW: usize = 100_000;

/// What a successful command returned: the last seq it wrote and the ids it created.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandOutcome {
    pub seq: u64,
    pub data: BTreeMap<String, String>,
}

/// Everything the hub knows, as of `seq`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct State {
    /// The last event applied.
    pub seq: u64,
    pub contacts: BTreeMap<ContactId, Contact>,
    pub incidents: BTreeMap<IncidentId, Incident>,
    pub resources: BTreeMap<ResourceId, Resource>,
    pub assignments: BTreeMap<AssignmentId, Assignment>,
    pub users: BTreeMap<UserId, User>,
    pub messages: BTreeMap<MessageId, Message>,
    /// Lower-cased username → id, so usernames stay unique.
    pub usernames: BTreeMap<String, UserId>,
    /// Single sign-on identities ([`crate::domain::user::Identity::key`]) → the
    /// account linked to each.
    #[serde(default)]
    pub identities: BTreeMap<String, UserId>,
    /// Incidents opened per year, for human references.
    pub references: BTreeMap<i32, u32>,
    /// Results by `"<actor> <command id>"`, for idempotent retries.
    /// (foldhash: every command looks itself up here, and SipHash showed in profiles.)
    pub results: HashMap<String, CommandOutcome, foldhash::fast::RandomState>,
    /// The keys of `results` in the order they were written, oldest first.
    pub result_order: VecDeque<String>,
    /// Seqs of the events that concern each incident: its timeline.
    pub timelines: BTreeMap<IncidentId, Vec<u64>>,
    /// The latest incidents opened, per type, newest last, with when and where:
    /// duplicate detection looks back through these without scanning every incident.
    #[serde(default)]
    pub opened: BTreeMap<String, VecDeque<Opened>>,
    /// Active (resource-holding) assignments by resource, so the writer never scans.
    pub active_by_resource: BTreeMap<ResourceId, BTreeSet<AssignmentId>>,
    /// The last escalation rung fired per assignment, so the ladder continues (and
    /// never repeats) across restarts.
    #[serde(default)]
    pub escalations: BTreeMap<AssignmentId, u32>,
    /// The due time of the last missed check-in per assignment: each fires once.
    #[serde(default)]
    pub missed_checkins: BTreeMap<AssignmentId, DateTime<Utc>>,
    /// The response targets already breached per incident: each fires once.
    #[serde(default)]
    pub breaches: BTreeMap<IncidentId, BTreeSet<String>>,
    /// The deadlines already breached per case (`acknowledge`, `respond`): each once.
    #[serde(default)]
    pub case_breaches: BTreeMap<CaseId, BTreeSet<String>>,
    /// Support plans whose missed review has been recorded: once each.
    #[serde(default)]
    pub plan_breaches: BTreeSet<PlanId>,
    /// Queries and complaints.
    #[serde(default)]
    pub cases: BTreeMap<CaseId, Case>,
    /// Colleague support plans.
    #[serde(default)]
    pub plans: BTreeMap<PlanId, Plan>,
    /// Improvement actions raised from reviews.
    #[serde(default)]
    pub improvements: BTreeMap<ImprovementId, Improvement>,
    /// Alerts the timers raised about incidents and assignments, open until a
    /// supervisor acknowledges them (then kept, with who and when).
    #[serde(default)]
    pub alerts: BTreeMap<AlertId, Alert>,
    /// Each user's Web Push subscriptions, oldest first.
    #[serde(default)]
    pub push_subscriptions: BTreeMap<UserId, Vec<PushSubscription>>,
    /// Personal data erased, and the days of day-scoped data held (for the sweep).
    #[serde(default)]
    pub privacy: crate::privacy::erase::PrivacyState,
    /// Resources' shifts (removed ones are gone; ended ones stay, as history).
    #[serde(default)]
    pub shifts: BTreeMap<ShiftId, Shift>,
}

/// How many recent openings per incident type are kept for duplicate detection.
pub const OPENED_KEPT: usize = 256;

/// One incident's opening, as duplicate detection needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Opened {
    pub at: DateTime<Utc>,
    pub id: IncidentId,
    pub point: Option<(f64, f64)>,
}

/// The de-duplication key of a command.
pub fn result_key(actor: &UserId, command_id: &str) -> String {
    let mut key = String::with_capacity(actor.0.len() + 1 + command_id.len());
    key.push_str(&actor.0);
    key.push(' ');
    key.push_str(command_id);
    key
}

impl State {
    /// The latest openings of a type at or after `since`, newest first.
    pub fn opened_since<'a>(
        &'a self,
        incident_type: &str,
        since: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Opened> + 'a {
        self.opened
            .get(incident_type)
            .into_iter()
            .flat_map(|q| q.iter().rev())
            .take_while(move |o| o.at >= since)
    }

    /// The first result of a command already applied, for a retried id.
    pub fn result_of(&self, actor: &UserId, command_id: &str) -> Option<&CommandOutcome> {
        self.results.get(&result_key(actor, command_id))
    }

    /// The next human reference number for the year of `at`.
    pub fn next_reference(&self, at: DateTime<Utc>) -> u32 {
        self.references.get(&at.year()).copied().unwrap_or(0) + 1
    }

    /// The incident an event concerns, if any.
    pub fn incident_of(&self, event: &Event) -> Option<IncidentId> {
        use Event::*;
        if let Some(assignment_id) = event.assignment_id() {
            return match event {
                AssignmentCreated { assignment } => Some(assignment.incident_id.clone()),
                _ => self
                    .assignments
                    .get(assignment_id)
                    .map(|a| a.incident_id.clone()),
            };
        }
        match event {
            IncidentOpened { incident, .. } => Some(incident.id.clone()),
            TargetBreached { incident_id, .. } => incident_id.clone(),
            ContactLinked { incident_id, .. }
            | IncidentAnswered { incident_id, .. }
            | IncidentAssessed { incident_id, .. }
            | IncidentNoted { incident_id, .. }
            | IncidentStatusChanged { incident_id, .. }
            | IncidentResolved { incident_id, .. }
            | IncidentClosed { incident_id }
            | IncidentReopened { incident_id, .. }
            | IncidentCancelled { incident_id, .. }
            | IncidentMerged { incident_id, .. }
            | IncidentOverridden { incident_id, .. }
            | IncidentShared { incident_id, .. }
            | IncidentUnshared { incident_id, .. } => Some(incident_id.clone()),

            MessageBroadcast { message } => match &message.audience {
                crate::domain::message::Audience::Incident(id) => Some(id.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Folds one event into the state.
    pub fn apply(&mut self, rec: &Record) {
        debug_assert!(rec.seq > self.seq, "events apply in order");
        self.seq = rec.seq;
        if let Some(incident_id) = self.incident_of(&rec.event) {
            self.timelines.entry(incident_id).or_default().push(rec.seq);
        }
        self.remember_result(rec);
        self.apply_event(&rec.event, rec.at, &rec.actor);
    }

    /// Folds one event without remembering its command's result: for readers that
    /// never decide a command (the review), so retries need no de-duplication table.
    pub fn apply_untracked(&mut self, rec: &Record) {
        debug_assert!(rec.seq > self.seq, "events apply in order");
        self.seq = rec.seq;
        if let Some(incident_id) = self.incident_of(&rec.event) {
            self.timelines.entry(incident_id).or_default().push(rec.seq);
        }
        self.apply_event(&rec.event, rec.at, &rec.actor);
    }

    fn remember_result(&mut self, rec: &Record) {
        let Some(command_id) = &rec.command_id else {
            return;
        };
        let key = result_key(&rec.actor, command_id);
        let outcome = self.results.entry(key.clone()).or_insert_with(|| {
            self.result_order.push_back(key);
            CommandOutcome::default()
        });
        outcome.seq = rec.seq;
        if let Some((name, id)) = rec.event.created() {
            outcome.data.entry(name.to_string()).or_insert(id);
        }
        while self.result_order.len() > DEDUPE_WINDOW {
            if let Some(old) = self.result_order.pop_front() {
                self.results.remove(&old);
            }
        }
    }

    fn apply_event(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        use Event::*;
        match event {
            ContactReceived { .. }
            | ContactTaken { .. }
            | ContactLinked { .. }
            | ContactClosed { .. } => self.apply_contact(event, at, actor),
            IncidentOpened { .. }
            | IncidentAnswered { .. }
            | IncidentAssessed { .. }
            | IncidentNoted { .. }
            | IncidentStatusChanged { .. }
            | IncidentResolved { .. }
            | IncidentClosed { .. }
            | IncidentReopened { .. }
            | IncidentCancelled { .. }
            | IncidentMerged { .. }
            | IncidentOverridden { .. }
            | IncidentShared { .. }
            | IncidentUnshared { .. } => self.apply_incident(event, at, actor),
            UserCreated { .. } | UserDisabled { .. } | UserPasswordChanged { .. } => {
                self.apply_user(event)
            }
            UserEnabled { .. } | UserUpdated { .. } => self.apply_user(event),
            ResourceUpdated { .. } | ResourceRetired { .. } => self.apply_resource(event, at),
            ResourceRegistered { .. } | ResourceStatusChanged { .. } | ResourceLocated { .. } => {
                crate::privacy::erase::note_day(self, event, at);
                self.apply_resource(event, at)
            }
            AssignmentCreated { .. }
            | AssignmentAcknowledged { .. }
            | AssignmentDeclined { .. }
            | AssignmentProgressed { .. }
            | AssignmentActionDone { .. }
            | AssignmentActionUndone { .. }
            | AssignmentCancelled { .. }
            | CheckinRecorded { .. } => {
                crate::privacy::erase::note_day(self, event, at);
                self.apply_assignment(event, at, actor)
            }
            MessageBroadcast { .. } | MessageAcknowledged { .. } => {
                self.apply_message(event, at, actor)
            }
            CaseOpened { .. } | CaseAssigned { .. } | CaseResponded { .. } | CaseClosed { .. } => {
                self.apply_case(event, at, actor)
            }
            SupportProposed { .. }
            | SupportAgreed { .. }
            | SupportNoted { .. }
            | SupportReviewed { .. }
            | SupportEvidenceAttached { .. } => self.apply_support(event, at, actor),
            ImprovementRaised { .. } | ImprovementUpdated { .. } => {
                self.apply_improvement(event, at, actor)
            }
            AssignmentEscalated { .. }
            | CheckinMissed { .. }
            | TargetBreached { .. }
            | NotificationSent { .. }
            | NotificationFailed { .. } => {
                self.raise_alert(event, at);
                self.apply_timer(event)
            }
            PushSubscribed {
                user_id,
                endpoint,
                keys,
                session,
            } => {
                let subs = self.push_subscriptions.entry(user_id.clone()).or_default();
                subs.retain(|s| &s.endpoint != endpoint);
                subs.push(PushSubscription {
                    endpoint: endpoint.clone(),
                    keys: keys.clone(),
                    session: session.clone(),
                    subscribed_at: at,
                });
            }
            PushUnsubscribed {
                user_id, endpoint, ..
            } => {
                if let Some(subs) = self.push_subscriptions.get_mut(user_id) {
                    subs.retain(|s| &s.endpoint != endpoint);
                    if subs.is_empty() {
                        self.push_subscriptions.remove(user_id);
                    }
                }
            }
            PrivacyErased {
                records,
                categories,
                ..
            } => crate::privacy::erase::apply_erased(self, records, categories),
            PrivacySwept {
                category,
                before,
                records,
                ..
            } => crate::privacy::erase::apply_swept(self, *category, *before, records),
            PrivacyAccessed { .. } | PrivacySearched { .. } => {}
            AlertAcknowledged { alert_id, note } => {
                if let Some(a) = self.alerts.get_mut(alert_id)
                    && a.acknowledged_at.is_none()
                {
                    a.acknowledged_by = Some(actor.clone());
                    a.acknowledged_at = Some(at);
                    a.note = note.clone();
                }
            }
            // Where the log came from: nothing in the state changes.
            LogMigrated { .. } => {}
            RosterShiftAdded { .. }
            | RosterShiftRemoved { .. }
            | RosterShiftStarted { .. }
            | RosterShiftEnded { .. } => self.apply_roster(event, at),
        }
    }

    fn apply_roster(&mut self, event: &Event, at: DateTime<Utc>) {
        match event {
            Event::RosterShiftAdded {
                shift_id,
                resource_id,
                start,
                end,
            } => {
                let shift = Shift {
                    id: shift_id.clone(),
                    resource_id: resource_id.clone(),
                    start: *start,
                    end: *end,
                    started_at: None,
                    ended_at: None,
                };
                self.shifts.insert(shift_id.clone(), shift);
            }
            Event::RosterShiftRemoved { shift_id, .. } => {
                self.shifts.remove(shift_id);
            }
            Event::RosterShiftStarted { shift_id, .. } => {
                if let Some(s) = self.shifts.get_mut(shift_id) {
                    s.started_at.get_or_insert(at);
                }
            }
            Event::RosterShiftEnded { shift_id, .. } => {
                if let Some(s) = self.shifts.get_mut(shift_id) {
                    s.ended_at.get_or_insert(at);
                }
            }
            _ => {}
        }
    }

    /// One resource's shifts.
    pub fn shifts_of<'a>(&'a self, resource_id: &'a ResourceId) -> impl Iterator<Item = &'a Shift> {
        self.shifts
            .values()
            .filter(move |s| &s.resource_id == resource_id)
    }

    fn apply_case(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        if let Event::CaseOpened { case } = event {
            self.cases
                .insert(case.id.clone(), Case::opened(case, at, actor));
            return;
        }
        let id = match event {
            Event::CaseAssigned { case_id, .. }
            | Event::CaseResponded { case_id, .. }
            | Event::CaseClosed { case_id, .. } => case_id,
            _ => return,
        };
        let Some(c) = self.cases.get_mut(id) else {
            return;
        };
        match event {
            Event::CaseAssigned { user_id, .. } => {
                c.status = CaseStatus::Assigned;
                c.assigned_to = Some(user_id.clone());
            }
            Event::CaseResponded { response, .. } => {
                c.status = CaseStatus::Responded;
                c.response = Some(response.clone());
                c.responded_at = Some(at);
            }
            Event::CaseClosed {
                outcome,
                root_cause,
                ..
            } => {
                c.status = CaseStatus::Closed;
                c.outcome = Some(*outcome);
                c.root_cause = root_cause.clone();
                c.closed_at = Some(at);
            }
            _ => {}
        }
    }

    fn apply_support(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        if let Event::SupportProposed { plan } = event {
            self.plans
                .insert(plan.id.clone(), Plan::proposed(plan, at, actor));
            return;
        }
        let Some(p) = event.plan_id().and_then(|id| self.plans.get_mut(id)) else {
            return;
        };
        match event {
            Event::SupportAgreed { .. } => {
                p.status = PlanStatus::Active;
                p.agreed_by = Some(actor.clone());
                p.agreed_at = Some(at);
            }
            Event::SupportNoted { text, .. } => p.notes.push(PlanNote {
                text: text.clone(),
                by: actor.clone(),
                at,
            }),
            Event::SupportReviewed { outcome, .. } => {
                p.status = PlanStatus::Reviewed;
                p.reviewed_by = Some(actor.clone());
                p.reviewed_at = Some(at);
                p.review_outcome = Some(outcome.clone());
            }
            Event::SupportEvidenceAttached { evidence, .. } => p.evidence.push(AttachedEvidence {
                evidence: evidence.clone(),
                attached_by: actor.clone(),
                attached_at: at,
            }),
            _ => {}
        }
    }

    fn apply_improvement(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        match event {
            Event::ImprovementRaised { improvement } => {
                self.improvements.insert(
                    improvement.id.clone(),
                    Improvement::raised(improvement, at, actor),
                );
            }
            Event::ImprovementUpdated {
                improvement_id,
                status,
                note,
            } => {
                if let Some(i) = self.improvements.get_mut(improvement_id) {
                    i.status = *status;
                    i.history.push(ImprovementUpdate {
                        status: *status,
                        note: note.clone(),
                        by: actor.clone(),
                        at,
                    });
                }
            }
            _ => {}
        }
    }

    /// An alert for an escalation, a missed check-in or an incident's breached target,
    /// numbered by the event's seq (already `self.seq`). Cases' and support plans'
    /// deadlines are casework, not the floor's, and raise none.
    fn raise_alert(&mut self, event: &Event, at: DateTime<Utc>) {
        let (incident_id, assignment_id) = match event {
            Event::AssignmentEscalated { assignment_id, .. }
            | Event::CheckinMissed { assignment_id, .. } => {
                let Some(a) = self.assignments.get(assignment_id) else {
                    return;
                };
                (a.incident_id.clone(), Some(assignment_id.clone()))
            }
            Event::TargetBreached {
                incident_id: Some(id),
                ..
            } => (id.clone(), None),
            _ => return,
        };
        let id = AlertId::at_seq(self.seq);
        self.alerts.insert(
            id.clone(),
            Alert {
                id,
                kind: event.kind().as_str().to_string(),
                incident_id,
                assignment_id,
                raised_at: at,
                cause: event.clone(),
                acknowledged_by: None,
                acknowledged_at: None,
                note: None,
            },
        );
    }

    /// Remembers what the timers fired, so each fires once and a restart continues.
    fn apply_timer(&mut self, event: &Event) {
        match event {
            Event::AssignmentEscalated {
                assignment_id,
                level,
                ..
            } => {
                let fired = self.escalations.entry(assignment_id.clone()).or_insert(0);
                *fired = (*fired).max(*level);
            }
            Event::CheckinMissed {
                assignment_id,
                due_at,
            } => {
                self.missed_checkins.insert(assignment_id.clone(), *due_at);
            }
            Event::TargetBreached {
                incident_id,
                case_id,
                plan_id,
                target,
                ..
            } => {
                if let Some(id) = incident_id {
                    self.breaches
                        .entry(id.clone())
                        .or_default()
                        .insert(target.clone());
                }
                if let Some(id) = case_id {
                    let fired = self.case_breaches.entry(id.clone()).or_default();
                    fired.insert(target.clone());
                }
                if let Some(id) = plan_id {
                    self.plan_breaches.insert(id.clone());
                }
            }
            _ => {}
        }
    }

    /// Assignments created on the (UTC) day of `now`, per resource: the workload the
    /// recommendation spreads.
    pub fn jobs_today(&self, now: DateTime<Utc>) -> BTreeMap<ResourceId, u32> {
        let today = now.date_naive();
        let mut out = BTreeMap::new();
        for a in self.assignments.values() {
            if a.notified_at.date_naive() == today {
                *out.entry(a.resource_id.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    fn apply_contact(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        match event {
            Event::ContactReceived { contact } => {
                self.contacts
                    .insert(contact.id.clone(), Contact::received(contact, at, actor));
            }
            Event::ContactTaken { contact_id } => {
                if let Some(c) = self.contacts.get_mut(contact_id) {
                    c.status = ContactStatus::Taken;
                    c.taken_at = Some(at);
                    c.taken_by = Some(actor.clone());
                }
            }
            Event::ContactLinked {
                contact_id,
                incident_id,
            } => {
                let previous = self
                    .contacts
                    .get_mut(contact_id)
                    .and_then(|c| c.incident_id.replace(incident_id.clone()));
                if let Some(old) = previous.and_then(|p| self.incidents.get_mut(&p)) {
                    old.contact_ids.retain(|c| c != contact_id);
                }
                if let Some(i) = self.incidents.get_mut(incident_id)
                    && !i.contact_ids.contains(contact_id)
                {
                    i.contact_ids.push(contact_id.clone());
                }
            }
            Event::ContactClosed {
                contact_id,
                outcome,
                note,
            } => {
                if let Some(c) = self.contacts.get_mut(contact_id) {
                    c.status = ContactStatus::Closed;
                    c.closed_at = Some(at);
                    c.outcome = Some(outcome.clone());
                    c.note = note.clone();
                }
            }
            _ => {}
        }
    }

    fn apply_incident(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        if let Event::IncidentOpened { incident, .. } = event {
            let year = at.year();
            *self.references.entry(year).or_insert(0) += 1;
            let recent = self
                .opened
                .entry(incident.incident_type.clone())
                .or_default();
            recent.push_back(Opened {
                at,
                id: incident.id.clone(),
                point: incident.location.point(),
            });
            if recent.len() > OPENED_KEPT {
                recent.pop_front();
            }
            self.incidents
                .insert(incident.id.clone(), Incident::opened(incident, at, actor));
            return;
        }
        if let Event::IncidentMerged {
            incident_id, into, ..
        } = event
            && let Some(survivor) = self.incidents.get_mut(into)
            && !survivor.merged_from.contains(incident_id)
        {
            survivor.merged_from.push(incident_id.clone());
        }
        let Some(id) = self.incident_of(event) else {
            return;
        };
        let Some(i) = self.incidents.get_mut(&id) else {
            return;
        };
        match event {
            Event::IncidentAnswered { answers, .. } => {
                i.answers
                    .extend(answers.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Event::IncidentAssessed { assessment, .. } => {
                i.validity = assessment.validity;
                if assessment.priority.is_some() {
                    i.priority = assessment.priority;
                }
                i.assessments.push(Assessment::made(assessment, at, actor));
            }
            Event::IncidentNoted { note, .. } => i.notes.push(Note {
                text: note.text.clone(),
                by: actor.clone(),
                at,
            }),
            Event::IncidentStatusChanged { status, .. } => {
                i.status = *status;
                i.stamp(*status, at);
            }
            Event::IncidentResolved {
                outcome, summary, ..
            } => {
                i.status = IncidentStatus::Resolved;
                i.stamp(IncidentStatus::Resolved, at);
                i.outcome = Some(outcome.clone());
                i.summary = Some(summary.clone());
            }
            Event::IncidentClosed { .. } => {
                i.status = IncidentStatus::Closed;
                i.stamp(IncidentStatus::Closed, at);
            }
            Event::IncidentReopened { .. } => {
                i.status = IncidentStatus::Assessed;
                i.reopened += 1;
                i.resolved_at = None;
                i.closed_at = None;
                i.cancelled_at = None;
            }
            Event::IncidentCancelled { reason, .. } => {
                i.status = IncidentStatus::Cancelled;
                i.stamp(IncidentStatus::Cancelled, at);
                i.cancel_reason = Some(reason.clone());
            }
            Event::IncidentMerged { into, reason, .. } => {
                i.status = IncidentStatus::Cancelled;
                i.stamp(IncidentStatus::Cancelled, at);
                i.cancel_reason = Some(reason.clone());
                i.merged_into = Some(into.clone());
            }
            Event::IncidentOverridden {
                rule,
                justification,
                ..
            } => {
                i.overrides.push(crate::domain::incident::Override {
                    rule: rule.clone(),
                    justification: justification.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            Event::IncidentShared { partner, .. } => i.shared_with.push(partner.clone()),
            Event::IncidentUnshared { partner, .. } => i.shared_with.retain(|p| p != partner),
            _ => {}
        }
    }

    fn apply_user(&mut self, event: &Event) {
        match event {
            Event::UserCreated { user } => {
                self.usernames
                    .insert(user.username.to_lowercase(), user.id.clone());
                // An erased subject reads as `[erased]`: no one signs in as that.
                if let Some(identity) = &user.identity
                    && identity.subject != crate::privacy::ERASED
                {
                    self.identities.insert(identity.key(), user.id.clone());
                }
                if let Some(r) = user
                    .resource_id
                    .as_ref()
                    .and_then(|r| self.resources.get_mut(r))
                {
                    r.user_id = Some(user.id.clone());
                }
                let user = User {
                    id: user.id.clone(),
                    username: user.username.clone(),
                    name: user.name.clone(),
                    role: user.role,
                    resource_id: user.resource_id.clone(),
                    disabled: false,
                    password_seq: self.seq,
                };
                self.users.insert(user.id.clone(), user);
            }
            Event::UserDisabled { user_id } => {
                if let Some(u) = self.users.get_mut(user_id) {
                    u.disabled = true;
                }
            }
            Event::UserPasswordChanged { user_id } => {
                if let Some(u) = self.users.get_mut(user_id) {
                    // Folded after `self.seq` moved to this event.
                    u.password_seq = self.seq;
                }
            }
            Event::UserEnabled { user_id } => {
                if let Some(u) = self.users.get_mut(user_id) {
                    u.disabled = false;
                }
            }
            Event::UserUpdated {
                user_id,
                name,
                role,
                resource_id,
            } => {
                let Some(u) = self.users.get_mut(user_id) else {
                    return;
                };
                if let Some(n) = name {
                    u.name.clone_from(n);
                }
                if let Some(r) = role {
                    u.role = *r;
                }
                let Some(linked) = resource_id else {
                    return;
                };
                let old = std::mem::replace(&mut u.resource_id, linked.clone());
                if let Some(r) = old.and_then(|r| self.resources.get_mut(&r))
                    && r.user_id.as_ref() == Some(user_id)
                {
                    r.user_id = None;
                }
                if let Some(r) = linked.as_ref().and_then(|r| self.resources.get_mut(r)) {
                    r.user_id = Some(user_id.clone());
                }
            }
            _ => {}
        }
    }

    fn apply_resource(&mut self, event: &Event, at: DateTime<Utc>) {
        match event {
            Event::ResourceRegistered { resource } => {
                if let Some(u) = resource
                    .user_id
                    .as_ref()
                    .and_then(|u| self.users.get_mut(u))
                {
                    u.resource_id = Some(resource.id.clone());
                }
                self.resources
                    .insert(resource.id.clone(), Resource::registered(resource, at));
            }
            Event::ResourceStatusChanged {
                resource_id,
                status,
                ..
            } => {
                if let Some(r) = self.resources.get_mut(resource_id) {
                    r.status = *status;
                    r.status_at = at;
                }
            }
            Event::ResourceLocated {
                resource_id,
                lat,
                lon,
            } => {
                // Erased coordinates (`null`) leave the position as it was.
                if let (Some(r), Some(lat), Some(lon)) =
                    (self.resources.get_mut(resource_id), lat, lon)
                {
                    r.location = Some(Position {
                        lat: *lat,
                        lon: *lon,
                        at,
                    });
                }
            }
            Event::ResourceUpdated {
                resource_id,
                name,
                resource_type,
                team,
                skills,
                home,
            } => {
                let Some(r) = self.resources.get_mut(resource_id) else {
                    return;
                };
                if let Some(n) = name {
                    r.name.clone_from(n);
                }
                if let Some(t) = resource_type {
                    r.resource_type = *t;
                }
                if let Some(t) = team {
                    r.team.clone_from(t);
                }
                if let Some(s) = skills {
                    r.skills.clone_from(s);
                }
                if let Some(h) = home {
                    r.home = Some(*h);
                }
            }
            Event::ResourceRetired { resource_id } => {
                if let Some(r) = self.resources.get_mut(resource_id) {
                    r.retired = true;
                }
            }
            _ => {}
        }
    }

    fn apply_assignment(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        use crate::domain::assignment::AssignmentStatus as S;
        if let Event::AssignmentCreated { assignment } = event {
            if let Some(i) = self.incidents.get_mut(&assignment.incident_id) {
                i.assignment_ids.push(assignment.id.clone());
            }
            self.active_by_resource
                .entry(assignment.resource_id.clone())
                .or_default()
                .insert(assignment.id.clone());
            self.assignments.insert(
                assignment.id.clone(),
                Assignment::created(assignment, at, actor),
            );
            return;
        }
        let id = match event {
            Event::AssignmentAcknowledged { assignment_id, .. }
            | Event::AssignmentDeclined { assignment_id, .. }
            | Event::AssignmentProgressed { assignment_id, .. }
            | Event::AssignmentActionDone { assignment_id, .. }
            | Event::AssignmentActionUndone { assignment_id, .. }
            | Event::AssignmentCancelled { assignment_id, .. }
            | Event::CheckinRecorded { assignment_id, .. } => assignment_id,
            _ => return,
        };
        let Some(a) = self.assignments.get_mut(id) else {
            return;
        };
        match event {
            Event::AssignmentAcknowledged { .. } => a.enter(S::Acknowledged, at),
            Event::AssignmentDeclined { reason, .. } => {
                a.enter(S::Declined, at);
                a.decline_reason = Some(reason.clone());
            }
            Event::AssignmentProgressed {
                status, skipped, ..
            } => {
                a.enter(*status, at);
                for x in a.actions.iter_mut() {
                    if let Some(reason) = skipped.get(&x.id) {
                        x.skipped = Some(reason.clone());
                    }
                }
            }
            Event::AssignmentActionDone {
                action_id, note, ..
            } => {
                if let Some(action) = a.actions.iter_mut().find(|x| &x.id == action_id) {
                    action.done_at = Some(at);
                    action.done_by = Some(actor.clone());
                    action.note = note.clone();
                }
            }
            Event::AssignmentActionUndone { action_id, .. } => {
                if let Some(action) = a.actions.iter_mut().find(|x| &x.id == action_id) {
                    action.done_at = None;
                    action.done_by = None;
                    action.note = None;
                }
            }
            Event::AssignmentCancelled { reason, .. } => {
                a.enter(S::Cancelled, at);
                a.cancel_reason = Some(reason.clone());
            }
            Event::CheckinRecorded { .. } => a.last_checkin_at = Some(at),
            _ => {}
        }
        if !a.status.is_active() {
            let (resource_id, id) = (a.resource_id.clone(), a.id.clone());
            if let Some(set) = self.active_by_resource.get_mut(&resource_id) {
                set.remove(&id);
                if set.is_empty() {
                    self.active_by_resource.remove(&resource_id);
                }
            }
        }
    }

    fn apply_message(&mut self, event: &Event, at: DateTime<Utc>, actor: &UserId) {
        match event {
            Event::MessageBroadcast { message } => {
                self.messages
                    .insert(message.id.clone(), Message::sent(message, at, actor));
            }
            Event::MessageAcknowledged {
                message_id,
                user_id,
            } => {
                if let Some(m) = self.messages.get_mut(message_id) {
                    m.acks.entry(user_id.clone()).or_insert(at);
                }
            }
            _ => {}
        }
    }

    /// Active assignments of a resource.
    pub fn active_assignments_of<'a>(
        &'a self,
        resource_id: &ResourceId,
    ) -> impl Iterator<Item = &'a Assignment> + 'a {
        self.active_by_resource
            .get(resource_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.assignments.get(id))
    }
}
