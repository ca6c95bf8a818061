//! The one test world, for muster-core's unit and integration tests and the hub's
//! tests alike (feature `testing`): the shipped centre's procedures, seeded through
//! ordinary commands (the whole demo, or a small world of five users), actors and
//! viewers by username, a log of every record applied (to replay or judge visibility),
//! a clock moved by hand, and command builders with sensible defaults.
//!
//! It reads the shipped files under `config/` and so is test-only: compiled under
//! `cfg(test)` or with the `testing` feature, never in the hub's build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::config::demo::{resource_command, user_command};
use crate::config::{Demo, load_centre, load_demo};
use crate::domain::assignment::{ActionSpec, AssignmentStatus, Via};
use crate::domain::case::{CaseOutcome, CaseType};
use crate::domain::contact::{Caller, Channel, ContactReason};
use crate::domain::geo::Location;
use crate::domain::ids::{
    AssignmentId, CaseId, ContactId, ImprovementId, IncidentId, MessageId, PlanId, ResourceId,
    UserId,
};
use crate::domain::message::Audience;
use crate::domain::procedure::Centre;
use crate::domain::resource::ResourceType;
use crate::domain::triage::{Priority, TriageMethod, Validity};
use crate::domain::user::Role;
use crate::engine::command as cmd;
use crate::engine::visibility::{self, Viewer};
use crate::engine::{Actor, Command, Engine, Error, Event, Record, State};

/// The password hash tests give seeded and created users (the engine never checks it).
pub const TEST_HASH: &str = "$argon2id$test-only";

/// A path inside the repository (where `config/` is), independent of the working
/// directory.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The shipped demo centre's procedures.
pub fn demo_centre() -> Centre {
    load_centre(&repo_path("config/centre.toml")).expect("config/centre.toml is valid")
}

/// The shipped demo's users and resources.
pub fn demo_seed() -> Demo {
    load_demo(&repo_path("config/demo")).expect("config/demo is valid")
}

/// When every test world starts (whole milliseconds, like the hub's clock).
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The engine, the state it decides against, the clock, and every record applied.
pub struct World {
    pub engine: Engine,
    pub state: State,
    pub now: DateTime<Utc>,
    /// Every record applied so far, in order (seq 1..).
    pub log: Vec<Record>,
    /// Demo resource key (`amara-okafor`) → the id it was given when seeded.
    pub resource_keys: BTreeMap<String, ResourceId>,
    /// The incident [`World::with_dispatched_incident`] opened (empty otherwise).
    pub incident: IncidentId,
    /// The assignment it created for `field1`'s resource (empty otherwise).
    pub assignment: AssignmentId,
    /// Numbers client command ids.
    next_command: u64,
}

impl World {
    /// An empty log under the shipped centre's procedures.
    pub fn empty() -> World {
        World {
            engine: Engine::new(demo_centre()),
            state: State::default(),
            now: start_time(),
            log: Vec::new(),
            resource_keys: BTreeMap::new(),
            incident: IncidentId(String::new()),
            assignment: AssignmentId(String::new()),
            next_command: 0,
        }
    }

    /// The shipped demo centre, seeded as the hub seeds it: resources, then users,
    /// through ordinary commands as the system actor.
    pub fn demo() -> World {
        let mut w = World::empty();
        let demo = demo_seed();
        for r in &demo.resources {
            let recs = w
                .submit(
                    &Actor::system(),
                    Some(format!("demo-resource-{}", r.key)),
                    &resource_command(r),
                )
                .unwrap_or_else(|e| panic!("seeding resource {}: {e}", r.key));
            let id = created(&recs, "resource_id");
            w.resource_keys.insert(r.key.clone(), ResourceId(id));
        }
        for u in &demo.users {
            let cmd = user_command(u, &w.resource_keys, TEST_HASH.to_string());
            w.submit(
                &Actor::system(),
                Some(format!("demo-user-{}", u.username)),
                &cmd,
            )
            .unwrap_or_else(|e| panic!("seeding user {}: {e}", u.username));
        }
        w
    }

