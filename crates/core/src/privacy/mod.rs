//! Personal data: its categories, the records that hold it and the data subjects it is
//! about (docs/PRIVACY.md). Pure, like the engine: the hub erases keys and files.
//!
//! - [`subject`]: subject ids, search over the state, a subject's records, legal hold.
//! - [`retention`]: the centre's retention settings and what a sweep erases.
//! - [`erase`]: the fold's blanking of erased fields, and the scopes an erasure covers.
//! - [`classify`]: which fields of which events are personal, by category and record,
//!   and how they are kept (the vault, crates/vault, seals them).

pub mod classify;
pub mod erase;
pub mod retention;
pub mod subject;

use serde::{Deserialize, Serialize};

/// What an erased string reads as, wherever it is shown.
pub const ERASED: &str = "[erased]";

/// A category of personal data; retention and erasure work per category.
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
pub enum Category {
    CallerDetails,
    FreeText,
    StaffDetails,
    StaffLocations,
    CheckinNotes,
    Cases,
    SupportPlans,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::CallerDetails,
        Category::FreeText,
        Category::StaffDetails,
        Category::StaffLocations,
        Category::CheckinNotes,
        Category::Cases,
        Category::SupportPlans,
    ];

    /// The wire name, as in a scope.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::CallerDetails => "caller_details",
            Category::FreeText => "free_text",
            Category::StaffDetails => "staff_details",
            Category::StaffLocations => "staff_locations",
            Category::CheckinNotes => "checkin_notes",
            Category::Cases => "cases",
            Category::SupportPlans => "support_plans",
        }
    }

    /// Kept per UTC day of the event (a key per day), so old days go while new stay.
    pub const fn day_scoped(self) -> bool {
        matches!(self, Category::StaffLocations | Category::CheckinNotes)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of record personal data belongs to.
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
pub enum RecordType {
    Contact,
    Incident,
    Assignment,
    User,
    Resource,
    Case,
    Plan,
}

impl RecordType {
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordType::Contact => "contact",
            RecordType::Incident => "incident",
            RecordType::Assignment => "assignment",
            RecordType::User => "user",
            RecordType::Resource => "resource",
            RecordType::Case => "case",
            RecordType::Plan => "plan",
        }
    }

    /// The categories of personal data a record of this type can hold.
    pub const fn categories(self) -> &'static [Category] {
        use Category::*;
        match self {
            RecordType::Contact => &[CallerDetails, FreeText],
            RecordType::Incident => &[FreeText],
            RecordType::Assignment => &[FreeText, CheckinNotes],
            RecordType::User => &[StaffDetails],
            RecordType::Resource => &[StaffDetails, StaffLocations],
            RecordType::Case => &[Cases],
            RecordType::Plan => &[SupportPlans],
        }
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record: `{type, id, reference?}` (the incident's human reference, if any).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct RecordRef {
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl RecordRef {
    pub fn new(record_type: RecordType, id: impl Into<String>) -> Self {
        RecordRef {
            record_type,
            id: id.into(),
            reference: None,
        }
    }

    /// The scope of one category of this record: `contact:con_84/caller_details`
    /// (for a day-scoped category, the prefix of its days' scopes without the `/`).
    pub fn scope(&self, category: Category) -> String {
        format!("{}:{}/{}", self.record_type, self.id, category)
    }

    /// The scope of one day of a day-scoped category.
    pub fn day_scope(&self, category: Category, day: chrono::NaiveDate) -> String {
        format!("{}/{}", self.scope(category), day.format("%Y-%m-%d"))
    }
}

/// The scope (one data key) of a record's category: `"{type}:{id}/{category}"`, and
/// `"/{YYYY-MM-DD}"` (the UTC day of `at`) for day-scoped categories.
pub fn scope(
    record: RecordType,
    id: &str,
    category: Category,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    // Written piece by piece: the writer makes one for every personal value it seals.
    let (name, type_name) = (category.as_str(), record.as_str());
    let mut scope = String::with_capacity(type_name.len() + id.len() + name.len() + 13);
    for part in [type_name, ":", id, "/", name] {
        scope.push_str(part);
    }
    if category.day_scoped() {
        use std::fmt::Write as _;
        let _ = write!(scope, "/{}", at.date_naive().format("%Y-%m-%d"));
    }
    scope
}

/// The scope prefix that covers every scope of a record (`"contact:con_84/"`): what
/// erasing a whole record names.
pub fn record_prefix(record: RecordType, id: &str) -> String {
    format!("{}:{id}/", record.as_str())
}
