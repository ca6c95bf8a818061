//! The API described for machines: `GET /api/openapi.json` (OpenAPI 3.1, every HTTP
//! route) and `GET /api/asyncapi.json` (AsyncAPI 3.0, the `/ws` channel).
//!
//! The schemas are generated from the Rust types (`schemars`): every command of the
//! `commands!` table and every event of the `events!` table becomes a message of its
//! own without an edit here, so the documents cannot drift from the engine. The routes
//! are the one table [`ROUTES`]; a test holds it equal to the router (`api.rs`) and to
//! PROTOCOL.md's route table. Both documents are built once, on first request, and
//! hold no data: they are served without a session.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use muster_core::domain::assignment::Assignment;
use muster_core::domain::case::Case;
use muster_core::domain::contact::Contact;
use muster_core::domain::improvement::Improvement;
use muster_core::domain::incident::Incident;
use muster_core::domain::message::Message;
use muster_core::domain::place::Place;
use muster_core::domain::procedure::Catalogue;
use muster_core::domain::recommend::Recommendation;
use muster_core::domain::resource::Resource;
use muster_core::domain::support::Plan;
use muster_core::engine::alert::Alert;
use muster_core::engine::{Code, Command, Event};

/// Where the schemas of both documents live, so `$ref`s resolve inside them.
const SCHEMAS: &str = "/components/schemas";

/// How a route is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credential (the apps' files, the API documents, health).
    None,
    /// `Authorization: Bearer <session token>` from `POST /api/login`.
    Session,
    /// `Authorization: Bearer <intake key>` (`intake.keys`).
    IntakeKey,
    /// The capability in the path (a push notification's acknowledge link).
    Link,
    /// Only clients whose address is in `server.metrics_from`.
    MetricsAddress,
    /// `Authorization: Bearer <partner key>` (`auth.partner_keys`): a partner centre.
    PartnerKey,
}

/// What a route answers with 2xx.
#[derive(Clone, Copy)]
pub enum Body {
    /// JSON of this schema.
    Json(SchemaFn),
    /// Another media type, described in words.
    Other(&'static str, &'static str),
}

/// A schema from the generator (`schema::<T>` for a Rust type).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// A query parameter: name, required, description.
pub type Param = (&'static str, bool, &'static str);

