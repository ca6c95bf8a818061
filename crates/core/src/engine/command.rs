//! Commands: what clients ask the hub to do. Names are imperative `noun.verb`, exactly
//! as in PROTOCOL.md; inside a command `kind` is always the command's name.
//!
//! Each command is a plain struct (in a module per area, like the handlers), and the
//! `commands!` table below is the only place a command's wire name is written: it
//! generates [`Command`], [`CommandKind`] and the conversions between them.

mod alert;
mod assignment;
mod case;
mod contact;
mod improvement;
mod incident;
mod message;
mod privacy;
mod push;
mod resource;
mod roster;
mod support;
mod timer;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use alert::*;
pub use assignment::*;
pub use case::*;
pub use contact::*;
pub use improvement::*;
pub use incident::*;
pub use message::*;
pub use privacy::*;
pub use push::*;
pub use resource::*;
pub use roster::*;
pub use support::*;
pub use timer::*;

use crate::domain::ids::IncidentId;

/// Builds the command types from one table of `"wire.name" => Struct` lines.
macro_rules! commands {
    ($($name:literal => $variant:ident,)*) => {
        /// Every command the engine understands: `{"kind": <wire name>, ...fields}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "kind")]
        pub enum Command {
            $(
                #[serde(rename = $name)]
                $variant($variant),
            )*
        }

        /// What kind of command, without its fields; serialised as the wire name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CommandKind {
            $($variant,)*
        }

        impl CommandKind {
            /// Every kind, in the table's order.
            pub const ALL: &'static [CommandKind] = &[$(CommandKind::$variant,)*];

            /// The wire name, e.g. `incident.open`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(CommandKind::$variant => $name,)*
                }
            }

            /// The kind with this wire name, if any.
            pub fn from_name(name: &str) -> Option<CommandKind> {
                match name {
                    $($name => Some(CommandKind::$variant),)*
                    _ => None,
                }
            }
        }

        impl Command {
            /// The command's kind; `kind().as_str()` is its wire name.
            pub fn kind(&self) -> CommandKind {
                match self {
                    $(Command::$variant(_) => CommandKind::$variant,)*
                }
            }
        }

        $(
            impl From<$variant> for Command {
                fn from(command: $variant) -> Command {
                    Command::$variant(command)
                }
            }
        )*
    };
}

commands! {
    "contact.receive" => ContactReceive,
    "contact.take" => ContactTake,
    "contact.link" => ContactLink,
    "contact.close" => ContactClose,
    "incident.open" => IncidentOpen,
    "incident.answer" => IncidentAnswer,
    "incident.assess" => IncidentAssess,
    "incident.note" => IncidentNote,
    "incident.resolve" => IncidentResolve,
    "incident.close" => IncidentClose,
    "incident.reopen" => IncidentReopen,
    "incident.cancel" => IncidentCancel,
    "incident.merge" => IncidentMerge,
    "incident.override" => IncidentOverride,
    "incident.share" => IncidentShare,
    "incident.unshare" => IncidentUnshare,
    "user.create" => UserCreate,
    "user.disable" => UserDisable,
    "user.password" => UserPassword,
    "resource.register" => ResourceRegister,
    "resource.status" => ResourceStatus,
    "resource.locate" => ResourceLocate,
    "assignment.create" => AssignmentCreate,
    "assignment.acknowledge" => AssignmentAcknowledge,
    "assignment.decline" => AssignmentDecline,
    "assignment.progress" => AssignmentProgress,
    "assignment.action_done" => AssignmentActionDone,
    "assignment.action_undone" => AssignmentActionUndone,
    "assignment.cancel" => AssignmentCancel,
    "checkin" => Checkin,
    "message.broadcast" => MessageBroadcast,
    "message.acknowledge" => MessageAcknowledge,
    "case.open" => CaseOpen,
    "case.assign" => CaseAssign,
    "case.respond" => CaseRespond,
    "case.close" => CaseClose,
    "support.propose" => SupportPropose,
    "support.agree" => SupportAgree,
    "support.note" => SupportNote,
    "support.review" => SupportReview,
    "support.attach_evidence" => SupportAttachEvidence,
    "improvement.raise" => ImprovementRaise,
    "improvement.update" => ImprovementUpdate,
    "alert.acknowledge" => AlertAcknowledge,
    "push.subscribe" => PushSubscribe,
    "push.unsubscribe" => PushUnsubscribe,
    "timer.escalate" => TimerEscalate,
    "timer.checkin_missed" => TimerCheckinMissed,
    "timer.target_breached" => TimerTargetBreached,
    "timer.case_breached" => TimerCaseBreached,
    "timer.plan_review_missed" => TimerPlanReviewMissed,
    "notification.record" => NotificationRecord,
    "privacy.erase" => PrivacyErase,
    "privacy.sweep" => PrivacySweep,
    "privacy.access" => PrivacyAccess,
    "privacy.search" => PrivacySearch,
    "roster.add" => RosterAdd,
    "roster.remove" => RosterRemove,
    "timer.shift_start" => TimerShiftStart,
    "timer.shift_end" => TimerShiftEnd,
    "user.enable" => UserEnable,
    "user.update" => UserUpdate,
    "resource.update" => ResourceUpdate,
    "resource.retire" => ResourceRetire,
}

