//! The e-mail channel: one message per delivery to an SMTP submission server (the
//! `[smtp]` settings), with STARTTLS (or TLS from the first byte) over rustls, the
//! certificate checked by the platform's verifier plus `notify.ca_file`'s authorities,
//! and the account's credentials. Plain text is allowed only to a loopback host.
//!
//! No connection is kept: e-mails are rare (a ladder's e-mail rung, a complainant's
//! reply), and each opens its own connection within `smtp.timeout_ms`.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpSettings, SmtpTls};

/// A configured SMTP server and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, what errors say of the server.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The mailer the settings configure, if SMTP is on. `ca_pem` is `notify.ca_file`'s
    /// contents. The settings were validated at start-up; an error here says why the
    /// mailer could not be built.
    pub fn from_settings(
        smtp: &SmtpSettings,
        ca_pem: Option<&[u8]>,
    ) -> Result<Option<Mailer>, String> {
        if smtp.host.is_empty() {
            return Ok(None);
        }
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|_| "smtp.from is not an e-mail address".to_string())?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                .port(smtp.port)
                .timeout(Some(Duration::from_millis(smtp.timeout_ms)));
        let tls = || -> Result<TlsParameters, String> {
            let mut params = TlsParameters::builder(smtp.host.clone());
            if let Some(pem) = ca_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| format!("notify.ca_file for SMTP: {e}"))?;
                params = params.add_root_certificate(cert);
            }
            params.build().map_err(|e| format!("SMTP TLS: {e}"))
        };
        builder = match smtp.tls {
            SmtpTls::Starttls => builder.tls(Tls::Required(tls()?)),
            SmtpTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
            SmtpTls::None => builder.tls(Tls::None),
        };
        if !smtp.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                smtp.username.clone(),
                smtp.password.expose().to_string(),
            ));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            server: format!("{}:{}", smtp.host, smtp.port),
        }))
    }

    /// Sends one plain-text message. `Ok` carries the server's answer (`SMTP 250`);
    /// the error says what went wrong, naming the server by host and port.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<String, String> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| "the recipient's e-mail address is not valid".to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| format!("building the message: {e}"))?;
        let response = self
            .transport
            .send(message)
            .await
            .map_err(|e| format!("sending by {}: {}", self.server, describe(&e)))?;
        Ok(format!("SMTP {}", response.code()))
    }
}

/// The error and its causes, innermost last (a TLS failure's certificate problem is
/// in a cause).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}
