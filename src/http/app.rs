//! The state a running server shares between its HTTP routes and its sockets, and the
//! reactions started with it: fan-out to the sockets, session revocation, notification
//! delivery and timers.

use std::sync::Arc;

use crate::config::{Loaded, StoreKind};
use crate::hub::Hub;
use crate::notify::{Channels, Mailer, Webhook};
use muster_core::engine::Event;

/// Everything a running server shares between its HTTP routes and its sockets.
pub struct App {
    pub hub: Hub,
    pub tokens: Arc<crate::hub::tokens::Tokens>,
    pub registry: Arc<crate::hub::connections::Registry>,
    pub settings: Arc<crate::config::Settings>,
    /// SHA-256 (hex) of each accepted intake key.
    pub intake_keys: Vec<String>,
    /// Each partner centre's name and the SHA-256 (hex) of its key
    /// (`auth.partner_keys`).
    pub partners: Vec<(String, String)>,
    /// Failed log-ins per address, per (account, address) and per account.
    pub logins: super::throttle::LoginThrottle,
    /// Places for password checks (Argon2id, 19 MiB each) running at once.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// The centre's gazetteer (`GET /api/places`).
    pub places: Arc<muster_core::domain::place::Gazetteer>,
    /// The geocoder `GET /api/geocode` asks, when one is configured.
    pub geocoder: Option<super::places::Geocoder>,
    /// Told once when the server starts shutting down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The Web Push sender (its VAPID key signs pushes and acknowledge links); `None`
    /// when the key could not be loaded or written (logged at start).
    pub push: Option<Arc<crate::notify::push::Pusher>>,
    /// The Content-Security-Policy of every response (it names the tile server).
    pub csp: warp::http::HeaderValue,
    /// The centre's logo (`centre.logo`), read at start: media type and bytes.
    pub logo: Option<(&'static str, bytes::Bytes)>,
    /// Single sign-on: the `[[auth.oidc]]` providers, pending log-ins and handoffs.
    pub sso: crate::oidc::Sso,
}

impl App {
    /// Builds the shared state around a started hub and spawns its background tasks
    /// (fan-out, session revocation on user changes, notification delivery, timers).
    pub fn new(
        hub: Hub,
        loaded: &Loaded,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Arc<App> {
        let s = &loaded.settings;
        let tokens = Arc::new(tokens_for(loaded));
        let registry = Arc::new(crate::hub::connections::Registry::new(
            s.limits.client_queue,
        ));
        let demo_keys = loaded
            .demo
            .iter()
            .flat_map(|d| d.intake_keys.iter())
            .map(|k| crate::auth::token_hash(k));
        let intake_keys = demo_keys
            .chain(s.auth.intake_key_hashes.iter().cloned())
            .collect();
        let per_minute = s.auth.login_attempts_per_minute;
        let app = Arc::new(App {
            hub,
            tokens,
            registry,
            settings: Arc::new(s.clone()),
            intake_keys,
            partners: s
                .auth
                .partner_keys
                .iter()
                .filter_map(|e| crate::config::partner_key(e))
                .collect(),
            logins: super::throttle::LoginThrottle::new(per_minute),
            password_checks: Arc::new(tokio::sync::Semaphore::new(s.auth.password_checks.max(1))),
            places: Arc::new(loaded.places.clone()),
            geocoder: super::places::Geocoder::new(
                &s.centre.geocoder_url,
                s.centre.geocoder_timeout_ms,
            ),
            shutdown,
            push: pusher(loaded).map(Arc::new),
            csp: super::web::policy(s.map.tile_origin().as_deref()),
            logo: read_logo(s.centre.logo.as_deref()),
            sso: crate::oidc::Sso::new(&s.auth.oidc, &sso_base(s)),
        });
        crate::hub::connections::spawn_fanout(app.registry.clone(), app.hub.subscribe());
        spawn_revoker(app.clone());
        // `notify.ca_file`'s authorities, trusted by the HTTP client (before its first
        // use) and the SMTP client. The file was checked with the settings.
        let ca_pem = match &s.notify.ca_file {
            Some(path) => match crate::outbound::read_ca_file(path) {
                Ok((pem, certs)) => {
                    if !crate::outbound::trust(certs) {
                        tracing::warn!("notify.ca_file came after the HTTP client was built");
                    }
                    Some(pem)
                }
                Err(e) => {
                    tracing::error!(error = %e, "notify.ca_file is not trusted");
                    None
                }
            },
            None => None,
        };
        let webhook = Webhook::from_settings(&s.notify);
        if (webhook.is_some() || app.geocoder.is_some())
            && let Err(e) = crate::outbound::client()
        {
            // Every request to the gateway or the geocoder will fail, saying so.
            tracing::error!(error = %e, "the webhook and the geocoder cannot be reached");
        }
        let email = Mailer::from_settings(&s.smtp, ca_pem.as_deref()).unwrap_or_else(|e| {
            // Every e-mail will fail, saying that no SMTP server is configured.
            tracing::error!(error = %e, "e-mail cannot be sent");
            None
        });
        if app.hub.options.stepped {
            return app;
        }
        crate::notify::spawn(app.hub.clone(), Channels { webhook, email });
        if let Some(p) = &app.push {
            crate::notify::push::spawn(app.hub.clone(), p.as_ref().clone());
        }
        crate::hub::timers::spawn(app.hub.clone());
        app
    }
}

/// Where the providers send the browser back: `server.public_url`, else
/// `http://{bind}`.
fn sso_base(s: &crate::config::Settings) -> String {
    match s.server.public_url.as_str() {
        "" => format!("http://{}", s.server.bind),
        url => url.to_string(),
    }
}

/// The Web Push sender: the configured VAPID key, else the data dir's (generated on
/// first start). Acknowledge links point at `server.public_url`, else `http://{bind}`.
fn pusher(loaded: &Loaded) -> Option<crate::notify::push::Pusher> {
    use crate::notify::push::{Pusher, Vapid};
    let s = &loaded.settings;
    let vapid = match Vapid::load(&s.push, &s.store.data_dir) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "no VAPID key: Web Push is off");
            return None;
        }
    };
    if s.push.vapid_private_key.is_empty() && s.store.kind == StoreKind::Redis {
        tracing::warn!(
            "push.vapid_private_key is not set: each hub of this cluster has its own key, \
             so a phone subscribed through one hub cannot be pushed by another and an \
             acknowledge link works only on the hub that made it"
        );
    }
    let public_url = match s.server.public_url.as_str() {
        "" => format!("http://{}", s.server.bind),
        url => url.to_string(),
    };
    Some(Pusher::new(vapid, &s.push, &public_url))
}

