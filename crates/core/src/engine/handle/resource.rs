//! `resource.*` and `user.*`: the people and things the centre works with.

use super::{Cx, short};
use crate::domain::Lifecycle;
use crate::domain::geo::check_coordinates;
use crate::domain::ids::{ResourceId, UserId};
use crate::domain::resource::{Coordinates, NewResource, ResourceStatus};
use crate::domain::user::{NewUser, Role, User};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn user_disable(&mut self, c: &cmd::UserDisable) -> Result<(), Error> {
        let cmd::UserDisable { user_id } = c;
        let u = self.user(user_id)?;
        if u.disabled {
            return Err(Error::Conflict(format!("{user_id} is already disabled")));
        }
        self.emit(Event::UserDisabled {
            user_id: user_id.clone(),
        });
        Ok(())
    }

    pub(super) fn user_password(&mut self, c: &cmd::UserPassword) -> Result<(), Error> {
        let cmd::UserPassword {
            user_id,
            password_hash,
            ..
        } = c;
        self.user(user_id)?;
        // The hub writes the hash to the credential store; the event only says so.
        prepared(password_hash)?;
        self.emit(Event::UserPasswordChanged {
            user_id: user_id.clone(),
        });
        Ok(())
    }

    pub(super) fn resource_register(&mut self, c: &cmd::ResourceRegister) -> Result<(), Error> {
        let cmd::ResourceRegister {
            name,
            resource_type,
            skills,
            team,
            user_id,
            location,
            email,
            phone,
        } = c;
        short("name", name)?;
        if let Some(e) = email {
            crate::domain::check_email("email", e)?;
        }
        if let Some(p) = phone {
            crate::domain::check_phone("phone", p)?;
        }
        short("team", team)?;
        for (i, s) in skills.iter().enumerate() {
            short(&format!("skills[{i}]"), s)?;
        }
        if let Some(u) = user_id {
            let user = self.user(u)?;
            if user.role != Role::Field || user.resource_id.is_some() {
                return Err(Error::validation(
                    "user_id",
                    "link a field user who carries no resource yet",
                ));
            }
        }
        let position = match location {
            Some(l) => {
                l.validate("location", false)?;
                l.point().map(|(lat, lon)| Coordinates { lat, lon })
            }
            None => None,
        };
        let resource = NewResource {
            id: ResourceId::at_seq(self.next_seq()),
            name: name.clone(),
            resource_type: *resource_type,
            skills: skills.clone(),
            team: team.clone(),
            location: position,
            user_id: user_id.clone(),
            email: email.clone(),
            phone: phone.clone(),
        };
        self.emit(Event::ResourceRegistered { resource });
        Ok(())
    }

    pub(super) fn resource_status(&mut self, c: &cmd::ResourceStatus) -> Result<(), Error> {
        let cmd::ResourceStatus {
            resource_id,
            status,
        } = c;
        let r = self.in_service(resource_id)?;
        r.status.check_move(*status)?;
        let working = matches!(status, ResourceStatus::Available | ResourceStatus::OffDuty);
        if working && let Some(a) = self.state.active_assignments_of(resource_id).next() {
            return Err(Error::Conflict(format!(
                "{resource_id} is on {}; complete, decline or cancel it first",
                a.id
            )));
        }
        let from = r.status;
        self.emit(Event::ResourceStatusChanged {
            resource_id: resource_id.clone(),
            from,
            status: *status,
        });
        Ok(())
    }

    pub(super) fn resource_locate(&mut self, c: &cmd::ResourceLocate) -> Result<(), Error> {
        let cmd::ResourceLocate {
            resource_id,
            lat,
            lon,
        } = c;
        check_coordinates("", *lat, *lon)
            .map_err(|_| Error::validation("lat", "lat within ±90 and lon within ±180"))?;
        self.in_service(resource_id)?;
        self.emit(Event::ResourceLocated {
            resource_id: resource_id.clone(),
            lat: Some(*lat),
            lon: Some(*lon),
        });
        Ok(())
    }

    pub(super) fn user_create(&mut self, command: &cmd::UserCreate) -> Result<(), Error> {
        let cmd::UserCreate {
            username,
            role,
            name,
            resource_id,
            password_hash,
            identity,
            ..
        } = command;
        check_username(username)?;
        if self.state.usernames.contains_key(&username.to_lowercase()) {
            return Err(Error::Conflict(format!("username {username:?} is taken")));
        }
        match (role, resource_id) {
            (Role::Field, None) => {
                return Err(Error::validation(
                    "resource_id",
                    "a field user needs the resource they carry",
                ));
            }
            (_, Some(r)) => {
                if let Some(other) = &self.in_service(r)?.user_id {
                    return Err(Error::Conflict(format!(
                        "{r} is already carried by {other}"
                    )));
                }
            }
            _ => {}
        }
        if let Some(n) = name {
            short("name", n)?;
        }
        match identity {
            Some(identity) => {
                short("identity.provider", &identity.provider)?;
                short("identity.subject", &identity.subject)?;
                if let Some(other) = self.state.identities.get(&identity.key()) {
                    return Err(Error::Conflict(format!(
                        "this identity is already linked to {other}"
                    )));
                }
                // A single sign-on account may also have a password (break-glass);
                // it needs none.
            }
            None => {
                prepared(password_hash)?;
            }
        }
        let user = NewUser {
            id: UserId::at_seq(self.next_seq()),
            username: username.clone(),
            name: name.clone().unwrap_or_else(|| username.clone()),
            role: *role,
            resource_id: resource_id.clone(),
            identity: identity.clone(),
        };
        self.emit(Event::UserCreated { user });
        Ok(())
    }

    pub(super) fn user_enable(&mut self, c: &cmd::UserEnable) -> Result<(), Error> {
        let cmd::UserEnable { user_id } = c;
        if !self.user(user_id)?.disabled {
            return Err(Error::Conflict(format!("{user_id} is not disabled")));
        }
        self.emit(Event::UserEnabled {
            user_id: user_id.clone(),
        });
        Ok(())
    }

    /// Emits only what differs from the user as they are; nothing at all differing is
    /// refused, so every `user.updated` changes something.
    pub(super) fn user_update(&mut self, c: &cmd::UserUpdate) -> Result<(), Error> {
        let cmd::UserUpdate {
            user_id,
            name,
            role,
            resource_id,
        } = c;
        let user = self.user(user_id)?;
        if let Some(n) = name {
            short("name", n)?;
        }
        let name = name.clone().filter(|n| *n != user.name);
        let role = role.filter(|r| *r != user.role);
        let resource_id = resource_id.clone().filter(|r| *r != user.resource_id);
        if role.is_some() && self.actor.user_id == *user_id {
            return Err(Error::validation(
                "role",
                "ask another admin to change your own role",
            ));
        }
        if let Some(Some(r)) = &resource_id
            && let Some(other) = &self.in_service(r)?.user_id
            && other != user_id
        {
            return Err(Error::validation(
                "resource_id",
                format!("{r} is already carried by {other}"),
            ));
        }
        let carries = match &resource_id {
            Some(r) => r.is_some(),
            None => user.resource_id.is_some(),
        };
        if role.unwrap_or(user.role) == Role::Field && !carries {
            return Err(Error::validation(
                "resource_id",
                "a field user needs the resource they carry",
            ));
        }
        if name.is_none() && role.is_none() && resource_id.is_none() {
            return Err(Error::validation("user_id", "nothing to change"));
        }
        self.emit(Event::UserUpdated {
            user_id: user_id.clone(),
            name,
            role,
            resource_id,
        });
        Ok(())
    }

    /// Emits only what differs from the resource as it is; nothing differing is refused.
    pub(super) fn resource_update(&mut self, c: &cmd::ResourceUpdate) -> Result<(), Error> {
        let cmd::ResourceUpdate {
            resource_id,
            name,
            resource_type,
            team,
            skills,
            home,
        } = c;
        let r = self.in_service(resource_id)?;
        if let Some(n) = name {
            short("name", n)?;
        }
        if let Some(t) = team {
            short("team", t)?;
        }
        for (i, s) in skills.iter().flatten().enumerate() {
            short(&format!("skills[{i}]"), s)?;
        }
        if let Some(h) = home {
            check_coordinates("home", h.lat, h.lon)
                .map_err(|_| Error::validation("home", "lat within ±90 and lon within ±180"))?;
        }
        let name = name.clone().filter(|n| *n != r.name);
        let resource_type = resource_type.filter(|t| *t != r.resource_type);
        let team = team.clone().filter(|t| *t != r.team);
        let skills = skills.clone().filter(|s| *s != r.skills);
        let home = home.filter(|h| Some(*h) != r.home);
        if name.is_none()
            && resource_type.is_none()
            && team.is_none()
            && skills.is_none()
            && home.is_none()
        {
            return Err(Error::validation("resource_id", "nothing to change"));
        }
        self.emit(Event::ResourceUpdated {
            resource_id: resource_id.clone(),
            name,
            resource_type,
            team,
            skills,
            home,
        });
        Ok(())
    }

    pub(super) fn resource_retire(&mut self, c: &cmd::ResourceRetire) -> Result<(), Error> {
        let cmd::ResourceRetire { resource_id } = c;
        self.in_service(resource_id)?;
        if let Some(a) = self.state.active_assignments_of(resource_id).next() {
            return Err(Error::Conflict(format!(
                "{resource_id} is on {}; complete, decline or cancel it first",
                a.id
            )));
        }
        self.emit(Event::ResourceRetired {
            resource_id: resource_id.clone(),
        });
        Ok(())
    }

    /// A resource that exists and is not retired.
    pub(super) fn in_service(
        &self,
        id: &ResourceId,
    ) -> Result<&crate::domain::resource::Resource, Error> {
        let r = self.resource(id)?;
        if r.retired {
            return Err(Error::Conflict(format!("{id} is retired")));
        }
        Ok(r)
    }

    pub(super) fn user(&self, id: &UserId) -> Result<&User, Error> {
        self.state
            .users
            .get(id)
            .ok_or_else(|| Error::not_found("user", id))
    }
}

/// 3–32 characters: lower-case letters, digits, `.`, `_`, `-`.
fn check_username(username: &str) -> Result<(), Error> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !(3..=32).contains(&username.len()) || !ok_chars {
        return Err(Error::validation(
            "username",
            "3–32 characters: a–z, 0–9, '.', '_' or '-'",
        ));
    }
    Ok(())
}

/// The hub hashes passwords before a command reaches the writer.
fn prepared(hash: &Option<String>) -> Result<String, Error> {
    hash.clone()
        .ok_or_else(|| Error::validation("password", "was not prepared by the hub"))
}
