//! Replay determinism: live state = replay of the stored, hash-chained log =
//! snapshot + replay of the rest (the stored form is muster-log's, a dev-dependency).
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

mod stored;

use std::collections::BTreeSet;

use serde_json::json;

use muster_core::domain::assignment::{ActionSpec, Assignment, AssignmentStatus};
use muster_core::domain::ids::{AssignmentId, IncidentId, ResourceId, UserId};
use muster_core::domain::incident::{Incident, IncidentStatus, rules};
use muster_core::domain::message::Audience;
use muster_core::domain::procedure::QuestionKind;
use muster_core::domain::resource::{ResourceStatus, ResourceType};
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::domain::user::Role;
use muster_core::engine::Command;
use muster_core::engine::State;
use muster_core::engine::authz::Actor;
use muster_core::engine::command as cmd;
use muster_log::chain;
use proptest::prelude::*;
use proptest::sample::Index;

use muster_core::testing::*;
use stored::{replay_stored, to_stored, to_stored_v1};

/// Found by the property below: without serde_json's `float_roundtrip`, some
/// coordinates came back from the stored JSON one ULP off, so a restarted hub's state
/// differed from the live one.
#[test]
fn coordinates_survive_the_stored_form_exactly() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let r = w.resource("amara-okafor");
    w.ok(&op, resource_locate(&r, 0.0, -127.78631569343369));
    let mut open = incident_open("road_hazard", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut open {
        location.lat = Some(51.50735091065834);
        location.lon = Some(-0.12775829997968753);
    }
    w.ok(&op, open);
    let replayed = replay_stored(Default::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
    let json = serde_json::to_string(&w.state).unwrap();
    let back: muster_core::engine::State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, w.state);
}

/// Who sends an operation: the role that would normally send it (most of the
/// time), or any user at all (to exercise refusals).
#[derive(Clone, Debug)]
enum Who {
    Natural,
    Any(Index),
}

/// An object picked by index; `smart` prefers one the operation can apply to
/// (an open incident to assess, an active assignment to progress), so flows move
/// on, while the others exercise refusals.
#[derive(Clone, Debug)]
struct T {
    i: Index,
    smart: bool,
}

#[derive(Clone, Debug)]
enum Op {
    ContactReceive {
        empty: bool,
    },
    ContactTake(Index),
    ContactLink(Index, T),
    ContactClose(Index),
    IncidentOpen {
        contact: Option<Index>,
        ty: Index,
        lat: f64,
        lon: f64,
    },
    IncidentAnswer {
        incident: T,
        question: Index,
        pick: Index,
        num: f64,
        garbage: bool,
    },
    IncidentAssess {
        incident: T,
        validity: Index,
        method: Index,
        priority: Option<Index>,
        cell: (Index, Index),
        other: Index,
    },
    IncidentNote(T),
    IncidentResolve(T),
    IncidentClose(T),
    IncidentReopen(T),
    IncidentCancel(T),
    IncidentMerge(T, T),
    IncidentOverride(T, Index),
    UserCreate {
        n: u8,
        role: Index,
        resource: Index,
    },
    UserDisable(Index),
    UserPassword(Index),
    ResourceRegister {
        team: Index,
        skills: Index,
    },
    ResourceStatus(Index, Index),
    ResourceLocate(Index, f64, f64),
    AssignmentCreate {
        incident: T,
        resource: T,
        reason: bool,
        checklist: Option<Vec<bool>>,
    },
    Acknowledge(T),
    Decline(T),
    Progress(T, Index),
    ActionDone(T, Index),
    ActionUndone(T, Index),
    AssignmentCancel(T),
    Checkin(T, bool),
    Broadcast {
        audience: Index,
        target: Index,
        ack: bool,
    },
    MessageAck {
        message: Index,
        who: Index,
    },
}

