//! Ed25519 signatures on evidence: the key files' hex form, and signed alert payloads.
//!
//! A signed alert is its JSON exactly as serialised, with `,"signature":"<128 hex digits>"`
//! inserted before the closing brace; the signature covers every byte before that insertion
//! (with the brace). Verifying strips that suffix textually, so it needs no canonical JSON and
//! survives fields a verifier does not know. The alert's `snapshot_sha256` ties the image to it.
//! Pure: bytes and keys in, bytes and verdicts out.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let t = text.trim();
    if t.len() != 2 * N || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

const FIELD: &str = ",\"signature\":\"";

/// Signs a serialised alert (a JSON object without a `signature` field).
pub fn sign_payload(json: &[u8], key: &SigningKey) -> Vec<u8> {
    let sig = key.sign(json);
    let body = json.strip_suffix(b"}").unwrap_or(json);
    let mut out = Vec::with_capacity(json.len() + 150);
    out.extend_from_slice(body);
    out.extend_from_slice(FIELD.as_bytes());
    out.extend_from_slice(to_hex(&sig.to_bytes()).as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// What a payload's signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Signed by the key, unchanged since.
    Valid,
    /// No signature.
    Unsigned,
    /// Signed, but not by this key, or changed after signing.
    Mismatch,
}

/// Checks a signed alert payload against `key`.
pub fn verify_payload(payload: &[u8], key: &VerifyingKey) -> Check {
    let text = payload.trim_ascii_end();
    let tail = FIELD.len() + 128 + 2;
    if text.len() < tail + 1 {
        return Check::Unsigned;
    }
    let (body, suffix) = text.split_at(text.len() - tail);
    let Some(hex) = suffix
        .strip_prefix(FIELD.as_bytes())
        .and_then(|s| s.strip_suffix(b"\"}"))
    else {
        return Check::Unsigned;
    };
    let Some(bytes) = std::str::from_utf8(hex).ok().and_then(from_hex::<64>) else {
        return Check::Unsigned;
    };
    let mut signed = body.to_vec();
    signed.push(b'}');
    match key.verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&bytes)) {
        Ok(()) => Check::Valid,
        Err(_) => Check::Mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_alert_verifies_and_any_change_or_other_key_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        let json = br#"{"id":"a1","measures":{"count":3},"snapshot_sha256":"ab"}"#;
        let signed = sign_payload(json, &key);
        let v: serde_json::Value = serde_json::from_slice(&signed).expect("still JSON");
        assert_eq!(v["measures"]["count"], 3);
        assert_eq!(v["signature"].as_str().map(str::len), Some(128));
        assert_eq!(verify_payload(&signed, &key.verifying_key()), Check::Valid);
        // A trailing newline (a line of alerts.jsonl) does not matter.
        let mut line = signed.clone();
        line.push(b'\n');
        assert_eq!(verify_payload(&line, &key.verifying_key()), Check::Valid);
        assert_eq!(verify_payload(&signed, &other), Check::Mismatch);
        // Every single-byte change before the signature is caught.
        let body = signed.len() - (FIELD.len() + 130);
        for i in 0..body {
            let mut forged = signed.clone();
            forged[i] ^= 0x01;
            assert_ne!(
                verify_payload(&forged, &key.verifying_key()),
                Check::Valid,
                "byte {i} changed"
            );
        }
        assert_eq!(verify_payload(json, &key.verifying_key()), Check::Unsigned);
        assert_eq!(verify_payload(b"", &key.verifying_key()), Check::Unsigned);
    }
}
