//! The layering, checked where the crates' edges cannot check it (ARCHITECTURE.md).
//!
//! The crates are the coarse layers: muster-core may not name tokio or rusqlite
//! because it does not depend on them, which [`core_depends_on_no_runtime_network_or_database`]
//! keeps true. Inside a crate the compiler allows any module to use any other, so
//! [`modules_use_only_the_layers_below_them`] reads the source tree and fails on a
//! forbidden path (a `use`, grouped or not, or a path written in code), naming file
//! and line. Test modules (`#[cfg(test)]`) are skipped: they are not part of the build.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// What the engine, the domain and the projections may not reach: the disk, the
/// network, threads, processes and the wall clock (the hub passes `now` in).
const NO_IO: &[&str] = &[
    "std::fs",
    "std::net",
    "std::thread",
    "std::process",
    "std::time::SystemTime",
    "std::time::Instant",
    "Utc::now",
];

/// Files (a directory covers everything below it) and the paths they may not use.
const RULES: &[(&str, &[&str])] = &[
    // muster-core: projection → engine → domain, and config beside them, unused by them.
    (
        "crates/core/src/domain",
        &["crate::engine", "crate::projection", "crate::config"],
    ),
    (
        "crates/core/src/engine",
        &["crate::projection", "crate::config"],
    ),
    // Personal data's rules sit beside the engine: they read the state, never the
    // projections or the files.
    (
        "crates/core/src/privacy",
        &["crate::projection", "crate::config"],
    ),
    ("crates/core/src/privacy", NO_IO),
    ("crates/core/src/domain", NO_IO),
    ("crates/core/src/engine", NO_IO),
    ("crates/core/src/projection", NO_IO),
    ("crates/core/src/privacy", NO_IO),
    // muster: settings know nothing of what runs on them; the hub and the notifiers
    // know nothing of the HTTP edge or of how the server is put together.
    (
        "src/config.rs",
        &["crate::notify", "crate::hub", "crate::http"],
    ),
    ("src/http", &["crate::server"]),
    // The standards' conversions are pure: the routes use them, not they the hub.
    (
        "src/interop",
        &["crate::http", "crate::hub", "crate::server"],
    ),
    ("src/hub", &["crate::http", "crate::server"]),
    ("src/notify", &["crate::http", "crate::server"]),
    // The HTTP client serves the notifiers and the routes, and knows neither.
    (
        "src/outbound.rs",
        &[
            "crate::notify",
            "crate::hub",
            "crate::http",
            "crate::server",
        ],
    ),
    // muster-log: a store keeps envelopes and opaque bodies (it may format a time);
    // only `record.rs` turns an engine record into a stored event and back, so no
    // store can parse a body.
    ("crates/log/src/sqlite.rs", STORE_MAY_NOT),
    ("crates/log/src/redis.rs", STORE_MAY_NOT),
    ("crates/log/src/chain.rs", STORE_MAY_NOT),
];

/// What muster-log's stores and chain may not name: the model and its events.
const STORE_MAY_NOT: &[&str] = &[
    "muster_core::domain",
    "muster_core::engine",
    "muster_core::projection",
];

/// Crates muster-core may not depend on, directly or through another crate.
const NOT_IN_CORE: &[&str] = &["tokio", "hyper", "warp", "rusqlite", "redis", "http"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ----- the scanner -------------------------------------------------------------------

/// A forbidden path found in a file.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    path: String,
    forbidden: &'static str,
}