/// One HTTP route of the hub.
pub struct Route {
    pub method: &'static str,
    /// The path as OpenAPI writes it (`/api/incidents/{id}`).
    pub path: &'static str,
    pub auth: Auth,
    /// Who may call it, in words (the roles of PROTOCOL.md's table).
    pub who: &'static str,
    pub summary: &'static str,
    pub query: &'static [Param],
    pub request: Option<SchemaFn>,
    pub response: Body,
    /// The codes it can answer besides those every route of its kind can.
    pub codes: &'static [Code],
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

use Code::*;

/// The period of the CSV exports.
const PERIOD: &[Param] = &[
    ("from", false, "RFC 3339 start (default 24 h before to)"),
    (
        "to",
        false,
        "RFC 3339 end (default now); at most 366 days after from",
    ),
];

/// Every HTTP route (not `GET /ws`: that is the AsyncAPI document's channel). The web
/// apps' files (`GET` any other path) are one catch-all entry.
pub static ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/api/login",
        auth: Auth::None,
        who: "anyone",
        summary: "Log in: a session token",
        query: &[],
        request: Some(schema::<LoginBody>),
        response: Body::Json(schema::<LoginAnswer>),
        codes: &[
            BadRequest,
            Unauthorized,
            LocalLoginDisabled,
            RateLimited,
            TooLarge,
            Unavailable,
        ],
    },
    Route {
        method: "post",
        path: "/api/logout",
        auth: Auth::Session,
        who: "any user",
        summary: "End the session",
        query: &[],
        request: None,
        response: Body::Json(schema::<OkAnswer>),
        codes: &[Unavailable],
    },
    Route {
        method: "get",
        path: "/api/state",
        auth: Auth::Session,
        who: "any user",
        summary: "The caller's view of the state",
        query: &[],
        request: None,
        response: Body::Json(schema::<StateView>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/incidents/{id}",
        auth: Auth::Session,
        who: "operator, supervisor, admin; a field user whose resource is or was assigned to it",
        summary: "One incident with its assignments, timeline and conformance",
        query: &[],
        request: None,
        response: Body::Json(schema::<IncidentDetail>),
        codes: &[NotFound, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/incidents/{id}/recommendations",
        auth: Auth::Session,
        who: "operator, supervisor",
        summary: "Resources recommended for an incident",
        query: &[],
        request: None,
        response: Body::Json(schema::<Recommendations>),
        codes: &[Forbidden, NotFound],
    },
    Route {
        method: "get",
        path: "/api/roster/next",
        auth: Auth::Session,
        who: "operator, supervisor, admin",
        summary: "The next shift change: when, who goes on and who goes off",
        query: &[],
        request: None,
        response: Body::Json(schema::<RosterNext>),
        codes: &[Forbidden],
    },
    Route {
        method: "post",
        path: "/api/commands",
        auth: Auth::Session,
        who: "any user (each command's roles: PROTOCOL.md)",
        summary: "Send a command; the answer is the result object",
        query: &[],
        request: Some(schema::<CommandBody>),
        response: Body::Json(schema::<CommandResult>),
        codes: &[
            BadRequest,
            Forbidden,
            NotFound,
            InvalidTransition,
            Conflict,
            ValidationFailed,
            ProcedureViolation,
            LegalHold,
            TooLarge,
            Unavailable,
        ],
    },
    Route {
        method: "post",
        path: "/api/intake/contacts",
        auth: Auth::IntakeKey,
        who: "intake key",
        summary: "A contact from another system (contact.receive fields, optional id)",
        query: &[],
        request: Some(schema::<IntakeBody>),
        response: Body::Json(schema::<CommandResult>),
        codes: &[BadRequest, ValidationFailed, TooLarge, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/places",
        auth: Auth::Session,
        who: "any user",
        summary: "The centre's gazetteer places matching q (or the one with id)",
        query: &[
            (
                "q",
                false,
                "part of a name or postcode (at most 200 characters)",
            ),
            ("limit", false, "1 to 10 (default 10)"),
            ("id", false, "the one place with this id"),
        ],
        request: None,
        response: Body::Json(schema::<Places>),
        codes: &[BadRequest],
    },
    Route {
        method: "get",
        path: "/api/geocode",
        auth: Auth::Session,
        who: "any user",
        summary: "Search the configured geocoder",
        query: &[
            ("q", false, "what to search for"),
            ("limit", false, "1 to 10 (default 10)"),
        ],
        request: None,
        response: Body::Json(schema::<Geocoded>),
        codes: &[BadRequest, NotFound, GeocoderFailed, RateLimited],
    },
    Route {
        method: "get",
        path: "/api/catalogue",
        auth: Auth::Session,
        who: "any user",
        summary: "The centre's catalogue: incident types, questions, targets, rules",
        query: &[],
        request: None,
        response: Body::Json(schema::<Catalogue>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/reports/performance",
        auth: Auth::Session,
        who: "supervisor",
        summary: "Performance by operator, team, type, priority or channel (JSON or CSV)",
        query: &[
            ("from", false, "RFC 3339 start of the period"),
            ("to", false, "RFC 3339 end of the period"),
            (
                "by",
                false,
                "operator, team, type (default), priority or channel",
            ),
        ],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[BadRequest, Forbidden, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/reports/incidents.csv",
        auth: Auth::Session,
        who: "supervisor, admin",
        summary: "The incidents opened in a period as CSV",
        query: PERIOD,
        request: None,
        response: Body::Other("text/csv", "one row per incident opened in the period"),
        codes: &[Forbidden, ValidationFailed],
    },
    Route {
        method: "get",
        path: "/api/reports/contacts.csv",
        auth: Auth::Session,
        who: "supervisor, admin",
        summary: "The contacts received in a period as CSV (no caller details)",
        query: PERIOD,
        request: None,
        response: Body::Other("text/csv", "one row per contact received in the period"),
        codes: &[Forbidden, ValidationFailed],
    },
    Route {
        method: "post",
        path: "/api/import/users",
        auth: Auth::Session,
        who: "admin",
        summary: "Import users from CSV (username, name, role, resource, password): all rows or none, in one batch",
        query: &[("dry_run", false, "true: check every row, apply nothing")],
        request: None,
        response: Body::Json(schema::<super::import::ImportAnswer>),
        codes: &[BadRequest, Forbidden, TooLarge, Conflict, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/import/users",
        auth: Auth::Session,
        who: "admin",
        summary: "The users as CSV, in the import's columns (no passwords)",
        query: &[],
        request: None,
        response: Body::Other("text/csv", "username, name, role, resource"),
        codes: &[Forbidden],
    },
    Route {
        method: "post",
        path: "/api/import/resources",
        auth: Auth::Session,
        who: "admin",
        summary: "Import resources from CSV (name, kind, team, skills, lat, lon, user): all rows or none, in one batch",
        query: &[("dry_run", false, "true: check every row, apply nothing")],
        request: None,
        response: Body::Json(schema::<super::import::ImportAnswer>),
        codes: &[BadRequest, Forbidden, TooLarge, Conflict, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/import/resources",
        auth: Auth::Session,
        who: "admin",
        summary: "The resources in service as CSV, in the import's columns",
        query: &[],
        request: None,
        response: Body::Other("text/csv", "name, kind, team, skills, lat, lon, user"),
        codes: &[Forbidden],
    },
    Route {
        method: "post",
        path: "/api/import/shifts",
        auth: Auth::Session,
        who: "admin",
        summary: "Import shifts from CSV (resource, start, end): all rows or none, in one batch",
        query: &[("dry_run", false, "true: check every row, apply nothing")],
        request: None,
        response: Body::Json(schema::<super::import::ImportAnswer>),
        codes: &[BadRequest, Forbidden, TooLarge, Conflict, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/import/shifts",
        auth: Auth::Session,
        who: "admin",
        summary: "The roster's shifts as CSV, in the import's columns",
        query: &[],
        request: None,
        response: Body::Other("text/csv", "resource, start, end"),
        codes: &[Forbidden],
    },
    Route {
        method: "get",
        path: "/api/cases/{id}",
        auth: Auth::Session,
        who: "operator, supervisor",
        summary: "A case's evidence pack (JSON, or printable HTML with ?format=html)",
        query: &[("format", false, "html for the printable page")],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, NotFound, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/audit/verify",
        auth: Auth::Session,
        who: "supervisor",
        summary: "Verify the log's hash chain",
        query: &[],
        request: None,
        response: Body::Json(schema::<AuditAnswer>),
        codes: &[Forbidden, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/push/key",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "The hub's VAPID public key",
        query: &[],
        request: None,
        response: Body::Json(schema::<PushKey>),
        codes: &[Unavailable],
    },
    Route {
        method: "post",
        path: "/api/push/ack/{token}",
        auth: Auth::Link,
        who: "anyone holding the link",
        summary: "A push notification's Acknowledge action",
        query: &[],
        request: None,
        response: Body::Json(schema::<PushAcked>),
        codes: &[NotFound, InvalidTransition, AckLinkExpired, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/privacy/search",
        auth: Auth::Session,
        who: "admin",
        summary: "Find data subjects by name, username, phone or e-mail",
        query: &[("q", true, "at least 3 characters")],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, ValidationFailed, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/privacy/subjects/{subject_id}",
        auth: Auth::Session,
        who: "admin",
        summary: "A subject access export",
        query: &[("purpose", true, "why the export is made (logged)")],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, NotFound, ValidationFailed, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/me/locations",
        auth: Auth::Session,
        who: "a field user",
        summary: "The caller's resource's location history",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[NotFound, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/settings",
        auth: Auth::None,
        who: "anyone (no session: the log-in page shows it)",
        summary: "The centre's name and logo, and the map's tiles",
        query: &[],
        request: None,
        response: Body::Json(schema::<SettingsAnswer>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/settings/logo",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "The centre's logo (centre.logo)",
        query: &[],
        request: None,
        response: Body::Other("image/png", "the logo file (PNG, SVG, JPEG or WebP)"),
        codes: &[NotFound],
    },
    Route {
        method: "get",
        path: "/api/auth/providers",
        auth: Auth::None,
        who: "anyone (no session: the log-in page shows a button each)",
        summary: "The single sign-on providers ([[auth.oidc]])",
        query: &[],
        request: None,
        response: Body::Json(schema::<Vec<ProviderView>>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/auth/oidc/{id}/login",
        auth: Auth::None,
        who: "anyone (a browser)",
        summary: "Start single sign-on: 302 to the provider (PKCE, state, nonce)",
        query: &[(
            "next",
            false,
            "a path on this hub to open after log-in (e.g. /board)",
        )],
        request: None,
        response: Body::Other(
            "text/plain",
            "302 to the provider; 302 to /#sso_error=provider_unavailable when it cannot be reached, /#sso_error=busy when the address has too many unfinished sign-ins",
        ),
        codes: &[NotFound],
    },
    Route {
        method: "get",
        path: "/auth/oidc/{id}/callback",
        auth: Auth::None,
        who: "the provider's redirect (a browser)",
        summary: "Finish single sign-on: 302 to /#sso=<one-time code> or /#sso_error=<reason>",
        query: &[
            ("code", false, "the authorization code"),
            ("state", true, "the state the log-in began with"),
            (
                "error",
                false,
                "the provider's refusal (e.g. access_denied)",
            ),
        ],
        request: None,
        response: Body::Other(
            "text/plain",
            "302 to /#sso=CODE (exchange it at POST /api/auth/oidc/exchange) or /#sso_error=denied|state|provider_unavailable|failed|no_role|disabled|field|role_changed",
        ),
        codes: &[NotFound],
    },
    Route {
        method: "post",
        path: "/api/auth/oidc/exchange",
        auth: Auth::None,
        who: "anyone holding a one-time code from the callback (within 60 s, once)",
        summary: "The session a single sign-on began, as POST /api/login answers it",
        query: &[],
        request: Some(schema::<ExchangeBody>),
        response: Body::Json(schema::<SsoLoginAnswer>),
        codes: &[BadRequest, Unauthorized],
    },
    Route {
        method: "get",
        path: "/api/openapi.json",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "This document",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/asyncapi.json",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "The WebSocket API as AsyncAPI 3.0",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/mode",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "live, or exercise with the exercise (the apps' EXERCISE banner)",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/api/exercise",
        auth: Auth::None,
        who: "anyone (no session)",
        summary: "The exercise this hub runs: scenario, title, status, started_at, speed",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[NotAnExercise],
    },
    Route {
        method: "post",
        path: "/api/exercise/stop",
        auth: Auth::Session,
        who: "supervisor, admin",
        summary: "End the exercise (the simulator stops)",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, NotAnExercise],
    },
    Route {
        method: "get",
        path: "/api/exercise/debrief",
        auth: Auth::Session,
        who: "any user; supervisors and admins see every trainee, anyone else their own",
        summary: "The exercise's debrief, scored from its whole log",
        query: &[("user_id", false, "one trainee (supervisors and admins)")],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, NotAnExercise, Unavailable],
    },
    Route {
        method: "post",
        path: "/api/intake/cap",
        auth: Auth::IntakeKey,
        who: "intake key",
        summary: "An OASIS CAP 1.2 alert from an alarm gateway, as a contact on the alarm channel",
        query: &[],
        request: None,
        response: Body::Json(schema::<CommandResult>),
        codes: &[BadRequest, ValidationFailed, TooLarge, Unavailable],
    },
    Route {
        method: "get",
        path: "/api/incidents/{id}/cap",
        auth: Auth::Session,
        who: "operator, supervisor, admin",
        summary: "The incident as an OASIS CAP 1.2 alert",
        query: &[],
        request: None,
        response: Body::Other("application/cap+xml", "a CAP 1.2 alert"),
        codes: &[Forbidden, NotFound],
    },
    Route {
        method: "get",
        path: "/api/messages/{id}/cap",
        auth: Auth::Session,
        who: "operator, supervisor, admin",
        summary: "The broadcast message as an OASIS CAP 1.2 alert",
        query: &[],
        request: None,
        response: Body::Other("application/cap+xml", "a CAP 1.2 alert"),
        codes: &[Forbidden, NotFound],
    },
    Route {
        method: "get",
        path: "/api/incidents/{id}/eido",
        auth: Auth::Session,
        who: "operator, supervisor, admin; a partner centre's key for an incident shared with it",
        summary: "The incident as a NENA-STA-021 EIDO",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Forbidden, NotFound],
    },
    Route {
        method: "get",
        path: "/ws/eido",
        auth: Auth::PartnerKey,
        who: "a partner centre's key",
        summary: "The partner feed: EIDO updates of the incidents shared with it (WebSocket upgrade)",
        query: &[],
        request: None,
        response: Body::Other(
            "application/json",
            "101 Switching Protocols, then JSON frames (docs/PROTOCOL.md, Partner centres)",
        ),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/healthz",
        auth: Auth::None,
        who: "anyone",
        summary: "The process is up",
        query: &[],
        request: None,
        response: Body::Json(schema::<OkAnswer>),
        codes: &[],
    },
    Route {
        method: "get",
        path: "/readyz",
        auth: Auth::None,
        who: "anyone",
        summary: "The hub can take commands (503 with a reason when not)",
        query: &[],
        request: None,
        response: Body::Json(schema::<Object>),
        codes: &[Unavailable],
    },
    Route {
        method: "get",
        path: "/metrics",
        auth: Auth::MetricsAddress,
        who: "clients whose address is in server.metrics_from",
        summary: "Prometheus metrics",
        query: &[],
        request: None,
        response: Body::Other(
            "text/plain; version=0.0.4",
            "the Prometheus text exposition format",
        ),
        codes: &[Forbidden],
    },
    Route {
        method: "get",
        path: "/{file}",
        auth: Auth::None,
        who: "anyone",
        summary: "The web apps' files (`/` is index.html)",
        query: &[],
        request: None,
        response: Body::Other("text/html", "a file of the web apps"),
        codes: &[NotFound],
    },
];

// ----- shapes the hub writes by hand (the domain types come from muster-core) --------

/// Any JSON object (described in PROTOCOL.md).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Object(Map<String, Value>);

#[derive(JsonSchema)]
#[allow(dead_code)]
struct LoginBody {
    username: String,
    password: String,
}

/// A user as clients see it.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct UserView {
    id: String,
    username: String,
    name: String,
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(default)]
    disabled: bool,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct LoginAnswer {
    token: String,
    user: UserView,
    /// RFC 3339.
    expires_at: String,
}

/// A single sign-on provider: its button.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ProviderView {
    /// `auth.oidc[].id`: log-in starts at `/auth/oidc/{id}/login`.
    id: String,
    /// `auth.oidc[].name`: the button's text.
    name: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct ExchangeBody {
    /// The one-time code from the callback's `#sso=` fragment.
    code: String,
}

/// `POST /api/login`'s answer, plus where to go.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SsoLoginAnswer {
    token: String,
    user: UserView,
    /// RFC 3339.
    expires_at: String,
    /// The `next` the log-in began with, when it was a path on this hub.
    next: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct OkAnswer {
    ok: bool,
}

/// The caller's view (`GET /api/state`, and the welcome's `snapshot`): what the role
/// may see, finished items only from `closed_since` on.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct StateView {
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed_since: Option<String>,
    incidents: Vec<Incident>,
    resources: Vec<Resource>,
    contacts: Vec<Contact>,
    assignments: Vec<Assignment>,
    cases: Vec<Case>,
    messages: Vec<Message>,
    users: Vec<UserView>,
    plans: Vec<Plan>,
    improvements: Vec<Improvement>,
    alerts: Vec<Alert>,
    shifts: Vec<muster_core::domain::roster::Shift>,
}

/// An incident with what its page shows.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct IncidentDetail {
    #[serde(flatten)]
    incident: Incident,
    assignments: Vec<Assignment>,
    timeline: Vec<Object>,
    conformance: Object,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<Vec<Object>>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct Recommendations {
    incident_id: String,
    recommendations: Vec<Recommendation>,
}

/// `GET /api/roster/next`: `null` when no shift starts or ends later.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct RosterNext {
    next: Option<muster_core::domain::roster::ShiftChange>,
}

/// `POST /api/commands`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CommandBody {
    /// The client's id for the command (1 to 128 characters); a retry with the same id
    /// is answered with the first result.
    id: String,
    command: Command,
}

/// `POST /api/intake/contacts`: the fields of `contact.receive`, and an optional id.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct IntakeBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(flatten)]
    contact: muster_core::engine::command::ContactReceive,
}

/// The result object: `ok: true` with the last `seq` and the ids created, or
/// `ok: false` with the error.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum CommandResult {
    Done {
        #[schemars(with = "Option<String>")]
        id: Option<String>,
        ok: True,
        seq: u64,
        data: Map<String, Value>,
    },
    Refused {
        #[schemars(with = "Option<String>")]
        id: Option<String>,
        ok: False,
        error: ErrorDetail,
    },
}

/// The literal `true` (the result object's `ok` when the command was done).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = literal_bool::<true>)]
struct True;

/// The literal `false` (the result object's `ok` when it was refused).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = literal_bool::<false>)]
struct False;

fn literal_bool<const B: bool>(s: &mut Schema) {
    *s = schemars::json_schema!({ "type": "boolean", "const": B });
}

/// Every refusal: `{"error": {code, message, retryable, rule?}}`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    code: Code,
    /// What to fix, in words; a validation message starts with the field.
    message: String,
    /// Whether the same request may succeed later (follows from the code).
    retryable: bool,
    /// For `procedure_violation`: the centre rule not met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct Places {
    places: Vec<Place>,
    geocoder: bool,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct Geocoded {
    results: Vec<GeocodedPlace>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct GeocodedPlace {
    name: String,
    lat: f64,
    lon: f64,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct AuditAnswer {
    ok: bool,
    events: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_bad_seq: Option<u64>,
}

/// `GET /api/settings`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SettingsAnswer {
    /// `centre.name`.
    name: String,
    /// `/api/settings/logo` when a logo is set, else null.
    logo_url: Option<String>,
    /// `map.tile_url` (`{z}/{x}/{y}`), null for no tiles.
    tile_url: Option<String>,
    /// HTML the map shows for the tiles.
    attribution: String,
    max_zoom: u8,
    /// `auth.local_passwords`: false = the log-in page folds the password form away
    /// (break-glass accounts only) and shows the single sign-on buttons.
    local_passwords: bool,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct PushKey {
    public_key: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct PushAcked {
    assignment_id: String,
    status: String,
}

// ----- the documents -----------------------------------------------------------------

/// A generator whose `$ref`s point into the document's `components/schemas`.
fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| {
            s.definitions_path = SCHEMAS.into();
            s.meta_schema = None;
        })
        .into_generator()
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#{SCHEMAS}/{name}") })
}

/// The OpenAPI 3.1 document, as served.
pub fn openapi() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&openapi_value()).expect("the document serialises"))
}

/// The AsyncAPI 3.0 document, as served.
pub fn asyncapi() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&asyncapi_value()).expect("the document serialises"))
}

