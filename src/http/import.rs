//! `POST /api/import/users`, `POST /api/import/resources` and `POST /api/import/shifts`
//! (admins, a `text/csv` body, `?dry_run=true` to check only) and `GET` on the same
//! paths (the same columns, as CSV).
//!
//! Every row becomes the commands that bring the state to it: a new username or
//! resource name is created, an existing one gets an update of what differs, a row
//! equal to the state gives nothing (so importing the same file twice changes
//! nothing). Each command is checked by the engine against the state as the rows
//! before it leave it; every invalid row is reported with its line (the header is
//! line 1) and reason. Only a file without errors is applied, in one batch of logged
//! commands decided together and appended at once ([`crate::hub::Hub::submit_batch`]).
//!
//! Users' columns: `username, name, role, resource` (the resource's name; empty: none)
//! and, on import only, `password`, used only when the user is created (a user
//! created without one has no local password until an admin sets one). Resources':
//! `name, kind, team, skills` (`;`-separated), `lat, lon` (its home), `user` (the
//! username who carries it; empty leaves the link as it is). Shifts': `resource` (its
//! name), `start, end` (RFC 3339); a row equal to a shift on the roster gives nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::export::csv_attachment;
use super::handlers::json_reply;
use crate::auth::{MIN_PASSWORD_LEN, hash_password};
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::domain::geo::Location;
use muster_core::domain::ids::{ResourceId, UserId};
use muster_core::domain::resource::{Coordinates, Resource, ResourceType};
use muster_core::domain::user::Role;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Code, Command, Error, State};

/// The largest body an import takes.
pub const MAX_BODY_BYTES: u64 = 2 * 1024 * 1024;

/// The most rows one import takes.
pub const MAX_ROWS: usize = 10_000;

/// How many times an import whose state changed under it is checked and submitted
/// again before it answers `conflict`.
const ATTEMPTS: usize = 3;

pub const USER_COLUMNS: [&str; 4] = ["username", "name", "role", "resource"];
pub const RESOURCE_COLUMNS: [&str; 7] = ["name", "kind", "team", "skills", "lat", "lon", "user"];
pub const SHIFT_COLUMNS: [&str; 3] = ["resource", "start", "end"];

/// `?dry_run=true`.
#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// What an import answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportAnswer {
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Every invalid row: nothing is applied unless this is empty.
    pub errors: Vec<RowError>,
    /// Commands applied (0 on a dry run or with errors).
    pub applied: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RowError {
    /// The file's line, 1-based; the header is line 1.
    pub line: u64,
    pub message: String,
}

/// Which list an import is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Users,
    Resources,
    Shifts,
}

/// A checked file: the commands it comes to (with the row each came from, and for a
/// new user the password to hash), or its errors.
struct Plan {
    rows: usize,
    errors: Vec<RowError>,
    commands: Vec<(u64, Command)>,
    passwords: BTreeMap<usize, String>,
    /// A command names what an earlier one creates (a resource registered and linked
    /// in the same file): the batch must be decided on the state it was checked on.
    pinned: bool,
}

fn require_admin(session: &Session) -> Result<(), Rejection> {
    if session.role != Role::Admin {
        return Err(ApiError::forbidden("importing and exporting people is for admins").into());
    }
    Ok(())
}

