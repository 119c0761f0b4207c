//! Upstream sources: `GET|POST /api/playlists/{id}/upstream-sources`,
//! `DELETE /api/upstream-sources/{sid}`.

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::enums::SourceType;
use crate::error::{AppError, AppResult};
use crate::models::upstream_source::UpstreamSource;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{Conflict, NotFound, UpstreamError, UpstreamUnavailable};
use crate::routes::params::{ItemIdParam, PlaylistIdParam};
use crate::routes::responses::Items;
use crate::services::upstream::{SourceInput, UpstreamService, LIKED_ID};
use crate::state::AppState;
use crate::validate;

/// The playlists that feed this one's raids.
#[utoipa::path(
    get, path = "/api/playlists/{id}/upstream-sources", tag = "upstream",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    responses(
        (status = 200, description = "The sources", body = Items<UpstreamSource>),
        (status = 404, response = NotFound),
    ),
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AddSourceBody)]
pub struct AddBody {
    /// A playlist the caller may read (their own, or a public one), not the
    /// target; with `source_type: spotify`, the id of a Spotify playlist the
    /// connected account owns or collaborates on (Spotify lets this app read
    /// no other: one it only follows is a 400); with `source_type:
    /// spotify_liked`, `liked` (the connected account's Liked Songs).
    #[schema(schema_with = validate::schema::text)]
    source_playlist_id: String,
    source_type: Option<SourceType>,
    #[schema(schema_with = validate::schema::nullable_source_url)]
    source_url: Option<String>,
    #[schema(schema_with = validate::schema::nullable_source_name)]
    source_name: Option<String>,
}

/// Adds an upstream source (`upstream_source_add`, only when created);
/// idempotent: 201 with a new source, 200 with the one that already
/// existed. At most 20 per playlist.
#[utoipa::path(
    post, path = "/api/playlists/{id}/upstream-sources", tag = "upstream",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    request_body = AddBody,
    responses(
        (status = 201, description = "The new source", body = UpstreamSource,
            headers(("Location" = String, description = "`/api/upstream-sources/{sid}`")),
            links(
                ("get_source" = (operation_id = "get_source", parameters(("sid" = "$response.body#/id")))),
                ("delete_source" = (operation_id = "delete_source", parameters(("sid" = "$response.body#/id")))),
            )),
        (status = 200, description = "The source as it already was", body = UpstreamSource,
            headers(("Location" = String, description = "`/api/upstream-sources/{sid}`"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 502, response = UpstreamError),
        (status = 503, response = UpstreamUnavailable),
    ),
)]
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
    let (source, created) = if input.source_type == Some(SourceType::SpotifyLiked) {
        state.spotify()?;
        if input.source_playlist_id != LIKED_ID {
            return Err(AppError::invalid(
                "source_playlist_id",
                "with source_type spotify_liked, the source is \"liked\" (your Liked Songs)",
            ));
        }
        db::run(&state.pool, move |conn| {
            UpstreamService::add_spotify_liked(conn, &auth.user, &id, &input)
        })
        .await?
    } else if input.source_type == Some(SourceType::Spotify) {
        let spotify = state.spotify()?;
        if !spotify_id(&input.source_playlist_id) {
            return Err(AppError::invalid(
                "source_playlist_id",
                "a Spotify playlist id: 1 to 64 letters and digits",
            ));
        }
        // On the Spotify pool (one read of Spotify, outside the per-user
        // count of operations).
        state
            .spotify_pool
            .run(db::Checkout::new(state.pool.clone()), move |db| {
                UpstreamService::add_spotify(db.pool(), &spotify, &auth.user, &id, &input)
            })
            .await?
    } else {
        db::run(&state.pool, move |conn| {
            UpstreamService::add(conn, &auth.user, &id, &input)
        })
        .await?
    };
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

/// Whether `id` looks like a Spotify id (they are 22 base62 characters).
fn spotify_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The source a `Location` points at; another user's answers 404.
#[utoipa::path(
    get, path = "/api/upstream-sources/{sid}", tag = "upstream",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 200, description = "The source", body = UpstreamSource),
        (status = 404, response = NotFound),
    ),
)]
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

/// Removes an upstream source (`upstream_source_delete`).
#[utoipa::path(
    delete, path = "/api/upstream-sources/{sid}", tag = "upstream",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
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
