//! OASIS CAP 1.2 (Common Alerting Protocol) out and in. [`Alert`] is the subset of a
//! CAP alert the hub writes and reads; [`write`] turns it into XML with `quick-xml`
//! (which escapes every text), [`parse`] reads one from an alarm gateway. The mapping
//! from incidents and messages to alerts is in [`incident_alert`] and
//! [`message_alert`]; docs/INTEROP.md is its table.
//!
//! The parser accepts no DTD (and so no entity of its own: only the five predefined
//! ones and character references), no element outside the CAP 1.2 namespace except
//! an XML signature (skipped), and no more than [`MAX_DEPTH`] levels or
//! [`MAX_ELEMENTS`] elements. Every refusal is a [`CapError`] naming the element by
//! its path, `alert/info/area/circle: expected "lat,lon radius"`.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use muster_core::domain::geo::check_coordinates;
use muster_core::domain::incident::{Incident, IncidentStatus};
use muster_core::domain::message::{Audience, Message};
use muster_core::domain::procedure::IncidentType;
use muster_core::domain::triage::{Priority, Validity};

/// The CAP 1.2 namespace.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// The XML signature namespace: a signed alert's `Signature` is skipped, not checked.
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The media type of a CAP document.
pub const MEDIA_TYPE: &str = "application/cap+xml";
/// Deeper than any CAP alert nests (alert/info/area/geocode/value is 5).
pub const MAX_DEPTH: usize = 12;
/// More elements than a gateway's alert needs.
pub const MAX_ELEMENTS: usize = 2_000;

/// CAP's `category` values.
pub const CATEGORIES: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];
const STATUSES: &[&str] = &["Actual", "Exercise", "System", "Test", "Draft"];
const MSG_TYPES: &[&str] = &["Alert", "Update", "Cancel", "Ack", "Error"];
const SCOPES: &[&str] = &["Public", "Restricted", "Private"];
const URGENCIES: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
const SEVERITIES: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const CERTAINTIES: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];

/// A CAP alert refused, naming the element (`alert/info/urgency`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CapError {
    pub path: String,
    pub reason: String,
}

impl CapError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        CapError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The subset of a CAP 1.2 alert the hub writes and reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    /// `sent`, as written (RFC 3339 with an offset).
    pub sent: String,
    pub status: String,
    pub msg_type: String,
    pub scope: String,
    pub restriction: Option<String>,
    pub note: Option<String>,
    pub references: Option<String>,
    pub incidents: Option<String>,
    pub info: Vec<Info>,
}

/// One `info` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    pub language: Option<String>,
    pub categories: Vec<String>,
    pub event: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub areas: Vec<Area>,
}

/// One `area`: a description and, when known, circles and polygons.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Area {
    pub desc: String,
    pub polygons: Vec<Vec<(f64, f64)>>,
    pub circles: Vec<Circle>,
}

/// `lat,lon radius` (WGS 84 degrees, radius in km).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Circle {
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
}

impl Area {
    /// The area's point: the first circle's centre, else the first polygon's centroid
    /// (the mean of its distinct vertices).
    pub fn point(&self) -> Option<(f64, f64)> {
        if let Some(c) = self.circles.first() {
            return Some((c.lat, c.lon));
        }
        let p = self.polygons.first()?;
        let vertices = &p[..p.len().saturating_sub(1)];
        let n = vertices.len() as f64;
        (n > 0.0).then(|| {
            let (lat, lon) = vertices
                .iter()
                .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
            (lat / n, lon / n)
        })
    }
}

// ----- out -------------------------------------------------------------------------

/// What every alert the hub writes shares: who sends it, and whether the hub runs an
/// exercise (then every alert is `Exercise`, never `Actual`).
#[derive(Clone, Debug)]
pub struct Origin {
    /// `sender`: the centre's id, without spaces, commas or `<&` (CAP 1.2 §3.2.1).
    pub sender: String,
    /// `senderName`: the centre's name.
    pub sender_name: String,
    pub exercise: bool,
    /// Decimal places of incident coordinates that leave the hub
    /// (`privacy.location_decimals`).
    pub location_decimals: u32,
}

impl Origin {
    /// The sender id of a centre: its name lower-cased, runs of anything but ASCII
    /// letters and digits turned into one `-`, prefixed `muster:`.
    pub fn sender_id(centre_name: &str) -> String {
        let mut slug = String::new();
        for c in centre_name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        format!("muster:{}", if slug.is_empty() { "centre" } else { slug })
    }

    fn status(&self) -> &'static str {
        if self.exercise { "Exercise" } else { "Actual" }
    }
}

