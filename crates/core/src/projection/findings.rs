//! Findings: named rules that read a period's figures and say where the team may need
//! to improve, each in an area of the centre's support taxonomy, with the figures that
//! triggered it. And, for the improvement actions raised from findings, whether the
//! figure moved since.
//!
//! A finding's id is `"<rule>:<by>:<key>"` (`slow_dispatch:operator:usr_3`): stable
//! across reports, so an improvement action raised from one (`improvement.raise
//! {finding}`) can be measured again in any later period by [`figure`].
//!
//! Pure: [`Measures`] are computed by the review from the state at the period's end;
//! the rules are plain functions of them and of the centre's [`Thresholds`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::review::{Reassessed, percentile as pct};
use crate::domain::improvement::{Improvement, ImprovementStatus};
pub use crate::domain::procedure::Thresholds;
use crate::domain::wire_enum;

impl Thresholds {
    /// What is wrong with the thresholds, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if !(self.slow_dispatch_factor.is_finite() && self.slow_dispatch_factor >= 1.0) {
            out.push(("slow_dispatch_factor", "must be a number of at least 1.0"));
        }
        let shares = [
            ("under_triage_rate", self.under_triage_rate),
            ("acknowledge_within_target", self.acknowledge_within_target),
            ("upheld_complaint_share", self.upheld_complaint_share),
        ];
        for (field, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                out.push((field, "must be a share between 0.0 and 1.0"));
            }
        }
        let mins = [
            (
                "slow_dispatch_min_incidents",
                self.slow_dispatch_min_incidents,
            ),
            ("under_triage_min_assessed", self.under_triage_min_assessed),
            (
                "acknowledge_min_assignments",
                self.acknowledge_min_assignments,
            ),
            ("upheld_min_complaints", self.upheld_min_complaints),
        ];
        for (field, v) in mins {
            if v == 0 {
                out.push((field, "must be at least 1"));
            }
        }
        out
    }
}

/// The figures of one period the rules read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measures {
    /// Time to dispatch (secs) of the incidents opened in the period, sorted.
    pub dispatch: Vec<i64>,
    /// The same, per operator who opened the incident, each sorted.
    pub dispatch_by_operator: BTreeMap<String, Vec<i64>>,
    /// First vs final priority, per triage method that set the first.
    pub triage: BTreeMap<String, Reassessed>,
    /// Acknowledged assignments `(within target, with a target)` per escalation policy.
    pub acknowledge_by_policy: BTreeMap<String, (usize, usize)>,
    /// Complaints opened in the period, and how many of them were upheld.
    pub complaints: usize,
    pub upheld_complaints: usize,
    /// User id → name, so messages name people as supervisors know them.
    pub names: BTreeMap<String, String>,
}

/// One finding, in the shape the report and the review page use.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// `"<rule>:<by>:<key>"`.
    pub id: String,
    pub rule: &'static str,
    /// The area of the centre's support taxonomy it concerns.
    pub area: &'static str,
    /// What `key` is: `operator`, `method`, `policy` or `centre`.
    pub by: &'static str,
    pub key: String,
    /// The figure measured (see [`Rule::figure`]).
    pub figure: &'static str,
    pub value: f64,
    /// The line `value` crossed.
    pub threshold: f64,
    /// The same figure for the whole team, for comparison.
    pub baseline: Option<f64>,
    /// How many things were measured for `value`.
    pub samples: usize,
    /// A sentence a supervisor understands, with the figures.
    pub message: String,
}

/// A named rule: what it measures and which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub area: &'static str,
    pub by: &'static str,
    pub figure: &'static str,
    /// For "did the figure move": whether a smaller figure is an improvement.
    pub lower_is_better: bool,
}

pub const SLOW_DISPATCH: Rule = Rule {
    name: "slow_dispatch",
    area: "resource_selection",
    by: "operator",
    figure: "dispatch_p90_secs",
    lower_is_better: true,
};
pub const UNDER_TRIAGE: Rule = Rule {
    name: "under_triage",
    area: "validity_and_priority",
    by: "method",
    figure: "under_triage_rate",
    lower_is_better: true,
};
pub const ACKNOWLEDGE_COMPLIANCE: Rule = Rule {
    name: "acknowledge_compliance",
    area: "monitoring",
    by: "policy",
    figure: "acknowledge_within_target",
    lower_is_better: false,
};
pub const UPHELD_COMPLAINTS: Rule = Rule {
    name: "upheld_complaints",
    area: "complaints",
    by: "centre",
    figure: "upheld_complaint_share",
    lower_is_better: true,
};

