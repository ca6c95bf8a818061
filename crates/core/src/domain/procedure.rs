//! The centre's procedures as data: incident types with their call scripts, priority
//! rules, skills, responsibilities, action templates, targets, escalation policies and
//! closure rules, plus the centre-wide priority matrix, duplicate rule and lists.
//!
//! Code implements the mechanisms; the centre configures the policy. Everything here is
//! plain data loaded from `config/centre.toml` (see [`crate::config::load_centre`]) and
//! checked once at start-up by [`validate`], so the engine may rely on it: every policy
//! id a type names exists, every rule names a real question, the matrix is square with
//! its labels. Pure: no I/O, no clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::triage::Priority;

/// The whole of a centre's procedures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    /// Shown in the apps' title bar and in reports.
    pub name: String,
    /// The incident services the centre offers (its catalogue).
    pub types: Vec<IncidentType>,
    /// Ladders an unacknowledged assignment climbs; types refer to them by id.
    #[serde(default)]
    pub escalation_policies: Vec<EscalationPolicy>,
    /// The impact × urgency method of setting priority.
    pub matrix: PriorityMatrix,
    /// When a new contact is probably about an incident already open.
    pub duplicate: DuplicateRule,
    /// Travel speeds used to turn distance into an ETA when recommending resources.
    pub speeds_kmh: Speeds,
    /// Causes a complaint case may be closed with, so reviews can count them.
    #[serde(default)]
    pub root_causes: Vec<String>,
    /// Areas in which a colleague may agree to be supported.
    #[serde(default)]
    pub support_areas: Vec<String>,
    /// Kinds of support a plan may offer.
    #[serde(default)]
    pub support_types: Vec<String>,
    /// Deadlines for queries and complaints.
    pub case_targets: CaseTargets,
    /// The thresholds the review's finding rules fire at (`[review]`; defaults apply).
    #[serde(default)]
    pub review: Thresholds,
    /// Personal data: retention per category (`[privacy.retention]`; defaults apply).
    #[serde(default)]
    pub privacy: crate::privacy::retention::Policy,
}

impl Centre {
    /// The incident type with this id.
    pub fn incident_type(&self, id: &str) -> Option<&IncidentType> {
        self.types.iter().find(|t| t.id == id)
    }

    /// The escalation policy with this id.
    pub fn escalation_policy(&self, id: &str) -> Option<&EscalationPolicy> {
        self.escalation_policies.iter().find(|p| p.id == id)
    }

    /// The policy that governs an unacknowledged assignment on an incident of type
    /// `type_id` at priority `priority`, if both exist.
    pub fn escalation_for(&self, type_id: &str, priority: Priority) -> Option<&EscalationPolicy> {
        let kind = self.incident_type(type_id)?;
        self.escalation_policy(kind.escalation_policy_id(priority))
    }

    /// The services offered, in the shape `GET /api/catalogue` sends.
    pub fn catalogue(&self) -> Catalogue {
        Catalogue {
            name: self.name.clone(),
            types: self.types.iter().map(CatalogueType::from).collect(),
            root_causes: self.root_causes.clone(),
            support_areas: self.support_areas.clone(),
            support_types: self.support_types.clone(),
            case_targets: self.case_targets.clone(),
            override_rules: super::incident::rules::ALL
                .iter()
                .map(|(rule, protects)| OverrideRule { rule, protects })
                .collect(),
        }
    }
}

/// One incident service: how a contact about it is handled from first answer to closure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentType {
    /// Stable id commands use (`incident.open {type}`).
    pub id: String,
    /// Human name shown in the apps.
    pub name: String,
    /// What the service covers, for the catalogue.
    #[serde(default)]
    pub description: String,
    /// When the service is offered, e.g. `24/7` or `Mon-Fri 08:00-18:00`.
    #[serde(default = "default_hours")]
    pub hours: String,
    /// Priority when no protocol rule matches.
    pub default_priority: Priority,
    /// The call script, asked in order.
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Named rules from answers to priority; the first that holds wins.
    #[serde(default)]
    pub priority_rules: Vec<PriorityRule>,
    /// What the operator checks before calling the report verified.
    #[serde(default)]
    pub validity_checks: Vec<String>,
    /// Skills a recommended resource should hold.
    #[serde(default)]
    pub required_skills: Vec<String>,
    /// How many resources a typical incident of this type needs.
    #[serde(default = "default_resources_needed")]
    pub resources_needed: u32,
    /// What the assigned people are responsible for, sent with the assignment.
    #[serde(default)]
    pub responsibilities: String,
    /// The checklist every assignment starts from.
    #[serde(default)]
    pub actions: Vec<ActionTemplate>,
    /// Service-level targets per priority.
    pub targets: Targets,
    /// Id of the escalation policy used when no per-priority policy is given.
    pub escalation: String,
    /// Per-priority policy ids, so an urgent call climbs faster than a routine one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub escalation_by_priority: BTreeMap<Priority, String>,
    /// How often deployed staff must check in while on this incident.
    pub checkin_interval_secs: u64,
    /// What must be true before an incident of this type may close.
    #[serde(default)]
    pub closure: Closure,
    /// The OASIS CAP 1.2 `category` of its alerts (`Fire`, `Health`, ...: one of
    /// [`CAP_CATEGORIES`]); `Other` when not given (docs/INTEROP.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_category: Option<String>,
}

