//! `alert.*`: acknowledging what the hub's timers raised.

use serde::{Deserialize, Serialize};

use crate::domain::ids::AlertId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertAcknowledge {
    pub alert_id: AlertId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
