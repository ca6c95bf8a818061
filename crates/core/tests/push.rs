//! Web Push subscriptions in the engine: validation that names the field, one user's
//! own subscriptions only, the per-user limit (the oldest replaced), the hub's own
//! removals (`gone`, `logged_out`), visibility to their user alone, and a state that
//! replays and snapshots the same.

use muster_core::domain::assignment::Via;
use muster_core::domain::ids::UserId;
use muster_core::domain::procedure::EscalationAction;
use muster_core::domain::push::{PushKeys, UnsubscribeReason};
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Code, Command, Engine, Event, State};
use muster_core::testing::*;

const EP: &str = "https://push.example/send/one";

fn endpoints(w: &World, user: &str) -> Vec<String> {
    w.state
        .push_subscriptions
        .get(&w.user_id(user))
        .map(|subs| subs.iter().map(|s| s.endpoint.clone()).collect())
        .unwrap_or_default()
}

fn subscribe_with(endpoint: &str, keys: PushKeys) -> Command {
    Command::PushSubscribe(cmd::PushSubscribe {
        endpoint: endpoint.into(),
        keys,
        session: None,
    })
}

fn system_unsubscribe(user: UserId, endpoint: &str, reason: UnsubscribeReason) -> Command {
    Command::PushUnsubscribe(cmd::PushUnsubscribe {
        endpoint: endpoint.into(),
        user_id: Some(user),
        reason: Some(reason),
    })
}

#[test]
fn a_user_subscribes_and_unsubscribes_their_own_browser() {
    let mut w = World::seeded();
    let f1 = w.actor("field1");
    let recs = w.ok(&f1, push_subscribe(EP));
    assert_eq!(
        events(&recs),
        [Event::PushSubscribed {
            user_id: w.user_id("field1"),
            endpoint: EP.into(),
            keys: push_keys(),
            session: None,
        }]
    );
    assert_eq!(endpoints(&w, "field1"), [EP]);
    // Again: not an error, still one subscription (new keys kept).
    let mut keys = push_keys();
    keys.auth = "AAAAAAAAAAAAAAAAAAAAAA".into();
    w.ok(&f1, subscribe_with(EP, keys.clone()));
    assert_eq!(endpoints(&w, "field1"), [EP]);
    assert_eq!(
        w.state.push_subscriptions[&w.user_id("field1")][0].keys,
        keys
    );

    // Someone else cannot remove it (and is not told it exists).
    let f2 = w.actor("field2");
    assert_eq!(w.err(&f2, push_unsubscribe(EP)).code(), Code::NotFound);
    let recs = w.ok(&f1, push_unsubscribe(EP));
    assert_eq!(
        events(&recs),
        [Event::PushUnsubscribed {
            user_id: w.user_id("field1"),
            endpoint: EP.into(),
            reason: UnsubscribeReason::User,
        }]
    );
    assert!(w.state.push_subscriptions.is_empty());
    assert_eq!(w.err(&f1, push_unsubscribe(EP)).code(), Code::NotFound);
}

#[test]
fn bad_endpoints_and_keys_are_refused_naming_the_field() {
    let mut w = World::seeded();
    let f1 = w.actor("field1");
    let field_of = |e: muster_core::engine::Error| match e {
        muster_core::engine::Error::ValidationFailed { field, .. } => field,
        other => panic!("not a validation error: {other:?}"),
    };
    let long = format!("https://push.example/{}", "x".repeat(1_024));
    for bad in [
        "",
        "push.example/x",
        "ftp://push.example/x",
        "https:///x",
        &long,
    ] {
        let e = w.err(&f1, push_subscribe(bad));
        assert_eq!(e.code(), Code::ValidationFailed);
        assert_eq!(field_of(e), "endpoint", "{bad:?}");
    }
    let good = push_keys();
    let short_point = PushKeys {
        p256dh: good.p256dh[..40].into(),
        ..good.clone()
    };
    // 65 bytes, but a compressed-point prefix.
    let mut not_04 = vec![0x03u8];
    not_04.extend([1u8; 64]);
    let compressed = PushKeys {
        p256dh: {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&not_04)
        },
        ..good.clone()
    };
    let not_base64 = PushKeys {
        p256dh: "not base64!".into(),
        ..good.clone()
    };
    for keys in [short_point, compressed, not_base64] {
        let e = w.err(&f1, subscribe_with(EP, keys));
        assert_eq!(field_of(e), "keys.p256dh");
    }
    for auth in ["AAAA", "***", ""] {
        let keys = PushKeys {
            auth: auth.into(),
            ..good.clone()
        };
        assert_eq!(field_of(w.err(&f1, subscribe_with(EP, keys))), "keys.auth");
    }
    // Padded base64url is what some browsers' JSON gives: accepted.
    let padded = PushKeys {
        auth: format!("{}==", good.auth),
        ..good
    };
    w.ok(&f1, subscribe_with(EP, padded));
}