/// CAP 1.2's `category` values, for `cap_category`.
pub const CAP_CATEGORIES: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];

fn default_hours() -> String {
    "24/7".to_string()
}

fn default_resources_needed() -> u32 {
    1
}

impl IncidentType {
    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Ok when `value` answers a question of this script, else what is wrong.
    pub fn check_answer(&self, question: &str, value: &Value) -> Result<(), String> {
        let q = self
            .question(question)
            .ok_or_else(|| format!("{:?} is not a question of {}", question, self.id))?;
        if q.accepts(value) {
            return Ok(());
        }
        Err(match (q.kind, &q.options) {
            (QuestionKind::Choice, Some(options)) => {
                format!("answer one of: {}", options.join(", "))
            }
            (kind, _) => format!("answer with a {} value", kind.as_str()),
        })
    }

    /// Priority from the call script's answers: the first rule whose conditions all
    /// hold, with its name (recorded so reviews can see why), else the default.
    pub fn protocol_priority(
        &self,
        answers: &BTreeMap<String, Value>,
    ) -> (Priority, Option<String>) {
        self.priority_rules
            .iter()
            .find(|rule| rule.holds(answers))
            .map(|rule| (rule.priority, Some(rule.name.clone())))
            .unwrap_or((self.default_priority, None))
    }

    /// Id of the escalation policy for an incident at `priority`.
    pub fn escalation_policy_id(&self, priority: Priority) -> &str {
        self.escalation_by_priority
            .get(&priority)
            .map(String::as_str)
            .unwrap_or(&self.escalation)
    }

    /// Required questions the answers leave unanswered, so the engine can name them.
    pub fn unanswered_required<'a>(&'a self, answers: &BTreeMap<String, Value>) -> Vec<&'a str> {
        self.questions
            .iter()
            .filter(|q| q.required && answers.get(&q.id).is_none_or(is_blank))
            .map(|q| q.id.as_str())
            .collect()
    }
}

/// No answer: null, or a text of only spaces.
fn is_blank(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty())
}

/// One question of a call script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Key of the answer in `incident.answer {answers}`.
    pub id: String,
    /// What the operator asks.
    pub text: String,
    /// What shape the answer takes.
    pub kind: QuestionKind,
    /// Whether assessing by protocol needs this answer.
    #[serde(default)]
    pub required: bool,
    /// The allowed answers of a `choice` question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

impl Question {
    /// Whether `value` is a well-formed answer to this question.
    pub fn accepts(&self, value: &Value) -> bool {
        match self.kind {
            QuestionKind::YesNo => value.is_boolean(),
            QuestionKind::Number => value.is_number(),
            QuestionKind::Text => value.is_string(),
            QuestionKind::Choice => value
                .as_str()
                .is_some_and(|s| self.options.iter().flatten().any(|o| o == s)),
        }
    }
}

/// The shape of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    YesNo,
    Choice,
    Number,
    Text,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::YesNo => "yes_no",
            QuestionKind::Choice => "choice",
            QuestionKind::Number => "number",
            QuestionKind::Text => "text",
        }
    }
}

/// A named determinant: when every condition holds, the incident gets `priority`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRule {
    /// Recorded with the assessment so a reviewer sees which rule decided.
    pub name: String,
    /// All must hold.
    pub when: Vec<Condition>,
    pub priority: Priority,
}

impl PriorityRule {
    /// Whether every condition holds for these answers.
    pub fn holds(&self, answers: &BTreeMap<String, Value>) -> bool {
        self.when.iter().all(|c| c.holds(answers))
    }
}

/// A test on one answer: equal to a value, and/or at least a number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Id of the question whose answer is tested.
    pub question: String,
    /// The answer must equal this (string, bool or number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The answer must be a number at least this large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
}

impl Condition {
    /// Whether the answer exists and passes every test given. An unanswered question
    /// never matches, so a rule cannot fire on missing information.
    pub fn holds(&self, answers: &BTreeMap<String, Value>) -> bool {
        let Some(answer) = answers.get(&self.question) else {
            return false;
        };
        let equal = self.equals.as_ref().is_none_or(|e| same_value(answer, e));
        let enough = self
            .at_least
            .is_none_or(|min| answer.as_f64().is_some_and(|n| n >= min));
        equal && enough
    }
}

/// JSON equality, except that numbers compare by value (`3` equals `3.0`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// An item of the checklist an assignment starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionTemplate {
    pub text: String,
    /// Closure (with `require_required_actions`) waits until this is done.
    #[serde(default)]
    pub required: bool,
}

/// Targets, in seconds, for each priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(rename = "P1")]
    pub p1: TargetSet,
    #[serde(rename = "P2")]
    pub p2: TargetSet,
    #[serde(rename = "P3")]
    pub p3: TargetSet,
    #[serde(rename = "P4")]
    pub p4: TargetSet,
}

