//! Exercise mode: the hub plays a scenario ([`muster_core::config::exercise`]) on a log
//! of its own, never the live one. A live hub has no [`Exercise`] and refuses exercise
//! controls.
//!
//! The [`Simulator`] plays the scenario's callers and units on the hub's clock: each
//! [`Simulator::step`] does what is due at `now` (contacts, a unit's acknowledgement,
//! decline, position reports, arrival, completion, check-ins, injects), sending
//! ordinary commands through the real API as clients do ([`muster_load::client`]):
//! each actor logs in (`POST /api/login`) and sends its commands over its own
//! WebSocket, awaiting each result before the next. Callers act as one real account of
//! the exercise's log, [`SIMULATOR_USERNAME`] (role `intake`, made by the system when
//! the exercise starts, its random password kept only in memory: [`simulator_account`]);
//! the n-th `contact.received` by that account is the n-th of [`Scenario::contacts`].
//! Units act as the field user who carries their resource, logged in with the demo's
//! password. What is due is read from the hub's state and clock, and every command
//! carries a stable id, so a scenario run twice under the same manual clock writes the
//! same events.

use std::collections::BTreeMap;
use std::net::SocketAddr;
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
use muster_core::engine::{Actor, Command, Error, State};
use muster_load::client::Client;

use super::Hub;
pub use crate::config::ExerciseOutbound;

/// The username of the account every simulated caller's contact is received from.
pub const SIMULATOR_USERNAME: &str = "simulator";

/// The id of the system's command that makes the simulator's account.
pub const ACCOUNT_COMMAND_ID: &str = "exercise-simulator-account";

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

/// The simulator's account in `state`, once the exercise has made it.
pub fn simulator_id(state: &State) -> Option<UserId> {
    state.usernames.get(SIMULATOR_USERNAME).cloned()
}

/// Makes the simulator's account in the exercise's log (role `intake`: it may only
/// receive contacts), or gives it a new password if the log has it already; answers the
/// password, random and kept only in memory. The system makes it, as it seeds the demo.
pub async fn simulator_account(hub: &Hub) -> Result<String, Error> {
    let password = hex::encode(rand::random::<[u8; 24]>());
    let plain = password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&plain))
        .await
        .map_err(|e| Error::Unavailable(format!("hashing the simulator's password: {e}")))?;
    let (id, command) = match hub.with_state(simulator_id) {
        None => (
            Some(ACCOUNT_COMMAND_ID.to_string()),
            Command::UserCreate(cmd::UserCreate {
                username: SIMULATOR_USERNAME.into(),
                role: Role::Intake,
                password: String::new(),
                name: Some("Exercise simulator (callers)".into()),
                resource_id: None,
                password_hash: Some(hash),
                identity: None,
            }),
        ),
        Some(user_id) => (
            None,
            Command::UserPassword(cmd::UserPassword {
                user_id,
                password: String::new(),
                password_hash: Some(hash),
            }),
        ),
    };
    hub.submit(Actor::system(), id, command).await?;
    Ok(password)
}

/// The contacts the simulated callers made, in the order they were received: the
/// n-th is the n-th of [`Scenario::contacts`]. (Ids are `con_<seq>`, which a map
/// sorts as text, so they are ordered by when they arrived, then by number.)
pub fn simulated_contacts(state: &State) -> Vec<&Contact> {
    let Some(simulator) = simulator_id(state) else {
        return Vec::new();
    };
    let mut out: Vec<&Contact> = state
        .contacts
        .values()
        .filter(|c| c.received_by == simulator)
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

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("making the simulator's account: {0}")]
    Account(#[from] Error),
    #[error("{username} cannot act through the API: {error}")]
    Client {
        username: String,
        error: muster_load::LoadError,
    },
}

/// Plays a scenario's callers and units on a hub, as its API's clients.
pub struct Simulator {
    hub: Hub,
    /// Where the hub serves its API.
    addr: SocketAddr,
    /// Frames a second each client sends at most.
    rate: u32,
    /// Each actor's password (the simulator's random one, the units' demo ones), in
    /// memory only, to log in again if a socket is lost.
    passwords: BTreeMap<String, String>,
    /// Each actor's client, by username.
    clients: BTreeMap<String, Client>,
    /// Commands accepted over sockets since closed, by username.
    accepted_before: BTreeMap<String, u64>,
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
    /// Makes the simulator's account, logs it and every scenario unit's field user in
    /// over the API at `addr` and opens their sockets. `commands_per_second` is the
    /// hub's per-socket rate (`limits.commands_per_second`); each client keeps under it.
    pub async fn connect(
        hub: Hub,
        addr: SocketAddr,
        commands_per_second: u32,
        exercise: Arc<Exercise>,
        demo: &Demo,
        places: Gazetteer,
    ) -> Result<Self, SimError> {
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
        let mut passwords = BTreeMap::new();
        passwords.insert(
            SIMULATOR_USERNAME.to_string(),
            simulator_account(&hub).await?,
        );
        for unit in &exercise.scenario.units {
            let user = usernames
                .get(&unit.resource)
                .and_then(|name| demo.users.iter().find(|u| &u.username == name));
            if let Some(u) = user {
                passwords.insert(u.username.clone(), u.password.clone());
            }
        }
        let rate = (commands_per_second.saturating_mul(4) / 5).max(1);
        let mut clients = BTreeMap::new();
        for (username, password) in &passwords {
            let client = Client::login(addr, username, password, rate)
                .await
                .map_err(|error| SimError::Client {
                    username: username.clone(),
                    error,
                })?;
            clients.insert(username.clone(), client);
        }
        let contacts = exercise.scenario.contacts();
        let injects_done = vec![false; exercise.scenario.injects.len()];
        Ok(Simulator {
            hub,
            addr,
            rate,
            passwords,
            clients,
            accepted_before: BTreeMap::new(),
            exercise,
            contacts,
            next_contact: 0,
            places,
            usernames,
            journeys: BTreeMap::new(),
            injects_done,
        })
    }

