//! Connecting a Spotify account: the authorization (its state, PKCE
//! challenge and the browser's nonce stored hashed, so any instance can
//! take the callback), the callback that consumes it and stores the sealed
//! tokens, the status, and the disconnect.
//!
//! An authorization belongs to the browser that asked: `authorize` hands
//! back a nonce the route sets as a cookie, and a callback without that
//! cookie is refused before the state is consumed. Otherwise anyone could
//! start an authorization on their own account and send the consent URL to
//! someone else, whose one click would link their Spotify to the sender's
//! account. For the same reason a Spotify account links to one user only.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::tokens::{context, expiry};
use super::{upstream, SpotifyService};
use crate::db::{self, write_transaction, Checkout, DbConnection, Pool};
use crate::enums::Provider;
use crate::error::{AppError, AppResult};
use crate::models::provider_connection::{
    NewOAuthState, NewProviderConnection, OAuthState, ProviderConnection,
};
use crate::models::{AuthSession, NewActivity, User};
use crate::providers::spotify::{Spotify, TokenError};
use crate::services::auth::{new_token, token_hash};
use crate::services::ActivityLogService;

/// How long an authorization may take.
const STATE_TTL_MINUTES: i64 = 10;

/// `GET /api/providers/spotify`. Without Spotify configured only
/// `configured` and `connected` are sent; with it, every field, `null`
/// where there is no connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionStatus {
    pub configured: bool,
    pub connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_user_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::timestamp::serialize_option_option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub connected_at: Option<Option<NaiveDateTime>>,
    /// Spotify refused the refresh token: connect again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_reason: Option<Option<String>>,
}

/// Why a callback was refused: a browser is sent back to the settings page
/// with its code (`spotify_error=<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRefusal {
    /// Spotify answered `error=` (the user declined).
    AccessDenied,
    /// The state is missing, unknown or used, or its login has ended.
    StateInvalid,
    /// The state is known but older than its ten minutes.
    Expired,
    /// The browser lacks the cookie of the authorization it completes.
    CookieMismatch,
    /// The Spotify account is already linked to another user.
    AccountLinkedElsewhere,
    /// Spotify refused the code, or failed during the exchange.
    ExchangeFailed,
}

impl CallbackRefusal {
    pub fn code(self) -> &'static str {
        match self {
            CallbackRefusal::AccessDenied => "access_denied",
            CallbackRefusal::StateInvalid => "state_invalid",
            CallbackRefusal::Expired => "expired",
            CallbackRefusal::CookieMismatch => "cookie_mismatch",
            CallbackRefusal::AccountLinkedElsewhere => "account_linked_elsewhere",
            CallbackRefusal::ExchangeFailed => "exchange_failed",
        }
    }
}

/// A callback that linked nothing: the refusal the browser is sent back
/// with, and the error behind it, for the log (`None` when the service
/// itself failed: the route then sends its own code).
#[derive(Debug)]
pub struct CallbackError {
    pub refusal: Option<CallbackRefusal>,
    pub error: AppError,
}

impl CallbackError {
    pub fn refused(refusal: CallbackRefusal, error: AppError) -> Self {
        CallbackError {
            refusal: Some(refusal),
            error,
        }
    }

    /// An unknown, used or expired `state` (a 400 naming the field).
    pub fn state_invalid() -> Self {
        CallbackError::refused(
            CallbackRefusal::StateInvalid,
            AppError::invalid("state", "unknown, used or expired; start again"),
        )
    }
}

impl From<AppError> for CallbackError {
    fn from(error: AppError) -> Self {
        CallbackError {
            refusal: None,
            error,
        }
    }
}

impl From<DieselError> for CallbackError {
    fn from(error: DieselError) -> Self {
        AppError::from(error).into()
    }
}

/// A started authorization: where to send the browser, and the nonce its
/// cookie carries (stored only as its SHA-256).
#[derive(Debug)]
pub struct StartedAuthorization {
    pub url: String,
    pub nonce: String,
}