impl Targets {
    /// The targets that apply at `priority`.
    pub fn for_priority(&self, priority: Priority) -> &TargetSet {
        match priority {
            Priority::P1 => &self.p1,
            Priority::P2 => &self.p2,
            Priority::P3 => &self.p3,
            Priority::P4 => &self.p4,
        }
    }
}

/// The clocks a centre is measured on, each in seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSet {
    /// Contact received → taken by an operator.
    pub answer_secs: u64,
    /// Contact received → first assignment.
    pub dispatch_secs: u64,
    /// Assignment notified → acknowledged.
    pub acknowledge_secs: u64,
    /// Assignment notified → on scene.
    pub arrive_secs: u64,
    /// Incident opened → resolved.
    pub resolve_secs: u64,
}

impl TargetSet {
    /// The clocks by name, for validation messages and reports.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("answer_secs", self.answer_secs),
            ("dispatch_secs", self.dispatch_secs),
            ("acknowledge_secs", self.acknowledge_secs),
            ("arrive_secs", self.arrive_secs),
            ("resolve_secs", self.resolve_secs),
        ]
    }
}

/// A ladder of steps taken while an assignment stays unacknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    pub id: String,
    /// Why this ladder exists, for whoever edits the file next.
    #[serde(default)]
    pub description: String,
    /// In strictly increasing `after_secs` order.
    pub steps: Vec<EscalationStep>,
}

/// One rung of an escalation ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Seconds after the notification at which this step fires.
    pub after_secs: u64,
    pub action: EscalationAction,
    /// The fallback channel of an `alternative_channel` step (e.g. `sms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// What an escalation step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    /// Send the notification again on the same channel.
    Renotify,
    /// Send it again by Web Push, to every browser the unit's user subscribed (the
    /// WebSocket carries it too).
    Push,
    /// Send it through another channel (SMS, e-mail gateway).
    AlternativeChannel,
    /// Tell the supervisors the assignment is not acknowledged.
    SupervisorAlert,
    /// Offer the dispatcher the next recommended resource.
    SuggestNextResource,
    /// Ask the desk to call the unit by radio: the first rung for a unit nobody carries
    /// the app for. The engine puts it there; a procedures file may not name it.
    CallByRadio,
}

impl EscalationAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationAction::Renotify => "renotify",
            EscalationAction::Push => "push",
            EscalationAction::AlternativeChannel => "alternative_channel",
            EscalationAction::SupervisorAlert => "supervisor_alert",
            EscalationAction::SuggestNextResource => "suggest_next_resource",
            EscalationAction::CallByRadio => "call_by_radio",
        }
    }

    /// Whether the step sends something to the unit itself (which a unit with no app
    /// user cannot receive).
    pub fn pushes_to_unit(self) -> bool {
        matches!(
            self,
            EscalationAction::Renotify
                | EscalationAction::Push
                | EscalationAction::AlternativeChannel
        )
    }
}

/// Impact × urgency → priority: rows are impacts, columns urgencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityMatrix {
    /// Row labels, most severe first.
    pub impacts: Vec<String>,
    /// Column labels, most urgent first.
    pub urgencies: Vec<String>,
    /// `table[impact][urgency]`.
    pub table: Vec<Vec<Priority>>,
}

impl PriorityMatrix {
    /// The priority for these labels; `None` when either label is unknown.
    pub fn priority(&self, impact: &str, urgency: &str) -> Option<Priority> {
        let row = self.impacts.iter().position(|i| i == impact)?;
        let column = self.urgencies.iter().position(|u| u == urgency)?;
        self.table.get(row)?.get(column).copied()
    }
}

/// Two reports closer than this in space and time are flagged as a possible duplicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRule {
    pub distance_m: f64,
    pub window_secs: u64,
}

/// The kinds of resource a centre sends (one type for the model and its procedures).
pub use super::resource::ResourceType as ResourceKind;

/// Average travel speed per resource kind, in km/h, for ETAs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Speeds {
    pub person: f64,
    pub vehicle: f64,
    pub team: f64,
}

impl Speeds {
    pub fn for_kind(&self, kind: ResourceKind) -> f64 {
        match kind {
            ResourceKind::Person => self.person,
            ResourceKind::Vehicle => self.vehicle,
            ResourceKind::Team => self.team,
        }
    }
}

/// What an incident needs before it may close (a supervisor may override).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// An outcome must be recorded when resolving.
    #[serde(default = "yes")]
    pub require_outcome: bool,
    /// Every required action of every live assignment must be done.
    #[serde(default = "yes")]
    pub require_required_actions: bool,
}

fn yes() -> bool {
    true
}

impl Default for Closure {
    /// Strict by default: a centre relaxes closure rules on purpose, never by omission.
    fn default() -> Self {
        Closure {
            require_outcome: true,
            require_required_actions: true,
        }
    }
}

/// Deadlines for queries and complaints about incident handling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseTargets {
    /// Case opened → acknowledged to the person who raised it.
    pub acknowledge_hours: u64,
    /// Case opened → full response, in working days.
    pub respond_working_days: u64,
}

