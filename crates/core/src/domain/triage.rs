//! Validity and priority: the values an assessment produces and the methods that
//! produce them.

use serde::{Deserialize, Serialize};

/// How urgent an incident is; `P1` is the most urgent.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }
}

/// Whether the report is believed to be real.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    #[default]
    Unverified,
    Verified,
    Duplicate,
    FalseReport,
}

/// How validity and priority were decided, recorded so reviews can compare methods.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TriageMethod {
    /// Scripted answers → determinant → priority (structured call-taking).
    Protocol,
    /// Impact × urgency table.
    Matrix,
    /// The operator's judgement, with a mandatory reason.
    Manual,
}
