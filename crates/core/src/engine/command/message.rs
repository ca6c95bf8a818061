//! `message.*`: broadcasts and their acknowledgements.

use serde::{Deserialize, Serialize};

use crate::domain::ids::MessageId;
use crate::domain::message::Audience;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageBroadcast {
    pub audience: Audience,
    pub text: String,
    #[serde(default)]
    pub requires_ack: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageAcknowledge {
    pub message_id: MessageId,
}
