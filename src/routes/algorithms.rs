//! `GET /api/algorithms`: the shuffle algorithms and their parameters.

use actix_web::HttpResponse;

use crate::routes::authenticated::AuthUser;
use crate::routes::responses::Items;
use crate::services::shuffle::{all, describe, AlgorithmInfo};

/// The seven shuffle algorithms and their parameters.
///
/// `{items}`, like every list (docs/api.md, "API conventions").
#[utoipa::path(
    get, path = "/api/algorithms", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, description = "The seven algorithms", body = Items<AlgorithmInfo>)),
)]
pub async fn list_algorithms(_auth: AuthUser) -> HttpResponse {
    let items: Vec<AlgorithmInfo> = all().iter().map(|a| describe(*a)).collect();
    HttpResponse::Ok().json(Items::new(items))
}
