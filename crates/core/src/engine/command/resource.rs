//! `user.*` and `resource.*`: administration and the units' own reports.

use serde::{Deserialize, Serialize};

use crate::domain::geo::Location;
use crate::domain::ids::{ResourceId, UserId};
use crate::domain::resource::ResourceType;
use crate::domain::user::{Identity, Role};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserCreate {
    pub username: String,
    pub role: Role,
    /// Required unless `identity` is given (a single sign-on account has none).
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub resource_id: Option<ResourceId>,
    /// Links the account to a person at an OpenID Connect provider (single sign-on);
    /// one account per identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Argon2id hash of `password`, computed by the hub before the command reaches
    /// the single writer (hashing is slow and salted, so it stays out of the engine).
    #[serde(skip)]
    pub password_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserDisable {
    pub user_id: UserId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserPassword {
    pub user_id: UserId,
    pub password: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceRegister {
    pub name: String,
    pub resource_type: ResourceType,
    #[serde(default)]
    pub skills: Vec<String>,
    pub team: String,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub location: Option<Location>,
    /// Personal data: where the ladder's `email` rung writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Personal data: the number an SMS gateway texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceStatus {
    pub resource_id: ResourceId,
    pub status: crate::domain::resource::ResourceStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceLocate {
    pub resource_id: ResourceId,
    pub lat: f64,
    pub lon: f64,
}

/// Deserialises a field that may be absent (`None`: unchanged), `null`
/// (`Some(None)`: cleared) or a value (`Some(Some(v))`). Use with
/// `#[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]`:
/// `Some(None)` then serialises as `null` and `None` not at all.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserEnable {
    pub user_id: UserId,
}

/// Changes what is given; an absent field is left as it is. `resource_id` is a double
/// option: absent = unchanged, `null` = unlinked, an id = linked to that resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserUpdate {
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<ResourceId>")]
    pub resource_id: Option<Option<ResourceId>>,
}

/// Changes what is given; an absent field is left as it is. `home` is where the
/// resource is based (its position on registration, the CSV's `lat, lon`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceUpdate {
    pub resource_id: ResourceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<crate::domain::resource::Coordinates>,
}

/// Takes a resource out of service for good: never recommended nor assignable again,
/// gone from the lists, kept in history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceRetire {
    pub resource_id: ResourceId,
}
