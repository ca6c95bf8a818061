//! Reviewing results: the KPIs of a period, computed from the event log alone.
//!
//! Feed every record of the log in order to a [`Review`] (records at or after the
//! period's end are ignored) and [`Review::finish`] it: the records are folded into the
//! state as of the period's end, and the contacts received and incidents opened within
//! the period are measured. Pure: the caller reads the log (page by page) and passes
//! the records in, so the same code serves the HTTP report, the tests and the bench.
//!
//! Percentiles are nearest-rank (`p`th percentile of `n` sorted values is the value at
//! rank `ceil(p/100 · n)`), so every figure is a real observed interval in whole
//! seconds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::findings::{self, Finding, Measures, Movement};
use crate::domain::case::CaseType;
use crate::domain::contact::Contact;
use crate::domain::ids::IncidentId;
use crate::domain::incident::Incident;
use crate::domain::procedure::{Centre, TargetSet};
use crate::domain::triage::TriageMethod;
use crate::domain::wire_enum;
use crate::engine::event::{Event, EventKind, Record};
use crate::engine::state::State;

wire_enum!(
    /// How a report groups its figures.
    GroupBy {
        /// The operator who took the contact / opened the incident.
        Operator => "operator",
        /// The team of the first resource assigned.
        Team => "team",
        /// The incident type.
        Type => "type",
        /// The incident's final priority.
        Priority => "priority",
        /// The channel of the (first) contact.
        Channel => "channel",
    }
);

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.iter().copied().find(|g| g.name() == s)
    }
}

/// The key of things that belong to no group (a contact with no incident, …).
pub const NONE_KEY: &str = "none";

/// Count, median, 90th percentile and share within target of one interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct IntervalStats {
    pub count: usize,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    /// Share (0–1) of the intervals that had a target and met it; `None` when none
    /// had a target.
    pub within_target: Option<f64>,
}

/// The five intervals a centre is measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Intervals {
    /// Contact received → taken.
    pub answer: IntervalStats,
    /// First contact received (or incident opened) → first assignment.
    pub dispatch: IntervalStats,
    /// Assignment notified → acknowledged.
    pub acknowledge: IntervalStats,
    /// Assignment notified → on scene.
    pub arrive: IntervalStats,
    /// Incident opened → resolved.
    pub resolve: IntervalStats,
}

/// First vs final priority of the incidents a triage method first prioritised.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Reassessed {
    /// Incidents whose first priority came from this method.
    pub assessed: usize,
    /// Final priority more urgent than the first: under-triage.
    pub up: usize,
    /// Final priority less urgent than the first: over-triage.
    pub down: usize,
}

/// The KPIs of one group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GroupKpis {
    pub key: String,
    pub contacts: usize,
    pub intervals: Intervals,
    /// By triage method (`protocol`, `matrix`, `manual`).
    pub reassessed: BTreeMap<String, Reassessed>,
    pub missed_checkins: usize,
    pub escalations: usize,
    pub overrides: usize,
    pub complaints: usize,
    pub upheld_complaints: usize,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: GroupBy,
    pub groups: Vec<GroupKpis>,
    /// What the rules find in the period (whatever the grouping).
    pub findings: Vec<Finding>,
    /// Each improvement action raised by the period's end, and whether its figure moved.
    pub improvements: Vec<Movement>,
}

/// Raw samples of one group before the statistics: `(secs, target)` per interval.
#[derive(Default)]
struct Samples {
    contacts: usize,
    answer: Vec<(i64, Option<u64>)>,
    dispatch: Vec<(i64, Option<u64>)>,
    acknowledge: Vec<(i64, Option<u64>)>,
    arrive: Vec<(i64, Option<u64>)>,
    resolve: Vec<(i64, Option<u64>)>,
    reassessed: BTreeMap<String, Reassessed>,
    missed_checkins: usize,
    escalations: usize,
    overrides: usize,
    complaints: usize,
    upheld_complaints: usize,
}