    /// A small world for views and conformance: resources `Unit A` (first aid,
    /// carried by `field1`) and `Unit B` (welfare, `field2`), and users operator,
    /// supervisor, admin, field1, field2.
    pub fn seeded() -> World {
        let mut w = World::empty();
        let a = w.register("Unit A", &["first_aid"], (51.5080, -0.1280));
        let b = w.register("Unit B", &["welfare"], (51.5200, -0.1000));
        for (name, role, res) in [
            ("operator", Role::Operator, None),
            ("supervisor", Role::Supervisor, None),
            ("admin", Role::Admin, None),
            ("field1", Role::Field, Some(a)),
            ("field2", Role::Field, Some(b)),
        ] {
            w.create_user(name, role, res);
        }
        w
    }

    /// [`World::seeded`] plus a medical emergency, assessed `P2` and dispatched to
    /// `field1`'s resource: [`World::incident`] and [`World::assignment`].
    pub fn with_dispatched_incident() -> World {
        let mut w = World::seeded();
        let op = w.actor("operator");
        let place = Location {
            text: Some("Civic Centre".into()),
            lat: Some(51.5074),
            lon: Some(-0.1278),
            place_id: None,
        };
        w.incident = w.open_incident("Person collapsed", place);
        w.ok(
            &op,
            Command::IncidentAssess(cmd::IncidentAssess {
                incident_id: w.incident.clone(),
                validity: Validity::Verified,
                priority: Some(Priority::P2),
                method: TriageMethod::Manual,
                reason: "caller on scene".into(),
                duplicate_of: None,
                impact: None,
                urgency: None,
            }),
        );
        let resource = w.resource_of("field1");
        let recs = w.ok(
            &op,
            Command::AssignmentCreate(cmd::AssignmentCreate {
                incident_id: w.incident.clone(),
                resource_id: resource,
                responsibilities: None,
                actions: None,
                reason: None,
            }),
        );
        w.assignment = AssignmentId(created(&recs, "assignment_id"));
        w
    }

    /// A medical emergency opened by `operator`, not yet assessed.
    pub fn open_incident(&mut self, description: &str, location: Location) -> IncidentId {
        let op = self.actor("operator");
        let recs = self.ok(
            &op,
            Command::IncidentOpen(cmd::IncidentOpen {
                contact_id: None,
                incident_type: "medical_emergency".into(),
                description: description.into(),
                location,
            }),
        );
        IncidentId(created(&recs, "incident_id"))
    }

    fn register(&mut self, name: &str, skills: &[&str], at: (f64, f64)) -> ResourceId {
        let recs = self.ok(
            &Actor::system(),
            Command::ResourceRegister(cmd::ResourceRegister {
                name: name.into(),
                resource_type: ResourceType::Person,
                skills: skills.iter().map(|s| s.to_string()).collect(),
                team: "north".into(),
                user_id: None,
                location: Some(Location {
                    text: None,
                    lat: Some(at.0),
                    lon: Some(at.1),
                    place_id: None,
                }),
                email: None,
                phone: None,
            }),
        );
        ResourceId(created(&recs, "resource_id"))
    }

    fn create_user(&mut self, name: &str, role: Role, resource_id: Option<ResourceId>) {
        self.ok(
            &Actor::system(),
            Command::UserCreate(cmd::UserCreate {
                username: name.into(),
                role,
                password: String::new(),
                name: Some(name.into()),
                resource_id,
                identity: None,
                password_hash: Some(TEST_HASH.into()),
            }),
        );
    }

    /// Moves the clock on.
    pub fn advance(&mut self, secs: i64) {
        self.now += Duration::seconds(secs);
    }

    /// Submits, as the hub does on its clock, every internal command due now
    /// (`engine::timers::due`), each with the hub's stable id; returns the records.
    pub fn fire_timers(&mut self) -> Vec<Record> {
        let due = crate::engine::timers::due(&self.state, &self.engine.centre, self.now);
        let mut out = Vec::new();
        for command in due {
            let id = format!("timer:{:?}", command);
            out.extend(
                self.submit(&Actor::system(), Some(id), &command)
                    .unwrap_or_else(|e| panic!("{} refused: {e}", command.kind())),
            );
        }
        out
    }