fn info(title: &str, description: &str) -> Value {
    json!({
        "title": title,
        "version": env!("CARGO_PKG_VERSION"),
        "description": description,
    })
}

/// The OpenAPI 3.1 document: every route of [`ROUTES`].
pub fn openapi_value() -> Value {
    let mut g = generator(SchemaSettings::draft2020_12());
    let error = g.subschema_for::<ErrorBody>().to_value();
    let mut paths = Map::new();
    for route in ROUTES {
        let mut op = Map::new();
        op.insert(
            "operationId".into(),
            json!(operation_id(route.method, route.path)),
        );
        op.insert("summary".into(), json!(route.summary));
        op.insert("description".into(), json!(format!("Who: {}.", route.who)));
        op.insert("x-muster-auth".into(), json!(auth_name(route.auth)));
        let security = match route.auth {
            Auth::Session => json!([{ "session": [] }]),
            Auth::IntakeKey => json!([{ "intakeKey": [] }]),
            Auth::PartnerKey => json!([{ "partnerKey": [] }]),
            Auth::None | Auth::Link | Auth::MetricsAddress => json!([]),
        };
        op.insert("security".into(), security);
        let mut params = Vec::new();
        for name in path_params(route.path) {
            params.push(json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string" },
            }));
        }
        for (name, required, description) in route.query {
            params.push(json!({
                "name": name, "in": "query", "required": required,
                "description": description, "schema": { "type": "string" },
            }));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(request) = route.request {
            op.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": { "application/json": { "schema": request(&mut g).to_value() } },
                }),
            );
        }
        let mut responses = Map::new();
        let ok = match route.response {
            Body::Json(schema) => json!({
                "description": "done",
                "content": { "application/json": { "schema": schema(&mut g).to_value() } },
            }),
            Body::Other(media, description) => json!({
                "description": description,
                "content": { media: { "schema": { "type": "string" } } },
            }),
        };
        responses.insert("200".into(), ok);
        for (status, codes) in error_statuses(route) {
            let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            responses.insert(
                status.to_string(),
                json!({
                    "description": format!("refused: {}", names.join(", ")),
                    "content": { "application/json": { "schema": error.clone() } },
                    "x-muster-codes": names,
                }),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        paths
            .entry(route.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(route.method.into(), Value::Object(op));
    }
    json!({
        "openapi": "3.1.0",
        "info": info(
            "Muster hub HTTP API",
            "Every HTTP route of the hub. The WebSocket (`GET /ws`) is described by \
             /api/asyncapi.json. Every refusal is `{\"error\": {code, message, retryable}}`; \
             docs/PROTOCOL.md is the contract in words.",
        ),
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "session": {
                    "type": "http", "scheme": "bearer",
                    "description": "The session token from POST /api/login.",
                },
                "intakeKey": {
                    "type": "http", "scheme": "bearer",
                    "description": "One of the centre's intake keys (intake.keys).",
                },
                "partnerKey": {
                    "type": "http", "scheme": "bearer",
                    "description": "A partner centre's key (auth.partner_keys).",
                },
            },
        },
    })
}

