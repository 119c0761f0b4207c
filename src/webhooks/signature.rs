//! The `Shuffify-Signature` header: `t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`, keyed with the UTF-8 bytes of the
//! secret exactly as its 201 showed it. A receiver recomputes it over the
//! raw body and compares in constant time (the README shows how).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

/// A new secret: `whsec_` and 32 random bytes in URL-safe base64.
pub fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A random event id for a test ping: `test-` and 16 hex digits.
pub fn test_event_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("test-{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac() {
        // Computed with Python's hmac module over "1700000000.{\"id\":1}".
        assert_eq!(
            sign("Jefe", 1700000000, b"{\"id\":1}"),
            "t=1700000000,v1=05b728475104591e6ba9301ccd86c0f18c79ea7330ef9b9869435607a745d2bf"
        );
    }

    #[test]
    fn secrets_differ_and_have_their_prefix() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 43);
        assert_ne!(a, b);
    }
}