/// Every rule, in the order findings are listed.
pub const RULES: [Rule; 4] = [
    SLOW_DISPATCH,
    UNDER_TRIAGE,
    ACKNOWLEDGE_COMPLIANCE,
    UPHELD_COMPLAINTS,
];

/// The key `upheld_complaints` uses: it is measured over the whole centre.
pub const CENTRE_KEY: &str = "all";

impl Rule {
    /// The rule with this name.
    pub fn named(name: &str) -> Option<Rule> {
        RULES.into_iter().find(|r| r.name == name)
    }

    fn finding(&self, key: &str, value: f64, threshold: f64, samples: usize) -> Finding {
        Finding {
            id: format!("{}:{}:{key}", self.name, self.by),
            rule: self.name,
            area: self.area,
            by: self.by,
            key: key.to_string(),
            figure: self.figure,
            value,
            threshold,
            baseline: None,
            samples,
            message: String::new(),
        }
    }
}

/// Every finding the rules make of `m`, rule by rule, each rule's by key.
pub fn evaluate(m: &Measures, t: &Thresholds) -> Vec<Finding> {
    let mut out = slow_dispatch(m, t);
    out.extend(under_triage(m, t));
    out.extend(acknowledge_compliance(m, t));
    out.extend(upheld_complaints(m, t));
    out
}

/// An operator whose p90 time to dispatch is above `factor` × the team's median.
pub fn slow_dispatch(m: &Measures, t: &Thresholds) -> Vec<Finding> {
    let Some(median) = pct(&m.dispatch, 50) else {
        return Vec::new();
    };
    let line = median as f64 * t.slow_dispatch_factor;
    let mut out = Vec::new();
    for (op, v) in &m.dispatch_by_operator {
        let Some(p90) = pct(v, 90) else { continue };
        if v.len() < t.slow_dispatch_min_incidents || p90 as f64 <= line {
            continue;
        }
        let mut f = SLOW_DISPATCH.finding(op, p90 as f64, line, v.len());
        f.baseline = Some(median as f64);
        let who = m
            .names
            .get(op)
            .map_or_else(|| op.clone(), |n| format!("{n} ({op})"));
        f.message = format!(
            "{who}'s 90th-percentile time to dispatch is {}, above {} ({}× the team's median of {}) over {} incidents.",
            duration(p90 as f64),
            duration(line),
            t.slow_dispatch_factor,
            duration(median as f64),
            v.len()
        );
        out.push(f);
    }
    out
}

/// A triage method whose first priorities were too often made more urgent later.
pub fn under_triage(m: &Measures, t: &Thresholds) -> Vec<Finding> {
    let all = m
        .triage
        .values()
        .fold((0, 0), |(u, a), r| (u + r.up, a + r.assessed));
    let mut out = Vec::new();
    for (method, r) in &m.triage {
        let Some(rate) = share(r.up, r.assessed) else {
            continue;
        };
        if r.assessed < t.under_triage_min_assessed || rate <= t.under_triage_rate {
            continue;
        }
        let mut f = UNDER_TRIAGE.finding(method, rate, t.under_triage_rate, r.assessed);
        f.baseline = share(all.0, all.1);
        f.message = format!(
            "{} of {} incidents first prioritised by the {method} method were later made more urgent ({}), above the centre's threshold of {}.",
            r.up,
            r.assessed,
            percent(rate),
            percent(t.under_triage_rate)
        );
        out.push(f);
    }
    out
}

/// An escalation policy under which too few assignments were acknowledged in time.
pub fn acknowledge_compliance(m: &Measures, t: &Thresholds) -> Vec<Finding> {
    let all = m
        .acknowledge_by_policy
        .values()
        .fold((0, 0), |(w, n), (pw, pn)| (w + pw, n + pn));
    let mut out = Vec::new();
    for (policy, &(within, total)) in &m.acknowledge_by_policy {
        let Some(rate) = share(within, total) else {
            continue;
        };
        if total < t.acknowledge_min_assignments || rate >= t.acknowledge_within_target {
            continue;
        }
        let mut f =
            ACKNOWLEDGE_COMPLIANCE.finding(policy, rate, t.acknowledge_within_target, total);
        f.baseline = share(all.0, all.1);
        f.message = format!(
            "Only {within} of {total} assignments under the {policy} escalation policy were acknowledged within target ({}), below the centre's {}.",
            percent(rate),
            percent(t.acknowledge_within_target)
        );
        out.push(f);
    }
    out
}

