//! Users and resources, administered through commands.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::domain::resource::ResourceStatus;
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Event};

use muster_core::testing::*;

#[test]
fn users_and_resources_are_administered() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let recs = w.ok(
        &admin,
        resource_register("Spare Van", "south", &["driving"]),
    );
    let van = ResourceId(created(&recs, "resource_id"));
    assert_eq!(w.state.resources[&van].status, ResourceStatus::Available);
    let recs = w.ok(&admin, user_create("field9", Role::Field, Some(&van)));
    let id = UserId(created(&recs, "user_id"));
    assert_eq!(w.state.resources[&van].user_id.as_ref(), Some(&id));
    assert_eq!(w.state.usernames["field9"], id);
    let created_seq = w.state.users[&id].password_seq;
    assert_eq!(created_seq, recs[0].seq);
    // Usernames are unique, case-insensitively.
    let e = w.err(&admin, user_create("operator", Role::Operator, None));
    assert_eq!(e.code(), "conflict");
    let recs = w.ok(
        &admin,
        Command::UserPassword(cmd::UserPassword {
            user_id: id.clone(),
            password: "another one".into(),
            password_hash: Some("$argon2id$other".into()),
        }),
    );
    assert_eq!(kinds(&recs), ["user.password_changed"]);
    // A new password ends the sessions begun under the old one (sessions compare this).
    assert!(w.state.users[&id].password_seq > created_seq);
    // The hash is for the credential store: no event carries it.
    let json = serde_json::to_string(&recs[0].event).unwrap();
    assert!(!json.contains("argon2id"), "{json}");
    assert_eq!(
        recs[0].event,
        Event::UserPasswordChanged {
            user_id: id.clone()
        }
    );
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: id.clone(),
        }),
    );
    assert!(w.state.users[&id].disabled);
    let e = w.err(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: id.clone(),
        }),
    );
    assert_eq!(e.code(), "conflict");
    // A password the hub did not hash is refused.
    let e = w.err(
        &admin,
        Command::UserPassword(cmd::UserPassword {
            user_id: id,
            password: "plain".into(),
            password_hash: None,
        }),
    );
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("password:"));
}

#[test]
fn a_resource_carries_one_field_user() {
    let mut w = World::demo();
    let admin = w.actor("admin");
    let amara = w.resource_of("field1");
    let e = w.err(&admin, user_create("field1b", Role::Field, Some(&amara)));
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains("already carried by"), "{e}");
}