/// Who the hub's alerts are for: partner services, not the public.
pub const RESTRICTION: &str =
    "For emergency and partner services only; not for public dissemination";

/// CAP's `sent` form: seconds and a numeric offset (`2026-12-07T06:00:00+00:00`).
pub fn cap_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// When the incident last changed: the latest of its stamps, notes, assessments and
/// overrides.
pub fn last_changed(i: &Incident) -> DateTime<Utc> {
    [
        i.assessed_at,
        i.dispatched_at,
        i.in_progress_at,
        i.resolved_at,
        i.closed_at,
        i.cancelled_at,
    ]
    .into_iter()
    .flatten()
    .chain(i.notes.iter().map(|n| n.at))
    .chain(i.assessments.iter().map(|a| a.at))
    .chain(i.overrides.iter().map(|o| o.at))
    .fold(i.opened_at, DateTime::max)
}

/// The alert's identifier for an incident as it stood at `at`: one per version.
fn incident_identifier(i: &Incident, at: DateTime<Utc>) -> String {
    format!("{}.{}", i.id, at.timestamp())
}

/// `Cancel` when the report proved false or a duplicate, or the incident was
/// cancelled; `Update` once anything happened after it was opened; else `Alert`.
pub fn msg_type(i: &Incident) -> &'static str {
    let invalid = matches!(i.validity, Validity::FalseReport | Validity::Duplicate);
    if invalid || i.status == IncidentStatus::Cancelled {
        "Cancel"
    } else if last_changed(i) > i.opened_at || i.status != IncidentStatus::New {
        "Update"
    } else {
        "Alert"
    }
}

/// Urgency and severity from the priority (docs/INTEROP.md); a finished incident's
/// urgency is `Past`.
pub fn urgency_severity(
    priority: Option<Priority>,
    status: IncidentStatus,
) -> (&'static str, &'static str) {
    let (urgency, severity) = match priority {
        Some(Priority::P1) => ("Immediate", "Extreme"),
        Some(Priority::P2) => ("Immediate", "Severe"),
        Some(Priority::P3) => ("Expected", "Moderate"),
        Some(Priority::P4) => ("Future", "Minor"),
        None => ("Unknown", "Unknown"),
    };
    if status.is_open() {
        (urgency, severity)
    } else {
        ("Past", severity)
    }
}

/// Certainty from the validity (docs/INTEROP.md).
pub fn certainty(validity: Validity) -> &'static str {
    match validity {
        Validity::Verified => "Observed",
        Validity::Unverified => "Possible",
        Validity::Duplicate => "Likely",
        Validity::FalseReport => "Unlikely",
    }
}

/// The CAP category of an incident type: its `cap_category` in the centre's
/// procedures, `Other` when it has none.
pub fn category(kind: Option<&IncidentType>) -> String {
    kind.and_then(|k| k.cap_category.clone())
        .filter(|c| CATEGORIES.contains(&c.as_str()))
        .unwrap_or_else(|| "Other".into())
}

/// Rounds to `decimals` places, as the privacy layer keeps coarse coordinates.
fn round(x: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals.min(9) as i32);
    (x * f).round() / f
}

/// The radius (km) that covers the rounding of `decimals` places: half a step of
/// latitude, at least 0.05 km.
fn radius_for(decimals: u32) -> f64 {
    let step_km = 111.0 / 10f64.powi(decimals.min(9) as i32);
    (step_km / 2.0).max(0.05)
}

/// An incident as a CAP alert. What goes out is operational: type, status, priority,
/// validity, reference, the coarse location (rounded as the privacy layer rounds it)
/// and the gazetteer place it was chosen from; the free text (description, location
/// text, notes, answers) does not, as it may name people (docs/PRIVACY.md).
pub fn incident_alert(i: &Incident, kind: Option<&IncidentType>, origin: &Origin) -> Alert {
    let at = last_changed(i);
    let msg_type = msg_type(i);
    let type_name = kind.map_or(i.incident_type.as_str(), |k| k.name.as_str());
    let (urgency, severity) = urgency_severity(i.priority, i.status);
    let priority = i.priority.map_or("not set", |p| p.as_str());
    let references = (msg_type != "Alert").then(|| {
        format!(
            "{},{},{}",
            origin.sender,
            incident_identifier(i, i.opened_at),
            cap_time(i.opened_at)
        )
    });
    let headline = format!("{type_name} {} ({})", i.reference, i.status.name());
    let description = format!(
        "{type_name}, reference {}. Status: {}. Priority: {priority}. Validity: {}. Resources assigned: {}. Opened {}.",
        i.reference,
        i.status.name(),
        validity_name(i.validity),
        i.assignment_ids.len(),
        cap_time(i.opened_at),
    );
    let area = incident_area(i, origin.location_decimals);
    Alert {
        identifier: incident_identifier(i, at),
        sender: origin.sender.clone(),
        sent: cap_time(at),
        status: origin.status().into(),
        msg_type: msg_type.into(),
        scope: "Restricted".into(),
        restriction: Some(RESTRICTION.into()),
        note: None,
        references,
        incidents: Some(i.reference.clone()),
        info: vec![Info {
            language: Some("en-GB".into()),
            categories: vec![category(kind)],
            event: type_name.into(),
            urgency: urgency.into(),
            severity: severity.into(),
            certainty: certainty(i.validity).into(),
            sender_name: Some(origin.sender_name.clone()),
            headline: Some(headline),
            description: Some(description),
            instruction: None,
            areas: area.into_iter().collect(),
        }],
    }
}