    /// Decides `command` and applies its records. On refusal nothing changes: the
    /// state and the log are checked to be exactly as before.
    pub fn submit(
        &mut self,
        actor: &Actor,
        command_id: Option<String>,
        command: &Command,
    ) -> Result<Vec<Record>, Error> {
        let before_seq = self.state.seq;
        let result =
            self.engine
                .records(&self.state, command, actor, command_id.as_deref(), self.now);
        match result {
            Ok(records) => {
                assert!(!records.is_empty(), "an accepted command records something");
                for r in &records {
                    self.state.apply(r);
                }
                self.log.extend(records.iter().cloned());
                Ok(records)
            }
            Err(e) => {
                assert_eq!(self.state.seq, before_seq);
                Err(e)
            }
        }
    }

    /// Runs a command with a fresh client id; the clock moves one second first.
    pub fn run(&mut self, actor: &Actor, command: Command) -> Result<Vec<Record>, Error> {
        self.advance(1);
        self.next_command += 1;
        let id = format!("cmd-{}", self.next_command);
        self.submit(actor, Some(id), &command)
    }

    /// Runs a command that must succeed and returns its records.
    #[track_caller]
    pub fn ok(&mut self, actor: &Actor, command: Command) -> Vec<Record> {
        let kind = command.kind();
        match self.run(actor, command) {
            Ok(r) => r,
            Err(e) => panic!("{kind} by {} refused: {} {e}", actor.user_id, e.code()),
        }
    }

    /// Runs a command that must be refused and returns the error, checking that the
    /// state did not change.
    #[track_caller]
    pub fn err(&mut self, actor: &Actor, command: Command) -> Error {
        let before = self.state.clone();
        let kind = command.kind();
        match self.run(actor, command) {
            Ok(r) => panic!("{kind} by {} was accepted: {:?}", actor.user_id, kinds(&r)),
            Err(e) => {
                assert_eq!(self.state, before, "a refused {kind} changed the state");
                e
            }
        }
    }

    /// Sends a message as `from`.
    pub fn broadcast(&mut self, from: &str, audience: Audience, text: &str) {
        let actor = self.actor(from);
        self.ok(&actor, broadcast(audience, text, false));
    }

    /// The user with this username.
    #[track_caller]
    pub fn user_id(&self, username: &str) -> UserId {
        self.state
            .usernames
            .get(username)
            .cloned()
            .unwrap_or_else(|| panic!("no user {username}"))
    }

    /// The actor for a (demo) username, as the hub would build it from a session.
    #[track_caller]
    pub fn actor(&self, username: &str) -> Actor {
        Actor::of(&self.state.users[&self.user_id(username)])
    }

    /// The viewer for a username.
    #[track_caller]
    pub fn viewer(&self, username: &str) -> Viewer {
        viewer_of(&self.actor(username))
    }

    /// The viewer an intake gateway's session has.
    pub fn intake_viewer() -> Viewer {
        viewer_of(&intake_actor())
    }

    /// The id a demo resource key was seeded with.
    #[track_caller]
    pub fn resource(&self, key: &str) -> ResourceId {
        self.resource_keys
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no demo resource {key}"))
    }

    /// The resource a field user carries.
    #[track_caller]
    pub fn resource_of(&self, username: &str) -> ResourceId {
        self.actor(username)
            .resource_id
            .unwrap_or_else(|| panic!("{username} carries no resource"))
    }

    /// The seqs of the log's records `viewer` may see, each judged on the state right
    /// after it was applied (as the writer judges it when publishing).
    pub fn visible_seqs(&self, viewer: &Viewer) -> Vec<u64> {
        let mut state = State::default();
        let mut out = Vec::new();
        for r in &self.log {
            state.apply(r);
            if visibility::of(&state, r).allows(viewer) {
                out.push(r.seq);
            }
        }
        out
    }

    /// Whether `viewer` may see the record at `seq`.
    pub fn sees(&self, viewer: &Viewer, seq: u64) -> bool {
        self.visible_seqs(viewer).contains(&seq)
    }

    /// Opens an incident of `incident_type` and returns its id.
    #[track_caller]
    pub fn open(&mut self, actor: &Actor, incident_type: &str) -> IncidentId {
        let recs = self.ok(actor, incident_open(incident_type, None));
        IncidentId(created(&recs, "incident_id"))
    }

