//! Runs the engine's timers: every tick, [`fire_due`] asks `engine::timers::due` what
//! is due on the read state at the hub clock's `now` and submits it as the system
//! actor. Command ids are derived from what fires (`timer:escalate:asg_…:2`), so a
//! second tick or a second hub de-duplicates, and the engine re-checks each anyway.

use std::time::Duration;

use crate::hub::Hub;
use muster_core::engine::command as cmd;
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, Command, Error, timers};

/// How often the background task looks (real time).
pub const TICK: Duration = Duration::from_secs(1);

/// Submits everything due now; returns each command with its result, in order.
pub async fn fire_due(hub: &Hub) -> Vec<(Command, Result<CommandOutcome, Error>)> {
    let now = hub.clock.now();
    let due = hub.with_state(|s| timers::due(s, &hub.engine.centre, now));
    let mut out = Vec::with_capacity(due.len());
    for command in due {
        let id = command_id(&command);
        let result = hub.submit(Actor::system(), Some(id), command.clone()).await;
        out.push((command, result));
    }
    out
}

/// How often the retention sweep runs (on the hub's clock).
pub const SWEEP_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// The retention sweep: when anything is due at the hub clock's hour, submits
/// `privacy.sweep` for that hour (its id names the hour, so a second hub or a second
/// tick de-duplicates). `None` when nothing is due.
pub async fn fire_sweep(hub: &Hub) -> Option<(Command, Result<CommandOutcome, Error>)> {
    use chrono::{DurationRound, Timelike};
    let now = hub.clock.now();
    let hour = now.duration_trunc(SWEEP_EVERY).unwrap_or(now);
    let retention = &hub.engine.centre.privacy.retention;
    let due =
        hub.with_state(|s| !muster_core::privacy::retention::due(s, retention, now).is_empty());
    if !due {
        return None;
    }
    let command = Command::PrivacySweep(cmd::PrivacySweep { now });
    let id = format!(
        "timer:{}:{}T{:02}",
        command.kind(),
        hour.date_naive(),
        hour.hour()
    );
    let result = hub.submit(Actor::system(), Some(id), command.clone()).await;
    Some((command, result))
}

/// The stable id of a timer command: the same firing always gets the same id.
pub fn command_id(command: &Command) -> String {
    match command {
        Command::TimerEscalate(cmd::TimerEscalate {
            assignment_id,
            level,
        }) => format!("timer:escalate:{assignment_id}:{level}"),
        Command::TimerCheckinMissed(cmd::TimerCheckinMissed {
            assignment_id,
            due_at,
        }) => format!(
            "timer:checkin_missed:{assignment_id}:{}",
            muster_core::time::rfc3339(*due_at)
        ),
        Command::TimerTargetBreached(cmd::TimerTargetBreached {
            incident_id,
            target,
        }) => format!("timer:target_breached:{incident_id}:{target}"),
        Command::TimerCaseBreached(cmd::TimerCaseBreached { case_id, target }) => {
            format!("timer:target_breached:{case_id}:{target}")
        }
        Command::TimerPlanReviewMissed(cmd::TimerPlanReviewMissed { plan_id }) => {
            format!("timer:target_breached:{plan_id}:review")
        }
        Command::TimerShiftStart(cmd::TimerShiftStart { shift_id }) => {
            format!("timer:shift_start:{shift_id}")
        }
        Command::TimerShiftEnd(cmd::TimerShiftEnd { shift_id }) => {
            format!("timer:shift_end:{shift_id}")
        }
        other => format!("timer:{}", other.kind()),
    }
}

/// Fires due timers every [`TICK`] until the hub goes away.
pub fn spawn(hub: Hub) -> tokio::task::JoinHandle<()> {
    // An exercise's clock runs faster: look as often in simulated time (at most ten
    // times a second).
    let every = hub.options.exercise.as_ref().map_or(TICK, |e| {
        TICK.div_f64(e.speed.max(1.0))
            .max(Duration::from_millis(100))
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut swept_at: Option<chrono::DateTime<chrono::Utc>> = None;
        loop {
            tick.tick().await;
            let now = hub.clock.now();
            if swept_at.is_none_or(|t| now - t >= SWEEP_EVERY || now < t) {
                swept_at = Some(now);
                if let Some((_, Err(e))) = fire_sweep(&hub).await
                    && !matches!(e, Error::Conflict(_))
                    && !hub.stopped()
                {
                    tracing::warn!(error = %e, "retention sweep refused");
                }
            }
            for (command, result) in fire_due(&hub).await {
                match result {
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(_) if hub.stopped() => return,
                    Err(e) => {
                        tracing::warn!(kind = command.kind().as_str(), error = %e, "timer refused")
                    }
                }
            }
        }
    })
}
