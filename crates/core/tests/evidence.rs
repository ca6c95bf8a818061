//! Evidence on a support plan (`support.attach_evidence` → `support.evidence_attached`):
//! a trainee's exercise debrief, attached by a supervisor or an admin to that trainee's
//! plan, validated, folded into the plan and seen only by those who see the plan.

mod stored;

use serde_json::json;

use muster_core::domain::ids::PlanId;
use muster_core::domain::support::MAX_FIGURES_BYTES;
use muster_core::engine::{Command, Event};
use muster_core::testing::*;
use stored::{replay_stored, to_stored};

fn world_with_plan() -> (World, PlanId) {
    let mut w = World::demo();
    let sup = w.actor("supervisor");
    let operator = w.user_id("operator");
    let recs = w.ok(&sup, support_propose(&operator, &["intake"], "coaching"));
    (w, PlanId(created(&recs, "plan_id")))
}

/// The evidence command with its evidence changed by `tweak`.
fn attach_with(
    w: &World,
    plan: &PlanId,
    tweak: impl FnOnce(&mut muster_core::domain::support::Evidence),
) -> Command {
    let mut c = support_attach_evidence(plan, &w.user_id("operator"), 85);
    if let Command::SupportAttachEvidence(a) = &mut c {
        tweak(&mut a.evidence);
    }
    c
}

#[test]
fn a_supervisor_attaches_a_trainees_debrief_to_their_plan() {
    let (mut w, plan) = world_with_plan();
    let sup = w.actor("supervisor");
    let operator = w.user_id("operator");
    let recs = w.ok(&sup, support_attach_evidence(&plan, &operator, 85));
    assert_eq!(kinds(&recs), ["support.evidence_attached"]);
    let Event::SupportEvidenceAttached { plan_id, evidence } = &recs[0].event else {
        unreachable!()
    };
    assert_eq!(plan_id, &plan);
    assert_eq!(evidence.score, Some(85));
    let p = &w.state.plans[&plan];
    assert_eq!(p.evidence.len(), 1);
    let e = &p.evidence[0];
    assert_eq!(e.evidence.trainee_id, operator);
    assert_eq!(e.evidence.summary, "Busy evening: 85/100");
    assert_eq!(e.attached_by, sup.user_id);
    assert_eq!(e.attached_at, w.now);
    // The read model's JSON: the evidence's fields, flat, with who and when.
    let json = serde_json::to_value(&p.evidence).unwrap();
    assert_eq!(json[0]["kind"], "exercise_debrief");
    assert_eq!(json[0]["score"], 85);
    assert_eq!(json[0]["figures"]["answer"]["count"], 4);
    assert_eq!(json[0]["attached_by"], sup.user_id.0);
    // An admin may attach too (another exercise).
    let admin = w.actor("admin");
    w.ok(
        &admin,
        attach_with(&w, &plan, |e| e.scenario = "quiet-night".into()),
    );
    assert_eq!(w.state.plans[&plan].evidence.len(), 2);
    // The log replays to the same plan, sealed fields and all.
    let replayed = replay_stored(Default::default(), &to_stored(&w.log));
    assert_eq!(replayed.plans[&plan], w.state.plans[&plan]);
}

#[test]
fn evidence_is_refused_when_it_does_not_fit_the_plan_or_its_shape() {
    let (mut w, plan) = world_with_plan();
    let sup = w.actor("supervisor");
    let op = w.actor("operator");
    // Operators (the trainee included) and field users may not attach it.
    let c = attach_with(&w, &plan, |_| {});
    assert_eq!(w.err(&op, c.clone()).code(), "forbidden");
    assert_eq!(w.err(&w.actor("field1"), c).code(), "forbidden");
    // Someone else's debrief.
    let other = w.user_id("operator2");
    let e = w.err(&sup, attach_with(&w, &plan, |e| e.trainee_id = other));
    assert_eq!(e.code(), "validation_failed");
    assert!(e.to_string().starts_with("evidence.trainee_id:"), "{e}");
    // No such plan.
    let e = w.err(
        &sup,
        support_attach_evidence(&PlanId("plan_999".into()), &w.user_id("operator"), 85),
    );
    assert_eq!(e.code(), "not_found");
    // Shape.
    for (field, tweak) in [
        (
            "evidence.score",
            Box::new(|e: &mut muster_core::domain::support::Evidence| e.score = Some(101))
                as Box<dyn FnOnce(&mut muster_core::domain::support::Evidence)>,
        ),
        ("evidence.score", Box::new(|e| e.score = None)),
        ("evidence.scenario", Box::new(|e| e.scenario = " ".into())),
        (
            "evidence.summary",
            Box::new(|e| e.summary = "x".repeat(501)),
        ),
        ("evidence.figures", Box::new(|e| e.figures = json!([1, 2]))),
        (
            "evidence.figures",
            Box::new(|e| e.figures = json!({"big": "x".repeat(MAX_FIGURES_BYTES)})),
        ),
    ] {
        let e = w.err(&sup, attach_with(&w, &plan, tweak));
        assert_eq!(e.code(), "validation_failed", "{field}: {e}");
        assert!(e.to_string().starts_with(&format!("{field}:")), "{e}");
    }
    // The same debrief twice.
    w.ok(&sup, attach_with(&w, &plan, |_| {}));
    assert_eq!(
        w.err(&sup, attach_with(&w, &plan, |_| {})).code(),
        "conflict"
    );
    // A reviewed plan takes no more.
    w.ok(&op, support_agree(&plan));
    w.ok(&sup, support_review(&plan, "done"));
    let e = w.err(
        &sup,
        attach_with(&w, &plan, |e| e.scenario = "other".into()),
    );
    assert_eq!(e.code(), "conflict");
}

#[test]
fn the_evidence_is_seen_by_the_plans_parties_and_supervisors_only() {
    let (mut w, plan) = world_with_plan();
    let sup = w.actor("supervisor");
    let recs = w.ok(
        &sup,
        support_attach_evidence(&plan, &w.user_id("operator"), 70),
    );
    let seq = recs[0].seq;
    assert!(w.sees(&w.viewer("operator"), seq));
    assert!(w.sees(&w.viewer("supervisor"), seq));
    assert!(!w.sees(&w.viewer("operator2"), seq));
    assert!(!w.sees(&w.viewer("field1"), seq));
}
