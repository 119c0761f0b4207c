//! `GET /api/me/export` (everything the caller owns, as one JSON document)
//! and `DELETE /api/me` (the account and everything it owns).

use std::time::Duration;

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::client_addr::ClientAddr;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::NewActivity;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{RateLimited, UnauthorizedOrWrongPassword};
use crate::services::account_deletion::AccountService;
use crate::services::account_export::{AccountExport, AccountExportService, Owner};
use crate::services::auth::AuthService;
use crate::services::ActivityLogService;
use crate::state::AppState;
use crate::validate;

/// Streams one JSON document of everything the caller owns: the profile,
/// settings, the Spotify connection's status, sessions, playlists with
/// their tracks, snapshots, workshop sessions, upstream sources, schedules
/// and their runs, track facts and the whole activity trail. No token,
/// token hash or password hash appears in it. Takes one of the caller's
/// export slots, as the activity export does (429 when none is free), and
/// logs `account_export` as it starts.
#[utoipa::path(
    get, path = "/api/me/export", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The document, streamed", body = AccountExport,
            headers(
                ("Content-Disposition" = String,
                    description = "`attachment; filename=\"shuffify-export-<username>.json\"`"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn export_account(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let slot = state.exports.try_acquire(auth.id())?;
    let user = auth.user.clone();
    db::run(&state.pool, move |conn| {
        ActivityLogService::log(conn, NewActivity::account_export(&user));
        Ok(())
    })
    .await?;
    let filename = format!("shuffify-export-{}.json", auth.user.username);
    let owner = Owner {
        session_id: auth.session.id,
        user: auth.user,
        spotify: state.spotify.clone(),
    };
    let body = AccountExportService::stream(
        state.pool.clone(),
        owner,
        Duration::from_secs(state.settings.stream_send_timeout_secs),
        slot,
    );
    // The username is `a-z0-9_.-` only, so it needs no quoting.
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

/// Checks the password a signed-in caller gives to confirm an action, as a
/// login checks it: the address's login bucket and the username's lockout
/// first (429), then the hash. A wrong one counts toward the lockout (its
/// reservation stays) and logs `login_failed`: 401 `WrongPassword`, without
/// `WWW-Authenticate`. A right one leaves its reservation for the caller
/// to clear.
pub(crate) async fn confirm_password(
    client: ClientAddr,
    state: &AppState,
    auth: &AuthUser,
    password: String,
) -> AppResult<()> {
    let username = auth.user.username.clone();
    state.address_limits.check_login(client).await?;
    state.throttle.reserve(&username).await?;
    let hash = Some(auth.user.password_hash.clone());
    let matched = match state.passwords.verify(password, hash).await {
        Ok(matched) => matched,
        Err(err) => {
            // Never judged: the attempt does not count against the name.
            state.throttle.release(&username).await;
            return Err(err);
        }
    };
    if !matched {
        // The reservation stays: a real failed attempt.
        let user = auth.user.clone();
        db::run(&state.pool, move |conn| {
            AuthService::record_failed_login(conn, &user);
            Ok(())
        })
        .await?;
        return Err(AppError::WrongPassword);
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountBody {
    /// The account's password, to confirm.
    #[schema(schema_with = validate::schema::login_password)]
    password: String,
}

/// Deletes the caller's account and everything it owns, ends every
/// session and open stream, and forgets the Spotify tokens; the username
/// may then be registered again.
///
/// The password is checked as a login checks it: the address's login
/// bucket and the username's lockout apply (429), and a wrong one counts
/// toward the lockout and logs `login_failed`, so this cannot guess
/// passwords faster than a login can. A wrong password is a 401 without
/// `WWW-Authenticate` (the token still works).
#[utoipa::path(
    delete, path = "/api/me", tag = "account",
    security(("bearer" = [])),
    request_body = DeleteAccountBody,
    responses(
        (status = 204, description = "The account is gone; its tokens no longer work"),
        (status = 401, response = UnauthorizedOrWrongPassword),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn delete_account(
    client: ClientAddr,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<DeleteAccountBody>,
) -> AppResult<HttpResponse> {
    let password = body.into_inner().password;
    let mut errors = Vec::new();
    validate::LOGIN_PASSWORD.check("password", &password, &mut errors);
    AppError::ensure_valid(errors)?;
    let username = auth.user.username.clone();
    confirm_password(client, &state, &auth, password).await?;
    let user_id = auth.id();
    db::run(&state.pool, move |conn| {
        AccountService::delete(conn, user_id)
    })
    .await?;
    // What was keyed by the name rather than the id.
    state.throttle.clear(&username).await;
    state.hub.end_user(user_id);
    Ok(HttpResponse::NoContent().finish())
}
