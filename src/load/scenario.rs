//! Scenario files (`bench/scenarios/*.toml`): what to play against the hub.
//!
//! ```toml
//! id = "S3"
//! title = "fan-out latency"
//! kind = "fanout"            # idle | fanout | centre | storm | slow | restart
//! [params]                   # shared by every run
//! seconds = 10
//! [[runs]]                   # one measurement each; keys override [params]
//! watchers = 2000
//! rate = 20
//! p99_floor_ms = 50
//! [quick]                    # --quick: smaller sizes, correctness only
//! params = { seconds = 3 }
//! runs = [{ watchers = 200, rate = 20 }]
//! ```

use std::path::Path;

use serde::Deserialize;

use super::LoadError;

/// What a scenario does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Idle authenticated sockets: memory per socket, idle CPU.
    Idle,
    /// One sender, every event to every watcher.
    Fanout,
    /// A busy centre: desks working incidents, phones pinging.
    Centre,
    /// Every watcher drops and resumes while events flow.
    Storm,
    /// Some watchers stop reading.
    Slow,
    /// The hub restarts on a large log.
    Restart,
    /// `muster bench` on SQLite or Redis, beside its ceiling.
    Durable,
}

/// How contacts arrive.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Exponential gaps at the rate (a Poisson process).
    #[default]
    Poisson,
    /// Evenly spaced.
    Fixed,
}

/// Every knob a run may set; each kind reads the ones it needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// A label for the run in the report.
    pub label: Option<String>,
    pub seconds: f64,
    // idle, fanout, storm, slow
    pub connections: usize,
    /// Events (or contacts) per second the senders send, on a fixed schedule.
    pub rate: f64,
    /// Sender sockets the rate is split over (the hub limits each socket's rate).
    pub senders: usize,
    /// Extra characters in each event's text (bigger frames fill buffers sooner).
    pub pad: usize,
    /// Events go to this many incidents in turn, each watched by its own field user's
    /// share of the connections; 0: every connection is a supervisor seeing all.
    pub incidents: usize,
    // centre
    pub operators: usize,
    pub supervisors: usize,
    pub field: usize,
    /// New incidents per second; `curve` replaces it with a rate per segment.
    pub incidents_per_sec: f64,
    pub curve: Vec<f64>,
    pub arrival: Arrival,
    /// Milliseconds between one incident's commands (its desk's pace).
    pub command_gap_ms: u64,
    /// Notes added per incident, and check-ins per assignment.
    pub notes: usize,
    pub checkins: usize,
    /// Seconds between a phone's location pings.
    pub ping_secs: f64,
    /// How many phones ping (the first ones: one per demo field user by default).
    pub ping_phones: usize,
    /// Resources registered for the run (each incident needs one free).
    pub resources: usize,
    // storm
    /// Seconds over which every client drops and resumes.
    pub drop_within_secs: f64,
    // slow
    /// Share of clients that stop reading (0.01 = 1 %).
    pub slow_share: f64,
    /// Seconds the slow clients stop reading for.
    pub stall_secs: f64,
    // restart
    pub events: u64,
    // durable
    pub store: String,
    pub appendfsync: String,
    pub submitters: usize,
    pub rate_floor: Option<f64>,
    // floors
    pub p99_floor_ms: Option<f64>,
    pub delivery_p99_floor_ms: Option<f64>,
    pub cpu_floor: Option<f64>,
    pub kib_per_conn_floor: Option<f64>,
    pub ready_floor_secs: Option<f64>,
    pub catch_up_floor_secs: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            label: None,
            seconds: 10.0,
            connections: 1000,
            rate: 10.0,
            senders: 1,
            pad: 0,
            incidents: 0,
            operators: 10,
            supervisors: 2,
            field: 50,
            incidents_per_sec: 1.0,
            curve: Vec::new(),
            arrival: Arrival::Poisson,
            command_gap_ms: 200,
            notes: 3,
            checkins: 1,
            ping_secs: 10.0,
            ping_phones: 8,
            resources: 100,
            drop_within_secs: 5.0,
            slow_share: 0.01,
            stall_secs: 10.0,
            events: 1_000_000,
            store: "sqlite".into(),
            appendfsync: "always".into(),
            submitters: 64,
            rate_floor: None,
            p99_floor_ms: None,
            delivery_p99_floor_ms: None,
            cpu_floor: None,
            kib_per_conn_floor: None,
            ready_floor_secs: None,
            catch_up_floor_secs: None,
        }
    }
}

/// A scenario file, resolved for full or quick mode.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub kind: Kind,
    pub runs: Vec<Params>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    id: String,
    title: String,
    kind: Kind,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    runs: Vec<toml::Table>,
    #[serde(default)]
    quick: Option<QuickFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuickFile {
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    runs: Vec<toml::Table>,
}

impl Scenario {
    /// Reads a scenario file; `quick` applies its `[quick]` table.
    pub fn load(path: &Path, quick: bool) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Scenario(format!("{}: {e}", path.display())))?;
        Self::parse(&text, quick)
            .map_err(|e| LoadError::Scenario(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str, quick: bool) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut base = file.params;
        let mut runs = file.runs;
        if quick && let Some(q) = file.quick {
            base.extend(q.params);
            if !q.runs.is_empty() {
                runs = q.runs;
            }
        }
        if runs.is_empty() {
            runs.push(toml::Table::new());
        }
        let runs = runs
            .into_iter()
            .map(|run| {
                let mut merged = base.clone();
                merged.extend(run);
                merged.try_into::<Params>().map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id: file.id,
            title: file.title,
            kind: file.kind,
            runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
id = "S3"
title = "fan-out latency"
kind = "fanout"
[params]
seconds = 10
[[runs]]
connections = 2000
rate = 20
p99_floor_ms = 50
[[runs]]
connections = 10000
rate = 5
[quick]
params = { seconds = 3 }
runs = [{ connections = 200 }]
"#;

    #[test]
    fn runs_override_params_and_quick_overrides_both() {
        let full = Scenario::parse(FILE, false).unwrap();
        assert_eq!(full.kind, Kind::Fanout);
        assert_eq!(full.runs.len(), 2);
        assert_eq!(full.runs[0].seconds, 10.0);
        assert_eq!(full.runs[0].p99_floor_ms, Some(50.0));
        assert_eq!(full.runs[1].connections, 10000);
        let quick = Scenario::parse(FILE, true).unwrap();
        assert_eq!(quick.runs.len(), 1);
        assert_eq!(quick.runs[0].seconds, 3.0);
        assert_eq!(quick.runs[0].connections, 200);
    }

    #[test]
    fn a_misspelt_key_is_an_error() {
        let err = Scenario::parse(
            "id='x'\ntitle='t'\nkind='idle'\n[params]\nconections=1\n",
            false,
        )
        .unwrap_err();
        assert!(err.contains("conections"), "{err}");
    }
}
