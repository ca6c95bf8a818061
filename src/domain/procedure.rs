//! The centre's procedures as data (filled in by the config work).
