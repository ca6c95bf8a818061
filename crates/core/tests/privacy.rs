//! Privacy rights through the pure engine: finding a data subject, erasing their data
//! (refused under legal hold unless overridden), the retention sweep, and the fold
//! that blanks exactly the personal fields while the review's KPIs stay as they were.

mod stored;

use chrono::Duration;
use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::case::{CaseOutcome, CaseType};
use muster_core::domain::ids::{AssignmentId, CaseId, ContactId, IncidentId};
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, Event, Record, State};
use muster_core::privacy::subject::{self, Kind};
use muster_core::privacy::{Category, ERASED, RecordRef, RecordType, erase, retention};
use muster_core::projection::review::{self, GroupBy};
use muster_core::testing::*;
use stored::{replay_stored, to_stored};

/// A dispatched incident with a caller linked to it, a note on it, and the caller's
/// contact closed: `(contact, incident, assignment)`.
fn world_with_caller() -> (World, ContactId, IncidentId, AssignmentId) {
    let mut w = World::with_dispatched_incident();
    let op = w.actor("operator");
    let recs = w.ok(
        &op,
        contact_receive("Smoke in the stairwell, my neighbour Ann"),
    );
    let con = ContactId(created(&recs, "contact_id"));
    let inc = w.incident.clone();
    w.ok(&op, contact_take(&con));
    w.ok(&op, contact_link(&con, &inc));
    w.ok(
        &op,
        incident_note(&inc, "Caller Jo says the door code is 1234"),
    );
    w.ok(&op, contact_close(&con, "linked"));
    let asg = w.assignment.clone();
    (w, con, inc, asg)
}

/// Works the assignment to completion and closes the incident.
fn close_incident(w: &mut World, inc: &IncidentId, asg: &AssignmentId) {
    let field = w.actor("field1");
    w.ok(&field, acknowledge(asg));
    w.ok(&field, progress(asg, AssignmentStatus::EnRoute));
    w.ok(&field, progress(asg, AssignmentStatus::OnScene));
    let actions: Vec<String> = w.state.assignments[asg]
        .actions
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for a in &actions {
        w.ok(&field, action_done(asg, a));
    }
    w.ok(&field, progress(asg, AssignmentStatus::Completed));
    let op = w.actor("operator");
    w.ok(&op, incident_resolve(inc));
    w.ok(&op, incident_close(inc));
}

fn erase(subject_id: &str, justification: Option<&str>) -> Command {
    Command::PrivacyErase(cmd::PrivacyErase {
        subject_id: subject_id.into(),
        reason: "the caller asked to be forgotten".into(),
        r#override: justification.is_some(),
        justification: justification.map(str::to_string),
    })
}

fn sweep(now: chrono::DateTime<chrono::Utc>) -> Command {
    Command::PrivacySweep(cmd::PrivacySweep { now })
}

#[test]
fn search_finds_a_caller_by_phone_whatever_the_spacing_and_lists_their_records() {
    let (mut w, con, inc, asg) = world_with_caller();
    let found = subject::search(&w.state, "020 7946-0000");
    let caller: Vec<_> = found.iter().filter(|s| s.kind == Kind::Caller).collect();
    assert_eq!(caller.len(), 1, "{found:?}");
    assert_eq!(caller[0].subject_id, format!("caller:{con}"));
    assert_eq!(caller[0].label, "Jo Caller");
    let reference = w.state.incidents[&inc].reference.clone();
    assert_eq!(
        caller[0].records,
        vec![
            RecordRef::new(RecordType::Contact, con.as_str()),
            RecordRef {
                reference: Some(reference),
                ..RecordRef::new(RecordType::Incident, inc.as_str())
            },
            RecordRef::new(RecordType::Assignment, asg.as_str()),
        ]
    );
    // By name (any case), staff by username; too short a query finds nobody.
    assert!(
        subject::search(&w.state, "jo caller")
            .iter()
            .any(|s| s.kind == Kind::Caller)
    );
    let staff = subject::search(&w.state, "FIELD1");
    assert_eq!(staff.len(), 1);
    assert_eq!(staff[0].kind, Kind::Staff);
    assert!(subject::search(&w.state, "jo").is_empty());

    // The search is logged with its count, never its text.
    let admin = w.actor("admin");
    let recs = w.ok(
        &admin,
        Command::PrivacySearch(cmd::PrivacySearch {
            q: "7946 0000".into(),
        }),
    );
    assert_eq!(events(&recs), [Event::PrivacySearched { matches: 1 }]);
    assert!(
        !serde_json::to_string(&recs[0].event)
            .unwrap()
            .contains("7946")
    );
    // Only admins may.
    let op = w.actor("operator");
    assert_eq!(
        w.err(
            &op,
            Command::PrivacySearch(cmd::PrivacySearch { q: "7946".into() })
        )
        .code(),
        "forbidden"
    );
}

