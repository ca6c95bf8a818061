//! `push.*`: a user's Web Push subscriptions (the field app's service worker).

use serde::{Deserialize, Serialize};

use crate::domain::ids::UserId;
use crate::domain::push::{PushKeys, UnsubscribeReason};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushSubscribe {
    pub endpoint: String,
    pub keys: PushKeys,
    /// Set by the hub (never by the client): a short tag of the session the command
    /// came in, so log-out removes what that session subscribed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushUnsubscribe {
    pub endpoint: String,
    /// Whose subscription: only the hub itself names one (a user removes their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// Only the hub itself gives a reason (`gone`, `logged_out`); a user's is `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<UnsubscribeReason>,
}