fn validity_name(v: Validity) -> &'static str {
    match v {
        Validity::Unverified => "unverified",
        Validity::Verified => "verified",
        Validity::Duplicate => "duplicate",
        Validity::FalseReport => "false report",
    }
}

/// The incident's area: its gazetteer place or its reference as `areaDesc`, and a
/// circle around its coarse point when it has coordinates.
fn incident_area(i: &Incident, decimals: u32) -> Option<Area> {
    let point = i.location.point();
    let desc = match &i.location.place_id {
        Some(place) => format!("Place {place}"),
        None => format!("Location of {}", i.reference),
    };
    Some(Area {
        desc,
        polygons: Vec::new(),
        circles: point
            .map(|(lat, lon)| Circle {
                lat: round(lat, decimals),
                lon: round(lon, decimals),
                radius_km: radius_for(decimals),
            })
            .into_iter()
            .collect(),
    })
}

/// A broadcast message as a CAP alert: its text is the description (broadcast texts
/// are operational instructions, in clear: docs/PRIVACY.md); a message to an
/// incident's crews carries that incident's area.
pub fn message_alert(m: &Message, incident: Option<&Incident>, origin: &Origin) -> Alert {
    let headline: String = m.text.chars().take(140).collect();
    Alert {
        identifier: m.id.to_string(),
        sender: origin.sender.clone(),
        sent: cap_time(m.sent_at),
        status: origin.status().into(),
        msg_type: "Alert".into(),
        scope: "Restricted".into(),
        restriction: Some(RESTRICTION.into()),
        note: Some(format!("Muster message to {}", m.audience)),
        references: None,
        incidents: incident.map(|i| i.reference.clone()),
        info: vec![Info {
            language: Some("en-GB".into()),
            categories: vec!["Other".into()],
            event: "Control room message".into(),
            urgency: if m.requires_ack {
                "Immediate"
            } else {
                "Expected"
            }
            .into(),
            severity: "Unknown".into(),
            certainty: "Observed".into(),
            sender_name: Some(origin.sender_name.clone()),
            headline: Some(headline),
            description: Some(m.text.clone()),
            instruction: m
                .requires_ack
                .then(|| "Acknowledge this message in Muster".to_string()),
            areas: match (&m.audience, incident) {
                (Audience::Incident(_), Some(i)) => incident_area(i, origin.location_decimals)
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            },
        }],
    }
}

/// `lat,lon radius`, shortest decimal form.
pub fn circle_text(c: &Circle) -> String {
    format!("{},{} {}", c.lat, c.lon, c.radius_km)
}

