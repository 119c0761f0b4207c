//! `GET /api/me`.

use actix_web::HttpResponse;

use crate::routes::authenticated::AuthUser;

pub async fn get_me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(auth.user.public())
}
