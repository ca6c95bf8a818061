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

use crate::domain::contact::{Caller, Channel, ContactReason};
use crate::domain::geo::Location;
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
    /// The contacts in the order the simulator makes them: by `at_secs`, then as
    /// written. The simulator and the debrief both use this list.
    pub fn contacts(&self) -> Vec<ScriptedContact> {
        let mut out = self.contacts.clone();
        out.sort_by_key(|c| c.at_secs);
        out
    }
}