fn linked_elsewhere() -> CallbackError {
    CallbackError::refused(
        CallbackRefusal::AccountLinkedElsewhere,
        AppError::Conflict(
            "this Spotify account is already linked to another Shuffify user".into(),
        ),
    )
}

/// Whether the cookie's nonce is the one stored for the authorization.
/// Compared in constant time, so the time taken says nothing about how
/// much of a guess was right.
fn nonce_matches(stored_hash: Option<&str>, cookie: Option<&str>) -> bool {
    match (stored_hash, cookie) {
        (Some(stored), Some(cookie)) => token_hash(cookie)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into(),
        _ => false,
    }
}

/// Takes the authorization `state` names, if `cookie` is its browser's
/// and the login that asked is still live. A refusal consumes nothing: the
/// state stays usable by the browser that holds the cookie.
fn take(
    conn: &mut DbConnection,
    state: &str,
    cookie: Option<&str>,
) -> Result<OAuthState, CallbackError> {
    write_transaction(conn, |conn| {
        let now = db::now();
        let found =
            OAuthState::find(conn, &token_hash(state))?.ok_or_else(CallbackError::state_invalid)?;
        if found.expires_at <= now {
            return Err(CallbackError::refused(
                CallbackRefusal::Expired,
                AppError::invalid("state", "expired; start again"),
            ));
        }
        if !nonce_matches(found.nonce_hash.as_deref(), cookie) {
            return Err(CallbackError::refused(
                CallbackRefusal::CookieMismatch,
                AppError::invalid(
                    "cookie",
                    "this browser did not start this Spotify connection; \
                     connect from Shuffify in the browser you signed in with",
                ),
            ));
        }
        if let Some(session) = found.session_id {
            if AuthSession::live_among(conn, &[session], now)?.is_empty() {
                return Err(CallbackError::state_invalid());
            }
        }
        if !OAuthState::consume(conn, found.id)? {
            return Err(CallbackError::state_invalid());
        }
        Ok(found)
    })
}

impl SpotifyService {
    /// Starts an authorization for `user` in the login `session_id`:
    /// stores the state's hash, the PKCE challenge and the hash of a new
    /// nonce for the browser's cookie; answers Spotify's consent URL and
    /// the nonce.
    pub fn authorize(
        conn: &mut DbConnection,
        spotify: &Spotify,
        user: &User,
        session_id: i64,
    ) -> AppResult<StartedAuthorization> {
        let authorization = spotify.authorize().map_err(upstream)?;
        let nonce = new_token();
        let now = db::now();
        NewOAuthState {
            state_hash: &token_hash(&authorization.state),
            user_id: user.id,
            provider: Provider::Spotify,
            pkce_challenge: &authorization.challenge,
            created_at: now,
            expires_at: now + chrono::Duration::minutes(STATE_TTL_MINUTES),
            nonce_hash: &token_hash(&nonce),
            session_id,
        }
        .insert(conn)?;
        Ok(StartedAuthorization {
            url: authorization.url,
            nonce,
        })
    }

    /// Spotify's `error=` callback (the user declined): spends the state
    /// when this browser started it, so it cannot be used afterwards, and
    /// leaves another browser's alone.
    pub fn decline(conn: &mut DbConnection, state: &str, cookie: Option<&str>) -> AppResult<()> {
        match take(conn, state, cookie) {
            Ok(_) => Ok(()),
            Err(CallbackError {
                refusal: Some(_), ..
            }) => Ok(()),
            Err(CallbackError { error, .. }) => Err(error),
        }
    }