    /// Opens an incident and assesses it (manually, verified, `P2`).
    #[track_caller]
    pub fn open_assessed(&mut self, actor: &Actor, incident_type: &str) -> IncidentId {
        let id = self.open(actor, incident_type);
        self.ok(
            actor,
            assess_manual(&id, Priority::P2, "caller is credible"),
        );
        id
    }

    /// Assigns a resource (with the type's template checklist) and returns the
    /// assignment's id.
    #[track_caller]
    pub fn assign(
        &mut self,
        actor: &Actor,
        incident: &IncidentId,
        resource: &ResourceId,
    ) -> AssignmentId {
        let recs = self.ok(actor, assignment_create(incident, resource, None));
        AssignmentId(created(&recs, "assignment_id"))
    }
}

/// The viewer that goes with an actor.
pub fn viewer_of(a: &Actor) -> Viewer {
    Viewer {
        user_id: a.user_id.clone(),
        role: a.role,
        resource_id: a.resource_id.clone(),
    }
}

/// An intake gateway's actor (intake keys are not users in the demo).
pub fn intake_actor() -> Actor {
    Actor {
        user_id: UserId("usr_intake".into()),
        role: Role::Intake,
        resource_id: None,
    }
}

/// The id a batch of records created under `name` (`incident_id`, …), as a result's
/// `data` would carry it.
#[track_caller]
pub fn created(records: &[Record], name: &str) -> String {
    records
        .iter()
        .filter_map(|r| r.event.created())
        .find(|(n, _)| *n == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("no {name} created in {:?}", kinds(records)))
}

/// The event kinds of a batch of records, in order.
pub fn kinds(records: &[Record]) -> Vec<&'static str> {
    records.iter().map(|r| r.event.kind().as_str()).collect()
}

/// The events of a batch of records, in order.
pub fn events(records: &[Record]) -> Vec<Event> {
    records.iter().map(|r| r.event.clone()).collect()
}

// ----------------------------------------------------------------------------------
// Command builders with sensible defaults.
// ----------------------------------------------------------------------------------

pub fn place() -> Location {
    Location {
        text: Some("Civic Centre, main entrance".into()),
        lat: Some(51.5074),
        lon: Some(-0.1278),
        place_id: None,
    }
}

pub fn contact_receive(summary: &str) -> Command {
    Command::ContactReceive(cmd::ContactReceive {
        channel: Channel::Phone,
        caller: Caller {
            name: Some("Jo Caller".into()),
            phone: Some("+44 20 7946 0000".into()),
            email: None,
        },
        location: Some(place()),
        summary: summary.into(),
        reason: ContactReason::Report,
    })
}

pub fn contact_take(id: &ContactId) -> Command {
    Command::ContactTake(cmd::ContactTake {
        contact_id: id.clone(),
    })
}

pub fn contact_link(contact: &ContactId, incident: &IncidentId) -> Command {
    Command::ContactLink(cmd::ContactLink {
        contact_id: contact.clone(),
        incident_id: incident.clone(),
    })
}

pub fn contact_close(id: &ContactId, outcome: &str) -> Command {
    Command::ContactClose(cmd::ContactClose {
        contact_id: id.clone(),
        outcome: outcome.into(),
        note: None,
    })
}

pub fn incident_open(incident_type: &str, contact: Option<&ContactId>) -> Command {
    Command::IncidentOpen(cmd::IncidentOpen {
        contact_id: contact.cloned(),
        incident_type: incident_type.into(),
        description: format!("A {incident_type} reported at the Civic Centre"),
        location: place(),
    })
}

pub fn incident_answer(id: &IncidentId, answers: &[(&str, serde_json::Value)]) -> Command {
    Command::IncidentAnswer(cmd::IncidentAnswer {
        incident_id: id.clone(),
        answers: answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    })
}

pub fn assess(
    id: &IncidentId,
    validity: Validity,
    priority: Option<Priority>,
    method: TriageMethod,
    reason: &str,
) -> Command {
    Command::IncidentAssess(cmd::IncidentAssess {
        incident_id: id.clone(),
        validity,
        priority,
        method,
        reason: reason.into(),
        duplicate_of: None,
        impact: None,
        urgency: None,
    })
}

pub fn assess_manual(id: &IncidentId, priority: Priority, reason: &str) -> Command {
    assess(
        id,
        Validity::Verified,
        Some(priority),
        TriageMethod::Manual,
        reason,
    )
}