fn t() -> impl Strategy<Value = T> {
    (any::<Index>(), prop::bool::weighted(0.8)).prop_map(|(i, smart)| T { i, smart })
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<Index>;
    let lat = || -90.0f64..=90.0;
    let lon = || -180.0f64..=180.0;
    prop_oneof![
        3 => Just(Op::ContactReceive { empty: false }),
        1 => Just(Op::ContactReceive { empty: true }),
        2 => i().prop_map(Op::ContactTake),
        1 => (i(), t()).prop_map(|(a, b)| Op::ContactLink(a, b)),
        1 => i().prop_map(Op::ContactClose),
        6 => (proptest::option::weighted(0.3, i()), i(), lat(), lon())
            .prop_map(|(contact, ty, lat, lon)| Op::IncidentOpen { contact, ty, lat, lon }),
        4 => (t(), i(), i(), -5.0f64..80.0, prop::bool::weighted(0.1)).prop_map(
            |(incident, question, pick, num, garbage)| Op::IncidentAnswer { incident, question, pick, num, garbage }
        ),
        6 => (t(), i(), i(), proptest::option::of(i()), (i(), i()), i()).prop_map(
            |(incident, validity, method, priority, cell, other)| Op::IncidentAssess { incident, validity, method, priority, cell, other }
        ),
        1 => t().prop_map(Op::IncidentNote),
        3 => t().prop_map(Op::IncidentResolve),
        3 => t().prop_map(Op::IncidentClose),
        1 => t().prop_map(Op::IncidentReopen),
        1 => t().prop_map(Op::IncidentCancel),
        1 => (t(), t()).prop_map(|(a, b)| Op::IncidentMerge(a, b)),
        1 => (t(), i()).prop_map(|(a, b)| Op::IncidentOverride(a, b)),
        1 => (0u8..6, i(), i()).prop_map(|(n, role, resource)| Op::UserCreate { n, role, resource }),
        1 => i().prop_map(Op::UserDisable),
        1 => i().prop_map(Op::UserPassword),
        1 => (i(), i()).prop_map(|(team, skills)| Op::ResourceRegister { team, skills }),
        2 => (i(), i()).prop_map(|(a, b)| Op::ResourceStatus(a, b)),
        1 => (i(), lat(), lon()).prop_map(|(r, lat, lon)| Op::ResourceLocate(r, lat, lon)),
        8 => (t(), t(), any::<bool>(), proptest::option::weighted(0.3, prop::collection::vec(any::<bool>(), 0..4)))
            .prop_map(|(incident, resource, reason, checklist)| Op::AssignmentCreate { incident, resource, reason, checklist }),
        5 => t().prop_map(Op::Acknowledge),
        1 => t().prop_map(Op::Decline),
        8 => (t(), i()).prop_map(|(a, b)| Op::Progress(a, b)),
        6 => (t(), i()).prop_map(|(a, b)| Op::ActionDone(a, b)),
        2 => (t(), i()).prop_map(|(a, b)| Op::ActionUndone(a, b)),
        1 => t().prop_map(Op::AssignmentCancel),
        1 => (t(), any::<bool>()).prop_map(|(a, ok)| Op::Checkin(a, ok)),
        2 => (i(), i(), any::<bool>()).prop_map(|(audience, target, ack)| Op::Broadcast { audience, target, ack }),
        2 => (i(), i()).prop_map(|(message, who)| Op::MessageAck { message, who }),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        9 => Just(Who::Natural),
        1 => any::<Index>().prop_map(Who::Any),
    ]
}

/// A key of the map (biased towards the newest), or one that does not exist when
/// the map is empty.
fn nth<K: Clone + From<&'static str> + std::fmt::Display, V>(
    map: &std::collections::BTreeMap<K, V>,
    i: &Index,
    missing: &'static str,
) -> K {
    choose(map.keys().cloned().collect(), i).unwrap_or_else(|| K::from(missing))
}

