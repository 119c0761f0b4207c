//! Snapshots: `GET|POST /api/playlists/{id}/snapshots`,
//! `GET|DELETE /api/snapshots/{sid}`, `POST /api/snapshots/{sid}/restore`.
//!
//! The list leaves out each snapshot's `track_uris` (up to 10,000 each);
//! `GET /api/snapshots/{sid}` has them.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::error::{AppError, AppResult};
use crate::models::snapshot::Snapshot;
use crate::routes::authenticated::AuthUser;
use crate::routes::error_responses::{Conflict, NotFound, PreconditionFailed, RateLimited};
use crate::routes::params::{
    etag, if_match, optional_body, parse_int, present, IfMatchParam, ItemIdParam, PlaylistIdParam,
};
use crate::routes::responses::Items;
use crate::services::playlists::{PlaylistService, PlaylistView};
use crate::services::snapshots::SnapshotService;
use crate::state::AppState;
use crate::validate;

/// A snapshot in a list: everything but the track URIs.
#[derive(Serialize, ToSchema)]
pub struct SnapshotSummary<'a> {
    id: i64,
    playlist_id: &'a str,
    playlist_name: &'a str,
    track_count: i32,
    snapshot_type: crate::enums::SnapshotType,
    #[schema(required = true)]
    trigger_description: Option<&'a str>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: chrono::NaiveDateTime,
}

impl<'a> From<&'a Snapshot> for SnapshotSummary<'a> {
    fn from(s: &'a Snapshot) -> Self {
        SnapshotSummary {
            id: s.id,
            playlist_id: &s.playlist_id,
            playlist_name: &s.playlist_name,
            track_count: s.track_count,
            snapshot_type: s.snapshot_type,
            trigger_description: s.trigger_description.as_deref(),
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
}

/// A playlist's snapshots, newest first, without their track URIs.
#[utoipa::path(
    get, path = "/api/playlists/{id}/snapshots", tag = "snapshots",
    security(("bearer" = [])),
    params(PlaylistIdParam, ListParams),
    responses(
        (status = 200, description = "The snapshots", body = Items<SnapshotSummary>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list_snapshots(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let limit = parse_int("limit", present(&params.limit), 20i64, 1, 100, &mut errors);
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let snapshots = db::run(&state.pool, move |conn| {
        PlaylistService::owned(conn, auth.id(), &id)?;
        Ok(Snapshot::list_for_playlist(conn, &id, limit)?)
    })
    .await?;
    let items: Vec<SnapshotSummary> = snapshots.iter().map(SnapshotSummary::from).collect();
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateSnapshotBody)]
pub struct CreateBody {
    #[schema(schema_with = validate::schema::nullable_snapshot_description)]
    trigger_description: Option<String>,
}

/// Saves the playlist's current order as a `manual` snapshot
/// (`snapshot_create`); at most 50 per playlist.
#[utoipa::path(
    post, path = "/api/playlists/{id}/snapshots", tag = "snapshots",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    request_body(content = Option<CreateBody>, description = "May be empty"),
    responses(
        (status = 201, description = "The snapshot", body = Snapshot,
            headers(("Location" = String, description = "`/api/snapshots/{sid}`")),
            links(
                ("get_snapshot" = (operation_id = "get_snapshot", parameters(("sid" = "$response.body#/id")))),
                ("restore_snapshot" = (operation_id = "restore_snapshot", parameters(("sid" = "$response.body#/id")))),
                ("delete_snapshot" = (operation_id = "delete_snapshot", parameters(("sid" = "$response.body#/id")))),
            )),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_snapshot(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let body: CreateBody = optional_body(&body)?;
    let mut errors = Vec::new();
    validate::SNAPSHOT_DESCRIPTION.check_optional(
        "trigger_description",
        body.trigger_description.as_deref(),
        &mut errors,
    );
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let snapshot = db::run(&state.pool, move |conn| {
        SnapshotService::create_manual(conn, &auth.user, &id, body.trigger_description)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/snapshots/{}", snapshot.id)))
        .json(snapshot))
}

/// A snapshot with its track URIs.
#[utoipa::path(
    get, path = "/api/snapshots/{sid}", tag = "snapshots",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 200, description = "The snapshot", body = Snapshot),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_snapshot(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let snapshot = db::run(&state.pool, move |conn| {
        SnapshotService::owned(conn, auth.id(), id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(snapshot))
}

/// Deletes a snapshot (`snapshot_delete`).
#[utoipa::path(
    delete, path = "/api/snapshots/{sid}", tag = "snapshots",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_snapshot(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        SnapshotService::delete(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Puts the snapshot's order back into its playlist (`snapshot_restore`),
/// after an `auto_pre_restore` snapshot.
#[utoipa::path(
    post, path = "/api/snapshots/{sid}/restore", tag = "snapshots",
    security(("bearer" = [])),
    params(ItemIdParam, IfMatchParam),
    responses(
        (status = 200, description = "The playlist as restored", body = PlaylistView,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn restore_snapshot(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let precondition = if_match(&req);
    let id = path.into_inner();
    let view = state
        .run_rewrite(auth.id(), move |db, spotify| {
            SnapshotService::restore(db, spotify, &auth.user, id, precondition.clone())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view))
}
