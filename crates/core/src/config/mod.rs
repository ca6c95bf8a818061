//! The centre's files: its procedures (`config/centre.toml`) and the demo seed
//! (`config/demo/`), parsed and validated, with every problem located for the person
//! who edits the file: [`ConfigProblem`] names the file, the line and the field
//! (`config/centre.toml:42: types[2].escalation: unknown escalation policy urgnet`).
//! TOML syntax and type errors carry `toml`'s byte spans; semantic problems from
//! [`procedure::validate`] carry a document path, which the private `locate` module
//! maps back to a line.
//!
//! Reading these files at start-up is the only file access in this crate; the domain,
//! the engine and the projections never touch a file (tests/architecture.rs).

pub mod demo;
pub mod exercise;
mod locate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

pub use self::demo::{Demo, DemoDecision, DemoLocation, DemoMode, DemoResource, DemoUser};
pub use self::locate::SourceMap;
use crate::domain::procedure::{self, Centre, Problem};

/// One thing wrong with a configuration file, located for the person who edits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// 1-based; `None` only when the problem is not in the text (unreadable file,
    /// environment variable).
    pub line: Option<usize>,
    /// Dotted path of the field (`types[2].escalation`), or the variable's name.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match self.line {
            Some(line) => write!(f, "{file}:{line}: {}: {}", self.field, self.message),
            None => write!(f, "{file}: {}: {}", self.field, self.message),
        }
    }
}

/// Every problem found, one per line when displayed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    pub fn one(file: &Path, line: Option<usize>, field: &str, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigProblem {
            file: file.to_path_buf(),
            line,
            field: field.to_string(),
            message: message.into(),
        }])
    }
}

/// Reads a configuration file, naming it when it cannot be read.
pub fn read_text(file: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(file)
        .map_err(|e| ConfigErrors::one(file, None, "(file)", format!("cannot read: {e}")))
}

/// Deserialises `text`, turning a syntax or type error into a located problem.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigErrors> {
    toml::from_str(text).map_err(|err| {
        let map = SourceMap::new(text);
        let offset = err.span().map_or(0, |s| s.start);
        let field = error_field(&map, offset, err.message());
        ConfigErrors::one(file, Some(map.line_of(offset)), &field, err.message())
    })
}

/// The field a serde error is about. A missing field's span is the table that lacks
/// it, so the missing name is appended to that table's path.
pub fn error_field(map: &SourceMap<'_>, offset: usize, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match missing {
        Some(name) => match map.table_at(offset) {
            Some(table) => format!("{table}.{name}"),
            None => name.to_string(),
        },
        None => map.field_at(offset),
    }
}

/// Turns semantic problems into located ones; `Ok` when there are none.
pub fn locate_problems(
    file: &Path,
    text: &str,
    problems: Vec<Problem>,
) -> Result<(), ConfigErrors> {
    if problems.is_empty() {
        return Ok(());
    }
    let map = SourceMap::new(text);
    let located = problems
        .into_iter()
        .map(|p| ConfigProblem {
            file: file.to_path_buf(),
            line: map.line_of_path(&p.path),
            field: p.path,
            message: p.message,
        })
        .collect();
    Err(ConfigErrors(located))
}

/// Loads and validates the centre's procedures.
pub fn load_centre(path: &Path) -> Result<Centre, ConfigErrors> {
    let text = read_text(path)?;
    centre_from_toml(path, &text)
}

/// Parses and validates procedures text; `file` names it in errors.
pub fn centre_from_toml(file: &Path, text: &str) -> Result<Centre, ConfigErrors> {
    let centre: Centre = parse_toml(file, text)?;
    locate_problems(file, text, procedure::validate(&centre))?;
    Ok(centre)
}

/// Loads the centre's gazetteer (a places CSV, see [`crate::domain::place::parse_csv`]),
/// every problem with its line.
pub fn load_places(path: &Path) -> Result<crate::domain::place::Gazetteer, ConfigErrors> {
    let text = read_text(path)?;
    crate::domain::place::parse_csv(&text).map_err(|problems| {
        ConfigErrors(
            problems
                .into_iter()
                .map(|p| ConfigProblem {
                    file: path.to_path_buf(),
                    line: Some(p.line),
                    field: p.field,
                    message: p.message,
                })
                .collect(),
        )
    })
}

/// Loads the demo seed from `dir/users.toml` and `dir/resources.toml`, reporting the
/// problems of both files together.
pub fn load_demo(dir: &Path) -> Result<Demo, ConfigErrors> {
    let users_path = dir.join("users.toml");
    let resources_path = dir.join("resources.toml");
    let users_text = read_text(&users_path);
    let resources_text = read_text(&resources_path);
    let (users_text, resources_text) = both(users_text, resources_text)?;
    let users = parse_toml::<demo::UsersFile>(&users_path, &users_text);
    let resources = parse_toml::<demo::ResourcesFile>(&resources_path, &resources_text);
    let (users, resources) = both(users, resources)?;
    let resource_problems = locate_problems(
        &resources_path,
        &resources_text,
        demo::check_resources(&resources),
    );
    let user_problems = locate_problems(
        &users_path,
        &users_text,
        demo::check_users(&users, &resources),
    );
    both(user_problems, resource_problems)?;
    Ok(Demo {
        users: users.users,
        resources: resources.resources,
        intake_keys: users.intake_keys,
    })
}

/// Both results, or the errors of whichever failed, merged.
pub fn both<A, B>(
    a: Result<A, ConfigErrors>,
    b: Result<B, ConfigErrors>,
) -> Result<(A, B), ConfigErrors> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(mut e), Err(f)) => {
            e.0.extend(f.0);
            Err(e)
        }
    }
}

/// Loads and validates an exercise scenario (`config/exercises/NAME.toml`) against the
/// centre it is played on; its `name` must be the file's stem.
pub fn load_exercise(
    path: &Path,
    ctx: &exercise::ScenarioContext<'_>,
) -> Result<exercise::Scenario, ConfigErrors> {
    let text = read_text(path)?;
    exercise_from_toml(path, &text, ctx)
}

/// Parses and validates scenario text; `file` names it in errors (and its stem is the
/// name the scenario must have).
pub fn exercise_from_toml(
    file: &Path,
    text: &str,
    ctx: &exercise::ScenarioContext<'_>,
) -> Result<exercise::Scenario, ConfigErrors> {
    let scenario: exercise::Scenario = parse_toml(file, text)?;
    let mut problems = Vec::new();
    if let Some(stem) = file.file_stem().and_then(|s| s.to_str())
        && scenario.name != stem
    {
        problems.push(Problem {
            path: "name".to_string(),
            message: format!("must be the file's name without .toml ({stem})"),
        });
    }
    problems.extend(exercise::validate(&scenario, ctx));
    locate_problems(file, text, problems)?;
    Ok(scenario)
}

/// The scenario files in `dir` (`*.toml`), sorted by name; none when it does not exist.
pub fn exercise_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}
