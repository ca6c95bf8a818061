//! Typed identifiers. Every id is a string with a type prefix (`inc_…`, `res_…`).
//!
//! Ids the engine creates are numbered by the `seq` of the event that created the
//! object, so they are unique, deterministic on replay and say where in the log the
//! object was born.

/// Declares a string id type with its prefix.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The prefix every id of this type starts with.
            pub const PREFIX: &'static str = $prefix;

            /// The id of the object created by the event at `seq`.
            pub fn at_seq(seq: u64) -> Self {
                Self(format!("{}_{}", $prefix, seq))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A contact: one call, e-mail, message or report received.
    ContactId, "con"
);
id_type!(
    /// An incident: the thing that happened, which contacts are about.
    IncidentId, "inc"
);
id_type!(
    /// A resource: a person, vehicle or team that can be sent.
    ResourceId, "res"
);
id_type!(
    /// An assignment of one resource to one incident.
    AssignmentId, "asg"
);
id_type!(
    /// A user account.
    UserId, "usr"
);
id_type!(
    /// A broadcast or direct message.
    MessageId, "msg"
);
id_type!(
    /// A query or complaint case.
    CaseId, "case"
);
id_type!(
    /// A colleague support plan.
    PlanId, "plan"
);
id_type!(
    /// An improvement action raised from a review.
    ImprovementId, "imp"
);
id_type!(
    /// An alert, numbered by the seq of the event that raised it.
    AlertId, "alr"
);
id_type!(
    /// A shift on a resource's roster.
    ShiftId, "shf"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_serialize_as_plain_strings() {
        let id = IncidentId::at_seq(42);
        assert_eq!(id.as_str(), "inc_42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"inc_42\"");
        let back: IncidentId = serde_json::from_str("\"inc_42\"").unwrap();
        assert_eq!(back, id);
    }
}
