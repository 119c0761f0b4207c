//! The bearer-token extractor every `/api/*` route but register and login
//! takes. A missing, unknown, expired or revoked token answers 401 with
//! `WWW-Authenticate: Bearer`. Read handlers take [`Bearer`] instead and
//! authenticate on the connection their own query runs on.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::models::{AuthSession, User};
use crate::services::auth::AuthService;
use crate::state::AppState;

/// The caller, proven by their token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    pub session: AuthSession,
}

impl AuthUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }
}

/// The `Authorization: Bearer` token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// A request's bearer token, present and of a plausible length but not yet
/// looked up. Read handlers take this instead of [`AuthUser`] and call
/// [`Bearer::run`], which checks the token and runs their statements on one
/// connection in one trip to the blocking pool: a trip costs more than a
/// small query does (STYLE, "Known pitfalls"), and an authenticated read
/// then makes two round trips, the token's and its own (SPEC §10.12).
pub struct Bearer {
    token: String,
    pool: db::Pool,
}

impl Bearer {
    /// Authenticates the token (401 when it is not live), then runs `f`
    /// with the caller on the same connection. Validate the request's
    /// parameters inside `f`, so that a bad token answers 401 before a bad
    /// parameter answers 400, as with [`AuthUser`].
    pub async fn run<T, F>(self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection, AuthUser) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let token = self.token;
        db::run(&self.pool, move |conn| {
            let (session, user) =
                AuthService::authenticate(conn, &token)?.ok_or(AppError::Unauthorized)?;
            f(conn, AuthUser { user, session })
        })
        .await
    }
}

impl FromRequest for Bearer {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>();
        ready(match (token, state) {
            // Real tokens are 43 characters; anything far off is not looked up.
            (Some(token), Some(state)) if token.len() <= 128 => Ok(Bearer {
                token,
                pool: state.pool.clone(),
            }),
            _ => Err(AppError::Unauthorized),
        })
    }
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bearer = Bearer::from_request(req, payload).into_inner();
        Box::pin(async move { bearer?.run(|_, auth| Ok(auth)).await })
    }
}
