//! Exercise scenarios (`config/exercises/*.toml`): a simulated shift, as data.
//!
//! A scenario lists the contacts its simulated callers make (each with what the caller
//! says, their answers to the call script and the priority its author expects, and why),
//! the simulated units (how quickly each acknowledges, travels and finishes, and which
//! decline, go silent or miss a check-in) and the injects (a unit reporting a hazard).
//! Duplicate calls, callers ringing back and complaints are contacts too: `duplicate_of`
//! and `reason` say what they are, so the debrief can score them.
//!
//! The simulator plays [`Scenario::contacts`] in order; the debrief scores against the
//! same list. Both take the same seed, so an arrival curve expands the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::demo::{Demo, DemoResource, DemoUser};
use crate::domain::contact::{Caller, Channel, ContactReason};
use crate::domain::geo::Location;
use crate::domain::place::Gazetteer;
use crate::domain::procedure::{Centre, Problem};
use crate::domain::triage::Priority;

/// One scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used on the command line (`muster exercise --scenario busy-evening`).
    pub name: String,
    /// What the exercise page shows.
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Simulated length of the shift, in minutes (at least 30 for a shipped scenario).
    pub duration_mins: u32,
    /// Seed for everything random in the scenario (arrival curves, jitter).
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub contacts: Vec<ScriptedContact>,
    #[serde(default)]
    pub units: Vec<SimUnit>,
    #[serde(default)]
    pub injects: Vec<Inject>,
    /// Arrival curves: contacts generated from templates with the seed, besides the
    /// scripted ones (see [`Scenario::contacts`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<Arrivals>,
}

/// A stream of contacts generated from templates: between `from_secs` and `until_secs`
/// one arrives every `mean_gap_secs` on average (each gap drawn uniformly between half
/// and one and a half times the mean), each from a template drawn with the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Generated ids are this prefix and a number from 1 (`gen` → `gen001`).
    pub id_prefix: String,
    #[serde(default)]
    pub from_secs: u64,
    pub until_secs: u64,
    pub mean_gap_secs: u64,
    pub templates: Vec<ContactTemplate>,
}

/// A generated contact: a [`ScriptedContact`] without id, time or `duplicate_of`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactTemplate {
    pub channel: Channel,
    #[serde(default)]
    pub caller: Caller,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub says: String,
    #[serde(default)]
    pub reason: ContactReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type: Option<String>,
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_priority: Option<Priority>,
    #[serde(default)]
    pub why: String,
}

impl ContactTemplate {
    fn instantiate(&self, id: String, at_secs: u64) -> ScriptedContact {
        ScriptedContact {
            id,
            at_secs,
            channel: self.channel,
            caller: self.caller.clone(),
            place: self.place.clone(),
            location: self.location.clone(),
            says: self.says.clone(),
            reason: self.reason,
            incident_type: self.incident_type.clone(),
            answers: self.answers.clone(),
            expected_priority: self.expected_priority,
            why: self.why.clone(),
            duplicate_of: None,
        }
    }
}

/// A contact a simulated caller makes, with what the scenario's author expects of the
/// trainee who handles it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedContact {
    /// Unique in the scenario (`c01`); `duplicate_of` and injects refer to it.
    pub id: String,
    /// Seconds of simulated time after the exercise starts.
    pub at_secs: u64,
    pub channel: Channel,
    #[serde(default)]
    pub caller: Caller,
    /// A gazetteer place id (`config/places.csv`), or `location` with coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What the caller says: the contact's summary.
    pub says: String,
    #[serde(default)]
    pub reason: ContactReason,
    /// The incident type the author expects (a type id of `config/centre.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type: Option<String>,
    /// The caller's answer to each call-script question, by question id.
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
    /// The priority the author expects, and why (shown in the debrief).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_priority: Option<Priority>,
    #[serde(default)]
    pub why: String,
    /// The scenario contact whose incident this one is about (a duplicate call, a
    /// caller ringing back, a complaint): the trainee should link it, not open another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

