//! Exercise mode: the hub plays a scenario ([`muster_core::config::exercise`]) on a log
//! of its own, never the live one. A live hub has no [`Exercise`] and refuses exercise
//! controls.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use muster_core::config::exercise::Scenario;

/// The exercise a hub is running (`HubOptions::exercise`).
#[derive(Debug)]
pub struct Exercise {
    pub scenario: Scenario,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// The seed the simulator and the debrief expand the scenario with.
    pub seed: u64,
    /// When the exercise started, on the hub's clock.
    pub started_at: DateTime<Utc>,
    ended: AtomicBool,
}

impl Exercise {
    pub fn new(scenario: Scenario, speed: f64, seed: u64, started_at: DateTime<Utc>) -> Self {
        Exercise {
            scenario,
            speed,
            seed,
            started_at,
            ended: AtomicBool::new(false),
        }
    }

    /// `running` or `ended` (`GET /api/exercise`).
    pub fn status(&self) -> &'static str {
        if self.ended.load(Ordering::Relaxed) {
            "ended"
        } else {
            "running"
        }
    }

    pub fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }
}
