//! The admin's changes to users and resources (issue 20): re-enable, update, link and
//! unlink, update a resource, retire it.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::domain::recommend;
use muster_core::domain::resource::{Coordinates, ResourceType};
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Event};

use muster_core::testing::*;

fn update(user: &UserId) -> cmd::UserUpdate {
    cmd::UserUpdate {
        user_id: user.clone(),
        name: None,
        role: None,
        resource_id: None,
    }
}

fn resource_update(r: &ResourceId) -> cmd::ResourceUpdate {
    cmd::ResourceUpdate {
        resource_id: r.clone(),
        name: None,
        resource_type: None,
        team: None,
        skills: None,
        home: None,
    }
}

#[test]
fn a_disabled_user_is_enabled_again() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let op = w.user_id("operator");
    let enable = || {
        Command::UserEnable(cmd::UserEnable {
            user_id: UserId("usr_x".into()),
        })
    };
    assert_eq!(w.err(&admin, enable()).code(), "not_found");
    let e = w.err(
        &admin,
        Command::UserEnable(cmd::UserEnable {
            user_id: op.clone(),
        }),
    );
    assert_eq!(e.code(), "conflict", "only a disabled user is enabled");
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: op.clone(),
        }),
    );
    let recs = w.ok(
        &admin,
        Command::UserEnable(cmd::UserEnable {
            user_id: op.clone(),
        }),
    );
    assert_eq!(kinds(&recs), ["user.enabled"]);
    assert!(!w.state.users[&op].disabled);
    // Only an admin.
    let sup = w.actor("supervisor");
    let e = w.err(&sup, Command::UserEnable(cmd::UserEnable { user_id: op }));
    assert_eq!(e.code(), "forbidden");
}

#[test]
fn an_update_records_only_what_changed() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let op = w.user_id("operator");
    let name = w.state.users[&op].name.clone();
    // The same name again, and nothing else: nothing to change.
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            name: Some(name),
            ..update(&op)
        }),
    );
    assert_eq!(e.to_string(), "user_id: nothing to change");
    let recs = w.ok(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            name: Some("Robin Shaw".into()),
            role: Some(Role::Operator),
            ..update(&op)
        }),
    );
    assert_eq!(
        events(&recs),
        [Event::UserUpdated {
            user_id: op.clone(),
            name: Some("Robin Shaw".into()),
            role: None,
            resource_id: None,
        }]
    );
    assert_eq!(w.state.users[&op].name, "Robin Shaw");
    let recs = w.ok(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            role: Some(Role::Supervisor),
            ..update(&op)
        }),
    );
    assert_eq!(kinds(&recs), ["user.updated"]);
    assert_eq!(w.state.users[&op].role, Role::Supervisor);
    // An empty name is refused at its field; an admin keeps their own role.
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            name: Some(" ".into()),
            ..update(&op)
        }),
    );
    assert!(e.to_string().starts_with("name:"), "{e}");
    let me = w.user_id("admin");
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            role: Some(Role::Operator),
            ..update(&me)
        }),
    );
    assert!(e.to_string().starts_with("role:"), "{e}");
}

#[test]
fn a_user_is_linked_moved_and_unlinked() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let recs = w.ok(
        &admin,
        resource_register("Spare Van", "south", &["driving"]),
    );
    let van = ResourceId(created(&recs, "resource_id"));
    let recs = w.ok(&admin, resource_register("Spare Bike", "south", &[]));
    let bike = ResourceId(created(&recs, "resource_id"));
    let field1 = w.user_id("field1");
    let old = w.resource_of("field1");

    // Moved from their resource to the van: both sides of both links follow.
    let recs = w.ok(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            resource_id: Some(Some(van.clone())),
            ..update(&field1)
        }),
    );
    assert_eq!(kinds(&recs), ["user.updated"]);
    assert_eq!(w.state.users[&field1].resource_id.as_ref(), Some(&van));
    assert_eq!(w.state.resources[&van].user_id.as_ref(), Some(&field1));
    assert_eq!(w.state.resources[&old].user_id, None);

    // A resource someone else carries is refused at the field.
    let field2 = w.user_id("field2");
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            resource_id: Some(Some(van.clone())),
            ..update(&field2)
        }),
    );
    assert!(e.to_string().starts_with("resource_id:"), "{e}");

    // A field user cannot be left without a resource; as an operator they can.
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            resource_id: Some(None),
            ..update(&field1)
        }),
    );
    assert!(e.to_string().starts_with("resource_id:"), "{e}");
    w.ok(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            role: Some(Role::Operator),
            resource_id: Some(None),
            ..update(&field1)
        }),
    );
    assert_eq!(w.state.users[&field1].resource_id, None);
    assert_eq!(w.state.resources[&van].user_id, None);

    // A retired resource cannot be linked.
    w.ok(
        &admin,
        Command::ResourceRetire(cmd::ResourceRetire {
            resource_id: bike.clone(),
        }),
    );
    let e = w.err(
        &admin,
        Command::UserUpdate(cmd::UserUpdate {
            resource_id: Some(Some(bike.clone())),
            ..update(&field1)
        }),
    );
    assert_eq!(e.code(), "conflict");
    let e = w.err(&admin, user_create("field99", Role::Field, Some(&bike)));
    assert_eq!(e.code(), "conflict");
}

