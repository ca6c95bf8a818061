//! Each wire name is written once in the product's code: in the table that defines it
//! (`commands!`, `events!`, `codes!`). Everything else names a command, an event or an
//! error code through `CommandKind`, `EventKind` or `Code`, so a rename is one edit and
//! a reaction cannot silently stop matching.
//!
//! The scan reads every `.rs` file under `src/` and `crates/*/src/`, leaving out test
//! modules (from a `#[cfg(test)]` line on), comments and the store's contract test
//! data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use muster::engine::{Code, CommandKind, EventKind};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Files that hold test data only (behind a feature), not product code.
const TEST_DATA: &[&str] = &[
    "crates/log/src/contract.rs",
    // Events of every kind as JSON, for the tests that cover every kind.
    "crates/core/src/testing/samples.rs",
    // Test modules in files of their own (`#[cfg(test)] mod tests;`).
    "crates/core/src/privacy/classify/tests.rs",
    "crates/vault/src/tests.rs",
];

/// Other vocabularies that share a spelling with an error code, each written once in
/// its own table: a resource's status `unavailable`.
const SAME_SPELLING_ELSEWHERE: &[(&str, usize)] = &[("unavailable", 1)];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The product's source: each file's text up to its first `#[cfg(test)]`.
fn product_sources() -> Vec<(String, String)> {
    let root = Path::new(ROOT);
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        rust_files(&krate.unwrap().path().join("src"), &mut files);
    }
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let product = text.split("#[cfg(test)]").next().unwrap();
            // Comments may name what they explain.
            let code: Vec<&str> = product
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (rel, code.join("\n"))
        })
        .filter(|(rel, _)| !TEST_DATA.contains(&rel.as_str()))
        .collect()
}

/// Where `"name"` is written, as `file` per occurrence.
fn places(sources: &[(String, String)], name: &str) -> Vec<String> {
    let quoted = format!("\"{name}\"");
    sources
        .iter()
        .flat_map(|(rel, text)| std::iter::repeat_n(rel.clone(), text.matches(&quoted).count()))
        .collect()
}

#[test]
fn each_command_event_and_code_name_is_written_once() {
    let sources = product_sources();
    // A name may belong to more than one vocabulary (`message.broadcast` is a command
    // and the event it records): once per table it is in.
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let names = (CommandKind::ALL.iter().map(|k| k.as_str()))
        .chain(EventKind::ALL.iter().map(|k| k.as_str()))
        .chain(Code::ALL.iter().map(|c| c.as_str()));
    for name in names {
        *expected.entry(name).or_default() += 1;
    }
    for (name, more) in SAME_SPELLING_ELSEWHERE {
        *expected.get_mut(name).expect("a known name") += more;
    }
    assert!(
        expected.len() > 90,
        "the tables were read: {}",
        expected.len()
    );
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(name, want)| {
            let found = places(&sources, name);
            (found.len() != *want)
                .then(|| format!("{name}: {} (want {want}) in {found:?}", found.len()))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "wire names written more than once:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scan_finds_a_second_spelling() {
    let sources = vec![
        (
            "a.rs".to_string(),
            r#"x!("incident.open" => IncidentOpen)"#.to_string(),
        ),
        (
            "b.rs".to_string(),
            r#"if kind == "incident.open" {}"#.to_string(),
        ),
    ];
    assert_eq!(places(&sources, "incident.open"), ["a.rs", "b.rs"]);
}