/// Sessions in memory for SQLite (one hub), in Redis when the log is there (every hub
/// behind the load balancer must know every session).
fn tokens_for(loaded: &Loaded) -> crate::hub::tokens::Tokens {
    use crate::hub::tokens::Tokens;
    let ttl = chrono::Duration::seconds(loaded.settings.auth.token_ttl_secs as i64);
    match loaded.settings.store.kind {
        StoreKind::Sqlite => Tokens::new(ttl),
        StoreKind::Redis => {
            match Tokens::redis(ttl, &loaded.settings.store.redis_url, &loaded.centre.name) {
                Ok(t) => t,
                Err(e) => {
                    // The URL was validated with the settings; this is not expected.
                    tracing::error!(error = %e, "sessions fall back to this hub's memory");
                    Tokens::new(ttl)
                }
            }
        }
    }
}

/// Ends the sessions of users who are disabled or whose password changed, on every
/// hub that sees the event. If it falls behind the hub (a slow session store) it has
/// missed some of those events: it then checks every open socket against its user.
fn spawn_revoker(app: Arc<App>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut batches = app.hub.subscribe_records();
    tokio::spawn(async move {
        loop {
            match batches.recv().await {
                Ok(records) => {
                    for r in records.iter() {
                        if let Event::UserDisabled { user_id }
                        | Event::UserPasswordChanged { user_id, .. } = &r.event
                        {
                            app.tokens.revoke_user(user_id).await;
                        }
                        // A session holds its user's role and resource: after a change
                        // to either, `user_allows` refuses the sessions begun before it,
                        // and their sockets close here. Not every session of the user
                        // is ended: one begun since (a single sign-on that changed the
                        // role) is already under the new ones.
                        if let Event::UserUpdated {
                            user_id,
                            role,
                            resource_id,
                            ..
                        } = &r.event
                            && (role.is_some() || resource_id.is_some())
                        {
                            close_stale_sockets(&app, user_id);
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed_batches = missed,
                        "session revoker fell behind; checking every socket"
                    );
                    revalidate_sockets(&app).await;
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Closes (4401) the sockets of `user_id` that its user may no longer use.
fn close_stale_sockets(app: &App, user_id: &muster_core::domain::ids::UserId) {
    let user = app.hub.with_state(|s| s.users.get(user_id).cloned());
    app.registry
        .close_where(crate::hub::connections::CLOSE_SESSION_ENDED, |c| {
            &c.viewer.user_id == user_id
                && !crate::hub::tokens::user_allows(&c.viewer, &c.password_tag, user.as_ref())
        });
}

/// Closes (4401) every socket whose user is gone, disabled or has a new password, and
/// ends those users' sessions: for when the events saying so were missed.
async fn revalidate_sockets(app: &App) {
    let stale = app
        .hub
        .with_state(|s| app.registry.close_stale_sessions(&s.users));
    for user in stale {
        app.tokens.revoke_user(&user).await;
    }
}

/// The logo file, if one is set and readable (a missing one is logged, and the apps
/// show the name alone).
fn read_logo(path: Option<&std::path::Path>) -> Option<(&'static str, bytes::Bytes)> {
    let path = path?;
    let kind = crate::config::logo_type(path)?;
    match std::fs::read(path) {
        Ok(data) => Some((kind, data.into())),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "centre.logo cannot be read; no logo");
            None
        }
    }
}