/// The catalogue `GET /api/catalogue` returns.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Catalogue {
    pub name: String,
    pub types: Vec<CatalogueType>,
    /// The lists case and support pages choose from, and the case deadlines.
    pub root_causes: Vec<String>,
    pub support_areas: Vec<String>,
    pub support_types: Vec<String>,
    pub case_targets: CaseTargets,
    /// The rules `incident.override` accepts, from the engine's one list (PROTOCOL.md,
    /// "Centre rules"), so no app spells its own.
    pub override_rules: Vec<OverrideRule>,
}

/// A rule a supervisor may waive on one incident, and what it protects.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct OverrideRule {
    pub rule: &'static str,
    pub protects: &'static str,
}

/// One service in the catalogue: what a client needs to run the call script.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CatalogueType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub hours: String,
    pub default_priority: Priority,
    pub questions: Vec<Question>,
    pub validity_checks: Vec<String>,
    pub required_skills: Vec<String>,
    /// The assignment template, so the console can pre-fill (and let the operator edit)
    /// what an assignment asks of the resource.
    pub responsibilities: String,
    pub actions: Vec<ActionTemplate>,
    /// How often a deployed resource checks in, so the field app can count down.
    pub checkin_interval_secs: u64,
    pub targets: Targets,
}

impl From<&IncidentType> for CatalogueType {
    fn from(t: &IncidentType) -> Self {
        CatalogueType {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            hours: t.hours.clone(),
            default_priority: t.default_priority,
            questions: t.questions.clone(),
            validity_checks: t.validity_checks.clone(),
            required_skills: t.required_skills.clone(),
            responsibilities: t.responsibilities.clone(),
            actions: t.actions.clone(),
            checkin_interval_secs: t.checkin_interval_secs,
            targets: t.targets.clone(),
        }
    }
}

/// One thing wrong with a centre's procedures, at a path into the document
/// (`types[2].escalation`) so the loader can name the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path with `[index]` for list items, as the TOML file nests them.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects problems under a path prefix, so each check states only its own key.
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Everything wrong with `centre`, in document order; empty means the engine may rely
/// on it. Checked once at start-up so a bad edit stops the hub, not a live incident.
pub fn validate(centre: &Centre) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    if centre.name.trim().is_empty() {
        p.add("name", "the centre needs a name");
    }
    check_types(centre, &mut p);
    check_policies(&centre.escalation_policies, &mut p);
    check_matrix(&centre.matrix, &mut p);
    check_centre_numbers(centre, &mut p);
    check_list("root_causes", &centre.root_causes, &mut p);
    check_list("support_areas", &centre.support_areas, &mut p);
    check_list("support_types", &centre.support_types, &mut p);
    for (field, message) in centre.review.problems() {
        p.add(format!("review.{field}"), message);
    }
    for (field, message) in centre.privacy.problems() {
        p.add(format!("privacy.{field}"), message);
    }
    p.0
}

/// Whether `id` is usable as a stable identifier in commands and URLs.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

const ID_RULE: &str = "an id is lower-case letters, digits, `_` or `-`";

fn check_types(centre: &Centre, p: &mut Problems) {
    if centre.types.is_empty() {
        p.add("types", "at least one incident type is needed");
    }
    let mut seen = BTreeSet::new();
    for (i, kind) in centre.types.iter().enumerate() {
        let at = format!("types[{i}]");
        if !valid_id(&kind.id) {
            p.add(format!("{at}.id"), format!("`{}`: {ID_RULE}", kind.id));
        } else if !seen.insert(kind.id.as_str()) {
            p.add(
                format!("{at}.id"),
                format!("duplicate incident type id `{}`", kind.id),
            );
        }
        check_type(centre, kind, &at, p);
    }
}

fn check_type(centre: &Centre, kind: &IncidentType, at: &str, p: &mut Problems) {
    if kind.name.trim().is_empty() {
        p.add(format!("{at}.name"), "an incident type needs a name");
    }
    if let Some(c) = &kind.cap_category
        && !CAP_CATEGORIES.contains(&c.as_str())
    {
        p.add(
            format!("{at}.cap_category"),
            format!(
                "`{c}` is not a CAP 1.2 category: use one of {}",
                CAP_CATEGORIES.join(", ")
            ),
        );
    }
    check_questions(&kind.questions, at, p);
    check_rules(kind, at, p);
    check_list(&format!("{at}.required_skills"), &kind.required_skills, p);
    if kind.resources_needed == 0 {
        p.add(format!("{at}.resources_needed"), "must be at least 1");
    }
    for (j, action) in kind.actions.iter().enumerate() {
        if action.text.trim().is_empty() {
            p.add(format!("{at}.actions[{j}].text"), "an action needs text");
        }
    }
    check_targets(&kind.targets, at, p);
    check_policy_ref(centre, &kind.escalation, &format!("{at}.escalation"), p);
    for (priority, id) in &kind.escalation_by_priority {
        let path = format!("{at}.escalation_by_priority.{}", priority.as_str());
        check_policy_ref(centre, id, &path, p);
    }
    if kind.checkin_interval_secs == 0 {
        p.add(
            format!("{at}.checkin_interval_secs"),
            "must be greater than 0",
        );
    }
}

fn check_policy_ref(centre: &Centre, id: &str, path: &str, p: &mut Problems) {
    if centre.escalation_policy(id).is_none() {
        p.add(path, format!("unknown escalation policy `{id}`"));
    }
}