pub fn assess_matrix(id: &IncidentId, impact: &str, urgency: &str) -> Command {
    Command::IncidentAssess(cmd::IncidentAssess {
        incident_id: id.clone(),
        validity: Validity::Verified,
        priority: None,
        method: TriageMethod::Matrix,
        reason: String::new(),
        duplicate_of: None,
        impact: Some(impact.into()),
        urgency: Some(urgency.into()),
    })
}

pub fn incident_note(id: &IncidentId, text: &str) -> Command {
    Command::IncidentNote(cmd::IncidentNote {
        incident_id: id.clone(),
        text: text.into(),
    })
}

pub fn incident_resolve(id: &IncidentId) -> Command {
    Command::IncidentResolve(cmd::IncidentResolve {
        incident_id: id.clone(),
        outcome: "treated_on_scene".into(),
        summary: "Casualty treated and handed over".into(),
    })
}

pub fn incident_close(id: &IncidentId) -> Command {
    Command::IncidentClose(cmd::IncidentClose {
        incident_id: id.clone(),
    })
}

pub fn incident_reopen(id: &IncidentId, reason: &str) -> Command {
    Command::IncidentReopen(cmd::IncidentReopen {
        incident_id: id.clone(),
        reason: reason.into(),
    })
}

pub fn incident_cancel(id: &IncidentId, reason: &str) -> Command {
    Command::IncidentCancel(cmd::IncidentCancel {
        incident_id: id.clone(),
        reason: reason.into(),
    })
}

pub fn incident_merge(id: &IncidentId, into: &IncidentId, reason: &str) -> Command {
    Command::IncidentMerge(cmd::IncidentMerge {
        incident_id: id.clone(),
        into: into.clone(),
        reason: reason.into(),
    })
}

pub fn incident_override(id: &IncidentId, rule: &str, justification: &str) -> Command {
    Command::IncidentOverride(cmd::IncidentOverride {
        incident_id: id.clone(),
        rule: rule.into(),
        justification: justification.into(),
    })
}

pub fn user_create(username: &str, role: Role, resource: Option<&ResourceId>) -> Command {
    Command::UserCreate(cmd::UserCreate {
        username: username.into(),
        role,
        password: "correct horse battery staple".into(),
        name: None,
        resource_id: resource.cloned(),
        identity: None,
        password_hash: Some(TEST_HASH.into()),
    })
}

pub fn resource_register(name: &str, team: &str, skills: &[&str]) -> Command {
    Command::ResourceRegister(cmd::ResourceRegister {
        name: name.into(),
        resource_type: crate::domain::resource::ResourceType::Person,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        team: team.into(),
        user_id: None,
        location: Some(place()),
        email: None,
        phone: None,
    })
}

pub fn resource_status(
    id: &ResourceId,
    status: crate::domain::resource::ResourceStatus,
) -> Command {
    Command::ResourceStatus(cmd::ResourceStatus {
        resource_id: id.clone(),
        status,
    })
}

pub fn resource_locate(id: &ResourceId, lat: f64, lon: f64) -> Command {
    Command::ResourceLocate(cmd::ResourceLocate {
        resource_id: id.clone(),
        lat,
        lon,
    })
}

pub fn assignment_create(
    incident: &IncidentId,
    resource: &ResourceId,
    reason: Option<&str>,
) -> Command {
    Command::AssignmentCreate(cmd::AssignmentCreate {
        incident_id: incident.clone(),
        resource_id: resource.clone(),
        responsibilities: None,
        actions: None,
        reason: reason.map(str::to_string),
    })
}

pub fn assignment_with_actions(
    incident: &IncidentId,
    resource: &ResourceId,
    actions: &[(&str, bool)],
) -> Command {
    Command::AssignmentCreate(cmd::AssignmentCreate {
        incident_id: incident.clone(),
        resource_id: resource.clone(),
        responsibilities: Some("Do what the checklist says".into()),
        actions: Some(
            actions
                .iter()
                .map(|(text, required)| ActionSpec {
                    text: text.to_string(),
                    required: *required,
                })
                .collect(),
        ),
        reason: None,
    })
}

