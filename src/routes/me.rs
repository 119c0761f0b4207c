//! `GET /api/me` and `PATCH /api/me` (the caller's profile), `POST
//! /api/me/password`, and the caller's sessions: `GET /api/me/sessions`,
//! `DELETE /api/me/sessions/{id}`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::client_addr::ClientAddr;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::user::PublicUser;
use crate::models::AuthSession;
use crate::routes::account::confirm_password;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{
    Conflict, NotFound, RateLimited, UnauthorizedOrWrongPassword,
};
use crate::routes::params::nullable;
use crate::routes::responses::Items;
use crate::services::profile::{ProfileChange, ProfileService};
use crate::state::AppState;
use crate::validate;

/// The caller's account.
#[utoipa::path(
    get, path = "/api/me", tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = PublicUser)),
)]
pub async fn get_me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(auth.user.public())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateMeBody)]
pub struct UpdateMeBody {
    /// 1 to 100 characters once trimmed (stored trimmed); `null` sets it
    /// back to the username.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::nullable_display_name)]
    display_name: Option<Option<String>>,
    /// An email address, at most 254 characters; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::nullable_email)]
    email: Option<Option<String>>,
}

/// Changes the caller's display name or email (absent fields stay as they
/// are) and logs `profile_update` with what changed; a change that changes
/// nothing logs nothing.
#[utoipa::path(
    patch, path = "/api/me", tag = "account",
    security(("bearer" = [])),
    request_body = UpdateMeBody,
    responses((status = 200, description = "The caller as they now are", body = PublicUser)),
)]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<UpdateMeBody>,
) -> AppResult<HttpResponse> {
    let UpdateMeBody {
        display_name,
        email,
    } = body.into_inner();
    let mut errors = Vec::new();
    if let Some(Some(name)) = &display_name {
        validate::DISPLAY_NAME.check_trimmed("display_name", name, &mut errors);
    }
    if let Some(Some(email)) = &email {
        validate::check_email("email", email, &mut errors);
    }
    AppError::ensure_valid(errors)?;
    let change = ProfileChange {
        display_name: display_name.map(|name| name.map(|n| n.trim().to_string())),
        email,
    };
    let user_id = auth.id();
    let user = db::run(&state.pool, move |conn| {
        ProfileService::update(conn, user_id, &change)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user.public()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The password now, to confirm.
    #[schema(schema_with = validate::schema::login_password)]
    current_password: String,
    /// 8 to 128 characters.
    #[schema(schema_with = validate::schema::password)]
    new_password: String,
}

/// Changes the caller's password and ends every other session of theirs
/// (their tokens answer 401 "revoked" from then on); the calling token
/// keeps working. Logs `password_change` with `sessions_ended`.
///
/// The current password is checked as a login checks it: the address's
/// login bucket and the username's lockout apply (429), and a wrong one
/// counts toward the lockout and logs `login_failed`. A wrong password is
/// a 401 without `WWW-Authenticate` (the token still works).
#[utoipa::path(
    post, path = "/api/me/password", tag = "account",
    security(("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 204, description = "Changed; the other sessions are ended"),
        (status = 401, response = UnauthorizedOrWrongPassword),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn change_password(
    client: ClientAddr,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<ChangePasswordBody>,
) -> AppResult<HttpResponse> {
    let ChangePasswordBody {
        current_password,
        new_password,
    } = body.into_inner();
    let mut errors = Vec::new();
    validate::LOGIN_PASSWORD.check("current_password", &current_password, &mut errors);
    validate::PASSWORD.check("new_password", &new_password, &mut errors);
    AppError::ensure_valid(errors)?;
    confirm_password(client, &state, &auth, current_password).await?;
    let username = auth.user.username.clone();
    // A right password proves the user, as a login does.
    state.throttle.clear(&username).await;
    let hash = state.passwords.hash(new_password).await?;
    db::run(&state.pool, move |conn| {
        ProfileService::change_password(conn, &auth.user, auth.session.id, &hash)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One of the caller's live sessions.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub id: i64,
    /// When its login happened.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: NaiveDateTime,
    /// The client's address at login.
    #[schema(required = true)]
    pub ip_address: Option<String>,
    /// The `User-Agent` of its login.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}

impl SessionView {
    fn of(session: AuthSession, current: i64) -> Self {
        SessionView {
            current: session.id == current,
            id: session.id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            ip_address: session.ip_address,
            user_agent: session.user_agent,
        }
    }
}

/// The caller's live sessions (not ended, not expired), newest first, with
/// the address and `User-Agent` of their login.
#[utoipa::path(
    get, path = "/api/me/sessions", tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The live sessions", body = Items<SessionView>)),
)]
pub async fn list_my_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> AppResult<HttpResponse> {
    let (user_id, current) = (auth.id(), auth.session.id);
    let sessions = db::run(&state.pool, move |conn| {
        ProfileService::sessions(conn, user_id)
    })
    .await?;
    let items = sessions
        .into_iter()
        .map(|s| SessionView::of(s, current))
        .collect();
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

/// `{id}` of a session.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionIdParam {
    /// A session's `id`, as `GET /api/me/sessions` lists it.
    pub id: i64,
}

/// Ends another of the caller's sessions: its token answers 401
/// "revoked" from then on. Logs `logout` whose `metadata.session_id` is
/// the ended session (the row's `context.session_id` is the caller's).
/// The calling session is a 409 (end it with `POST /api/auth/logout`).
#[utoipa::path(
    delete, path = "/api/me/sessions/{id}", tag = "account",
    security(("bearer" = [])),
    params(SessionIdParam),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn end_my_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        ProfileService::end_session(conn, &auth.user, auth.session.id, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