#[test]
fn past_the_limit_a_new_subscription_replaces_the_oldest() {
    let mut w = World::seeded();
    w.engine = Engine::new(demo_centre()).with_max_push_subscriptions(2);
    let f1 = w.actor("field1");
    let eps = [
        "https://p.example/1",
        "https://p.example/2",
        "https://p.example/3",
    ];
    w.ok(&f1, push_subscribe(eps[0]));
    w.ok(&f1, push_subscribe(eps[1]));
    let recs = w.ok(&f1, push_subscribe(eps[2]));
    assert_eq!(
        events(&recs)[0],
        Event::PushUnsubscribed {
            user_id: w.user_id("field1"),
            endpoint: eps[0].into(),
            reason: UnsubscribeReason::Replaced,
        }
    );
    assert_eq!(endpoints(&w, "field1"), [eps[1], eps[2]]);
    // Re-subscribing one already held replaces nothing.
    let recs = w.ok(&f1, push_subscribe(eps[1]));
    assert_eq!(kinds(&recs), ["push.subscribed"]);
    assert_eq!(endpoints(&w, "field1"), [eps[2], eps[1]]);
    // The default limit is 5.
    let mut d = World::seeded();
    let f1 = d.actor("field1");
    for i in 0..6 {
        d.ok(&f1, push_subscribe(&format!("https://p.example/{i}")));
    }
    assert_eq!(endpoints(&d, "field1").len(), 5);
    assert_eq!(endpoints(&d, "field1")[0], "https://p.example/1");
}

#[test]
fn a_browser_signed_in_as_someone_else_leaves_the_first_user() {
    let mut w = World::seeded();
    let (f1, f2) = (w.actor("field1"), w.actor("field2"));
    w.ok(&f1, push_subscribe(EP));
    let recs = w.ok(&f2, push_subscribe(EP));
    assert_eq!(kinds(&recs), ["push.unsubscribed", "push.subscribed"]);
    assert!(endpoints(&w, "field1").is_empty());
    assert_eq!(endpoints(&w, "field2"), [EP]);
}

#[test]
fn only_the_hub_removes_a_gone_or_logged_out_subscription() {
    let mut w = World::seeded();
    let f1 = w.actor("field1");
    let u1 = w.user_id("field1");
    w.ok(&f1, push_subscribe(EP));
    w.ok(&f1, push_subscribe("https://p.example/2"));
    // A user may not name a user or a reason, not even their own.
    for c in [
        system_unsubscribe(u1.clone(), EP, UnsubscribeReason::Gone),
        Command::PushUnsubscribe(cmd::PushUnsubscribe {
            endpoint: EP.into(),
            user_id: None,
            reason: Some(UnsubscribeReason::Gone),
        }),
    ] {
        assert_eq!(w.err(&f1, c).code(), Code::Forbidden);
    }
    let sys = Actor::system();
    let recs = w.ok(
        &sys,
        system_unsubscribe(u1.clone(), EP, UnsubscribeReason::Gone),
    );
    assert_eq!(
        events(&recs),
        [Event::PushUnsubscribed {
            user_id: u1.clone(),
            endpoint: EP.into(),
            reason: UnsubscribeReason::Gone,
        }]
    );
    let recs = w.ok(
        &sys,
        system_unsubscribe(
            u1.clone(),
            "https://p.example/2",
            UnsubscribeReason::LoggedOut,
        ),
    );
    assert_eq!(recs[0].actor.as_str(), "system");
    assert!(w.state.push_subscriptions.is_empty());
    // A duplicate (a second hub, a retry) records nothing.
    let e = w.err(&sys, system_unsubscribe(u1, EP, UnsubscribeReason::Gone));
    assert_eq!(e.code(), Code::NotFound);
    // The hub itself holds no subscriptions.
    assert_eq!(w.err(&sys, push_subscribe(EP)).code(), Code::Forbidden);
}

