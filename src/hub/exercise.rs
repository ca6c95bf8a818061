//! Exercise mode: the hub plays a scenario ([`muster_core::config::exercise`]) on a log
//! of its own, never the live one. A live hub has no [`Exercise`] and refuses exercise
//! controls.
//!
//! The [`Simulator`] plays the scenario's callers and units on the hub's clock: each
//! [`Simulator::step`] does what is due at `now` (contacts, a unit's acknowledgement,
//! decline, position reports, arrival, completion, check-ins, injects), submitting
//! ordinary commands. Callers act as one fixed account, [`SIMULATOR_ACTOR`] (an intake
//! gateway's role): the n-th `contact.received` by that actor is the n-th of
//! [`Scenario::contacts`]. Units act as the field user who carries their resource.
//! Everything is derived from the state and the clock, and every command carries a
//! stable id, so a scenario run twice under the same manual clock writes the same
//! events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use muster_core::config::Demo;
use muster_core::config::exercise::{Scenario, ScriptedContact, SimUnit};
use muster_core::domain::assignment::{Assignment, AssignmentStatus};
use muster_core::domain::contact::Contact;
use muster_core::domain::geo::{Location, haversine_m};
use muster_core::domain::ids::{AssignmentId, IncidentId, ResourceId, UserId};
use muster_core::domain::place::Gazetteer;
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, State};

use super::Hub;
pub use crate::config::ExerciseOutbound;

/// The account every simulated caller's contact is received from.
pub const SIMULATOR_ACTOR: &str = "simulator";

/// How often (simulated seconds) a travelling unit reports where it is.
pub const LOCATE_EVERY_SECS: i64 = 20;

/// The exercise a hub is running (`HubOptions::exercise`).
#[derive(Debug)]
pub struct Exercise {
    pub scenario: Scenario,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// The seed the simulator and the debrief expand the scenario with.
    pub seed: u64,
    /// When the exercise started, on the hub's clock.
    pub started_at: DateTime<Utc>,
    /// What happens to push, webhooks and e-mail (`exercise.outbound`).
    pub outbound: ExerciseOutbound,
    ended: AtomicBool,
}

impl Exercise {
    /// The scenario is played with `seed` (its arrival curves expand with it).
    pub fn new(scenario: Scenario, speed: f64, seed: u64, started_at: DateTime<Utc>) -> Self {
        Exercise {
            scenario: scenario.with_seed(seed),
            speed,
            seed,
            started_at,
            outbound: ExerciseOutbound::Suppress,
            ended: AtomicBool::new(false),
        }
    }

    /// The same exercise with `outbound` (suppressed by default).
    pub fn with_outbound(mut self, outbound: ExerciseOutbound) -> Self {
        self.outbound = outbound;
        self
    }

    /// `running` or `ended` (`GET /api/exercise`).
    pub fn status(&self) -> &'static str {
        if self.ended() { "ended" } else { "running" }
    }

    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    pub fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }
}

/// What the hub does with what it sends out: `None` on a live hub (send as usual).
pub fn outbound(hub: &Hub) -> Option<ExerciseOutbound> {
    hub.options.exercise.as_ref().map(|e| e.outbound)
}

/// Why an exercise's delivery was not sent (recorded as the attempt's error).
pub const SUPPRESSED: &str =
    "suppressed: this hub runs an exercise (exercise.outbound = \"suppress\")";

/// What starts the subject of an exercise's e-mail and the title of its push.
pub const MARK: &str = "EXERCISE: ";

/// A webhook's JSON body marked as an exercise's: `"exercise": true` added.
pub fn mark_webhook(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert("exercise".into(), serde_json::Value::Bool(true));
            serde_json::Value::Object(fields).to_string()
        }
        _ => body.to_string(),
    }
}

/// The actor simulated callers' contacts come from.
pub fn simulator_actor() -> Actor {
    Actor {
        user_id: UserId(SIMULATOR_ACTOR.into()),
        role: Role::Intake,
        resource_id: None,
    }
}

/// The contacts the simulated callers made, in the order they were received: the
/// n-th is the n-th of [`Scenario::contacts`]. (Ids are `con_<seq>`, which a map
/// sorts as text, so they are ordered by when they arrived, then by number.)
pub fn simulated_contacts(state: &State) -> Vec<&Contact> {
    let mut out: Vec<&Contact> = state
        .contacts
        .values()
        .filter(|c| c.received_by.0 == SIMULATOR_ACTOR)
        .collect();
    out.sort_by(|a, b| {
        (a.received_at, a.id.0.len(), &a.id.0).cmp(&(b.received_at, b.id.0.len(), &b.id.0))
    });
    out
}

