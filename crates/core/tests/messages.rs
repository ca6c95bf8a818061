//! Messages: who each audience reaches, as the writer judges visibility.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use std::collections::BTreeSet;

use muster_core::domain::ids::{MessageId, UserId};
use muster_core::domain::message::Audience;
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::visibility;
use muster_core::engine::{Command, Event};

use muster_core::testing::*;

#[test]
fn team_broadcast_reaches_the_teams_users() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let recs = w.ok(
        &op,
        broadcast(Audience::Team("north".into()), "Road closed at Angel", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let m = &w.state.messages[&msg];
    // North: Amara (field1), Ben (field2); its other resources have no user.
    let recipients: BTreeSet<UserId> = m.recipients.iter().cloned().collect();
    assert_eq!(
        recipients,
        BTreeSet::from([w.user_id("field1"), w.user_id("field2")])
    );
    assert_eq!(m.recipients.len(), 2);
    assert_eq!(m.sent_by, op.user_id);
    assert!(m.requires_ack);

    let seq = recs[0].seq;
    for (who, sees) in [
        ("field1", true),
        ("field2", true),
        ("field5", false),
        ("operator2", true),
        ("admin", true),
    ] {
        assert_eq!(w.sees(&w.viewer(who), seq), sees, "{who}");
    }

    let f1 = w.actor("field1");
    let f5 = w.actor("field5");
    let e = w.err(&f5, message_ack(&msg));
    assert_eq!(e.code(), "forbidden");
    assert_eq!(e.to_string(), format!("{msg} was not addressed to you"));
    let recs = w.ok(&f1, message_ack(&msg));
    assert_eq!(
        events(&recs),
        [Event::MessageAcknowledged {
            message_id: msg.clone(),
            user_id: f1.user_id.clone(),
        }]
    );
    assert_eq!(w.state.messages[&msg].acks[&f1.user_id], w.now);
    let e = w.err(&f1, message_ack(&msg));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), format!("{msg} is already acknowledged"));
}

#[test]
fn broadcast_to_all_reaches_everyone_but_the_sender() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let gone = w.user_id("field8");
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: gone.clone(),
        }),
    );
    let recs = w.ok(
        &sup,
        broadcast(Audience::All, "Shift change in 10 minutes", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let recipients: BTreeSet<UserId> = w.state.messages[&msg].recipients.iter().cloned().collect();
    let expected: BTreeSet<UserId> = w
        .state
        .users
        .keys()
        .filter(|u| **u != sup.user_id && **u != gone)
        .cloned()
        .collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(recipients, expected);
    let seq = recs[0].seq;
    assert!(w.sees(&w.viewer("field5"), seq));
    assert!(!w.sees(&viewer_of(&intake_actor()), seq));
    // Admins and field users acknowledge; the sender cannot.
    w.ok(&admin, message_ack(&msg));
    w.ok(&w.actor("field5"), message_ack(&msg));
    assert_eq!(w.err(&sup, message_ack(&msg)).code(), "forbidden");
}

#[test]
fn direct_message_is_seen_by_sender_and_recipient_alone() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    let recs = w.ok(
        &sup,
        broadcast(
            Audience::User(op.user_id.clone()),
            "Ask whether 999 has been called",
            true,
        ),
    );
    let msg = MessageId(created(&recs, "message_id"));
    assert_eq!(w.state.messages[&msg].recipients, vec![op.user_id.clone()]);
    let seq = recs[0].seq;
    let v = visibility::of(&w.state, &recs[0]);
    assert!(!v.desk);
    assert!(v.allows(&viewer_of(&sup)));
    assert!(v.allows(&viewer_of(&op)));
    for who in ["operator2", "admin", "field1"] {
        assert!(!v.allows(&w.viewer(who)), "{who} must not see it");
        assert!(!w.sees(&w.viewer(who), seq), "{who}");
    }

    let e = w.err(&op2, message_ack(&msg));
    assert_eq!(e.code(), "forbidden");
    let recs = w.ok(&op, message_ack(&msg));
    let v = visibility::of(&w.state, &recs[0]);
    assert!(v.allows(&viewer_of(&sup)));
    assert!(v.allows(&viewer_of(&op)));
    assert!(!v.allows(&viewer_of(&op2)));
    let e = w.err(&op, message_ack(&msg));
    assert_eq!(e.code(), "conflict");
}

