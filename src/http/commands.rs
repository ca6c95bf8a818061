//! What HTTP (`POST /api/commands`) and the WebSocket share about commands: parsing
//! the client's JSON, preparing what the single writer must not do itself (hashing
//! passwords), and the `result` object sent back.

use serde::Serialize;
use serde_json::Value;

use crate::auth::{MIN_PASSWORD_LEN, hash_password};
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, Code, Command, Error, authz};

/// Longest client command id kept for de-duplication.
pub const MAX_COMMAND_ID_LEN: usize = 128;

/// Longest password accepted, so hashing cost stays bounded.
pub const MAX_PASSWORD_LEN: usize = 1_024;

/// Parses a command, `bad_request` with serde's message when the kind is unknown or a
/// field has the wrong type.
pub fn parse(command: Value) -> Result<Command, Error> {
    serde_json::from_value(command).map_err(|e| Error::BadRequest(format!("command: {e}")))
}

/// A client's command as the session that sent it: `push.subscribe` records the
/// session's tag (whatever the client put there), so log-out removes what it made,
/// and names a push service the hub may post to (`pusher`: `None` when push is off).
pub fn for_session(
    command: Command,
    token_hash: &str,
    pusher: Option<&crate::notify::push::Pusher>,
) -> Result<Command, Error> {
    Ok(match command {
        Command::PushSubscribe(mut c) => {
            let pusher = pusher.ok_or_else(|| {
                Error::validation(
                    "endpoint",
                    "this hub sends no push: its VAPID key is missing (see its log)",
                )
            })?;
            pusher
                .endpoint(&c.endpoint)
                .map_err(|e| Error::validation("endpoint", e))?;
            c.session = Some(crate::notify::push::session_tag(token_hash));
            c.into()
        }
        other => other,
    })
}

/// Checks a client's command id: non-empty and short.
pub fn check_id(id: &str) -> Result<(), Error> {
    if id.trim().is_empty() || id.len() > MAX_COMMAND_ID_LEN {
        return Err(Error::BadRequest(format!(
            "id must be 1 to {MAX_COMMAND_ID_LEN} characters"
        )));
    }
    Ok(())
}

/// Does what must happen before a command reaches the writer: passwords of
/// `user.create` and `user.password` are checked and hashed (Argon2id, off the async
/// runtime) into the command's `password_hash`; the plain text is dropped.
pub async fn prepare(command: Command) -> Result<Command, Error> {
    match command {
        // A single sign-on account (`identity`) needs no password.
        Command::UserCreate(c) if c.identity.is_some() && c.password.is_empty() => Ok(c.into()),
        Command::UserCreate(mut c) => {
            c.password_hash = Some(hash(std::mem::take(&mut c.password)).await?);
            Ok(c.into())
        }
        Command::UserPassword(mut c) => {
            c.password_hash = Some(hash(std::mem::take(&mut c.password)).await?);
            Ok(c.into())
        }
        other => Ok(other),
    }
}

/// [`prepare`] after the role check, so a role that may not send the command never
/// costs the server a password hash. The engine checks again, with the scope.
pub async fn prepare_for(actor: &Actor, command: Command) -> Result<Command, Error> {
    if !authz::permits(actor.role, command.kind()) {
        return Err(Error::Forbidden(format!(
            "a {} may not {}",
            actor.role.as_str(),
            command.kind()
        )));
    }
    // Only the hub's acknowledge link (POST /api/push/ack/{token}) records an
    // acknowledgement as having come by push.
    if let Command::AssignmentAcknowledge(c) = &command
        && c.via == Some(muster_core::domain::assignment::Via::Push)
    {
        return Err(Error::validation(
            "via",
            "push is recorded only for an acknowledgement from the notification; leave via out",
        ));
    }
    prepare(command).await
}