/// Which counted events happened in the period, by the incident they concern.
#[derive(Clone, Copy)]
enum Counted {
    MissedCheckin,
    Escalation,
    Override,
}

/// Event kinds the review never reads: notes, scripts, messages, deliveries, users,
/// resource movements, support, checklist ticks. A reader may skip them unparsed.
pub const SKIPPED: [EventKind; 21] = {
    use EventKind::*;
    [
        IncidentNoted,
        IncidentAnswered,
        IncidentClosed,
        IncidentStatusChanged,
        ContactClosed,
        AssignmentActionDone,
        AssignmentActionUndone,
        CheckinRecorded,
        ResourceStatusChanged,
        ResourceLocated,
        MessageBroadcast,
        MessageAcknowledged,
        NotificationSent,
        NotificationFailed,
        UserDisabled,
        UserPasswordChanged,
        SupportProposed,
        SupportAgreed,
        SupportNoted,
        SupportReviewed,
        TargetBreached,
    ]
};

/// [`SKIPPED`] by wire name, as a store compares them with the kinds it keeps.
pub const SKIPPED_KINDS: &[&str] = &EventKind::names(SKIPPED);

/// Whether the review reads events of this kind (folding the others changes nothing
/// it measures).
pub fn needs(kind: EventKind) -> bool {
    !SKIPPED.contains(&kind)
}

/// A report being built from the log, record by record.
pub struct Review {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    state: State,
    counted: Vec<(Counted, IncidentId)>,
}

impl Review {
    /// A review of `[from, to)`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Review {
        Review {
            from,
            to,
            state: State::default(),
            counted: Vec::new(),
        }
    }

    /// Folds one record (in log order). Records from the period's end on are ignored.
    pub fn push(&mut self, rec: &Record) {
        if rec.at >= self.to {
            return;
        }
        self.state.apply_untracked(rec);
        if rec.at < self.from {
            return;
        }
        let counted = match &rec.event {
            Event::CheckinMissed { .. } => Counted::MissedCheckin,
            Event::AssignmentEscalated { .. } => Counted::Escalation,
            Event::IncidentOverridden { .. } => Counted::Override,
            _ => return,
        };
        if let Some(id) = self.state.incident_of(&rec.event) {
            self.counted.push((counted, id));
        }
    }

    /// The KPIs per group, groups sorted by key.
    pub fn finish(self, centre: &Centre, by: GroupBy) -> Report {
        let g = Grouper {
            state: &self.state,
            centre,
            by,
        };
        let mut groups: BTreeMap<String, Samples> = BTreeMap::new();
        let in_period = |t: DateTime<Utc>| t >= self.from && t < self.to;
        for c in self
            .state
            .contacts
            .values()
            .filter(|c| in_period(c.received_at))
        {
            g.add_contact(c, groups.entry(g.contact_key(c)).or_default());
        }
        for i in self
            .state
            .incidents
            .values()
            .filter(|i| in_period(i.opened_at))
        {
            g.add_incident(i, groups.entry(g.incident_key(i)).or_default());
        }
        for (what, id) in &self.counted {
            let key = g.incident_key_of(id);
            let s = groups.entry(key).or_default();
            match what {
                Counted::MissedCheckin => s.missed_checkins += 1,
                Counted::Escalation => s.escalations += 1,
                Counted::Override => s.overrides += 1,
            }
        }
        for c in self.state.cases.values() {
            if c.case_type != CaseType::Complaint || !in_period(c.opened_at) {
                continue;
            }
            let key = c
                .incident_ids
                .first()
                .map_or_else(|| NONE_KEY.to_string(), |i| g.incident_key_of(i));
            let s = groups.entry(key).or_default();
            s.complaints += 1;
            if c.outcome.is_some_and(|o| o.is_upheld()) {
                s.upheld_complaints += 1;
            }
        }
        let measures = g.measures(self.from, self.to);
        let improvements = self
            .state
            .improvements
            .values()
            .map(|imp| {
                findings::movement(imp, (self.from, self.to), |a, b| {
                    Some(if (a, b) == (self.from, self.to) {
                        measures.clone()
                    } else {
                        g.measures(a, b)
                    })
                })
            })
            .collect();
        Report {
            from: self.from,
            to: self.to,
            by,
            groups: groups
                .into_iter()
                .map(|(key, s)| s.into_kpis(key))
                .collect(),
            findings: findings::evaluate(&measures, &centre.review),
            improvements,
        }
    }
}

