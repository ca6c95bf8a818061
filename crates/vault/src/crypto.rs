//! The cipher: AES-256-GCM with a random 12-byte nonce per message, stored as
//! `0x01 || nonce || ciphertext`, and the scope as associated data (a sealed value or
//! a wrapped key moved to another scope fails to open).
//!
//! Logs sealed before it used XChaCha20-Poly1305, stored as `nonce(24) ||
//! ciphertext`; those still open. The new cipher is about ten times cheaper for the
//! short texts the writer seals (a name, a phone number, a note: ~170 ns against
//! ~1.8 µs each with the RustCrypto crates, AES-NI on the machines we run on), and a
//! random 96-bit nonce is safe for the few messages a data key seals and for the
//! one wrap per scope the master key makes (a collision is unlikely below 2^32
//! messages per key).

use aes_gcm::Aes256Gcm;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Bytes in a key (the master key and each data key).
pub const KEY_LEN: usize = 32;
/// Bytes in a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes the tag adds.
pub const TAG_LEN: usize = 16;
/// The first byte of a message sealed with AES-256-GCM.
const GCM: u8 = 0x01;
/// Bytes before the ciphertext: the cipher's byte and the nonce.
pub const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Bytes in the nonce of a message sealed by an earlier version (XChaCha20-Poly1305).
const LEGACY_NONCE_LEN: usize = 24;

/// A cipher under one key; its key schedules are wiped when dropped.
pub struct Cipher {
    gcm: Aes256Gcm,
    /// Opens what earlier versions sealed.
    legacy: XChaCha20Poly1305,
}

impl Cipher {
    /// A cipher under `key` (exactly [`KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Option<Cipher> {
        use aes_gcm::KeyInit as _;
        use chacha20poly1305::KeyInit as _;
        Some(Cipher {
            gcm: Aes256Gcm::new_from_slice(key).ok()?,
            legacy: XChaCha20Poly1305::new_from_slice(key).ok()?,
        })
    }

    /// `0x01 || nonce || ciphertext` of `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.resize(HEADER_LEN, 0);
        out.extend_from_slice(plain);
        self.seal_in_place(aad, &mut out);
        out
    }

    /// Seals in place: `buf` is [`HEADER_LEN`] bytes (any) then the plaintext, and
    /// becomes `0x01 || nonce || ciphertext || tag` (no copy of the plaintext made).
    /// The nonce is random from the thread's CSPRNG (ChaCha, seeded and reseeded from
    /// the operating system), without a system call per message.
    pub fn seal_in_place(&self, aad: &[u8], buf: &mut Vec<u8>) {
        use aes_gcm::aead::AeadInPlace as _;
        assert!(buf.len() >= HEADER_LEN, "room for the header is left");
        let mut nonce = aes_gcm::Nonce::default();
        rand::RngCore::fill_bytes(&mut rand::rng(), nonce.as_mut_slice());
        buf[0] = GCM;
        buf[1..HEADER_LEN].copy_from_slice(nonce.as_slice());
        let tag = self
            .gcm
            .encrypt_in_place_detached(&nonce, aad, &mut buf[HEADER_LEN..])
            .expect("AES-256-GCM encrypts any message under 64 GiB");
        buf.extend_from_slice(tag.as_slice());
    }

    /// The plaintext of a sealed message bound to `aad`; `None` when it was sealed
    /// under another key or scope, or changed since. A message that starts with the
    /// new cipher's byte but does not open under it may be an earlier version's whose
    /// random nonce starts with that byte: it is tried as one.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.open_gcm(aad, sealed)
            .or_else(|| self.open_legacy(aad, sealed))
    }

    fn open_gcm(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        use aes_gcm::aead::{Aead as _, Payload};
        let rest = sealed.strip_prefix(&[GCM])?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        self.gcm
            .decrypt(
                aes_gcm::Nonce::from_slice(nonce),
                Payload { msg: body, aad },
            )
            .ok()
            .map(Zeroizing::new)
    }

    fn open_legacy(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        use chacha20poly1305::aead::{Aead as _, Payload};
        if sealed.len() < LEGACY_NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(LEGACY_NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.legacy
            .decrypt(&nonce, Payload { msg: body, aad })
            .ok()
            .map(Zeroizing::new)
    }

    /// `nonce || ciphertext` as earlier versions sealed (tests of old logs).
    #[cfg(test)]
    fn seal_legacy(&self, aad: &[u8], plain: &[u8], nonce: [u8; LEGACY_NONCE_LEN]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead as _, Payload};
        let nonce = XNonce::from(nonce);
        let sealed = self
            .legacy
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        [nonce.as_slice(), &sealed].concat()
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
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 11 + TAG_LEN);
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

    #[test]
    fn what_earlier_versions_sealed_still_opens_and_only_as_it_was() {
        let key = random_key();
        let c = Cipher::new(&key[..]).unwrap();
        // A nonce starting with the new cipher's byte included: it falls back.
        let old: Vec<Vec<u8>> = [[GCM; LEGACY_NONCE_LEN], [7; LEGACY_NONCE_LEN]]
            .into_iter()
            .map(|n| c.seal_legacy(b"incident:inc_1/free_text", b"[\"Adult collapsed\"]", n))
            .collect();
        for m in &old {
            assert_eq!(
                &c.open(b"incident:inc_1/free_text", m).unwrap()[..],
                b"[\"Adult collapsed\"]"
            );
            assert!(c.open(b"incident:inc_2/free_text", m).is_none());
        }
        let mut changed = old[0].clone();
        changed[30] ^= 1;
        assert!(c.open(b"incident:inc_1/free_text", &changed).is_none());
    }
}
