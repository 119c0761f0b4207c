//! Spotify as a playlist provider: connecting an account, listing and
//! importing its playlists, syncing a linked copy, reading raid sources,
//! and sending a rewritten order back. One file a concern:
//!
//! - [`connection`]: authorize, callback, status, disconnect;
//! - [`tokens`]: the sealed tokens, their refresh and its claim, and the
//!   one way every call gets a live token ([`SpotifyService`]'s
//!   `with_token`);
//! - [`import`]: listing the account's playlists and importing one;
//! - [`sync`]: pulling Spotify's order into a linked copy;
//! - [`sources`]: Spotify playlists as raid sources;
//! - [`write_back`]: replacing Spotify's order with ours, for the rewrite
//!   path (`services::rewrite::linked`), which owns the claim, the
//!   snapshots and the local write around it.
//!
//! Every function here that calls Spotify takes a [`Checkout`] (or the
//! pool) rather than a connection, and holds no connection and no lock
//! across a call: the database work before and after each call is its own
//! short checkout and transaction. A token refresh takes the connection
//! row's lock, reads it again, and leaves a claim (`refresh_claimed_until`)
//! before it calls Spotify; others wait for the claim to end and use the
//! new token. Playlists are reached only through `PlaylistService` and
//! `services::rewrite`.
//!
//! [`Checkout`]: crate::db::Checkout

pub mod connection;
pub mod import;
pub mod pause;
pub mod sources;
pub mod sync;
pub mod tokens;
pub mod write_back;

pub use connection::ConnectionStatus;
pub use import::SpotifyPlaylist;
pub use sync::SyncAnswer;

use crate::error::AppError;
use crate::providers::spotify::http::CallError;

/// The Spotify service: its functions are spread over this folder's files,
/// one `impl` block a concern.
pub struct SpotifyService;

/// Why the service cannot read a Spotify playlist the account only
/// follows: Spotify gives a development-mode app the items only of the
/// playlists the account owns or collaborates on (403 for any other).
pub const ONLY_OWN_OR_COLLABORATIVE: &str =
    "Spotify only lets this app read playlists you own or collaborate on";

/// 404 for every provider route while Spotify is off.
pub fn not_configured() -> AppError {
    AppError::NotAvailable("Spotify is not configured on this server".into())
}

/// A Spotify failure as our client sees it: 502 `upstream_error`, 503
/// `upstream_unavailable` with `Retry-After`, or 409 for what no retry
/// changes.
pub fn upstream(err: CallError) -> AppError {
    match err {
        CallError::Unavailable { retry_after_secs } => AppError::UpstreamUnavailable {
            message: format!("Spotify is busy or unavailable; try again in {retry_after_secs} s"),
            retry_after_secs,
        },
        CallError::Unauthorized => {
            AppError::Upstream("Spotify refused the access token, even after a refresh".into())
        }
        CallError::NotFound => AppError::Upstream("Spotify has no such playlist".into()),
        CallError::Forbidden(message) => {
            AppError::Upstream(format!("Spotify refused the request: {message}"))
        }
        CallError::TooLarge { total, max } => AppError::Conflict(format!(
            "the Spotify playlist has {total} items; at most {max} can be linked"
        )),
        CallError::Failed(message) | CallError::Lost(message) => AppError::Upstream(message),
    }
}