fn polygon_text(p: &[(f64, f64)]) -> String {
    p.iter()
        .map(|(lat, lon)| format!("{lat},{lon}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The alert as a CAP 1.2 document (UTF-8, indented), in the schema's element order.
pub fn write(alert: &Alert) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_alert(&mut w, alert).expect("writing to a Vec cannot fail");
    let mut out = String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8");
    out.push('\n');
    out
}

type W = Writer<Vec<u8>>;

fn leaf(w: &mut W, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn opt(w: &mut W, name: &str, text: &Option<String>) -> std::io::Result<()> {
    match text {
        Some(t) => leaf(w, name, t),
        None => Ok(()),
    }
}

fn write_alert(w: &mut W, a: &Alert) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let start = BytesStart::new("alert").with_attributes([("xmlns", NAMESPACE)]);
    w.write_event(Event::Start(start))?;
    leaf(w, "identifier", &a.identifier)?;
    leaf(w, "sender", &a.sender)?;
    leaf(w, "sent", &a.sent)?;
    leaf(w, "status", &a.status)?;
    leaf(w, "msgType", &a.msg_type)?;
    leaf(w, "scope", &a.scope)?;
    opt(w, "restriction", &a.restriction)?;
    opt(w, "note", &a.note)?;
    opt(w, "references", &a.references)?;
    opt(w, "incidents", &a.incidents)?;
    for info in &a.info {
        w.write_event(Event::Start(BytesStart::new("info")))?;
        opt(w, "language", &info.language)?;
        for c in &info.categories {
            leaf(w, "category", c)?;
        }
        leaf(w, "event", &info.event)?;
        leaf(w, "urgency", &info.urgency)?;
        leaf(w, "severity", &info.severity)?;
        leaf(w, "certainty", &info.certainty)?;
        opt(w, "senderName", &info.sender_name)?;
        opt(w, "headline", &info.headline)?;
        opt(w, "description", &info.description)?;
        opt(w, "instruction", &info.instruction)?;
        for area in &info.areas {
            w.write_event(Event::Start(BytesStart::new("area")))?;
            leaf(w, "areaDesc", &area.desc)?;
            for p in &area.polygons {
                leaf(w, "polygon", &polygon_text(p))?;
            }
            for c in &area.circles {
                leaf(w, "circle", &circle_text(c))?;
            }
            w.write_event(Event::End(BytesStart::new("area").to_end()))?;
        }
        w.write_event(Event::End(BytesStart::new("info").to_end()))?;
    }
    w.write_event(Event::End(BytesStart::new("alert").to_end()))?;
    Ok(())
}

// ----- in --------------------------------------------------------------------------

/// Reads a CAP 1.2 alert: well-formed XML, no DTD, the CAP 1.2 namespace, every
/// required element once, every enumerated value one of CAP's, coordinates in range.
pub fn parse(text: &str) -> Result<Alert, CapError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut p = Parser::default();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| CapError::new(p.path_or_doc(), format!("not well-formed XML: {e}")))?;
        let in_cap = matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == NAMESPACE);
        let in_dsig = matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == XMLDSIG);
        match event {
            Event::DocType(_) => {
                return Err(CapError::new(
                    "alert",
                    "a DTD is not accepted (no DOCTYPE, no entities of its own)",
                ));
            }
            Event::Start(e) => {
                let name = local(&e)?;
                p.open(&name, in_cap, in_dsig)?;
            }
            Event::Empty(e) => {
                let name = local(&e)?;
                p.open(&name, in_cap, in_dsig)?;
                p.close()?;
            }
            Event::End(_) => p.close()?,
            Event::Text(t) => p.text(&t.xml10_content())?,
            Event::CData(t) => p.text(&t.xml10_content())?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match r.xml10_content().as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        _ => {
                            return Err(CapError::new(
                                p.path_or_doc(),
                                "only the predefined entities and character references are accepted",
                            ));
                        }
                    },
                    Err(e) => {
                        return Err(CapError::new(
                            p.path_or_doc(),
                            format!("bad character reference: {e}"),
                        ));
                    }
                };
                p.text(&c)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    p.finish()
}

fn local(e: &BytesStart<'_>) -> Result<String, CapError> {
    Ok(e.local_name().as_ref().to_string())
}

/// The alert being read: the open elements, the text of the innermost, what is
/// filled so far.
#[derive(Default)]
struct Parser {
    stack: Vec<String>,
    text: String,
    elements: usize,
    /// Inside an element skipped whole (a signature), at this depth.
    skip_from: Option<usize>,
    seen_root: bool,
    alert: Alert,
    /// Required children seen once, by path.
    seen: Vec<String>,
}

/// Children each element may have (CAP 1.2's, in any order); those the hub does not
/// read (codes, parameters, resources, geocodes) are accepted and ignored.
fn children(parent: &str) -> &'static [&'static str] {
    match parent {
        "alert" => &[
            "identifier",
            "sender",
            "sent",
            "status",
            "msgType",
            "source",
            "scope",
            "restriction",
            "addresses",
            "code",
            "note",
            "references",
            "incidents",
            "info",
        ],
        "alert/info" => &[
            "language",
            "category",
            "event",
            "responseType",
            "urgency",
            "severity",
            "certainty",
            "audience",
            "eventCode",
            "effective",
            "onset",
            "expires",
            "senderName",
            "headline",
            "description",
            "instruction",
            "web",
            "contact",
            "parameter",
            "resource",
            "area",
        ],
        "alert/info/eventCode" | "alert/info/parameter" | "alert/info/area/geocode" => {
            &["valueName", "value"]
        }
        "alert/info/resource" => &[
            "resourceDesc",
            "mimeType",
            "size",
            "uri",
            "derefUri",
            "digest",
        ],
        "alert/info/area" => &[
            "areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling",
        ],
        _ => &[],
    }
}

