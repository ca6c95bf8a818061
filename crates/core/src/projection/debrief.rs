//! The exercise debrief: each trainee's handling of a scenario, scored against the
//! centre's procedure, from the exercise log alone.
//!
//! Pure: the caller passes the scenario's contacts ([`Scenario::contacts`]), the
//! centre, the simulator account's user id, the log's records in order and the time
//! the debrief is made; [`compute`] folds the records and measures.
//!
//! [`Scenario::contacts`]: crate::config::exercise::Scenario::contacts
//!
//! # Which contact is which
//!
//! The simulator makes every scripted contact as one account: the n-th
//! `contact.received` whose actor is that account is the n-th of the scenario's
//! contacts. A contact's incident is the one its first `contact.linked` named, followed
//! through merges (`merged_into`).
//!
//! # Who is a trainee, and what is theirs
//!
//! A trainee is any user but the simulator and the system who took a contact, opened an
//! incident, linked a contact, assessed an incident or assigned a resource. Each figure
//! belongs to the one who did the step it measures:
//!
//! - **answer** (contact received → taken): whoever took the contact; the target is the
//!   `answer_secs` of the scripted contact's expected priority for its incident type (the
//!   incident's own type and final priority when the script names none);
//! - **dispatch** (incident opened → first assignment notified): whoever made the first
//!   assignment; the target is `dispatch_secs`, chosen the same way;
//! - **triage** (the first assessment that set a priority, against the scripted
//!   contact's `expected_priority`): whoever made it. A priority less urgent than
//!   expected is *under*-triage, more urgent *over*-triage;
//! - **questions skipped**: questions of the incident type's call script the caller had
//!   an answer for (the scenario's `answers`) that were not recorded on the incident by
//!   its first assessment: whoever made that assessment;
//! - **violations** (a step of the [conformance](super::conformance) report `missing`
//!   at the end) and **overrides** (a rule waived by a supervisor, with the
//!   justification): whoever opened the incident;
//! - **escalations missed**: a rung of the escalation ladder that asks the desk to act
//!   (`supervisor_alert`, `suggest_next_resource`, `call_by_radio`) or a missed welfare
//!   check-in, not handled within the incident's `acknowledge_secs` target after it
//!   fired (handled: the assignment acknowledged, declined or cancelled, another
//!   resource assigned to the incident, a check-in recorded, or the alert
//!   acknowledged). One still inside its window when the debrief is made is not
//!   counted. Whoever made the assignment;
//! - **duplicates** (a scripted contact with `duplicate_of`): *linked* when its first
//!   link named the original's incident (or an incident later merged into it),
//!   *missed* when it named another; whoever made that first link.
//!
//! # The score
//!
//! Each trainee starts at 100 and loses, for each item, the points of [`PENALTIES`]
//! (never below 0):
//!
//! | rule | points | for each |
//! |---|---|---|
//! | `late_answer` | 2 | contact taken after its answer target |
//! | `late_dispatch` | 5 | incident dispatched after its dispatch target |
//! | `under_triage` | 10 | priority less urgent than the scenario expects |
//! | `over_triage` | 3 | priority more urgent than the scenario expects |
//! | `question_skipped` | 1 | call-script question skipped |
//! | `missing_step` | 10 | procedure step missing |
//! | `override` | 2 | rule a supervisor had to waive |
//! | `escalation_missed` | 5 | escalation or missed check-in not handled in time |
//! | `duplicate_missed` | 5 | duplicate call opened as a new incident |
//!
//! docs/EXERCISES.md holds the same table (a test keeps them equal).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conformance::{self, StepStatus};
use super::review::percentile;
use crate::config::exercise::ScriptedContact;
use crate::domain::ids::{AssignmentId, ContactId, IncidentId, UserId};
use crate::domain::incident::Incident;
use crate::domain::procedure::{Centre, TargetSet};
use crate::domain::triage::{Priority, TriageMethod};
use crate::engine::event::{Event, Record, SYSTEM_ACTOR};
use crate::engine::state::State;

