//! Rosters: shifts added and removed, the hub's duty changes at shift boundaries
//! (fired by `engine::timers::due` on the test world's manual clock), a resource busy
//! at its shift's end, and the recommendation's view of shifts.
//!
//! The pure engine against the shipped demo centre ([`muster_core::testing::World`]).

use chrono::{DateTime, Duration, Utc};

use muster_core::domain::ids::{ResourceId, ShiftId};
use muster_core::domain::resource::ResourceStatus;
use muster_core::engine::{Event, State, timers};

use muster_core::testing::*;

fn shift_id(recs: &[muster_core::engine::Record]) -> ShiftId {
    ShiftId(created(recs, "shift_id"))
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

/// Adds a shift as the supervisor, `from`..`to` hours from now.
fn add(w: &mut World, r: &ResourceId, from: i64, to: i64) -> ShiftId {
    let sup = w.actor("supervisor");
    let now = w.now;
    let recs = w.ok(&sup, roster_add(r, now + hours(from), now + hours(to)));
    shift_id(&recs)
}

fn status(w: &World, r: &ResourceId) -> ResourceStatus {
    w.state.resources[r].status
}

/// Moves the clock to `t` and fires what is due there: the roster's events and the
/// status changes (an incident's own timers run too, and are left out).
fn at(w: &mut World, t: DateTime<Utc>) -> Vec<Event> {
    w.now = t;
    events(&w.fire_timers())
        .into_iter()
        .filter(|e| {
            e.kind().as_str().starts_with("roster.")
                || matches!(e, Event::ResourceStatusChanged { .. })
        })
        .collect()
}

#[test]
fn the_hub_puts_a_resource_on_duty_at_its_shift_start_and_off_at_its_end() {
    let mut w = World::seeded();
    let sup = w.actor("supervisor");
    let r = w.resource_of("field1");
    // Sent home by hand before the roster existed.
    w.ok(&sup, resource_status(&r, ResourceStatus::OffDuty));
    let start = w.now + hours(1);
    let s = add(&mut w, &r, 1, 9);
    let added = w.state.shifts[&s].clone();
    assert_eq!((added.start, added.end), (start, start + hours(8)));

    // Nothing is due before the start.
    assert!(at(&mut w, start - Duration::seconds(1)).is_empty());
    assert_eq!(status(&w, &r), ResourceStatus::OffDuty);

    let fired = at(&mut w, start);
    assert_eq!(
        fired,
        [
            Event::RosterShiftStarted {
                shift_id: s.clone(),
                resource_id: r.clone()
            },
            Event::ResourceStatusChanged {
                resource_id: r.clone(),
                from: ResourceStatus::OffDuty,
                status: ResourceStatus::Available
            },
        ]
    );
    assert_eq!(status(&w, &r), ResourceStatus::Available);
    assert_eq!(w.state.shifts[&s].started_at, Some(start));
    // Fired once: the next tick finds nothing, and a second firing is refused.
    assert!(at(&mut w, start + Duration::seconds(1)).is_empty());
    let again = w
        .submit(
            &muster_core::engine::Actor::system(),
            Some("again".into()),
            &muster_core::engine::Command::TimerShiftStart(
                muster_core::engine::command::TimerShiftStart {
                    shift_id: s.clone(),
                },
            ),
        )
        .unwrap_err();
    assert_eq!(again.code(), "conflict");

    let end = start + hours(8);
    assert!(at(&mut w, end - Duration::seconds(1)).is_empty());
    let fired = at(&mut w, end);
    assert_eq!(
        fired,
        [
            Event::RosterShiftEnded {
                shift_id: s.clone(),
                resource_id: r.clone(),
                busy_on: None
            },
            Event::ResourceStatusChanged {
                resource_id: r.clone(),
                from: ResourceStatus::Available,
                status: ResourceStatus::OffDuty
            },
        ]
    );
    assert_eq!(status(&w, &r), ResourceStatus::OffDuty);
    assert_eq!(w.state.shifts[&s].ended_at, Some(end));
    assert!(timers::due(&w.state, &w.engine.centre, end + hours(1)).is_empty());

    // The log folds to the same state (what a restarted hub holds).
    let mut replayed = State::default();
    for rec in &w.log {
        replayed.apply(rec);
    }
    assert_eq!(replayed, w.state);
}

#[test]
fn a_resource_busy_at_its_shift_end_goes_off_duty_when_the_job_ends() {
    let mut w = World::with_dispatched_incident();
    let op = w.actor("operator");
    let r = w.resource_of("field1");
    let asg = w.assignment.clone();
    let s = add(&mut w, &r, -1, 1);
    let end = w.state.shifts[&s].end;
    w.fire_timers();
    assert_eq!(status(&w, &r), ResourceStatus::Assigned);

    // Not pulled off mid-job: the end is recorded with the job it found.
    let fired = at(&mut w, end);
    assert_eq!(
        fired,
        [Event::RosterShiftEnded {
            shift_id: s.clone(),
            resource_id: r.clone(),
            busy_on: Some(asg.clone())
        }]
    );
    assert_eq!(status(&w, &r), ResourceStatus::Assigned);

    // The job ends: off duty, not available.
    let recs = w.ok(&op, assignment_cancel(&asg, "stood down"));
    assert!(events(&recs).contains(&Event::ResourceStatusChanged {
        resource_id: r.clone(),
        from: ResourceStatus::Assigned,
        status: ResourceStatus::OffDuty
    }));
    assert_eq!(status(&w, &r), ResourceStatus::OffDuty);
}

#[test]
fn a_resource_without_shifts_keeps_its_status_by_hand() {
    let mut w = World::with_dispatched_incident();
    let op = w.actor("operator");
    let r = w.resource_of("field1");
    // Another resource's shifts change nothing for this one.
    let other = w.resource_of("field2");
    add(&mut w, &other, -1, 1);
    w.advance(3 * 3600);
    w.fire_timers();
    w.ok(&op, assignment_cancel(&w.assignment.clone(), "stood down"));
    assert_eq!(status(&w, &r), ResourceStatus::Available);
    assert_eq!(status(&w, &other), ResourceStatus::OffDuty);
}

#[test]
fn back_to_back_shifts_keep_the_resource_on() {
    let mut w = World::seeded();
    let sup = w.actor("supervisor");
    let r = w.resource_of("field1");
    let t0 = w.now + Duration::seconds(1);
    let handover = t0 + hours(8);
    let first = shift_id(&w.ok(&sup, roster_add(&r, t0, handover)));
    let second = shift_id(&w.ok(&sup, roster_add(&r, handover, handover + hours(8))));
    w.fire_timers();
    let fired = at(&mut w, handover);
    assert_eq!(
        fired,
        [
            Event::RosterShiftEnded {
                shift_id: first,
                resource_id: r.clone(),
                busy_on: None
            },
            Event::RosterShiftStarted {
                shift_id: second,
                resource_id: r.clone()
            },
        ]
    );
    assert_eq!(status(&w, &r), ResourceStatus::Available);
}

#[test]
fn shifts_that_overlap_run_backwards_or_too_long_are_refused() {
    let mut w = World::seeded();
    let sup = w.actor("supervisor");
    let admin = w.actor("admin");
    let r = w.resource_of("field1");
    let s = add(&mut w, &r, 1, 9);
    let now = w.now;

    let e = w.err(&admin, roster_add(&r, now + hours(8), now + hours(12)));
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains(s.as_str()), "{e}");

    let e = w.err(&sup, roster_add(&r, now + hours(12), now + hours(11)));
    assert_eq!(e.code(), "validation_failed");
    assert_eq!(e.to_string(), "end: must be after start");

    let e = w.err(&sup, roster_add(&r, now + hours(12), now + hours(37)));
    assert_eq!(e.to_string(), "end: a shift is at most 24 hours long");

    let e = w.err(&sup, roster_add(&r, now - hours(9), now - hours(1)));
    assert_eq!(e.to_string(), "end: the shift would already have ended");

    let e = w.err(
        &sup,
        roster_add(
            &ResourceId("res_404".into()),
            now + hours(1),
            now + hours(2),
        ),
    );
    assert_eq!(e.code(), "not_found");

    // The operator may not roster.
    let op = w.actor("operator");
    assert_eq!(
        w.err(&op, roster_add(&r, now + hours(20), now + hours(22)))
            .code(),
        "forbidden"
    );
    // Back to back and another resource's at the same time are fine.
    w.ok(&admin, roster_add(&r, now + hours(9), now + hours(17)));
    let other = w.resource_of("field2");
    w.ok(&admin, roster_add(&other, now + hours(1), now + hours(9)));
}

