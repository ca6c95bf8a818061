//! `alert.*`: a supervisor acknowledges an alert; it stays on record with who and when.

use super::{Cx, optional};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn alert_acknowledge(&mut self, c: &cmd::AlertAcknowledge) -> Result<(), Error> {
        let cmd::AlertAcknowledge { alert_id, note } = c;
        optional("note", note.as_ref())?;
        let alert = self
            .state
            .alerts
            .get(alert_id)
            .ok_or_else(|| Error::not_found("alert", alert_id))?;
        if let (Some(by), Some(at)) = (&alert.acknowledged_by, alert.acknowledged_at) {
            let name = self
                .state
                .users
                .get(by)
                .map_or(by.as_str(), |u| u.name.as_str());
            return Err(Error::Conflict(format!(
                "{alert_id} was already acknowledged by {name} at {}",
                crate::time::rfc3339(at)
            )));
        }
        self.emit(Event::AlertAcknowledged {
            alert_id: alert_id.clone(),
            note: note.clone().filter(|n| !n.trim().is_empty()),
        });
        Ok(())
    }
}
