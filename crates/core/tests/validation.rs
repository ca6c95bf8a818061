//! Refusals that name what is wrong: validation errors name the field, unknown ids
//! are not found.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use serde_json::json;

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::geo::Location;
use muster_core::domain::ids::{
    AssignmentId, ContactId, IncidentId, MessageId, ResourceId, UserId,
};
use muster_core::domain::incident::rules;
use muster_core::domain::message::Audience;
use muster_core::domain::resource::ResourceStatus;
use muster_core::domain::triage::{Priority, TriageMethod, Validity};
use muster_core::domain::user::Role;
use muster_core::engine::authz::Actor;
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Error};

use muster_core::testing::*;

#[test]
fn validation_errors_name_the_field() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let inc = w.open(&op, "medical_emergency");
    let con = ContactId(created(&w.ok(&op, contact_receive("x")), "contact_id"));
    let car = w.resource("rapid-response-1");
    let asg = {
        let other = w.open_assessed(&op, "medical_emergency");
        w.assign(&op, &other, &car)
    };
    let long = "x".repeat(5_000);

    let mut no_summary = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { summary, .. }) = &mut no_summary {
        *summary = "  ".into();
    }
    let mut long_name = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { caller, .. }) = &mut long_name {
        caller.name = Some("n".repeat(501));
    }
    let mut half_point = contact_receive("ok");
    if let Command::ContactReceive(cmd::ContactReceive { location, .. }) = &mut half_point {
        *location = Some(Location {
            text: None,
            lat: Some(51.5),
            lon: None,
            place_id: None,
        });
    }
    let mut no_description = incident_open("medical_emergency", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { description, .. }) = &mut no_description {
        description.clear();
    }
    let mut nowhere = incident_open("medical_emergency", None);
    if let Command::IncidentOpen(cmd::IncidentOpen { location, .. }) = &mut nowhere {
        *location = Location::default();
    }
    let mut no_priority = assess_manual(&inc, Priority::P2, "because");
    if let Command::IncidentAssess(cmd::IncidentAssess { priority, .. }) = &mut no_priority {
        *priority = None;
    }
    let mut matrix_half = assess_matrix(&inc, "minor", "low");
    if let Command::IncidentAssess(cmd::IncidentAssess { urgency, .. }) = &mut matrix_half {
        *urgency = None;
    }
    let field_without_resource = user_create("field99", Role::Field, None);
    let assessed = w.open_assessed(&op, "medical_emergency");
    let amara = w.resource("amara-okafor");

    let cases: Vec<(&Actor, Command, &str)> = vec![
        (&op, no_summary, "summary"),
        (&op, long_name, "caller.name"),
        (&op, half_point, "location"),
        (&op, contact_close(&con, ""), "outcome"),
        (&op, incident_open("alien_landing", None), "type"),
        (&op, no_description, "description"),
        (&op, nowhere, "location"),
        (
            &op,
            incident_answer(&inc, &[("breathing", json!("maybe"))]),
            "answers.breathing",
        ),
        (
            &op,
            incident_answer(&inc, &[("bleeding", json!("lots"))]),
            "answers.bleeding",
        ),
        (
            &op,
            incident_answer(&inc, &[("colour", json!("red"))]),
            "answers.colour",
        ),
        (&op, incident_answer(&inc, &[]), "answers"),
        (&op, assess_manual(&inc, Priority::P2, ""), "reason"),
        (&op, assess_manual(&inc, Priority::P2, &long), "reason"),
        (&op, no_priority, "priority"),
        (&op, matrix_half, "impact"),
        (&op, assess_matrix(&inc, "cosmic", "low"), "impact"),
        (
            &op,
            assess(
                &inc,
                Validity::Duplicate,
                None,
                TriageMethod::Manual,
                "same",
            ),
            "duplicate_of",
        ),
        (&op, incident_note(&inc, ""), "text"),
        (&op, incident_note(&inc, &long), "text"),
        (&op, incident_reopen(&inc, ""), "reason"),
        (&op, incident_cancel(&inc, ""), "reason"),
        (
            &sup,
            incident_override(&inc, rules::REQUIRED_SKILLS, "short"),
            "justification",
        ),
        (
            &admin,
            user_create("No Spaces!", Role::Operator, None),
            "username",
        ),
        (&admin, user_create("ab", Role::Operator, None), "username"),
        (&admin, field_without_resource, "resource_id"),
        (&admin, resource_register("", "north", &[]), "name"),
        (&admin, resource_register("Van", " ", &[]), "team"),
        (
            &admin,
            resource_register("Van", "north", &["ok", ""]),
            "skills[1]",
        ),
        (&op, resource_locate(&car, 91.0, 0.0), "lat"),
        (&op, resource_locate(&car, 0.0, f64::NAN), "lat"),
        (
            &op,
            assignment_with_actions(&assessed, &amara, &[("Fine", true), ("", false)]),
            "actions[1].text",
        ),
        (&op, assignment_cancel(&asg, ""), "reason"),
        (&op, broadcast(Audience::All, " ", false), "text"),
        (&op, broadcast(Audience::All, &long, false), "text"),
    ];
    for (actor, command, field) in cases {
        let kind = command.kind();
        let e = w.err(actor, command);
        assert_eq!(e.code(), "validation_failed", "{kind} {field}: {e}");
        assert!(
            e.to_string().starts_with(&format!("{field}:")),
            "{kind}: {e:?} should name {field}"
        );
        match e {
            Error::ValidationFailed { field: f, .. } => assert_eq!(f, field, "{kind}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn unknown_ids_are_not_found() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let admin = w.actor("admin");
    let f1 = w.actor("field1");
    let inc = w.open_assessed(&op, "medical_emergency");
    let con = ContactId(created(&w.ok(&op, contact_receive("x")), "contact_id"));
    let amara = w.resource("amara-okafor");
    let no_con = ContactId("con_404".into());
    let no_inc = IncidentId("inc_404".into());
    let no_res = ResourceId("res_404".into());
    let no_asg = AssignmentId("asg_404".into());
    let no_msg = MessageId("msg_404".into());
    let no_usr = UserId("usr_404".into());
    let mut dup = assess(
        &inc,
        Validity::Duplicate,
        None,
        TriageMethod::Manual,
        "same",
    );
    if let Command::IncidentAssess(cmd::IncidentAssess { duplicate_of, .. }) = &mut dup {
        *duplicate_of = Some(no_inc.clone());
    }
    let cases: Vec<(&Actor, Command, &str)> = vec![
        (&op, contact_take(&no_con), "contact con_404"),
        (&op, contact_close(&no_con, "done"), "contact con_404"),
        (&op, contact_link(&no_con, &inc), "contact con_404"),
        (&op, contact_link(&con, &no_inc), "incident inc_404"),
        (
            &op,
            incident_open("road_hazard", Some(&no_con)),
            "contact con_404",
        ),
        (&op, incident_note(&no_inc, "hello"), "incident inc_404"),
        (&op, incident_resolve(&no_inc), "incident inc_404"),
        (&op, incident_close(&no_inc), "incident inc_404"),
        (&op, incident_cancel(&no_inc, "x"), "incident inc_404"),
        (
            &op,
            assess_manual(&no_inc, Priority::P1, "x"),
            "incident inc_404",
        ),
        (&op, dup, "incident inc_404"),
        (
            &op,
            assignment_create(&no_inc, &amara, None),
            "incident inc_404",
        ),
        (
            &op,
            assignment_create(&inc, &no_res, None),
            "resource res_404",
        ),
        (&op, acknowledge(&no_asg), "assignment asg_404"),
        (
            &op,
            progress(&no_asg, AssignmentStatus::EnRoute),
            "assignment asg_404",
        ),
        (&op, checkin(&no_asg, true), "assignment asg_404"),
        (&f1, checkin(&no_asg, true), "assignment asg_404"),
        (&f1, incident_note(&no_inc, "x"), "incident inc_404"),
        (
            &op,
            resource_status(&no_res, ResourceStatus::OffDuty),
            "resource res_404",
        ),
        (&op, resource_locate(&no_res, 1.0, 1.0), "resource res_404"),
        (&op, message_ack(&no_msg), "message msg_404"),
        (
            &admin,
            Command::UserDisable(cmd::UserDisable {
                user_id: no_usr.clone(),
            }),
            "user usr_404",
        ),
        (
            &admin,
            user_create("newfield", Role::Field, Some(&no_res)),
            "resource res_404",
        ),
        (
            &op,
            broadcast(Audience::Incident(no_inc.clone()), "hi", false),
            "incident inc_404",
        ),
        (
            &op,
            broadcast(Audience::Resource(no_res.clone()), "hi", false),
            "resource res_404",
        ),
        (
            &op,
            broadcast(Audience::User(no_usr.clone()), "hi", false),
            "user usr_404",
        ),
        (
            &op,
            broadcast(Audience::Team("west".into()), "hi", false),
            "team west",
        ),
    ];
    for (actor, command, what) in cases {
        let kind = command.kind();
        let e = w.err(actor, command);
        assert_eq!(e.code(), "not_found", "{kind}: {e}");
        assert_eq!(e.to_string(), format!("{what} not found"), "{kind}");
    }
}
