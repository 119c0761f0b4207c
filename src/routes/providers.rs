//! `/api/providers/spotify/*` and `POST /api/playlists/{id}/sync`: Spotify
//! as a playlist provider (docs/spotify.md). Without Spotify
//! configured, the status answers `{configured: false, connected: false}`
//! and every other route here answers 404 saying so.
//!
//! Handlers that call Spotify run the service on the Spotify pool
//! (`spotify_pool`), never on the threads of database work, with the pool,
//! not a connection: the service takes a connection for each database step
//! and gives it back before each call to Spotify. Listing, import and sync
//! are Spotify operations of the caller: a third at once answers 429.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::client_addr::ClientAddr;
use crate::db::{self, Checkout};
use crate::error::{AppError, AppResult};
use crate::models::provider_connection::OAuthState;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{
    Conflict, NotFound, PreconditionFailed, RateLimited, UpstreamError, UpstreamUnavailable,
};
use crate::routes::params::{etag, if_match, limit_offset, present, IfMatchParam, PlaylistIdParam};
use crate::routes::responses::CountedPage;
use crate::routes::spotify_cookie;
use crate::services::auth::{token_hash, token_shaped};
use crate::services::playlists::PlaylistView;
use crate::services::spotify::connection::{CallbackError, CallbackRefusal};
use crate::services::spotify::{ConnectionStatus, SpotifyPlaylist, SpotifyService, SyncAnswer};
use crate::state::AppState;

/// Most characters of a Spotify id we accept (Spotify's are 22).
const SPOTIFY_ID_MAX: usize = 64;
/// Most characters of a callback's `code` and `state`.
const CALLBACK_VALUE_MAX: usize = 2048;
/// Characters of a state `authorize` makes (oauth2's random CSRF token: 16
/// bytes in unpadded base64url); any other shape is refused unlooked-up.
const STATE_CHARS: usize = 22;

/// Where to send the browser to connect.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeAnswer {
    /// Spotify's consent page, with the state and PKCE challenge.
    authorize_url: String,
}

/// Starts connecting a Spotify account: a single-use `state`, valid ten
/// minutes and bound to the caller's session, is stored, and the
/// `shuffify_spotify` cookie binds it to this browser; send the same
/// browser to `authorize_url`. Logs nothing (the callback logs
/// `provider_connect`).
#[utoipa::path(
    post, path = "/api/providers/spotify/authorize", tag = "providers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = AuthorizeAnswer,
            headers(("Set-Cookie" = String, description = "`shuffify_spotify=<nonce>; \
                HttpOnly; SameSite=Lax; Path=<the path of SPOTIFY_REDIRECT_URI>; Max-Age=600`, \
                plus `Secure` when that URI is https: the callback must bring it back"))),
        (status = 404, response = NotFound),
    ),
)]
pub async fn authorize(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let spotify = state.spotify()?;
    let config = spotify.config.clone();
    let started = db::run(&state.pool, move |conn| {
        SpotifyService::authorize(conn, &spotify, &auth.user, auth.session.id)
    })
    .await?;
    // The URL carries the state that completes the connection: no cache
    // may keep it.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(spotify_cookie::issue(&config, &started.nonce))
        .json(AuthorizeAnswer {
            authorize_url: started.url,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code (on consent).
    #[param(max_length = 2048, pattern = "^[^\\u0000]*$")]
    code: Option<String>,
    /// The state `authorize` made: single use, ten minutes.
    #[param(max_length = 2048, pattern = "^[^\\u0000]*$")]
    state: Option<String>,
    /// Spotify's error (the user declined): sent back with `access_denied`.
    #[param(max_length = 2048, pattern = "^[^\\u0000]*$")]
    error: Option<String>,
}

/// Where a refused callback sends the browser: the app's Settings page with
/// the reason's code.
pub const REFUSED_LOCATION: &str = "/#/settings?spotify_error=";

/// Spotify's redirect after consent (the redirect URI to register). No
/// bearer token: the single-use `state` names the authorization, and the
/// `shuffify_spotify` cookie `authorize` set must come with it (without it
/// the state is left unused). Exchanges the code, stores the tokens sealed
/// and logs `provider_connect`, then sends the browser to the app (`/`).
///
/// Only a browser comes here, sent by Spotify, so nothing here answers
/// JSON: a callback that links nothing sends the browser to
/// `/#/settings?spotify_error=<code>`, where the app says why. The code is
/// one of `access_denied` (declined on Spotify's page), `state_invalid`
/// (missing, unknown or used state, or its login ended), `expired` (older
/// than its ten minutes), `cookie_mismatch` (another browser started it),
/// `account_linked_elsewhere` (the Spotify account belongs to another
/// user), `exchange_failed` (Spotify refused the code or failed during
/// the exchange), `rate_limited` (this address guessed too many states)
/// and `unavailable` (the service failed; logged). Nothing from Spotify or
/// the request is echoed in the URL. Only a query outside its own schema
/// (a value over 2048 characters or holding a NUL, which no redirect from
/// Spotify carries) is answered with the JSON 400. A state of the wrong shape is
/// refused before any lookup; one that matches nothing takes a token from
/// the address's login bucket, and while that bucket is empty the next
/// ones are refused (`rate_limited`) before their lookup.
#[utoipa::path(
    get, path = "/api/providers/spotify/callback", tag = "providers",
    params(
        CallbackParams,
        ("shuffify_spotify" = Option<String>, Cookie,
            description = "The nonce `authorize` set in this browser"),
    ),
    responses(
        (status = 303, description = "Connected, on to the app (`/`), the cookie cleared \
            (`Set-Cookie: shuffify_spotify=; Max-Age=0` on the same path); or refused, on to \
            `/#/settings?spotify_error=<code>` with no cookie sent, the code one of \
            `access_denied`, `state_invalid`, `expired`, `cookie_mismatch`, \
            `account_linked_elsewhere`, `exchange_failed`, `rate_limited`, `unavailable`",
            headers(
                ("Location" = String,
                    description = "`/`, or `/#/settings?spotify_error=<code>`"),
            )),
        (status = 404, response = NotFound),
    ),
)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientAddr,
    params: web::Query<CallbackParams>,
) -> AppResult<HttpResponse> {
    let spotify = state.spotify()?;
    let config = spotify.config.clone();
    let cookie = spotify_cookie::read(&req);
    let code = match connect(&state, spotify, client, params.into_inner(), cookie).await {
        Ok(()) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .cookie(spotify_cookie::cleared(&config))
                .finish())
        }
        Err(CallbackError {
            refusal: Some(refusal),
            error,
        }) => {
            log::info!("Spotify callback refused ({}): {error}", refusal.code());
            refusal.code()
        }
        Err(CallbackError { error, .. }) => match error {
            AppError::RateLimited { .. } => "rate_limited",
            malformed @ AppError::Validation { .. } => return Err(malformed),
            other => {
                if other.status_code().is_server_error() {
                    let request_id = crate::request_id::current().unwrap_or_default();
                    log::error!("request {request_id} failed: Spotify callback: {other}");
                }
                "unavailable"
            }
        },
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{REFUSED_LOCATION}{code}")))
        .finish())
}

