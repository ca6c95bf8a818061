//! Queries and complaints, colleague support and improvement actions through the pure
//! engine: lifecycles and validation, and the review's KPIs and findings on a
//! hand-built log with known answers. The flows over a real server are in the muster
//! crate's tests/cases.rs.

mod stored;

use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::case::{CaseOutcome, CaseStatus, CaseType};
use muster_core::domain::ids::AssignmentId;
use muster_core::domain::ids::{CaseId, ContactId, ImprovementId, IncidentId, PlanId};
use muster_core::domain::improvement::ImprovementStatus;
use muster_core::domain::incident::rules;
use muster_core::domain::support::PlanStatus;
use muster_core::domain::triage::Priority;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command, Record};
use muster_core::projection::review::{self, GroupBy, Report};
use muster_core::testing::*;
use stored::{replay_stored, to_stored};

// ==================================================================================
// Engine: cases
// ==================================================================================

fn open_case(w: &mut World, incident: Option<&IncidentId>) -> CaseId {
    let op = w.actor("operator");
    let recs = w.ok(
        &op,
        case_open(CaseType::Complaint, incident, "Nobody came for an hour"),
    );
    CaseId(created(&recs, "case_id"))
}

#[test]
fn case_runs_open_assigned_responded_closed() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let inc = w.open_assessed(&op, "fire_alarm");
    let id = open_case(&mut w, Some(&inc));
    let c = &w.state.cases[&id];
    assert_eq!(c.status, CaseStatus::Open);
    assert_eq!(c.incident_ids, vec![inc.clone()]);
    assert_eq!(c.opened_by, op.user_id);
    let sup_id = sup.user_id.clone();
    assert_eq!(
        kinds(&w.ok(&op, case_assign(&id, &sup_id))),
        ["case.assigned"]
    );
    assert_eq!(w.state.cases[&id].assigned_to, Some(sup_id));
    w.ok(
        &sup,
        case_respond(&id, "We are sorry; the crew was delayed"),
    );
    assert_eq!(w.state.cases[&id].status, CaseStatus::Responded);
    w.ok(
        &sup,
        case_close(&id, CaseOutcome::Upheld, Some("late_dispatch")),
    );
    let c = &w.state.cases[&id];
    assert_eq!(c.status, CaseStatus::Closed);
    assert_eq!(c.outcome, Some(CaseOutcome::Upheld));
    assert_eq!(c.root_cause.as_deref(), Some("late_dispatch"));
    assert!(c.closed_at.is_some());
}

#[test]
fn case_lifecycle_and_validation_errors() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let id = open_case(&mut w, None);
    let e = w.err(&op, case_close(&id, CaseOutcome::Upheld, None));
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(e.to_string(), "case cannot go from open to closed");
    let field1 = w.user_id("field1");
    let e = w.err(&op, case_assign(&id, &field1));
    assert_eq!(e.code(), "validation_failed");
    let e = w.err(&op, case_respond(&id, "  "));
    assert_eq!(e.code(), "validation_failed");
    w.ok(&op, case_respond(&id, "Sorry"));
    let e = w.err(
        &op,
        case_close(&id, CaseOutcome::Upheld, Some("bad_weather")),
    );
    assert_eq!(e.code(), "validation_failed");
    assert!(
        e.to_string().starts_with("root_cause: must be one of"),
        "{e}"
    );
    let e = w.err(&op, case_close(&id, CaseOutcome::Answered, None));
    assert_eq!(e.code(), "validation_failed");
    w.ok(&op, case_close(&id, CaseOutcome::NotUpheld, None));
    let e = w.err(&op, case_respond(&id, "again"));
    assert_eq!(e.code(), "invalid_transition");
    let missing = CaseId("case_999".into());
    assert_eq!(w.err(&op, case_respond(&missing, "x")).code(), "not_found");
    let nowhere = IncidentId("inc_999".into());
    let e = w.err(&op, case_open(CaseType::Query, Some(&nowhere), "where?"));
    assert_eq!(e.code(), "not_found");
    let mut blank = case_open(CaseType::Query, None, "x");
    if let muster_core::engine::Command::CaseOpen(cmd::CaseOpen { from, .. }) = &mut blank {
        from.clear();
    }
    assert_eq!(w.err(&op, blank).code(), "validation_failed");
}