/// A unit's journey: where it set off from and when.
#[derive(Clone, Debug)]
struct Journey {
    from: (f64, f64),
    to: Option<(f64, f64)>,
    set_off: DateTime<Utc>,
    last_report: DateTime<Utc>,
}

/// Plays a scenario's callers and units on a hub.
pub struct Simulator {
    hub: Hub,
    exercise: Arc<Exercise>,
    contacts: Vec<ScriptedContact>,
    next_contact: usize,
    places: Gazetteer,
    /// Field username of each demo resource, by the resource's key and name.
    usernames: BTreeMap<String, String>,
    journeys: BTreeMap<AssignmentId, Journey>,
    injects_done: Vec<bool>,
}

impl Simulator {
    pub fn new(hub: Hub, exercise: Arc<Exercise>, demo: &Demo, places: Gazetteer) -> Self {
        let mut usernames = BTreeMap::new();
        for r in &demo.resources {
            if let Some(u) = demo
                .users
                .iter()
                .find(|u| u.resource.as_deref() == Some(r.key.as_str()))
            {
                usernames.insert(r.key.clone(), u.username.clone());
                usernames.insert(r.name.clone(), u.username.clone());
            }
        }
        let contacts = exercise.scenario.contacts();
        let injects_done = vec![false; exercise.scenario.injects.len()];
        Simulator {
            hub,
            exercise,
            contacts,
            next_contact: 0,
            places,
            usernames,
            journeys: BTreeMap::new(),
            injects_done,
        }
    }

    /// Simulated seconds since the exercise started.
    fn elapsed(&self, now: DateTime<Utc>) -> i64 {
        (now - self.exercise.started_at).num_seconds()
    }

    /// Does everything due at the hub clock's now; returns how many commands it
    /// submitted. Refusals (a trainee cancelled the assignment meanwhile) are skipped.
    pub async fn step(&mut self) -> usize {
        if self.exercise.ended() {
            return 0;
        }
        let now = self.hub.clock.now();
        let elapsed = self.elapsed(now);
        let mut done = 0;
        while let Some(c) = self.contacts.get(self.next_contact)
            && c.at_secs as i64 <= elapsed
        {
            let command = self.contact_command(c);
            let id = format!("exercise:contact:{}", c.id);
            self.next_contact += 1;
            done += self.submit(simulator_actor(), id, command).await;
        }
        for (actor, id, command) in self.unit_commands(now) {
            done += self.submit(actor, id, command).await;
        }
        for (i, actor, id, command) in self.inject_commands(elapsed) {
            if self.submit(actor, id, command).await > 0 {
                self.injects_done[i] = true;
                done += 1;
            }
        }
        if elapsed > self.exercise.scenario.duration_secs() as i64 {
            self.exercise.end();
        }
        done
    }

    async fn submit(&self, actor: Actor, id: String, command: Command) -> usize {
        match self.hub.submit(actor, Some(id), command.clone()).await {
            Ok(_) => 1,
            Err(e) => {
                tracing::debug!(kind = command.kind().as_str(), error = %e, "simulator command refused");
                0
            }
        }
    }

    fn contact_command(&self, c: &ScriptedContact) -> Command {
        let location = match (&c.place, &c.location) {
            (Some(id), _) => self.places.get(id).map(|p| Location {
                text: Some(p.name.clone()),
                lat: Some(p.lat),
                lon: Some(p.lon),
                place_id: Some(p.id.clone()),
            }),
            (None, loc) => loc.clone(),
        };
        Command::ContactReceive(cmd::ContactReceive {
            channel: c.channel,
            caller: c.caller.clone(),
            location,
            summary: c.says.clone(),
            reason: c.reason,
        })
    }

    /// The scenario's unit for a resource of the state, with the actor that plays it.
    fn unit_for(&self, state: &State, resource_id: &ResourceId) -> Option<(SimUnit, Actor)> {
        let resource = state.resources.get(resource_id)?;
        let unit = self.exercise.scenario.units.iter().find(|u| {
            u.resource == resource.name
                || self.usernames.get(&u.resource) == self.usernames.get(&resource.name)
                    && self.usernames.contains_key(&u.resource)
        })?;
        let username = self.usernames.get(&resource.name)?;
        let user_id = state.usernames.get(&username.to_lowercase())?;
        let user = state.users.get(user_id)?;
        Some((unit.clone(), Actor::of(user)))
    }