/// The penalty rules: name, points per item, what an item is.
pub const PENALTIES: &[(&str, u32, &str)] = &[
    (LATE_ANSWER, 2, "contact taken after its answer target"),
    (
        LATE_DISPATCH,
        5,
        "incident dispatched after its dispatch target",
    ),
    (
        UNDER_TRIAGE,
        10,
        "priority less urgent than the scenario expects",
    ),
    (
        OVER_TRIAGE,
        3,
        "priority more urgent than the scenario expects",
    ),
    (QUESTION_SKIPPED, 1, "call-script question skipped"),
    (PROCEDURE_VIOLATION, 10, "procedure step missing"),
    (OVERRIDE, 2, "rule a supervisor had to waive"),
    (
        ESCALATION_MISSED,
        5,
        "escalation or missed check-in not handled in time",
    ),
    (
        DUPLICATE_MISSED,
        5,
        "duplicate call opened as a new incident",
    ),
];

pub const LATE_ANSWER: &str = "late_answer";
pub const LATE_DISPATCH: &str = "late_dispatch";
pub const UNDER_TRIAGE: &str = "under_triage";
pub const OVER_TRIAGE: &str = "over_triage";
pub const QUESTION_SKIPPED: &str = "question_skipped";
pub const PROCEDURE_VIOLATION: &str = "missing_step";
pub const OVERRIDE: &str = "override";
pub const ESCALATION_MISSED: &str = "escalation_missed";
pub const DUPLICATE_MISSED: &str = "duplicate_missed";

/// The points one item of `rule` costs.
pub fn points(rule: &str) -> u32 {
    PENALTIES
        .iter()
        .find(|(r, _, _)| *r == rule)
        .map_or(0, |(_, p, _)| *p)
}

/// How long after an escalation fires the desk has to handle it, when the incident has
/// no acknowledge target (no type or priority).
pub const DEFAULT_HANDLE_SECS: u64 = 120;

/// The whole debrief (without the exercise's own fields, which the hub adds).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Debrief {
    pub trainees: Vec<Trainee>,
    pub incidents: Vec<IncidentTimeline>,
}

/// One trainee's figures and score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trainee {
    pub user_id: UserId,
    pub name: String,
    pub score: u32,
    pub answer: Interval,
    pub dispatch: Interval,
    pub triage: Triage,
    pub questions_skipped: usize,
    pub violations: Vec<Violation>,
    pub overrides: Vec<OverrideItem>,
    pub escalations_missed: usize,
    pub duplicates: Duplicates,
    pub penalties: Vec<Penalty>,
}

/// Count, nearest-rank median, worst and how many were over their target.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Interval {
    pub count: usize,
    pub median_secs: Option<i64>,
    pub worst_secs: Option<i64>,
    pub over_target: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Triage {
    pub assessed: usize,
    pub correct: usize,
    pub under: usize,
    pub over: usize,
    pub items: Vec<TriageItem>,
}

/// One priority decision against the scenario's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TriageItem {
    /// The scenario contact's id (`c01`).
    pub contact: String,
    pub incident: IncidentId,
    pub expected: Priority,
    pub given: Priority,
    /// The priority rule or matrix cell the method used, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub method: TriageMethod,
    /// The scenario author's reason for the expected priority.
    pub why: String,
}

/// A procedure step missing at the end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    pub incident: IncidentId,
    pub step: &'static str,
}

/// A rule a supervisor waived on one of the trainee's incidents.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverrideItem {
    pub incident: IncidentId,
    pub rule: String,
    pub justification: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Duplicates {
    pub linked: usize,
    pub missed: usize,
}

/// One deduction from the score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Penalty {
    pub rule: &'static str,
    pub points: u32,
    pub detail: String,
}

/// An incident's events in order, with who and when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentTimeline {
    pub id: IncidentId,
    pub reference: String,
    pub timeline: Vec<Entry>,
    /// Everyone who acted on it (for showing a trainee only their own incidents).
    #[serde(skip)]
    pub actors: BTreeSet<UserId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub actor: UserId,
    pub kind: &'static str,
    pub summary: String,
}

impl Debrief {
    /// Only what `user` may see: their own figures and the incidents they acted on.
    pub fn only_for(mut self, user: &UserId) -> Debrief {
        self.trainees.retain(|t| &t.user_id == user);
        self.incidents.retain(|i| i.actors.contains(user));
        self
    }
}

/// The first assessment that set a priority, and the answers recorded by then.
struct FirstAssessment {
    by: UserId,
    priority: Priority,
    method: TriageMethod,
    rule: Option<String>,
    answered: BTreeSet<String>,
}

/// Something the desk had to act on, fired at `at` about an assignment.
struct Fired {
    assignment: AssignmentId,
    at: DateTime<Utc>,
    seq: u64,
    what: String,
}