/// A simulated field unit: an existing resource of the centre (by name or id), played
/// by the simulator through the field API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimUnit {
    /// The resource's id (`res_3`) or name.
    pub resource: String,
    /// Where the unit starts; its home position when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Location>,
    /// Seconds from being assigned to acknowledging.
    #[serde(default = "default_ack_secs")]
    pub ack_secs: u64,
    /// Straight-line travel speed.
    #[serde(default = "default_speed_kmh")]
    pub speed_kmh: f64,
    /// Seconds on scene before it reports the work complete.
    #[serde(default = "default_on_scene_secs")]
    pub on_scene_secs: u64,
    /// Declines every assignment.
    #[serde(default)]
    pub declines: bool,
    /// Never acknowledges (the ladder must escalate).
    #[serde(default)]
    pub silent: bool,
    /// Misses its welfare check-ins.
    #[serde(default)]
    pub misses_checkin: bool,
}

fn default_ack_secs() -> u64 {
    45
}

fn default_speed_kmh() -> f64 {
    40.0
}

fn default_on_scene_secs() -> u64 {
    900
}

/// Something the simulator does besides calling: a unit on scene reports a hazard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub at_secs: u64,
    pub kind: InjectKind,
    /// The scenario contact whose incident it concerns.
    pub about: String,
    /// The unit that reports it, when a unit does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InjectKind {
    /// A unit on scene reports a hazard (a note on the incident, from the field).
    Hazard,
}

impl Scenario {
    /// The contacts in the order the simulator makes them: the scripted ones and those
    /// the arrival curves generate with `self.seed`, by `at_secs`, then scripted before
    /// generated, each as written. The simulator and the debrief both use this list;
    /// `muster exercise --seed N` sets the seed first ([`Scenario::with_seed`]), so
    /// both expand the curves the same way.
    pub fn contacts(&self) -> Vec<ScriptedContact> {
        let mut out = self.contacts.clone();
        let mut rng = SplitMix64(self.seed);
        for curve in &self.arrivals {
            out.extend(curve.expand(&mut rng));
        }
        out.sort_by_key(|c| c.at_secs);
        out
    }

    /// The scenario played with `seed` (the one [`Scenario::contacts`] expands with).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Simulated length in seconds.
    pub fn duration_secs(&self) -> u64 {
        u64::from(self.duration_mins) * 60
    }
}

impl Arrivals {
    /// The contacts this curve generates, drawing from `rng`.
    fn expand(&self, rng: &mut SplitMix64) -> Vec<ScriptedContact> {
        let mut out = Vec::new();
        if self.templates.is_empty() || self.mean_gap_secs == 0 {
            return out;
        }
        let mut at = self.from_secs;
        loop {
            let half = self.mean_gap_secs / 2;
            at += half + rng.below(self.mean_gap_secs + 1);
            if at > self.until_secs {
                return out;
            }
            let template = &self.templates[rng.below(self.templates.len() as u64) as usize];
            let id = format!("{}{:03}", self.id_prefix, out.len() + 1);
            out.push(template.instantiate(id, at));
        }
    }
}

/// A small, fixed pseudo-random generator (SplitMix64): the same seed gives the same
/// scenario on every platform and version, which a library generator does not promise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What a scenario is checked against: the centre's procedures, its gazetteer and the
/// demo centre's resources and users (the simulated units are demo resources played
/// through their field log-ins).
pub struct ScenarioContext<'a> {
    pub centre: &'a Centre,
    pub places: &'a Gazetteer,
    pub demo: &'a Demo,
}

impl ScenarioContext<'_> {
    /// The demo resource a unit names, by key or name.
    pub fn resource(&self, name: &str) -> Option<&DemoResource> {
        self.demo
            .resources
            .iter()
            .find(|r| r.key == name || r.name == name)
    }

    /// The field log-in that carries the resource with this key.
    pub fn field_user(&self, key: &str) -> Option<&DemoUser> {
        self.demo
            .users
            .iter()
            .find(|u| u.resource.as_deref() == Some(key))
    }
}

/// The parts of a contact the checks look at (scripted or a template).
struct ContactParts<'a> {
    place: Option<&'a String>,
    location: Option<&'a Location>,
    says: &'a str,
    incident_type: Option<&'a String>,
    answers: &'a BTreeMap<String, Value>,
}

