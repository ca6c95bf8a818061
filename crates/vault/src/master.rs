//! The master key: 32 bytes in a file (`MUSTER_MASTER_KEY_FILE`, setting
//! `privacy.master_key_file`), owner-only. It wraps every data key and never touches
//! an event.

use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::VaultError;
use crate::crypto::{Cipher, KEY_LEN, random_key};

/// The master key, wiped from memory when dropped.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> MasterKey {
        MasterKey(random_key())
    }

    /// The key in `bytes`: 32 raw bytes, or 64 hex digits (surrounding whitespace
    /// ignored), so a key can be made with `head -c 32 /dev/urandom` or
    /// `openssl rand -hex 32`.
    pub fn from_bytes(bytes: &[u8]) -> Option<MasterKey> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() == KEY_LEN {
            key.copy_from_slice(bytes);
            return Some(MasterKey(key));
        }
        let text = std::str::from_utf8(bytes).ok()?.trim();
        if text.len() != 2 * KEY_LEN {
            return None;
        }
        hex::decode_to_slice(text, &mut key[..]).ok()?;
        Some(MasterKey(key))
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<MasterKey, VaultError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| VaultError::MasterKeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?);
        warn_if_readable_by_others(path);
        MasterKey::from_bytes(&bytes).ok_or_else(|| VaultError::MasterKeyFile {
            path: path.display().to_string(),
            reason: format!(
                "holds {} bytes; a master key is {KEY_LEN} raw bytes or {} hex digits",
                bytes.len(),
                2 * KEY_LEN
            ),
        })
    }

    /// Reads the key file at `path`, or when there is none makes a new key and writes
    /// it there (owner read/write only, synced). True when it was made now.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), VaultError> {
        match MasterKey::load(path) {
            Ok(key) => Ok((key, false)),
            Err(_) if !path.exists() => {
                let key = MasterKey::generate();
                key.write_new(path)?;
                Ok((key, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the key to a new file at `path` (never over an existing one), mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<(), VaultError> {
        use std::os::unix::fs::OpenOptionsExt;
        let failed = |e: std::io::Error| VaultError::MasterKeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        f.write_all(&self.0[..]).map_err(failed)?;
        f.sync_all().map_err(failed)
    }

    pub(crate) fn cipher(&self) -> Cipher {
        Cipher::new(&self.0[..]).expect("a master key has the cipher's key length")
    }
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the master key file can be read by others than its owner: chmod 600 it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_owner_only_and_loads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let (key, made) = MasterKey::load_or_create(&path).unwrap();
        assert!(made);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = MasterKey::load_or_create(&path).unwrap();
        assert!(!made);
        assert_eq!(key.0, again.0);
        assert!(
            key.write_new(&path).is_err(),
            "an existing key file is never overwritten"
        );
    }

    #[test]
    fn hex_keys_load_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(MasterKey::load(&path).unwrap().0[..], [0xab; 32]);
        std::fs::write(&path, b"short").unwrap();
        let err = MasterKey::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains("32"),
            "{err}"
        );
    }
}
