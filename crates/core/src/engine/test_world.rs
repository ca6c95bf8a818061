//! A small world for the engine's own unit tests (views, conformance): the shipped
//! centre's procedures, two resources, five users and a clock moved by hand.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::command as cmd;
use super::visibility::Viewer;
use super::{Actor, Command, Engine, Record, State};
use crate::domain::geo::Location;
use crate::domain::ids::{AssignmentId, IncidentId, ResourceId, UserId};
use crate::domain::message::Audience;
use crate::domain::resource::ResourceType;
use crate::domain::triage::{Priority, TriageMethod, Validity};
use crate::domain::user::Role;

/// The engine, its state, every record applied, and one incident to look at.
pub struct World {
    pub engine: Engine,
    pub state: State,
    pub log: Vec<Record>,
    pub now: DateTime<Utc>,
    /// The incident [`World::with_dispatched_incident`] opened (empty before).
    pub incident: IncidentId,
    /// The assignment it created for `field1`'s resource.
    pub assignment: AssignmentId,
    next: u64,
}

impl World {
    /// Resources `res_a` (first aid, carried by `field1`) and `res_b` (`field2`), and
    /// users operator, supervisor, admin, field1, field2.
    pub fn seeded() -> World {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/centre.toml");
        let centre = crate::config::load_centre(std::path::Path::new(path)).expect("valid");
        let mut w = World {
            engine: Engine::new(centre),
            state: State::default(),
            log: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
            incident: IncidentId(String::new()),
            assignment: AssignmentId(String::new()),
            next: 0,
        };
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
    /// `field1`'s resource.
    pub fn with_dispatched_incident() -> World {
        let mut w = World::seeded();
        let op = w.actor("operator");
        let place = Location {
            text: Some("Civic Centre".into()),
            lat: Some(51.5074),
            lon: Some(-0.1278),
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
        let resource = w.actor("field1").resource_id.unwrap();
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
                }),
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
                password_hash: Some("$argon2id$v=19$test-only".into()),
            }),
        );
    }

    /// Runs a command that must succeed, one second after the last.
    #[track_caller]
    pub fn ok(&mut self, actor: &Actor, command: Command) -> Vec<Record> {
        self.now += Duration::seconds(1);
        self.next += 1;
        let id = format!("cmd-{}", self.next);
        let recs = self
            .engine
            .records(&self.state, &command, actor, Some(&id), self.now)
            .unwrap_or_else(|e| panic!("{} refused: {e}", command.kind()));
        for r in &recs {
            self.state.apply(r);
        }
        self.log.extend(recs.iter().cloned());
        recs
    }

    /// Sends a message as `from`.
    pub fn broadcast(&mut self, from: &str, audience: Audience, text: &str) {
        let actor = self.actor(from);
        self.ok(
            &actor,
            Command::MessageBroadcast(cmd::MessageBroadcast {
                audience,
                text: text.into(),
                requires_ack: false,
            }),
        );
    }

    pub fn user_id(&self, username: &str) -> UserId {
        self.state.usernames[username].clone()
    }

    pub fn actor(&self, username: &str) -> Actor {
        Actor::of(&self.state.users[&self.user_id(username)])
    }

    pub fn viewer(&self, username: &str) -> Viewer {
        let a = self.actor(username);
        Viewer {
            user_id: a.user_id,
            role: a.role,
            resource_id: a.resource_id,
        }
    }

    pub fn intake_viewer() -> Viewer {
        Viewer {
            user_id: UserId("intake".into()),
            role: Role::Intake,
            resource_id: None,
        }
    }
}

/// The id a batch created under `name`.
pub fn created(records: &[Record], name: &str) -> String {
    records
        .iter()
        .filter_map(|r| r.event.created())
        .find(|(n, _)| *n == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("nothing created under {name}"))
}