#[test]
fn removing_a_shift_under_way_ends_it_and_an_ended_one_stays() {
    let mut w = World::seeded();
    let sup = w.actor("supervisor");
    let r = w.resource_of("field1");
    let upcoming = add(&mut w, &r, 10, 12);
    let recs = w.ok(&sup, roster_remove(&upcoming));
    assert_eq!(kinds(&recs), ["roster.shift_removed"]);
    assert!(!w.state.shifts.contains_key(&upcoming));

    let current = add(&mut w, &r, -1, 4);
    w.fire_timers();
    let recs = w.ok(&sup, roster_remove(&current));
    assert_eq!(
        kinds(&recs),
        [
            "roster.shift_ended",
            "resource.status_changed",
            "roster.shift_removed"
        ]
    );
    assert_eq!(status(&w, &r), ResourceStatus::OffDuty);

    let past = add(&mut w, &r, 0, 1);
    let later = w.now + hours(1);
    at(&mut w, later);
    let e = w.err(&sup, roster_remove(&past));
    assert_eq!(e.code(), "conflict");
    assert_eq!(
        e.to_string(),
        format!("{past} has ended; it stays on record")
    );
    assert_eq!(
        w.err(&sup, roster_remove(&ShiftId("shf_404".into())))
            .code(),
        "not_found"
    );
}