impl Parser {
    fn path(&self) -> String {
        self.stack.join("/")
    }

    fn path_or_doc(&self) -> String {
        if self.stack.is_empty() {
            "alert".into()
        } else {
            self.path()
        }
    }

    fn open(&mut self, name: &str, in_cap: bool, in_dsig: bool) -> Result<(), CapError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(CapError::new(
                self.path(),
                format!("more than {MAX_ELEMENTS} elements"),
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(CapError::new(
                self.path(),
                format!("nested deeper than {MAX_DEPTH}"),
            ));
        }
        if self.skip_from.is_some() {
            self.stack.push(name.to_string());
            return Ok(());
        }
        if self.stack.is_empty() {
            if self.seen_root {
                return Err(CapError::new(name, "only one root element is allowed"));
            }
            self.seen_root = true;
            if name != "alert" {
                return Err(CapError::new(
                    name,
                    "the root element must be a CAP 1.2 alert",
                ));
            }
            if !in_cap {
                return Err(CapError::new(
                    "alert",
                    format!("expected the namespace {NAMESPACE}"),
                ));
            }
            self.stack.push(name.into());
            return Ok(());
        }
        let parent = self.path();
        if in_dsig && parent == "alert" && name == "Signature" {
            self.skip_from = Some(self.stack.len());
            self.stack.push(name.into());
            return Ok(());
        }
        let child = format!("{parent}/{name}");
        if !in_cap {
            return Err(CapError::new(
                child,
                format!("expected the namespace {NAMESPACE}"),
            ));
        }
        if !children(&parent).contains(&name) {
            return Err(CapError::new(child, "not an element CAP 1.2 allows here"));
        }
        match child.as_str() {
            "alert/info" => self.alert.info.push(Info::default()),
            "alert/info/area" => {
                if let Some(info) = self.alert.info.last_mut() {
                    info.areas.push(Area::default());
                }
            }
            _ => {}
        }
        self.stack.push(name.into());
        self.text.clear();
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), CapError> {
        if self.stack.is_empty() {
            if s.trim().is_empty() {
                return Ok(());
            }
            return Err(CapError::new("alert", "text outside the alert element"));
        }
        if self.skip_from.is_some() {
            return Ok(());
        }
        if self.text.len() + s.len() > 64 * 1024 {
            return Err(CapError::new(self.path(), "text longer than 64 KiB"));
        }
        self.text.push_str(s);
        Ok(())
    }

    /// The key a required element is counted under: its path, and for an info
    /// block's children the block's number (an area's, the area's too).
    fn key(&self, path: &str) -> String {
        let info = self.alert.info.len();
        let area = self.alert.info.last().map_or(0, |i| i.areas.len());
        if path.starts_with("alert/info/area/") {
            format!("{path}#{info}.{area}")
        } else if path.starts_with("alert/info/") {
            format!("{path}#{info}")
        } else {
            path.to_string()
        }
    }

    /// Records a required element once; a second is refused.
    fn once(&mut self, path: &str) -> Result<(), CapError> {
        let key = self.key(path);
        if self.seen.contains(&key) {
            return Err(CapError::new(path, "given more than once"));
        }
        self.seen.push(key);
        Ok(())
    }

