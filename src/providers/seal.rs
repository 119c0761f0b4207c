//! Provider tokens at rest: sealed with AES-256-GCM (the RustCrypto
//! `aes-gcm` crate) under `TOKEN_ENCRYPTION_KEY`, a fresh random 96-bit
//! nonce per seal, stored as base64 of nonce and ciphertext. The sealed
//! value is bound to its row and field through the associated data, so a
//! token copied into another user's row, or an access token swapped for a
//! refresh token, does not open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Bytes of an AES-GCM nonce.
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct TokenSeal {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSeal(<key>)")
    }
}

impl TokenSeal {
    pub fn new(key: &[u8; 32]) -> Self {
        TokenSeal {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// `plaintext` sealed for `context` (e.g. `"spotify:access:42"`).
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for inputs of gigabytes; a token is small.
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .expect("AES-GCM seals a short token");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// The plaintext of a value sealed for `context`; `None` when it was
    /// sealed under another key or context, or altered.
    pub fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_context() {
        let seal = TokenSeal::new(&[7; 32]);
        let sealed = seal.seal("BQD-secret-token", "spotify:access:1");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            seal.open(&sealed, "spotify:access:1").as_deref(),
            Some("BQD-secret-token")
        );
        assert_eq!(seal.open(&sealed, "spotify:access:2"), None);
        assert_eq!(seal.open(&sealed, "spotify:refresh:1"), None);
        assert_eq!(
            TokenSeal::new(&[8; 32]).open(&sealed, "spotify:access:1"),
            None
        );
        // Two seals of one token differ (a fresh nonce each).
        assert_ne!(sealed, seal.seal("BQD-secret-token", "spotify:access:1"));
    }

    #[test]
    fn garbage_does_not_open() {
        let seal = TokenSeal::new(&[7; 32]);
        assert_eq!(seal.open("", "x"), None);
        assert_eq!(seal.open("not base64!", "x"), None);
        assert_eq!(seal.open("AAAA", "x"), None);
    }
}