/// The forbidden paths `source` uses, outside comments, strings and test modules.
fn scan(source: &str, forbidden: &[&'static str]) -> Vec<Violation> {
    let code = without_tests(&blank_comments_and_strings(source));
    let mut found = Vec::new();
    let mut use_start: Option<(usize, String)> = None;
    for (i, line) in code.lines().enumerate() {
        let trimmed = line.trim();
        if use_start.is_none() && is_use(trimmed) {
            use_start = Some((i + 1, String::new()));
        }
        if let Some((start, text)) = &mut use_start {
            text.push(' ');
            text.push_str(trimmed);
            if trimmed.ends_with(';') {
                let body = text.trim_end_matches(';');
                let body = &body[body.find("use ").unwrap() + 4..];
                for path in expand_use(body) {
                    for &f in forbidden {
                        if path == f || path.starts_with(&format!("{f}::")) {
                            found.push(Violation {
                                line: *start,
                                path: path.clone(),
                                forbidden: f,
                            });
                        }
                    }
                }
                use_start = None;
            }
            continue;
        }
        for &f in forbidden {
            if mentions(line, f) {
                found.push(Violation {
                    line: i + 1,
                    path: f.to_string(),
                    forbidden: f,
                });
            }
        }
    }
    found
}

fn is_use(line: &str) -> bool {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub(super) "))
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    rest.starts_with("use ")
}

/// Whether `line` names the path `f` (not as part of a longer identifier).
fn mentions(line: &str, f: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(f).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + f.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The full paths of a `use` tree: `a::{b, c::{d as e, self}}` → `a::b`, `a::c::d`,
/// `a::c`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        return vec![path.replace(' ', "")];
    };
    let prefix = tree[..open].replace(' ', "");
    let inner = &tree[open + 1..tree.rfind('}').expect("a closed use tree")];
    let mut items = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(inner[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(inner[from..].trim());
    let mut out = Vec::new();
    for item in items.into_iter().filter(|s| !s.is_empty()) {
        if item == "self" {
            out.push(prefix.trim_end_matches("::").to_string());
        } else {
            out.extend(expand_use(&format!("{prefix}{item}")));
        }
    }
    out
}

/// `source` with comments, string and char literals blanked (newlines kept), so only
/// code is searched and line numbers stay right.
fn blank_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_ident(&chars, i) {
            // A raw string: r"...", r#"..."#, ...
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body_start = j + 1;
            let rest: String = chars[body_start..].iter().collect();
            let len = rest
                .find(&closing)
                .map_or(chars.len() - body_start, |at| rest[..at].chars().count());
            let end = (body_start + len + closing.chars().count()).min(chars.len());
            for &ch in &chars[i..end] {
                out.push(blank(ch));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// `code` (already without comments and strings) with every `#[cfg(test)]` item
/// blanked: a `mod tests { ... }` to its closing brace, a one-line item to its `;`.
fn without_tests(code: &str) -> String {
    let mut out = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if !(t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(any(test")) {
            out.push(line.to_string());
            continue;
        }
        out.push(String::new());
        let mut depth = 0i32;
        let mut opened = false;
        for line in lines.by_ref() {
            out.push(String::new());
            let t = line.trim();
            if t.starts_with("#[") && !opened {
                continue;
            }
            for c in line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth == 0) || (!opened && t.ends_with(';')) {
                break;
            }
        }
    }
    out.join("\n")
}

// ----- the tree ------------------------------------------------------------------------

/// Every `.rs` file at or below `rel`, as paths relative to the repository, sorted.
fn rust_files(rel: &str) -> Vec<String> {
    fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }
    let root = repo().join(rel);
    let mut files = Vec::new();
    if root.is_file() {
        files.push(root);
    } else {
        walk(&root, &mut files);
    }
    let mut files: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let mut report = String::new();
    for (dir, forbidden) in RULES {
        let files = rust_files(dir);
        assert!(
            !files.is_empty(),
            "no Rust files under {dir}: a rule to update"
        );
        for file in files {
            let source = fs::read_to_string(repo().join(&file)).unwrap();
            for v in scan(&source, forbidden) {
                writeln!(
                    report,
                    "{file}:{}: uses {} ({} is forbidden under {dir})",
                    v.line, v.path, v.forbidden
                )
                .unwrap();
            }
        }
    }
    assert!(report.is_empty(), "layering broken:\n{report}");
}

#[test]
fn the_scanner_finds_a_forbidden_line() {
    let fixture = r##"//! A domain module that reaches up (crate::engine in a comment is fine).
use std::collections::BTreeMap;
use crate::domain::ids::UserId;
use crate::{
    domain::geo,
    engine::{State, Event as E},
};
const S: &str = "crate::config::load_centre in a string is fine";
const R: &str = r#"crate::projection too"#;

fn f<'a>(x: &'a str) -> char {
    let now = chrono::Utc::now();
    let p = crate::projection::view::state_for;
    '{'
}

#[cfg(test)]
mod tests {
    use crate::config::load_centre;
    use std::time::Instant;
    fn g() { let _ = std::fs::read("x"); }
}

pub fn after_the_tests() { std::thread::yield_now(); }
"##;
    let mut forbidden = vec!["crate::engine", "crate::projection", "crate::config"];
    forbidden.extend_from_slice(NO_IO);
    let found: Vec<(usize, String)> = scan(fixture, &forbidden)
        .into_iter()
        .map(|v| (v.line, v.path))
        .collect();
    assert_eq!(
        found,
        vec![
            (4, "crate::engine::State".to_string()),
            (4, "crate::engine::Event".to_string()),
            (12, "Utc::now".to_string()),
            (13, "crate::projection".to_string()),
            (24, "std::thread".to_string()),
        ]
    );
}

#[test]
fn use_trees_expand_to_full_paths() {
    assert_eq!(
        expand_use("std::time::{Duration, Instant as I, self}"),
        ["std::time::Duration", "std::time::Instant", "std::time"]
    );
    assert_eq!(expand_use("crate::engine"), ["crate::engine"]);
    assert_eq!(expand_use("crate::engine as e"), ["crate::engine"]);
    assert_eq!(expand_use("crate::passage"), ["crate::passage"]);
}

// ----- the crates' edges -----------------------------------------------------------------

fn manifest(dir: &str) -> toml::Table {
    let path = repo().join(dir).join("Cargo.toml");
    fs::read_to_string(&path)
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workspace's members: package name → directory.
fn members() -> Vec<(String, String)> {
    let root = manifest(".");
    root["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let dir = m.as_str().unwrap().to_string();
            let name = manifest(&dir)["package"]["name"]
                .as_str()
                .unwrap()
                .to_string();
            (name, dir)
        })
        .collect()
}

/// The crates a manifest depends on in the tables named (the real name when a
/// dependency is renamed).
fn deps(m: &toml::Table, tables: &[&str]) -> BTreeSet<String> {
    let mut sections = vec![m];
    if let Some(targets) = m.get("target").and_then(|t| t.as_table()) {
        sections.extend(targets.values().filter_map(|t| t.as_table()));
    }
    let mut out = BTreeSet::new();
    for section in sections {
        for table in tables {
            for (key, spec) in section
                .get(*table)
                .and_then(|t| t.as_table())
                .into_iter()
                .flatten()
            {
                let name = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Every crate `package` builds with, however indirectly: workspace members through
/// their manifests' normal and build dependencies (their tests' dependencies are not
/// part of them), other crates through Cargo.lock.
fn normal_closure(package: &str) -> BTreeSet<String> {
    let members = members();
    let lock: toml::Table = fs::read_to_string(repo().join("Cargo.lock"))
        .unwrap()
        .parse()
        .unwrap();
    let locked = lock["package"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_string()];
    while let Some(name) = todo.pop() {
        let next: BTreeSet<String> = match members.iter().find(|(n, _)| *n == name) {
            Some((_, dir)) => deps(&manifest(dir), &["dependencies", "build-dependencies"]),
            None => locked
                .iter()
                .filter(|p| p["name"].as_str() == Some(&name))
                .flat_map(|p| p.get("dependencies").and_then(|d| d.as_array()).cloned())
                .flatten()
                .filter_map(|d| d.as_str().map(|s| s.split(' ').next().unwrap().to_string()))
                .collect(),
        };
        for n in next {
            if seen.insert(n.clone()) {
                todo.push(n);
            }
        }
    }
    seen
}

#[test]
fn core_depends_on_no_runtime_network_or_database() {
    let closure = normal_closure("muster-core");
    // The walk sees what it looks for: its own crates, and tokio where it is.
    assert!(
        closure.contains("serde_json"),
        "the walk missed the core's own dependencies"
    );
    assert!(
        normal_closure("muster-log").contains("tokio"),
        "the walk missed tokio"
    );
    let found: Vec<&&str> = NOT_IN_CORE
        .iter()
        .filter(|c| closure.contains(**c))
        .collect();
    assert!(
        found.is_empty(),
        "muster-core depends on {found:?} (it must stay free of I/O crates)"
    );
    for workspace_crate in ["muster", "muster-log", "muster-load"] {
        assert!(
            !closure.contains(workspace_crate),
            "muster-core depends on {workspace_crate}"
        );
    }
}

#[test]
fn the_load_generator_does_not_depend_on_the_hub() {
    let load = manifest("crates/load");
    let direct = deps(
        &load,
        &["dependencies", "build-dependencies", "dev-dependencies"],
    );
    assert!(
        !direct.contains("muster"),
        "muster-load names the muster crate"
    );
    assert!(
        !normal_closure("muster-load").contains("muster"),
        "muster-load reaches the muster crate"
    );
}