#[test]
fn a_shift_missed_whole_while_the_hub_was_down_only_ends() {
    let mut w = World::seeded();
    let r = w.resource_of("field1");
    let s = add(&mut w, &r, 1, 2);
    let due = timers::due(&w.state, &w.engine.centre, w.now + hours(3));
    assert_eq!(
        due,
        [muster_core::engine::Command::TimerShiftEnd(
            muster_core::engine::command::TimerShiftEnd { shift_id: s }
        )]
    );
}

/// The ranking the console shows (`GET /api/incidents/{id}/recommendations`): the
/// roster's view at the world's clock.
fn ranked(
    w: &World,
    inc: &muster_core::domain::ids::IncidentId,
) -> Vec<muster_core::domain::recommend::Recommendation> {
    let centre = &w.engine.centre;
    let i = &w.state.incidents[inc];
    muster_core::domain::recommend::rank_on_roster(
        centre.incident_type(&i.incident_type).unwrap(),
        &i.location,
        w.state.resources.values(),
        &centre.speeds_kmh,
        &w.state.jobs_today(w.now),
        &timers::roster_for(&w.state, centre, i, w.now),
    )
}

fn ids(recs: &[muster_core::domain::recommend::Recommendation]) -> Vec<ResourceId> {
    recs.iter().map(|r| r.resource_id.clone()).collect()
}

#[test]
fn recommendations_prefer_resources_on_shift_flag_short_shifts_and_skip_ended_ones() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let inc = w.open_assessed(&op, "medical_emergency");
    // The P2 resolve target: two hours after opening.
    let target = w.state.incidents[&inc].opened_at + hours(2);
    assert_eq!(
        timers::resolve_by(&w.engine.centre, &w.state.incidents[&inc]),
        Some(target)
    );
    let before = ranked(&w, &inc);
    assert!(before.len() >= 3, "the demo has several first-aiders");
    assert!(before.iter().all(|r| r.shift_ends_at.is_none()));
    let (a, b, c) = (
        before[0].resource_id.clone(),
        before[1].resource_id.clone(),
        before[2].resource_id.clone(),
    );

    // a's shift ends in 30 minutes, before the target; c's runs past it.
    let sup = w.actor("supervisor");
    let now = w.now;
    w.ok(
        &sup,
        roster_add(&a, now - hours(1), now + Duration::minutes(30)),
    );
    w.ok(&sup, roster_add(&c, now - hours(1), now + hours(7)));
    w.fire_timers();
    let during = ranked(&w, &inc);
    let order = ids(&during);
    // On shift first: c (through the target), then a (ending before it); then b and
    // the others, who have no shifts.
    assert_eq!(order[..3], [c.clone(), a.clone(), b.clone()]);
    let ra = during.iter().find(|r| r.resource_id == a).unwrap();
    assert_eq!(ra.shift_ends_at, Some(now + Duration::minutes(30)));
    let warning = ra.shift_warning.clone().expect("a's shift ends too soon");
    assert!(warning.starts_with("shift ends "), "{warning}");
    assert!(warning.contains("before the resolve target"), "{warning}");
    assert_eq!(ra.reasons.last(), Some(&warning));
    assert!(ra.summary.ends_with(&warning));
    let rc = &during[0];
    assert_eq!(rc.shift_warning, None);
    assert!(rc.reasons.iter().any(|r| r.starts_with("on shift until ")));

    // a's shift ends: off duty, and no longer recommended.
    let end = now + Duration::minutes(30);
    at(&mut w, end);
    assert_eq!(status(&w, &a), ResourceStatus::OffDuty);
    let after = ranked(&w, &inc);
    assert!(!ids(&after).contains(&a));
    assert!(ids(&after).contains(&b));

    // Made available by hand outside its shifts, it ranks last, saying so.
    w.ok(&sup, resource_status(&a, ResourceStatus::Available));
    let last = ranked(&w, &inc);
    assert_eq!(last.last().unwrap().resource_id, a);
    assert_eq!(
        last.last().unwrap().reasons.last().map(String::as_str),
        Some(muster_core::domain::recommend::OFF_SHIFT)
    );
}
