//! `POST /api/auth/register`, `/login`, `/logout`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client_addr::ClientAddr;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::user::PublicUser;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{Conflict, RateLimited, Unauthorized};
use crate::services::auth::{validate_login, AuthService, ClientInfo, NewLogin, Registration};
use crate::state::AppState;
use crate::validate;
use crate::validate::truncate_chars;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// Taken as given: 3–32 characters of `a-z0-9_.-` (uppercase is a 400).
    #[schema(schema_with = validate::schema::username)]
    username: String,
    #[schema(schema_with = validate::schema::password)]
    password: String,
    /// Defaults to the username.
    #[schema(schema_with = validate::schema::nullable_display_name)]
    display_name: Option<String>,
    #[schema(schema_with = validate::schema::nullable_email)]
    email: Option<String>,
}

/// Creates an account.
///
/// Validates, draws from the address's registration bucket, hashes the
/// password outside any connection, then stores the user. Logs nothing.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new account", body = PublicUser,
            headers(("Location" = String, description = "`/api/me`"))),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn register(
    client: ClientAddr,
    state: web::Data<AppState>,
    body: Json<RegisterBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let registration = Registration {
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        email: body.email,
    };
    registration.validate()?;
    state.address_limits.check_register(client).await?;
    let hash = state.passwords.hash(registration.password.clone()).await?;
    let user = db::run(&state.pool, move |conn| {
        AuthService::register_hashed(conn, &registration, &hash)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/me"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(user.public()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(schema_with = validate::schema::username)]
    username: String,
    #[schema(schema_with = validate::schema::login_password)]
    password: String,
}

/// A session just opened.
#[derive(Serialize, ToSchema)]
#[schema(as = Login)]
pub struct LoginResponse {
    /// The bearer token: 43 characters of unpadded base64url, shown once.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    expires_at: chrono::NaiveDateTime,
    user: PublicUser,
}

fn client_info(req: &HttpRequest, client: ClientAddr) -> ClientInfo {
    // The full address, behind trusted proxies what they forwarded.
    let ip_address = client
        .to_text()
        .map(|ip| truncate_chars(&ip, 45).to_string());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate_chars(ua, 512).to_string());
    ClientInfo {
        ip_address,
        user_agent,
    }
}

/// Opens a session and answers its bearer token.
///
/// A login, in the order that keeps attackers cheap (docs/architecture.md, "Limits, addresses and guesses"):
/// shape (400), the address's bucket, the name's throttle (an attempt is
/// reserved before its password is checked), one short checkout to find
/// the user, the password check on a bounded hashing slot with no
/// connection held, then one short transaction to record the outcome.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The session's token", body = LoginResponse),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn login(
    req: HttpRequest,
    client: ClientAddr,
    state: web::Data<AppState>,
    body: Json<LoginBody>,
) -> AppResult<HttpResponse> {
    let LoginBody { username, password } = body.into_inner();
    validate_login(&username, &password)?;
    state.address_limits.check_login(client).await?;
    state.throttle.reserve(&username).await?;
    match check_login(&req, client, &state, &username, password).await {
        Ok(Some(login)) => {
            state.throttle.clear(&username).await;
            // A bearer token: no cache may keep it.
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(LoginResponse {
                    expires_at: login.session.expires_at,
                    user: login.user.public(),
                    token: login.token,
                }))
        }
        // The reservation stays: it was a real failed attempt.
        Ok(None) => Err(AppError::BadCredentials),
        Err(err) => {
            // The password was never judged (no hashing slot, a database
            // error): the attempt does not count against the name.
            state.throttle.release(&username).await;
            Err(err)
        }
    }
}

/// The session a login opens, or `None` for bad credentials.
async fn check_login(
    req: &HttpRequest,
    client: ClientAddr,
    state: &AppState,
    username: &str,
    password: String,
) -> AppResult<Option<NewLogin>> {
    let name = username.to_string();
    let user = db::run(&state.pool, move |conn| {
        AuthService::login_candidate(conn, &name)
    })
    .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matched = state.passwords.verify(password, hash).await?;
    let Some(user) = user else {
        return Ok(None);
    };
    if !matched {
        db::run(&state.pool, move |conn| {
            AuthService::record_failed_login(conn, &user);
            Ok(())
        })
        .await?;
        return Ok(None);
    }
    let client = client_info(req, client);
    // `try_hours`: an hour count too large for a duration is capped by
    // `open_session` rather than panicking here.
    let ttl = chrono::Duration::try_hours(state.settings.session_ttl_hours)
        .unwrap_or(chrono::Duration::MAX);
    let login = db::run(&state.pool, move |conn| {
        AuthService::open_session(conn, &user, &client, ttl)
    })
    .await?;
    Ok(Some(login))
}

/// Revokes the calling token.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "The token no longer works")),
)]
pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    db::run(&state.pool, move |conn| {
        AuthService::logout(conn, &auth.session, &auth.user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