/// The callback's work, for [`callback`] to answer with a redirect.
async fn connect(
    state: &AppState,
    spotify: std::sync::Arc<crate::providers::spotify::Spotify>,
    client: ClientAddr,
    params: CallbackParams,
    cookie: Option<String>,
) -> Result<(), CallbackError> {
    // Outside the query's own schema: no redirect from Spotify carries
    // such a value, so the answer is the 400 itself (no refusal).
    let malformed = [&params.code, &params.state, &params.error]
        .iter()
        .any(|v| {
            v.as_ref()
                .is_some_and(|v| v.chars().count() > CALLBACK_VALUE_MAX || v.contains('\0'))
        });
    if malformed {
        return Err(CallbackError::from(AppError::invalid(
            "query",
            format!(
                "code, state and error are at most {CALLBACK_VALUE_MAX} characters, with no NUL"
            ),
        )));
    }
    let given_state = present(&params.state).map(String::from);
    if let Some(given) = &given_state {
        refuse_guessed_state(state, client, given)
            .await
            .map_err(|err| match err {
                AppError::Validation { .. } => {
                    CallbackError::refused(CallbackRefusal::StateInvalid, err)
                }
                other => CallbackError::from(other),
            })?;
    }
    if let Some(error) = present(&params.error) {
        // Spend the state (if this browser started it), so it cannot be
        // used after a refusal.
        if let Some(given) = given_state {
            let cookie = cookie.clone();
            let _ = db::run(&state.pool, move |conn| {
                SpotifyService::decline(conn, &given, cookie.as_deref())
            })
            .await;
        }
        let shown: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(CallbackError::refused(
            CallbackRefusal::AccessDenied,
            AppError::invalid(
                "error",
                format!("Spotify did not authorize the connection ({shown})"),
            ),
        ));
    }
    let (Some(code), Some(given)) = (present(&params.code).map(String::from), given_state) else {
        return Err(CallbackError::refused(
            CallbackRefusal::StateInvalid,
            AppError::invalid("query", "code and state are required"),
        ));
    };
    // On the Spotify pool with no per-user turn: the state names the user
    // only once it is consumed.
    state
        .spotify_pool
        .run(Checkout::new(state.pool.clone()), move |db| {
            Ok(SpotifyService::complete(
                db.pool(),
                &spotify,
                &given,
                &code,
                cookie.as_deref(),
            ))
        })
        .await?
}

