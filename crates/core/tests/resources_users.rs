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

#[test]
fn a_location_ping_is_a_fact_and_an_erased_one_leaves_the_position_alone() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let unit = w.resource("rapid-response-1");
    let recs = w.ok(&op, resource_locate(&unit, 51.5, -0.12));
    let body = serde_json::to_value(&recs[0].event).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"kind": "resource.located", "resource_id": unit, "lat": 51.5, "lon": -0.12})
    );
    let at = recs[0].at;
    let position = w.state.resources[&unit].location.clone().unwrap();
    assert_eq!((position.lat, position.lon, position.at), (51.5, -0.12, at));
    // The same ping with its coordinates erased (`null`): the fold keeps the position.
    let mut erased = recs[0].clone();
    erased.seq = w.state.seq + 1;
    erased.at = at + chrono::Duration::seconds(5);
    erased.event = serde_json::from_value(serde_json::json!(
        {"kind": "resource.located", "resource_id": unit, "lat": null, "lon": null}
    ))
    .unwrap();
    assert!(matches!(
        erased.event,
        Event::ResourceLocated {
            lat: None,
            lon: None,
            ..
        }
    ));
    w.state.apply(&erased);
    assert_eq!(w.state.resources[&unit].location, Some(position));
}

/// A single sign-on account: created without a password, linked to its provider and
/// subject (one account per identity), the subject sealed personal data.
#[test]
fn a_single_sign_on_account_is_linked_to_one_identity() {
    use muster_core::domain::user::{Identity, identity_key};
    let mut w = World::demo();
    let system = muster_core::engine::Actor::system();
    let sso = |username: &str, subject: &str| {
        Command::UserCreate(cmd::UserCreate {
            username: username.into(),
            role: Role::Supervisor,
            password: String::new(),
            name: Some("Sam Super".into()),
            resource_id: None,
            identity: Some(Identity {
                provider: "corp".into(),
                subject: subject.into(),
            }),
            password_hash: None,
        })
    };
    let recs = w.ok(&system, sso("sam.super", "sub-1"));
    let id = UserId(created(&recs, "user_id"));
    assert_eq!(w.state.identities[&identity_key("corp", "sub-1")], id);
    assert_eq!(w.state.users[&id].role, Role::Supervisor);
    // Clients never see the subject: the copy they are sent has no identity.
    let sent = recs[0].event.redacted().expect("the identity is removed");
    assert!(!serde_json::to_string(&sent).unwrap().contains("sub-1"));
    // The same person again: refused, whatever the username.
    let e = w.err(&system, sso("sam.two", "sub-1"));
    assert_eq!(e.code(), "conflict");
    // Another person at the same provider is another account.
    w.ok(&system, sso("sam.other", "sub-2"));
    // Without an identity, a password (hashed by the hub) is still required.
    let mut plain = user_create("nopass", Role::Operator, None);
    if let Command::UserCreate(c) = &mut plain {
        c.password_hash = None;
    }
    assert_eq!(w.err(&system, plain).code(), "validation_failed");
    // The subject is personal data: sealed (staff details of the user's record).
    let personal = muster_core::privacy::classify::personal_at(
        muster_core::engine::EventKind::UserCreated,
        "/user/identity/subject",
    );
    assert!(personal.is_some(), "the subject is classified personal");
}
