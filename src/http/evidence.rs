//! The evidence pack of a case as one printable HTML document: the same JSON the API
//! sends (`view::case_evidence`), laid out for a complaints panel. Self-contained (inline
//! CSS with print rules, no scripts, no external links) so it can be saved, mailed or
//! printed as it is; every value from the log is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Renders `pack` (`{case, incidents: [{…, timeline, conformance, messages}]}`).
/// `names` turns user ids into names for the reader; unknown ids are shown as they are.
pub fn render(pack: &Value, names: &BTreeMap<String, String>, generated_at: &str) -> String {
    let case = &pack["case"];
    let id = text(&case["id"]);
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Evidence pack: case {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>Evidence pack: case {}</h1>\
         <p class=\"meta\">Generated {} from the event log. Times are UTC.</p></header>\n",
        esc(&id),
        esc(&id),
        esc(generated_at)
    );
    out.push_str("<section><h2>The case</h2>\n");
    fields(&mut out, case, names, &["incident_ids"]);
    out.push_str("</section>\n");
    let incidents = pack["incidents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if incidents.is_empty() {
        out.push_str("<section><p>No incident is linked to this case.</p></section>\n");
    }
    for incident in incidents {
        render_incident(&mut out, incident, names);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn render_incident(out: &mut String, i: &Value, names: &BTreeMap<String, String>) {
    let title = format!(
        "Incident {} {}",
        text(&i["reference"]),
        text(&i["id"]).trim()
    );
    let _ = writeln!(
        out,
        "<section class=\"incident\"><h2>{}</h2>",
        esc(title.trim())
    );
    fields(
        out,
        i,
        names,
        &[
            "timeline",
            "conformance",
            "messages",
            "assignments",
            "assessments",
            "notes",
        ],
    );
    conformance(out, &i["conformance"], names);
    timeline(out, &i["timeline"], names);
    messages(out, &i["messages"], names);
    out.push_str("</section>\n");
}

/// "Who knew what, when": every event of the incident in log order.
fn timeline(out: &mut String, t: &Value, names: &BTreeMap<String, String>) {
    out.push_str(
        "<h3>Timeline: who knew what, when</h3>\n<table class=\"timeline\">\
         <thead><tr><th>#</th><th>Time</th><th>Who</th><th>What</th><th>Details</th></tr></thead><tbody>\n",
    );
    for e in t.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let event = &e["event"];
        let details = match event {
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| k.as_str() != "kind")
                .map(|(k, v)| format!("{k}: {}", compact(v)))
                .collect::<Vec<_>>()
                .join("; "),
            other => compact(other),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"details\">{}</td></tr>",
            esc(&text(&e["seq"])),
            esc(&text(&e["at"])),
            esc(&who(&e["actor"], names)),
            esc(&text(&event["kind"])),
            esc(&details)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn conformance(out: &mut String, c: &Value, names: &BTreeMap<String, String>) {
    let _ = write!(
        out,
        "<h3>Conformance to the procedure: <span class=\"verdict\">{}</span></h3>\n\
         <table><thead><tr><th>Step</th><th>Status</th><th>When</th><th>By</th><th>Note</th></tr></thead><tbody>\n",
        esc(&text(&c["verdict"]))
    );
    for s in c["steps"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let note = [&s["rule"], &s["justification"]]
            .iter()
            .map(|v| text(v))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"status-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&s["step"])),
            esc(&text(&s["status"])),
            esc(&text(&s["status"])),
            esc(&text(&s["at"])),
            esc(&who(&s["by"], names)),
            esc(&note)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn messages(out: &mut String, m: &Value, names: &BTreeMap<String, String>) {
    out.push_str("<h3>Messages sent</h3>\n");
    let list = m.as_array().map(Vec::as_slice).unwrap_or(&[]);
    if list.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Sent</th><th>By</th><th>To</th><th>Text</th><th>Acknowledged</th></tr></thead><tbody>\n",
    );
    for msg in list {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&msg["sent_at"])),
            esc(&who(&msg["sent_by"], names)),
            esc(&compact(&msg["audience"])),
            esc(&text(&msg["text"])),
            esc(&compact(&msg["acks"]))
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The top-level fields of an object as a definition list, nested values compacted.
fn fields(out: &mut String, v: &Value, names: &BTreeMap<String, String>, skip: &[&str]) {
    out.push_str("<dl>\n");
    if let Value::Object(map) = v {
        for (k, value) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            let shown = match (k.ends_with("_by") || k.ends_with("_to"), value) {
                (true, Value::String(_)) => who(value, names),
                _ => compact(value),
            };
            let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(&label(k)), esc(&shown));
        }
    }
    out.push_str("</dl>\n");
}

fn label(key: &str) -> String {
    let mut s = key.replace('_', " ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// A user id with the user's name, when known.
fn who(v: &Value, names: &BTreeMap<String, String>) -> String {
    let id = text(v);
    match names.get(&id) {
        Some(name) => format!("{name} ({id})"),
        None => id,
    }
}

/// A scalar as plain text; `null` as nothing.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Any value on one line: scalars plain, lists and objects as compact JSON.
fn compact(v: &Value) -> String {
    match v {
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(text).collect::<Vec<_>>().join(", ")
        }
        Value::Array(_) | Value::Object(_) => v.to_string(),
        other => text(other),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111;margin:2rem auto;max-width:70rem;padding:0 1rem}\
h1{font-size:1.5rem;margin:0}h2{font-size:1.2rem;border-bottom:2px solid #333;padding-bottom:.2rem;margin-top:2rem}\
h3{font-size:1rem;margin:1.2rem 0 .4rem}.meta{color:#555;margin:.3rem 0 0}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600;color:#333}dd{margin:0;white-space:pre-wrap;word-break:break-word}\
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem}th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}\
th{background:#eee}td.details{font-size:.85em;word-break:break-word}.status-missing{color:#a00;font-weight:600}.verdict{text-transform:uppercase}\
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}tr,dl{break-inside:avoid}thead{display:table-header-group}section.incident{break-before:page}}";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn everything_from_the_log_is_escaped() {
        let pack = json!({
            "case": {"id": "case_7", "text": "<script>alert('x')</script>", "opened_by": "usr_1"},
            "incidents": [{
                "id": "inc_2", "reference": "2026-0001",
                "timeline": [{"seq": 3, "at": "2026-03-02T09:00:00.000Z", "actor": "usr_1",
                              "event": {"kind": "incident.noted", "note": {"text": "a < b & \"c\""}}}],
                "conformance": {"verdict": "pending", "steps": [{"step": "assessed", "status": "missing"}]},
                "messages": []
            }]
        });
        let names = BTreeMap::from([("usr_1".to_string(), "Op <One>".to_string())]);
        let html = render(&pack, &names, "2026-03-02T10:00:00Z");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("Op &lt;One&gt; (usr_1)"));
        assert!(html.contains("incident.noted"));
        assert!(html.contains("a &lt; b &amp;"));
        assert!(html.contains("@media print"));
        assert!(!html.contains("<script"));
    }
}
