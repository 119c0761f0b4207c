//! The connection's tokens: sealed at rest (AES-GCM, bound to the user and
//! the field), refreshed shortly before expiry or once on a 401, and the
//! one way every Spotify call gets a live token ([`SpotifyService`]'s
//! `with_token`). Also the small judgements every Spotify operation makes
//! of a connection and a linked playlist.
//!
//! A refresh takes the connection row's lock, reads it again, and leaves a
//! claim (`refresh_claimed_until`) before it calls Spotify with no lock
//! held; others wait for the claim to end and use the new token. It stores
//! what it got only while its claim still stands, so a reconnect meanwhile
//! wins.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::{upstream, SpotifyService};
use crate::db::{self, write_transaction, Checkout, DbConnection};
use crate::enums::Provider;
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::provider_connection::{ProviderConnection, Refreshed};
use crate::providers::spotify::http::CallError;
use crate::providers::spotify::{api, Spotify, TokenError};

/// An access token this close to expiry is refreshed before use.
const REFRESH_MARGIN_SECS: i64 = 60;
/// How long a refresh claim keeps others waiting: longer than the longest
/// token call (10 s, a 429 waited out for up to 5 s, 10 s again).
const REFRESH_CLAIM_SECS: i64 = 60;
/// How often a refresh waiting on another's claim looks again.
const CLAIM_POLL: Duration = Duration::from_millis(200);

/// What a look at the connection found, for a refresh.
enum Claim {
    /// Another refresh already gave a new token (or it is fresh).
    Replaced(Session),
    /// Another refresh is under way.
    Busy,
    /// Ours: the row, its refresh token, and the claim's end.
    Taken(Box<(ProviderConnection, String, NaiveDateTime)>),
}

/// A usable access token and the account it belongs to.
pub(super) struct Session {
    pub token: String,
    pub account_id: String,
}

/// What a sealed token is bound to: which token of which user.
pub(super) fn context(kind: &str, user_id: i64) -> String {
    format!("spotify:{kind}:{user_id}")
}

