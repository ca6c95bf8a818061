//! Seeding the demo centre into an empty log: its resources, then its users (linked
//! to the resources they carry). Seeding goes through ordinary commands, so the demo's
//! history is in the log like everything else.

use std::collections::BTreeMap;

use crate::config::demo::{Demo, DemoResource, DemoUser};
use crate::domain::geo::Location;
use crate::domain::ids::ResourceId;
use crate::engine::{Actor, Command, Error};

use super::Hub;

/// The command that registers one demo resource.
pub fn resource_command(r: &DemoResource) -> Command {
    Command::ResourceRegister {
        name: r.name.clone(),
        resource_type: r.resource_type,
        skills: r.skills.clone(),
        team: r.team.clone(),
        user_id: None,
        location: Some(Location {
            text: Some(r.location.text.clone()),
            lat: Some(r.location.lat),
            lon: Some(r.location.lon),
        }),
    }
}

/// The command that creates one demo user, with its password already hashed.
pub fn user_command(
    u: &DemoUser,
    resources: &BTreeMap<String, ResourceId>,
    password_hash: String,
) -> Command {
    Command::UserCreate {
        username: u.username.clone(),
        role: u.role,
        password: String::new(),
        name: Some(u.name.clone()),
        resource_id: u.resource.as_ref().and_then(|k| resources.get(k).cloned()),
        password_hash: Some(password_hash),
    }
}

/// Seeds the demo into the hub when none of the demo's users exists yet. `hash` turns a password
/// into its stored hash (Argon2id in the server; anything in tests).
pub async fn seed(hub: &Hub, demo: &Demo, hash: impl Fn(&str) -> String) -> Result<bool, Error> {
    let seeded = hub.with_state(|s| {
        demo.users
            .iter()
            .any(|u| s.usernames.contains_key(&u.username.to_lowercase()))
    });
    if seeded {
        return Ok(false);
    }
    let mut ids = BTreeMap::new();
    for r in &demo.resources {
        let out = hub
            .submit(
                Actor::system(),
                Some(format!("demo-resource-{}", r.key)),
                resource_command(r),
            )
            .await?;
        if let Some(id) = out.data.get("resource_id") {
            ids.insert(r.key.clone(), ResourceId(id.clone()));
        }
    }
    for u in &demo.users {
        let cmd = user_command(u, &ids, hash(&u.password));
        hub.submit(
            Actor::system(),
            Some(format!("demo-user-{}", u.username)),
            cmd,
        )
        .await?;
    }
    Ok(true)
}