    /// How many of its commands the hub accepted, by the username that sent them: the
    /// `ok` results that came back over that user's sockets.
    pub fn accepted(&self) -> BTreeMap<String, u64> {
        let mut out = self.accepted_before.clone();
        for (who, c) in &self.clients {
            *out.entry(who.clone()).or_default() += c.accepted();
        }
        out
    }

    /// The usernames the simulator acts as, each with a socket open to the hub.
    pub fn connected(&self) -> Vec<&str> {
        self.clients
            .iter()
            .filter(|(_, c)| c.is_open())
            .map(|(u, _)| u.as_str())
            .collect()
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
            done += self.submit(SIMULATOR_USERNAME, id, command).await;
        }
        for (who, id, command) in self.unit_commands(now) {
            done += self.submit(&who, id, command).await;
        }
        for (i, who, id, command) in self.inject_commands(elapsed) {
            if self.submit(&who, id, command).await > 0 {
                self.injects_done[i] = true;
                done += 1;
            }
        }
        if elapsed > self.exercise.scenario.duration_secs() as i64 {
            self.exercise.end();
        }
        done
    }

    /// Sends `command` as `who` over their socket and awaits its result: 1 when the hub
    /// accepted it. A lost socket is opened again (logging in again) and the command
    /// sent once more with the same id, which the hub answers only once.
    async fn submit(&mut self, who: &str, id: String, command: Command) -> usize {
        let kind = command.kind();
        let body = match serde_json::to_value(&command) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(kind = kind.as_str(), error = %e, "simulator command not encoded");
                return 0;
            }
        };
        for _ in 0..2 {
            let client = match self.client(who).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(user = who, error = %e, "simulator cannot log in");
                    return 0;
                }
            };
            match client.command(&id, &body).await {
                Ok(r) if r["ok"] == true => return 1,
                Ok(r) => {
                    tracing::debug!(kind = kind.as_str(), error = %r["error"], "simulator command refused");
                    return 0;
                }
                Err(e) => {
                    tracing::warn!(user = who, error = %e, "simulator socket lost; logging in again");
                    if let Some(lost) = self.clients.remove(who) {
                        *self.accepted_before.entry(who.to_string()).or_default() +=
                            lost.accepted();
                    }
                }
            }
        }
        0
    }

    /// `who`'s open client, logging in again when their socket is gone.
    async fn client(&mut self, who: &str) -> Result<&Client, muster_load::LoadError> {
        if !self.clients.get(who).is_some_and(Client::is_open) {
            let password = self.passwords.get(who).ok_or_else(|| {
                muster_load::LoadError::Login(format!("{who} is not an actor of this exercise"))
            })?;
            let client = Client::login(self.addr, who, password, self.rate).await?;
            self.clients.insert(who.to_string(), client);
        }
        Ok(&self.clients[who])
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

    /// The scenario's unit for a resource of the state, with the username of the field
    /// user who plays it.
    fn unit_for(&self, state: &State, resource_id: &ResourceId) -> Option<(SimUnit, String)> {
        let resource = state.resources.get(resource_id)?;
        let unit = self.exercise.scenario.units.iter().find(|u| {
            u.resource == resource.name
                || self.usernames.get(&u.resource) == self.usernames.get(&resource.name)
                    && self.usernames.contains_key(&u.resource)
        })?;
        let username = self.usernames.get(&resource.name)?;
        let user_id = state.usernames.get(&username.to_lowercase())?;
        let user = state.users.get(user_id)?;
        Some((unit.clone(), user.username.clone()))
    }

    fn unit_commands(&mut self, now: DateTime<Utc>) -> Vec<(String, String, Command)> {
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
                    && let Some((_, actor)) = self.unit_for(state, &a.resource_id)
                {
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
            out
        })
    }

    /// Injects due and not yet made: each as the named unit (or else any simulated
    /// unit) assigned to the incident the contact it is about was linked to (the field
    /// may only note incidents it is on); one waits until such a unit has been.
    fn inject_commands(&self, elapsed: i64) -> Vec<(usize, String, String, Command)> {
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
