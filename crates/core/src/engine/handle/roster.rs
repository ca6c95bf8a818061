//! `roster.*` and the shift boundaries: a resource goes on duty when a shift starts
//! and off duty when it ends. The rules (docs/OPERATIONS.md, "Rosters"):
//! - at a start, a resource `off_duty` becomes `available`; any other status is left
//!   (busy stays busy, `unavailable` was set by someone for a reason);
//! - at an end, a resource with no other shift under way goes `off_duty`, unless it
//!   is on an assignment: then `roster.shift_ended` names it (`busy_on`) and the
//!   resource goes `off_duty` instead of `available` when its work ends (see
//!   `free_resource`: a rostered resource off shift rests off duty);
//! - a resource with no shifts at all keeps its status by hand.

use chrono::SubsecRound;

use super::Cx;
use crate::domain::ids::{ResourceId, ShiftId};
use crate::domain::resource::ResourceStatus;
use crate::domain::roster::{self, Shift, ShiftError, Standing};
use crate::engine::command as cmd;
use crate::engine::error::Error;
use crate::engine::event::Event;

impl Cx<'_> {
    pub(super) fn roster_add(&mut self, c: &cmd::RosterAdd) -> Result<(), Error> {
        let cmd::RosterAdd {
            resource_id,
            start,
            end,
        } = c;
        let name = &self.resource(resource_id)?.name;
        let (start, end) = (start.trunc_subsecs(3), end.trunc_subsecs(3));
        let state = self.state;
        roster::check_new(
            state.shifts_of(resource_id),
            resource_id,
            start,
            end,
            self.now,
        )
        .map_err(|e| match &e {
            ShiftError::Overlaps(other) => {
                let o = &state.shifts[other];
                Error::Conflict(format!(
                    "{name} already has a shift from {} to {} ({other})",
                    crate::time::rfc3339(o.start),
                    crate::time::rfc3339(o.end)
                ))
            }
            _ => Error::validation(e.field(), e.to_string()),
        })?;
        self.emit(Event::RosterShiftAdded {
            shift_id: ShiftId::at_seq(self.next_seq()),
            resource_id: resource_id.clone(),
            start,
            end,
        });
        Ok(())
    }

    pub(super) fn roster_remove(&mut self, c: &cmd::RosterRemove) -> Result<(), Error> {
        let cmd::RosterRemove { shift_id } = c;
        let shift = self.shift(shift_id)?;
        if shift.ended_at.is_some() {
            return Err(Error::Conflict(format!(
                "{shift_id} has ended; it stays on record"
            )));
        }
        if shift.started_at.is_some() {
            self.end_duty(shift)?;
        }
        self.emit(Event::RosterShiftRemoved {
            shift_id: shift_id.clone(),
            resource_id: shift.resource_id.clone(),
        });
        Ok(())
    }

    pub(super) fn timer_shift_start(&mut self, c: &cmd::TimerShiftStart) -> Result<(), Error> {
        let cmd::TimerShiftStart { shift_id } = c;
        let shift = self.shift(shift_id)?;
        if shift.started_at.is_some() || shift.ended_at.is_some() || !shift.covers(self.now) {
            return Err(not_due("shift start", shift_id));
        }
        self.emit(Event::RosterShiftStarted {
            shift_id: shift_id.clone(),
            resource_id: shift.resource_id.clone(),
        });
        if self.resource(&shift.resource_id)?.status == ResourceStatus::OffDuty {
            self.emit(Event::ResourceStatusChanged {
                resource_id: shift.resource_id.clone(),
                from: ResourceStatus::OffDuty,
                status: ResourceStatus::Available,
            });
        }
        Ok(())
    }

    pub(super) fn timer_shift_end(&mut self, c: &cmd::TimerShiftEnd) -> Result<(), Error> {
        let cmd::TimerShiftEnd { shift_id } = c;
        let shift = self.shift(shift_id)?;
        if shift.ended_at.is_some() || shift.end > self.now {
            return Err(not_due("shift end", shift_id));
        }
        self.end_duty(shift)
    }

    /// Records `shift`'s end and takes its resource off duty, unless another of its
    /// shifts is under way or it is on an assignment (`busy_on`: off duty when that
    /// ends).
    fn end_duty(&mut self, shift: &Shift) -> Result<(), Error> {
        let state = self.state;
        let resource_id = &shift.resource_id;
        let from = self.resource(resource_id)?.status;
        let still_on = state
            .shifts_of(resource_id)
            .any(|s| s.id != shift.id && s.covers(self.now));
        let busy_on = match still_on {
            true => None,
            false => state
                .active_assignments_of(resource_id)
                .next()
                .map(|a| a.id.clone()),
        };
        let off = !still_on && busy_on.is_none() && from != ResourceStatus::OffDuty;
        self.emit(Event::RosterShiftEnded {
            shift_id: shift.id.clone(),
            resource_id: resource_id.clone(),
            busy_on,
        });
        if off {
            self.emit(Event::ResourceStatusChanged {
                resource_id: resource_id.clone(),
                from,
                status: ResourceStatus::OffDuty,
            });
        }
        Ok(())
    }

    /// Where a resource whose work just ended rests: `off_duty` when it is rostered
    /// and no shift of its covers now, else `available`.
    pub(super) fn at_rest(&self, resource_id: &ResourceId) -> ResourceStatus {
        match roster::standing(self.state.shifts_of(resource_id), resource_id, self.now) {
            Standing::OffShift => ResourceStatus::OffDuty,
            Standing::Unrostered | Standing::OnShift { .. } => ResourceStatus::Available,
        }
    }
}

impl<'a> Cx<'a> {
    /// A shift, borrowed from the state (not from the command being decided).
    fn shift(&self, id: &ShiftId) -> Result<&'a Shift, Error> {
        let state: &'a crate::engine::state::State = self.state;
        state
            .shifts
            .get(id)
            .ok_or_else(|| Error::not_found("shift", id))
    }
}

/// A boundary already recorded, or not yet come.
fn not_due(what: &str, id: &ShiftId) -> Error {
    Error::Conflict(format!("no {what} is due for {id}"))
}
