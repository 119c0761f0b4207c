//! Signed webhooks: each new activity row of a webhook's owner whose type
//! matches is POSTed to its URL, at least once, in id order per webhook.
//!
//! - [`address`]: which URLs and addresses a webhook may reach, checked at
//!   creation and again at every attempt, on the address connected to.
//! - [`signature`]: `Shuffify-Signature: t=<unix>,v1=<hex HMAC-SHA256>`.
//! - [`sender`]: one signed POST and what came of it.
//! - [`worker`]: the delivery loop every `serve` process runs on a thread of
//!   its own: claims, attempts, backoff, disabling.
//! - [`wake`]: how a row written in this process wakes the worker at once.

pub mod address;
pub mod sender;
pub mod signature;
pub mod wake;
pub mod worker;

/// Webhooks one user may have.
pub const MAX_WEBHOOKS_PER_USER: i64 = 10;
/// Longest URL accepted, in characters.
pub const MAX_URL_CHARS: usize = 2048;
/// The test ping waits at most this long, whatever `WEBHOOK_TIMEOUT_SECS` says.
pub const TEST_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