/// Computes the report of `[from, to)` over a whole log in one go.
pub fn compute<'a>(
    centre: &Centre,
    records: impl IntoIterator<Item = &'a Record>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: GroupBy,
) -> Report {
    let mut r = Review::new(from, to);
    for rec in records {
        r.push(rec);
    }
    r.finish(centre, by)
}

/// Decides each thing's group and measures it against the state at the period's end.
struct Grouper<'a> {
    state: &'a State,
    centre: &'a Centre,
    by: GroupBy,
}

impl Grouper<'_> {
    fn contact_key(&self, c: &Contact) -> String {
        match self.by {
            GroupBy::Operator => c.taken_by.as_ref().unwrap_or(&c.received_by).to_string(),
            GroupBy::Channel => c.channel.name().to_string(),
            _ => c
                .incident_id
                .as_ref()
                .map_or_else(|| NONE_KEY.to_string(), |i| self.incident_key_of(i)),
        }
    }

    fn incident_key_of(&self, id: &IncidentId) -> String {
        self.state
            .incidents
            .get(id)
            .map_or_else(|| NONE_KEY.to_string(), |i| self.incident_key(i))
    }

    fn incident_key(&self, i: &Incident) -> String {
        let s = self.state;
        match self.by {
            GroupBy::Operator => i.opened_by.to_string(),
            GroupBy::Type => i.incident_type.clone(),
            GroupBy::Priority => i.priority.map_or(NONE_KEY, |p| p.as_str()).to_string(),
            GroupBy::Team => i
                .assignment_ids
                .first()
                .and_then(|a| s.assignments.get(a))
                .and_then(|a| s.resources.get(&a.resource_id))
                .map_or_else(|| NONE_KEY.to_string(), |r| r.team.clone()),
            GroupBy::Channel => i
                .contact_ids
                .first()
                .and_then(|c| s.contacts.get(c))
                .map_or(NONE_KEY, |c| c.channel.name())
                .to_string(),
        }
    }

    /// The figures the finding rules read, for the incidents and complaints opened in
    /// `[from, to)`, measured against the state at the review's end.
    fn measures(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Measures {
        let st = self.state;
        let in_period = |t: DateTime<Utc>| t >= from && t < to;
        let mut m = Measures::default();
        for i in st.incidents.values().filter(|i| in_period(i.opened_at)) {
            if let Some(d) = self.dispatch_secs(i) {
                m.dispatch.push(d);
                let op = m.dispatch_by_operator.entry(i.opened_by.to_string());
                op.or_default().push(d);
            }
            if let Some((method, change)) = reassessment(i) {
                let r = m.triage.entry(method_name(method)).or_default();
                r.count(change);
            }
            self.measure_acknowledgements(i, &mut m);
        }
        m.dispatch.sort_unstable();
        for (id, v) in m.dispatch_by_operator.iter_mut() {
            v.sort_unstable();
            if let Some(u) = st.users.get(&crate::domain::ids::UserId(id.clone())) {
                m.names.insert(id.clone(), u.name.clone());
            }
        }
        for c in st.cases.values() {
            if c.case_type == CaseType::Complaint && in_period(c.opened_at) {
                m.complaints += 1;
                m.upheld_complaints += usize::from(c.outcome.is_some_and(|o| o.is_upheld()));
            }
        }
        m
    }

    /// Acknowledgements against target, under the escalation policy that watched them.
    fn measure_acknowledgements(&self, i: &Incident, m: &mut Measures) {
        let Some(target) = self.targets(i).map(|t| t.acknowledge_secs) else {
            return;
        };
        let Some(policy) = crate::engine::timers::effective_priority(self.centre, i)
            .and_then(|p| self.centre.escalation_for(&i.incident_type, p))
        else {
            return;
        };
        for a in i
            .assignment_ids
            .iter()
            .filter_map(|a| self.state.assignments.get(a))
        {
            if let Some(ack) = a.acknowledged_at {
                let e = m
                    .acknowledge_by_policy
                    .entry(policy.id.clone())
                    .or_default();
                e.0 += usize::from(secs(a.notified_at, ack) <= target as i64);
                e.1 += 1;
            }
        }
    }

    /// First contact received (or incident opened) → first assignment notified.
    fn dispatch_secs(&self, i: &Incident) -> Option<i64> {
        let st = self.state;
        let first = i
            .assignment_ids
            .iter()
            .filter_map(|a| st.assignments.get(a))
            .map(|a| a.notified_at)
            .min()?;
        let received = i
            .contact_ids
            .iter()
            .filter_map(|c| st.contacts.get(c))
            .map(|c| c.received_at)
            .min()
            .map_or(i.opened_at, |r| r.min(i.opened_at));
        Some(secs(received, first))
    }

    /// The targets of an incident: its type's, at its final priority.
    fn targets(&self, i: &Incident) -> Option<&TargetSet> {
        let priority = i.priority?;
        let t = self.centre.incident_type(&i.incident_type)?;
        Some(t.targets.for_priority(priority))
    }

    fn add_contact(&self, c: &Contact, s: &mut Samples) {
        s.contacts += 1;
        let Some(taken) = c.taken_at else {
            return;
        };
        let target = c
            .incident_id
            .as_ref()
            .and_then(|i| self.state.incidents.get(i))
            .and_then(|i| self.targets(i))
            .map(|t| t.answer_secs);
        s.answer.push((secs(c.received_at, taken), target));
    }

    fn add_incident(&self, i: &Incident, s: &mut Samples) {
        let st = self.state;
        let targets = self.targets(i);
        let assignments: Vec<_> = i
            .assignment_ids
            .iter()
            .filter_map(|a| st.assignments.get(a))
            .collect();
        if let Some(d) = self.dispatch_secs(i) {
            s.dispatch.push((d, targets.map(|t| t.dispatch_secs)));
        }
        for a in &assignments {
            if let Some(ack) = a.acknowledged_at {
                let t = targets.map(|t| t.acknowledge_secs);
                s.acknowledge.push((secs(a.notified_at, ack), t));
            }
            if let Some(on) = a.on_scene_at {
                let t = targets.map(|t| t.arrive_secs);
                s.arrive.push((secs(a.notified_at, on), t));
            }
        }
        if let Some(done) = i.resolved_at {
            let t = targets.map(|t| t.resolve_secs);
            s.resolve.push((secs(i.opened_at, done), t));
        }
        self.add_reassessment(i, s);
    }

    fn add_reassessment(&self, i: &Incident, s: &mut Samples) {
        if let Some((method, change)) = reassessment(i) {
            s.reassessed
                .entry(method_name(method))
                .or_default()
                .count(change);
        }
    }
}