/// Computes the debrief of an exercise log as of `now`.
pub fn compute(
    scripted: &[ScriptedContact],
    centre: &Centre,
    simulator: &UserId,
    records: &[Record],
    now: DateTime<Utc>,
) -> Debrief {
    let mut state = State::default();
    let mut script: HashMap<ContactId, usize> = HashMap::new();
    let mut first_link: HashMap<ContactId, (IncidentId, UserId)> = HashMap::new();
    let mut first_assessment: HashMap<IncidentId, FirstAssessment> = HashMap::new();
    let mut first_assigner: HashMap<IncidentId, UserId> = HashMap::new();
    let mut fired: Vec<Fired> = Vec::new();
    let mut trainees: BTreeSet<UserId> = BTreeSet::new();
    for rec in records {
        if rec.seq <= state.seq {
            continue;
        }
        state.apply_untracked(rec);
        let human = rec.actor != *simulator && rec.actor.0 != SYSTEM_ACTOR;
        match &rec.event {
            Event::ContactReceived { contact } if rec.actor == *simulator => {
                let n = script.len();
                if n < scripted.len() {
                    script.insert(contact.id.clone(), n);
                }
            }
            Event::ContactTaken { .. } | Event::IncidentOpened { .. } if human => {
                trainees.insert(rec.actor.clone());
            }
            Event::ContactLinked {
                contact_id,
                incident_id,
            } => {
                if human {
                    trainees.insert(rec.actor.clone());
                }
                first_link
                    .entry(contact_id.clone())
                    .or_insert_with(|| (incident_id.clone(), rec.actor.clone()));
            }
            Event::IncidentAssessed {
                incident_id,
                assessment,
            } => {
                if human {
                    trainees.insert(rec.actor.clone());
                }
                if let (Some(p), Some(i)) = (assessment.priority, state.incidents.get(incident_id))
                {
                    first_assessment
                        .entry(incident_id.clone())
                        .or_insert_with(|| FirstAssessment {
                            by: rec.actor.clone(),
                            priority: p,
                            method: assessment.method,
                            rule: assessment.rule.clone(),
                            answered: i.answers.keys().cloned().collect(),
                        });
                }
            }
            Event::AssignmentCreated { assignment } => {
                if human {
                    trainees.insert(rec.actor.clone());
                }
                first_assigner
                    .entry(assignment.incident_id.clone())
                    .or_insert_with(|| rec.actor.clone());
            }
            Event::AssignmentEscalated {
                assignment_id,
                level,
                action,
                ..
            } if !action.pushes_to_unit() => fired.push(Fired {
                assignment: assignment_id.clone(),
                at: rec.at,
                seq: rec.seq,
                what: format!("escalation level {level} ({})", action.as_str()),
            }),
            Event::CheckinMissed { assignment_id, .. } => fired.push(Fired {
                assignment: assignment_id.clone(),
                at: rec.at,
                seq: rec.seq,
                what: "missed check-in".into(),
            }),
            _ => {}
        }
    }
    trainees.remove(simulator);

    let d = Desk {
        state: &state,
        centre,
        records,
    };
    // The scripted contact each incident answers: its first linked scripted contact.
    let mut incident_script: HashMap<IncidentId, usize> = HashMap::new();
    let mut ordered: Vec<(&ContactId, &usize)> = script.iter().collect();
    ordered.sort_by_key(|(_, n)| **n);
    for (cid, n) in &ordered {
        if let Some((inc, _)) = first_link.get(*cid) {
            incident_script.entry(inc.clone()).or_insert(**n);
        }
    }

    let mut out: BTreeMap<UserId, Acc> = trainees
        .iter()
        .map(|u| (u.clone(), Acc::default()))
        .collect();

    // Answer.
    for c in state.contacts.values() {
        let (Some(taken), Some(by)) = (c.taken_at, &c.taken_by) else {
            continue;
        };
        let Some(acc) = out.get_mut(by) else { continue };
        let sc = script.get(&c.id).map(|n| &scripted[*n]);
        let incident = c.incident_id.as_ref().and_then(|i| d.final_incident(i));
        let target = d.targets(sc, incident).map(|t| t.answer_secs);
        let secs = (taken - c.received_at).num_seconds();
        let label = sc.map_or_else(|| c.id.to_string(), |s| s.id.clone());
        acc.answer.push((secs, target));
        if let Some(t) = target.filter(|t| secs > *t as i64) {
            acc.penalise(
                LATE_ANSWER,
                format!("contact {label} taken after {secs}s (target {t}s)"),
            );
        }
    }

    for i in state.incidents.values() {
        let sc = incident_script.get(&i.id).map(|n| &scripted[*n]);
        // Dispatch.
        if let (Some(by), Some(first)) = (
            first_assigner.get(&i.id),
            i.assignment_ids
                .iter()
                .filter_map(|a| state.assignments.get(a))
                .map(|a| a.notified_at)
                .min(),
        ) && let Some(acc) = out.get_mut(by)
        {
            let secs = (first - i.opened_at).num_seconds();
            let target = d.targets(sc, Some(i)).map(|t| t.dispatch_secs);
            acc.dispatch.push((secs, target));
            if let Some(t) = target.filter(|t| secs > *t as i64) {
                acc.penalise(
                    LATE_DISPATCH,
                    format!("{} dispatched after {secs}s (target {t}s)", i.reference),
                );
            }
        }
        // Triage and questions.
        if let Some(fa) = first_assessment.get(&i.id)
            && let Some(acc) = out.get_mut(&fa.by)
            && let Some(sc) = sc
        {
            if let Some(expected) = sc.expected_priority {
                acc.triage.assessed += 1;
                match fa.priority.cmp(&expected) {
                    std::cmp::Ordering::Equal => acc.triage.correct += 1,
                    // P1 is the most urgent: a greater priority is less urgent.
                    std::cmp::Ordering::Greater => {
                        acc.triage.under += 1;
                        acc.penalise(
                            UNDER_TRIAGE,
                            format!(
                                "{} ({}) given {}, expected {}",
                                i.reference,
                                sc.id,
                                fa.priority.as_str(),
                                expected.as_str()
                            ),
                        );
                    }
                    std::cmp::Ordering::Less => {
                        acc.triage.over += 1;
                        acc.penalise(
                            OVER_TRIAGE,
                            format!(
                                "{} ({}) given {}, expected {}",
                                i.reference,
                                sc.id,
                                fa.priority.as_str(),
                                expected.as_str()
                            ),
                        );
                    }
                }
                acc.triage.items.push(TriageItem {
                    contact: sc.id.clone(),
                    incident: i.id.clone(),
                    expected,
                    given: fa.priority,
                    rule: fa.rule.clone(),
                    method: fa.method,
                    why: sc.why.clone(),
                });
            }
            if let Some(t) = centre.incident_type(&i.incident_type) {
                for q in &t.questions {
                    if sc.answers.contains_key(&q.id) && !fa.answered.contains(&q.id) {
                        acc.questions_skipped += 1;
                        acc.penalise(
                            QUESTION_SKIPPED,
                            format!("{}: \"{}\" not asked", i.reference, q.text),
                        );
                    }
                }
            }
        }
        // Violations and overrides.
        if let Some(acc) = out.get_mut(&i.opened_by) {
            let report = conformance::assess(&state, i, records);
            for step in report.steps {
                if step.status == StepStatus::Missing {
                    acc.penalise(
                        PROCEDURE_VIOLATION,
                        format!("{}: step {} missing", i.reference, step.step),
                    );
                    acc.violations.push(Violation {
                        incident: i.id.clone(),
                        step: step.step,
                    });
                }
            }
            for o in &i.overrides {
                acc.penalise(
                    OVERRIDE,
                    format!("{}: {} waived ({})", i.reference, o.rule, o.justification),
                );
                acc.overrides.push(OverrideItem {
                    incident: i.id.clone(),
                    rule: o.rule.clone(),
                    justification: o.justification.clone(),
                    by: o.by.clone(),
                    at: o.at,
                });
            }
        }
    }

    // Escalations missed.
    for f in &fired {
        let Some(a) = state.assignments.get(&f.assignment) else {
            continue;
        };
        let Some(acc) = out.get_mut(&a.created_by) else {
            continue;
        };
        let incident = state.incidents.get(&a.incident_id);
        let window = incident
            .and_then(|i| d.targets(None, Some(i)))
            .map_or(DEFAULT_HANDLE_SECS, |t| t.acknowledge_secs);
        let due = f.at + chrono::Duration::seconds(window as i64);
        let handled = d.handled_at(f, &a.incident_id);
        let missed = match handled {
            Some(at) => at > due,
            None => now > due,
        };
        if missed {
            acc.escalations_missed += 1;
            let reference = incident.map_or("", |i| i.reference.as_str());
            acc.penalise(
                ESCALATION_MISSED,
                format!("{reference}: {} not handled within {window}s", f.what),
            );
        }
    }

    // Duplicates.
    for (cid, n) in &ordered {
        let sc = &scripted[**n];
        let Some(original) = &sc.duplicate_of else {
            continue;
        };
        let Some((linked_to, by)) = first_link.get(*cid) else {
            continue;
        };
        let Some(acc) = out.get_mut(by) else { continue };
        let original_incident = script
            .iter()
            .find(|(_, m)| scripted[**m].id == *original)
            .and_then(|(oc, _)| first_link.get(oc))
            .and_then(|(i, _)| d.final_incident(i))
            .map(|i| i.id.clone());
        let linked = d.final_incident(linked_to).map(|i| i.id.clone());
        if original_incident.is_some() && linked == original_incident {
            acc.duplicates.linked += 1;
        } else {
            acc.duplicates.missed += 1;
            acc.penalise(
                DUPLICATE_MISSED,
                format!(
                    "contact {} (a duplicate of {original}) went to a new incident",
                    sc.id
                ),
            );
        }
    }

    let trainees = out
        .into_iter()
        .map(|(user_id, acc)| {
            let name = state
                .users
                .get(&user_id)
                .map_or_else(|| user_id.to_string(), |u| u.name.clone());
            acc.finish(user_id, name)
        })
        .collect();
    Debrief {
        trainees,
        incidents: timelines(&state, records),
    }
}

