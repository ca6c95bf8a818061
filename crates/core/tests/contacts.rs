//! Contacts through commands: the lifecycle, and linking to incidents.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use muster_core::domain::contact::ContactStatus;
use muster_core::domain::ids::{ContactId, IncidentId};
use muster_core::engine::Command;

use muster_core::testing::*;

#[derive(Clone, Copy, Debug)]
enum ContactOp {
    Take,
    Close,
    Link,
    OpenFrom,
}

#[test]
fn contact_lifecycle() {
    use ContactOp::*;
    use ContactStatus::*;
    // (steps before, the step, Ok(status after) or Err((from, to)))
    let cases: Vec<(&[ContactOp], ContactOp, Result<ContactStatus, (&str, &str)>)> = vec![
        (&[], Take, Ok(Taken)),
        (&[], Close, Ok(Closed)),
        (&[], Link, Ok(Taken)),
        (&[], OpenFrom, Ok(Taken)),
        (&[Take], Close, Ok(Closed)),
        (&[Take], Link, Ok(Taken)),
        (&[Take], Take, Err(("taken", "taken"))),
        (&[Close], Take, Err(("closed", "taken"))),
        (&[Take, Close], Close, Err(("closed", "closed"))),
        (&[Close], Link, Err(("closed", "linked"))),
        (&[Close], OpenFrom, Err(("closed", "linked"))),
    ];
    for (before, step, expected) in cases {
        let mut w = World::demo();
        let op = w.actor("operator");
        let target = w.open_assessed(&op, "road_hazard");
        let recs = w.ok(&op, contact_receive("Tree down on Upper Street"));
        let con = ContactId(created(&recs, "contact_id"));
        assert_eq!(w.state.contacts[&con].status, Queued);
        let command = |s: ContactOp| -> Command {
            match s {
                Take => contact_take(&con),
                Close => contact_close(&con, "passed_to_highways"),
                Link => contact_link(&con, &target),
                OpenFrom => incident_open("road_hazard", Some(&con)),
            }
        };
        for &s in before {
            let c = command(s);
            w.ok(&op, c);
        }
        let c = command(step);
        let label = format!("{before:?} then {step:?}");
        match expected {
            Ok(status) => {
                let recs = w.ok(&op, c);
                let contact = &w.state.contacts[&con];
                assert_eq!(contact.status, status, "{label}");
                match step {
                    Take => assert_eq!(contact.taken_by.as_ref(), Some(&op.user_id)),
                    Close => {
                        assert_eq!(contact.outcome.as_deref(), Some("passed_to_highways"));
                        assert!(contact.closed_at.is_some());
                    }
                    Link => {
                        assert_eq!(contact.incident_id.as_ref(), Some(&target));
                        assert!(w.state.incidents[&target].contact_ids.contains(&con));
                        let expect: &[&str] = if before.is_empty() {
                            &["contact.taken", "contact.linked"]
                        } else {
                            &["contact.linked"]
                        };
                        assert_eq!(kinds(&recs), expect, "{label}");
                    }
                    OpenFrom => {
                        assert_eq!(
                            kinds(&recs),
                            ["incident.opened", "contact.taken", "contact.linked"]
                        );
                        let inc = IncidentId(created(&recs, "incident_id"));
                        assert_eq!(contact.incident_id.as_ref(), Some(&inc));
                        assert_eq!(w.state.incidents[&inc].contact_ids, vec![con.clone()]);
                    }
                }
            }
            Err((from, to)) => {
                let e = w.err(&op, c);
                assert_eq!(e.code(), "invalid_transition", "{label}");
                assert_eq!(
                    e.to_string(),
                    format!("contact cannot go from {from} to {to}"),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn linking_twice_to_the_same_incident_is_a_conflict() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let inc = w.open(&op, "road_hazard");
    let recs = w.ok(&op, contact_receive("Pothole again"));
    let con = ContactId(created(&recs, "contact_id"));
    w.ok(&op, contact_link(&con, &inc));
    let e = w.err(&op, contact_link(&con, &inc));
    assert_eq!(e.code(), "conflict");
    assert_eq!(e.to_string(), format!("{con} is already linked to {inc}"));
}

#[test]
fn relinking_a_contact_moves_it_between_incidents() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let con = ContactId(created(
        &w.ok(&op, contact_receive("smoke seen")),
        "contact_id",
    ));
    let first = w.open(&op, "fire_alarm");
    let second = w.open(&op, "fire_alarm");
    w.ok(&op, contact_link(&con, &first));
    w.ok(&op, contact_link(&con, &second));
    assert!(w.state.incidents[&first].contact_ids.is_empty());
    assert_eq!(w.state.incidents[&second].contact_ids, vec![con.clone()]);
    assert_eq!(w.state.contacts[&con].incident_id.as_ref(), Some(&second));
}