/// The method that first set a priority owns the incident's reassessment: that method,
/// and how the final priority compares with the first (`Less`: more urgent, "up").
fn reassessment(i: &Incident) -> Option<(TriageMethod, std::cmp::Ordering)> {
    let (method, first) = i
        .assessments
        .iter()
        .find_map(|a| a.priority.map(|p| (a.method, p)))?;
    Some((method, i.priority?.cmp(&first)))
}

impl Reassessed {
    /// Counts one incident whose final priority compares `change` with its first.
    fn count(&mut self, change: std::cmp::Ordering) {
        self.assessed += 1;
        // P1 is the most urgent: a smaller priority is "up".
        match change {
            std::cmp::Ordering::Less => self.up += 1,
            std::cmp::Ordering::Greater => self.down += 1,
            std::cmp::Ordering::Equal => {}
        }
    }
}

fn method_name(m: TriageMethod) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

impl Samples {
    fn into_kpis(self, key: String) -> GroupKpis {
        GroupKpis {
            key,
            contacts: self.contacts,
            intervals: Intervals {
                answer: stats(self.answer),
                dispatch: stats(self.dispatch),
                acknowledge: stats(self.acknowledge),
                arrive: stats(self.arrive),
                resolve: stats(self.resolve),
            },
            reassessed: self.reassessed,
            missed_checkins: self.missed_checkins,
            escalations: self.escalations,
            overrides: self.overrides,
            complaints: self.complaints,
            upheld_complaints: self.upheld_complaints,
        }
    }
}