fn check_questions(questions: &[Question], at: &str, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (j, q) in questions.iter().enumerate() {
        let qat = format!("{at}.questions[{j}]");
        if !valid_id(&q.id) {
            p.add(format!("{qat}.id"), format!("`{}`: {ID_RULE}", q.id));
        } else if !seen.insert(q.id.as_str()) {
            p.add(
                format!("{qat}.id"),
                format!("duplicate question id `{}`", q.id),
            );
        }
        if q.text.trim().is_empty() {
            p.add(format!("{qat}.text"), "a question needs text");
        }
        check_options(q, &qat, p);
    }
}

fn check_options(q: &Question, qat: &str, p: &mut Problems) {
    match (q.kind, &q.options) {
        (QuestionKind::Choice, None) => {
            p.add(format!("{qat}.options"), "a choice question needs options")
        }
        (QuestionKind::Choice, Some(options)) if options.len() < 2 => p.add(
            format!("{qat}.options"),
            "a choice question needs at least two options",
        ),
        (QuestionKind::Choice, Some(options)) => check_list(&format!("{qat}.options"), options, p),
        (kind, Some(_)) => p.add(
            format!("{qat}.options"),
            format!(
                "options apply only to choice questions, not {}",
                kind.as_str()
            ),
        ),
        (_, None) => {}
    }
}

fn check_rules(kind: &IncidentType, at: &str, p: &mut Problems) {
    let mut names = BTreeSet::new();
    for (j, rule) in kind.priority_rules.iter().enumerate() {
        let rat = format!("{at}.priority_rules[{j}]");
        if rule.name.trim().is_empty() {
            p.add(format!("{rat}.name"), "a priority rule needs a name");
        } else if !names.insert(rule.name.as_str()) {
            p.add(
                format!("{rat}.name"),
                format!("duplicate rule name `{}`", rule.name),
            );
        }
        if rule.when.is_empty() {
            p.add(
                format!("{rat}.when"),
                "a rule needs at least one condition (default_priority is the fallback)",
            );
        }
        for (k, condition) in rule.when.iter().enumerate() {
            check_condition(kind, condition, &format!("{rat}.when[{k}]"), p);
        }
    }
}

fn check_condition(kind: &IncidentType, c: &Condition, cat: &str, p: &mut Problems) {
    let Some(q) = kind.question(&c.question) else {
        p.add(
            format!("{cat}.question"),
            format!("unknown question `{}`", c.question),
        );
        return;
    };
    if c.equals.is_none() && c.at_least.is_none() {
        p.add(cat, "a condition needs `equals` or `at_least`");
    }
    if let Some(value) = c.equals.as_ref().filter(|v| !q.accepts(v)) {
        let message = format!(
            "{value} is not a possible answer to {} question `{}`",
            q.kind.as_str(),
            q.id
        );
        p.add(format!("{cat}.equals"), message);
    }
    if c.at_least.is_some() && q.kind != QuestionKind::Number {
        let message = format!(
            "`at_least` needs a number question; `{}` is {}",
            q.id,
            q.kind.as_str()
        );
        p.add(format!("{cat}.at_least"), message);
    }
}

fn check_targets(targets: &Targets, at: &str, p: &mut Problems) {
    for priority in Priority::ALL {
        for (name, secs) in targets.for_priority(priority).named() {
            if secs == 0 {
                p.add(
                    format!("{at}.targets.{}.{name}", priority.as_str()),
                    "a target must be greater than 0",
                );
            }
        }
    }
}

fn check_policies(policies: &[EscalationPolicy], p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, policy) in policies.iter().enumerate() {
        let at = format!("escalation_policies[{i}]");
        if !valid_id(&policy.id) {
            p.add(format!("{at}.id"), format!("`{}`: {ID_RULE}", policy.id));
        } else if !seen.insert(policy.id.as_str()) {
            p.add(
                format!("{at}.id"),
                format!("duplicate escalation policy id `{}`", policy.id),
            );
        }
        check_steps(&policy.steps, &at, p);
    }
}

fn check_steps(steps: &[EscalationStep], at: &str, p: &mut Problems) {
    if steps.is_empty() {
        p.add(format!("{at}.steps"), "a policy needs at least one step");
    }
    let mut previous = 0;
    for (j, step) in steps.iter().enumerate() {
        let sat = format!("{at}.steps[{j}]");
        if step.after_secs == 0 {
            p.add(format!("{sat}.after_secs"), "must be greater than 0");
        } else if step.after_secs <= previous {
            let message = format!("must be later than the step before ({previous} s)");
            p.add(format!("{sat}.after_secs"), message);
        }
        previous = previous.max(step.after_secs);
        if step.action == EscalationAction::CallByRadio {
            p.add(
                format!("{sat}.action"),
                "call_by_radio is the engine's own first step for units without the app; it is not configured",
            );
        }
        let needs_channel = step.action == EscalationAction::AlternativeChannel;
        match (&step.channel, needs_channel) {
            (None, true) => p.add(
                format!("{sat}.channel"),
                "alternative_channel needs a channel",
            ),
            (Some(c), true) if c.trim().is_empty() => {
                p.add(format!("{sat}.channel"), "the channel is empty")
            }
            (Some(_), false) => p.add(
                format!("{sat}.channel"),
                format!(
                    "a channel applies only to alternative_channel, not {}",
                    step.action.as_str()
                ),
            ),
            _ => {}
        }
    }
}