/// Too large a share of the period's complaints upheld.
pub fn upheld_complaints(m: &Measures, t: &Thresholds) -> Vec<Finding> {
    let Some(rate) = share(m.upheld_complaints, m.complaints) else {
        return Vec::new();
    };
    if m.complaints < t.upheld_min_complaints || rate <= t.upheld_complaint_share {
        return Vec::new();
    }
    let mut f = UPHELD_COMPLAINTS.finding(CENTRE_KEY, rate, t.upheld_complaint_share, m.complaints);
    f.message = format!(
        "{} of {} complaints were upheld in whole or in part ({}), above the centre's threshold of {}.",
        m.upheld_complaints,
        m.complaints,
        percent(rate),
        percent(t.upheld_complaint_share)
    );
    vec![f]
}

/// A finding id's parts: the rule, and the key it is about. `None` for free text.
pub fn parse_id(id: &str) -> Option<(Rule, &str)> {
    let mut parts = id.splitn(3, ':');
    let rule = Rule::named(parts.next()?)?;
    (parts.next()? == rule.by).then_some(())?;
    let key = parts.next().filter(|k| !k.is_empty())?;
    Some((rule, key))
}

/// A rule's figure for `key` in a period's measures, whether or not the rule fires:
/// what "did the figure move" compares. `None` when nothing was measured.
pub fn figure(rule: Rule, key: &str, m: &Measures) -> Option<f64> {
    match rule.name {
        "slow_dispatch" => pct(m.dispatch_by_operator.get(key)?, 90).map(|v| v as f64),
        "under_triage" => m.triage.get(key).and_then(|r| share(r.up, r.assessed)),
        "acknowledge_compliance" => {
            let &(within, total) = m.acknowledge_by_policy.get(key)?;
            share(within, total)
        }
        "upheld_complaints" => share(m.upheld_complaints, m.complaints),
        _ => None,
    }
}

wire_enum!(
    /// Whether a figure moved the right way since an action was raised.
    Moved {
        Better => "better",
        Worse => "worse",
        Unchanged => "unchanged",
        /// Free-text finding, or the figure was not measured in one of the periods.
        Unknown => "unknown",
    }
);

/// How an improvement action's figure moved: before it was raised vs the period.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Movement {
    pub improvement_id: String,
    pub title: String,
    pub status: ImprovementStatus,
    /// The finding it was raised from; `None` when its `finding` is free text.
    pub finding_id: Option<String>,
    pub figure: Option<&'static str>,
    /// The figure over the period of the report's length ending when it was raised.
    pub before: Option<f64>,
    /// The figure over the report's period.
    pub after: Option<f64>,
    pub moved: Moved,
}

/// Compares an action's figure before it was raised with the report's period.
/// `measure(from, to)` gives the measures of a period (the review computes them).
pub fn movement(
    imp: &Improvement,
    period: (DateTime<Utc>, DateTime<Utc>),
    mut measure: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> Option<Measures>,
) -> Movement {
    let parsed = parse_id(imp.finding.trim());
    let mut out = Movement {
        improvement_id: imp.id.to_string(),
        title: imp.title.clone(),
        status: imp.status,
        finding_id: parsed.map(|_| imp.finding.trim().to_string()),
        figure: parsed.map(|(r, _)| r.figure),
        before: None,
        after: None,
        moved: Moved::Unknown,
    };
    let Some((rule, key)) = parsed else {
        return out;
    };
    let (from, to) = period;
    let start = imp
        .raised_at
        .checked_sub_signed(to - from)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    out.before = measure(start, imp.raised_at).and_then(|m| figure(rule, key, &m));
    out.after = measure(from, to).and_then(|m| figure(rule, key, &m));
    out.moved = compare(rule, out.before, out.after);
    out
}

