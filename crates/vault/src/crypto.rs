//! The cipher: XChaCha20-Poly1305 with a random 24-byte nonce per message, stored as
//! `nonce || ciphertext`, and the scope as associated data (a sealed value or a
//! wrapped key moved to another scope fails to open).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Bytes in a key (the master key and each data key).
pub const KEY_LEN: usize = 32;
/// Bytes in a nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes the tag adds.
pub const TAG_LEN: usize = 16;

/// A cipher under one key; its key schedule is wiped when dropped.
pub struct Cipher(XChaCha20Poly1305);

impl Cipher {
    /// A cipher under `key` (exactly [`KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Option<Cipher> {
        XChaCha20Poly1305::new_from_slice(key).ok().map(Cipher)
    }

    /// `nonce || ciphertext` of `plain`, bound to `aad`. The 24-byte nonce is random
    /// from the thread's CSPRNG (ChaCha, seeded and reseeded from the operating
    /// system): a nonce must never repeat under a key, and at 192 bits a random one
    /// does not, without a system call per message.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = XNonce::default();
        rand::RngCore::fill_bytes(&mut rand::rng(), nonce.as_mut_slice());
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext of `nonce || ciphertext` bound to `aad`; `None` when it was
    /// sealed under another key or scope, or changed since.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.0
            .decrypt(&nonce, Payload { msg: body, aad })
            .ok()
            .map(Zeroizing::new)
    }
}

/// [`KEY_LEN`] random bytes from the thread's CSPRNG (as for nonces: ChaCha, seeded and
/// reseeded from the operating system), without a system call per key: the writer
/// draws one for every new scope.
pub fn random_key() -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut out[..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_opens_only_with_its_key_and_scope_and_unchanged() {
        let key = random_key();
        let c = Cipher::new(&key[..]).unwrap();
        let sealed = c.seal(b"contact:con_1/caller_details", b"Ann Example");
        assert_eq!(sealed.len(), NONCE_LEN + 11 + TAG_LEN);
        assert!(!sealed.windows(3).any(|w| w == b"Ann"));
        assert_eq!(
            &c.open(b"contact:con_1/caller_details", &sealed).unwrap()[..],
            b"Ann Example"
        );
        assert!(c.open(b"contact:con_2/caller_details", &sealed).is_none());
        let other = Cipher::new(&random_key()[..]).unwrap();
        assert!(
            other
                .open(b"contact:con_1/caller_details", &sealed)
                .is_none()
        );
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert!(c.open(b"contact:con_1/caller_details", &changed).is_none());
        // A fresh nonce each time: the same text seals differently.
        assert_ne!(c.seal(b"s", b"x"), c.seal(b"s", b"x"));
        assert!(Cipher::new(&[0u8; 16]).is_none());
    }
}
