//! Upstream sources: `GET|POST /api/playlists/{id}/upstream-sources`,
//! `DELETE /api/upstream-sources/{sid}`.

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;

use crate::db;
use crate::enums::SourceType;
use crate::error::{AppError, AppResult};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::responses::Items;
use crate::services::upstream::{SourceInput, UpstreamService};
use crate::state::AppState;
use crate::validate;

pub async fn list_sources(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let items = db::run(&state.pool, move |conn| {
        UpstreamService::list(conn, &auth.user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    source_playlist_id: String,
    source_type: Option<SourceType>,
    source_url: Option<String>,
    source_name: Option<String>,
}

/// 201 with a new source, 200 with the one that already existed.
pub async fn add_source(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<AddBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    validate::SOURCE_URL.check_optional("source_url", body.source_url.as_deref(), &mut errors);
    validate::SOURCE_NAME.check_optional("source_name", body.source_name.as_deref(), &mut errors);
    AppError::ensure_valid(errors)?;
    let input = SourceInput {
        source_playlist_id: body.source_playlist_id.trim().to_string(),
        source_type: body.source_type,
        source_url: body.source_url,
        source_name: body.source_name,
    };
    let id = path.into_inner();
    let (source, created) = db::run(&state.pool, move |conn| {
        UpstreamService::add(conn, &auth.user, &id, &input)
    })
    .await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((
            header::LOCATION,
            format!("/api/upstream-sources/{}", source.id),
        ))
        .json(source))
}

/// The source a `Location` points at; another user's answers 404.
pub async fn get_source(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let source = db::run(&state.pool, move |conn| {
        UpstreamService::owned(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(source))
}

pub async fn delete_source(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        UpstreamService::delete(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