/// Which way a figure moved, given the rule's direction.
pub fn compare(rule: Rule, before: Option<f64>, after: Option<f64>) -> Moved {
    let (Some(b), Some(a)) = (before, after) else {
        return Moved::Unknown;
    };
    // Shares and whole seconds: a change below this is noise of the arithmetic.
    if (a - b).abs() < 1e-9 {
        return Moved::Unchanged;
    }
    if (a < b) == rule.lower_is_better {
        Moved::Better
    } else {
        Moved::Worse
    }
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// Seconds as a supervisor reads them: `95 s`, `4 min 10 s`, `1 h 5 min`.
fn duration(secs: f64) -> String {
    let s = secs.round() as i64;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ImprovementId, UserId};
    use chrono::{NaiveDate, TimeZone};

    /// 20 dispatches at 60 s for the team, plus an operator's own.
    fn with_operator(name: &str, own: Vec<i64>) -> Measures {
        let mut m = Measures::default();
        m.dispatch_by_operator
            .insert("usr_team".into(), vec![60; 40]);
        m.dispatch_by_operator.insert(name.into(), own);
        m.dispatch = m.dispatch_by_operator.values().flatten().copied().collect();
        m.dispatch.sort_unstable();
        m
    }

    #[test]
    fn slow_dispatch_fires_above_one_and_a_half_times_the_median() {
        // The nearest-rank p90 of 20 is the 18th value: three slow ones put it at 200.
        let mut own = vec![60; 17];
        own.extend([200, 200, 200]);
        let mut m = with_operator("usr_3", own);
        m.names.insert("usr_3".into(), "Ada Lovelace".into());
        let f = slow_dispatch(&m, &Thresholds::default());
        assert_eq!(f.len(), 1, "{f:?}");
        let f = &f[0];
        assert_eq!(f.id, "slow_dispatch:operator:usr_3");
        assert_eq!(
            (f.rule, f.area, f.by),
            ("slow_dispatch", "resource_selection", "operator")
        );
        assert_eq!(f.figure, "dispatch_p90_secs");
        assert_eq!(
            (f.value, f.threshold, f.baseline),
            (200.0, 90.0, Some(60.0))
        );
        assert_eq!(f.samples, 20);
        assert!(
            f.message.starts_with("Ada Lovelace (usr_3)'s") && f.message.contains("3 min 20 s"),
            "{}",
            f.message
        );
    }

    #[test]
    fn slow_dispatch_holds_back_below_the_line_or_the_sample_size() {
        let t = Thresholds::default();
        // p90 exactly 1.5 × the median: not above.
        assert!(slow_dispatch(&with_operator("usr_3", vec![90; 20]), &t).is_empty());
        // Slow, but only 19 incidents.
        assert!(slow_dispatch(&with_operator("usr_3", vec![600; 19]), &t).is_empty());
        assert!(slow_dispatch(&Measures::default(), &t).is_empty());
    }

    fn triage(method: &str, assessed: usize, up: usize) -> Measures {
        let mut m = Measures::default();
        m.triage.insert(
            method.into(),
            Reassessed {
                assessed,
                up,
                down: 0,
            },
        );
        m.triage.insert(
            "matrix".into(),
            Reassessed {
                assessed: 100,
                up: 0,
                down: 3,
            },
        );
        m
    }

    #[test]
    fn under_triage_fires_for_the_method_above_the_threshold() {
        let f = under_triage(&triage("protocol", 40, 8), &Thresholds::default());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].id, "under_triage:method:protocol");
        assert_eq!(f[0].area, "validity_and_priority");
        assert_eq!((f[0].value, f[0].threshold, f[0].samples), (0.2, 0.1, 40));
        assert_eq!(f[0].baseline, Some(8.0 / 140.0));
        assert!(f[0].message.contains("8 of 40"), "{}", f[0].message);
    }

    #[test]
    fn under_triage_holds_back_at_the_threshold_or_on_few_incidents() {
        let t = Thresholds::default();
        assert!(under_triage(&triage("protocol", 40, 4), &t).is_empty());
        assert!(under_triage(&triage("protocol", 19, 10), &t).is_empty());
    }

    fn acks(within: usize, total: usize) -> Measures {
        let mut m = Measures::default();
        m.acknowledge_by_policy
            .insert("urgent".into(), (within, total));
        m
    }

    #[test]
    fn acknowledge_compliance_fires_below_the_share() {
        let t = Thresholds::default();
        let f = acknowledge_compliance(&acks(15, 20), &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "acknowledge_compliance:policy:urgent");
        assert_eq!((f[0].area, f[0].value), ("monitoring", 0.75));
        assert!(acknowledge_compliance(&acks(18, 20), &t).is_empty());
        assert!(acknowledge_compliance(&acks(1, 19), &t).is_empty());
    }

    #[test]
    fn upheld_complaints_fires_above_the_share() {
        let t = Thresholds::default();
        let m = |complaints, upheld_complaints| Measures {
            complaints,
            upheld_complaints,
            ..Default::default()
        };
        let f = upheld_complaints(&m(6, 4), &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "upheld_complaints:centre:all");
        assert_eq!(f[0].area, "complaints");
        assert!(upheld_complaints(&m(6, 3), &t).is_empty());
        assert!(upheld_complaints(&m(4, 4), &t).is_empty());
    }

    #[test]
    fn finding_ids_parse_back_to_their_rule() {
        assert_eq!(
            parse_id("slow_dispatch:operator:usr_3"),
            Some((SLOW_DISPATCH, "usr_3"))
        );
        assert_eq!(parse_id("slow_dispatch:method:usr_3"), None);
        assert_eq!(parse_id("Dispatch is slow on nights"), None);
        assert_eq!(parse_id("under_triage:method:"), None);
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(Thresholds::default().problems().is_empty());
        let t = Thresholds {
            slow_dispatch_factor: 0.5,
            under_triage_rate: 1.5,
            upheld_min_complaints: 0,
            ..Default::default()
        };
        let fields: Vec<_> = t.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "slow_dispatch_factor",
                "under_triage_rate",
                "upheld_min_complaints"
            ]
        );
    }

    fn improvement(finding: &str, raised_at: DateTime<Utc>) -> Improvement {
        Improvement {
            id: ImprovementId("imp_9".into()),
            title: "Buddy on nights".into(),
            finding: finding.into(),
            owner_id: UserId("usr_1".into()),
            due_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            areas: vec![],
            plan_id: None,
            status: ImprovementStatus::InProgress,
            raised_by: UserId("usr_1".into()),
            raised_at,
            history: vec![],
        }
    }

    #[test]
    fn movement_compares_the_period_before_the_action_with_the_report() {
        let day = |d| Utc.with_ymd_and_hms(2026, 2, d, 0, 0, 0).unwrap();
        let imp = improvement("slow_dispatch:operator:usr_3", day(11));
        let mut asked = Vec::new();
        let mv = movement(&imp, (day(11), day(21)), |a, b| {
            asked.push((a, b));
            let p90 = if b <= day(11) { 300 } else { 120 };
            Some(with_operator("usr_3", vec![p90; 20]))
        });
        // The same length (ten days) ending when it was raised.
        assert_eq!(asked, [(day(1), day(11)), (day(11), day(21))]);
        assert_eq!(
            mv.finding_id.as_deref(),
            Some("slow_dispatch:operator:usr_3")
        );
        assert_eq!(mv.figure, Some("dispatch_p90_secs"));
        assert_eq!((mv.before, mv.after), (Some(300.0), Some(120.0)));
        assert_eq!(mv.moved, Moved::Better);
        let free = movement(
            &improvement("nights are slow", day(11)),
            (day(11), day(21)),
            |_, _| Some(Measures::default()),
        );
        assert_eq!((free.finding_id, free.moved), (None, Moved::Unknown));
    }

    #[test]
    fn compare_follows_each_figures_direction() {
        assert_eq!(compare(SLOW_DISPATCH, Some(10.0), Some(20.0)), Moved::Worse);
        assert_eq!(
            compare(ACKNOWLEDGE_COMPLIANCE, Some(0.5), Some(0.8)),
            Moved::Better
        );
        assert_eq!(
            compare(ACKNOWLEDGE_COMPLIANCE, Some(0.8), Some(0.5)),
            Moved::Worse
        );
        assert_eq!(
            compare(UNDER_TRIAGE, Some(0.2), Some(0.2)),
            Moved::Unchanged
        );
        assert_eq!(compare(UNDER_TRIAGE, None, Some(0.2)), Moved::Unknown);
    }
}