impl<'a> From<&'a ScriptedContact> for ContactParts<'a> {
    fn from(c: &'a ScriptedContact) -> Self {
        ContactParts {
            place: c.place.as_ref(),
            location: c.location.as_ref(),
            says: &c.says,
            incident_type: c.incident_type.as_ref(),
            answers: &c.answers,
        }
    }
}

impl<'a> From<&'a ContactTemplate> for ContactParts<'a> {
    fn from(c: &'a ContactTemplate) -> Self {
        ContactParts {
            place: c.place.as_ref(),
            location: c.location.as_ref(),
            says: &c.says,
            incident_type: c.incident_type.as_ref(),
            answers: &c.answers,
        }
    }
}

fn problem(out: &mut Vec<Problem>, path: impl Into<String>, message: impl Into<String>) {
    out.push(Problem {
        path: path.into(),
        message: message.into(),
    });
}

fn check_contact(
    ctx: &ScenarioContext<'_>,
    path: &str,
    c: ContactParts<'_>,
    out: &mut Vec<Problem>,
) {
    if c.says.trim().is_empty() {
        problem(
            out,
            format!("{path}.says"),
            "what the caller says may not be empty",
        );
    }
    if let Some(place) = c.place {
        if ctx.places.get(place).is_none() {
            problem(
                out,
                format!("{path}.place"),
                format!("unknown place id {place}"),
            );
        }
        if c.location.is_some() {
            problem(
                out,
                format!("{path}.location"),
                "give a place or a location, not both",
            );
        }
    }
    if let Some(loc) = c.location
        && (loc.lat.is_some() != loc.lon.is_some())
    {
        problem(
            out,
            format!("{path}.location"),
            "give both lat and lon, or neither",
        );
    }
    let kind = match c.incident_type {
        Some(id) => match ctx.centre.incident_type(id) {
            Some(kind) => Some(kind),
            None => {
                problem(
                    out,
                    format!("{path}.incident_type"),
                    format!("unknown incident type {id}"),
                );
                return;
            }
        },
        None => None,
    };
    for (question, value) in c.answers {
        let field = format!("{path}.answers.{question}");
        match kind {
            None => problem(out, field, "answers need the contact's incident_type"),
            Some(kind) => {
                if let Err(message) = kind.check_answer(question, value) {
                    problem(out, field, message);
                }
            }
        }
    }
}

