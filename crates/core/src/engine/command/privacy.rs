//! `privacy.*`: data subjects' rights and the retention sweep (docs/PRIVACY.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Erase a data subject's personal data. Refused with `legal_hold` while a linked
/// incident or case is open, unless `override` with a `justification`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacyErase {
    pub subject_id: String,
    pub reason: String,
    #[serde(default)]
    pub r#override: bool,
    #[serde(default)]
    pub justification: Option<String>,
}

/// Internal: erase what the centre's retention settings say is due at `now`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacySweep {
    #[serde(with = "crate::time::serde_millis")]
    #[schemars(with = "DateTime<Utc>")]
    pub now: DateTime<Utc>,
}

/// Record that a subject's data was read (the export), and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacyAccess {
    pub subject_id: String,
    pub purpose: String,
}

/// Record a search for data subjects; the log keeps how many matched, never `q`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacySearch {
    pub q: String,
}