async fn hash(password: String) -> Result<String, Error> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(Error::validation(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if length > MAX_PASSWORD_LEN {
        return Err(Error::validation(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| Error::Unavailable("could not hash the password; try again".into()))
}

/// The result frame, fields in wire order (`type` first).
#[derive(Serialize)]
struct ResultFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Option<&'a str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: Code,
    message: &'a str,
    retryable: bool,
    /// For `procedure_violation`: the rule not met, so an app can act on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
}

/// `{"type":"result","id":…,"ok":true,"seq":N,"data":{…}}` or
/// `{"type":"result","id":…,"ok":false,"error":{"code","message","retryable"}}`.
pub fn result_json(id: &str, result: &Result<CommandOutcome, Error>) -> String {
    result_json_for(Some(id), result)
}

/// [`result_json`] for a command that may have no id (`"id": null`), as intake allows.
pub fn result_json_for(id: Option<&str>, result: &Result<CommandOutcome, Error>) -> String {
    let message;
    let frame = match result {
        Ok(out) => ResultFrame {
            kind: "result",
            id,
            ok: true,
            seq: Some(out.seq),
            data: Some(&out.data),
            error: None,
        },
        Err(e) => {
            message = e.to_string();
            ResultFrame {
                kind: "result",
                id,
                ok: false,
                seq: None,
                data: None,
                error: Some(ErrorBody {
                    code: e.code(),
                    message: &message,
                    retryable: e.code().retryable(),
                    rule: match e {
                        Error::ProcedureViolation { rule, .. } => Some(rule.as_str()),
                        _ => None,
                    },
                }),
            }
        }
    };
    serde_json::to_string(&frame).expect("result frames serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_kinds_and_wrong_types_are_bad_requests_with_serde_s_message() {
        let e = parse(json!({"kind": "incident.explode"})).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        assert!(e.to_string().contains("incident.explode"), "{e}");
        let e = parse(json!({"kind": "incident.note", "incident_id": 7, "text": "x"})).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        assert!(
            parse(json!({"kind": "incident.note", "incident_id": "inc_1", "text": "x"})).is_ok()
        );
    }

    #[test]
    fn results_put_type_first_and_carry_data_or_error() {
        let ok = CommandOutcome {
            seq: 42,
            data: [("incident_id".to_string(), "inc_42".to_string())].into(),
        };
        assert_eq!(
            result_json("c1", &Ok(ok)),
            r#"{"type":"result","id":"c1","ok":true,"seq":42,"data":{"incident_id":"inc_42"}}"#
        );
        let err = Err(Error::Forbidden("a field may not incident.open".into()));
        assert_eq!(
            result_json("c2", &err),
            r#"{"type":"result","id":"c2","ok":false,"error":{"code":"forbidden","message":"a field may not incident.open","retryable":false}}"#
        );
        let err = Err(Error::ProcedureViolation {
            rule: "required_questions".into(),
            message: "answer the required questions before assessing by protocol: breathing".into(),
        });
        assert_eq!(
            result_json("c3", &err),
            r#"{"type":"result","id":"c3","ok":false,"error":{"code":"procedure_violation","message":"answer the required questions before assessing by protocol: breathing","retryable":false,"rule":"required_questions"}}"#
        );
    }

    #[tokio::test]
    async fn short_passwords_are_refused_before_hashing() {
        let cmd = parse(json!({
            "kind": "user.create", "username": "new", "role": "operator", "password": "short"
        }))
        .unwrap();
        let e = prepare(cmd).await.unwrap_err();
        assert_eq!(e.code(), "validation_failed");
        assert!(e.to_string().starts_with("password:"), "{e}");
    }

    #[tokio::test]
    async fn roles_that_may_not_send_a_command_are_refused_before_hashing() {
        let cmd = parse(json!({
            "kind": "user.password", "user_id": "usr_1", "password": "long enough"
        }))
        .unwrap();
        let field = Actor {
            user_id: "usr_9".into(),
            role: muster_core::domain::user::Role::Field,
            resource_id: None,
        };
        assert_eq!(
            prepare_for(&field, cmd).await.unwrap_err().code(),
            "forbidden"
        );
    }
}