/// Everything wrong with `scenario` against the centre, in document order; empty means
/// the simulator and the debrief may rely on it.
pub fn validate(scenario: &Scenario, ctx: &ScenarioContext<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    if scenario.name.trim().is_empty() {
        problem(&mut out, "name", "may not be empty");
    }
    if scenario.title.trim().is_empty() {
        problem(&mut out, "title", "may not be empty");
    }
    if scenario.duration_mins == 0 {
        problem(&mut out, "duration_mins", "must be at least 1");
    }
    let end = scenario.duration_secs();
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, c) in scenario.contacts.iter().enumerate() {
        let path = format!("contacts[{i}]");
        if c.id.trim().is_empty() {
            problem(&mut out, format!("{path}.id"), "may not be empty");
        } else if seen.insert(&c.id, c.at_secs).is_some() {
            problem(
                &mut out,
                format!("{path}.id"),
                format!("duplicate contact id {}", c.id),
            );
        }
        if c.at_secs > end {
            problem(
                &mut out,
                format!("{path}.at_secs"),
                format!(
                    "{} s is beyond the scenario's duration ({end} s)",
                    c.at_secs
                ),
            );
        }
        check_contact(ctx, &path, c.into(), &mut out);
    }
    let by_id: BTreeMap<&str, &ScriptedContact> = scenario
        .contacts
        .iter()
        .map(|c| (c.id.as_str(), c))
        .collect();
    for (i, c) in scenario.contacts.iter().enumerate() {
        let Some(of) = &c.duplicate_of else { continue };
        let path = format!("contacts[{i}].duplicate_of");
        match by_id.get(of.as_str()) {
            None => problem(&mut out, path, format!("unknown contact {of}")),
            Some(_) if *of == c.id => problem(&mut out, path, "a contact cannot duplicate itself"),
            Some(first) if first.at_secs > c.at_secs => problem(
                &mut out,
                path,
                format!(
                    "{of} comes later ({} s); name an earlier contact",
                    first.at_secs
                ),
            ),
            Some(_) => {}
        }
    }
    for (i, curve) in scenario.arrivals.iter().enumerate() {
        let path = format!("arrivals[{i}]");
        if curve.id_prefix.trim().is_empty() {
            problem(&mut out, format!("{path}.id_prefix"), "may not be empty");
        } else if scenario
            .contacts
            .iter()
            .any(|c| c.id.starts_with(&curve.id_prefix))
            || scenario.arrivals[..i].iter().any(|o| {
                o.id_prefix.starts_with(&curve.id_prefix)
                    || curve.id_prefix.starts_with(&o.id_prefix)
            })
        {
            problem(
                &mut out,
                format!("{path}.id_prefix"),
                format!(
                    "duplicate ids: another contact's id starts with {}",
                    curve.id_prefix
                ),
            );
        }
        if curve.mean_gap_secs == 0 {
            problem(
                &mut out,
                format!("{path}.mean_gap_secs"),
                "must be at least 1",
            );
        }
        if curve.until_secs <= curve.from_secs {
            problem(
                &mut out,
                format!("{path}.until_secs"),
                "must be after from_secs",
            );
        }
        if curve.until_secs > end {
            problem(
                &mut out,
                format!("{path}.until_secs"),
                format!(
                    "{} s is beyond the scenario's duration ({end} s)",
                    curve.until_secs
                ),
            );
        }
        if curve.templates.is_empty() {
            problem(
                &mut out,
                format!("{path}.templates"),
                "needs at least one template",
            );
        }
        for (j, t) in curve.templates.iter().enumerate() {
            check_contact(ctx, &format!("{path}.templates[{j}]"), t.into(), &mut out);
        }
    }
    let mut units = BTreeMap::new();
    for (i, u) in scenario.units.iter().enumerate() {
        let path = format!("units[{i}]");
        match ctx.resource(&u.resource) {
            None => problem(
                &mut out,
                format!("{path}.resource"),
                format!("unknown resource {}", u.resource),
            ),
            Some(r) => {
                if units.insert(r.key.as_str(), i).is_some() {
                    problem(
                        &mut out,
                        format!("{path}.resource"),
                        format!("duplicate unit {}", u.resource),
                    );
                }
                if ctx.field_user(&r.key).is_none() {
                    problem(
                        &mut out,
                        format!("{path}.resource"),
                        format!("{} has no field log-in to play it with", u.resource),
                    );
                }
            }
        }
        if !(u.speed_kmh.is_finite() && u.speed_kmh > 0.0) {
            problem(
                &mut out,
                format!("{path}.speed_kmh"),
                "must be a positive number",
            );
        }
        if u.declines && u.silent {
            problem(
                &mut out,
                format!("{path}.silent"),
                "a unit declines or stays silent, not both",
            );
        }
    }
    for (i, inject) in scenario.injects.iter().enumerate() {
        let path = format!("injects[{i}]");
        if inject.at_secs > end {
            problem(
                &mut out,
                format!("{path}.at_secs"),
                format!(
                    "{} s is beyond the scenario's duration ({end} s)",
                    inject.at_secs
                ),
            );
        }
        match by_id.get(inject.about.as_str()) {
            None => problem(
                &mut out,
                format!("{path}.about"),
                format!("unknown contact {}", inject.about),
            ),
            Some(c) if c.at_secs > inject.at_secs => problem(
                &mut out,
                format!("{path}.about"),
                format!(
                    "{} comes later ({} s); name an earlier contact",
                    inject.about, c.at_secs
                ),
            ),
            Some(_) => {}
        }
        if let Some(unit) = &inject.unit {
            let known = ctx.resource(unit).is_some_and(|r| {
                scenario
                    .units
                    .iter()
                    .any(|u| u.resource == r.key || u.resource == r.name)
            });
            if !known {
                problem(
                    &mut out,
                    format!("{path}.unit"),
                    format!("unknown unit {unit}: name one of the scenario's units"),
                );
            }
        }
        if inject.text.trim().is_empty() {
            problem(&mut out, format!("{path}.text"), "may not be empty");
        }
    }
    out
}