    fn close(&mut self) -> Result<(), CapError> {
        let path = self.path();
        let depth = self.stack.len();
        self.stack.pop();
        if let Some(from) = self.skip_from {
            if depth - 1 == from {
                self.skip_from = None;
            }
            return Ok(());
        }
        let text = std::mem::take(&mut self.text).trim().to_string();
        let a = &mut self.alert;
        let enumerated = |allowed: &[&str]| -> Result<String, CapError> {
            if allowed.contains(&text.as_str()) {
                Ok(text.clone())
            } else {
                Err(CapError::new(
                    &path,
                    format!("expected one of {}", allowed.join(", ")),
                ))
            }
        };
        match path.as_str() {
            "alert/identifier" | "alert/sender" => {
                if text.is_empty()
                    || text.contains(|c: char| c.is_whitespace() || ",<&".contains(c))
                {
                    return Err(CapError::new(
                        &path,
                        "expected a non-empty value without spaces, commas, < or &",
                    ));
                }
                if text.len() > 500 {
                    return Err(CapError::new(&path, "longer than 500 characters"));
                }
                if path == "alert/identifier" {
                    a.identifier = text;
                } else {
                    a.sender = text;
                }
            }
            "alert/sent" => {
                DateTime::parse_from_rfc3339(&text).map_err(|_| {
                    CapError::new(
                        &path,
                        "expected a date and time like 2026-12-07T06:00:00+00:00",
                    )
                })?;
                a.sent = text;
            }
            "alert/status" => a.status = enumerated(STATUSES)?,
            "alert/msgType" => a.msg_type = enumerated(MSG_TYPES)?,
            "alert/scope" => a.scope = enumerated(SCOPES)?,
            "alert/restriction" => a.restriction = Some(text),
            "alert/note" => a.note = Some(text),
            "alert/references" => a.references = Some(text),
            "alert/incidents" => a.incidents = Some(text),
            "alert/info/category" => {
                let c = enumerated(CATEGORIES)?;
                if let Some(i) = a.info.last_mut() {
                    i.categories.push(c);
                }
            }
            "alert/info/language" => set(a, |i| &mut i.language, Some(text)),
            "alert/info/event" => set(a, |i| &mut i.event, text),
            "alert/info/urgency" => {
                let v = enumerated(URGENCIES)?;
                set(a, |i| &mut i.urgency, v)
            }
            "alert/info/severity" => {
                let v = enumerated(SEVERITIES)?;
                set(a, |i| &mut i.severity, v)
            }
            "alert/info/certainty" => {
                let v = enumerated(CERTAINTIES)?;
                set(a, |i| &mut i.certainty, v)
            }
            "alert/info/senderName" => set(a, |i| &mut i.sender_name, Some(text)),
            "alert/info/headline" => set(a, |i| &mut i.headline, Some(text)),
            "alert/info/description" => set(a, |i| &mut i.description, Some(text)),
            "alert/info/instruction" => set(a, |i| &mut i.instruction, Some(text)),
            "alert/info/area/areaDesc" => {
                if let Some(area) = a.info.last_mut().and_then(|i| i.areas.last_mut()) {
                    area.desc = text;
                }
            }
            "alert/info/area/circle" => {
                let c = parse_circle(&text).ok_or_else(|| {
                    CapError::new(
                        &path,
                        "expected \"lat,lon radius\" (WGS 84 degrees, radius in km)",
                    )
                })?;
                if let Some(area) = a.info.last_mut().and_then(|i| i.areas.last_mut()) {
                    area.circles.push(c);
                }
            }
            "alert/info/area/polygon" => {
                let p = parse_polygon(&text).ok_or_else(|| {
                    CapError::new(
                        &path,
                        "expected four or more \"lat,lon\" pairs separated by spaces, the last equal to the first",
                    )
                })?;
                if let Some(area) = a.info.last_mut().and_then(|i| i.areas.last_mut()) {
                    area.polygons.push(p);
                }
            }
            _ => {}
        }
        if REQUIRED.contains(&path.as_str())
            || REQUIRED_INFO.contains(&path.as_str())
            || path == "alert/info/area/areaDesc"
        {
            self.once(&path)?;
        }
        if path == "alert/info" {
            self.check_info()?;
        }
        if path == "alert/info/area" {
            self.check_area()?;
        }
        Ok(())
    }

    fn check_info(&self) -> Result<(), CapError> {
        let Some(info) = self.alert.info.last() else {
            return Ok(());
        };
        if info.categories.is_empty() {
            return Err(CapError::new("alert/info/category", "required"));
        }
        for r in REQUIRED_INFO {
            if !self.seen.contains(&self.key(r)) {
                return Err(CapError::new(*r, "required"));
            }
        }
        Ok(())
    }

    fn check_area(&self) -> Result<(), CapError> {
        let area = self.alert.info.last().and_then(|i| i.areas.last());
        match area {
            Some(a) if !a.desc.is_empty() => Ok(()),
            _ => Err(CapError::new("alert/info/area/areaDesc", "required")),
        }
    }

    fn finish(self) -> Result<Alert, CapError> {
        if !self.seen_root {
            return Err(CapError::new("alert", "required: no alert element"));
        }
        if !self.stack.is_empty() {
            return Err(CapError::new(self.path(), "not closed"));
        }
        for r in REQUIRED {
            if !self.seen.iter().any(|s| s == r) {
                return Err(CapError::new(*r, "required"));
            }
        }
        Ok(self.alert)
    }
}