/// A guessed `state` costs its address: the wrong shape is a 400 with no
/// lookup, an empty login bucket a 429 before the lookup, and one that
/// matches no stored state takes a token from that bucket.
async fn refuse_guessed_state(state: &AppState, client: ClientAddr, given: &str) -> AppResult<()> {
    let invalid = || AppError::invalid("state", "unknown, used or expired; start again");
    if !token_shaped(given, STATE_CHARS) {
        return Err(invalid());
    }
    state.address_limits.refuse_spent_guesser(client).await?;
    let hash = token_hash(given);
    let known = db::run(&state.pool, move |conn| {
        Ok(OAuthState::is_known(conn, &hash)?)
    })
    .await?;
    if !known {
        state.address_limits.charge_guess(client).await;
        return Err(invalid());
    }
    Ok(())
}

/// Whether Spotify is configured here and the caller's account connected.
#[utoipa::path(
    get, path = "/api/providers/spotify", tag = "providers",
    security(("bearer" = [])),
    responses((status = 200, description = "The connection's status", body = ConnectionStatus)),
)]
pub async fn get_connection(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let spotify = state.spotify.clone();
    let status = db::run(&state.pool, move |conn| {
        SpotifyService::status(conn, spotify.as_deref(), &auth.user)
    })
    .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Disconnects: deletes the tokens and logs `provider_disconnect`. Linked
/// playlists stay linked; what needs Spotify answers 409 until the same
/// account connects again.
#[utoipa::path(
    delete, path = "/api/providers/spotify", tag = "providers",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_connection(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> AppResult<HttpResponse> {
    state.spotify()?;
    db::run(&state.pool, move |conn| {
        SpotifyService::disconnect(conn, &auth.user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpotifyListParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
    limit: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 2147483647, default = 0)]
    offset: Option<String>,
}

/// The connected account's Spotify playlists (all of Spotify's pages
/// followed to fill the window); `total` is Spotify's.
#[utoipa::path(
    get, path = "/api/providers/spotify/playlists", tag = "providers",
    security(("bearer" = [])),
    params(SpotifyListParams),
    responses(
        (status = 200, description = "A window of the account's playlists",
            body = CountedPage<SpotifyPlaylist>),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 502, response = UpstreamError),
        (status = 503, response = UpstreamUnavailable),
    ),
)]
pub async fn list_spotify_playlists(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<SpotifyListParams>,
) -> AppResult<HttpResponse> {
    state.spotify()?;
    let mut errors = Vec::new();
    let (limit, offset) = limit_offset(&params.limit, &params.offset, 50, &mut errors);
    AppError::ensure_valid(errors)?;
    let (items, total) = state
        .run_spotify(auth.id(), move |db, spotify| {
            SpotifyService::list(
                db.pool(),
                &spotify,
                &auth.user,
                limit as usize,
                offset as u64,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(CountedPage {
        items,
        total: i64::try_from(total).unwrap_or(i64::MAX),
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// The Spotify playlist's id (base62).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9]+$")]
    spotify_playlist_id: String,
}

/// Imports one of the account's importable Spotify playlists (owned or
/// collaborative) as a linked playlist (`playlist_create` with
/// `provider`); 409 when already linked, when the account only follows it
/// (Spotify only lets this app read playlists you own or collaborate on;
/// nothing is read or stored), or over 10,000 items.
#[utoipa::path(
    post, path = "/api/providers/spotify/import", tag = "providers",
    security(("bearer" = [])),
    request_body = ImportBody,
    responses(
        (status = 201, description = "The linked playlist", body = PlaylistView,
            headers(("Location" = String, description = "`/api/playlists/{id}`"),
                ("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 502, response = UpstreamError),
        (status = 503, response = UpstreamUnavailable),
    ),
)]
pub async fn import_playlist(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<ImportBody>,
) -> AppResult<HttpResponse> {
    state.spotify()?;
    let id = body.into_inner().spotify_playlist_id;
    if id.is_empty() || id.len() > SPOTIFY_ID_MAX || !id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(AppError::invalid(
            "spotify_playlist_id",
            format!("must be 1 to {SPOTIFY_ID_MAX} letters and digits (a Spotify id)"),
        ));
    }
    let view = state
        .run_spotify(auth.id(), move |db, spotify| {
            SpotifyService::import(db.pool(), &spotify, &auth.user, &id)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/playlists/{}", view.id)))
        .insert_header(etag(view.version))
        .json(view))
}

/// Pulls the linked playlist's order from Spotify (`playlist_sync`, with an
/// `auto_pre_sync` snapshot first, so undo reverts it); an unchanged one
/// writes and logs nothing. 409 for a local playlist.
#[utoipa::path(
    post, path = "/api/playlists/{id}/sync", tag = "providers",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    responses(
        (status = 200, description = "The playlist and what changed", body = SyncAnswer,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 412, response = PreconditionFailed),
        (status = 502, response = UpstreamError),
        (status = 503, response = UpstreamUnavailable),
    ),
)]
pub async fn sync_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    state.spotify()?;
    let precondition = if_match(&req);
    let id = path.into_inner();
    let answer = state
        .run_spotify(auth.id(), move |db, spotify| {
            SpotifyService::sync(db.pool(), &spotify, &auth.user, &id, precondition)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(answer.playlist.version))
        .json(answer))
}
