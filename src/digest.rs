//! Content digests, in one place: SHA-256 as lowercase hex for files and bytes (models, footage,
//! calibrations, bundles), and over length-framed parts (ids derived from their inputs). Also
//! the one source of secret random bytes (keys, session and form tokens, salts).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// SHA-256 of a file's content, read in 64 KiB blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Fills `buf` from the operating system's random source (getrandom).
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.try_fill_bytes(buf).map_err(std::io::Error::other)
}

/// SHA-256 of bytes.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// SHA-256 of `prefix` followed by parts, each preceded by its length (so that ("ab", "c") and
/// ("a", "bc") differ).
pub fn sha256_parts(prefix: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prefix);
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_and_framing() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(
            sha256_parts(b"", &[b"ab", b"c"]),
            sha256_parts(b"", &[b"a", b"bc"])
        );
        let dir = std::env::temp_dir().join(format!("sw-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.bin");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(sha256_file(&f).unwrap(), sha256_bytes(b"abc"));
        let missing = sha256_file(&dir.join("missing")).unwrap_err().to_string();
        assert!(missing.contains("missing"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