impl SpotifyService {
    /// A live access token of the user's connection, refreshed first when
    /// it is close to expiry; 409 when there is no usable connection.
    fn session(db: &mut Checkout, spotify: &Spotify, user_id: i64) -> AppResult<Session> {
        let found = ProviderConnection::find(db.conn()?, user_id, Provider::Spotify)?;
        let connection = usable(found)?;
        let fresh = connection.access_expires_at
            > db::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS);
        if fresh {
            if let Some(token) = spotify
                .seal
                .open(&connection.access_token, &context("access", user_id))
            {
                return Ok(Session {
                    token,
                    account_id: connection.account_id,
                });
            }
        }
        Self::refresh(db, spotify, user_id, None)
    }

    /// Refreshes the user's access token: locks the row and reads it
    /// again; if another refresh already replaced `stale` (or the token is
    /// fresh, when `stale` is `None`), uses that; waits for a refresh
    /// claimed by someone else; else claims, calls Spotify with no lock
    /// held, and stores what it gets, if its claim still stands (a
    /// reconnect meanwhile wins). A refresh token Spotify refuses marks the
    /// connection broken, unless another refresher replaced it meanwhile.
    fn refresh(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        stale: Option<&str>,
    ) -> AppResult<Session> {
        let started = std::time::Instant::now();
        let (connection, refresh_token, claim) = loop {
            match Self::claim_refresh(db.conn()?, spotify, user_id, stale)? {
                Claim::Replaced(session) => return Ok(session),
                Claim::Taken(taken) => break *taken,
                Claim::Busy => {
                    db.release();
                    if started.elapsed() > Duration::from_secs(REFRESH_CLAIM_SECS as u64) {
                        return Err(AppError::UpstreamUnavailable {
                            message: "a refresh of the Spotify token is taking too long".into(),
                            retry_after_secs: 5,
                        });
                    }
                    std::thread::sleep(CLAIM_POLL);
                }
            }
        };
        db.release();
        let answer = spotify.refresh(&refresh_token);
        let conn = db.conn()?;
        let now = db::now();
        let superseded =
            || AppError::Conflict("the Spotify connection changed meanwhile; try again".into());
        match answer {
            Ok(tokens) => {
                let refresh = tokens.refresh.unwrap_or(refresh_token);
                // Spotify may leave `scope` out of a refresh's answer: the
                // grant is then as it was.
                let scopes = tokens.scopes.join(" ");
                let sealed = Refreshed {
                    access_token: &spotify
                        .seal
                        .seal(&tokens.access, &context("access", user_id)),
                    refresh_token: &spotify.seal.seal(&refresh, &context("refresh", user_id)),
                    expires_at: expiry(now, tokens.expires_in),
                    scopes: (!scopes.is_empty()).then_some(scopes.as_str()),
                };
                let stored =
                    ProviderConnection::store_refreshed(conn, connection.id, claim, &sealed, now)?;
                if !stored {
                    return Err(superseded());
                }
                Ok(Session {
                    token: tokens.access,
                    account_id: connection.account_id,
                })
            }
            Err(TokenError::Refused(code)) => {
                let reason = format!(
                    "Spotify refused the refresh token ({code}); access was probably revoked: connect again"
                );
                if !ProviderConnection::mark_broken(conn, connection.id, claim, &reason, now)? {
                    return Err(superseded());
                }
                Err(AppError::Conflict(format!(
                    "the Spotify connection is broken: {reason}"
                )))
            }
            Err(TokenError::Call(call)) => {
                ProviderConnection::release_claim(conn, connection.id, claim)?;
                Err(upstream(call))
            }
        }
    }

    /// One look at the connection under its row lock, for [`Self::refresh`].
    fn claim_refresh(
        conn: &mut DbConnection,
        spotify: &Spotify,
        user_id: i64,
        stale: Option<&str>,
    ) -> AppResult<Claim> {
        write_transaction(conn, |conn| {
            let now = db::now();
            let connection = usable(ProviderConnection::lock(conn, user_id, Provider::Spotify)?)?;
            let opened = spotify
                .seal
                .open(&connection.access_token, &context("access", user_id))
                .zip(
                    spotify
                        .seal
                        .open(&connection.refresh_token, &context("refresh", user_id)),
                );
            let Some((access, refresh)) = opened else {
                let reason = "the stored Spotify tokens cannot be read (was TOKEN_ENCRYPTION_KEY \
                              changed?): connect again";
                ProviderConnection::mark_unreadable(conn, connection.id, reason, now)?;
                return Ok(Err(reason));
            };
            let replaced = match stale {
                Some(stale) => access != stale,
                None => {
                    connection.access_expires_at
                        > now + chrono::Duration::seconds(REFRESH_MARGIN_SECS)
                }
            };
            if replaced {
                return Ok(Ok(Claim::Replaced(Session {
                    token: access,
                    account_id: connection.account_id,
                })));
            }
            if connection
                .refresh_claimed_until
                .is_some_and(|until| until > now)
            {
                return Ok(Ok(Claim::Busy));
            }
            let claim = now + chrono::Duration::seconds(REFRESH_CLAIM_SECS);
            ProviderConnection::claim_refresh(conn, connection.id, claim)?;
            Ok::<_, AppError>(Ok(Claim::Taken(Box::new((connection, refresh, claim)))))
        })?
        // Marked broken in its own committed transaction, then the 409.
        .map_err(|reason| AppError::Conflict(format!("the Spotify connection is broken: {reason}")))
    }

    /// Runs `call` with a live token; on a 401, refreshes once and tries
    /// again. `call` must be safe to repeat. Answers what `call` gave and
    /// the connected account's id.
    pub(super) fn with_token<T>(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        mut call: impl FnMut(&api::Api<'_>, &Session) -> Result<T, CallError>,
    ) -> AppResult<(T, String)> {
        let session = Self::session(db, spotify, user_id)?;
        db.release();
        match call(&spotify.api(), &session) {
            Err(CallError::Unauthorized) => {
                let session = Self::refresh(db, spotify, user_id, Some(&session.token))?;
                db.release();
                let answer = call(&spotify.api(), &session).map_err(upstream)?;
                Ok((answer, session.account_id))
            }
            other => Ok((other.map_err(upstream)?, session.account_id)),
        }
    }
}

/// The connection, if it can be used: 409 when there is none or it is
/// broken (what needs Spotify answers 409 until the user connects).
pub(super) fn usable(found: Option<ProviderConnection>) -> AppResult<ProviderConnection> {
    let connection = found.ok_or_else(|| {
        AppError::Conflict(
            "no Spotify account is connected; connect one (POST /api/providers/spotify/authorize)"
                .into(),
        )
    })?;
    if let Some(reason) = &connection.broken_reason {
        return Err(AppError::Conflict(format!(
            "the Spotify connection is broken: {reason}"
        )));
    }
    Ok(connection)
}

/// When a token given `expires_in` from `now` expires (an hour when the
/// answer is out of range).
pub(super) fn expiry(now: NaiveDateTime, expires_in: Duration) -> NaiveDateTime {
    now + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::hours(1))
}

/// The Spotify id a playlist is linked to; 409 for a local playlist.
pub(super) fn linked_to(playlist: &Playlist) -> AppResult<String> {
    match (&playlist.link.provider, &playlist.link.playlist_id) {
        (Provider::Spotify, Some(id)) => Ok(id.clone()),
        _ => Err(AppError::Conflict(format!(
            "playlist {} is local; only a playlist linked to Spotify can be synced",
            playlist.id
        ))),
    }
}

/// The 409 for a linked playlist Spotify no longer serves.
pub(super) fn gone(remote_id: &str) -> String {
    format!(
        "the linked Spotify playlist {remote_id} no longer exists, or the connected account \
         cannot read it"
    )
}

/// Whether the connected account is the one that linked the playlist.
pub(super) fn require_account(playlist: &Playlist, account_id: &str) -> Result<(), String> {
    match playlist.link.account_id.as_deref() {
        Some(linked) if linked != account_id => Err(format!(
            "the playlist is linked through the Spotify account {linked}, not {account_id}; \
             connect that account"
        )),
        _ => Ok(()),
    }
}
