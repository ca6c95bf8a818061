//! The demo centre's people and resources (`config/demo/`): DEMO ONLY.
//!
//! Loaded so `cargo run` shows a working centre with nothing to set up. The hub seeds
//! these into an empty log; outside the demo they do not exist.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::domain::geo::Location;
use crate::domain::ids::ResourceId;
use crate::engine::Command;
use crate::engine::command as cmd;

use crate::domain::procedure::{Problem, ResourceKind};
use crate::domain::user::Role;

/// Whether the hub runs the demo (`centre.demo`, `MUSTER_DEMO`, `--demo`).
///
/// The demo's passwords are published, so it must never be reachable by accident:
/// `auto` runs it only on a loopback bind, where nobody else can log in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DemoMode {
    /// On when bound to a loopback address, off on any other.
    #[default]
    Auto,
    /// On wherever the hub is bound (`--demo`, `MUSTER_DEMO=1`).
    On,
    /// Off even on loopback (`MUSTER_DEMO=0`).
    Off,
}

impl FromStr for DemoMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DemoMode::Auto),
            "1" | "on" | "true" | "yes" => Ok(DemoMode::On),
            "0" | "off" | "false" | "no" => Ok(DemoMode::Off),
            _ => Err("expected `1` (on), `0` (off) or `auto`".to_string()),
        }
    }
}

/// Whether the demo runs on this start, and why (for the start-up log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoDecision {
    pub on: bool,
    /// Says why, e.g. `bound to 0.0.0.0:8080 without --demo`.
    pub reason: String,
}

impl fmt::Display for DemoDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.on { "on" } else { "off" };
        write!(f, "demo {state}: {}", self.reason)
    }
}

/// Decides whether the demo runs: `mode` as configured, `has_seed` when a demo seed
/// was loaded (`centre.demo_dir` set), `bound` the address actually listened on.
pub fn decide(mode: DemoMode, has_seed: bool, bound: SocketAddr) -> DemoDecision {
    let (on, reason) = match (mode, has_seed) {
        (DemoMode::Off, _) => (false, "switched off (centre.demo = off)".to_string()),
        (_, false) => (false, "no demo seed (centre.demo_dir is empty)".to_string()),
        (DemoMode::On, true) => (true, format!("asked for (--demo) on {bound}")),
        (DemoMode::Auto, true) if is_loopback(bound.ip()) => {
            (true, format!("bound to loopback {bound}"))
        }
        (DemoMode::Auto, true) => (false, format!("bound to {bound} without --demo")),
    };
    DemoDecision { on, reason }
}

/// True for addresses only this machine can reach: 127.0.0.0/8, ::1, and IPv4 loopback
/// written as IPv6 (`::ffff:127.0.0.1`). The unspecified address (0.0.0.0, `[::]`)
/// listens on every interface, so it is not loopback.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Everything the demo seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Demo {
    pub users: Vec<DemoUser>,
    pub resources: Vec<DemoResource>,
    /// Bearer keys a channel gateway may use on `POST /api/intake/contacts`.
    pub intake_keys: Vec<String>,
}

/// `config/demo/users.toml` as written.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsersFile {
    #[serde(default)]
    pub intake_keys: Vec<String>,
    #[serde(default)]
    pub users: Vec<DemoUser>,
}

/// `config/demo/resources.toml` as written.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourcesFile {
    #[serde(default)]
    pub resources: Vec<DemoResource>,
}

/// A demo log-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    pub username: String,
    /// Display name.
    pub name: String,
    pub role: Role,
    /// Plain text because it is a published demo password; hashed when seeded.
    pub password: String,
    /// Key of the resource a field user acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A demo person, vehicle or team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoResource {
    /// Stable name users refer to it by (the resource id is assigned when seeded).
    pub key: String,
    pub name: String,
    pub resource_type: ResourceKind,
    #[serde(default)]
    pub skills: Vec<String>,
    pub team: String,
    /// Where it starts the demo.
    pub location: DemoLocation,
    /// Personal data (invented for the demo): the e-mail address of its `email` rung.
    #[serde(default)]
    pub email: Option<String>,
    /// Personal data (invented for the demo): the number an SMS gateway texts.
    #[serde(default)]
    pub phone: Option<String>,
}