/// One of `keys` (ids numbered by seq): half the time any, half the time one of
/// the three newest.
fn choose<K: std::fmt::Display>(mut keys: Vec<K>, i: &Index) -> Option<K> {
    if keys.is_empty() {
        return None;
    }
    let seq = |k: &K| {
        let s = k.to_string();
        s.rsplit('_')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    keys.sort_by_key(seq);
    let len = keys.len();
    let k = i.index(2 * len);
    let at = if k < len {
        k
    } else {
        len - 1 - (k - len) % len.min(3)
    };
    Some(keys.swap_remove(at))
}

fn pick<'a, T>(items: &'a [T], i: &Index) -> &'a T {
    &items[i.index(items.len())]
}

/// The actor of a user id in the state.
fn actor_of(state: &State, id: &UserId) -> Actor {
    Actor::of(&state.users[id])
}

fn by_username(state: &State, name: &str) -> Actor {
    actor_of(state, &state.usernames[name])
}

/// The field user carrying a resource, if it has one.
fn carrier(state: &State, r: &ResourceId) -> Option<Actor> {
    state
        .resources
        .get(r)
        .and_then(|r| r.user_id.as_ref())
        .filter(|u| state.users.get(*u).is_some_and(|u| u.role == Role::Field))
        .map(|u| actor_of(state, u))
}

/// The field user carrying the assignment's resource, else an operator (the desk
/// acts for units that report by radio).
fn crew_of(state: &State, asg: &AssignmentId) -> Actor {
    state
        .assignments
        .get(asg)
        .and_then(|a| carrier(state, &a.resource_id))
        .unwrap_or_else(|| by_username(state, "operator"))
}

fn incident_where(s: &State, t: &T, pred: impl Fn(&Incident) -> bool) -> IncidentId {
    if t.smart {
        let fit = s
            .incidents
            .values()
            .filter(|x| pred(x))
            .map(|x| x.id.clone());
        if let Some(x) = choose(fit.collect(), &t.i) {
            return x;
        }
    }
    nth(&s.incidents, &t.i, "inc_0")
}

fn assignment_where(s: &State, t: &T, pred: impl Fn(&Assignment) -> bool) -> AssignmentId {
    if t.smart {
        let fit = s
            .assignments
            .values()
            .filter(|x| pred(x))
            .map(|x| x.id.clone());
        if let Some(x) = choose(fit.collect(), &t.i) {
            return x;
        }
    }
    nth(&s.assignments, &t.i, "asg_0")
}