    fn unit_commands(&mut self, now: DateTime<Utc>) -> Vec<(Actor, String, Command)> {
        let hub = self.hub.clone();
        let centre = &hub.engine.centre;
        hub.with_state(|state| {
            let mut out = Vec::new();
            let active: Vec<&Assignment> = state
                .active_by_resource
                .values()
                .flatten()
                .filter_map(|id| state.assignments.get(id))
                .collect();
            for a in active {
                let Some((unit, actor)) = self.unit_for(state, &a.resource_id) else {
                    continue;
                };
                let key = |what: &str| format!("exercise:{}:{what}", a.id);
                let secs = |from: DateTime<Utc>| (now - from).num_seconds();
                match a.status {
                    AssignmentStatus::Notified if unit.silent => {}
                    AssignmentStatus::Notified if secs(a.notified_at) >= unit.ack_secs as i64 => {
                        if unit.declines {
                            out.push((
                                actor,
                                key("decline"),
                                Command::AssignmentDecline(cmd::AssignmentDecline {
                                    assignment_id: a.id.clone(),
                                    reason: "Committed elsewhere (simulated unit)".into(),
                                }),
                            ));
                        } else {
                            out.push((
                                actor.clone(),
                                key("ack"),
                                Command::AssignmentAcknowledge(cmd::AssignmentAcknowledge {
                                    assignment_id: a.id.clone(),
                                    via: None,
                                }),
                            ));
                            out.push((
                                actor,
                                key("en_route"),
                                progress(a, AssignmentStatus::EnRoute),
                            ));
                        }
                    }
                    AssignmentStatus::Notified => {}
                    AssignmentStatus::Acknowledged => out.push((
                        actor,
                        key("en_route"),
                        progress(a, AssignmentStatus::EnRoute),
                    )),
                    AssignmentStatus::EnRoute => {
                        let from = unit
                            .start
                            .as_ref()
                            .and_then(|l| Some((l.lat?, l.lon?)))
                            .or_else(|| {
                                let p = state.resources.get(&a.resource_id)?.location.as_ref()?;
                                Some((p.lat, p.lon))
                            });
                        let to = state
                            .incidents
                            .get(&a.incident_id)
                            .and_then(|i| Some((i.location.lat?, i.location.lon?)));
                        let set_off = a.en_route_at.unwrap_or(now);
                        let journey = self.journeys.entry(a.id.clone()).or_insert(Journey {
                            from: from.or(to).unwrap_or((0.0, 0.0)),
                            to,
                            set_off,
                            last_report: set_off,
                        });
                        let (pos, arrived) = journey.position(now, unit.speed_kmh);
                        if arrived {
                            if let Some((lat, lon)) = pos {
                                out.push((actor.clone(), key("arrived_at"), locate(a, lat, lon)));
                            }
                            out.push((
                                actor,
                                key("on_scene"),
                                progress(a, AssignmentStatus::OnScene),
                            ));
                        } else if (now - journey.last_report).num_seconds() >= LOCATE_EVERY_SECS {
                            journey.last_report = now;
                            if let Some((lat, lon)) = pos {
                                let id = format!(
                                    "exercise:{}:at:{}",
                                    a.id,
                                    muster_core::time::rfc3339(now)
                                );
                                out.push((actor, id, locate(a, lat, lon)));
                            }
                        }
                    }
                    AssignmentStatus::OnScene => {
                        let on_scene = a.on_scene_at.unwrap_or(now);
                        if secs(on_scene) >= unit.on_scene_secs as i64 {
                            for action in a.actions.iter().filter(|x| x.done_at.is_none()) {
                                out.push((
                                    actor.clone(),
                                    key(&format!("done:{}", action.id)),
                                    Command::AssignmentActionDone(cmd::AssignmentActionDone {
                                        assignment_id: a.id.clone(),
                                        action_id: action.id.clone(),
                                        note: None,
                                    }),
                                ));
                            }
                            out.push((
                                actor,
                                key("completed"),
                                progress(a, AssignmentStatus::Completed),
                            ));
                            self.journeys.remove(&a.id);
                            continue;
                        }
                    }
                    _ => {}
                }
                // Check-ins while en route or on scene, unless this unit misses them.
                if !unit.misses_checkin
                    && matches!(
                        a.status,
                        AssignmentStatus::EnRoute | AssignmentStatus::OnScene
                    )
                    && let Some(due) = muster_core::engine::timers::next_checkin(state, centre, a)
                    && now >= due - chrono::Duration::seconds(30)
                {
                    if let Some((_, actor)) = self.unit_for(state, &a.resource_id) {
                        out.push((
                            actor,
                            format!(
                                "exercise:{}:checkin:{}",
                                a.id,
                                muster_core::time::rfc3339(due)
                            ),
                            Command::Checkin(cmd::Checkin {
                                assignment_id: a.id.clone(),
                                ok: true,
                                note: None,
                                via: None,
                            }),
                        ));
                    }
                }
            }
            out
        })
    }

