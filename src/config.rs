//! Settings and the centre's procedures (filled in by the config work).