#[test]
fn a_case_from_a_contact_links_the_contacts_incident() {
    let mut w = World::demo();
    let op = w.actor("operator");
    let con = ContactId(created(&w.ok(&op, contact_receive("Smoke")), "contact_id"));
    let inc = IncidentId(created(
        &w.ok(&op, incident_open("fire_alarm", Some(&con))),
        "incident_id",
    ));
    let recs = w.ok(
        &op,
        muster_core::engine::Command::CaseOpen(cmd::CaseOpen {
            case_type: CaseType::Query,
            incident_id: None,
            contact_id: Some(con.clone()),
            from: "Jo".into(),
            text: "When will the alarm be reset?".into(),
            email: None,
        }),
    );
    let id = CaseId(created(&recs, "case_id"));
    assert_eq!(w.state.cases[&id].incident_ids, vec![inc]);
    assert_eq!(w.state.cases[&id].contact_id, Some(con));
    // A query may be answered straight away and closed as answered.
    w.ok(&op, case_respond(&id, "Tomorrow at nine"));
    w.ok(&op, case_close(&id, CaseOutcome::Answered, None));
}

#[test]
fn cases_are_seen_at_the_desk_only() {
    let mut w = World::demo();
    let id = open_case(&mut w, None);
    let seq = w.state.seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
    // The live feed agrees with the snapshot: admins get neither.
    assert!(!w.sees(&w.viewer("admin"), seq));
    let ids = |name: &str| {
        muster_core::projection::view::state_for(
            &w.state,
            &w.viewer(name),
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
        )["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("operator"), vec![id.0.clone()]);
    assert_eq!(ids("supervisor"), vec![id.0.clone()]);
    assert!(ids("admin").is_empty());
    assert!(ids("field1").is_empty());
}

#[test]
fn case_events_replay_to_the_same_state() {
    let mut w = World::demo();
    let id = open_case(&mut w, None);
    let op = w.actor("operator");
    w.ok(&op, case_respond(&id, "Sorry"));
    let replayed = replay_stored(Default::default(), &to_stored(&w.log));
    assert_eq!(replayed, w.state);
}

// ==================================================================================
// Engine: support plans
// ==================================================================================

fn propose(w: &mut World) -> PlanId {
    let sup = w.actor("supervisor");
    let operator = w.user_id("operator");
    let recs = w.ok(
        &sup,
        support_propose(&operator, &["intake", "communication"], "coaching"),
    );
    PlanId(created(&recs, "plan_id"))
}

#[test]
fn a_plan_is_active_only_once_the_colleague_agrees() {
    let mut w = World::demo();
    let id = propose(&mut w);
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Proposed);
    assert_eq!(p.proposed_by, w.user_id("supervisor"));
    assert_eq!(p.review_on, review_date(28));
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    // Neither the proposer nor another operator may agree for the colleague.
    assert_eq!(w.err(&sup, support_agree(&id)).code(), "forbidden");
    assert_eq!(w.err(&op2, support_agree(&id)).code(), "not_found");
    // Not active yet, so not reviewable.
    let e = w.err(&sup, support_review(&id, "done"));
    assert_eq!(
        e.to_string(),
        "support plan cannot go from proposed to reviewed"
    );
    let recs = w.ok(&op, support_agree(&id));
    assert_eq!(kinds(&recs), ["support.agreed"]);
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Active);
    assert_eq!(p.agreed_by, Some(op.user_id.clone()));
    assert_eq!(p.agreed_at, Some(w.now));
    assert!(p.proposed_at < w.now);
    assert_eq!(w.err(&op, support_agree(&id)).code(), "invalid_transition");
    // Notes by either party or a supervisor; not by another operator.
    w.ok(&op, support_note(&id, "Shadowed Sam on nights"));
    w.ok(&sup, support_note(&id, "Good progress"));
    assert_eq!(w.err(&op2, support_note(&id, "nosy")).code(), "not_found");
    assert_eq!(w.state.plans[&id].notes.len(), 2);
    // Review by the proposer (the colleague may not review their own plan).
    assert_eq!(w.err(&op, support_review(&id, "fine")).code(), "forbidden");
    w.ok(&sup, support_review(&id, "Confident on intake now"));
    let p = &w.state.plans[&id];
    assert_eq!(p.status, PlanStatus::Reviewed);
    assert_eq!(p.review_outcome.as_deref(), Some("Confident on intake now"));
}