/// A starting position with a human description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoLocation {
    pub lat: f64,
    pub lon: f64,
    pub text: String,
}

/// Problems in the users file, with paths into it.
pub(crate) fn check_users(users: &UsersFile, resources: &ResourcesFile) -> Vec<Problem> {
    let keys: BTreeSet<&str> = resources.resources.iter().map(|r| r.key.as_str()).collect();
    let mut problems = Vec::new();
    let mut add = |path: String, message: String| problems.push(Problem { path, message });
    let mut names = BTreeSet::new();
    let mut linked = BTreeSet::new();
    for (i, user) in users.users.iter().enumerate() {
        let at = format!("users[{i}]");
        if user.username.trim().is_empty() {
            add(format!("{at}.username"), "a user needs a username".into());
        } else if !names.insert(user.username.as_str()) {
            add(
                format!("{at}.username"),
                format!("duplicate username `{}`", user.username),
            );
        }
        if user.password.is_empty() {
            add(format!("{at}.password"), "a user needs a password".into());
        }
        match (&user.resource, user.role.is_field()) {
            (None, true) => add(
                format!("{at}.resource"),
                "a field user must be linked to a resource".into(),
            ),
            (Some(key), _) if !keys.contains(key.as_str()) => add(
                format!("{at}.resource"),
                format!("unknown resource `{key}`"),
            ),
            (Some(key), _) if !linked.insert(key.as_str()) => add(
                format!("{at}.resource"),
                format!("resource `{key}` is linked to two users"),
            ),
            _ => {}
        }
    }
    for (i, key) in users.intake_keys.iter().enumerate() {
        if key.trim().is_empty() {
            add(format!("intake_keys[{i}]"), "an intake key is blank".into());
        }
    }
    problems
}

/// Problems in the resources file, with paths into it.
pub(crate) fn check_resources(resources: &ResourcesFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut add = |path: String, message: String| problems.push(Problem { path, message });
    let mut keys = BTreeSet::new();
    for (i, r) in resources.resources.iter().enumerate() {
        let at = format!("resources[{i}]");
        if r.key.trim().is_empty() {
            add(format!("{at}.key"), "a resource needs a key".into());
        } else if !keys.insert(r.key.as_str()) {
            add(
                format!("{at}.key"),
                format!("duplicate resource key `{}`", r.key),
            );
        }
        if r.name.trim().is_empty() {
            add(format!("{at}.name"), "a resource needs a name".into());
        }
        if !(-90.0..=90.0).contains(&r.location.lat) {
            add(
                format!("{at}.location.lat"),
                "latitude must be within -90..90".into(),
            );
        }
        if !(-180.0..=180.0).contains(&r.location.lon) {
            add(
                format!("{at}.location.lon"),
                "longitude must be within -180..180".into(),
            );
        }
    }
    problems
}

/// The command that registers one demo resource.
pub fn resource_command(r: &DemoResource) -> Command {
    Command::ResourceRegister(cmd::ResourceRegister {
        name: r.name.clone(),
        resource_type: r.resource_type,
        skills: r.skills.clone(),
        team: r.team.clone(),
        user_id: None,
        location: Some(Location {
            text: Some(r.location.text.clone()),
            lat: Some(r.location.lat),
            lon: Some(r.location.lon),
            place_id: None,
        }),
        email: r.email.clone(),
        phone: r.phone.clone(),
    })
}

/// The command that creates one demo user, with its password already hashed.
pub fn user_command(
    u: &DemoUser,
    resources: &BTreeMap<String, ResourceId>,
    password_hash: String,
) -> Command {
    Command::UserCreate(cmd::UserCreate {
        username: u.username.clone(),
        role: u.role,
        password: String::new(),
        name: Some(u.name.clone()),
        resource_id: u.resource.as_ref().and_then(|k| resources.get(k).cloned()),
        identity: None,
        password_hash: Some(password_hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_mode_reads_one_zero_and_words() {
        assert_eq!("1".parse(), Ok(DemoMode::On));
        assert_eq!("on".parse(), Ok(DemoMode::On));
        assert_eq!("0".parse(), Ok(DemoMode::Off));
        assert_eq!("OFF".parse(), Ok(DemoMode::Off));
        assert_eq!("auto".parse(), Ok(DemoMode::Auto));
        assert!("maybe".parse::<DemoMode>().is_err());
    }
}
