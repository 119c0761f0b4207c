//! `GET /api/me`.

use actix_web::HttpResponse;

use crate::models::user::PublicUser;
use crate::routes::authenticated::AuthUser;

/// The caller's account.
#[utoipa::path(
    get, path = "/api/me", tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = PublicUser)),
)]
pub async fn get_me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(auth.user.public())
}
