//! SQLite event log (filled in by the store work).
