//! What a run found: headline figures (each beside its floor and ceiling), checks of
//! correctness, and the details, printed as a table or JSON.

use serde::Serialize;

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub better: Better,
    /// The floor from the issue: at most (lower is better) or at least this.
    pub floor: Option<f64>,
    /// The same figure from the minimal server with no application logic.
    pub ceiling: Option<f64>,
    /// Hub against ceiling, 1.0 = as good as the ceiling.
    pub ratio: Option<f64>,
    pub met: Option<bool>,
}

impl Figure {
    pub fn new(name: impl Into<String>, value: f64, unit: &'static str, better: Better) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
            better,
            floor: None,
            ceiling: None,
            ratio: None,
            met: None,
        }
    }

    pub fn floor(mut self, floor: Option<f64>) -> Self {
        self.floor = floor;
        self.met = floor.map(|f| match self.better {
            Better::Lower => self.value <= f,
            Better::Higher => self.value >= f,
        });
        self
    }

    pub fn ceiling(mut self, ceiling: f64) -> Self {
        self.ceiling = Some(ceiling);
        self.ratio = match self.better {
            Better::Lower if self.value > 0.0 => Some(ceiling / self.value),
            Better::Higher if ceiling > 0.0 => Some(self.value / ceiling),
            _ => None,
        };
        self
    }
}

/// A correctness check (asserted in quick mode).
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// One run of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub label: String,
    /// `/proc/loadavg` when the run started: the machine is shared.
    pub load_average: String,
    pub figures: Vec<Figure>,
    pub checks: Vec<Check>,
    pub detail: serde_json::Value,
}

impl RunReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Figures with a floor they did not meet.
    pub fn missed_floors(&self) -> impl Iterator<Item = &Figure> {
        self.figures.iter().filter(|f| f.met == Some(false))
    }
}

/// Everything that makes a run fail, one line each: every failed check, and, when
/// `floors` is set (a full run, not `--quick`), every figure that missed its floor.
/// Quick sizes promise correctness only: their figures depend on the machine.
pub fn failures(reports: &[RunReport], floors: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        for c in r.checks.iter().filter(|c| !c.ok) {
            out.push(format!(
                "{} {}: {} ({})",
                r.scenario, r.label, c.name, c.detail
            ));
        }
        for f in r.missed_floors().filter(|_| floors) {
            let (sign, floor) = match f.better {
                Better::Lower => ("≤", f.floor.unwrap_or_default()),
                Better::Higher => ("≥", f.floor.unwrap_or_default()),
            };
            out.push(format!(
                "{} {}: floor missed: {} {} {}, floor {sign} {} {}",
                r.scenario,
                r.label,
                f.name,
                num(f.value),
                f.unit,
                num(floor),
                f.unit
            ));
        }
    }
    out
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The human table: one line per figure, then the checks.
pub fn table(reports: &[RunReport]) -> String {
    let mut out = format!(
        "{:<4} {:<22} {:<30} {:>12} {:>10} {:>10} {:>6} {:>4}\n",
        "id", "run", "figure", "value", "floor", "ceiling", "ratio", "met"
    );
    for r in reports {
        for f in &r.figures {
            let floor = f.floor.map_or(String::new(), |v| {
                format!(
                    "{}{}",
                    if f.better == Better::Lower {
                        "≤"
                    } else {
                        "≥"
                    },
                    num(v)
                )
            });
            out.push_str(&format!(
                "{:<4} {:<22} {:<30} {:>12} {:>10} {:>10} {:>6} {:>4}\n",
                r.scenario,
                r.label,
                f.name,
                format!("{} {}", num(f.value), f.unit),
                floor,
                f.ceiling.map_or(String::new(), num),
                f.ratio.map_or(String::new(), |v| format!("{v:.2}")),
                match f.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                },
            ));
        }
        for c in &r.checks {
            out.push_str(&format!(
                "{:<4} {:<22} check {:<24} {} {}\n",
                r.scenario,
                r.label,
                c.name,
                if c.ok { "ok  " } else { "FAIL" },
                c.detail
            ));
        }
        out.push_str(&format!(
            "{:<4} {:<22} load average at start: {}\n",
            r.scenario, r.label, r.load_average
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_ratios_follow_which_way_is_better() {
        let lat = Figure::new("p99", 20.0, "ms", Better::Lower)
            .floor(Some(50.0))
            .ceiling(10.0);
        assert_eq!(lat.met, Some(true));
        assert_eq!(lat.ratio, Some(0.5));
        let rate = Figure::new("rate", 40.0, "/s", Better::Higher)
            .floor(Some(50.0))
            .ceiling(80.0);
        assert_eq!(rate.met, Some(false));
        assert_eq!(rate.ratio, Some(0.5));
    }

    fn report(figures: Vec<Figure>, checks: Vec<Check>) -> RunReport {
        RunReport {
            scenario: "S3".into(),
            label: "run".into(),
            load_average: String::new(),
            figures,
            checks,
            detail: serde_json::Value::Null,
        }
    }

    /// A full run fails on a missed floor; a quick run only on a failed check.
    #[test]
    fn a_missed_floor_fails_a_full_run_but_not_a_quick_one() {
        let missed = Figure::new("delivery p99", 80.0, "ms", Better::Lower).floor(Some(50.0));
        let met = Figure::new("idle CPU", 1.0, "% core", Better::Lower).floor(Some(5.0));
        let no_floor = Figure::new("deliveries/s", 1.0, "/s", Better::Higher);
        let ok = Check::new("every event delivered", true, "1 of 1");
        let r = [report(vec![missed, met, no_floor], vec![ok.clone()])];
        let full = failures(&r, true);
        assert_eq!(full.len(), 1, "{full:?}");
        assert!(
            full[0].contains("floor missed: delivery p99 80.0 ms, floor ≤ 50.0 ms"),
            "{full:?}"
        );
        assert!(failures(&r, false).is_empty());
        let bad = Check::new("every event delivered", false, "0 of 0");
        let r = [report(vec![], vec![ok, bad])];
        assert_eq!(
            failures(&r, false),
            ["S3 run: every event delivered (0 of 0)"]
        );
    }
}
