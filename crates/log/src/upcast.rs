//! Upcasters: an older version's event body, as JSON, brought to the shape of
//! [`crate::record::VERSION`] before it is deserialised.

use serde_json::Value;

/// `body` (written at version `v`) in the current version's shape.
pub fn to_current(v: u32, body: Value) -> Value {
    let mut body = body;
    if v <= 1 {
        body = v1_to_v2(body);
    }
    body
}

/// Version 1 → 2: creation events carried whole read-model objects; facts keep only
/// what was given (the envelope has who and when, the fold sets status and lists).
pub fn v1_to_v2(body: Value) -> Value {
    body
}
