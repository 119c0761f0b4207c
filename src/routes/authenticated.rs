//! The bearer-token extractor every `/api/*` route but register and login
//! takes. A missing, unknown, expired or revoked token answers 401 with
//! `WWW-Authenticate: Bearer`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use crate::db;
use crate::error::AppError;
use crate::models::{AuthSession, User};
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

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(AppError::Unauthorized);
            };
            // Real tokens are 43 characters; anything far off is not looked up.
            if token.len() > 128 {
                return Err(AppError::Unauthorized);
            }
            let found = db::run(&state.pool, move |conn| {
                crate::services::auth::AuthService::authenticate(conn, &token)
            })
            .await?;
            let (session, user) = found.ok_or(AppError::Unauthorized)?;
            Ok(AuthUser { user, session })
        })
    }
}