/// The alert's required elements.
const REQUIRED: &[&str] = &[
    "alert/identifier",
    "alert/sender",
    "alert/sent",
    "alert/status",
    "alert/msgType",
    "alert/scope",
];
/// Each info block's required elements (`category` is checked apart: it repeats).
const REQUIRED_INFO: &[&str] = &[
    "alert/info/event",
    "alert/info/urgency",
    "alert/info/severity",
    "alert/info/certainty",
];

fn set<T>(a: &mut Alert, field: impl FnOnce(&mut Info) -> &mut T, value: T) {
    if let Some(info) = a.info.last_mut() {
        *field(info) = value;
    }
}

fn parse_pair(s: &str) -> Option<(f64, f64)> {
    let (lat, lon) = s.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lon: f64 = lon.trim().parse().ok()?;
    check_coordinates("point", lat, lon).ok()?;
    Some((lat, lon))
}

/// `lat,lon radius`: coordinates in range, a finite radius of zero or more.
pub fn parse_circle(s: &str) -> Option<Circle> {
    let mut parts = s.split_whitespace();
    let (lat, lon) = parse_pair(parts.next()?)?;
    let radius_km: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !radius_km.is_finite() || radius_km < 0.0 {
        return None;
    }
    Some(Circle {
        lat,
        lon,
        radius_km,
    })
}

/// Four or more `lat,lon` pairs, the last equal to the first.
pub fn parse_polygon(s: &str) -> Option<Vec<(f64, f64)>> {
    let points: Vec<(f64, f64)> = s
        .split_whitespace()
        .map(parse_pair)
        .collect::<Option<_>>()?;
    (points.len() >= 4 && points.first() == points.last()).then_some(points)
}

// ----- into a contact --------------------------------------------------------------

/// The `contact.receive` an alarm gateway's alert becomes, and its command id (one per
/// sender and identifier, so a gateway's retry appends nothing).
pub fn contact_receive(alert: &Alert) -> (String, serde_json::Value) {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(alert.sender.as_bytes());
    h.update([0]);
    h.update(alert.identifier.as_bytes());
    let id = format!("cap-{}", hex::encode(&h.finalize()[..16]));
    let info = alert.info.first();
    let summary = summary(alert);
    let location = info
        .and_then(|i| i.areas.first())
        .map(|area| {
            let mut loc = serde_json::Map::new();
            let desc: String = area.desc.chars().take(200).collect();
            if !desc.trim().is_empty() {
                loc.insert("text".into(), desc.into());
            }
            if let Some((lat, lon)) = area.point() {
                loc.insert("lat".into(), lat.into());
                loc.insert("lon".into(), lon.into());
            }
            serde_json::Value::Object(loc)
        })
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()));
    let caller: String = alert.sender.chars().take(200).collect();
    let mut body = serde_json::json!({
        "kind": muster_core::engine::CommandKind::ContactReceive.as_str(),
        "channel": muster_core::domain::contact::Channel::Alarm,
        "caller": {"name": caller},
        "summary": summary,
        "reason": "report",
    });
    if let Some(l) = location {
        body["location"] = l;
    }
    (id, body)
}

