//! The classification table: every field of every event kind, and whether it is an
//! operational fact (kept in clear) or personal data (a category, and the record it
//! belongs to, found from an id in the same event).
//!
//! A row's `path` is a JSON pointer under the event without its leading `/`; `*`
//! stands for any one key (a map's values, or an array's items). A row covers the
//! value at its path and everything below it. Personal values are kept
//! [`Keep::Sealed`] (removed from the clear body and encrypted under the scope's data
//! key) or [`Keep::Coarse`] (the clear body keeps them rounded to the centre's
//! `privacy.location_decimals`; the exact value is sealed). docs/PRIVACY.md shows the
//! table.
//!
//! A test (below) serialises a sample of every event kind and fails when any leaf is
//! not covered by a row, so a new field cannot go unclassified.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Category, RecordType};
use crate::engine::EventKind;

/// How a personal value is kept in the stored body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Removed from the clear body; sealed.
    Sealed,
    /// The clear body keeps it rounded; the exact value is sealed.
    Coarse,
}

/// What an erased value reads as once its key is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erased {
    /// `"[erased]"`.
    Text,
    /// `null`.
    Null,
}

pub use super::ERASED;

/// Personal data: its category, the record it belongs to (`id` is the pointer of the
/// record's id in the same event), how it is kept and how it reads once erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Personal {
    pub category: Category,
    pub record: RecordType,
    pub id: &'static str,
    pub keep: Keep,
    pub erased: Erased,
}

/// What a field is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// An operational fact: kept in clear.
    Operational,
    Personal(Personal),
}

/// One field of one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: EventKind,
    pub path: &'static str,
    pub class: Class,
}

const fn op(kind: EventKind, path: &'static str) -> Row {
    Row {
        kind,
        path,
        class: Class::Operational,
    }
}

const fn personal(
    kind: EventKind,
    path: &'static str,
    category: Category,
    record: RecordType,
    id: &'static str,
    keep: Keep,
    erased: Erased,
) -> Row {
    Row {
        kind,
        path,
        class: Class::Personal(Personal {
            category,
            record,
            id,
            keep,
            erased,
        }),
    }
}

/// A sealed string (erased: `"[erased]"`).
const fn text(
    kind: EventKind,
    path: &'static str,
    category: Category,
    record: RecordType,
    id: &'static str,
) -> Row {
    personal(kind, path, category, record, id, Keep::Sealed, Erased::Text)
}

/// A sealed non-string (erased: `null`).
const fn value(
    kind: EventKind,
    path: &'static str,
    category: Category,
    record: RecordType,
    id: &'static str,
) -> Row {
    personal(kind, path, category, record, id, Keep::Sealed, Erased::Null)
}

/// A coordinate kept rounded in clear, exact under seal.
const fn coarse(
    kind: EventKind,
    path: &'static str,
    category: Category,
    record: RecordType,
    id: &'static str,
) -> Row {
    personal(kind, path, category, record, id, Keep::Coarse, Erased::Null)
}

use Category::{
    CallerDetails, Cases, CheckinNotes, FreeText, StaffDetails, StaffLocations, SupportPlans,
};
use EventKind as K;
use RecordType as R;

