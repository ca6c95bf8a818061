//! Seeding the demo centre into an empty log: its resources, then its users (linked
//! to the resources they carry). Seeding goes through ordinary commands, so the demo's
//! history is in the log like everything else.
//!
//! Each seed command carries a stable id ([`user_command_id`]) from the system actor:
//! that is how a log shows, forever, which accounts the demo made. When the demo does
//! not run, [`retire`] disables those accounts, because their passwords are published.

use std::collections::BTreeMap;

use muster_core::config::demo::Demo;
pub use muster_core::config::demo::{resource_command, user_command};
use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::engine::command as cmd;
use muster_core::engine::event::SYSTEM_ACTOR;
use muster_core::engine::{Actor, Command, Error};
use muster_log::EventLog;

use super::Hub;

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
        hub.submit(Actor::system(), Some(user_command_id(&u.username)), cmd)
            .await?;
    }
    Ok(true)
}

/// The id of the seed command that creates the demo user `username`.
pub fn user_command_id(username: &str) -> String {
    format!("demo-user-{username}")
}

/// The id of the command that disables the demo user `username` when the demo is off;
/// stable, so a repeat (another hub, a retried start) is recognised as the same command.
pub fn retire_command_id(username: &str) -> String {
    format!("demo-off-{username}")
}

/// Disables every enabled account the demo seeded, by a logged `user.disable` from the
/// system actor each; returns their usernames. A second start finds them disabled and
/// does nothing.
///
/// The demo's accounts are found in the log, not in `config/demo` (which may be gone):
/// a user's id names the seq of the event that created it, and an account is the
/// demo's when that event came from the demo's seed command.
pub async fn retire(hub: &Hub) -> Result<Vec<String>, Error> {
    let enabled: Vec<(UserId, String)> = hub.with_state(|s| {
        s.users
            .values()
            .filter(|u| !u.disabled)
            .map(|u| (u.id.clone(), u.username.clone()))
            .collect()
    });
    let mut retired = Vec::new();
    for (user_id, username) in enabled {
        if !seeded_by_demo(hub.log.as_ref(), &user_id, &username).await? {
            continue;
        }
        let disable = Command::UserDisable(cmd::UserDisable { user_id });
        match hub
            .submit(Actor::system(), Some(retire_command_id(&username)), disable)
            .await
        {
            Ok(_) => retired.push(username),
            // Another hub on the same log disabled it first.
            Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(retired)
}

/// Did the demo's seed command create this user? Reads the one event that created it.
async fn seeded_by_demo(log: &dyn EventLog, user: &UserId, username: &str) -> Result<bool, Error> {
    let Some(seq) = created_at_seq(user) else {
        return Ok(false);
    };
    let events = log
        .read_from(seq - 1, 1)
        .await
        .map_err(|e| Error::Unavailable(format!("reading the log: {e}")))?;
    Ok(events.first().is_some_and(|e| {
        e.seq == seq
            && e.actor == SYSTEM_ACTOR
            && e.command_id.as_deref() == Some(user_command_id(username).as_str())
    }))
}

/// The seq of the event that created `user` (`usr_17` was created at seq 17).
fn created_at_seq(user: &UserId) -> Option<u64> {
    let n = user
        .as_str()
        .strip_prefix(UserId::PREFIX)?
        .strip_prefix('_')?;
    n.parse().ok().filter(|&seq| seq > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_names_the_seq_that_created_it() {
        assert_eq!(created_at_seq(&UserId::at_seq(17)), Some(17));
        assert_eq!(created_at_seq(&UserId("usr_x".into())), None);
        assert_eq!(created_at_seq(&UserId("res_3".into())), None);
        assert_eq!(created_at_seq(&UserId("usr_0".into())), None);
    }
}
