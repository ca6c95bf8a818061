//! Where in a TOML file a problem is: byte offsets to line numbers, document paths
//! (`types[2].escalation`) to lines, and offsets back to the path of the field there.
//!
//! The semantic checks in [`muster_core::domain::procedure::validate`] know paths, serde knows
//! byte spans, and a person editing the file wants a line and a field name. This module
//! bridges the three using the spans `toml`'s own parser records for every key and value.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One key of the document with where its name and its value sit.
struct Entry {
    /// Dotted path with `[i]` for list items.
    path: String,
    key: Range<usize>,
    value: Range<usize>,
    /// Whether the value is a table (a `[header]`, `[[header]]` or inline table).
    is_table: bool,
}

/// A parsed document kept only for locating things in it.
pub struct SourceMap<'a> {
    text: &'a str,
    entries: Vec<Entry>,
    /// Byte offsets of every `\n`, so a line is a binary search: naming the field of
    /// an error looks up the line of every key, and counting newlines each time was
    /// quadratic in the file's size (seconds for a 90 KB file, found by fuzzing).
    newlines: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    /// Indexes `text`; a document with syntax errors is indexed as far as the parser
    /// recovered, which is enough to name the field near the error.
    pub fn new(text: &'a str) -> Self {
        let (doc, _errors) = DeTable::parse_recoverable(text);
        let mut entries = Vec::new();
        collect_table(doc.get_ref(), "", &mut entries);
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        SourceMap {
            text,
            entries,
            newlines,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.newlines.partition_point(|&i| i < end) + 1
    }

    /// The line of the deepest part of `path` present in the file: the key itself if
    /// it is there, else the table or list item that should have held it.
    pub fn line_of_path(&self, path: &str) -> Option<usize> {
        let mut prefix = path;
        loop {
            if let Some(entry) = self.entries.iter().find(|e| e.path == prefix) {
                return Some(self.line_of(entry.key.start));
            }
            prefix = parent(prefix)?;
        }
    }

    /// The path of the field at byte `offset`: the deepest key whose name or value
    /// covers it, else a key earlier on the same line, else the enclosing table.
    pub fn field_at(&self, offset: usize) -> String {
        let covering = self
            .entries
            .iter()
            .filter(|e| covers(&e.key, offset) || covers(&e.value, offset))
            .max_by_key(|e| depth(&e.path));
        let line = self.line_of(offset);
        let same_line = || {
            self.entries
                .iter()
                .filter(|e| e.key.start <= offset && self.line_of(e.key.start) == line)
                .max_by_key(|e| e.key.start)
        };
        let enclosing = || {
            self.entries
                .iter()
                .filter(|e| e.is_table && e.value.start <= offset)
                .max_by_key(|e| e.value.start)
        };
        covering
            .or_else(same_line)
            .or_else(enclosing)
            .map(|e| e.path.clone())
            // A key the parser could not read (`= 1`) has an empty path: name no field
            // rather than an empty one.
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| "(document)".to_string())
    }

    /// The path of the table whose header (or inline braces) starts at `offset`:
    /// where `toml` points when a table lacks a field. `None` for the document itself.
    pub fn table_at(&self, offset: usize) -> Option<String> {
        self.entries
            .iter()
            .filter(|e| e.is_table && e.value.start == offset && !e.value.is_empty())
            .max_by_key(|e| depth(&e.path))
            .map(|e| e.path.clone())
    }
}

/// Whether `offset` falls in `span`; an empty span covers its own position.
fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

/// Nesting depth, so `types[1].id` beats `types[1]` and `types`.
fn depth(path: &str) -> usize {
    path.matches(['.', '[']).count()
}

/// `types[2].escalation` → `types[2]` → `types` → none.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

fn collect_table(table: &DeTable<'_>, prefix: &str, out: &mut Vec<Entry>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        push(path, key.span(), value, out);
    }
}

fn push(path: String, key: Range<usize>, value: &Spanned<DeValue<'_>>, out: &mut Vec<Entry>) {
    out.push(Entry {
        path: path.clone(),
        key,
        value: value.span(),
        is_table: value.get_ref().is_table(),
    });
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, &path, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // A list item has no key of its own: its value's span stands in.
                push(format!("{path}[{i}]"), item.span(), item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\
        [server]\n\
        bind = 3\n\
        \n\
        [[types]]\n\
        id = \"a\"\n\
        [types.targets.P1]\n\
        answer_secs = 1\n\
        \n\
        [[types]]\n\
        id = \"b\"\n\
        list = [1,\n  2]\n";

    #[test]
    fn paths_map_to_the_line_of_their_key() {
        let map = SourceMap::new(DOC);
        assert_eq!(map.line_of_path("name"), Some(1));
        assert_eq!(map.line_of_path("server.bind"), Some(3));
        assert_eq!(map.line_of_path("types[1].id"), Some(11));
        assert_eq!(map.line_of_path("types[0].targets.P1.answer_secs"), Some(8));
        assert_eq!(map.line_of_path("types[1].list[1]"), Some(13));
    }

    #[test]
    fn missing_keys_map_to_the_table_that_should_hold_them() {
        let map = SourceMap::new(DOC);
        assert_eq!(map.line_of_path("types[1].escalation"), Some(10));
        assert_eq!(map.line_of_path("server.port"), Some(2));
        assert_eq!(map.line_of_path("matrix.table"), None);
    }

    #[test]
    fn offsets_map_to_the_field_there() {
        let map = SourceMap::new(DOC);
        let offset = DOC.find("3\n").unwrap();
        assert_eq!(map.field_at(offset), "server.bind");
        assert_eq!(map.field_at(DOC.find("\"b\"").unwrap()), "types[1].id");
        assert_eq!(
            map.field_at(DOC.find("  2").unwrap() + 2),
            "types[1].list[1]"
        );
    }

    #[test]
    fn broken_lines_are_named_by_their_key() {
        let text = "[server]\nbind = \"oops\nother = 1\n";
        let map = SourceMap::new(text);
        let offset = text.find("oops").unwrap() + 4;
        assert_eq!(map.line_of(offset), 2);
        assert_eq!(map.field_at(offset), "server.bind");
    }
}