pub fn acknowledge(id: &AssignmentId) -> Command {
    Command::AssignmentAcknowledge(cmd::AssignmentAcknowledge {
        assignment_id: id.clone(),
        via: None,
    })
}

/// The desk recording a unit's acknowledgement on its behalf (`via`).
pub fn acknowledge_via(id: &AssignmentId, via: Via) -> Command {
    Command::AssignmentAcknowledge(cmd::AssignmentAcknowledge {
        assignment_id: id.clone(),
        via: Some(via),
    })
}

/// The desk recording a unit's progress on its behalf (`via`).
pub fn progress_via(id: &AssignmentId, status: AssignmentStatus, via: Via) -> Command {
    Command::AssignmentProgress(cmd::AssignmentProgress {
        assignment_id: id.clone(),
        status,
        via: Some(via),
        skipped: BTreeMap::new(),
    })
}

/// The desk recording a unit's check-in (OK) on its behalf (`via`).
pub fn checkin_via(id: &AssignmentId, via: Via) -> Command {
    Command::Checkin(cmd::Checkin {
        assignment_id: id.clone(),
        ok: true,
        note: None,
        via: Some(via),
    })
}

pub fn decline(id: &AssignmentId, reason: &str) -> Command {
    Command::AssignmentDecline(cmd::AssignmentDecline {
        assignment_id: id.clone(),
        reason: reason.into(),
    })
}

pub fn progress(id: &AssignmentId, status: AssignmentStatus) -> Command {
    Command::AssignmentProgress(cmd::AssignmentProgress {
        assignment_id: id.clone(),
        status,
        via: None,
        skipped: BTreeMap::new(),
    })
}

/// `completed` with a reason for each action left undone.
pub fn complete_skipping(id: &AssignmentId, skipped: &[(&str, &str)]) -> Command {
    Command::AssignmentProgress(cmd::AssignmentProgress {
        assignment_id: id.clone(),
        status: AssignmentStatus::Completed,
        via: None,
        skipped: skipped
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect(),
    })
}

pub fn action_done(id: &AssignmentId, action: &str) -> Command {
    Command::AssignmentActionDone(cmd::AssignmentActionDone {
        assignment_id: id.clone(),
        action_id: action.into(),
        note: None,
    })
}

pub fn action_undone(id: &AssignmentId, action: &str, reason: &str) -> Command {
    Command::AssignmentActionUndone(cmd::AssignmentActionUndone {
        assignment_id: id.clone(),
        action_id: action.into(),
        reason: reason.into(),
    })
}

pub fn assignment_cancel(id: &AssignmentId, reason: &str) -> Command {
    Command::AssignmentCancel(cmd::AssignmentCancel {
        assignment_id: id.clone(),
        reason: reason.into(),
    })
}

pub fn checkin(id: &AssignmentId, ok: bool) -> Command {
    Command::Checkin(cmd::Checkin {
        assignment_id: id.clone(),
        ok,
        note: None,
        via: None,
    })
}

pub fn broadcast(audience: Audience, text: &str, requires_ack: bool) -> Command {
    Command::MessageBroadcast(cmd::MessageBroadcast {
        audience,
        text: text.into(),
        requires_ack,
    })
}

pub fn message_ack(id: &MessageId) -> Command {
    Command::MessageAcknowledge(cmd::MessageAcknowledge {
        message_id: id.clone(),
    })
}

pub fn case_open(case_type: CaseType, incident: Option<&IncidentId>, text: &str) -> Command {
    Command::CaseOpen(cmd::CaseOpen {
        case_type,
        incident_id: incident.cloned(),
        contact_id: None,
        from: "Jo Bloggs".into(),
        text: text.into(),
        email: None,
    })
}

pub fn case_assign(id: &CaseId, user: &UserId) -> Command {
    Command::CaseAssign(cmd::CaseAssign {
        case_id: id.clone(),
        user_id: user.clone(),
    })
}

pub fn case_respond(id: &CaseId, response: &str) -> Command {
    Command::CaseRespond(cmd::CaseRespond {
        case_id: id.clone(),
        response: response.into(),
    })
}

pub fn case_close(id: &CaseId, outcome: CaseOutcome, root_cause: Option<&str>) -> Command {
    Command::CaseClose(cmd::CaseClose {
        case_id: id.clone(),
        outcome,
        root_cause: root_cause.map(str::to_string),
    })
}

