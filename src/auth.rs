//! Credentials: Argon2id password hashes (OWASP parameters) and opaque session tokens
//! that are only ever stored as their SHA-256.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Argon2id with OWASP's recommended cost: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string. Slow on purpose: call it off the async runtime.
pub fn hash_password(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("hashing with a fresh salt succeeds")
        .to_string()
}

/// True when `password` matches the stored PHC string. Slow on purpose.
pub fn verify_password(password: &str, phc: &str) -> bool {
    !phc.is_empty() && argon2().verify_password(password.as_bytes(), phc).is_ok()
}

/// A new opaque token: 256 random bits, URL-safe base64.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a token: its SHA-256, hex. A leaked table gives no usable token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let phc = hash_password("correct horse");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("correct horse", ""));
    }

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