/// Turns an operation into a command and its natural sender, against the state.
fn build(w: &World, op: &Op) -> (Command, Actor) {
    use IncidentStatus as I;
    let s = &w.state;
    let desk = by_username(s, "operator");
    let sup = by_username(s, "supervisor");
    let admin = by_username(s, "admin");
    let open = |x: &Incident| x.status.is_open();
    let active = |x: &Assignment| x.status.is_active();
    let con = |i: &Index| nth(&s.contacts, i, "con_0");
    let res = |i: &Index| nth(&s.resources, i, "res_0");
    let usr = |i: &Index| nth(&s.users, i, "usr_0");
    match op {
        Op::ContactReceive { empty } => (
            contact_receive(if *empty {
                ""
            } else {
                "Caller reports a problem"
            }),
            desk,
        ),
        Op::ContactTake(c) => (contact_take(&con(c)), desk),
        Op::ContactLink(c, i) => (contact_link(&con(c), &incident_where(s, i, open)), desk),
        Op::ContactClose(c) => (contact_close(&con(c), "handled"), desk),
        Op::IncidentOpen {
            contact,
            ty,
            lat,
            lon,
        } => {
            let types: Vec<&str> = w
                .engine
                .centre
                .types
                .iter()
                .map(|t| t.id.as_str())
                .collect();
            let c = contact.as_ref().filter(|_| !s.contacts.is_empty()).map(con);
            let mut cmd = incident_open(*pick(&types, ty), c.as_ref());
            if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut cmd {
                location.lat = Some(*lat);
                location.lon = Some(*lon);
            }
            (cmd, desk)
        }
        Op::IncidentAnswer {
            incident,
            question,
            pick: p,
            num,
            garbage,
        } => {
            let id = incident_where(s, incident, open);
            let t = s
                .incidents
                .get(&id)
                .and_then(|i| w.engine.centre.incident_type(&i.incident_type))
                .unwrap_or(&w.engine.centre.types[0]);
            let q = pick(&t.questions, question);
            let value = if *garbage {
                json!({"not": "an answer"})
            } else {
                match q.kind {
                    QuestionKind::YesNo => json!(p.index(2) == 0),
                    QuestionKind::Number if p.index(2) == 0 => json!(num.round() as i64),
                    QuestionKind::Number => json!(num),
                    QuestionKind::Text => json!("as the caller says"),
                    QuestionKind::Choice => json!(pick(q.options.as_deref().unwrap_or(&[]), p)),
                }
            };
            (incident_answer(&id, &[(q.id.as_str(), value)]), desk)
        }
        Op::IncidentAssess {
            incident,
            validity,
            method,
            priority,
            cell,
            other,
        } => {
            let id = incident_where(s, incident, open);
            let validity = *pick(
                &[
                    Validity::Verified,
                    Validity::Verified,
                    Validity::Unverified,
                    Validity::Duplicate,
                    Validity::FalseReport,
                ],
                validity,
            );
            let method = *pick(
                &[
                    TriageMethod::Protocol,
                    TriageMethod::Matrix,
                    TriageMethod::Manual,
                ],
                method,
            );
            let m = &w.engine.centre.matrix;
            let reason = if method == TriageMethod::Manual {
                "operator's judgement"
            } else {
                ""
            };
            let mut cmd = assess(
                &id,
                validity,
                priority.as_ref().map(|p| *pick(&Priority::ALL, p)),
                method,
                reason,
            );
            if let Command::IncidentAssess(cmd::IncidentAssess {
                impact,
                urgency,
                duplicate_of,
                ..
            }) = &mut cmd
            {
                *impact = Some(pick(&m.impacts, &cell.0).clone());
                *urgency = Some(pick(&m.urgencies, &cell.1).clone());
                if validity == Validity::Duplicate {
                    *duplicate_of = Some(nth(&s.incidents, other, "inc_0"));
                }
            }
            (cmd, desk)
        }
        Op::IncidentNote(i) => (
            incident_note(&incident_where(s, i, |_| true), "more from the caller"),
            desk,
        ),
        Op::IncidentResolve(i) => (incident_resolve(&incident_where(s, i, open)), desk),
        Op::IncidentClose(i) => (
            incident_close(&incident_where(s, i, |x| x.status == I::Resolved)),
            desk,
        ),
        Op::IncidentReopen(i) => (
            incident_reopen(
                &incident_where(s, i, |x| !x.status.is_open()),
                "new information",
            ),
            desk,
        ),
        Op::IncidentCancel(i) => (
            incident_cancel(&incident_where(s, i, open), "no longer needed"),
            desk,
        ),
        Op::IncidentMerge(a, b) => (
            incident_merge(
                &incident_where(s, a, open),
                &incident_where(s, b, open),
                "the same event",
            ),
            desk,
        ),
        Op::IncidentOverride(i, r) => {
            let rule = pick(rules::ALL, r).0;
            (
                incident_override(
                    &incident_where(s, i, |_| true),
                    rule,
                    "supervisor's decision, logged",
                ),
                sup,
            )
        }
        Op::UserCreate { n, role, resource } => {
            let role = *pick(&Role::ALL, role);
            let r = res(resource);
            let linked = matches!(role, Role::Field) || resource.index(3) == 0;
            (
                user_create(&format!("user{n}"), role, linked.then_some(&r)),
                admin,
            )
        }
        Op::UserDisable(u) => (
            Command::UserDisable(cmd::UserDisable { user_id: usr(u) }),
            admin,
        ),
        Op::UserPassword(u) => (
            Command::UserPassword(cmd::UserPassword {
                user_id: usr(u),
                password: "new secret".into(),
                password_hash: Some(format!("$argon2id${}", s.seq)),
            }),
            admin,
        ),
        Op::ResourceRegister { team, skills } => {
            let team = *pick(&["north", "south", "central", "east"], team);
            let options: [&[&str]; 4] = [
                &["first_aid"],
                &["welfare", "driving"],
                &["security", "fire_warden", "electrical"],
                &[],
            ];
            let mut cmd =
                resource_register(&format!("Unit {}", s.seq), team, *pick(&options, skills));
            if let Command::ResourceRegister(cmd::ResourceRegister { resource_type, .. }) = &mut cmd
            {
                *resource_type = ResourceType::ALL[s.seq as usize % ResourceType::ALL.len()];
            }
            (cmd, admin)
        }
        Op::ResourceStatus(r, st) => {
            let id = res(r);
            let actor = carrier(s, &id).unwrap_or(desk);
            (resource_status(&id, *pick(ResourceStatus::ALL, st)), actor)
        }
        Op::ResourceLocate(r, lat, lon) => (resource_locate(&res(r), *lat, *lon), desk),
        Op::AssignmentCreate {
            incident,
            resource,
            reason,
            checklist,
        } => {
            // Smart: an assessed open incident and an available resource with the
            // skills its type requires.
            let i = incident_where(s, incident, |x| open(x) && x.priority.is_some());
            let needs = s
                .incidents
                .get(&i)
                .and_then(|x| w.engine.centre.incident_type(&x.incident_type))
                .map(|t| t.required_skills.clone())
                .unwrap_or_default();
            let fit: Vec<ResourceId> = s
                .resources
                .values()
                .filter(|x| x.status == ResourceStatus::Available)
                .filter(|x| needs.iter().all(|n| x.has_skill(n)))
                .map(|x| x.id.clone())
                .collect();
            let r = resource
                .smart
                .then(|| choose(fit, &resource.i))
                .flatten()
                .unwrap_or_else(|| res(&resource.i));
            let mut cmd = assignment_create(&i, &r, reason.then_some("closest unit"));
            if let (Some(list), Command::AssignmentCreate(cmd::AssignmentCreate { actions, .. })) =
                (checklist, &mut cmd)
            {
                *actions = Some(
                    list.iter()
                        .enumerate()
                        .map(|(n, required)| ActionSpec {
                            text: format!("Step {n}"),
                            required: *required,
                        })
                        .collect(),
                );
            }
            (cmd, desk)
        }
        Op::Acknowledge(a) => {
            let id = assignment_where(s, a, |x| x.status == AssignmentStatus::Notified);
            (acknowledge(&id), crew_of(s, &id))
        }
        Op::Decline(a) => {
            let id = assignment_where(s, a, active);
            (decline(&id, "cannot attend"), crew_of(s, &id))
        }
        Op::Progress(a, st) => {
            let id = assignment_where(s, a, |x| {
                active(x) && x.status != AssignmentStatus::Notified
            });
            let status = *pick(
                &[
                    AssignmentStatus::EnRoute,
                    AssignmentStatus::OnScene,
                    AssignmentStatus::Completed,
                    AssignmentStatus::EnRoute,
                    AssignmentStatus::OnScene,
                    AssignmentStatus::Completed,
                    AssignmentStatus::Acknowledged,
                ],
                st,
            );
            (progress(&id, status), crew_of(s, &id))
        }
        Op::ActionDone(a, n) => {
            let id = assignment_where(s, a, |x| x.actions.iter().any(|y| y.done_at.is_none()));
            let count = s.assignments.get(&id).map_or(1, |a| a.actions.len() + 1);
            (
                action_done(&id, &format!("act_{}", n.index(count) + 1)),
                crew_of(s, &id),
            )
        }
        Op::ActionUndone(a, n) => {
            let id = assignment_where(s, a, |x| x.actions.iter().any(|y| y.done_at.is_some()));
            let count = s.assignments.get(&id).map_or(1, |a| a.actions.len() + 1);
            (
                action_undone(
                    &id,
                    &format!("act_{}", n.index(count) + 1),
                    "ticked by mistake",
                ),
                crew_of(s, &id),
            )
        }
        Op::AssignmentCancel(a) => (
            assignment_cancel(&assignment_where(s, a, active), "stood down"),
            desk,
        ),
        Op::Checkin(a, ok) => {
            let id = assignment_where(s, a, active);
            (checkin(&id, *ok), crew_of(s, &id))
        }
        Op::Broadcast {
            audience,
            target,
            ack,
        } => {
            let audience = match audience.index(6) {
                0 => Audience::All,
                5 => Audience::Field,
                1 => {
                    Audience::Team(pick(&["north", "south", "central", "west"], target).to_string())
                }
                2 => Audience::Incident(nth(&s.incidents, target, "inc_0")),
                3 => Audience::Resource(res(target)),
                _ => Audience::User(usr(target)),
            };
            (broadcast(audience, "Attention please", *ack), sup)
        }
        Op::MessageAck { message, who } => {
            let id = nth(&s.messages, message, "msg_0");
            let actor = s
                .messages
                .get(&id)
                .filter(|m| !m.recipients.is_empty())
                .map(|m| actor_of(s, pick(&m.recipients, who)))
                .unwrap_or(desk);
            (message_ack(&id), actor)
        }
    }
}