/// The codes a route can answer, by HTTP status: its own, plus `unauthorized` for a
/// session or intake key and `bad_request` (405, 411) and `too_large` for every route.
fn error_statuses(route: &Route) -> std::collections::BTreeMap<u16, Vec<Code>> {
    let mut codes: Vec<Code> = route.codes.to_vec();
    if matches!(route.auth, Auth::Session | Auth::IntakeKey) {
        codes.push(Unauthorized);
    }
    codes.push(BadRequest);
    let mut by_status = std::collections::BTreeMap::<u16, Vec<Code>>::new();
    for code in codes {
        let list = by_status.entry(code.status()).or_default();
        if !list.contains(&code) {
            list.push(code);
        }
    }
    by_status
}

fn auth_name(auth: Auth) -> &'static str {
    match auth {
        Auth::None => "none",
        Auth::Session => "session",
        Auth::IntakeKey => "intake_key",
        Auth::Link => "link",
        Auth::MetricsAddress => "metrics_address",
        Auth::PartnerKey => "partner_key",
    }
}

/// `get /api/incidents/{id}` → `get_api_incidents_id`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

/// The `{name}`s of a path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
}

/// The wire name in a variant schema of an internally tagged enum: the `const` (or
/// lone `enum` value) of its `kind` property, wherever schemars put it.
fn tag(schema: &Value) -> Option<String> {
    if let Some(kind) = schema.pointer("/properties/kind") {
        if let Some(name) = kind.get("const").and_then(Value::as_str) {
            return Some(name.to_string());
        }
        if let Some([name]) = kind
            .get("enum")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            return name.as_str().map(str::to_string);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array)
            && let Some(name) = parts.iter().find_map(tag)
        {
            return Some(name);
        }
    }
    None
}