impl CommandKind {
    /// Commands only the hub itself issues (timers, delivery outcomes): every real
    /// role is refused them.
    pub fn is_internal(self) -> bool {
        use CommandKind::*;
        matches!(
            self,
            TimerEscalate
                | TimerCheckinMissed
                | TimerTargetBreached
                | TimerCaseBreached
                | TimerPlanReviewMissed
                | NotificationRecord
                | PrivacySweep
                | TimerShiftStart
                | TimerShiftEnd
        )
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind equals its wire name, so callers can compare with the name a client sent.
impl PartialEq<&str> for CommandKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// A name that is no command's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown command kind `{0}`")]
pub struct UnknownCommand(pub String);

impl FromStr for CommandKind {
    type Err = UnknownCommand;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CommandKind::from_name(name).ok_or_else(|| UnknownCommand(name.to_string()))
    }
}

impl Serialize for CommandKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// On the wire the name, one of the table's: the API documents list them all.
impl schemars::JsonSchema for CommandKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CommandKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = CommandKind::ALL.iter().map(|k| k.as_str()).collect();
        schemars::json_schema!({"type": "string", "description": "A command kind.", "enum": names})
    }
}

impl<'de> Deserialize<'de> for CommandKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Command {
    /// See [`CommandKind::is_internal`].
    pub fn is_internal(&self) -> bool {
        self.kind().is_internal()
    }

