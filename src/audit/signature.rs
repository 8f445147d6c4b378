//! Signed run records: Ed25519 signatures (ed25519-dalek; the only module
//! that uses it) over each record, so a log cannot be re-sealed.
//!
//! The hash chain alone is tamper-evident only while its last hash is kept
//! elsewhere: anyone who edits a record can recompute every hash after it.
//! A record signed with the lab's key cannot be recomputed without that key.
//! A signed line is
//! `{"seq":…,"prev_sha256":…,…record…,"signer":"<public key hex>","signature":"<128 hex>","sha256":"<64 hex>"}`:
//! the signature covers the line up to and including `signer` (closed with
//! `}`), and `sha256` covers everything before it, signature included.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::AuditError;

/// The first word of a secret key file.
const SECRET_TAG: &str = "cellvia-ed25519-secret-key";
/// The first word of a public key file.
const PUBLIC_TAG: &str = "cellvia-ed25519-public-key";
/// The member holding the signature, as it appears in a line.
pub(super) const SIGNATURE_MEMBER: &str = ",\"signature\":\"";
/// Hex digits of a signature.
const SIGNATURE_HEX: usize = 128;

/// A lab's key for signing run records.
#[derive(Debug, Clone)]
pub struct RecordSigner(SigningKey);

/// A lab's public key for checking signed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVerifier(VerifyingKey);

/// The text of a new key pair made from 32 random bytes: the secret key
/// file's contents and the public key file's.
///
/// ```
/// use cellvia::audit::signature::{key_pair, RecordSigner, RecordVerifier};
/// let (secret, public) = key_pair([7; 32]);
/// let signer = RecordSigner::from_text(&secret)?;
/// assert_eq!(signer.verifier(), RecordVerifier::from_text(&public)?);
/// # Ok::<(), cellvia::audit::AuditError>(())
/// ```
pub fn key_pair(seed: [u8; 32]) -> (String, String) {
    let key = SigningKey::from_bytes(&seed);
    (
        format!("{SECRET_TAG} {}\n", hex(&seed)),
        format!("{PUBLIC_TAG} {}\n", hex(key.verifying_key().as_bytes())),
    )
}

impl RecordSigner {
    /// Reads a secret key file's text ([`key_pair`]).
    pub fn from_text(text: &str) -> Result<Self, AuditError> {
        let seed = key_bytes(text, SECRET_TAG)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The matching public key.
    pub fn verifier(&self) -> RecordVerifier {
        RecordVerifier(self.0.verifying_key())
    }

    /// The public key in hex, as records name their signer.
    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// The signature of `message`, in hex.
    pub(super) fn sign_hex(&self, message: &[u8]) -> String {
        hex(&self.0.sign(message).to_bytes())
    }
}

impl RecordVerifier {
    /// Reads a public key file's text ([`key_pair`]).
    pub fn from_text(text: &str) -> Result<Self, AuditError> {
        let bytes = key_bytes(text, PUBLIC_TAG)?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| AuditError::Key(format!("not an Ed25519 public key: {e}")))
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// Checks one line's signature: it must be signed, by this key.
    pub(super) fn check_line(&self, open: &str) -> Result<(), String> {
        let at = open
            .len()
            .checked_sub(SIGNATURE_MEMBER.len() + SIGNATURE_HEX + 1)
            .filter(|&at| open.is_char_boundary(at) && open[at..].starts_with(SIGNATURE_MEMBER))
            .ok_or("is not signed")?;
        let signed = format!("{}}}", &open[..at]);
        let signature_hex = &open[at + SIGNATURE_MEMBER.len()..open.len() - 1];
        let signer = format!(",\"signer\":\"{}\"", self.public_hex());
        if !open[..at].ends_with(&signer) {
            return Err("is signed by another key".into());
        }
        let signature = unhex::<64>(signature_hex)
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or("has a malformed signature")?;
        self.0.verify(signed.as_bytes(), &signature).map_err(|_| {
            "has a signature that does not match its content (re-sealed or forged)".into()
        })
    }
}

fn key_bytes(text: &str, tag: &str) -> Result<[u8; 32], AuditError> {
    let mut words = text.split_whitespace();
    match (
        words.next(),
        words.next().and_then(unhex::<32>),
        words.next(),
    ) {
        (Some(t), Some(bytes), None) if t == tag => Ok(bytes),
        _ => Err(AuditError::Key(format!(
            "expected one line `{tag} <64 hex digits>`"
        ))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
