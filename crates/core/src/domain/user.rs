//! Users and their roles. Capabilities are exhaustive methods on [`Role`], so adding
//! a role forces a decision on every capability.

use serde::{Deserialize, Serialize};

use super::ids::{ResourceId, UserId};

/// What a user is allowed to do.
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
pub enum Role {
    /// Call taker / dispatcher.
    Operator,
    /// Watches everything, overrides with a justification, handles cases.
    Supervisor,
    /// Deployed personnel, linked to a resource.
    Field,
    /// Manages users and resources.
    Admin,
    /// A channel gateway's machine key: may only receive contacts.
    Intake,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Supervisor,
        Role::Field,
        Role::Admin,
        Role::Intake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Field => "field",
            Role::Admin => "admin",
            Role::Intake => "intake",
        }
    }

    /// Takes contacts, opens and assesses incidents, dispatches, broadcasts.
    pub fn can_dispatch(self) -> bool {
        match self {
            Role::Operator | Role::Supervisor => true,
            Role::Field | Role::Admin | Role::Intake => false,
        }
    }

    /// Waives a procedure rule on an incident with a written justification.
    pub fn can_override(self) -> bool {
        match self {
            Role::Supervisor => true,
            Role::Operator | Role::Field | Role::Admin | Role::Intake => false,
        }
    }

    /// Records a new contact from a channel.
    pub fn can_receive_contacts(self) -> bool {
        match self {
            Role::Operator | Role::Supervisor | Role::Intake => true,
            Role::Field | Role::Admin => false,
        }
    }

    /// Creates and disables users, registers resources.
    pub fn can_administer(self) -> bool {
        match self {
            Role::Admin => true,
            Role::Operator | Role::Supervisor | Role::Field | Role::Intake => false,
        }
    }

    /// Sees every incident, resource and assignment (not only its own).
    pub fn sees_everything(self) -> bool {
        match self {
            Role::Operator | Role::Supervisor | Role::Admin => true,
            Role::Field | Role::Intake => false,
        }
    }

    /// Acts only on the assignments of its own resource.
    pub fn is_field(self) -> bool {
        match self {
            Role::Field => true,
            Role::Operator | Role::Supervisor | Role::Admin | Role::Intake => false,
        }
    }

    /// Reads reports, audit and the whole log.
    pub fn can_review(self) -> bool {
        match self {
            Role::Supervisor => true,
            Role::Operator | Role::Field | Role::Admin | Role::Intake => false,
        }
    }
}

/// A user account as the state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<ResourceId>,
    #[serde(default)]
    pub disabled: bool,
    /// The seq of the event that last set the password (`user.created` or
    /// `user.password_changed`): a session begun under an earlier one has ended. The
    /// hash itself is in the credential store, never in the log or the state.
    #[serde(default)]
    pub password_seq: u64,
}

/// A new account as `user.created` records it: what was given, nothing derived. The
/// password is not here: the hub keeps its hash in the credential store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<ResourceId>,
    /// The single sign-on identity the account is linked to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

/// A person at an OpenID Connect provider: the provider's `id` in the settings
/// (`[[auth.oidc]]`) and the ID token's `sub`, which the provider never reassigns.
/// The `subject` is personal data (sealed in the log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
}

impl Identity {
    /// The key of [`crate::engine::state::State::identities`]: provider and subject,
    /// joined by a character neither may contain.
    pub fn key(&self) -> String {
        identity_key(&self.provider, &self.subject)
    }
}

/// See [`Identity::key`].
pub fn identity_key(provider: &str, subject: &str) -> String {
    format!("{provider}\n{subject}")
}