#[test]
fn subscriptions_are_seen_by_their_user_alone_and_the_session_by_nobody() {
    let mut w = World::seeded();
    let f1 = w.actor("field1");
    let with_session = Command::PushSubscribe(cmd::PushSubscribe {
        endpoint: EP.into(),
        keys: push_keys(),
        session: Some("a1b2c3d4".into()),
    });
    let seq = w.ok(&f1, with_session)[0].seq;
    let gone = w.ok(
        &Actor::system(),
        system_unsubscribe(w.user_id("field1"), EP, UnsubscribeReason::Gone),
    )[0]
    .seq;
    for s in [seq, gone] {
        assert!(w.sees(&w.viewer("field1"), s));
        for other in ["field2", "operator", "supervisor", "admin"] {
            assert!(!w.sees(&w.viewer(other), s), "{other} sees {s}");
        }
        assert!(!w.sees(&World::intake_viewer(), s));
    }
    let rec = w.log.iter().find(|r| r.seq == seq).unwrap();
    let sent = rec.event.redacted().expect("the session tag is removed");
    let json = serde_json::to_value(&sent).unwrap();
    assert_eq!(json["kind"], "push.subscribed");
    assert!(json.get("session").is_none(), "{json}");
    assert_eq!(json["keys"]["auth"], push_keys().auth);
}

#[test]
fn subscriptions_replay_and_snapshot_the_same() {
    let mut w = World::seeded();
    w.engine = Engine::new(demo_centre()).with_max_push_subscriptions(2);
    let (f1, f2) = (w.actor("field1"), w.actor("field2"));
    for i in 0..4 {
        w.ok(&f1, push_subscribe(&format!("https://p.example/{i}")));
    }
    w.ok(&f2, push_subscribe("https://p.example/3"));
    w.ok(&f2, push_subscribe(EP));
    w.ok(&f2, push_unsubscribe(EP));
    assert_eq!(endpoints(&w, "field1"), ["https://p.example/2"]);
    // Replayed under the default limit: the explicit events decide, not the limit.
    let mut replayed = State::default();
    for r in &w.log {
        replayed.apply(r);
    }
    assert_eq!(replayed.push_subscriptions, w.state.push_subscriptions);
    let snapshot: State = serde_json::from_str(&serde_json::to_string(&w.state).unwrap()).unwrap();
    assert_eq!(snapshot.push_subscriptions, w.state.push_subscriptions);
    assert_eq!(
        w.state.push_subscriptions[&w.user_id("field2")][0].subscribed_at,
        w.log
            .iter()
            .rev()
            .find(|r| matches!(&r.event, Event::PushSubscribed { endpoint, .. } if endpoint == "https://p.example/3"))
            .unwrap()
            .at
    );
}

#[test]
fn acknowledged_by_push_only_as_the_unit_s_own_user() {
    let mut w = World::with_dispatched_incident();
    let asg = w.assignment.clone();
    // The desk may not claim the unit acknowledged from its notification.
    let op = w.actor("operator");
    let e = w.err(&op, acknowledge_via(&asg, Via::Push));
    assert_eq!(e.code(), Code::ValidationFailed);
    // Another unit's user may not acknowledge it at all.
    let f2 = w.actor("field2");
    assert_eq!(
        w.err(&f2, acknowledge_via(&asg, Via::Push)).code(),
        Code::Forbidden
    );
    // Push is for acknowledging only.
    let f1 = w.actor("field1");
    let e = w.err(
        &f1,
        progress_via(
            &asg,
            muster_core::domain::assignment::AssignmentStatus::EnRoute,
            Via::Push,
        ),
    );
    assert_eq!(e.code(), Code::ValidationFailed);
    let recs = w.ok(&f1, acknowledge_via(&asg, Via::Push));
    assert_eq!(
        events(&recs),
        [Event::AssignmentAcknowledged {
            assignment_id: asg.clone(),
            via: Some(Via::Push),
        }]
    );
    let json = serde_json::to_value(&recs[0].event).unwrap();
    assert_eq!(json["via"], "push");
    // Once: a second is the engine's usual refusal for an assignment no longer waiting.
    let e = w.err(&f1, acknowledge_via(&asg, Via::Push));
    assert_eq!(e.code(), Code::InvalidTransition);
}

#[test]
fn the_push_rung_is_configured_without_a_channel_and_skipped_for_units_without_the_app() {
    assert!(EscalationAction::Push.pushes_to_unit());
    assert_eq!(
        serde_json::to_value(EscalationAction::Push).unwrap(),
        "push"
    );
    let text = std::fs::read_to_string(repo_path("config/centre.toml"))
        .unwrap()
        .replacen(
            "action = \"push\"",
            "action = \"push\"\nchannel = \"sms\"",
            1,
        );
    let dir = std::env::temp_dir().join(format!("muster-push-rung-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("centre.toml");
    std::fs::write(&path, text).unwrap();
    let err = muster_core::config::load_centre(&path)
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        err.contains("a channel applies only to alternative_channel, not push"),
        "{err}"
    );
    // Every shipped policy renotifies by push first.
    for p in &demo_centre().escalation_policies {
        assert_eq!(p.steps[0].action, EscalationAction::Push, "{}", p.id);
    }
}