fn run(ops: &[(Op, Who, u8)], midpoint: Index) -> Result<(), TestCaseError> {
    let mut w = World::demo();
    let seeded = w.log.len();
    // A little work already on the board, so early operations have targets.
    let op = w.actor("operator");
    for ty in ["medical_emergency", "road_hazard", "welfare_concern"] {
        w.open_assessed(&op, ty);
    }
    let first = w.state.incidents.keys().next().unwrap().clone();
    w.assign(&op, &first, &w.resource("rapid-response-1"));
    w.ok(&op, contact_receive("Caller waiting"));
    for (step, (op, who, dt)) in ops.iter().enumerate() {
        let (command, natural) = build(&w, op);
        let actor = match who {
            Who::Natural => natural,
            Who::Any(i) => {
                if i.index(12) == 0 {
                    intake_actor()
                } else {
                    actor_of(&w.state, &nth(&w.state.users, i, "usr_0"))
                }
            }
        };
        w.advance(*dt as i64);
        let before = w.state.clone();
        let log_len = w.log.len();
        let command_id = (step % 7 != 3).then(|| format!("p-{step}"));
        match w.submit(&actor, command_id, &command) {
            Ok(recs) => {
                prop_assert!(!recs.is_empty());
                prop_assert_eq!(recs[0].seq, before.seq + 1);
                prop_assert!(recs.windows(2).all(|p| p[1].seq == p[0].seq + 1));
            }
            Err(e) => {
                prop_assert_eq!(
                    &w.state,
                    &before,
                    "{} refused ({}) yet changed the state",
                    command.kind(),
                    e
                );
                prop_assert_eq!(w.log.len(), log_len);
                prop_assert!(
                    e.code() != "bad_request" && e.code() != "unavailable",
                    "{e:?}"
                );
            }
        }
        if let Err(problem) = check_invariants(&w.state) {
            return Err(TestCaseError::fail(format!(
                "after step {step} {op:?} ({}): {problem}",
                command.kind()
            )));
        }
    }
    prop_assert_eq!(w.state.seq as usize, w.log.len());
    prop_assert!(w.log.len() >= seeded);

    // (a) The stored form (hash-chained JSON) replays to the live state.
    let stored = to_stored(&w.log);
    let replayed = replay_stored(State::default(), &stored);
    prop_assert_eq!(&replayed, &w.state, "replay of the stored log differs");

    // (b) A JSON snapshot at any point, plus the rest of the log, gives it too.
    let k = midpoint.index(stored.len() + 1);
    let head = replay_stored(State::default(), &stored[..k]);
    let json = serde_json::to_string(&head).expect("state serialises");
    let restored: State = serde_json::from_str(&json).expect("state deserialises");
    prop_assert_eq!(&restored, &head, "snapshot at {} does not round-trip", k);
    let resumed = replay_stored(restored, &stored[k..]);
    prop_assert_eq!(&resumed, &w.state, "snapshot at {} + replay differs", k);

    // (c) The chain verifies and ends at the last hash.
    let last = stored.last().unwrap();
    prop_assert_eq!(
        chain::check(0, chain::GENESIS.to_string(), &stored),
        Ok((last.seq, last.hash.clone()))
    );
    // ... and an edited body breaks it at that event.
    let mut tampered = stored.clone();
    let at = midpoint.index(tampered.len());
    tampered[at].body.push(' ');
    prop_assert_eq!(
        chain::check(0, chain::GENESIS.to_string(), &tampered),
        Err(tampered[at].seq)
    );

    // (d) The same log as a hub before schema versions wrote it (creation events with
    // whole objects) verifies, and replays through the upcaster to the same state.
    let old = to_stored_v1(&w.log);
    prop_assert!(old.iter().all(|e| e.v == 1));
    prop_assert!(chain::check(0, chain::GENESIS.to_string(), &old).is_ok());
    prop_assert_eq!(
        &replay_stored(State::default(), &old),
        &w.state,
        "replay of the version 1 log differs"
    );
    Ok(())
}

