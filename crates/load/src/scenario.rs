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

impl Params {
    /// Rejects sizes that would make a run do nothing, so that a check such as "every
    /// event delivered" (0 of 0) cannot pass without work. Names the first bad field.
    pub fn validate(&self, kind: Kind) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            // A finite number above 0: NaN and infinity are no sizes either.
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("`{name}` must be above 0 (got {v})"))
            }
        };
        let count = |name: &str, v: usize| positive(name, v as f64);
        match kind {
            Kind::Idle => {
                count("connections", self.connections)?;
                positive("seconds", self.seconds)
            }
            Kind::Fanout | Kind::Storm | Kind::Slow => {
                count("connections", self.connections)?;
                positive("rate", self.rate)?;
                positive("seconds", self.seconds)?;
                count("senders", self.senders)?;
                if (self.rate * self.seconds).round() < 1.0 {
                    return Err(format!(
                        "`rate` x `seconds` must send at least one event (got {} x {})",
                        self.rate, self.seconds
                    ));
                }
                match kind {
                    Kind::Storm => positive("drop_within_secs", self.drop_within_secs),
                    Kind::Slow => {
                        positive("slow_share", self.slow_share)?;
                        if self.slow_share >= 1.0 {
                            return Err(format!(
                                "`slow_share` must leave some clients reading (got {})",
                                self.slow_share
                            ));
                        }
                        positive("stall_secs", self.stall_secs)
                    }
                    _ => Ok(()),
                }
            }
            Kind::Centre => {
                count("operators", self.operators)?;
                count("supervisors", self.supervisors)?;
                count("field", self.field)?;
                count("resources", self.resources)?;
                count("ping_phones", self.ping_phones)?;
                positive("ping_secs", self.ping_secs)?;
                positive("seconds", self.seconds)?;
                let busiest = self.curve.iter().copied().fold(0.0, f64::max);
                if self.curve.is_empty() {
                    positive("incidents_per_sec", self.incidents_per_sec)
                } else {
                    positive("curve (its highest rate)", busiest)
                }
            }
            Kind::Durable => {
                count("submitters", self.submitters)?;
                positive("seconds", self.seconds)
            }
            Kind::Restart => positive("events", self.events as f64),
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
            .enumerate()
            .map(|(i, run)| {
                let mut merged = base.clone();
                merged.extend(run);
                let p = merged.try_into::<Params>().map_err(|e| e.to_string())?;
                p.validate(file.kind).map_err(|e| match &p.label {
                    Some(label) => format!("run {} {label:?}: {e}", i + 1),
                    None => format!("run {}: {e}", i + 1),
                })?;
                Ok(p)
            })
            .collect::<Result<_, String>>()?;
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

    /// A size of 0 would let "every event delivered" pass as 0 of 0.
    #[test]
    fn sizes_that_do_no_work_are_errors_naming_the_field() {
        let fanout = |params: &str| {
            Scenario::parse(
                &format!("id='x'\ntitle='t'\nkind='fanout'\n[params]\n{params}\n"),
                false,
            )
        };
        assert!(fanout("rate = 5\nconnections = 10\nseconds = 2").is_ok());
        for (params, field) in [
            ("rate = 0", "`rate`"),
            ("seconds = 0", "`seconds`"),
            ("connections = 0", "`connections`"),
            ("senders = 0", "`senders`"),
            ("rate = 0.1\nseconds = 1", "at least one event"),
            ("rate = nan", "`rate`"),
        ] {
            let err = fanout(params).unwrap_err();
            assert!(err.contains(field), "{params}: {err}");
        }
        let storm = Scenario::parse(
            "id='x'\ntitle='t'\nkind='storm'\n[quick]\nparams={drop_within_secs=0}\n",
            true,
        )
        .unwrap_err();
        assert!(storm.contains("`drop_within_secs`"), "{storm}");
        let idle = Scenario::parse(
            "id='x'\ntitle='t'\nkind='idle'\n[[runs]]\nlabel='big'\n[[runs]]\nlabel='none'\nconnections=0\n",
            false,
        )
        .unwrap_err();
        assert!(
            idle.contains("run 2 \"none\"") && idle.contains("`connections`"),
            "{idle}"
        );
    }

    /// Every scenario the suite ships passes validation, at full and quick sizes.
    #[test]
    fn the_shipped_scenarios_are_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            for quick in [false, true] {
                Scenario::load(&path, quick).unwrap();
            }
            n += 1;
        }
        assert!(n >= 8, "{n} scenario files");
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