fn check_matrix(m: &PriorityMatrix, p: &mut Problems) {
    check_list("matrix.impacts", &m.impacts, p);
    check_list("matrix.urgencies", &m.urgencies, p);
    if m.impacts.is_empty() || m.urgencies.is_empty() {
        p.add(
            "matrix",
            "the matrix needs at least one impact and one urgency",
        );
    }
    if m.table.len() != m.impacts.len() {
        let message = format!("{} rows for {} impacts", m.table.len(), m.impacts.len());
        p.add("matrix.table", message);
    }
    for (i, row) in m.table.iter().enumerate() {
        if row.len() != m.urgencies.len() {
            let message = format!("{} columns for {} urgencies", row.len(), m.urgencies.len());
            p.add(format!("matrix.table[{i}]"), message);
        }
    }
}

fn check_centre_numbers(centre: &Centre, p: &mut Problems) {
    let d = &centre.duplicate;
    if !(d.distance_m.is_finite() && d.distance_m > 0.0) {
        p.add(
            "duplicate.distance_m",
            "must be a positive number of metres",
        );
    }
    if d.window_secs == 0 {
        p.add("duplicate.window_secs", "must be greater than 0");
    }
    for &kind in ResourceKind::ALL {
        let speed = centre.speeds_kmh.for_kind(kind);
        if !(speed.is_finite() && speed > 0.0) {
            p.add(
                format!("speeds_kmh.{}", kind.name()),
                "must be a positive speed",
            );
        }
    }
    let t = &centre.case_targets;
    if t.acknowledge_hours == 0 {
        p.add("case_targets.acknowledge_hours", "must be greater than 0");
    }
    if t.respond_working_days == 0 {
        p.add(
            "case_targets.respond_working_days",
            "must be greater than 0",
        );
    }
}

/// A list of labels: none blank, none repeated.
fn check_list(path: &str, items: &[String], p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        if item.trim().is_empty() {
            p.add(format!("{path}[{i}]"), "an entry is blank");
        } else if !seen.insert(item.as_str()) {
            p.add(format!("{path}[{i}]"), format!("`{item}` is listed twice"));
        }
    }
}

