//! `muster-load gen-log`: writes a realistic year of a mid-size centre into a fresh SQLite
//! log, for benchmarks that need a big history (the review report, restart time).
//!
//! It drives the real engine: every event comes from `Engine::records` on the state
//! as it is, under a simulated clock, and is folded with `State::apply`, so the log is
//! exactly what a hub would have written (same ids, same hash chain; `muster
//! verify-log` passes). Contacts arrive on every channel following a daily and weekly
//! curve; each becomes an incident of one of the centre's types that is answered,
//! assessed (sometimes reassessed), dispatched, acknowledged, worked with check-ins
//! and actions, resolved and closed. Some callers complain (cases), some operators
//! get support plans, and the hub's timers (escalations, missed check-ins, breached
//! targets) fire as they would. Events are appended in large batches.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use muster_core::config::Demo;
use muster_core::domain::assignment::{AssignmentStatus, Via};
use muster_core::domain::case::{CaseOutcome, CaseType};
use muster_core::domain::contact::{Caller, Channel, ContactReason};
use muster_core::domain::geo::Location;
use muster_core::domain::ids::{AssignmentId, CaseId, ContactId, IncidentId, ResourceId, UserId};
use muster_core::domain::procedure::{Centre, ResourceKind};
use muster_core::domain::resource::ResourceStatus;
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, CommandKind, Engine, Error, State, timers};
use muster_log::credentials::{self, CredentialStore, SqliteCredentials};
use muster_log::sqlite::SqliteLog;
use muster_log::{EventLog, Snapshot, StoreError, StoredEvent, WrappedKey, chain};
use muster_vault::{MasterKey, Vault, VaultError};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stop once the log holds at least this many events.
    pub events: u64,
    pub seed: u64,
    /// When the simulated year starts.
    pub start: DateTime<Utc>,
    /// The master key that seals personal data, as a hub would; `None` writes it
    /// in clear.
    pub master: Option<std::sync::Arc<MasterKey>>,
}

/// What was written.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub events: u64,
    pub contacts: usize,
    pub incidents: usize,
    pub cases: usize,
    pub plans: usize,
    pub first_at: String,
    pub last_at: String,
    pub seconds: f64,
}

/// Why the log could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    #[error("{0} already exists; give a new path")]
    Exists(String),
    #[error("the simulated centre refused {kind}: {error}")]
    Refused { kind: CommandKind, error: Error },
    #[error("{0}")]
    Vault(#[from] VaultError),
}

/// How many events go to the log in one transaction.
const BATCH: usize = 50_000;
/// How often (simulated) the hub's timers are looked at.
const TIMER_EVERY_MINS: i64 = 10;
/// Operators and supervisors of the simulated centre (beside the demo's).
const OPERATORS: usize = 14;
const SUPERVISORS: usize = 3;
/// Resources per team, across four teams.
const PER_TEAM: usize = 10;
const TEAMS: [&str; 4] = ["north", "south", "east", "west"];