#[test]
fn incident_and_resource_broadcasts_reach_the_crews() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let r1 = w.resource_of("field1");
    let r5 = w.resource_of("field5");
    let inc = w.open_assessed(&op, "medical_emergency");
    let a1 = w.assign(&op, &inc, &r1);
    w.assign(&op, &inc, &r5);
    w.ok(&w.actor("field1"), decline(&a1, "flat tyre"));
    // Everyone ever sent to the incident hears about it.
    let recs = w.ok(
        &op,
        broadcast(
            Audience::Incident(inc.clone()),
            "Paramedics 2 min out",
            false,
        ),
    );
    let msg = MessageId(created(&recs, "message_id"));
    let recipients: BTreeSet<UserId> = w.state.messages[&msg].recipients.iter().cloned().collect();
    assert_eq!(
        recipients,
        BTreeSet::from([w.user_id("field1"), w.user_id("field5")])
    );
    assert!(w.state.timelines[&inc].contains(&recs[0].seq));
    let recs = w.ok(
        &op,
        broadcast(Audience::Resource(r5.clone()), "Call control", true),
    );
    let msg = MessageId(created(&recs, "message_id"));
    assert_eq!(w.state.messages[&msg].recipients, vec![w.user_id("field5")]);
    assert!(w.sees(&w.viewer("field5"), recs[0].seq));
    assert!(!w.sees(&w.viewer("field1"), recs[0].seq));
}

#[test]
fn broadcast_to_field_staff_reaches_every_enabled_field_user_and_no_desk() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let gone = w.user_id("field8");
    w.ok(
        &admin,
        Command::UserDisable(cmd::UserDisable {
            user_id: gone.clone(),
        }),
    );
    let recs = w.ok(&sup, broadcast(Audience::Field, "Bridge closed", true));
    let msg = MessageId(created(&recs, "message_id"));
    let recipients: BTreeSet<UserId> = w.state.messages[&msg].recipients.iter().cloned().collect();
    let expected: BTreeSet<UserId> = w
        .state
        .users
        .values()
        .filter(|u| u.role.is_field() && u.id != gone)
        .map(|u| u.id.clone())
        .collect();
    assert!(expected.len() >= 2, "the demo centre has field staff");
    assert_eq!(
        recipients, expected,
        "field staff only, the disabled left out"
    );
    assert!(!recipients.contains(&admin.user_id));
    assert!(!recipients.contains(&w.user_id("operator")));

    // Fixed when sent: a field user created afterwards is not counted.
    let r = w.resource("highways-patrol-3");
    w.ok(&admin, user_create("latecomer", Role::Field, Some(&r)));
    assert_eq!(w.state.messages[&msg].recipients.len(), expected.len());

    // The desk follows it, every recipient sees it; a newcomer does not.
    let seq = recs[0].seq;
    for who in ["field1", "field5", "operator2", "admin"] {
        assert!(w.sees(&w.viewer(who), seq), "{who}");
    }
    assert!(!w.sees(&w.viewer("latecomer"), seq));

    // Only recipients acknowledge: desks and the latecomer are refused.
    for who in ["admin", "operator", "latecomer"] {
        let e = w.err(&w.actor(who), message_ack(&msg));
        assert_eq!(e.code(), "forbidden", "{who}");
        assert_eq!(e.to_string(), format!("{msg} was not addressed to you"));
    }
    let recs = w.ok(&w.actor("field1"), message_ack(&msg));
    // The sender and the desk see who acknowledged.
    assert!(w.sees(&w.viewer("supervisor"), recs[0].seq));
    assert!(w.sees(&w.viewer("operator"), recs[0].seq));
    assert_eq!(w.state.messages[&msg].acks.len(), 1);
}
