//! Personal data in the log: what is personal ([`classify`]), by category and by the
//! record it belongs to, and the scope (one data key each) it is sealed under.
//! Pure: the vault (crates/vault) does the cryptography and keeps the keys.

pub mod classify;

use serde::{Deserialize, Serialize};

/// A category of personal data: what retention and erasure work by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A caller's name, phone, e-mail and where they were.
    CallerDetails,
    /// What people wrote about an incident or contact: summaries, notes, answers.
    FreeText,
    /// A member of staff's name and contact details, and their push endpoints.
    StaffDetails,
    /// Where a field worker's unit was (day-scoped).
    StaffLocations,
    /// Welfare check-in notes (day-scoped).
    CheckinNotes,
    /// A complaint or compliment: who raised it, its text and its handling.
    Cases,
    /// Support-plan notes about a colleague.
    SupportPlans,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: &'static [Category] = &[
        Category::CallerDetails,
        Category::FreeText,
        Category::StaffDetails,
        Category::StaffLocations,
        Category::CheckinNotes,
        Category::Cases,
        Category::SupportPlans,
    ];

    /// The wire name, e.g. `caller_details`.
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

    /// True when each UTC day of the category has a key of its own (so retention can
    /// erase a day at a time).
    pub const fn day_scoped(self) -> bool {
        matches!(self, Category::StaffLocations | Category::CheckinNotes)
    }
}

/// The kind of record personal data belongs to: the first part of a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// The wire name, e.g. `contact`.
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
}

/// The scope (one data key) of a record's category: `"{type}:{id}/{category}"`, and
/// `"/{YYYY-MM-DD}"` (the UTC day of `at`) for day-scoped categories.
pub fn scope(
    record: RecordType,
    id: &str,
    category: Category,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut s = format!("{}:{id}/{}", record.as_str(), category.as_str());
    if category.day_scoped() {
        s.push('/');
        s.push_str(&at.format("%Y-%m-%d").to_string());
    }
    s
}

/// The scope prefix that covers every scope of a record (`"contact:con_84/"`): what
/// erasing a whole record names.
pub fn record_prefix(record: RecordType, id: &str) -> String {
    format!("{}:{id}/", record.as_str())
}
