//! Contacts: each call, e-mail, SMS, web form, chat, radio call or walk-in about an
//! incident. A contact waits in the intake queue until an operator takes it, is linked
//! to a new or existing incident, and is closed with an outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::geo::Location;
use super::ids::{ContactId, IncidentId, UserId};
use super::{DomainError, Lifecycle, MAX_SHORT_TEXT, MAX_TEXT, check_text, wire_enum};

wire_enum!(
    /// How the contact reached the centre.
    Channel {
        Phone => "phone",
        Email => "email",
        Sms => "sms",
        Web => "web",
        Chat => "chat",
        Radio => "radio",
        WalkIn => "walk_in",
        Api => "api",
        /// An alarm gateway's alert (`POST /api/intake/cap`).
        Alarm => "alarm",
    }
);

wire_enum!(
    /// Why the person got in touch.
    ContactReason {
        /// A new report of something happening (the default).
        Report => "report",
        /// A question about an incident or the service.
        Query => "query",
        /// A complaint about how an incident was handled.
        Complaint => "complaint",
        /// More information about a known incident.
        Update => "update",
    }
);

// Declared by `wire_enum!`, so the default cannot be derived on the variant.
#[allow(clippy::derivable_impls)]
impl Default for ContactReason {
    fn default() -> Self {
        ContactReason::Report
    }
}

wire_enum!(
    /// Where a contact is in intake.
    ContactStatus {
        /// Waiting in the intake queue.
        Queued => "queued",
        /// An operator is handling it.
        Taken => "taken",
        /// Finished with an outcome.
        Closed => "closed",
    }
);

impl Lifecycle for ContactStatus {
    const ENTITY: &'static str = "contact";

    fn next(self) -> &'static [Self] {
        match self {
            ContactStatus::Queued => &[ContactStatus::Taken, ContactStatus::Closed],
            ContactStatus::Taken => &[ContactStatus::Closed],
            ContactStatus::Closed => &[],
        }
    }

    fn name(self) -> &'static str {
        ContactStatus::name(self)
    }
}

/// Who got in touch. Every field is optional: an anonymous caller is still a contact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Caller {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Caller {
    pub fn validate(&self) -> Result<(), DomainError> {
        for (field, value) in [
            ("caller.name", &self.name),
            ("caller.phone", &self.phone),
            ("caller.email", &self.email),
        ] {
            if let Some(v) = value {
                check_text(field, v, MAX_SHORT_TEXT, false)?;
            }
        }
        Ok(())
    }
}

/// One contact as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Contact {
    pub id: ContactId,
    pub channel: Channel,
    pub caller: Caller,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub summary: String,
    pub reason: ContactReason,
    pub status: ContactStatus,
    pub received_at: DateTime<Utc>,
    /// Who recorded it (an operator or an intake gateway).
    pub received_by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Checks a new contact's fields.
pub fn validate_new(
    caller: &Caller,
    location: Option<&Location>,
    summary: &str,
) -> Result<(), DomainError> {
    caller.validate()?;
    if let Some(l) = location {
        l.validate("location", false)?;
    }
    check_text("summary", summary, MAX_TEXT, true)
}

impl Contact {
    /// Linking is allowed until the contact is closed.
    pub fn check_linkable(&self) -> Result<(), DomainError> {
        if self.status == ContactStatus::Closed {
            return Err(DomainError::InvalidTransition {
                entity: "contact",
                from: "closed".into(),
                to: "linked".into(),
            });
        }
        Ok(())
    }
}

impl super::Finish for Contact {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        (self.status == ContactStatus::Closed)
            .then_some(self.closed_at)
            .flatten()
    }
}

/// A contact as it was received (`contact.received`): what the caller gave. Who took
/// it in and when are the event's envelope; it starts `queued`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewContact {
    pub id: ContactId,
    pub channel: Channel,
    pub caller: Caller,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub summary: String,
    pub reason: ContactReason,
}

impl Contact {
    /// The contact a `contact.received` fact starts, received `at` by `by`.
    pub fn received(new: &NewContact, at: DateTime<Utc>, by: &UserId) -> Contact {
        let NewContact {
            id,
            channel,
            caller,
            location,
            summary,
            reason,
        } = new;
        Contact {
            id: id.clone(),
            channel: *channel,
            caller: caller.clone(),
            location: location.clone(),
            summary: summary.clone(),
            reason: *reason,
            status: ContactStatus::Queued,
            received_at: at,
            received_by: by.clone(),
            taken_at: None,
            taken_by: None,
            incident_id: None,
            closed_at: None,
            outcome: None,
            note: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContactStatus::*;

    #[test]
    fn contact_lifecycle_table() {
        let allowed = [(Queued, Taken), (Queued, Closed), (Taken, Closed)];
        for &from in ContactStatus::ALL {
            for &to in ContactStatus::ALL {
                let ok = from.check_move(to).is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        assert_eq!(
            Taken.check_move(Queued).unwrap_err().to_string(),
            "contact cannot go from taken to queued"
        );
    }

    #[test]
    fn channels_use_their_wire_names() {
        assert_eq!(
            serde_json::to_string(&Channel::WalkIn).unwrap(),
            "\"walk_in\""
        );
        assert!(serde_json::from_str::<Channel>("\"pigeon\"").is_err());
    }
}