#[test]
fn proposals_are_validated_against_the_centres_lists() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let operator = w.user_id("operator");
    let operator2 = w.user_id("operator2");
    let field1 = w.user_id("field1");
    let e = w.err(&sup, support_propose(&operator, &["cooking"], "coaching"));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("areas[0]: must be one of"), "{e}");
    let e = w.err(&sup, support_propose(&operator, &[], "coaching"));
    assert_eq!(e.code(), "validation_failed");
    let e = w.err(&sup, support_propose(&operator, &["intake"], "karaoke"));
    assert!(e.to_string().starts_with("support_type:"), "{e}");
    let e = w.err(&sup, support_propose(&field1, &["intake"], "coaching"));
    assert!(e.to_string().starts_with("colleague_id:"), "{e}");
    let mut past = support_propose(&operator, &["intake"], "coaching");
    if let muster_core::engine::Command::SupportPropose(cmd::SupportPropose { review_on, .. }) =
        &mut past
    {
        *review_on = review_date(-1);
    }
    assert!(w.err(&sup, past).to_string().starts_with("review_on:"));
    // An operator may ask for support for themselves, not for a colleague.
    let e = w.err(&op, support_propose(&operator2, &["intake"], "coaching"));
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &op,
        support_propose(&operator, &["systems"], "guidance_notes"),
    );
}