    /// Injects due and not yet made: each as the named unit (or else any simulated
    /// unit) assigned to the incident the contact it is about was linked to (the field
    /// may only note incidents it is on); one waits until such a unit has been.
    fn inject_commands(&self, elapsed: i64) -> Vec<(usize, Actor, String, Command)> {
        self.hub.with_state(|state| {
            let mut out = Vec::new();
            for (i, inject) in self.exercise.scenario.injects.iter().enumerate() {
                if self.injects_done[i] || inject.at_secs as i64 > elapsed {
                    continue;
                }
                let Some(incident_id) = self.incident_of(state, &inject.about) else {
                    continue;
                };
                let Some(incident) = state.incidents.get(&incident_id) else {
                    continue;
                };
                let actor = incident
                    .assignment_ids
                    .iter()
                    .filter_map(|id| state.assignments.get(id))
                    .filter_map(|a| {
                        let (unit, actor) = self.unit_for(state, &a.resource_id)?;
                        let named = inject.unit.as_ref().is_none_or(|u| {
                            *u == unit.resource
                                || self.usernames.get(u) == self.usernames.get(&unit.resource)
                        });
                        Some((named, actor))
                    })
                    .max_by_key(|(named, _)| *named)
                    .map(|(_, actor)| actor);
                if let Some(actor) = actor {
                    out.push((
                        i,
                        actor,
                        format!("exercise:inject:{i}"),
                        Command::IncidentNote(cmd::IncidentNote {
                            incident_id,
                            text: format!("HAZARD: {}", inject.text),
                        }),
                    ));
                }
            }
            out
        })
    }

    /// The incident the scenario contact `id` was linked to, if it has been made and
    /// linked: the n-th contact the simulator received.
    fn incident_of(&self, state: &State, id: &str) -> Option<IncidentId> {
        let n = self.contacts[..self.next_contact]
            .iter()
            .position(|c| c.id == id)?;
        simulated_contacts(state)
            .get(n)
            .and_then(|c| c.incident_id.clone())
    }

    /// Steps every `every` of real time until the exercise ends or the hub goes away.
    pub fn spawn(mut self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !self.exercise.ended() {
                tick.tick().await;
                self.step().await;
            }
        })
    }
}

impl Journey {
    /// Where the unit is at `now` moving at `speed_kmh` in a straight line, and whether
    /// it has arrived. A unit with nowhere known to go arrives after five minutes.
    fn position(&self, now: DateTime<Utc>, speed_kmh: f64) -> (Option<(f64, f64)>, bool) {
        let secs = (now - self.set_off).num_milliseconds().max(0) as f64 / 1000.0;
        let Some(to) = self.to else {
            return (None, secs >= 300.0);
        };
        let distance = haversine_m(self.from, to);
        let travelled = speed_kmh * 1000.0 / 3600.0 * secs;
        if distance <= 1.0 || travelled >= distance {
            return (Some(to), true);
        }
        let f = travelled / distance;
        let lat = self.from.0 + (to.0 - self.from.0) * f;
        let lon = self.from.1 + (to.1 - self.from.1) * f;
        (Some((round6(lat), round6(lon))), false)
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn progress(a: &Assignment, status: AssignmentStatus) -> Command {
    Command::AssignmentProgress(cmd::AssignmentProgress {
        assignment_id: a.id.clone(),
        status,
        via: None,
        skipped: BTreeMap::new(),
    })
}

fn locate(a: &Assignment, lat: f64, lon: f64) -> Command {
    Command::ResourceLocate(cmd::ResourceLocate {
        resource_id: a.resource_id.clone(),
        lat,
        lon,
    })
}
