//! Messages: broadcasts to everyone, a team, an incident's responders or one resource,
//! and direct guidance to one user, with per-recipient acknowledgement.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::ids::{IncidentId, MessageId, ResourceId, UserId};

/// Who a message is for. On the wire: `all`, `field`, `team:<name>`, `incident:<id>`,
/// `resource:<id>`, `user:<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    All,
    /// All field staff: every enabled field user (the ones who can acknowledge from a
    /// phone), not the desks.
    Field,
    Team(String),
    Incident(IncidentId),
    Resource(ResourceId),
    /// A direct message, seen by the sender and the recipient alone.
    User(UserId),
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::All => f.write_str("all"),
            Audience::Field => f.write_str("field"),
            Audience::Team(t) => write!(f, "team:{t}"),
            Audience::Incident(i) => write!(f, "incident:{i}"),
            Audience::Resource(r) => write!(f, "resource:{r}"),
            Audience::User(u) => write!(f, "user:{u}"),
        }
    }
}

impl FromStr for Audience {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            DomainError::validation(
                "audience",
                "use all, field, team:<name>, incident:<id>, resource:<id> or user:<id>",
            )
        };
        match s {
            "all" => return Ok(Audience::All),
            "field" => return Ok(Audience::Field),
            _ => {}
        }
        let (scope, name) = s.split_once(':').ok_or_else(bad)?;
        if name.trim().is_empty() {
            return Err(bad());
        }
        Ok(match scope {
            "team" => Audience::Team(name.to_string()),
            "incident" => Audience::Incident(name.into()),
            "resource" => Audience::Resource(name.into()),
            "user" => Audience::User(name.into()),
            _ => return Err(bad()),
        })
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// On the wire a string: `all`, `field`, `team:NAME`, `incident:ID`, `resource:ID` or
/// `user:ID`.
impl schemars::JsonSchema for Audience {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Audience".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(all|field|(team|incident|resource|user):.*\\S.*)$",
            "description": "Who a message is for: `all`, `field`, `team:NAME`, `incident:ID`, `resource:ID` or `user:ID`."
        })
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One message as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    pub id: MessageId,
    pub audience: Audience,
    pub text: String,
    pub requires_ack: bool,
    pub sent_by: UserId,
    pub sent_at: DateTime<Utc>,
    /// The users it was addressed to when it was sent (acknowledgement is tracked
    /// against this list).
    pub recipients: Vec<UserId>,
    /// Who acknowledged, and when.
    #[serde(default)]
    pub acks: BTreeMap<UserId, DateTime<Utc>>,
}

impl super::Finish for Message {
    /// A message is finished once sent, or, when it asks for acknowledgement, once
    /// every recipient has acknowledged it: until then someone still has to act on it.
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        if !self.requires_ack {
            return Some(self.sent_at);
        }
        self.recipients.iter().try_fold(self.sent_at, |last, u| {
            self.acks.get(u).map(|at| last.max(*at))
        })
    }
}

/// A message as it was sent (`message.broadcast`): to whom it was addressed, judged
/// when it was sent. Who sent it and when are the envelope's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewMessage {
    pub id: MessageId,
    pub audience: Audience,
    pub text: String,
    pub requires_ack: bool,
    pub recipients: Vec<UserId>,
}

impl Message {
    /// The message a `message.broadcast` fact records, sent `at` by `by`.
    pub fn sent(new: &NewMessage, at: DateTime<Utc>, by: &UserId) -> Message {
        Message {
            id: new.id.clone(),
            audience: new.audience.clone(),
            text: new.text.clone(),
            requires_ack: new.requires_ack,
            sent_by: by.clone(),
            sent_at: at,
            recipients: new.recipients.clone(),
            acks: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_round_trip_through_their_wire_form() {
        for s in [
            "all",
            "field",
            "team:north",
            "incident:inc_4",
            "resource:res_2",
            "user:usr_9",
        ] {
            let a: Audience = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("team:".parse::<Audience>().is_err());
        assert!("planet:mars".parse::<Audience>().is_err());
    }

    #[test]
    fn a_message_asking_for_acknowledgement_finishes_at_the_last_one() {
        use crate::domain::Finish;
        use chrono::{Duration, TimeZone};
        let sent = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let (a, b) = (UserId("usr_1".into()), UserId("usr_2".into()));
        let mut m = Message {
            id: MessageId("msg_1".into()),
            audience: Audience::All,
            text: "shift change".into(),
            requires_ack: false,
            sent_by: UserId("usr_9".into()),
            sent_at: sent,
            recipients: vec![a.clone(), b.clone()],
            acks: BTreeMap::new(),
        };
        assert_eq!(m.finished_at(), Some(sent), "nothing to wait for");
        m.requires_ack = true;
        m.acks.insert(b, sent + Duration::minutes(5));
        assert_eq!(m.finished_at(), None, "usr_1 has not acknowledged");
        m.acks.insert(a, sent + Duration::minutes(2));
        assert_eq!(m.finished_at(), Some(sent + Duration::minutes(5)));
    }
}