#[test]
fn plans_are_seen_by_the_parties_and_supervisors_only() {
    let mut w = World::demo();
    let id = propose(&mut w);
    let seq = w.state.seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor"), seq));
    assert!(!w.sees(&w.viewer("operator2"), seq));
    assert!(!w.sees(&w.viewer("admin"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
    let plans = |name: &str| {
        muster_core::projection::view::state_for(
            &w.state,
            &w.viewer(name),
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
        )["plans"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(plans("operator"), 1);
    assert_eq!(plans("supervisor"), 1);
    assert_eq!(plans("operator2"), 0);
    assert_eq!(plans("admin"), 0);
    let op = w.actor("operator");
    w.ok(&op, support_agree(&id));
    assert!(!w.sees(&w.viewer("operator2"), w.state.seq));
}

// ==================================================================================
// Engine: improvement actions
// ==================================================================================

#[test]
fn improvements_run_open_in_progress_done() {
    let mut w = World::demo();
    let plan = propose(&mut w);
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    let op2 = w.actor("operator2");
    let owner = w.user_id("operator");
    assert_eq!(
        w.err(&op, improvement_raise(&owner, &[], None)).code(),
        "forbidden"
    );
    let recs = w.ok(
        &sup,
        improvement_raise(&owner, &["resource_selection"], Some(&plan)),
    );
    let id = ImprovementId(created(&recs, "improvement_id"));
    let i = &w.state.improvements[&id];
    assert_eq!(i.status, ImprovementStatus::Open);
    assert_eq!(i.plan_id, Some(plan));
    assert_eq!(i.raised_by, sup.user_id);
    let e = w.err(&op, improvement_update(&id, ImprovementStatus::Done, None));
    assert_eq!(e.to_string(), "improvement cannot go from open to done");
    let e = w.err(
        &op2,
        improvement_update(&id, ImprovementStatus::InProgress, None),
    );
    assert_eq!(e.code(), "forbidden");
    w.ok(
        &op,
        improvement_update(&id, ImprovementStatus::InProgress, Some("Started")),
    );
    w.ok(&sup, improvement_update(&id, ImprovementStatus::Done, None));
    let i = &w.state.improvements[&id];
    assert_eq!(i.status, ImprovementStatus::Done);
    assert_eq!(i.history.len(), 2);
    assert_eq!(i.history[0].note.as_deref(), Some("Started"));
    let e = w.err(
        &sup,
        improvement_update(&id, ImprovementStatus::Dropped, None),
    );
    assert_eq!(e.code(), "invalid_transition");
}

#[test]
fn improvements_are_validated() {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let owner = w.user_id("operator");
    let e = w.err(&sup, improvement_raise(&owner, &["cooking"], None));
    assert!(e.to_string().starts_with("areas[0]:"), "{e}");
    let missing = PlanId("plan_999".into());
    let e = w.err(&sup, improvement_raise(&owner, &[], Some(&missing)));
    assert_eq!(e.code(), "not_found");
    let nobody = muster_core::domain::ids::UserId("usr_999".into());
    assert_eq!(
        w.err(&sup, improvement_raise(&nobody, &[], None)).code(),
        "not_found"
    );
    let mut late = improvement_raise(&owner, &[], None);
    if let muster_core::engine::Command::ImprovementRaise(cmd::ImprovementRaise {
        due_on,
        title,
        ..
    }) = &mut late
    {
        *due_on = review_date(-3);
        title.push('!');
    }
    assert!(w.err(&sup, late).to_string().starts_with("due_on:"));
    let missing = ImprovementId("imp_999".into());
    let e = w.err(
        &sup,
        improvement_update(&missing, ImprovementStatus::InProgress, None),
    );
    assert_eq!(e.code(), "not_found");
}

// ==================================================================================
// Review: KPIs on a hand-built log with known answers
// ==================================================================================

/// Runs `command` exactly `secs` after the previous command.
fn after(w: &mut World, secs: i64, actor: &Actor, command: Command) -> Vec<Record> {
    w.advance(secs - 1);
    w.ok(actor, command)
}

/// Five fire alarms answered after 10–50 s; the first reassessed up (P2 → P1), the
/// second down (P2 → P3); three dispatched 60, 100 and 200 s after the call and
/// acknowledged after 5, 30 and 90 s; the first on scene 115 s after it was notified;
/// one override; one upheld complaint and one query.
fn reviewed_world() -> World {
    let mut w = World::demo();
    let op = w.actor("operator");
    let sup = w.actor("supervisor");
    let answer = [10, 20, 30, 40, 50];
    let dispatch = [60, 100, 200];
    let ack = [5, 30, 90];
    let crews = ["amara-okafor", "rapid-response-1", "farah-nasser"];
    let mut incidents = Vec::new();
    for (k, a) in answer.into_iter().enumerate() {
        let con = ContactId(created(
            &after(&mut w, 1, &op, contact_receive("Alarm sounding")),
            "contact_id",
        ));
        after(&mut w, a, &op, contact_take(&con));
        let inc = IncidentId(created(
            &after(&mut w, 1, &op, incident_open("fire_alarm", Some(&con))),
            "incident_id",
        ));
        after(
            &mut w,
            1,
            &op,
            assess_manual(&inc, Priority::P2, "credible"),
        );
        let third = match k {
            0 => assess_manual(&inc, Priority::P1, "people trapped"),
            1 => assess_manual(&inc, Priority::P3, "drill confirmed"),
            _ => incident_note(&inc, "Caller still on the line"),
        };
        after(&mut w, 1, &op, third);
        if k < 3 {
            let res = w.resource(crews[k]);
            let d = dispatch[k] - a - 3;
            let recs = after(
                &mut w,
                d,
                &op,
                assignment_create(&inc, &res, Some("nearest")),
            );
            let asg = AssignmentId(created(&recs, "assignment_id"));
            after(&mut w, ack[k], &op, acknowledge(&asg));
            if k == 0 {
                after(&mut w, 10, &op, progress(&asg, AssignmentStatus::EnRoute));
                after(&mut w, 100, &op, progress(&asg, AssignmentStatus::OnScene));
            }
        }
        incidents.push(inc);
    }
    w.ok(
        &sup,
        incident_override(
            &incidents[3],
            rules::CLOSE_REQUIRES_ACTIONS,
            "checked by phone",
        ),
    );
    let case = CaseId(created(
        &w.ok(
            &op,
            case_open(CaseType::Complaint, Some(&incidents[0]), "Slow"),
        ),
        "case_id",
    ));
    w.ok(&op, case_respond(&case, "Sorry"));
    w.ok(
        &op,
        case_close(&case, CaseOutcome::Upheld, Some("late_dispatch")),
    );
    w.ok(&op, case_open(CaseType::Query, Some(&incidents[1]), "Why?"));
    w
}

fn report(w: &World, by: GroupBy) -> Report {
    let far = start_time() + chrono::Duration::days(365);
    review::compute(&w.engine.centre, &w.log, start_time(), far, by)
}

#[test]
fn kpis_by_type_have_the_known_figures() {
    let w = reviewed_world();
    let r = report(&w, GroupBy::Type);
    assert_eq!(r.groups.len(), 1, "{:#?}", r.groups);
    let g = &r.groups[0];
    assert_eq!(g.key, "fire_alarm");
    assert_eq!(g.contacts, 5);
    let i = &g.intervals;
    // Answer 10..50 s; targets by final priority: P1 10 ✓, P3 30 ✓, P2 15 ✗✗✗.
    assert_eq!(i.answer.count, 5);
    assert_eq!(i.answer.median_secs, Some(30));
    assert_eq!(i.answer.p90_secs, Some(50));
    assert_eq!(i.answer.within_target, Some(0.4));
    // Dispatch 60 (P1 ≤ 60 ✓), 100 (P3 ≤ 600 ✓), 200 (P2 ≤ 120 ✗).
    assert_eq!(i.dispatch.count, 3);
    assert_eq!(i.dispatch.median_secs, Some(100));
    assert_eq!(i.dispatch.p90_secs, Some(200));
    assert_eq!(i.dispatch.within_target, Some(2.0 / 3.0));
    // Acknowledge 5 (P1 ≤ 30 ✓), 30 (P3 ≤ 120 ✓), 90 (P2 ≤ 60 ✗).
    assert_eq!(i.acknowledge.median_secs, Some(30));
    assert_eq!(i.acknowledge.p90_secs, Some(90));
    assert_eq!(i.acknowledge.within_target, Some(2.0 / 3.0));
    // On scene 5 + 10 + 100 s after notification (P1 target 300 ✓).
    assert_eq!(i.arrive.count, 1);
    assert_eq!(i.arrive.median_secs, Some(115));
    assert_eq!(i.arrive.within_target, Some(1.0));
    assert_eq!(i.resolve.count, 0);
    assert_eq!(i.resolve.median_secs, None);
    assert_eq!(i.resolve.within_target, None);
    let manual = &g.reassessed["manual"];
    assert_eq!((manual.assessed, manual.up, manual.down), (5, 1, 1));
    assert_eq!(g.overrides, 1);
    assert_eq!(g.escalations, 0);
    assert_eq!(g.missed_checkins, 0);
    assert_eq!((g.complaints, g.upheld_complaints), (1, 1));
}

#[test]
fn kpis_group_by_priority_channel_and_operator() {
    let w = reviewed_world();
    let r = report(&w, GroupBy::Priority);
    let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["P1", "P2", "P3"]);
    let p2 = &r.groups[1];
    assert_eq!(p2.contacts, 3);
    assert_eq!(p2.intervals.answer.median_secs, Some(40));
    assert_eq!(p2.intervals.answer.within_target, Some(0.0));
    assert_eq!(r.groups[0].reassessed["manual"].up, 1);
    assert_eq!(r.groups[2].reassessed["manual"].down, 1);
    assert_eq!(r.groups[0].upheld_complaints, 1);
    let r = report(&w, GroupBy::Channel);
    assert_eq!(r.groups.len(), 1);
    assert_eq!(
        (r.groups[0].key.as_str(), r.groups[0].contacts),
        ("phone", 5)
    );
    let r = report(&w, GroupBy::Operator);
    assert_eq!(r.groups[0].key, w.user_id("operator").0);
    let r = report(&w, GroupBy::Team);
    assert!(r.groups.iter().any(|g| g.key == "none" && g.contacts == 2));
}

/// The demo centre with the rules' sample sizes shrunk to this small log.
fn small_sample_centre(w: &World, min: usize) -> muster_core::domain::procedure::Centre {
    let mut c = (*w.engine.centre).clone();
    c.review.slow_dispatch_min_incidents = min;
    c.review.under_triage_min_assessed = min;
    c.review.acknowledge_min_assignments = 1;
    c.review.upheld_min_complaints = 1;
    c
}

#[test]
fn findings_fire_on_the_known_figures() {
    let w = reviewed_world();
    let far = start_time() + chrono::Duration::days(365);
    let centre = small_sample_centre(&w, 3);
    let r = review::compute(&centre, &w.log, start_time(), far, GroupBy::Type);
    let op = w.user_id("operator").0;
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    // One operator dispatched all three: p90 200 s > 1.5 × the median of 100 s.
    let slow = &r.findings[0];
    assert_eq!(slow.id, format!("slow_dispatch:operator:{op}"), "{ids:?}");
    assert_eq!(
        (slow.value, slow.threshold, slow.baseline),
        (200.0, 150.0, Some(100.0))
    );
    assert_eq!(slow.samples, 3);
    // Manual: 1 of 5 made more urgent.
    let under = r
        .findings
        .iter()
        .find(|f| f.rule == "under_triage")
        .unwrap();
    assert_eq!(
        (under.key.as_str(), under.value, under.samples),
        ("manual", 0.2, 5)
    );
    // One policy watched all three acknowledgements; the P2 one (90 s against 60 s)
    // was late: 2 of 3 in time, below 90 %.
    let acks: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "acknowledge_compliance")
        .collect();
    assert_eq!(acks.len(), 1, "{ids:?}");
    assert_eq!((acks[0].value, acks[0].samples), (2.0 / 3.0, 3));
    let upheld = r.findings.last().unwrap();
    assert_eq!(
        (upheld.id.as_str(), upheld.value),
        ("upheld_complaints:centre:all", 1.0)
    );
    assert_eq!(r.findings.len(), 4, "{ids:?}");
    // With the demo's sample sizes, this small log finds nothing.
    let r = report(&w, GroupBy::Type);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // One incident more than were dispatched: slow_dispatch and under_triage hold back.
    let centre = small_sample_centre(&w, 6);
    let r = review::compute(&centre, &w.log, start_time(), far, GroupBy::Type);
    let rules: Vec<&str> = r.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["acknowledge_compliance", "upheld_complaints"]);
}

#[test]
fn the_period_bounds_what_is_counted() {
    let w = reviewed_world();
    let early = review::compute(
        &w.engine.centre,
        &w.log,
        start_time() - chrono::Duration::days(1),
        start_time(),
        GroupBy::Type,
    );
    assert!(early.groups.is_empty());
    let later = review::compute(
        &w.engine.centre,
        &w.log,
        w.now + chrono::Duration::seconds(1),
        w.now + chrono::Duration::days(1),
        GroupBy::Type,
    );
    assert!(later.groups.is_empty());
}

#[test]
fn kpis_export_as_csv() {
    let w = reviewed_world();
    let csv = review::to_csv(&report(&w, GroupBy::Type));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("key,contacts,answer_count,answer_median_secs"));
    assert!(lines[0].ends_with("complaints,upheld_complaints"));
    assert!(
        lines[1].starts_with("fire_alarm,5,5,30,50,0.4000,3,100,200,0.6667,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",1,1,0,0,1,1,1"), "{}", lines[1]);
}