#[test]
fn export_holds_the_subjects_data_in_clear_and_its_reading_is_logged_with_a_purpose() {
    let (mut w, con, _, _) = world_with_caller();
    let subject = format!("caller:{con}").parse().unwrap();
    let doc = subject::export(&w.state, &subject).unwrap();
    assert_eq!(
        doc["held"]["contacts"][0]["caller"]["phone"],
        "+44 20 7946 0000"
    );
    assert_eq!(
        doc["held"]["incidents"][0]["notes"][0]["text"],
        "Caller Jo says the door code is 1234"
    );
    assert_eq!(doc["holds"][0], w.incident.as_str());
    let admin = w.actor("admin");
    let access = |purpose: &str| {
        Command::PrivacyAccess(cmd::PrivacyAccess {
            subject_id: format!("caller:{con}"),
            purpose: purpose.into(),
        })
    };
    let e = w.err(&admin, access(""));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("purpose"), "{e}");
    let recs = w.ok(&admin, access("subject access request"));
    assert_eq!(
        events(&recs),
        [Event::PrivacyAccessed {
            subject_id: format!("caller:{con}"),
            purpose: "subject access request".into()
        }]
    );
    let e = w.err(
        &admin,
        Command::PrivacyAccess(cmd::PrivacyAccess {
            subject_id: "caller:con_999".into(),
            purpose: "x".into(),
        }),
    );
    assert_eq!(e.code(), "not_found");
}