#[test]
fn the_command_tells_absent_from_null() {
    let absent: Command =
        serde_json::from_str(r#"{"kind":"user.update","user_id":"usr_1","name":"Jo"}"#).unwrap();
    let null: Command =
        serde_json::from_str(r#"{"kind":"user.update","user_id":"usr_1","resource_id":null}"#)
            .unwrap();
    let set: Command =
        serde_json::from_str(r#"{"kind":"user.update","user_id":"usr_1","resource_id":"res_2"}"#)
            .unwrap();
    let rid = |c: &Command| match c {
        Command::UserUpdate(u) => u.resource_id.clone(),
        _ => unreachable!(),
    };
    assert_eq!(rid(&absent), None);
    assert_eq!(rid(&null), Some(None));
    assert_eq!(rid(&set), Some(Some(ResourceId("res_2".into()))));
    // The event keeps the difference through its stored form.
    let e = Event::UserUpdated {
        user_id: UserId("usr_1".into()),
        name: None,
        role: None,
        resource_id: Some(None),
    };
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"user.updated","user_id":"usr_1","resource_id":null}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
}

#[test]
fn a_resource_is_updated() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let recs = w.ok(
        &admin,
        resource_register("Spare Van", "south", &["driving"]),
    );
    let van = ResourceId(created(&recs, "resource_id"));
    let registered_at = w.state.resources[&van].location.clone().unwrap();
    assert_eq!(
        w.state.resources[&van].home,
        Some(Coordinates {
            lat: registered_at.lat,
            lon: registered_at.lon
        }),
        "home is where it was registered"
    );
    let e = w.err(
        &admin,
        Command::ResourceUpdate(cmd::ResourceUpdate {
            team: Some("south".into()),
            ..resource_update(&van)
        }),
    );
    assert_eq!(e.to_string(), "resource_id: nothing to change");
    let home = Coordinates {
        lat: 51.6,
        lon: -0.2,
    };
    let recs = w.ok(
        &admin,
        Command::ResourceUpdate(cmd::ResourceUpdate {
            name: Some("Van 2".into()),
            resource_type: Some(ResourceType::Vehicle),
            team: Some("north".into()),
            skills: Some(vec!["driving".into(), "first_aid".into()]),
            home: Some(home),
            ..resource_update(&van)
        }),
    );
    assert_eq!(kinds(&recs), ["resource.updated"]);
    let r = &w.state.resources[&van];
    assert_eq!(r.name, "Van 2");
    assert_eq!(r.resource_type, ResourceType::Vehicle);
    assert_eq!(r.team, "north");
    assert_eq!(r.skills, ["driving", "first_aid"]);
    assert_eq!(r.home, Some(home));
    // The last known position is the units' to report, not the admin's.
    assert_eq!(r.location, Some(registered_at));
    for (bad, field) in [
        (
            cmd::ResourceUpdate {
                team: Some("".into()),
                ..resource_update(&van)
            },
            "team:",
        ),
        (
            cmd::ResourceUpdate {
                skills: Some(vec!["".into()]),
                ..resource_update(&van)
            },
            "skills[0]:",
        ),
        (
            cmd::ResourceUpdate {
                home: Some(Coordinates {
                    lat: 91.0,
                    lon: 0.0,
                }),
                ..resource_update(&van)
            },
            "home:",
        ),
    ] {
        let e = w.err(&admin, Command::ResourceUpdate(bad));
        assert!(e.to_string().starts_with(field), "{e}");
    }
    let op = w.actor("operator");
    let e = w.err(
        &op,
        Command::ResourceUpdate(cmd::ResourceUpdate {
            name: Some("Mine".into()),
            ..resource_update(&van)
        }),
    );
    assert_eq!(e.code(), "forbidden");
}

#[test]
fn a_retired_resource_is_neither_recommended_nor_assignable() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let op = w.actor("operator");
    let medic = w.resource_of("field1");
    let incident = w.open_assessed(&op, "medical_emergency");
    let kind = w
        .engine
        .centre
        .incident_type("medical_emergency")
        .unwrap()
        .clone();
    let ranked = |w: &World| -> Vec<ResourceId> {
        let i = &w.state.incidents[&incident];
        recommend::rank(
            &kind,
            &i.location,
            w.state.resources.values(),
            &w.engine.centre.speeds_kmh,
            &Default::default(),
        )
        .into_iter()
        .map(|r| r.resource_id)
        .collect()
    };
    assert!(ranked(&w).contains(&medic), "recommended while in service");

    // Not while it is on a job.
    let other = w.open_assessed(&op, "medical_emergency");
    let a = w.assign(&op, &other, &medic);
    let retire = || {
        Command::ResourceRetire(cmd::ResourceRetire {
            resource_id: medic.clone(),
        })
    };
    assert_eq!(w.err(&admin, retire()).code(), "conflict");
    w.ok(&op, assignment_cancel(&a, "sent another"));

    let recs = w.ok(&admin, retire());
    assert_eq!(kinds(&recs), ["resource.retired"]);
    assert!(w.state.resources[&medic].retired, "kept, marked retired");
    assert!(!ranked(&w).contains(&medic), "never recommended");
    let e = w.err(&op, assignment_create(&incident, &medic, None));
    assert_eq!(e.code(), "conflict");
    assert_eq!(w.err(&admin, retire()).code(), "conflict", "retired once");
    let e = w.err(
        &admin,
        Command::ResourceUpdate(cmd::ResourceUpdate {
            name: Some("Back".into()),
            ..resource_update(&medic)
        }),
    );
    assert_eq!(e.code(), "conflict");
}