/// A review date `days` after the test clock's start.
pub fn review_date(days: i64) -> chrono::NaiveDate {
    (start_time() + Duration::days(days)).date_naive()
}

pub fn support_propose(colleague: &UserId, areas: &[&str], support_type: &str) -> Command {
    Command::SupportPropose(cmd::SupportPropose {
        colleague_id: colleague.clone(),
        areas: areas.iter().map(|a| a.to_string()).collect(),
        support_type: support_type.into(),
        review_on: review_date(28),
        notes: None,
    })
}

pub fn support_agree(id: &PlanId) -> Command {
    Command::SupportAgree(cmd::SupportAgree {
        plan_id: id.clone(),
    })
}

pub fn support_note(id: &PlanId, text: &str) -> Command {
    Command::SupportNote(cmd::SupportNote {
        plan_id: id.clone(),
        text: text.into(),
    })
}

pub fn support_review(id: &PlanId, outcome: &str) -> Command {
    Command::SupportReview(cmd::SupportReview {
        plan_id: id.clone(),
        outcome: outcome.into(),
    })
}

/// A trainee's exercise debrief as evidence for their plan.
pub fn support_attach_evidence(id: &PlanId, trainee: &UserId, score: u32) -> Command {
    Command::SupportAttachEvidence(cmd::SupportAttachEvidence {
        plan_id: id.clone(),
        evidence: crate::domain::support::Evidence {
            kind: crate::domain::support::EvidenceKind::ExerciseDebrief,
            scenario: "busy-evening".into(),
            trainee_id: trainee.clone(),
            score: Some(score),
            started_at: start_time(),
            summary: format!("Busy evening: {score}/100"),
            figures: serde_json::json!({"answer": {"count": 4, "median_secs": 6}}),
        },
    })
}

pub fn improvement_raise(owner: &UserId, areas: &[&str], plan: Option<&PlanId>) -> Command {
    Command::ImprovementRaise(cmd::ImprovementRaise {
        title: "Faster resource selection on nights".into(),
        finding: "p90 time to dispatch 1.8x the team's median over 24 incidents".into(),
        owner_id: owner.clone(),
        due_on: review_date(42),
        areas: areas.iter().map(|a| a.to_string()).collect(),
        plan_id: plan.cloned(),
    })
}

pub fn improvement_update(
    id: &ImprovementId,
    status: crate::domain::improvement::ImprovementStatus,
    note: Option<&str>,
) -> Command {
    Command::ImprovementUpdate(cmd::ImprovementUpdate {
        improvement_id: id.clone(),
        status,
        note: note.map(str::to_string),
    })
}

/// Well-formed subscription keys (a 65-byte point starting 0x04, 16 auth bytes): the
/// engine checks their shape, not that the point is on the curve.
pub fn push_keys() -> crate::domain::push::PushKeys {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut point = vec![0x04u8];
    point.extend(1..=64u8);
    crate::domain::push::PushKeys {
        p256dh: b64.encode(&point),
        auth: b64.encode([7u8; 16]),
    }
}

/// `push.subscribe` of `endpoint` with [`push_keys`].
pub fn push_subscribe(endpoint: &str) -> Command {
    Command::PushSubscribe(cmd::PushSubscribe {
        endpoint: endpoint.into(),
        keys: push_keys(),
        session: None,
    })
}

/// A user's own `push.unsubscribe`.
pub fn push_unsubscribe(endpoint: &str) -> Command {
    Command::PushUnsubscribe(cmd::PushUnsubscribe {
        endpoint: endpoint.into(),
        user_id: None,
        reason: None,
    })
}

/// `roster.add`: a shift for `resource` from `start` to `end`.
pub fn roster_add(resource: &ResourceId, start: DateTime<Utc>, end: DateTime<Utc>) -> Command {
    Command::RosterAdd(cmd::RosterAdd {
        resource_id: resource.clone(),
        start,
        end,
    })
}

/// `roster.remove` of a shift.
pub fn roster_remove(id: &crate::domain::ids::ShiftId) -> Command {
    Command::RosterRemove(cmd::RosterRemove {
        shift_id: id.clone(),
    })
}

mod samples;
pub use samples::{engine_event_samples, hand_event_samples};