/// Writes a fresh log at `path` and returns what it holds.
pub async fn generate(
    path: &Path,
    centre: &Centre,
    demo: Option<&Demo>,
    opts: &Options,
) -> Result<Summary, GenError> {
    if path.exists() {
        return Err(GenError::Exists(path.display().to_string()));
    }
    let started = std::time::Instant::now();
    let log = SqliteLog::open(path)?;
    let vault = match &opts.master {
        Some(master) => Vault::load(&log, master, muster_vault::DEFAULT_LOCATION_DECIMALS).await?,
        None => Vault::new(&MasterKey::generate(), 0).plain(),
    };
    let mut sim = Sim::new(Engine::new(centre.clone()), vault, opts);
    sim.staff(demo)?;
    while sim.state.seq < opts.events {
        sim.step()?;
        if sim.pending.len() >= BATCH {
            sim.flush(&log).await?;
        }
    }
    sim.flush(&log).await?;
    // The passwords go beside the log, as a hub keeps them, so its users can log in.
    SqliteCredentials::open(&credentials::path_beside(path))?
        .put(&sim.credentials)
        .await?;
    let body = serde_json::to_string(&sim.state).expect("the state serialises");
    log.save_snapshot(&Snapshot {
        seq: sim.state.seq,
        body,
    })
    .await?;
    let s = &sim.state;
    Ok(Summary {
        events: s.seq,
        contacts: s.contacts.len(),
        incidents: s.incidents.len(),
        cases: s.cases.len(),
        plans: s.plans.len(),
        first_at: muster_core::time::rfc3339(opts.start),
        last_at: muster_core::time::rfc3339(sim.now),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One incident's way through the centre, a step at a time.
struct Job {
    stage: Stage,
    operator: usize,
    contact: Option<ContactId>,
    incident: Option<IncidentId>,
    assignment: Option<AssignmentId>,
    resource: Option<ResourceId>,
    incident_type: String,
    priority: Priority,
    /// Action ids of the assignment still to do.
    actions: Vec<String>,
    /// A required action the crew left undone at completion, with its reason; the desk
    /// ticks it off once the crew reports it, before resolving.
    skipped: Option<(String, String)>,
    checkins: u32,
    /// A complaint about the incident, and its case once opened.
    complaint: bool,
    case: Option<CaseId>,
    /// Whether the operator is a slow dispatcher (so reviews find something).
    slow: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Receive,
    Take,
    Open,
    Answer,
    Assess,
    Dispatch,
    Acknowledge,
    EnRoute,
    OnScene,
    Work,
    Complete,
    Resolve,
    Close,
    CloseContact,
    Complain,
    CaseAssign,
    CaseRespond,
    CaseClose,
    Done,
}

/// Something scheduled: a job's next step, or the timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    Timers,
    Arrival,
    Job(usize),
    Support,
}

struct Sim {
    /// `(user_id, hash)` of every account made, for the credential store.
    credentials: Vec<(String, String)>,
    engine: Engine,
    state: State,
    rng: StdRng,
    now: DateTime<Utc>,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, u64, Wake)>>,
    tie: u64,
    jobs: Vec<Option<Job>>,
    operators: Vec<Actor>,
    supervisors: Vec<Actor>,
    pending: Vec<StoredEvent>,
    /// The data keys the pending events are the first to use.
    pending_keys: Vec<WrappedKey>,
    vault: Vault,
    /// The hash of the last event flushed to the log.
    flushed_hash: String,
    prev_hash: String,
    types: Vec<String>,
    /// Commands sent so far: each gets a client id, as a real client's would.
    commands: u64,
    /// Actions ticked so far: every `UNTICK_EVERY`th is unticked as a mistake.
    ticks: u64,
}

/// One tick in this many is unticked at once (ticked the wrong line) and ticked again
/// later, so the log holds `assignment.action_undone` without drawing on the random
/// stream (the rest of the year stays as it was for a seed).
const UNTICK_EVERY: u64 = 40;

impl Sim {
    fn new(engine: Engine, vault: Vault, opts: &Options) -> Sim {
        let types = engine.centre.types.iter().map(|t| t.id.clone()).collect();
        let mut sim = Sim {
            credentials: Vec::new(),
            engine,
            state: State::default(),
            rng: StdRng::seed_from_u64(opts.seed),
            now: opts.start,
            queue: BinaryHeap::new(),
            tie: 0,
            jobs: Vec::new(),
            operators: Vec::new(),
            supervisors: Vec::new(),
            pending: Vec::new(),
            pending_keys: Vec::new(),
            vault,
            flushed_hash: chain::GENESIS.to_string(),
            prev_hash: chain::GENESIS.to_string(),
            types,
            commands: 0,
            ticks: 0,
        };
        sim.at(opts.start, Wake::Arrival);
        sim.at(
            opts.start + Duration::minutes(TIMER_EVERY_MINS),
            Wake::Timers,
        );
        sim.at(opts.start + Duration::days(7), Wake::Support);
        sim
    }

    fn at(&mut self, when: DateTime<Utc>, wake: Wake) {
        self.tie += 1;
        self.queue.push(Reverse((when, self.tie, wake)));
    }

    /// Runs a command now; its events go to the state and the pending batch.
    fn run(&mut self, actor: &Actor, command: Command) -> Result<Vec<(String, String)>, Error> {
        self.commands += 1;
        let id = format!("gen-{}", self.commands);
        let records = self
            .engine
            .records(&self.state, &command, actor, Some(&id), self.now)?;
        let mut created = Vec::new();
        for rec in records {
            // Sealed as the hub's writer seals it; the keys go with the batch.
            let (stored, keys) = self
                .vault
                .encode(std::slice::from_ref(&rec), &self.prev_hash)
                .expect("the engine's events classify and seal");
            let stored = stored.into_iter().next().expect("one record, one event");
            self.pending_keys.extend(keys.wrapped.iter().cloned());
            self.vault.commit(keys);
            self.prev_hash = stored.hash.clone();
            self.pending.push(stored);
            if let Some((name, id)) = rec.event.created() {
                created.push((name.to_string(), id));
            }
            self.state.apply(&rec);
        }
        Ok(created)
    }

    /// Like [`Sim::run`], for commands the simulation expects to succeed.
    fn must(&mut self, actor: &Actor, command: Command) -> Result<Option<String>, GenError> {
        let kind = command.kind();
        let created = self
            .run(actor, command)
            .map_err(|error| GenError::Refused { kind, error })?;
        Ok(created.into_iter().next().map(|(_, id)| id))
    }

    async fn flush(&mut self, log: &SqliteLog) -> Result<(), GenError> {
        if !self.pending.is_empty() {
            log.append_with_keys(
                &self.flushed_hash,
                std::sync::Arc::new(std::mem::take(&mut self.pending)),
                std::sync::Arc::new(std::mem::take(&mut self.pending_keys)),
            )
            .await?;
            self.flushed_hash.clone_from(&self.prev_hash);
        }
        Ok(())
    }

    /// The demo's people and resources, then the rest of a mid-size centre's.
    fn staff(&mut self, demo: Option<&Demo>) -> Result<(), GenError> {
        let system = Actor::system();
        let hash = demo_password_hash();
        let mut resources = BTreeMap::new();
        if let Some(demo) = demo {
            for r in &demo.resources {
                let id = self.must(&system, muster_core::config::demo::resource_command(r))?;
                resources.insert(r.key.clone(), ResourceId(id.unwrap_or_default()));
            }
            for u in &demo.users {
                let cmd = muster_core::config::demo::user_command(u, &resources, hash.clone());
                let id = self.must(&system, cmd)?;
                self.credentials
                    .push((id.unwrap_or_default(), hash.clone()));
            }
        }
        let skills: Vec<String> = {
            let mut all: Vec<String> = self
                .engine
                .centre
                .types
                .iter()
                .flat_map(|t| t.required_skills.clone())
                .collect();
            all.sort();
            all.dedup();
            all
        };
        for (t, team) in TEAMS.iter().enumerate() {
            for n in 0..PER_TEAM {
                let kind = [
                    ResourceKind::Person,
                    ResourceKind::Vehicle,
                    ResourceKind::Team,
                ][n % 3];
                let held: Vec<String> = skills
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (i + n + t) % 2 == 0)
                    .map(|(_, s)| s.clone())
                    .collect();
                let (lat, lon) = self.point();
                self.must(
                    &system,
                    Command::ResourceRegister(cmd::ResourceRegister {
                        name: format!("{team} unit {n}"),
                        resource_type: kind,
                        skills: held,
                        team: team.to_string(),
                        user_id: None,
                        location: Some(Location {
                            text: Some(format!("{team} depot")),
                            lat: Some(lat),
                            lon: Some(lon),
                            place_id: None,
                        }),
                        email: None,
                        phone: None,
                    }),
                )?;
            }
        }
        let people = (0..OPERATORS)
            .map(|n| (format!("sim-operator-{n}"), Role::Operator))
            .chain((0..SUPERVISORS).map(|n| (format!("sim-supervisor-{n}"), Role::Supervisor)));
        for (username, role) in people {
            let id = self.must(
                &system,
                Command::UserCreate(cmd::UserCreate {
                    username: username.clone(),
                    role,
                    password: String::new(),
                    name: Some(username),
                    resource_id: None,
                    identity: None,
                    password_hash: Some(hash.clone()),
                }),
            )?;
            let id = id.unwrap_or_default();
            self.credentials.push((id.clone(), hash.clone()));
            let actor = Actor {
                user_id: UserId(id),
                role,
                resource_id: None,
            };
            match role {
                Role::Supervisor => self.supervisors.push(actor),
                _ => self.operators.push(actor),
            }
        }
        Ok(())
    }

    /// A point in the demo city.
    fn point(&mut self) -> (f64, f64) {
        (
            51.48 + self.rng.random::<f64>() * 0.08,
            -0.20 + self.rng.random::<f64>() * 0.15,
        )
    }

    /// The next scheduled thing, run.
    fn step(&mut self) -> Result<(), GenError> {
        let Some(Reverse((when, _, wake))) = self.queue.pop() else {
            return Ok(());
        };
        self.now = self.now.max(when);
        match wake {
            Wake::Arrival => self.arrival(),
            Wake::Timers => {
                self.timers();
                self.at(self.now + Duration::minutes(TIMER_EVERY_MINS), Wake::Timers);
                Ok(())
            }
            Wake::Support => self.support(),
            Wake::Job(i) => self.advance(i),
        }
    }

    /// Contacts per hour now: a daily curve (quiet nights, busy late mornings and
    /// early evenings) and a weekly one (quieter weekends).
    fn rate_per_hour(&self) -> f64 {
        let hour = self.now.hour() as f64 + self.now.minute() as f64 / 60.0;
        let day = 0.25
            + 0.9 * (-(hour - 11.0).powi(2) / 18.0).exp()
            + 0.6 * (-(hour - 18.5).powi(2) / 8.0).exp();
        let week = match self.now.weekday().num_days_from_monday() {
            5 => 0.75,
            6 => 0.65,
            _ => 1.0,
        };
        6.0 * day * week
    }

    /// A new contact, and the next arrival scheduled (a Poisson process).
    fn arrival(&mut self) -> Result<(), GenError> {
        let gap = -(1.0 - self.rng.random::<f64>()).ln() / self.rate_per_hour();
        let next = self.now + Duration::milliseconds((gap * 3_600_000.0) as i64);
        self.at(next, Wake::Arrival);
        let operator = self.rng.random_range(0..self.operators.len());
        let type_idx = self.rng.random_range(0..self.types.len());
        let job = Job {
            stage: Stage::Receive,
            operator,
            contact: None,
            incident: None,
            assignment: None,
            resource: None,
            incident_type: self.types[type_idx].clone(),
            priority: Priority::P3,
            actions: Vec::new(),
            skipped: None,
            checkins: 0,
            complaint: self.rng.random::<f64>() < 0.01,
            case: None,
            slow: operator % 7 == 3,
        };
        self.jobs.push(Some(job));
        let i = self.jobs.len() - 1;
        self.advance(i)
    }

    fn secs(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::seconds(self.rng.random_range(lo..=hi))
    }

    /// Runs job `i`'s current stage and schedules the next.
    fn advance(&mut self, i: usize) -> Result<(), GenError> {
        let Some(mut job) = self.jobs[i].take() else {
            return Ok(());
        };
        let next = self.stage(&mut job)?;
        if let Some(delay) = next {
            self.jobs[i] = Some(job);
            self.at(self.now + delay, Wake::Job(i));
        }
        Ok(())
    }

    /// One stage of a job: the command(s) it sends, and how long until the next.
    /// `None` when the job is over.
    fn stage(&mut self, job: &mut Job) -> Result<Option<Duration>, GenError> {
        let op = self.operators[job.operator].clone();
        let delay = match job.stage {
            Stage::Receive => {
                let channel = *pick(
                    &mut self.rng,
                    &[
                        Channel::Phone,
                        Channel::Phone,
                        Channel::Phone,
                        Channel::Email,
                        Channel::Sms,
                        Channel::Web,
                        Channel::Chat,
                        Channel::Radio,
                        Channel::WalkIn,
                        Channel::Api,
                    ],
                );
                let (lat, lon) = self.point();
                let id = self.must(
                    &op,
                    Command::ContactReceive(cmd::ContactReceive {
                        channel,
                        caller: Caller {
                            name: Some("Caller".into()),
                            phone: Some("07700 900123".into()),
                            email: None,
                        },
                        location: Some(Location {
                            text: Some("Near the civic centre".into()),
                            lat: Some(lat),
                            lon: Some(lon),
                            place_id: None,
                        }),
                        summary: format!("Report about {}", job.incident_type),
                        reason: ContactReason::Report,
                    }),
                )?;
                job.contact = id.map(ContactId);
                job.stage = Stage::Take;
                self.secs(3, 60)
            }
            Stage::Take => {
                let contact_id = job.contact.clone().expect("the contact was received");
                self.must(&op, Command::ContactTake(cmd::ContactTake { contact_id }))?;
                job.stage = Stage::Open;
                self.secs(20, 90)
            }
            Stage::Open => {
                let (lat, lon) = self.point();
                let id = self.must(
                    &op,
                    Command::IncidentOpen(cmd::IncidentOpen {
                        contact_id: job.contact.clone(),
                        incident_type: job.incident_type.clone(),
                        description: "As the caller describes it".into(),
                        location: Location {
                            text: Some("Near the civic centre".into()),
                            lat: Some(lat),
                            lon: Some(lon),
                            place_id: None,
                        },
                    }),
                )?;
                job.incident = id.map(IncidentId);
                job.stage = Stage::Answer;
                self.secs(30, 120)
            }
            Stage::Answer => {
                self.answer(job, &op)?;
                job.stage = Stage::Assess;
                self.secs(10, 60)
            }
            Stage::Assess => {
                self.assess(job, &op)?;
                job.stage = Stage::Dispatch;
                if job.slow && self.rng.random::<f64>() < 0.3 {
                    self.secs(600, 1800)
                } else {
                    self.secs(20, 240)
                }
            }
            Stage::Dispatch => return self.dispatch(job, &op),
            Stage::Acknowledge => {
                let assignment_id = job.assignment.clone().expect("the assignment was created");
                if self.assignment_is(&assignment_id, AssignmentStatus::Notified) {
                    self.must(
                        &op,
                        Command::AssignmentAcknowledge(cmd::AssignmentAcknowledge {
                            assignment_id,
                            via: Some(Via::Radio),
                        }),
                    )?;
                }
                job.stage = Stage::EnRoute;
                self.secs(30, 180)
            }
            Stage::EnRoute => {
                self.progress(job, &op, AssignmentStatus::EnRoute)?;
                job.stage = Stage::OnScene;
                self.secs(240, 1500)
            }
            Stage::OnScene => {
                self.progress(job, &op, AssignmentStatus::OnScene)?;
                job.stage = Stage::Work;
                self.secs(60, 280)
            }
            Stage::Work => return self.work(job, &op),
            Stage::Complete => {
                self.progress(job, &op, AssignmentStatus::Completed)?;
                job.stage = Stage::Resolve;
                self.secs(30, 300)
            }
            Stage::Resolve => {
                let incident_id = job.incident.clone().expect("the incident was opened");
                if let Some((action_id, _)) = job.skipped.take() {
                    let assignment_id = job.assignment.clone().expect("the assignment was created");
                    self.must(
                        &op,
                        Command::AssignmentActionDone(cmd::AssignmentActionDone {
                            assignment_id,
                            action_id,
                            note: Some("Reported to control after the crew cleared.".into()),
                        }),
                    )?;
                }
                self.must(
                    &op,
                    Command::IncidentResolve(cmd::IncidentResolve {
                        incident_id,
                        outcome: "resolved_on_scene".into(),
                        summary: "Dealt with on scene; no further action.".into(),
                    }),
                )?;
                job.stage = Stage::Close;
                self.secs(300, 3600)
            }
            Stage::Close => {
                let incident_id = job.incident.clone().expect("the incident was opened");
                self.must(
                    &op,
                    Command::IncidentClose(cmd::IncidentClose { incident_id }),
                )?;
                job.stage = Stage::CloseContact;
                self.secs(5, 60)
            }
            Stage::CloseContact => {
                let contact_id = job.contact.clone().expect("the contact was received");
                self.must(
                    &op,
                    Command::ContactClose(cmd::ContactClose {
                        contact_id,
                        outcome: "incident_closed".into(),
                        note: None,
                    }),
                )?;
                if !job.complaint {
                    return Ok(None);
                }
                job.stage = Stage::Complain;
                self.secs(3600 * 6, 3600 * 24 * 5)
            }
            Stage::Complain => {
                let case_type = if self.rng.random::<f64>() < 0.7 {
                    CaseType::Complaint
                } else {
                    CaseType::Query
                };
                let id = self.must(
                    &op,
                    Command::CaseOpen(cmd::CaseOpen {
                        case_type,
                        incident_id: job.incident.clone(),
                        contact_id: None,
                        from: "caller@example.org".into(),
                        text: "I want to know why it took so long.".into(),
                        email: None,
                    }),
                )?;
                job.case = id.map(CaseId);
                job.stage = Stage::CaseAssign;
                self.secs(600, 3600 * 20)
            }
            Stage::CaseAssign => {
                let sup = self.supervisors[job.operator % self.supervisors.len()].clone();
                let case_id = job.case.clone().expect("the case was opened");
                self.must(
                    &sup,
                    Command::CaseAssign(cmd::CaseAssign {
                        case_id,
                        user_id: sup.user_id.clone(),
                    }),
                )?;
                job.stage = Stage::CaseRespond;
                self.secs(3600 * 24, 3600 * 24 * 12)
            }
            Stage::CaseRespond => {
                let sup = self.supervisors[job.operator % self.supervisors.len()].clone();
                let case_id = job.case.clone().expect("the case was opened");
                self.must(
                    &sup,
                    Command::CaseRespond(cmd::CaseRespond {
                        case_id,
                        response: "We have looked into what happened and replied in full.".into(),
                    }),
                )?;
                job.stage = Stage::CaseClose;
                self.secs(3600, 3600 * 48)
            }
            Stage::CaseClose => {
                let sup = self.supervisors[job.operator % self.supervisors.len()].clone();
                let case_id = job.case.clone().expect("the case was opened");
                let complaint = self
                    .state
                    .cases
                    .get(&case_id)
                    .is_some_and(|c| c.case_type == CaseType::Complaint);
                let (outcome, root_cause) = if !complaint {
                    (CaseOutcome::Answered, None)
                } else {
                    let o = *pick(
                        &mut self.rng,
                        &[
                            CaseOutcome::Upheld,
                            CaseOutcome::PartlyUpheld,
                            CaseOutcome::NotUpheld,
                            CaseOutcome::NotUpheld,
                        ],
                    );
                    let causes = self.engine.centre.root_causes.clone();
                    let cause = (!causes.is_empty()).then(|| pick(&mut self.rng, &causes).clone());
                    (o, cause)
                };
                self.must(
                    &sup,
                    Command::CaseClose(cmd::CaseClose {
                        case_id,
                        outcome,
                        root_cause,
                    }),
                )?;
                job.stage = Stage::Done;
                return Ok(None);
            }
            Stage::Done => return Ok(None),
        };
        Ok(Some(delay))
    }

    fn answer(&mut self, job: &Job, op: &Actor) -> Result<(), GenError> {
        let Some(t) = self.engine.centre.incident_type(&job.incident_type) else {
            return Ok(());
        };
        let mut answers = BTreeMap::new();
        for q in t.questions.clone() {
            use muster_core::domain::procedure::QuestionKind::*;
            let v = match q.kind {
                YesNo => serde_json::json!(self.rng.random::<bool>()),
                Number => serde_json::json!(self.rng.random_range(0..4)),
                Text => serde_json::json!("as the caller says"),
                Choice => serde_json::json!(
                    q.options
                        .as_ref()
                        .and_then(|o| o.first())
                        .cloned()
                        .unwrap_or_default()
                ),
            };
            answers.insert(q.id.clone(), v);
        }
        if answers.is_empty() {
            return Ok(());
        }
        let incident_id = job.incident.clone().expect("the incident was opened");
        // A script answer the rules refuse is the caller's problem, not the log's.
        let _ = self.run(
            op,
            Command::IncidentAnswer(cmd::IncidentAnswer {
                incident_id,
                answers,
            }),
        );
        Ok(())
    }

    /// First assessment by one of the three methods; some are later reassessed.
    fn assess(&mut self, job: &mut Job, op: &Actor) -> Result<(), GenError> {
        let incident_id = job.incident.clone().expect("the incident was opened");
        let method = *pick(
            &mut self.rng,
            &[
                TriageMethod::Protocol,
                TriageMethod::Protocol,
                TriageMethod::Matrix,
                TriageMethod::Manual,
            ],
        );
        let priority = *pick(
            &mut self.rng,
            &[
                Priority::P1,
                Priority::P2,
                Priority::P2,
                Priority::P3,
                Priority::P3,
                Priority::P4,
            ],
        );
        let (impact, urgency) = match method {
            TriageMethod::Matrix => {
                let m = &self.engine.centre.matrix;
                (m.impacts.first().cloned(), m.urgencies.get(1).cloned())
            }
            _ => (None, None),
        };
        job.priority = priority;
        self.must(
            op,
            Command::IncidentAssess(cmd::IncidentAssess {
                incident_id: incident_id.clone(),
                validity: Validity::Verified,
                priority: Some(priority),
                method,
                reason: "as the caller described".into(),
                duplicate_of: None,
                impact,
                urgency,
            }),
        )?;
        // Reassessment: more urgent (under-triage) more often for manual calls.
        let reassess = match method {
            TriageMethod::Manual => 0.2,
            _ => 0.06,
        };
        if self.rng.random::<f64>() < reassess {
            let up = self.rng.random::<f64>() < 0.7;
            let p = match (priority, up) {
                (Priority::P1, true) | (Priority::P2, false) => Priority::P3,
                (Priority::P2, true) | (Priority::P3, false) => {
                    if up {
                        Priority::P1
                    } else {
                        Priority::P4
                    }
                }
                (Priority::P3, true) | (Priority::P4, _) => Priority::P2,
                (Priority::P1, false) => Priority::P2,
            };
            job.priority = p;
            self.must(
                op,
                Command::IncidentAssess(cmd::IncidentAssess {
                    incident_id,
                    validity: Validity::Verified,
                    priority: Some(p),
                    method: TriageMethod::Manual,
                    reason: "new information from the caller".into(),
                    duplicate_of: None,
                    impact: None,
                    urgency: None,
                }),
            )?;
        }
        Ok(())
    }

    /// Sends the nearest available resource (with a reason when it lacks a skill); if
    /// none is free, tries again a little later.
    fn dispatch(&mut self, job: &mut Job, op: &Actor) -> Result<Option<Duration>, GenError> {
        let incident_id = job.incident.clone().expect("the incident was opened");
        let available: Vec<ResourceId> = self
            .state
            .resources
            .values()
            .filter(|r| r.status == ResourceStatus::Available)
            .map(|r| r.id.clone())
            .collect();
        if available.is_empty() {
            return Ok(Some(self.secs(120, 300)));
        }
        let resource_id = pick(&mut self.rng, &available).clone();
        let id = self.must(
            op,
            Command::AssignmentCreate(cmd::AssignmentCreate {
                incident_id,
                resource_id: resource_id.clone(),
                responsibilities: None,
                actions: None,
                reason: Some("nearest free unit".into()),
            }),
        )?;
        job.assignment = id.map(AssignmentId);
        job.resource = Some(resource_id);
        job.actions = job
            .assignment
            .as_ref()
            .and_then(|a| self.state.assignments.get(a))
            .map(|a| a.actions.iter().map(|x| x.id.clone()).collect())
            .unwrap_or_default();
        job.stage = Stage::Acknowledge;
        // Now and then a unit is slow to answer and the ladder climbs.
        Ok(Some(if self.rng.random::<f64>() < 0.08 {
            self.secs(90, 900)
        } else {
            self.secs(5, 60)
        }))
    }

    /// Whether `action_id` of the job's assignment is required.
    fn is_required(&self, job: &Job, action_id: &str) -> bool {
        job.assignment
            .as_ref()
            .and_then(|a| self.state.assignments.get(a))
            .and_then(|a| a.action(action_id))
            .is_some_and(|x| x.required)
    }

    fn assignment_is(&self, id: &AssignmentId, status: AssignmentStatus) -> bool {
        self.state
            .assignments
            .get(id)
            .is_some_and(|a| a.status == status)
    }

    fn progress(
        &mut self,
        job: &Job,
        op: &Actor,
        status: AssignmentStatus,
    ) -> Result<(), GenError> {
        let assignment_id = job.assignment.clone().expect("the assignment was created");
        let skipped = match (&job.skipped, status) {
            (Some((id, reason)), AssignmentStatus::Completed) => {
                BTreeMap::from([(id.clone(), reason.clone())])
            }
            _ => BTreeMap::new(),
        };
        self.must(
            op,
            Command::AssignmentProgress(cmd::AssignmentProgress {
                assignment_id,
                status,
                via: Some(Via::Radio),
                skipped,
            }),
        )?;
        Ok(())
    }

    /// On scene: actions done one by one with check-ins and the odd note between.
    fn work(&mut self, job: &mut Job, op: &Actor) -> Result<Option<Duration>, GenError> {
        let assignment_id = job.assignment.clone().expect("the assignment was created");
        let roll = self.rng.random::<f64>();
        if roll < 0.25 && job.checkins < 3 {
            job.checkins += 1;
            self.must(
                op,
                Command::Checkin(cmd::Checkin {
                    assignment_id,
                    ok: true,
                    note: None,
                    via: Some(Via::Radio),
                }),
            )?;
        } else if roll < 0.35 {
            let incident_id = job.incident.clone().expect("the incident was opened");
            self.must(
                op,
                Command::IncidentNote(cmd::IncidentNote {
                    incident_id,
                    text: "Update from the crew on scene.".into(),
                }),
            )?;
        } else if job.actions.len() == 1
            && self.is_required(job, &job.actions[0])
            && self.rng.random::<f64>() < 0.1
        {
            // Now and then the crew is called away with one required action left, and
            // says why when completing (the centre's rule `required_actions`).
            let action_id = job.actions.pop().expect("one action left");
            job.skipped = Some((action_id, "Called away to a higher priority job.".into()));
            job.stage = Stage::Complete;
        } else if let Some(action_id) = job.actions.pop() {
            self.must(
                op,
                Command::AssignmentActionDone(cmd::AssignmentActionDone {
                    assignment_id: assignment_id.clone(),
                    action_id: action_id.clone(),
                    note: None,
                }),
            )?;
            self.ticks += 1;
            if self.ticks.is_multiple_of(UNTICK_EVERY) {
                self.must(
                    op,
                    Command::AssignmentActionUndone(cmd::AssignmentActionUndone {
                        assignment_id,
                        action_id: action_id.clone(),
                        reason: "Ticked the wrong line.".into(),
                    }),
                )?;
                job.actions.push(action_id);
            }
        } else {
            job.stage = Stage::Complete;
        }
        Ok(Some(self.secs(60, 280)))
    }

    /// The hub's timers, as its clock would fire them.
    fn timers(&mut self) {
        let due = timers::due(&self.state, &self.engine.centre, self.now);
        for command in due {
            let _ = self.run(&Actor::system(), command);
        }
        // A supervisor acknowledges the alerts raised before the last round, as the
        // floor would: a year's log leaves only the latest few open on the board.
        let since = self.now - Duration::minutes(TIMER_EVERY_MINS);
        let stale: Vec<_> = self
            .state
            .alerts
            .values()
            .filter(|a| a.is_open() && a.raised_at < since)
            .map(|a| a.id.clone())
            .collect();
        if !self.supervisors.is_empty() {
            for (n, alert_id) in stale.into_iter().enumerate() {
                let sup = self.supervisors[n % self.supervisors.len()].clone();
                let _ = self.run(
                    &sup,
                    Command::AlertAcknowledge(cmd::AlertAcknowledge {
                        alert_id,
                        note: None,
                    }),
                );
            }
        }
    }

    /// Now and then a supervisor proposes support to an operator, who agrees; it is
    /// noted, and reviewed once its date has come (most on time, a few missed).
    fn support(&mut self) -> Result<(), GenError> {
        let next = self.now + Duration::days(self.rng.random_range(5..12));
        self.at(next, Wake::Support);
        let today = self.now.date_naive();
        let due: Vec<_> = self
            .state
            .plans
            .values()
            .filter(|p| {
                p.status == muster_core::domain::support::PlanStatus::Active && p.review_on <= today
            })
            .map(|p| (p.id.clone(), p.proposed_by.clone()))
            .collect();
        for (plan_id, by) in due {
            if self.rng.random::<f64>() < 0.1 {
                continue;
            }
            let sup = Actor {
                user_id: by,
                role: Role::Supervisor,
                resource_id: None,
            };
            self.must(
                &sup,
                Command::SupportReview(cmd::SupportReview {
                    plan_id,
                    outcome: "Goals met; support ends.".into(),
                }),
            )?;
        }
        let sup = self.supervisors[self.rng.random_range(0..self.supervisors.len())].clone();
        let who = self.operators[self.rng.random_range(0..self.operators.len())].clone();
        let areas = self.engine.centre.support_areas.clone();
        let types = self.engine.centre.support_types.clone();
        if areas.is_empty() || types.is_empty() {
            return Ok(());
        }
        let review_on = (self.now + Duration::days(28)).date_naive();
        let area = pick(&mut self.rng, &areas).clone();
        let support_type = pick(&mut self.rng, &types).clone();
        let id = self.must(
            &sup,
            Command::SupportPropose(cmd::SupportPropose {
                colleague_id: who.user_id.clone(),
                areas: vec![area],
                support_type,
                review_on,
                notes: Some("Agreed after the monthly review".into()),
            }),
        )?;
        let plan_id = muster_core::domain::ids::PlanId(id.unwrap_or_default());
        self.must(
            &who,
            Command::SupportAgree(cmd::SupportAgree {
                plan_id: plan_id.clone(),
            }),
        )?;
        self.must(
            &sup,
            Command::SupportNote(cmd::SupportNote {
                plan_id,
                text: "First session held.".into(),
            }),
        )?;
        Ok(())
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// The default start of the simulated year: 1 January of last year, UTC.
pub fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The demo password's Argon2id hash (the PHC string names its parameters, so the hub
/// verifies it whatever its own cost settings), so the generated users can log in.
fn demo_password_hash() -> String {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(b"muster-demo")
        .expect("hashing with a fresh salt succeeds")
        .to_string()
}