/// Reads the folded exercise for the measures.
struct Desk<'a> {
    state: &'a State,
    centre: &'a Centre,
    records: &'a [Record],
}

impl<'a> Desk<'a> {
    /// The incident `id` ended up as: followed through merges.
    fn final_incident(&self, id: &IncidentId) -> Option<&'a Incident> {
        let mut i = self.state.incidents.get(id)?;
        for _ in 0..64 {
            match &i.merged_into {
                Some(next) => i = self.state.incidents.get(next)?,
                None => break,
            }
        }
        Some(i)
    }

    /// The targets that apply: the scripted contact's type and expected priority, else
    /// the incident's type and final priority.
    fn targets(
        &self,
        sc: Option<&ScriptedContact>,
        incident: Option<&Incident>,
    ) -> Option<&'a TargetSet> {
        let type_id = sc
            .and_then(|s| s.incident_type.as_deref())
            .or(incident.map(|i| i.incident_type.as_str()))?;
        let priority = sc
            .and_then(|s| s.expected_priority)
            .or(incident.and_then(|i| i.priority))?;
        Some(
            self.centre
                .incident_type(type_id)?
                .targets
                .for_priority(priority),
        )
    }

    /// When the desk first acted on what fired: the assignment acknowledged, declined,
    /// cancelled or checked in, another resource assigned to the incident, or the
    /// alert acknowledged.
    fn handled_at(&self, f: &Fired, incident: &IncidentId) -> Option<DateTime<Utc>> {
        let alert = crate::domain::ids::AlertId::at_seq(f.seq);
        self.records
            .iter()
            .filter(|r| r.seq > f.seq)
            .find(|r| match &r.event {
                Event::AssignmentAcknowledged { assignment_id, .. }
                | Event::AssignmentDeclined { assignment_id, .. }
                | Event::AssignmentCancelled { assignment_id, .. }
                | Event::CheckinRecorded { assignment_id, .. } => *assignment_id == f.assignment,
                Event::AssignmentCreated { assignment } => assignment.incident_id == *incident,
                Event::AlertAcknowledged { alert_id, .. } => *alert_id == alert,
                _ => false,
            })
            .map(|r| r.at)
    }
}

