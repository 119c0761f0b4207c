//! `GET /api/algorithms`: the shuffle algorithms and their parameters.

use actix_web::HttpResponse;

use crate::routes::authenticated::AuthUser;
use crate::services::shuffle::{all, describe, AlgorithmInfo};

pub async fn list_algorithms(_auth: AuthUser) -> HttpResponse {
    let items: Vec<AlgorithmInfo> = all().iter().map(|a| describe(*a)).collect();
    HttpResponse::Ok().json(items)
}