/// The contact's summary: headline, description and event (the first info block's),
/// the alert's status when it is not `Actual`, cut to the summary's limit.
fn summary(alert: &Alert) -> String {
    let mut parts: Vec<Cow<'_, str>> = Vec::new();
    if alert.status != "Actual" {
        parts.push(format!("[CAP {}]", alert.status).into());
    }
    if let Some(i) = alert.info.first() {
        for t in [&i.headline, &i.description].into_iter().flatten() {
            parts.push(t.as_str().into());
        }
        if !parts.iter().any(|p| p.contains(i.event.as_str())) {
            parts.push(i.event.as_str().into());
        }
    }
    if parts.iter().all(|p| p.trim().is_empty()) {
        parts.push(format!("CAP alert {} from {}", alert.identifier, alert.sender).into());
    }
    let text = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    // Control characters other than newlines and tabs are not text a desk can read.
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    text.chars()
        .take(muster_core::domain::MAX_TEXT - 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>GW-1</identifier><sender>gw@example.org</sender>
  <sent>2026-12-07T06:00:00+00:00</sent><status>Actual</status>
  <msgType>Alert</msgType><scope>Private</scope>
  {body}
</alert>"#
        )
    }

    #[test]
    fn a_written_alert_reads_back_equal() {
        let alert = Alert {
            identifier: "inc_1.5".into(),
            sender: "muster:demo".into(),
            sent: "2026-12-07T06:00:00+00:00".into(),
            status: "Exercise".into(),
            msg_type: "Update".into(),
            scope: "Restricted".into(),
            restriction: Some("partners <only> & \"friends\"".into()),
            note: None,
            references: Some("muster:demo,inc_1.0,2026-12-07T05:00:00+00:00".into()),
            incidents: Some("INC-2026-000001".into()),
            info: vec![Info {
                language: Some("en-GB".into()),
                categories: vec!["Fire".into(), "Safety".into()],
                event: "Fire alarm".into(),
                urgency: "Immediate".into(),
                severity: "Severe".into(),
                certainty: "Observed".into(),
                sender_name: Some("Demo".into()),
                headline: Some("Fire <b> & smoke".into()),
                description: Some("line 1\nline 2 ]]> '".into()),
                instruction: None,
                areas: vec![Area {
                    desc: "Town hall".into(),
                    polygons: vec![vec![(1.0, 2.0), (1.5, 2.0), (1.5, 2.5), (1.0, 2.0)]],
                    circles: vec![Circle {
                        lat: 51.5,
                        lon: -0.125,
                        radius_km: 0.5,
                    }],
                }],
            }],
        };
        let xml = write(&alert);
        assert!(xml.contains("&lt;b&gt; &amp; smoke"), "{xml}");
        assert_eq!(parse(&xml).unwrap(), alert);
    }

    #[test]
    fn refusals_name_the_element() {
        let bad_circle = minimal(
            "<info><category>Fire</category><event>x</event><urgency>Immediate</urgency>\
             <severity>Severe</severity><certainty>Observed</certainty>\
             <area><areaDesc>here</areaDesc><circle>51.5 -0.1</circle></area></info>",
        );
        let e = parse(&bad_circle).unwrap_err();
        assert_eq!(e.path, "alert/info/area/circle");
        assert!(e.to_string().contains("expected \"lat,lon radius\""), "{e}");

        let e = parse(&minimal("<info><category>Fire</category></info>")).unwrap_err();
        assert_eq!(e.path, "alert/info/event", "{e}");
        let e = parse(&minimal("<info><category>Weather</category></info>")).unwrap_err();
        assert_eq!(e.path, "alert/info/category", "{e}");
        let e = parse(&minimal("<bogus/>")).unwrap_err();
        assert_eq!(e.path, "alert/bogus", "{e}");
        let no_sender = minimal("").replace("<sender>gw@example.org</sender>", "");
        assert_eq!(parse(&no_sender).unwrap_err().path, "alert/sender");
        let wrong_ns = minimal("").replace("cap:1.2", "cap:1.1");
        let e = parse(&wrong_ns).unwrap_err();
        assert!(e.reason.contains("namespace"), "{e}");
        let e = parse("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>")
            .unwrap_err();
        assert!(
            e.reason.contains("well-formed") || e.reason.contains("not closed"),
            "{e}"
        );
    }

    #[test]
    fn dtds_and_entities_of_their_own_are_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>"#;
        let e = parse(xxe).unwrap_err();
        assert!(e.reason.contains("DTD"), "{e}");
        let e = parse(&minimal("<note>&x;</note>")).unwrap_err();
        assert!(e.reason.contains("predefined"), "{e}");
        let ok = parse(&minimal("<note>a &amp; b &#x41;</note>")).unwrap();
        assert_eq!(ok.note.as_deref(), Some("a & b A"));
    }

    #[test]
    fn an_alert_becomes_an_alarm_contact() {
        let xml = minimal(
            "<info><category>Fire</category><event>Fire alarm</event><urgency>Immediate</urgency>\
             <severity>Severe</severity><certainty>Observed</certainty>\
             <headline>Zone 3 smoke detector</headline>\
             <area><areaDesc>Depot, Mill Lane</areaDesc><circle>51.5,-0.1 0.2</circle></area></info>",
        );
        let alert = parse(&xml).unwrap();
        let (id, body) = contact_receive(&alert);
        assert!(id.starts_with("cap-"));
        assert_eq!(contact_receive(&alert).0, id, "the same alert, the same id");
        assert_eq!(body["channel"], "alarm");
        assert_eq!(body["caller"]["name"], "gw@example.org");
        assert_eq!(body["summary"], "Zone 3 smoke detector — Fire alarm");
        assert_eq!(body["location"]["lat"], 51.5);
        assert_eq!(body["location"]["text"], "Depot, Mill Lane");
    }

    #[test]
    fn sender_ids_have_no_spaces() {
        assert_eq!(
            Origin::sender_id("Muster Demo Centre"),
            "muster:muster-demo-centre"
        );
        assert_eq!(Origin::sender_id("  "), "muster:centre");
    }
}