/// Splits the schema `name` (an internally tagged enum) into one schema per variant,
/// `name.<wire name>`, each added to `schemas`; returns the wire names in order.
fn split_variants(schemas: &mut Map<String, Value>, name: &str) -> Vec<String> {
    let variants = schemas
        .get(name)
        .and_then(|s| s.get("oneOf"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut names = Vec::new();
    for variant in variants {
        let wire = tag(&variant).unwrap_or_else(|| panic!("a {name} variant without a kind"));
        schemas.insert(format!("{name}.{wire}"), variant);
        names.push(wire);
    }
    names
}

/// A frame's `type`.
fn frame_type(name: &str) -> Value {
    json!({ "type": "string", "const": name })
}

/// The close codes a socket can end with (PROTOCOL.md, "Close codes").
const CLOSE_CODES: &[(u16, &str)] = &[
    (
        1001,
        "server going away: shutdown, idle 60 s, or a socket error; reconnect with resume_from",
    ),
    (
        1013,
        "the session store cannot answer now; reconnect with backoff, keep the token",
    ),
    (
        4400,
        "the first frame is not a text hello with a token, or a frame is not UTF-8",
    ),
    (
        4401,
        "token unknown or expired, or the session ended: log in again",
    ),
    (4408, "no hello within the time limit"),
    (4409, "too far behind: reconnect with resume_from"),
    (4413, "frame too large"),
    (
        4429,
        "too many frames, or too many connections for this user",
    ),
];

/// The AsyncAPI 3.0 document: the `/ws` channel, one message per frame type and per
/// command and event kind.
pub fn asyncapi_value() -> Value {
    let mut g = generator(SchemaSettings::draft07());
    g.subschema_for::<Command>();
    g.subschema_for::<Event>();
    g.subschema_for::<UserView>();
    g.subschema_for::<StateView>();
    g.subschema_for::<ErrorDetail>();
    let mut schemas = g.take_definitions(true);
    let commands = split_variants(&mut schemas, "Command");
    let events = split_variants(&mut schemas, "Event");

    let mut messages = Map::new();
    let mut message = |key: String, title: String, summary: &str, payload: Value| {
        messages.insert(
            key.clone(),
            json!({ "name": key, "title": title, "summary": summary, "payload": payload }),
        );
        key
    };
    let hello = message(
        "hello".into(),
        "hello".into(),
        "The first frame, within 5 s of the upgrade: the session token, and the last seq \
         seen to resume from.",
        json!({
            "type": "object",
            "required": ["type", "token"],
            "properties": {
                "type": frame_type("hello"),
                "token": { "type": "string" },
                "resume_from": { "type": "integer", "minimum": 0 },
            },
        }),
    );
    let ping = message(
        "ping".into(),
        "ping".into(),
        "A JSON ping; answered with a pong.",
        json!({ "type": "object", "required": ["type"], "properties": { "type": frame_type("ping") } }),
    );
    let mut command_messages = Vec::new();
    for kind in &commands {
        command_messages.push(message(
            format!("command.{kind}"),
            format!("command {kind}"),
            "A command; answered by its events and then its result.",
            json!({
                "type": "object",
                "required": ["type", "id", "command"],
                "properties": {
                    "type": frame_type("command"),
                    "id": { "type": "string", "minLength": 1, "maxLength": 128 },
                    "command": reference(&format!("Command.{kind}")),
                },
            }),
        ));
    }
    let welcome = message(
        "welcome".into(),
        "welcome".into(),
        "The answer to hello: fresh (resumed false, with the caller's snapshot) or \
         resumed (followed at once by every missed event the caller may see).",
        json!({
            "type": "object",
            "required": ["type", "user", "seq", "resumed"],
            "properties": {
                "type": frame_type("welcome"),
                "user": reference("UserView"),
                "seq": { "type": "integer", "minimum": 0 },
                "resumed": { "type": "boolean" },
                "snapshot": reference("StateView"),
            },
        }),
    );
    let result = message(
        "result".into(),
        "result".into(),
        "A command's result, after its own events. id is null for a frame the hub could \
         not use.",
        json!({
            "oneOf": [
                {
                    "type": "object",
                    "required": ["type", "id", "ok", "seq", "data"],
                    "properties": {
                        "type": frame_type("result"),
                        "id": { "type": "string" },
                        "ok": { "const": true },
                        "seq": { "type": "integer", "minimum": 0 },
                        "data": { "type": "object", "additionalProperties": { "type": "string" } },
                    },
                },
                {
                    "type": "object",
                    "required": ["type", "id", "ok", "error"],
                    "properties": {
                        "type": frame_type("result"),
                        "id": { "type": ["string", "null"] },
                        "ok": { "const": false },
                        "error": reference("ErrorDetail"),
                    },
                },
            ],
        }),
    );
    let pong = message(
        "pong".into(),
        "pong".into(),
        "The answer to a JSON ping.",
        json!({ "type": "object", "required": ["type"], "properties": { "type": frame_type("pong") } }),
    );
    let mut event_messages = Vec::new();
    for kind in &events {
        event_messages.push(message(
            format!("event.{kind}"),
            format!("event {kind}"),
            "An event the user may see, in seq order (gaps are events they may not see).",
            json!({
                "type": "object",
                "required": ["type", "seq", "at", "actor", "event"],
                "properties": {
                    "type": frame_type("event"),
                    "seq": { "type": "integer", "minimum": 1 },
                    "at": { "type": "string", "format": "date-time" },
                    "actor": { "type": "string" },
                    "event": reference(&format!("Event.{kind}")),
                },
            }),
        ));
    }

    let channel_messages: Map<String, Value> = messages
        .keys()
        .map(|k| {
            (
                k.clone(),
                json!({ "$ref": format!("#/components/messages/{k}") }),
            )
        })
        .collect();
    let refs = |keys: &[String]| -> Value {
        keys.iter()
            .map(|k| json!({ "$ref": format!("#/channels/ws/messages/{k}") }))
            .collect()
    };
    let operation = |action: &str, summary: &str, keys: &[String]| {
        json!({
            "action": action,
            "channel": { "$ref": "#/channels/ws" },
            "summary": summary,
            "messages": refs(keys),
        })
    };
    let close_codes: Vec<Value> = CLOSE_CODES
        .iter()
        .map(|(code, when)| json!({ "code": code, "when": when }))
        .collect();
    let close_table: String = CLOSE_CODES
        .iter()
        .map(|(code, when)| format!("- {code}: {when}\n"))
        .collect();
    json!({
        "asyncapi": "3.0.0",
        "info": info(
            "Muster hub WebSocket API",
            "The `/ws` channel: hello → welcome (+ backlog), then commands and JSON pings \
             from the client; events, results and pongs from the hub. Described from the \
             hub's side: it receives what clients send. docs/PROTOCOL.md is the contract \
             in words.",
        ),
        "defaultContentType": "application/json",
        "servers": {
            "hub": {
                "host": "localhost:8080",
                "protocol": "ws",
                "description": "A hub; behind a TLS proxy the scheme is wss.",
            },
        },
        "channels": {
            "ws": {
                "address": "/ws",
                "title": "The hub's WebSocket",
                "description": format!(
                    "GET /ws with a standard upgrade. The server sends a WebSocket ping \
                     control frame every 25 s and closes a socket it has heard nothing \
                     from for 60 s. Close codes:\n{close_table}"
                ),
                "servers": [{ "$ref": "#/servers/hub" }],
                "messages": channel_messages,
                "bindings": { "ws": { "method": "GET", "bindingVersion": "0.1.0" } },
                "x-close-codes": close_codes,
            },
        },
        "operations": {
            "receiveHello": operation("receive", "A client says hello (first frame).", std::slice::from_ref(&hello)),
            "receiveCommand": operation("receive", "A client sends a command.", &command_messages),
            "receivePing": operation("receive", "A client pings.", std::slice::from_ref(&ping)),
            "sendWelcome": operation("send", "The hub welcomes a client.", std::slice::from_ref(&welcome)),
            "sendEvent": operation("send", "The hub sends an event.", &event_messages),
            "sendResult": operation("send", "The hub answers a command.", std::slice::from_ref(&result)),
            "sendPong": operation("send", "The hub answers a ping.", std::slice::from_ref(&pong)),
        },
        "components": {
            "schemas": schemas,
            "messages": messages,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use muster_core::engine::{CommandKind, EventKind};

    use super::*;

    /// `(method, path)` with every `{param}` written `{}`, so names do not matter.
    fn shape(method: &str, path: &str) -> (String, String) {
        let path = path
            .split('/')
            .map(|p| if p.starts_with('{') { "{}" } else { p })
            .collect::<Vec<_>>()
            .join("/");
        (method.to_ascii_lowercase(), path)
    }

    fn described() -> BTreeSet<(String, String)> {
        ROUTES.iter().map(|r| shape(r.method, r.path)).collect()
    }

    /// The routes of the router, read from its source: each `warp::path!(…)` and the
    /// method filter after it.
    fn routed() -> BTreeSet<(String, String)> {
        let sources = [
            include_str!("api.rs"),
            include_str!("exercise.rs"),
            include_str!("interop.rs"),
            include_str!("sso.rs"),
        ];
        let mut found = BTreeSet::new();
        for (at, source) in sources
            .iter()
            .flat_map(|s| s.match_indices("warp::path!(").map(move |(at, _)| (at, *s)))
        {
            let rest = &source[at + "warp::path!(".len()..];
            let end = rest.find(')').expect("a closed path!");
            let path: String = rest[..end]
                .split('/')
                .map(|p| {
                    let p = p.trim();
                    match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                        Some(literal) => literal.to_string(),
                        None => "{}".to_string(),
                    }
                })
                .fold(String::new(), |acc, p| acc + "/" + &p);
            let after = &rest[end..];
            let method = ["get", "post", "put", "delete", "patch"]
                .into_iter()
                .filter_map(|m| after.find(&format!("warp::{m}()")).map(|i| (i, m)))
                .min()
                .expect("a method filter after each path")
                .1;
            found.insert((method.to_string(), path));
        }
        assert!(
            found.len() > 20,
            "read too few routes from api.rs: {found:?}"
        );
        found
    }

    #[test]
    fn every_route_of_the_router_is_described() {
        let described = described();
        let missing: Vec<String> = routed()
            .into_iter()
            .filter(|r| !described.contains(r))
            .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
            .collect();
        assert!(
            missing.is_empty(),
            "routes in src/http/{{api,exercise,interop}}.rs missing from describe::ROUTES (so from \
             /api/openapi.json): {missing:?}"
        );
    }

    #[test]
    fn every_described_route_is_routed() {
        let routed = routed();
        let extra: Vec<String> = described()
            .into_iter()
            // The catch-all, and the partner feed's upgrade (routed beside `/ws`, in mod.rs).
            .filter(|r| !routed.contains(r) && r.1 != "/{}" && r.1 != "/ws/eido")
            .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
            .collect();
        assert!(
            extra.is_empty(),
            "described but not in the router: {extra:?}"
        );
    }

    /// PROTOCOL.md's route table and the OpenAPI document name the same routes.
    #[test]
    fn protocol_md_and_the_document_name_the_same_routes() {
        let protocol = include_str!("../../docs/PROTOCOL.md");
        let start = protocol
            .find("## HTTP API")
            .expect("PROTOCOL.md has its HTTP API");
        let table = &protocol[start..];
        let mut in_table = BTreeSet::new();
        for line in table
            .lines()
            .take_while(|l| !l.starts_with("## ") || l.starts_with("## HTTP"))
        {
            let Some(cell) = line.strip_prefix("| `") else {
                continue;
            };
            let Some(route) = cell.split('`').next() else {
                continue;
            };
            let Some((method, path)) = route.split_once(' ') else {
                continue;
            };
            let path = path.split('?').next().unwrap_or(path);
            if !matches!(method, "GET" | "POST" | "PUT" | "DELETE" | "PATCH") || path == "/ws" {
                continue;
            }
            in_table.insert(shape(method, path));
        }
        // "`GET` or `HEAD` any other path": the catch-all.
        in_table.insert(shape("get", "/{file}"));
        let described = described();
        let undocumented: Vec<_> = described.difference(&in_table).collect();
        let undescribed: Vec<_> = in_table.difference(&described).collect();
        assert!(
            undocumented.is_empty(),
            "routes described but missing from PROTOCOL.md's table: {undocumented:?}"
        );
        assert!(
            undescribed.is_empty(),
            "routes of PROTOCOL.md's table missing from describe::ROUTES: {undescribed:?}"
        );
    }

    #[test]
    fn every_command_and_event_kind_has_its_message() {
        let doc = asyncapi_value();
        let messages = doc["components"]["messages"].as_object().unwrap();
        let channel = doc["channels"]["ws"]["messages"].as_object().unwrap();
        let mut missing = Vec::new();
        for kind in CommandKind::ALL {
            let key = format!("command.{}", kind.as_str());
            if !messages.contains_key(&key) || !channel.contains_key(&key) {
                missing.push(key);
            }
        }
        for kind in EventKind::ALL {
            let key = format!("event.{}", kind.as_str());
            if !messages.contains_key(&key) || !channel.contains_key(&key) {
                missing.push(key);
            }
        }
        assert!(
            missing.is_empty(),
            "kinds missing from /api/asyncapi.json: {missing:?}"
        );
        for frame in ["hello", "ping", "welcome", "result", "pong"] {
            assert!(messages.contains_key(frame), "no {frame} message");
        }
    }

    /// Each command's message holds that command's own fields.
    #[test]
    fn a_command_message_carries_its_fields() {
        let doc = asyncapi_value();
        let schema = &doc["components"]["schemas"]["Command.incident.resolve"];
        let text = schema.to_string();
        assert!(text.contains("incident.resolve"), "{text}");
        let event = doc["components"]["schemas"]["Event.incident.merged"].to_string();
        for field in ["incident_id", "into", "reason"] {
            assert!(
                event.contains(field),
                "incident.merged lacks {field}: {event}"
            );
        }
    }

    /// Every `$ref` in both documents points at something in them.
    #[test]
    fn every_reference_resolves() {
        for doc in [openapi_value(), asyncapi_value()] {
            let mut refs = Vec::new();
            collect_refs(&doc, &mut refs);
            assert!(!refs.is_empty());
            for r in refs {
                let pointer = r.strip_prefix('#').expect("local references only");
                assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
            }
        }
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    /// The codes a route answers are in its responses, under their statuses.
    #[test]
    fn a_routes_codes_are_under_their_statuses() {
        let doc = openapi_value();
        let ack = &doc["paths"]["/api/push/ack/{token}"]["post"]["responses"];
        assert_eq!(ack["410"]["x-muster-codes"], json!(["ack_link_expired"]));
        let codes = ack["409"]["x-muster-codes"].to_string();
        assert!(codes.contains("invalid_transition"), "{codes}");
        let state = &doc["paths"]["/api/state"]["get"];
        assert_eq!(state["security"], json!([{ "session": [] }]));
        assert!(state["responses"]["401"].is_object());
        let openapi = &doc["paths"]["/api/openapi.json"]["get"];
        assert_eq!(openapi["security"], json!([]));
    }
}