    /// The incident a command concerns directly, for tracing spans.
    pub fn incident_id(&self) -> Option<&IncidentId> {
        match self {
            Command::ContactLink(c) => Some(&c.incident_id),
            Command::IncidentAnswer(c) => Some(&c.incident_id),
            Command::IncidentAssess(c) => Some(&c.incident_id),
            Command::IncidentNote(c) => Some(&c.incident_id),
            Command::IncidentResolve(c) => Some(&c.incident_id),
            Command::IncidentClose(c) => Some(&c.incident_id),
            Command::IncidentReopen(c) => Some(&c.incident_id),
            Command::IncidentCancel(c) => Some(&c.incident_id),
            Command::IncidentMerge(c) => Some(&c.incident_id),
            Command::IncidentOverride(c) => Some(&c.incident_id),
            Command::IncidentShare(c) => Some(&c.incident_id),
            Command::IncidentUnshare(c) => Some(&c.incident_id),
            Command::TimerTargetBreached(c) => Some(&c.incident_id),
            Command::AssignmentCreate(c) => Some(&c.incident_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every command as the struct-variant enum serialised it before the table:
    /// each must parse and serialise back byte for byte.
    const WIRE: &[&str] = &[
        r#"{"kind":"contact.receive","channel":"phone","caller":{"name":"Jo Caller","phone":"+44 20 7946 0000"},"location":{"text":"Civic Centre, main entrance","lat":51.5074,"lon":-0.1278},"summary":"Smoke in the stairwell","reason":"report"}"#,
        r#"{"kind":"contact.take","contact_id":"con_1"}"#,
        r#"{"kind":"contact.link","contact_id":"con_1","incident_id":"inc_1"}"#,
        r#"{"kind":"contact.close","contact_id":"con_1","outcome":"advice_given","note":null}"#,
        r#"{"kind":"incident.open","contact_id":null,"type":"fire_alarm","description":"A fire_alarm reported at the Civic Centre","location":{"text":"Civic Centre, main entrance","lat":51.5074,"lon":-0.1278}}"#,
        r#"{"kind":"incident.answer","incident_id":"inc_1","answers":{"smoke_or_flames":true}}"#,
        r#"{"kind":"incident.assess","incident_id":"inc_1","validity":"verified","priority":"P2","method":"manual","reason":"caller on scene","duplicate_of":null,"impact":null,"urgency":null}"#,
        r#"{"kind":"incident.note","incident_id":"inc_1","text":"Caller rang back"}"#,
        r#"{"kind":"incident.resolve","incident_id":"inc_1","outcome":"treated_on_scene","summary":"Casualty treated and handed over"}"#,
        r#"{"kind":"incident.close","incident_id":"inc_1"}"#,
        r#"{"kind":"incident.reopen","incident_id":"inc_1","reason":"caller rang back"}"#,
        r#"{"kind":"incident.cancel","incident_id":"inc_1","reason":"false alarm"}"#,
        r#"{"kind":"incident.merge","incident_id":"inc_2","into":"inc_1","reason":"same fire, second caller"}"#,
        r#"{"kind":"incident.override","incident_id":"inc_1","rule":"close_requires_actions","justification":"checked by phone"}"#,
        r#"{"kind":"incident.share","incident_id":"inc_1","partner":"county-fire"}"#,
        r#"{"kind":"incident.unshare","incident_id":"inc_1","partner":"county-fire"}"#,
        r#"{"kind":"user.create","username":"newuser","role":"operator","password":"correct horse battery staple","name":null,"resource_id":null}"#,
        r#"{"kind":"user.disable","user_id":"usr_1"}"#,
        r#"{"kind":"user.password","user_id":"usr_1","password":"new password"}"#,
        r#"{"kind":"resource.register","name":"Spare Van","resource_type":"person","skills":["driving"],"team":"south","user_id":null,"location":{"text":"Civic Centre, main entrance","lat":51.5074,"lon":-0.1278}}"#,
        r#"{"kind":"resource.status","resource_id":"res_1","status":"unavailable"}"#,
        r#"{"kind":"resource.locate","resource_id":"res_1","lat":51.5,"lon":-0.12}"#,
        r#"{"kind":"assignment.create","incident_id":"inc_1","resource_id":"res_1","responsibilities":null,"actions":null,"reason":null}"#,
        r#"{"kind":"assignment.acknowledge","assignment_id":"asg_1"}"#,
        r#"{"kind":"assignment.decline","assignment_id":"asg_1","reason":"too far"}"#,
        r#"{"kind":"assignment.progress","assignment_id":"asg_1","status":"en_route"}"#,
        r#"{"kind":"assignment.action_done","assignment_id":"asg_1","action_id":"act_1","note":null}"#,
        r#"{"kind":"assignment.action_undone","assignment_id":"asg_1","action_id":"act_1","reason":"ticked by mistake"}"#,
        r#"{"kind":"assignment.cancel","assignment_id":"asg_1","reason":"not needed"}"#,
        r#"{"kind":"checkin","assignment_id":"asg_1","ok":true,"note":null}"#,
        r#"{"kind":"message.broadcast","audience":"all","text":"Radio check at noon","requires_ack":false}"#,
        r#"{"kind":"message.acknowledge","message_id":"msg_1"}"#,
        r#"{"kind":"case.open","case_type":"complaint","incident_id":"inc_1","contact_id":null,"from":"Jo Bloggs","text":"Nobody came for an hour"}"#,
        r#"{"kind":"case.assign","case_id":"case_1","user_id":"usr_1"}"#,
        r#"{"kind":"case.respond","case_id":"case_1","response":"We are sorry"}"#,
        r#"{"kind":"case.close","case_id":"case_1","outcome":"upheld","root_cause":"late_dispatch"}"#,
        r#"{"kind":"support.propose","colleague_id":"usr_1","areas":["intake"],"support_type":"coaching","review_on":"2026-03-30","notes":null}"#,
        r#"{"kind":"support.agree","plan_id":"plan_1"}"#,
        r#"{"kind":"support.note","plan_id":"plan_1","text":"Went well"}"#,
        r#"{"kind":"support.review","plan_id":"plan_1","outcome":"No further support needed"}"#,
        r#"{"kind":"support.attach_evidence","plan_id":"plan_1","evidence":{"kind":"exercise_debrief","scenario":"busy-evening","trainee_id":"usr_2","score":85,"started_at":"2026-03-02T09:00:00Z","summary":"Busy evening: 85/100","figures":{"answer":{"count":4}}}}"#,
        r#"{"kind":"improvement.raise","title":"Faster resource selection on nights","finding":"p90 time to dispatch 1.8x the team's median over 24 incidents","owner_id":"usr_1","due_on":"2026-04-13","areas":["resource_selection"],"plan_id":null}"#,
        r#"{"kind":"improvement.update","improvement_id":"imp_1","status":"in_progress","note":null}"#,
        r#"{"kind":"alert.acknowledge","alert_id":"alr_7","note":"seen"}"#,
        r#"{"kind":"push.subscribe","endpoint":"https://push.example/send/abc","keys":{"p256dh":"BNc","auth":"tBH"}}"#,
        r#"{"kind":"push.unsubscribe","endpoint":"https://push.example/send/abc"}"#,
        r#"{"kind":"timer.escalate","assignment_id":"asg_1","level":1}"#,
        r#"{"kind":"timer.checkin_missed","assignment_id":"asg_1","due_at":"2026-03-02T09:00:00.000Z"}"#,
        r#"{"kind":"timer.target_breached","incident_id":"inc_1","target":"dispatch"}"#,
        r#"{"kind":"timer.case_breached","case_id":"case_1","target":"respond"}"#,
        r#"{"kind":"timer.plan_review_missed","plan_id":"plan_1"}"#,
        r#"{"kind":"notification.record","assignment_id":"asg_1","channel":"sms","level":2,"error":null,"status":"HTTP 200"}"#,
        r#"{"kind":"privacy.erase","subject_id":"caller:con_1","reason":"erasure request","override":false,"justification":null}"#,
        r#"{"kind":"privacy.sweep","now":"2026-03-02T09:00:00.000Z"}"#,
        r#"{"kind":"privacy.access","subject_id":"caller:con_1","purpose":"subject access request"}"#,
        r#"{"kind":"privacy.search","q":"Jo Caller"}"#,
        r#"{"kind":"roster.add","resource_id":"res_1","start":"2026-03-02T09:00:00.000Z","end":"2026-03-02T17:00:00.000Z"}"#,
        r#"{"kind":"roster.remove","shift_id":"shf_1"}"#,
        r#"{"kind":"timer.shift_start","shift_id":"shf_1"}"#,
        r#"{"kind":"timer.shift_end","shift_id":"shf_1"}"#,
        r#"{"kind":"user.enable","user_id":"usr_1"}"#,
        r#"{"kind":"user.update","user_id":"usr_1","resource_id":null}"#,
        r#"{"kind":"resource.update","resource_id":"res_1","skills":["first_aid"],"home":{"lat":51.5,"lon":-0.1}}"#,
        r#"{"kind":"resource.retire","resource_id":"res_1"}"#,
    ];

    #[test]
    fn every_command_keeps_its_wire_json() {
        let mut seen = Vec::new();
        for json in WIRE {
            let command: Command = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&command).unwrap(), *json);
            seen.push(command.kind());
        }
        assert_eq!(
            seen,
            CommandKind::ALL,
            "one sample per kind, in table order"
        );
    }

    #[test]
    fn kinds_round_trip_their_wire_names() {
        for &kind in CommandKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<CommandKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            "incident.explode".parse::<CommandKind>(),
            Err(UnknownCommand("incident.explode".into()))
        );
    }
}