/// `POST /api/import/{users|resources}`.
pub async fn import(
    kind: Kind,
    app: Arc<App>,
    session: Session,
    q: ImportQuery,
    body: Bytes,
) -> Result<Response, Rejection> {
    require_admin(&session)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the CSV must be UTF-8"))?
        .to_string();
    let actor = session.actor();
    // Hashing is slow on purpose: a retry reuses the hashes already made.
    let mut hashes = BTreeMap::new();
    for _ in 0..ATTEMPTS {
        // Checked on a copy: the writer is not held up while a big file is read.
        let state = app.hub.with_state(State::clone);
        let now = app.hub.clock.now();
        let seq = state.seq;
        let plan = check(kind, &text, state, &app.hub.engine, &actor, now);
        let plan = plan?;
        if !plan.errors.is_empty() || q.dry_run {
            let status = if plan.errors.is_empty() || q.dry_run {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let answer = ImportAnswer {
                rows: plan.rows,
                errors: plan.errors,
                applied: 0,
            };
            return Ok(json_reply(&answer, status));
        }
        let applied = plan.commands.len();
        let commands = hashed(plan.commands, plan.passwords, &mut hashes).await?;
        let at_seq = plan.pinned.then_some(seq);
        match app.hub.submit_batch(actor.clone(), commands, at_seq).await {
            Ok(_) => {
                let answer = ImportAnswer {
                    rows: plan.rows,
                    errors: Vec::new(),
                    applied,
                };
                return Ok(json_reply(&answer, StatusCode::OK));
            }
            Err(e @ (Error::Unavailable(_) | Error::Forbidden(_))) => {
                return Err(ApiError::new(e.code(), e.to_string()).into());
            }
            // The state moved on between the check and the writer (a username taken
            // meanwhile): check again, which names the rows now refused.
            Err(_) => continue,
        }
    }
    Err(ApiError::new(
        Code::Conflict,
        "the users and resources kept changing during the import; try again",
    )
    .into())
}

/// The commands with the passwords of new users hashed (off the async runtime).
async fn hashed(
    commands: Vec<(u64, Command)>,
    mut passwords: BTreeMap<usize, String>,
    made: &mut BTreeMap<(String, String), String>,
) -> Result<Vec<(Option<String>, Command)>, ApiError> {
    let mut out = Vec::with_capacity(commands.len());
    for (i, (_, mut command)) in commands.into_iter().enumerate() {
        if let (Some(password), Command::UserCreate(c)) = (passwords.remove(&i), &mut command) {
            let key = (c.username.clone(), password);
            let hash = match made.get(&key) {
                Some(h) => h.clone(),
                None => {
                    let plain = key.1.clone();
                    let h = tokio::task::spawn_blocking(move || hash_password(&plain))
                        .await
                        .map_err(|_| {
                            ApiError::unavailable("could not hash a password; try again")
                        })?;
                    made.insert(key, h.clone());
                    h
                }
            };
            c.password_hash = Some(hash);
        }
        out.push((None, command));
    }
    Ok(out)
}

/// Reads and checks a file against `state`: the commands it comes to, or its errors.
fn check(
    kind: Kind,
    text: &str,
    state: State,
    engine: &muster_core::engine::Engine,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Plan, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request(format!("line 1: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let (known, required): (&[&str], &[&str]) = match kind {
        Kind::Users => (
            &["username", "name", "role", "resource", "password"],
            &["username", "role"],
        ),
        Kind::Resources => (&RESOURCE_COLUMNS, &["name", "kind", "team"]),
        Kind::Shifts => (&SHIFT_COLUMNS, &SHIFT_COLUMNS),
    };
    let mut plan = Plan {
        rows: 0,
        errors: Vec::new(),
        commands: Vec::new(),
        passwords: BTreeMap::new(),
        pinned: false,
    };
    for h in &header {
        if !known.contains(&h.as_str()) {
            plan.errors.push(RowError {
                line: 1,
                message: format!("unknown column {h:?}; the columns are {}", known.join(", ")),
            });
        }
    }
    for r in required {
        if !header.iter().any(|h| h == r) {
            plan.errors.push(RowError {
                line: 1,
                message: format!("the column {r:?} is missing"),
            });
        }
    }
    if !plan.errors.is_empty() {
        // A bad header: the rows are only counted.
        plan.rows = reader.records().count();
        return Ok(plan);
    }
    let mut trial = state;
    for record in reader.records() {
        plan.rows += 1;
        if plan.rows > MAX_ROWS {
            return Err(ApiError::new(
                Code::TooLarge,
                format!("at most {MAX_ROWS} rows in one import"),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                plan.errors.push(RowError {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            plan.errors.push(RowError {
                line,
                message: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        let row: BTreeMap<&str, String> = header
            .iter()
            .map(String::as_str)
            .zip(record.iter().map(unguard))
            .collect();
        let commands = match kind {
            Kind::Users => user_row(&row, &trial),
            Kind::Resources => resource_row(&row, &trial),
            Kind::Shifts => shift_row(&row, &trial),
        };
        let commands = match commands {
            Ok(c) => c,
            Err(message) => {
                plan.errors.push(RowError { line, message });
                continue;
            }
        };
        // Each command on the state the rows before left, so later rows see earlier
        // ones (a resource registered above, a username taken twice). A row of one
        // command is decided on the trial itself (a refused command changes nothing);
        // only a row of several needs a copy to drop if a later one is refused.
        let several = commands.len() > 1;
        let mut copy = several.then(|| trial.clone());
        let next = copy.as_mut().unwrap_or(&mut trial);
        let mut decided = Vec::new();
        let mut refused = None;
        for (command, password) in commands {
            let command = match command {
                Step::Ready(c) => c,
                Step::LinkNew(user_id) => {
                    plan.pinned = true;
                    let Some(resource_id) = last_created(next) else {
                        refused = Some("the new resource was not registered".to_string());
                        break;
                    };
                    Command::UserUpdate(cmd::UserUpdate {
                        user_id,
                        name: None,
                        role: None,
                        resource_id: Some(Some(resource_id)),
                    })
                }
            };
            match engine.records(next, &command, actor, None, now) {
                Ok(records) => {
                    for r in &records {
                        next.apply(r);
                    }
                    decided.push((command, password));
                }
                Err(e) => {
                    refused = Some(message(&e));
                    break;
                }
            }
        }
        if let Some(message) = refused {
            plan.errors.push(RowError { line, message });
            continue;
        }
        if let Some(copy) = copy {
            trial = copy;
        }
        for (command, password) in decided {
            if let Some(p) = password {
                plan.passwords.insert(plan.commands.len(), p);
            }
            plan.commands.push((line, command));
        }
    }
    Ok(plan)
}

/// A refusal as a row's reason.
fn message(e: &Error) -> String {
    e.to_string()
}

/// The resource the last event applied registered, if it did.
fn last_created(state: &State) -> Option<ResourceId> {
    let id = ResourceId::at_seq(state.seq);
    state.resources.contains_key(&id).then_some(id)
}

/// One command a row comes to; `LinkNew` links a user to the resource registered by
/// the row's command before it (its id is known only once that is decided).
#[allow(clippy::large_enum_variant)] // a few per row, consumed at once
enum Step {
    Ready(Command),
    LinkNew(UserId),
}

type Steps = Vec<(Step, Option<String>)>;

/// A cell as exported: the `'` [`super::export::guard`] put before a formula-like
/// value is taken off again.
fn unguard(cell: &str) -> String {
    let cell = cell.trim();
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

fn cell<'a>(row: &'a BTreeMap<&str, String>, name: &str) -> &'a str {
    row.get(name).map_or("", String::as_str)
}

/// The in-service resource with this name (or id).
fn resource_named(state: &State, name: &str) -> Result<ResourceId, String> {
    if let Some(r) = state.resources.get(&ResourceId(name.to_string()))
        && !r.retired
    {
        return Ok(r.id.clone());
    }
    let found: Vec<&Resource> = state
        .resources
        .values()
        .filter(|r| !r.retired && r.name == name)
        .collect();
    match found.as_slice() {
        [r] => Ok(r.id.clone()),
        [] => Err(format!(
            "resource: no resource in service is named {name:?}"
        )),
        _ => Err(format!(
            "resource: {} resources are named {name:?}; rename them in /admin first",
            found.len()
        )),
    }
}

fn user_row(row: &BTreeMap<&str, String>, state: &State) -> Result<Steps, String> {
    let username = cell(row, "username");
    let name = cell(row, "name");
    let role: Role = parse_wire("role", cell(row, "role"))?;
    if role == Role::Intake {
        return Err("role: one of operator, supervisor, field or admin".into());
    }
    let resource = match (row.contains_key("resource"), cell(row, "resource")) {
        (false, _) => None,
        (true, "") => Some(None),
        (true, r) => Some(Some(resource_named(state, r)?)),
    };
    let password = cell(row, "password");
    let existing = state
        .usernames
        .get(&username.to_lowercase())
        .and_then(|id| state.users.get(id));
    let Some(user) = existing else {
        if !password.is_empty() && password.chars().count() < MIN_PASSWORD_LEN {
            return Err(format!(
                "password: must be at least {MIN_PASSWORD_LEN} characters"
            ));
        }
        if password.chars().count() > super::commands::MAX_PASSWORD_LEN {
            return Err("password: too long".into());
        }
        let create = Command::UserCreate(cmd::UserCreate {
            username: username.to_string(),
            role,
            password: String::new(),
            name: (!name.is_empty()).then(|| name.to_string()),
            resource_id: resource.flatten(),
            // No password: no local one (an admin sets it, or single sign-on is used).
            password_hash: Some(String::new()),
            identity: None,
        });
        let password = (!password.is_empty()).then(|| password.to_string());
        return Ok(vec![(Step::Ready(create), password)]);
    };
    // An existing user: what differs. A password here is not applied (set it in /admin).
    let name = (!name.is_empty() && name != user.name).then(|| name.to_string());
    let role = (role != user.role).then_some(role);
    let resource_id = resource.filter(|r| *r != user.resource_id);
    if name.is_none() && role.is_none() && resource_id.is_none() {
        return Ok(Vec::new());
    }
    let update = Command::UserUpdate(cmd::UserUpdate {
        user_id: user.id.clone(),
        name,
        role,
        resource_id,
    });
    Ok(vec![(Step::Ready(update), None)])
}

fn resource_row(row: &BTreeMap<&str, String>, state: &State) -> Result<Steps, String> {
    let name = cell(row, "name");
    if name.is_empty() {
        return Err("name: required".into());
    }
    let kind: ResourceType = parse_wire("kind", cell(row, "kind"))?;
    let team = cell(row, "team").to_string();
    let skills: Option<Vec<String>> = row.contains_key("skills").then(|| {
        cell(row, "skills")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    });
    let number = |col: &str| -> Result<Option<f64>, String> {
        match cell(row, col) {
            "" => Ok(None),
            t => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| format!("{col}: not a number: {t:?}")),
        }
    };
    let home = match (number("lat")?, number("lon")?) {
        (Some(lat), Some(lon)) => Some(Coordinates { lat, lon }),
        (None, None) => None,
        _ => return Err("lat: give both lat and lon, or neither".into()),
    };
    let carrier = match cell(row, "user") {
        "" => None,
        u => Some(
            state
                .usernames
                .get(&u.to_lowercase())
                .cloned()
                .ok_or_else(|| format!("user: no user is called {u:?}"))?,
        ),
    };
    let same_name: Vec<&Resource> = state
        .resources
        .values()
        .filter(|r| !r.retired && r.name == name)
        .collect();
    let mut steps: Steps = Vec::new();
    match same_name.as_slice() {
        [] => {
            steps.push((
                Step::Ready(Command::ResourceRegister(cmd::ResourceRegister {
                    name: name.to_string(),
                    resource_type: kind,
                    skills: skills.unwrap_or_default(),
                    team,
                    user_id: None,
                    location: home.map(|h| Location {
                        lat: Some(h.lat),
                        lon: Some(h.lon),
                        ..Location::default()
                    }),
                    email: None,
                    phone: None,
                })),
                None,
            ));
            if let Some(u) = carrier {
                steps.push((Step::LinkNew(u), None));
            }
        }
        [r] => {
            let update = cmd::ResourceUpdate {
                resource_id: r.id.clone(),
                name: None,
                resource_type: (kind != r.resource_type).then_some(kind),
                team: (team != r.team).then_some(team),
                skills: skills.filter(|s| *s != r.skills),
                home: home.filter(|h| Some(*h) != r.home),
            };
            if update.resource_type.is_some()
                || update.team.is_some()
                || update.skills.is_some()
                || update.home.is_some()
            {
                steps.push((Step::Ready(Command::ResourceUpdate(update)), None));
            }
            if let Some(u) = carrier
                && r.user_id.as_ref() != Some(&u)
            {
                steps.push((
                    Step::Ready(Command::UserUpdate(cmd::UserUpdate {
                        user_id: u,
                        name: None,
                        role: None,
                        resource_id: Some(Some(r.id.clone())),
                    })),
                    None,
                ));
            }
        }
        more => {
            return Err(format!(
                "name: {} resources are named {name:?}; rename them in /admin first",
                more.len()
            ));
        }
    }
    Ok(steps)
}

/// A wire value (`field`, `vehicle`) of one of the domain's enums.
/// A shift on the roster: nothing when the same shift is there already.
fn shift_row(row: &BTreeMap<&str, String>, state: &State) -> Result<Steps, String> {
    let resource_id = resource_named(state, cell(row, "resource"))?;
    let time = |column: &str| {
        let text = cell(row, column);
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                format!("{column}: {text:?} is not an RFC 3339 time such as 2026-12-07T07:00:00Z")
            })
    };
    let (start, end) = (time("start")?, time("end")?);
    let known = state
        .shifts
        .values()
        .any(|s| s.resource_id == resource_id && s.start == start && s.end == end);
    if known {
        return Ok(Vec::new());
    }
    let add = Command::RosterAdd(cmd::RosterAdd {
        resource_id,
        start,
        end,
    });
    Ok(vec![(Step::Ready(add), None)])
}

fn parse_wire<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_lowercase())).map_err(|_| {
        if text.is_empty() {
            format!("{column}: required")
        } else {
            format!("{column}: {text:?} is not one the hub knows")
        }
    })
}

/// `GET /api/import/{users|resources}`: the same columns, as CSV.
pub async fn export(kind: Kind, app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    require_admin(&session)?;
    let (header, rows): (&[&str], Vec<Vec<String>>) = app.hub.with_state(|s| match kind {
        Kind::Users => {
            let mut users: Vec<_> = s
                .users
                .values()
                .filter(|u| u.role != Role::Intake)
                .collect();
            users.sort_by(|a, b| a.username.cmp(&b.username));
            let rows = users
                .into_iter()
                .map(|u| {
                    vec![
                        u.username.clone(),
                        u.name.clone(),
                        u.role.as_str().to_string(),
                        u.resource_id
                            .as_ref()
                            .and_then(|r| s.resources.get(r))
                            .map(|r| r.name.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            (&USER_COLUMNS[..], rows)
        }
        Kind::Resources => {
            let mut resources: Vec<_> = s.resources.values().filter(|r| !r.retired).collect();
            resources.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
            let rows = resources
                .into_iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.resource_type.name().to_string(),
                        r.team.clone(),
                        r.skills.join(";"),
                        r.home.map(|h| h.lat.to_string()).unwrap_or_default(),
                        r.home.map(|h| h.lon.to_string()).unwrap_or_default(),
                        r.user_id
                            .as_ref()
                            .and_then(|u| s.users.get(u))
                            .map(|u| u.username.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            (&RESOURCE_COLUMNS[..], rows)
        }
        Kind::Shifts => {
            let mut shifts: Vec<_> = s.shifts.values().collect();
            shifts.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
            let rows = shifts
                .into_iter()
                .map(|shift| {
                    let at = |t: chrono::DateTime<chrono::Utc>| {
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    };
                    vec![
                        s.resources
                            .get(&shift.resource_id)
                            .map_or_else(|| shift.resource_id.0.clone(), |r| r.name.clone()),
                        at(shift.start),
                        at(shift.end),
                    ]
                })
                .collect();
            (&SHIFT_COLUMNS[..], rows)
        }
    });
    let file = match kind {
        Kind::Users => "users.csv",
        Kind::Resources => "resources.csv",
        Kind::Shifts => "shifts.csv",
    };
    csv_attachment(file, header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_cells_read_back_as_written() {
        for cell in ["=1+1", "+44 20", "-x", "@home", "plain", "-0.128"] {
            assert_eq!(unguard(&super::super::export::guard(cell)), cell);
        }
        assert_eq!(unguard("'quoted"), "'quoted");
    }
}