/// Count, nearest-rank median and p90, and the share within target.
pub fn stats(samples: Vec<(i64, Option<u64>)>) -> IntervalStats {
    let mut values: Vec<i64> = samples.iter().map(|(v, _)| *v).collect();
    values.sort_unstable();
    let targeted: Vec<bool> = samples
        .iter()
        .filter_map(|(v, t)| t.map(|t| *v <= t as i64))
        .collect();
    let within = targeted.iter().filter(|ok| **ok).count();
    IntervalStats {
        count: values.len(),
        median_secs: percentile(&values, 50),
        p90_secs: percentile(&values, 90),
        within_target: (!targeted.is_empty()).then(|| within as f64 / targeted.len() as f64),
    }
}

/// The nearest-rank `p`th percentile of sorted `values`.
pub fn percentile(values: &[i64], p: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    Some(values[rank - 1])
}

/// The report as CSV: a header, then one row per group.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from("key,contacts");
    for name in ["answer", "dispatch", "acknowledge", "arrive", "resolve"] {
        for field in ["count", "median_secs", "p90_secs", "within_target"] {
            out.push_str(&format!(",{name}_{field}"));
        }
    }
    out.push_str(",reassessed_up,reassessed_down,missed_checkins,escalations,overrides,complaints,upheld_complaints\n");
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for g in &report.groups {
        out.push_str(&csv_field(&g.key));
        out.push_str(&format!(",{}", g.contacts));
        let i = &g.intervals;
        for s in [
            &i.answer,
            &i.dispatch,
            &i.acknowledge,
            &i.arrive,
            &i.resolve,
        ] {
            let share = s
                .within_target
                .map(|w| format!("{w:.4}"))
                .unwrap_or_default();
            out.push_str(&format!(
                ",{},{},{},{share}",
                s.count,
                opt(s.median_secs),
                opt(s.p90_secs)
            ));
        }
        let up: usize = g.reassessed.values().map(|r| r.up).sum();
        let down: usize = g.reassessed.values().map(|r| r.down).sum();
        out.push_str(&format!(
            ",{up},{down},{},{},{},{},{}\n",
            g.missed_checkins, g.escalations, g.overrides, g.complaints, g.upheld_complaints
        ));
    }
    out
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    // A cell a spreadsheet would read as a formula (a team named `=HYPERLINK(…)`) is
    // prefixed with `'`, so opening the download never runs what someone typed.
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return csv_field(&format!("'{s}"));
    }
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).map(|x| x * 10).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 90), Some(90));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn stats_share_within_target_counts_only_targeted_samples() {
        let s = stats(vec![
            (10, Some(20)),
            (30, Some(20)),
            (5, None),
            (20, Some(20)),
        ]);
        assert_eq!(s.count, 4);
        assert_eq!(s.median_secs, Some(10));
        assert_eq!(s.p90_secs, Some(30));
        assert_eq!(s.within_target, Some(2.0 / 3.0));
        assert_eq!(stats(vec![(1, None)]).within_target, None);
    }

    #[test]
    fn csv_quotes_awkward_keys() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-2,3"), "\"'-2,3\"");
    }
}