/// A trainee's figures while they are gathered.
#[derive(Default)]
struct Acc {
    answer: Vec<(i64, Option<u64>)>,
    dispatch: Vec<(i64, Option<u64>)>,
    triage: Triage,
    questions_skipped: usize,
    violations: Vec<Violation>,
    overrides: Vec<OverrideItem>,
    escalations_missed: usize,
    duplicates: Duplicates,
    penalties: Vec<Penalty>,
}

impl Acc {
    fn penalise(&mut self, rule: &'static str, detail: String) {
        self.penalties.push(Penalty {
            rule,
            points: points(rule),
            detail,
        });
    }

    fn finish(self, user_id: UserId, name: String) -> Trainee {
        let lost: u32 = self.penalties.iter().map(|p| p.points).sum();
        Trainee {
            user_id,
            name,
            score: 100u32.saturating_sub(lost),
            answer: interval(&self.answer),
            dispatch: interval(&self.dispatch),
            triage: self.triage,
            questions_skipped: self.questions_skipped,
            violations: self.violations,
            overrides: self.overrides,
            escalations_missed: self.escalations_missed,
            duplicates: self.duplicates,
            penalties: self.penalties,
        }
    }
}

fn interval(samples: &[(i64, Option<u64>)]) -> Interval {
    let mut values: Vec<i64> = samples.iter().map(|(v, _)| *v).collect();
    values.sort_unstable();
    Interval {
        count: values.len(),
        median_secs: percentile(&values, 50),
        worst_secs: values.last().copied(),
        over_target: samples
            .iter()
            .filter(|(v, t)| t.is_some_and(|t| *v > t as i64))
            .count(),
    }
}

