//! `POST /api/auth/register`, `/login`, `/logout`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::user::PublicUser;
use crate::routes::authenticated::AuthUser;
use crate::services::activity_log::truncate_chars;
use crate::services::auth::{AuthService, ClientInfo, LoginOutcome, Registration};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    username: String,
    password: String,
    display_name: Option<String>,
    email: Option<String>,
}

pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let registration = Registration {
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        email: body.email,
    };
    registration.validate()?;
    let user = db::run(&state.pool, move |conn| {
        AuthService::register(conn, &registration)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/me"))
        .json(user.public()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    expires_at: chrono::NaiveDateTime,
    user: PublicUser,
}

fn client_info(req: &HttpRequest) -> ClientInfo {
    // The socket peer, not a forwarded-for header a client can write.
    let ip_address = req
        .peer_addr()
        .map(|a| truncate_chars(&a.ip().to_string(), 45).to_string());
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

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> AppResult<HttpResponse> {
    let LoginBody { username, password } = body.into_inner();
    if let Err(retry_after_secs) = state.throttle.check(&username) {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let client = client_info(&req);
    let ttl = chrono::Duration::hours(state.settings.session_ttl_hours);
    let name = username.clone();
    let outcome = db::run(&state.pool, move |conn| {
        AuthService::login(conn, &name, &password, &client, ttl)
    })
    .await?;
    match outcome {
        LoginOutcome::Success(login) => {
            state.throttle.clear(&username);
            Ok(HttpResponse::Ok().json(LoginResponse {
                expires_at: login.session.expires_at,
                user: login.user.public(),
                token: login.token,
            }))
        }
        LoginOutcome::WrongPassword | LoginOutcome::UnknownUser => {
            state.throttle.record_failure(&username);
            Err(AppError::BadCredentials)
        }
    }
}

pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    db::run(&state.pool, move |conn| {
        AuthService::logout(conn, &auth.session, &auth.user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