/// Every field of every event kind. Personal rows first within a kind is not
/// required: a path is personal when any personal row covers it.
pub static TABLE: &[Row] = &[
    // contact.received: record contact:{contact.id}
    op(K::ContactReceived, "contact/id"),
    op(K::ContactReceived, "contact/channel"),
    text(
        K::ContactReceived,
        "contact/caller/*",
        CallerDetails,
        R::Contact,
        "/contact/id",
    ),
    text(
        K::ContactReceived,
        "contact/location/text",
        CallerDetails,
        R::Contact,
        "/contact/id",
    ),
    coarse(
        K::ContactReceived,
        "contact/location/lat",
        CallerDetails,
        R::Contact,
        "/contact/id",
    ),
    coarse(
        K::ContactReceived,
        "contact/location/lon",
        CallerDetails,
        R::Contact,
        "/contact/id",
    ),
    op(K::ContactReceived, "contact/location/place_id"),
    text(
        K::ContactReceived,
        "contact/summary",
        FreeText,
        R::Contact,
        "/contact/id",
    ),
    op(K::ContactReceived, "contact/reason"),
    op(K::ContactReceived, "contact/status"),
    op(K::ContactReceived, "contact/received_at"),
    op(K::ContactReceived, "contact/received_by"),
    op(K::ContactReceived, "contact/taken_at"),
    op(K::ContactReceived, "contact/taken_by"),
    op(K::ContactReceived, "contact/incident_id"),
    op(K::ContactReceived, "contact/closed_at"),
    op(K::ContactReceived, "contact/outcome"),
    text(
        K::ContactReceived,
        "contact/note",
        FreeText,
        R::Contact,
        "/contact/id",
    ),
    op(K::ContactTaken, "contact_id"),
    op(K::ContactLinked, "contact_id"),
    op(K::ContactLinked, "incident_id"),
    op(K::ContactClosed, "contact_id"),
    op(K::ContactClosed, "outcome"),
    text(
        K::ContactClosed,
        "note",
        FreeText,
        R::Contact,
        "/contact_id",
    ),
    // incident.opened: record incident:{incident.id}
    op(K::IncidentOpened, "incident/id"),
    op(K::IncidentOpened, "incident/reference"),
    op(K::IncidentOpened, "incident/type"),
    text(
        K::IncidentOpened,
        "incident/description",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    text(
        K::IncidentOpened,
        "incident/location/text",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    coarse(
        K::IncidentOpened,
        "incident/location/lat",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    coarse(
        K::IncidentOpened,
        "incident/location/lon",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    op(K::IncidentOpened, "incident/location/place_id"),
    op(K::IncidentOpened, "incident/status"),
    op(K::IncidentOpened, "incident/validity"),
    op(K::IncidentOpened, "incident/priority"),
    op(K::IncidentOpened, "incident/assessments"),
    text(
        K::IncidentOpened,
        "incident/answers/*",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    text(
        K::IncidentOpened,
        "incident/notes/*/text",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    op(K::IncidentOpened, "incident/notes/*/by"),
    op(K::IncidentOpened, "incident/notes/*/at"),
    op(K::IncidentOpened, "incident/contact_ids"),
    op(K::IncidentOpened, "incident/assignment_ids"),
    op(K::IncidentOpened, "incident/overrides"),
    op(K::IncidentOpened, "incident/outcome"),
    text(
        K::IncidentOpened,
        "incident/summary",
        FreeText,
        R::Incident,
        "/incident/id",
    ),
    op(K::IncidentOpened, "incident/opened_by"),
    op(K::IncidentOpened, "incident/opened_at"),
    op(K::IncidentOpened, "incident/assessed_at"),
    op(K::IncidentOpened, "incident/dispatched_at"),
    op(K::IncidentOpened, "incident/in_progress_at"),
    op(K::IncidentOpened, "incident/resolved_at"),
    op(K::IncidentOpened, "incident/closed_at"),
    op(K::IncidentOpened, "incident/cancelled_at"),
    op(K::IncidentOpened, "incident/cancel_reason"),
    op(K::IncidentOpened, "incident/reopened"),
    op(K::IncidentOpened, "incident/merged_into"),
    op(K::IncidentOpened, "incident/merged_from"),
    op(K::IncidentOpened, "duplicates"),
    op(K::IncidentAnswered, "incident_id"),
    text(
        K::IncidentAnswered,
        "answers/*",
        FreeText,
        R::Incident,
        "/incident_id",
    ),
    op(K::IncidentAnswered, "suggested_priority"),
    op(K::IncidentAnswered, "rule"),
    op(K::IncidentAssessed, "incident_id"),
    op(K::IncidentAssessed, "assessment"),
    op(K::IncidentNoted, "incident_id"),
    text(
        K::IncidentNoted,
        "note/text",
        FreeText,
        R::Incident,
        "/incident_id",
    ),
    op(K::IncidentNoted, "note/by"),
    op(K::IncidentNoted, "note/at"),
    op(K::IncidentStatusChanged, "incident_id"),
    op(K::IncidentStatusChanged, "from"),
    op(K::IncidentStatusChanged, "status"),
    op(K::IncidentResolved, "incident_id"),
    op(K::IncidentResolved, "outcome"),
    text(
        K::IncidentResolved,
        "summary",
        FreeText,
        R::Incident,
        "/incident_id",
    ),
    op(K::IncidentClosed, "incident_id"),
    op(K::IncidentReopened, "incident_id"),
    op(K::IncidentReopened, "reason"),
    op(K::IncidentCancelled, "incident_id"),
    op(K::IncidentCancelled, "reason"),
    op(K::IncidentMerged, "incident_id"),
    op(K::IncidentMerged, "into"),
    op(K::IncidentMerged, "reason"),
    op(K::IncidentOverridden, "incident_id"),
    op(K::IncidentOverridden, "rule"),
    op(K::IncidentOverridden, "justification"),
    // A partner centre is an organisation: operational.
    op(K::IncidentShared, "incident_id"),
    op(K::IncidentShared, "partner"),
    op(K::IncidentUnshared, "incident_id"),
    op(K::IncidentUnshared, "partner"),
    // user.*: record user:{id}. The password hash is no personal data category: it
    // leaves the log for the credential store (the lead's part of issue 17).
    op(K::UserCreated, "user/id"),
    op(K::UserCreated, "user/username"),
    text(
        K::UserCreated,
        "user/name",
        StaffDetails,
        R::User,
        "/user/id",
    ),
    op(K::UserCreated, "user/role"),
    op(K::UserCreated, "user/resource_id"),
    op(K::UserCreated, "user/disabled"),
    op(K::UserCreated, "user/password_hash"),
    // Single sign-on: which provider is the centre's configuration; the person's
    // subject at it identifies them.
    op(K::UserCreated, "user/identity/provider"),
    text(
        K::UserCreated,
        "user/identity/subject",
        StaffDetails,
        R::User,
        "/user/id",
    ),
    op(K::UserDisabled, "user_id"),
    op(K::UserPasswordChanged, "user_id"),
    op(K::UserPasswordChanged, "password_hash"),
    op(K::UserEnabled, "user_id"),
    op(K::UserUpdated, "user_id"),
    text(K::UserUpdated, "name", StaffDetails, R::User, "/user_id"),
    op(K::UserUpdated, "role"),
    op(K::UserUpdated, "resource_id"),
    // resource.*: record resource:{id}
    op(K::ResourceRegistered, "resource/id"),
    op(K::ResourceRegistered, "resource/name"),
    op(K::ResourceRegistered, "resource/resource_type"),
    op(K::ResourceRegistered, "resource/skills"),
    op(K::ResourceRegistered, "resource/team"),
    op(K::ResourceRegistered, "resource/status"),
    op(K::ResourceRegistered, "resource/location"),
    op(K::ResourceRegistered, "resource/user_id"),
    op(K::ResourceRegistered, "resource/status_at"),
    text(
        K::ResourceRegistered,
        "resource/email",
        StaffDetails,
        R::Resource,
        "/resource/id",
    ),
    text(
        K::ResourceRegistered,
        "resource/phone",
        StaffDetails,
        R::Resource,
        "/resource/id",
    ),
    op(K::ResourceStatusChanged, "resource_id"),
    op(K::ResourceStatusChanged, "from"),
    op(K::ResourceStatusChanged, "status"),
    op(K::ResourceLocated, "resource_id"),
    value(
        K::ResourceLocated,
        "lat",
        StaffLocations,
        R::Resource,
        "/resource_id",
    ),
    value(
        K::ResourceLocated,
        "lon",
        StaffLocations,
        R::Resource,
        "/resource_id",
    ),
    op(K::ResourceUpdated, "resource_id"),
    op(K::ResourceUpdated, "name"),
    op(K::ResourceUpdated, "resource_type"),
    op(K::ResourceUpdated, "team"),
    op(K::ResourceUpdated, "skills"),
    op(K::ResourceUpdated, "home"),
    op(K::ResourceRetired, "resource_id"),
    // assignment.*: record assignment:{id}
    op(K::AssignmentCreated, "assignment/id"),
    op(K::AssignmentCreated, "assignment/incident_id"),
    op(K::AssignmentCreated, "assignment/resource_id"),
    op(K::AssignmentCreated, "assignment/responsibilities"),
    op(K::AssignmentCreated, "assignment/actions/*/id"),
    op(K::AssignmentCreated, "assignment/actions/*/text"),
    op(K::AssignmentCreated, "assignment/actions/*/required"),
    op(K::AssignmentCreated, "assignment/actions/*/done_at"),
    op(K::AssignmentCreated, "assignment/actions/*/done_by"),
    text(
        K::AssignmentCreated,
        "assignment/actions/*/note",
        FreeText,
        R::Assignment,
        "/assignment/id",
    ),
    op(K::AssignmentCreated, "assignment/actions/*/skipped"),
    op(K::AssignmentCreated, "assignment/status"),
    op(K::AssignmentCreated, "assignment/reason"),
    op(K::AssignmentCreated, "assignment/created_by"),
    op(K::AssignmentCreated, "assignment/notified_at"),
    op(K::AssignmentCreated, "assignment/acknowledged_at"),
    op(K::AssignmentCreated, "assignment/en_route_at"),
    op(K::AssignmentCreated, "assignment/on_scene_at"),
    op(K::AssignmentCreated, "assignment/completed_at"),
    op(K::AssignmentCreated, "assignment/declined_at"),
    op(K::AssignmentCreated, "assignment/decline_reason"),
    op(K::AssignmentCreated, "assignment/cancelled_at"),
    op(K::AssignmentCreated, "assignment/cancel_reason"),
    op(K::AssignmentCreated, "assignment/last_checkin_at"),
    op(K::AssignmentAcknowledged, "assignment_id"),
    op(K::AssignmentAcknowledged, "via"),
    op(K::AssignmentDeclined, "assignment_id"),
    op(K::AssignmentDeclined, "reason"),
    op(K::AssignmentProgressed, "assignment_id"),
    op(K::AssignmentProgressed, "status"),
    op(K::AssignmentProgressed, "via"),
    op(K::AssignmentProgressed, "skipped/*"),
    op(K::AssignmentActionDone, "assignment_id"),
    op(K::AssignmentActionDone, "action_id"),
    text(
        K::AssignmentActionDone,
        "note",
        FreeText,
        R::Assignment,
        "/assignment_id",
    ),
    op(K::AssignmentActionUndone, "assignment_id"),
    op(K::AssignmentActionUndone, "action_id"),
    op(K::AssignmentActionUndone, "reason"),
    op(K::AssignmentCancelled, "assignment_id"),
    op(K::AssignmentCancelled, "reason"),
    op(K::CheckinRecorded, "assignment_id"),
    op(K::CheckinRecorded, "ok"),
    text(
        K::CheckinRecorded,
        "note",
        CheckinNotes,
        R::Assignment,
        "/assignment_id",
    ),
    op(K::CheckinRecorded, "via"),
    // message.*: the broadcast text is operational (the audit trail of what was said).
    op(K::MessageBroadcast, "message/id"),
    op(K::MessageBroadcast, "message/audience"),
    op(K::MessageBroadcast, "message/text"),
    op(K::MessageBroadcast, "message/requires_ack"),
    op(K::MessageBroadcast, "message/sent_by"),
    op(K::MessageBroadcast, "message/sent_at"),
    op(K::MessageBroadcast, "message/recipients"),
    op(K::MessageBroadcast, "message/acks/*"),
    op(K::MessageAcknowledged, "message_id"),
    op(K::MessageAcknowledged, "user_id"),
    // case.*: record case:{id}
    op(K::CaseOpened, "case/id"),
    op(K::CaseOpened, "case/case_type"),
    op(K::CaseOpened, "case/status"),
    op(K::CaseOpened, "case/incident_ids"),
    op(K::CaseOpened, "case/contact_id"),
    text(K::CaseOpened, "case/from", Cases, R::Case, "/case/id"),
    text(K::CaseOpened, "case/text", Cases, R::Case, "/case/id"),
    op(K::CaseOpened, "case/opened_by"),
    op(K::CaseOpened, "case/opened_at"),
    op(K::CaseOpened, "case/assigned_to"),
    text(K::CaseOpened, "case/response", Cases, R::Case, "/case/id"),
    op(K::CaseOpened, "case/responded_at"),
    op(K::CaseOpened, "case/outcome"),
    text(K::CaseOpened, "case/root_cause", Cases, R::Case, "/case/id"),
    op(K::CaseOpened, "case/closed_at"),
    text(K::CaseOpened, "case/email", Cases, R::Case, "/case/id"),
    op(K::CaseAssigned, "case_id"),
    op(K::CaseAssigned, "user_id"),
    op(K::CaseResponded, "case_id"),
    text(K::CaseResponded, "response", Cases, R::Case, "/case_id"),
    op(K::CaseClosed, "case_id"),
    op(K::CaseClosed, "outcome"),
    text(K::CaseClosed, "root_cause", Cases, R::Case, "/case_id"),
    // support.*: record plan:{id}
    op(K::SupportProposed, "plan/id"),
    op(K::SupportProposed, "plan/colleague_id"),
    op(K::SupportProposed, "plan/proposed_by"),
    op(K::SupportProposed, "plan/proposed_at"),
    op(K::SupportProposed, "plan/areas"),
    op(K::SupportProposed, "plan/support_type"),
    op(K::SupportProposed, "plan/review_on"),
    op(K::SupportProposed, "plan/status"),
    text(
        K::SupportProposed,
        "plan/notes/*/text",
        SupportPlans,
        R::Plan,
        "/plan/id",
    ),
    op(K::SupportProposed, "plan/notes/*/by"),
    op(K::SupportProposed, "plan/notes/*/at"),
    op(K::SupportProposed, "plan/agreed_by"),
    op(K::SupportProposed, "plan/agreed_at"),
    op(K::SupportProposed, "plan/reviewed_by"),
    op(K::SupportProposed, "plan/reviewed_at"),
    text(
        K::SupportProposed,
        "plan/review_outcome",
        SupportPlans,
        R::Plan,
        "/plan/id",
    ),
    op(K::SupportAgreed, "plan_id"),
    op(K::SupportNoted, "plan_id"),
    text(K::SupportNoted, "text", SupportPlans, R::Plan, "/plan_id"),
    op(K::SupportReviewed, "plan_id"),
    text(
        K::SupportReviewed,
        "outcome",
        SupportPlans,
        R::Plan,
        "/plan_id",
    ),
    op(K::SupportEvidenceAttached, "plan_id"),
    op(K::SupportEvidenceAttached, "evidence/kind"),
    op(K::SupportEvidenceAttached, "evidence/scenario"),
    op(K::SupportEvidenceAttached, "evidence/trainee_id"),
    op(K::SupportEvidenceAttached, "evidence/started_at"),
    value(
        K::SupportEvidenceAttached,
        "evidence/score",
        SupportPlans,
        R::Plan,
        "/plan_id",
    ),
    text(
        K::SupportEvidenceAttached,
        "evidence/summary",
        SupportPlans,
        R::Plan,
        "/plan_id",
    ),
    value(
        K::SupportEvidenceAttached,
        "evidence/figures",
        SupportPlans,
        R::Plan,
        "/plan_id",
    ),
    // improvement.*: the audit trail of the centre's learning, operational.
    op(K::ImprovementRaised, "improvement/id"),
    op(K::ImprovementRaised, "improvement/title"),
    op(K::ImprovementRaised, "improvement/finding"),
    op(K::ImprovementRaised, "improvement/owner_id"),
    op(K::ImprovementRaised, "improvement/due_on"),
    op(K::ImprovementRaised, "improvement/areas"),
    op(K::ImprovementRaised, "improvement/plan_id"),
    op(K::ImprovementRaised, "improvement/status"),
    op(K::ImprovementRaised, "improvement/raised_by"),
    op(K::ImprovementRaised, "improvement/raised_at"),
    op(K::ImprovementRaised, "improvement/history"),
    op(K::ImprovementUpdated, "improvement_id"),
    op(K::ImprovementUpdated, "status"),
    op(K::ImprovementUpdated, "note"),
    op(K::AlertAcknowledged, "alert_id"),
    op(K::AlertAcknowledged, "note"),
    op(K::AssignmentEscalated, "assignment_id"),
    op(K::AssignmentEscalated, "level"),
    op(K::AssignmentEscalated, "action"),
    op(K::AssignmentEscalated, "channel"),
    op(K::AssignmentEscalated, "suggested_resource_id"),
    op(K::CheckinMissed, "assignment_id"),
    op(K::CheckinMissed, "due_at"),
    op(K::TargetBreached, "incident_id"),
    op(K::TargetBreached, "case_id"),
    op(K::TargetBreached, "plan_id"),
    op(K::TargetBreached, "target"),
    op(K::TargetBreached, "priority"),
    op(K::TargetBreached, "due_at"),
    op(K::NotificationSent, "assignment_id"),
    op(K::NotificationSent, "case_id"),
    op(K::NotificationSent, "message_id"),
    op(K::NotificationSent, "channel"),
    op(K::NotificationSent, "level"),
    op(K::NotificationSent, "status"),
    op(K::NotificationSent, "attempts"),
    op(K::NotificationFailed, "assignment_id"),
    op(K::NotificationFailed, "case_id"),
    op(K::NotificationFailed, "message_id"),
    op(K::NotificationFailed, "channel"),
    op(K::NotificationFailed, "level"),
    op(K::NotificationFailed, "error"),
    op(K::NotificationFailed, "attempts"),
    // push.*: record user:{user_id}
    op(K::PushSubscribed, "user_id"),
    text(
        K::PushSubscribed,
        "endpoint",
        StaffDetails,
        R::User,
        "/user_id",
    ),
    // `keys/*`, not `keys`: its two strings read `"[erased]"` once erased, so the
    // event still deserialises (an object would read `null`).
    text(
        K::PushSubscribed,
        "keys/*",
        StaffDetails,
        R::User,
        "/user_id",
    ),
    op(K::PushSubscribed, "session"),
    op(K::PushUnsubscribed, "user_id"),
    value(
        K::PushUnsubscribed,
        "endpoint",
        StaffDetails,
        R::User,
        "/user_id",
    ),
    op(K::PushUnsubscribed, "reason"),
    op(K::LogMigrated, "from_head"),
    op(K::LogMigrated, "from_events"),
    op(K::LogMigrated, "migrated_at"),
    // The privacy log: ids, categories and an admin's reasons (the audit trail).
    op(K::PrivacyErased, "subject_id"),
    op(K::PrivacyErased, "records/*/type"),
    op(K::PrivacyErased, "records/*/id"),
    op(K::PrivacyErased, "records/*/reference"),
    op(K::PrivacyErased, "categories/*"),
    op(K::PrivacyErased, "reason"),
    op(K::PrivacyErased, "override"),
    op(K::PrivacyErased, "justification"),
    op(K::PrivacySwept, "category"),
    op(K::PrivacySwept, "retention_days"),
    op(K::PrivacySwept, "before"),
    op(K::PrivacySwept, "records/*/type"),
    op(K::PrivacySwept, "records/*/id"),
    op(K::PrivacySwept, "records/*/reference"),
    op(K::PrivacyAccessed, "subject_id"),
    op(K::PrivacyAccessed, "purpose"),
    op(K::PrivacySearched, "matches"),
    // roster.*: when a resource is on shift is operational, like its status.
    op(K::RosterShiftAdded, "shift_id"),
    op(K::RosterShiftAdded, "resource_id"),
    op(K::RosterShiftAdded, "start"),
    op(K::RosterShiftAdded, "end"),
    op(K::RosterShiftRemoved, "shift_id"),
    op(K::RosterShiftRemoved, "resource_id"),
    op(K::RosterShiftStarted, "shift_id"),
    op(K::RosterShiftStarted, "resource_id"),
    op(K::RosterShiftEnded, "shift_id"),
    op(K::RosterShiftEnded, "resource_id"),
    op(K::RosterShiftEnded, "busy_on"),
];

/// The personal rows of each kind (most kinds have none).
/// (foldhash: the writer looks every event's kind up here.)
type ByKind<T> = HashMap<EventKind, Vec<T>, foldhash::fast::RandomState>;

static PERSONAL: LazyLock<ByKind<Row>> = LazyLock::new(|| {
    let mut by_kind = ByKind::<Row>::default();
    for row in TABLE {
        if matches!(row.class, Class::Personal(_)) {
            by_kind.entry(row.kind).or_default().push(*row);
        }
    }
    by_kind
});

/// The personal rows of `kind`: empty for a kind with no personal data, which is
/// then stored as it is.
pub fn personal_rows(kind: EventKind) -> &'static [Row] {
    PERSONAL.get(&kind).map(Vec::as_slice).unwrap_or(&[])
}

/// One personal value present in an event: its exact JSON pointer (with `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub pointer: String,
    pub keep: Keep,
    pub erased: Erased,
}

/// The personal values of one scope in an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeLeaves {
    /// E.g. `contact:con_84/caller_details`.
    pub scope: String,
    pub category: Category,
    pub record: RecordType,
    pub record_id: String,
    pub leaves: Vec<Leaf>,
}

/// Why an event's personal data cannot be placed in a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// The id the row names is missing or not a string.
    #[error("{kind}: personal field {pointer} has no record id at {id}")]
    NoRecordId {
        kind: &'static str,
        pointer: String,
        id: &'static str,
    },
}

/// The personal values present in an event's JSON (`body`, as serialised), grouped by
/// scope in the table's order; `at` is the event's time (for day-scoped categories).
/// `null` values carry nothing and are left out. This is the table read plainly, over
/// JSON: the writer seals in one pass of serde instead (`muster-vault`'s `split`),
/// and its tests hold that pass to this.
pub fn personal_leaves(
    kind: EventKind,
    body: &Value,
    at: DateTime<Utc>,
) -> Result<Vec<ScopeLeaves>, ClassifyError> {
    let mut out: Vec<ScopeLeaves> = Vec::new();
    // Rows that name the same id pointer, record type and category share a scope: the
    // id is looked up and the scope written once for them (this runs for every event
    // the writer seals).
    let mut seen: Vec<(&'static str, RecordType, Category, usize)> = Vec::new();
    for row in personal_rows(kind) {
        let Class::Personal(p) = row.class else {
            continue;
        };
        let mut pointers = Vec::new();
        expand(body, row.path.split('/'), &mut String::new(), &mut pointers);
        if pointers.is_empty() {
            continue;
        }
        let known = seen
            .iter()
            .find(|(id, record, category, _)| {
                *id == p.id && *record == p.record && *category == p.category
            })
            .map(|s| s.3);
        let at = match known {
            Some(i) => i,
            None => {
                let Some(id) = body.pointer(p.id).and_then(Value::as_str) else {
                    return Err(ClassifyError::NoRecordId {
                        kind: kind.as_str(),
                        pointer: pointers.swap_remove(0),
                        id: p.id,
                    });
                };
                let scope = super::scope(p.record, id, p.category, at);
                let i = match out.iter().position(|s| s.scope == scope) {
                    Some(i) => i,
                    None => {
                        out.push(ScopeLeaves {
                            scope,
                            category: p.category,
                            record: p.record,
                            record_id: id.to_string(),
                            leaves: Vec::new(),
                        });
                        out.len() - 1
                    }
                };
                seen.push((p.id, p.record, p.category, i));
                i
            }
        };
        for pointer in pointers {
            out[at].leaves.push(Leaf {
                pointer,
                keep: p.keep,
                erased: p.erased,
            });
        }
    }
    Ok(out)
}

/// Appends to `out` the pointers of the non-null values `path` reaches in `v`.
fn expand<'a>(
    v: &Value,
    mut path: impl Iterator<Item = &'a str> + Clone,
    prefix: &mut String,
    out: &mut Vec<String>,
) {
    let Some(seg) = path.next() else {
        if !v.is_null() {
            out.push(prefix.clone());
        }
        return;
    };
    let len = prefix.len();
    match (seg, v) {
        ("*", Value::Object(map)) => {
            for (k, child) in map {
                push_segment(prefix, k);
                expand(child, path.clone(), prefix, out);
                prefix.truncate(len);
            }
        }
        ("*", Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push('/');
                prefix.push_str(itoa::Buffer::new().format(i));
                expand(child, path.clone(), prefix, out);
                prefix.truncate(len);
            }
        }
        (key, Value::Object(map)) => {
            if let Some(child) = map.get(key) {
                push_segment(prefix, key);
                expand(child, path, prefix, out);
                prefix.truncate(len);
            }
        }
        _ => {}
    }
}

/// Appends `/key` to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub fn push_segment(pointer: &mut String, key: &str) {
    pointer.push('/');
    if !key.contains(['~', '/']) {
        return pointer.push_str(key);
    }
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// The personal row that covers an exact pointer of a `kind` event, if any: how an
/// opener knows what an erased value reads as.
pub fn personal_at(kind: EventKind, pointer: &str) -> Option<Personal> {
    let segments: Vec<&str> = pointer.strip_prefix('/')?.split('/').collect();
    personal_rows(kind).iter().find_map(|row| match row.class {
        Class::Personal(p) if covers(row.path, &segments) => Some(p),
        _ => None,
    })
}

/// True when the row pattern `path` covers the value at `segments` (the pattern, with
/// `*` for any one segment, is a prefix of it).
fn covers(path: &str, segments: &[&str]) -> bool {
    let pattern: Vec<&str> = path.split('/').collect();
    pattern.len() <= segments.len()
        && pattern
            .iter()
            .zip(segments)
            .all(|(p, s)| *p == "*" || p == s)
}

/// Rounds a coordinate to `decimals` places (what a Coarse value keeps in clear).
pub fn round(value: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests;