    /// The callback: consumes `state` if `cookie` is its browser's,
    /// exchanges `code`, reads the account, refuses one linked to another
    /// user, stores the sealed tokens and logs `provider_connect`.
    pub fn complete(
        pool: &Pool,
        spotify: &Spotify,
        state: &str,
        code: &str,
        cookie: Option<&str>,
    ) -> Result<(), CallbackError> {
        let mut db = Checkout::new(pool.clone());
        let found = take(db.conn()?, state, cookie)?;
        if found.pkce_challenge != spotify.challenge_for(state) {
            return Err(CallbackError::state_invalid());
        }
        db.release();
        let exchange_failed =
            |error| CallbackError::refused(CallbackRefusal::ExchangeFailed, error);
        let tokens = spotify
            .exchange(code, state)
            .map_err(|err| match err {
                TokenError::Refused(_) => {
                    AppError::invalid("code", "Spotify refused the authorization code")
                }
                TokenError::Call(call) => upstream(call),
            })
            .map_err(exchange_failed)?;
        let refresh = tokens.refresh.clone().ok_or_else(|| {
            exchange_failed(AppError::Upstream("Spotify gave no refresh token".into()))
        })?;
        let me = spotify
            .api()
            .me(&tokens.access)
            .map_err(|err| exchange_failed(upstream(err)))?;
        let user_id = found.user_id;
        write_transaction(db.conn()?, |conn| {
            User::lock(conn, user_id)?;
            let user = User::find(conn, user_id)?.ok_or(AppError::NotFound)?;
            if ProviderConnection::linked_user(conn, Provider::Spotify, &me.id)?
                .is_some_and(|linked| linked != user_id)
            {
                return Err(linked_elsewhere());
            }
            let now = db::now();
            let scopes = tokens.scopes.join(" ");
            NewProviderConnection {
                user_id,
                provider: Provider::Spotify,
                account_id: &me.id,
                display_name: me.display_name.as_deref(),
                scopes: &scopes,
                access_token: &spotify
                    .seal
                    .seal(&tokens.access, &context("access", user_id)),
                refresh_token: &spotify.seal.seal(&refresh, &context("refresh", user_id)),
                access_expires_at: expiry(now, tokens.expires_in),
                connected_at: now,
                updated_at: now,
            }
            .upsert(conn)
            .map_err(|err| match err {
                // Another user linked the account in the meantime: the
                // unique index on (provider, account_id) decides.
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    linked_elsewhere()
                }
                other => other.into(),
            })?;
            let mut row = NewActivity::provider_connect(&user, Provider::Spotify, &me.id);
            // The callback carries no token: the row names the session that
            // asked for the authorization.
            row.session_id = found.session_id;
            ActivityLogService::log(conn, row);
            Ok(())
        })
    }

    pub fn status(
        conn: &mut DbConnection,
        spotify: Option<&Spotify>,
        user: &User,
    ) -> AppResult<ConnectionStatus> {
        if spotify.is_none() {
            return Ok(ConnectionStatus {
                configured: false,
                connected: false,
                spotify_user_id: None,
                display_name: None,
                scopes: None,
                connected_at: None,
                broken: None,
                broken_reason: None,
            });
        }
        let found = ProviderConnection::find(conn, user.id, Provider::Spotify)?;
        Ok(ConnectionStatus {
            configured: true,
            connected: found.is_some(),
            spotify_user_id: Some(found.as_ref().map(|c| c.account_id.clone())),
            display_name: Some(found.as_ref().and_then(|c| c.display_name.clone())),
            scopes: Some(found.as_ref().map_or_else(Vec::new, |c| {
                c.scopes.split_whitespace().map(String::from).collect()
            })),
            connected_at: Some(found.as_ref().map(|c| c.connected_at)),
            broken: Some(found.as_ref().is_some_and(|c| c.broken_reason.is_some())),
            broken_reason: Some(found.and_then(|c| c.broken_reason)),
        })
    }

    /// Deletes the connection and its tokens; logs `provider_disconnect`.
    /// Linked playlists stay linked.
    pub fn disconnect(conn: &mut DbConnection, user: &User) -> AppResult<()> {
        write_transaction(conn, |conn| {
            User::lock(conn, user.id)?;
            let found = ProviderConnection::find(conn, user.id, Provider::Spotify)?
                .ok_or_else(|| AppError::NotAvailable("no Spotify account is connected".into()))?;
            ProviderConnection::delete(conn, found.id)?;
            ActivityLogService::log(
                conn,
                NewActivity::provider_disconnect(user, Provider::Spotify, &found.account_id),
            );
            Ok(())
        })
    }
}