/// What must hold after every command, whatever happened before.
fn check_invariants(s: &State) -> Result<(), String> {
    let mut active: std::collections::BTreeMap<ResourceId, BTreeSet<AssignmentId>> =
        Default::default();
    for a in s.assignments.values() {
        let i = s
            .incidents
            .get(&a.incident_id)
            .ok_or(format!("{} on unknown incident", a.id))?;
        if !i.assignment_ids.contains(&a.id) {
            return Err(format!("{} missing from {}", a.id, i.id));
        }
        if !s.resources.contains_key(&a.resource_id) {
            return Err(format!("{} on unknown resource", a.id));
        }
        if a.status.is_active() {
            active
                .entry(a.resource_id.clone())
                .or_default()
                .insert(a.id.clone());
            if i.status == IncidentStatus::Cancelled {
                return Err(format!("{} active on cancelled {}", a.id, i.id));
            }
        }
    }
    if active != s.active_by_resource {
        return Err(format!(
            "active_by_resource {:?} != {:?}",
            s.active_by_resource, active
        ));
    }
    for (r, set) in &active {
        if set.len() > 1 {
            return Err(format!("{r} holds {set:?}"));
        }
        if s.resources[r].status == ResourceStatus::Available {
            return Err(format!("{r} is available while on {set:?}"));
        }
    }
    for i in s.incidents.values() {
        if i.status == IncidentStatus::Dispatched
            && !i
                .assignment_ids
                .iter()
                .any(|a| s.assignments[a].status.is_active())
        {
            return Err(format!("{} dispatched with nobody on it", i.id));
        }
    }
    for m in s.messages.values() {
        if let Some(u) = m.acks.keys().find(|u| !m.recipients.contains(u)) {
            return Err(format!("{} acknowledged by non-recipient {u}", m.id));
        }
    }
    for c in s.contacts.values() {
        if let Some(i) = &c.incident_id
            && !s
                .incidents
                .get(i)
                .is_some_and(|i| i.contact_ids.contains(&c.id))
        {
            return Err(format!("{} linked to {i} but not listed there", c.id));
        }
    }
    for (name, id) in &s.usernames {
        if s.users.get(id).map(|u| u.username.to_lowercase()) != Some(name.clone()) {
            return Err(format!("username {name} does not match {id}"));
        }
    }
    Ok(())
}

proptest! {
    // 64 cases by default; PROPTEST_CASES=5000 for a deeper search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn live_state_equals_replay_of_the_stored_log(
        ops in prop::collection::vec((op(), who(), 0u8..90), 10..60),
        midpoint in any::<Index>(),
    ) {
        run(&ops, midpoint)?;
    }
}