#[test]
fn erasure_is_refused_under_legal_hold_and_allowed_with_an_override() {
    let (mut w, con, inc, _) = world_with_caller();
    let admin = w.actor("admin");
    let subject_id = format!("caller:{con}");
    let e = w.err(&admin, erase(&subject_id, None));
    assert_eq!(e.code(), "legal_hold");
    assert_eq!(e.code().status(), 409);
    assert!(e.to_string().contains(inc.as_str()), "{e}");
    // An override needs its justification.
    let mut no_reason = erase(&subject_id, Some("x"));
    if let Command::PrivacyErase(c) = &mut no_reason {
        c.justification = None;
    }
    assert_eq!(w.err(&admin, no_reason).code(), "validation_failed");
    let recs = w.ok(&admin, erase(&subject_id, Some("court order 123")));
    match &recs[0].event {
        Event::PrivacyErased {
            subject_id: s,
            categories,
            r#override,
            justification,
            records,
            ..
        } => {
            assert_eq!(s, &subject_id);
            assert_eq!(categories, &[Category::CallerDetails, Category::FreeText]);
            assert!(*r#override);
            assert_eq!(justification.as_deref(), Some("court order 123"));
            assert_eq!(records.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.state.contacts[&con].caller.name.as_deref(), Some(ERASED));
    // A field user may not; nor anyone on a subject that does not exist.
    let f = w.actor("field1");
    assert_eq!(w.err(&f, erase(&subject_id, None)).code(), "forbidden");
    assert_eq!(
        w.err(&admin, erase("caller:con_404", None)).code(),
        "not_found"
    );
    assert_eq!(
        w.err(&admin, erase("visitor:x", None)).code(),
        "validation_failed"
    );
}

#[test]
fn erasure_blanks_exactly_the_personal_fields_and_keeps_the_kpis() {
    let (mut w, con, inc, asg) = world_with_caller();
    close_incident(&mut w, &inc, &asg);
    let before = w.state.clone();
    let from = start_time() - Duration::days(1);
    let to = w.now + Duration::days(1);
    let kpis_before = review::compute(&w.engine.centre, &w.log, from, to, GroupBy::Channel);

    let admin = w.actor("admin");
    let recs = w.ok(&admin, erase(&format!("caller:{con}"), None));
    let scopes = erase::scopes(&recs[0].event, &w.state);
    assert_eq!(
        scopes,
        [
            format!("contact:{con}/caller_details"),
            format!("contact:{con}/free_text"),
            format!("incident:{inc}/free_text"),
            format!("assignment:{asg}/free_text"),
        ]
    );

    let c = &w.state.contacts[&con];
    assert_eq!(c.caller.name.as_deref(), Some(ERASED));
    assert_eq!(c.caller.phone.as_deref(), Some(ERASED));
    assert_eq!(c.caller.email, None, "absent stays absent");
    assert_eq!(c.summary, ERASED);
    assert_eq!(c.location.as_ref().unwrap().text.as_deref(), Some(ERASED));
    // Coarse coordinates and every operational field stay.
    assert_eq!(
        c.location.as_ref().unwrap().lat,
        before.contacts[&con].location.as_ref().unwrap().lat
    );
    assert_eq!(c.status, before.contacts[&con].status);
    assert_eq!(c.closed_at, before.contacts[&con].closed_at);
    let i = &w.state.incidents[&inc];
    assert_eq!(i.description, ERASED);
    assert_eq!(i.notes[0].text, ERASED);
    assert_eq!(i.notes[0].at, before.incidents[&inc].notes[0].at);
    assert_eq!(i.summary.as_deref(), Some(ERASED));
    assert_eq!(i.status, before.incidents[&inc].status);
    assert_eq!(i.priority, before.incidents[&inc].priority);
    // Nothing else changed: put the erased fields back and the states are equal.
    let mut restored = w.state.clone();
    restored
        .contacts
        .insert(con.clone(), before.contacts[&con].clone());
    restored
        .incidents
        .insert(inc.clone(), before.incidents[&inc].clone());
    restored
        .assignments
        .insert(asg.clone(), before.assignments[&asg].clone());
    restored.privacy = before.privacy.clone();
    restored.seq = before.seq;
    restored.results = before.results.clone();
    restored.result_order = before.result_order.clone();
    restored.timelines = before.timelines.clone();
    assert_eq!(restored, before);
    assert!(w.state.privacy.is_erased(
        &RecordRef::new(RecordType::Contact, con.as_str()),
        Category::CallerDetails
    ));

    let kpis_after = review::compute(&w.engine.centre, &w.log, from, to, GroupBy::Channel);
    assert_eq!(kpis_after, kpis_before);

    // The caller is no longer found by what was erased.
    assert!(subject::search(&w.state, "7946 0000").is_empty());

    // Events read back from the log read as erased too (timelines, evidence packs).
    let mut opened = w
        .log
        .iter()
        .find(|r| matches!(&r.event, Event::IncidentOpened { incident, .. } if incident.id == inc))
        .unwrap()
        .clone();
    let mut received = w
        .log
        .iter()
        .find(|r| matches!(&r.event, Event::ContactReceived { contact } if contact.id == con))
        .unwrap()
        .clone();
    erase::redact(&mut opened, &w.state.privacy);
    erase::redact(&mut received, &w.state.privacy);
    match (&opened.event, &received.event) {
        (Event::IncidentOpened { incident, .. }, Event::ContactReceived { contact }) => {
            assert_eq!(incident.description, ERASED);
            assert_eq!(contact.caller.phone.as_deref(), Some(ERASED));
            assert_eq!(contact.summary, ERASED);
        }
        other => panic!("{other:?}"),
    }

    // Replay from the stored log gives the same state.
    let replayed = replay_stored(State::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
}

#[test]
fn staff_erasure_removes_name_contact_details_locations_and_push() {
    let mut w = World::with_dispatched_incident();
    let f = w.actor("field1");
    let res = w.resource_of("field1");
    w.ok(&f, resource_locate(&res, 51.51, -0.12));
    assert!(w.state.resources[&res].location.is_some());
    assert_eq!(w.state.privacy.location_days[&res].len(), 1);
    let admin = w.actor("admin");
    let staff = format!("staff:{}", f.user_id);
    // The field user's assignment is on an open incident.
    assert_eq!(w.err(&admin, erase(&staff, None)).code(), "legal_hold");
    let recs = w.ok(&admin, erase(&staff, Some("left; tribunal cleared")));
    assert_eq!(w.state.users[&f.user_id].name, ERASED);
    assert!(w.state.resources[&res].location.is_none());
    assert!(!w.state.privacy.location_days.contains_key(&res));
    let scopes = erase::scopes(&recs[0].event, &w.state);
    assert!(
        scopes.contains(&format!("resource:{res}/staff_locations/")),
        "{scopes:?}"
    );
    assert!(scopes.contains(&format!("user:{}/staff_details", f.user_id)));
    assert!(scopes.contains(&format!("assignment:{}/checkin_notes/", w.assignment)));
    // The username (an operational login) stays, so the account still works.
    assert_eq!(w.state.users[&f.user_id].username, "field1");
}

#[test]
fn the_sweep_erases_what_is_due_and_nothing_open() {
    let (mut w, con, inc, asg) = world_with_caller();
    // A second caller whose incident stays open.
    let op = w.actor("operator");
    let recs = w.ok(&op, contact_receive("Another caller"));
    let open_con = ContactId(created(&recs, "contact_id"));
    let open_inc = w.open_incident("Still going", place());
    w.ok(&op, contact_take(&open_con));
    w.ok(&op, contact_link(&open_con, &open_inc));
    w.ok(&op, contact_close(&open_con, "linked"));
    // A closed complaint and a staff location ping.
    let recs = w.ok(&op, case_open(CaseType::Query, None, "Why so slow?"));
    let case = CaseId(created(&recs, "case_id"));
    w.ok(&op, case_respond(&case, "We were busy"));
    w.ok(&op, case_close(&case, CaseOutcome::Answered, None));
    let f = w.actor("field1");
    let res = w.resource_of("field1");
    w.ok(&f, resource_locate(&res, 51.51, -0.12));
    close_incident(&mut w, &inc, &asg);
    let closed_at = w.now;

    // Nothing is due yet.
    let sys = Actor::system();
    let e = w.err(&sys, sweep(w.now));
    assert_eq!(e.code(), "conflict");
    let r = &w.engine.centre.privacy.retention;
    assert_eq!(
        (r.staff_locations, r.caller_details, r.cases),
        (30, 2555, 2190)
    );

    // 31 days on: the staff locations of that day go, nothing else.
    w.now += Duration::days(31);
    let recs = w.ok(&sys, sweep(w.now));
    match events(&recs).as_slice() {
        [
            Event::PrivacySwept {
                category,
                retention_days,
                before,
                records,
            },
        ] => {
            assert_eq!(*category, Category::StaffLocations);
            assert_eq!(*retention_days, 30);
            assert_eq!(
                *before,
                (w.now - Duration::days(30))
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc()
            );
            assert_eq!(
                records,
                &[RecordRef::new(RecordType::Resource, res.as_str())]
            );
            let scopes = erase::scopes(&recs[0].event, &w.state);
            assert_eq!(
                scopes,
                [format!(
                    "resource:{res}/staff_locations/{}",
                    start_time().format("%Y-%m-%d")
                )]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(w.state.resources[&res].location.is_none());
    assert_eq!(w.err(&sys, sweep(w.now)).code(), "conflict", "swept once");

    // Six years on: the case; seven years after the close: the callers' data, but not
    // the caller whose incident is still open.
    w.now = closed_at + Duration::days(2555) + Duration::seconds(1);
    let recs = w.ok(&sys, sweep(w.now));
    let swept: Vec<(Category, Vec<RecordRef>)> = events(&recs)
        .into_iter()
        .map(|e| match e {
            Event::PrivacySwept {
                category, records, ..
            } => (category, records),
            other => panic!("{other:?}"),
        })
        .collect();
    let contact = RecordRef::new(RecordType::Contact, con.as_str());
    assert_eq!(
        swept,
        [
            (Category::CallerDetails, vec![contact.clone()]),
            (
                Category::FreeText,
                vec![
                    contact,
                    RecordRef::new(RecordType::Incident, inc.as_str()),
                    RecordRef::new(RecordType::Assignment, asg.as_str()),
                ]
            ),
            (
                Category::Cases,
                vec![RecordRef::new(RecordType::Case, case.as_str())]
            ),
        ]
    );
    assert_eq!(w.state.contacts[&con].caller.name.as_deref(), Some(ERASED));
    assert_eq!(w.state.incidents[&inc].description, ERASED);
    assert_eq!(w.state.cases[&case].text, ERASED);
    assert_eq!(
        w.state.contacts[&open_con].caller.name.as_deref(),
        Some("Jo Caller")
    );
    assert_eq!(w.state.incidents[&open_inc].description, "Still going");
    let replayed = replay_stored(State::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
}

#[test]
fn the_sweep_is_the_hubs_alone_and_never_runs_ahead_of_the_clock() {
    let mut w = World::seeded();
    let admin = w.actor("admin");
    assert_eq!(w.err(&admin, sweep(w.now)).code(), "forbidden");
    let later = w.now + Duration::days(1);
    assert_eq!(
        w.err(&Actor::system(), sweep(later)).code(),
        "validation_failed"
    );
}

#[test]
fn retention_settings_are_validated() {
    let mut centre = demo_centre();
    assert!(muster_core::domain::procedure::validate(&centre).is_empty());
    centre.privacy.retention.staff_locations = retention::MAX_DAYS + 1;
    centre.privacy.retention.staff_details = 7;
    let paths: Vec<String> = muster_core::domain::procedure::validate(&centre)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        [
            "privacy.retention.staff_locations",
            "privacy.retention.staff_details"
        ]
    );
    let parsed: retention::Policy = toml::from_str("[retention]\nstaff_locations = 14\n").unwrap();
    assert_eq!(parsed.retention.staff_locations, 14);
    assert_eq!(
        parsed.retention.caller_details, 2555,
        "defaults for the rest"
    );
    assert!(toml::from_str::<retention::Policy>("[retention]\nshoe_sizes = 1\n").is_err());
}

#[test]
fn erased_and_swept_events_keep_their_wire_shape() {
    let e: Event = serde_json::from_str(
        r#"{"kind":"privacy.erased","subject_id":"caller:con_1","records":[{"type":"contact","id":"con_1"},{"type":"incident","id":"inc_2","reference":"2026-0001"}],"categories":["caller_details","free_text"],"reason":"asked"}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"kind":"privacy.erased","subject_id":"caller:con_1","records":[{"type":"contact","id":"con_1"},{"type":"incident","id":"inc_2","reference":"2026-0001"}],"categories":["caller_details","free_text"],"reason":"asked"}"#
    );
    let s = r#"{"kind":"privacy.swept","category":"staff_locations","retention_days":30,"before":"2026-03-02T00:00:00.000Z","records":[{"type":"resource","id":"res_1"}]}"#;
    let e: Event = serde_json::from_str(s).unwrap();
    assert_eq!(serde_json::to_string(&e).unwrap(), s);
    let _unused: Option<Record> = None;
}