/// Every incident's events in order (incidents by when they were opened).
fn timelines(state: &State, records: &[Record]) -> Vec<IncidentTimeline> {
    let by_seq: HashMap<u64, &Record> = records.iter().map(|r| (r.seq, r)).collect();
    let mut incidents: Vec<&Incident> = state.incidents.values().collect();
    incidents.sort_by_key(|i| (i.opened_at, i.id.clone()));
    incidents
        .into_iter()
        .map(|i| {
            let recs: Vec<&Record> = state
                .timelines
                .get(&i.id)
                .into_iter()
                .flatten()
                .filter_map(|s| by_seq.get(s).copied())
                .collect();
            IncidentTimeline {
                id: i.id.clone(),
                reference: i.reference.clone(),
                actors: recs.iter().map(|r| r.actor.clone()).collect(),
                timeline: recs
                    .iter()
                    .map(|r| Entry {
                        at: r.at,
                        actor: r.actor.clone(),
                        kind: r.event.kind().as_str(),
                        summary: summary(state, &r.event),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A few words on what an event did, for the timeline.
fn summary(state: &State, event: &Event) -> String {
    let resource = |a: &AssignmentId| {
        state
            .assignments
            .get(a)
            .and_then(|a| state.resources.get(&a.resource_id))
            .map_or_else(|| a.to_string(), |r| r.name.clone())
    };
    match event {
        Event::IncidentOpened { incident, .. } => {
            format!("opened as {}", incident.incident_type)
        }
        Event::ContactLinked { contact_id, .. } => format!("contact {contact_id} linked"),
        Event::IncidentAnswered {
            answers,
            suggested_priority,
            ..
        } => {
            let keys: Vec<&str> = answers.keys().map(String::as_str).collect();
            match suggested_priority {
                Some(p) => format!("answered {} (suggests {})", keys.join(", "), p.as_str()),
                None => format!("answered {}", keys.join(", ")),
            }
        }
        Event::IncidentAssessed { assessment, .. } => {
            let method = serde_json::to_value(assessment.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            match (assessment.priority, &assessment.rule) {
                (Some(p), Some(rule)) => format!("{} by {method} ({rule})", p.as_str()),
                (Some(p), None) => format!("{} by {method}", p.as_str()),
                (None, _) => format!("{:?} by {method}", assessment.validity).to_lowercase(),
            }
        }
        Event::IncidentStatusChanged { status, .. } => format!("now {status}"),
        Event::IncidentOverridden { rule, .. } => format!("{rule} waived"),
        Event::IncidentMerged { into, .. } => format!("merged into {into}"),
        Event::IncidentResolved { outcome, .. } => format!("resolved: {outcome}"),
        Event::AssignmentCreated { assignment } => {
            let name = state
                .resources
                .get(&assignment.resource_id)
                .map_or_else(|| assignment.resource_id.to_string(), |r| r.name.clone());
            format!("{name} assigned")
        }
        Event::AssignmentAcknowledged { assignment_id, .. } => {
            format!("{} acknowledged", resource(assignment_id))
        }
        Event::AssignmentDeclined { assignment_id, .. } => {
            format!("{} declined", resource(assignment_id))
        }
        Event::AssignmentProgressed {
            assignment_id,
            status,
            ..
        } => format!("{} {status}", resource(assignment_id)),
        Event::AssignmentEscalated {
            assignment_id,
            level,
            action,
            ..
        } => format!(
            "{}: escalation level {level} ({})",
            resource(assignment_id),
            action.as_str()
        ),
        Event::CheckinMissed { assignment_id, .. } => {
            format!("{} missed a check-in", resource(assignment_id))
        }
        Event::TargetBreached { target, .. } => format!("{target} target breached"),
        _ => String::new(),
    }
}
