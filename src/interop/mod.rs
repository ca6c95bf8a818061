//! The emergency-services data standards, in and out: OASIS CAP 1.2 alerts
//! ([`cap`]) and NENA-STA-021 EIDO incident objects ([`eido`]). Pure conversions of
//! the domain's types; the routes are in `http::interop`. docs/INTEROP.md is the
//! mapping.

pub mod cap;
pub mod eido;
