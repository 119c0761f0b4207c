//! Connecting a Spotify account: the authorization (its state and PKCE
//! challenge stored hashed, so any instance can take the callback), the
//! callback that consumes it and stores the sealed tokens, the status, and
//! the disconnect.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::tokens::{context, expiry};
use super::{upstream, SpotifyService};
use crate::db::{self, write_transaction, Checkout, DbConnection, Pool};
use crate::enums::Provider;
use crate::error::{AppError, AppResult};
use crate::models::provider_connection::{
    NewOAuthState, NewProviderConnection, OAuthState, ProviderConnection,
};
use crate::models::{NewActivity, User};
use crate::providers::spotify::{Spotify, TokenError};
use crate::services::auth::token_hash;
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

impl SpotifyService {
    /// Starts an authorization for `user`: stores the state's hash and the
    /// PKCE challenge, answers Spotify's consent URL.
    pub fn authorize(conn: &mut DbConnection, spotify: &Spotify, user: &User) -> AppResult<String> {
        let authorization = spotify.authorize().map_err(upstream)?;
        let now = db::now();
        NewOAuthState {
            state_hash: &token_hash(&authorization.state),
            user_id: user.id,
            provider: Provider::Spotify,
            pkce_challenge: &authorization.challenge,
            created_at: now,
            expires_at: now + chrono::Duration::minutes(STATE_TTL_MINUTES),
        }
        .insert(conn)?;
        Ok(authorization.url)
    }

    /// The callback: consumes `state` (400 when unknown, used or expired),
    /// exchanges `code`, reads the account, stores the sealed tokens and
    /// logs `provider_connect`.
    pub fn complete(pool: &Pool, spotify: &Spotify, state: &str, code: &str) -> AppResult<()> {
        let mut db = Checkout::new(pool.clone());
        let found = write_transaction(db.conn()?, |conn| {
            OAuthState::consume(conn, &token_hash(state), db::now())
        })?;
        let invalid = || AppError::invalid("state", "unknown, used or expired; start again");
        let found = found.ok_or_else(invalid)?;
        if found.pkce_challenge != spotify.challenge_for(state) {
            return Err(invalid());
        }
        db.release();
        let tokens = spotify.exchange(code, state).map_err(|err| match err {
            TokenError::Refused(_) => {
                AppError::invalid("code", "Spotify refused the authorization code")
            }
            TokenError::Call(call) => upstream(call),
        })?;
        let refresh = tokens
            .refresh
            .clone()
            .ok_or_else(|| AppError::Upstream("Spotify gave no refresh token".into()))?;
        let me = spotify.api().me(&tokens.access).map_err(upstream)?;
        let user_id = found.user_id;
        write_transaction(db.conn()?, |conn| {
            User::lock(conn, user_id)?;
            let user = User::find(conn, user_id)?.ok_or(AppError::NotFound)?;
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
            .upsert(conn)?;
            ActivityLogService::log(
                conn,
                NewActivity::provider_connect(&user, Provider::Spotify, &me.id),
            );
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