/// The thresholds the rules fire at: `[review]` in the centre's procedures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// `slow_dispatch`: an operator's p90 time to dispatch above this many times the
    /// team's median.
    pub slow_dispatch_factor: f64,
    /// `slow_dispatch`: only operators with at least this many dispatched incidents.
    pub slow_dispatch_min_incidents: usize,
    /// `under_triage`: a method's share of first priorities later made more urgent.
    pub under_triage_rate: f64,
    /// `under_triage`: only methods that first prioritised at least this many.
    pub under_triage_min_assessed: usize,
    /// `acknowledge_compliance`: the share of assignments acknowledged within target
    /// below which an escalation policy's monitoring needs attention.
    pub acknowledge_within_target: f64,
    /// `acknowledge_compliance`: only policies with at least this many acknowledged.
    pub acknowledge_min_assignments: usize,
    /// `upheld_complaints`: the share of complaints upheld (wholly or partly).
    pub upheld_complaint_share: f64,
    /// `upheld_complaints`: only when at least this many complaints were made.
    pub upheld_min_complaints: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            slow_dispatch_factor: 1.5,
            slow_dispatch_min_incidents: 20,
            under_triage_rate: 0.1,
            under_triage_min_assessed: 20,
            acknowledge_within_target: 0.9,
            acknowledge_min_assignments: 20,
            upheld_complaint_share: 0.5,
            upheld_min_complaints: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn targets() -> Targets {
        let set = TargetSet {
            answer_secs: 10,
            dispatch_secs: 120,
            acknowledge_secs: 30,
            arrive_secs: 600,
            resolve_secs: 3600,
        };
        Targets {
            p1: set.clone(),
            p2: set.clone(),
            p3: set.clone(),
            p4: set,
        }
    }

    fn question(id: &str, kind: QuestionKind, options: Option<&[&str]>) -> Question {
        Question {
            id: id.into(),
            text: format!("{id}?"),
            kind,
            required: true,
            options: options.map(|o| o.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn condition(question: &str, equals: Option<Value>, at_least: Option<f64>) -> Condition {
        Condition {
            question: question.into(),
            equals,
            at_least,
        }
    }

    fn medical() -> IncidentType {
        IncidentType {
            id: "medical".into(),
            name: "Medical".into(),
            description: "Someone is hurt".into(),
            hours: "24/7".into(),
            default_priority: Priority::P3,
            questions: vec![
                question("breathing", QuestionKind::YesNo, None),
                question("people", QuestionKind::Number, None),
                question(
                    "severity",
                    QuestionKind::Choice,
                    Some(&["minor", "serious"]),
                ),
            ],
            priority_rules: vec![
                PriorityRule {
                    name: "not breathing".into(),
                    when: vec![condition("breathing", Some(json!(false)), None)],
                    priority: Priority::P1,
                },
                PriorityRule {
                    name: "many hurt".into(),
                    when: vec![condition("people", None, Some(3.0))],
                    priority: Priority::P2,
                },
            ],
            validity_checks: vec!["caller is on scene".into()],
            required_skills: vec!["first_aid".into()],
            resources_needed: 1,
            responsibilities: "Give first aid".into(),
            actions: vec![ActionTemplate {
                text: "Assess casualty".into(),
                required: true,
            }],
            targets: targets(),
            escalation: "urgent".into(),
            escalation_by_priority: BTreeMap::new(),
            checkin_interval_secs: 600,
            closure: Closure::default(),
            cap_category: None,
        }
    }

    fn centre() -> Centre {
        Centre {
            name: "Test".into(),
            types: vec![medical()],
            escalation_policies: vec![EscalationPolicy {
                id: "urgent".into(),
                description: String::new(),
                steps: vec![
                    EscalationStep {
                        after_secs: 30,
                        action: EscalationAction::Renotify,
                        channel: None,
                    },
                    EscalationStep {
                        after_secs: 60,
                        action: EscalationAction::AlternativeChannel,
                        channel: Some("sms".into()),
                    },
                ],
            }],
            matrix: PriorityMatrix {
                impacts: vec!["high".into(), "low".into()],
                urgencies: vec!["now".into(), "later".into()],
                table: vec![
                    vec![Priority::P1, Priority::P2],
                    vec![Priority::P3, Priority::P4],
                ],
            },
            duplicate: DuplicateRule {
                distance_m: 250.0,
                window_secs: 900,
            },
            speeds_kmh: Speeds {
                person: 5.0,
                vehicle: 30.0,
                team: 20.0,
            },
            root_causes: vec!["slow_dispatch".into()],
            support_areas: vec!["intake".into()],
            support_types: vec!["coaching".into()],
            case_targets: CaseTargets {
                acknowledge_hours: 24,
                respond_working_days: 10,
            },
            review: Default::default(),
            privacy: Default::default(),
        }
    }

    fn paths(centre: &Centre) -> Vec<String> {
        validate(centre).into_iter().map(|p| p.path).collect()
    }

    fn answers(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_sound_centre_has_no_problems() {
        assert_eq!(validate(&centre()), vec![]);
    }

    #[test]
    fn the_first_rule_that_holds_decides_the_priority() {
        let t = medical();
        let a = answers(&[("breathing", json!(false)), ("people", json!(5))]);
        assert_eq!(
            t.protocol_priority(&a),
            (Priority::P1, Some("not breathing".into()))
        );
        let a = answers(&[("breathing", json!(true)), ("people", json!(3.0))]);
        assert_eq!(
            t.protocol_priority(&a),
            (Priority::P2, Some("many hurt".into()))
        );
    }

    #[test]
    fn without_a_matching_rule_the_default_priority_applies() {
        let t = medical();
        assert_eq!(t.protocol_priority(&BTreeMap::new()), (Priority::P3, None));
        let a = answers(&[("breathing", json!(true)), ("people", json!("many"))]);
        assert_eq!(t.protocol_priority(&a), (Priority::P3, None));
    }

    #[test]
    fn numbers_compare_by_value() {
        let c = condition("people", Some(json!(2)), None);
        assert!(c.holds(&answers(&[("people", json!(2.0))])));
        assert!(!c.holds(&answers(&[("people", json!(3))])));
    }

    #[test]
    fn required_unanswered_questions_are_named() {
        let t = medical();
        let a = answers(&[("breathing", json!(true)), ("people", Value::Null)]);
        assert_eq!(t.unanswered_required(&a), vec!["people", "severity"]);
        let a = answers(&[("breathing", json!(false)), ("severity", json!("  "))]);
        assert_eq!(t.unanswered_required(&a), vec!["people", "severity"]);
    }

    #[test]
    fn questions_accept_only_answers_of_their_kind() {
        let t = medical();
        let choice = t.question("severity").unwrap();
        assert!(choice.accepts(&json!("minor")));
        assert!(!choice.accepts(&json!("fatal")));
        assert!(t.question("breathing").unwrap().accepts(&json!(true)));
        assert!(!t.question("people").unwrap().accepts(&json!("3")));
    }

    #[test]
    fn the_matrix_looks_up_by_labels() {
        let m = centre().matrix;
        assert_eq!(m.priority("high", "later"), Some(Priority::P2));
        assert_eq!(m.priority("low", "now"), Some(Priority::P3));
        assert_eq!(m.priority("medium", "now"), None);
    }

    #[test]
    fn per_priority_policies_override_the_default() {
        let mut c = centre();
        c.escalation_policies.push(EscalationPolicy {
            id: "routine".into(),
            description: String::new(),
            steps: vec![EscalationStep {
                after_secs: 300,
                action: EscalationAction::SupervisorAlert,
                channel: None,
            }],
        });
        c.types[0]
            .escalation_by_priority
            .insert(Priority::P4, "routine".into());
        assert_eq!(
            c.escalation_for("medical", Priority::P4).unwrap().id,
            "routine"
        );
        assert_eq!(
            c.escalation_for("medical", Priority::P1).unwrap().id,
            "urgent"
        );
        assert_eq!(validate(&c), vec![]);
    }

    #[test]
    fn targets_are_chosen_by_priority() {
        let mut t = targets();
        t.p3.answer_secs = 99;
        assert_eq!(t.for_priority(Priority::P3).answer_secs, 99);
        assert_eq!(t.for_priority(Priority::P1).answer_secs, 10);
    }

    #[test]
    fn duplicate_type_ids_are_refused() {
        let mut c = centre();
        c.types.push(medical());
        assert_eq!(paths(&c), vec!["types[1].id"]);
    }

    #[test]
    fn duplicate_question_ids_are_refused() {
        let mut c = centre();
        c.types[0]
            .questions
            .push(question("people", QuestionKind::Text, None));
        assert_eq!(paths(&c), vec!["types[0].questions[3].id"]);
    }

    #[test]
    fn rules_must_name_existing_questions() {
        let mut c = centre();
        c.types[0].priority_rules[1].when[0].question = "casualties".into();
        assert_eq!(
            paths(&c),
            vec!["types[0].priority_rules[1].when[0].question"]
        );
    }

    #[test]
    fn conditions_must_fit_their_question() {
        let mut c = centre();
        c.types[0].priority_rules[0].when[0].equals = Some(json!("no"));
        c.types[0].priority_rules[1].when[0].question = "severity".into();
        c.types[0].priority_rules.push(PriorityRule {
            name: "empty".into(),
            when: vec![condition("people", None, None)],
            priority: Priority::P2,
        });
        assert_eq!(
            paths(&c),
            vec![
                "types[0].priority_rules[0].when[0].equals",
                "types[0].priority_rules[1].when[0].at_least",
                "types[0].priority_rules[2].when[0]",
            ]
        );
    }

    #[test]
    fn choice_questions_need_options() {
        let mut c = centre();
        c.types[0].questions[2].options = None;
        c.types[0].questions[0].options = Some(vec!["yes".into()]);
        assert_eq!(
            paths(&c),
            vec![
                "types[0].questions[0].options",
                "types[0].questions[2].options"
            ]
        );
    }

    #[test]
    fn escalation_policy_ids_must_exist() {
        let mut c = centre();
        c.types[0].escalation = "urgnet".into();
        c.types[0]
            .escalation_by_priority
            .insert(Priority::P2, "missing".into());
        let problems = validate(&c);
        assert_eq!(problems[0].path, "types[0].escalation");
        assert!(problems[0].message.contains("urgnet"));
        assert_eq!(problems[1].path, "types[0].escalation_by_priority.P2");
    }

    #[test]
    fn escalation_steps_must_increase_in_time() {
        let mut c = centre();
        c.escalation_policies[0].steps[1].after_secs = 30;
        assert_eq!(
            paths(&c),
            vec!["escalation_policies[0].steps[1].after_secs"]
        );
        c.escalation_policies[0].steps.clear();
        assert_eq!(paths(&c), vec!["escalation_policies[0].steps"]);
    }

    #[test]
    fn alternative_channel_steps_need_a_channel() {
        let mut c = centre();
        c.escalation_policies[0].steps[1].channel = None;
        c.escalation_policies[0].steps[0].channel = Some("sms".into());
        assert_eq!(
            paths(&c),
            vec![
                "escalation_policies[0].steps[0].channel",
                "escalation_policies[0].steps[1].channel"
            ]
        );
    }

    #[test]
    fn matrix_dimensions_must_match_its_labels() {
        let mut c = centre();
        c.matrix.table[1].pop();
        assert_eq!(paths(&c), vec!["matrix.table[1]"]);
        c.matrix.table.pop();
        assert_eq!(paths(&c), vec!["matrix.table"]);
    }

    #[test]
    fn targets_must_be_positive() {
        let mut c = centre();
        c.types[0].targets.p2.arrive_secs = 0;
        assert_eq!(paths(&c), vec!["types[0].targets.P2.arrive_secs"]);
    }

    #[test]
    fn at_least_one_type_is_needed() {
        let mut c = centre();
        c.types.clear();
        assert_eq!(paths(&c), vec!["types"]);
    }

    #[test]
    fn centre_wide_numbers_and_lists_are_checked() {
        let mut c = centre();
        c.duplicate.distance_m = 0.0;
        c.speeds_kmh.team = f64::NAN;
        c.support_types.push("coaching".into());
        c.types[0].checkin_interval_secs = 0;
        assert_eq!(
            paths(&c),
            vec![
                "types[0].checkin_interval_secs",
                "duplicate.distance_m",
                "speeds_kmh.team",
                "support_types[1]"
            ]
        );
    }

    #[test]
    fn questions_serialise_for_the_catalogue() {
        let c = centre();
        let value = serde_json::to_value(c.catalogue()).unwrap();
        let questions = &value["types"][0]["questions"];
        assert_eq!(
            questions[0],
            json!({"id": "breathing", "text": "breathing?", "kind": "yes_no", "required": true})
        );
        assert_eq!(questions[2]["options"], json!(["minor", "serious"]));
        assert_eq!(value["types"][0]["targets"]["P1"]["answer_secs"], json!(10));
    }
}
