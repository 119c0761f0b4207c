//! The workshop: preview, commit, and sessions.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult, FieldError};
use crate::models::workshop_session::WorkshopSession;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{Conflict, NotFound, PreconditionFailed, RateLimited};
use crate::routes::params::{
    etag, if_match, not_null, nullable, IfMatchParam, ItemIdParam, PlaylistIdParam,
};
use crate::routes::responses::{Items, Preview};
use crate::services::playlists::{PlaylistChange, MAX_TRACKS};
use crate::services::shuffle::service::parse_optional_seed;
use crate::services::shuffle::{AlgorithmKey, AlgorithmParams, Seed};
use crate::services::workshop::WorkshopService;
use crate::state::AppState;
use crate::validate;

/// A URI list's size and entries (the body's shape; whether the tracks
/// exist is the service's question).
fn validate_uris(field: &str, uris: &[String], errors: &mut Vec<FieldError>) {
    if uris.len() > MAX_TRACKS {
        errors.push(FieldError::new(
            field,
            format!("at most {MAX_TRACKS} tracks"),
        ));
    }
    if !uris.iter().all(|u| validate::TRACK_URI.fits_trimmed(u)) {
        errors.push(FieldError::new(
            field,
            format!("every URI {}", validate::TRACK_URI.message()),
        ));
    }
}

/// A list of track URIs in the API's description: [`validate_uris`]'s rule.
fn track_uris_schema() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(validate::schema::track_uri())
        .max_items(Some(MAX_TRACKS))
}

fn nullable_track_uris_schema() -> ArrayBuilder {
    track_uris_schema().schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    #[schema(value_type = AlgorithmKey)]
    algorithm: String,
    #[schema(value_type = Option<AlgorithmParams>)]
    params: Option<Value>,
    #[schema(value_type = Option<Seed>)]
    seed: Option<Value>,
    /// The order to shuffle (catalog URIs); the playlist's own when absent.
    #[schema(schema_with = nullable_track_uris_schema)]
    track_uris: Option<Vec<String>>,
}

/// The order an algorithm would give; nothing is stored or logged.
#[utoipa::path(
    post, path = "/api/playlists/{id}/workshop/preview", tag = "workshop",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    request_body = PreviewBody,
    responses(
        (status = 200, description = "The previewed order", body = Preview),
        (status = 404, response = NotFound),
    ),
)]
pub async fn preview(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<PreviewBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    if let Some(uris) = &body.track_uris {
        validate_uris("track_uris", uris, &mut errors);
    }
    let seed = parse_optional_seed(body.seed.as_ref()).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let order = db::run(&state.pool, move |conn| {
        WorkshopService::preview(
            conn,
            &auth.user,
            &id,
            &body.algorithm,
            body.params.as_ref(),
            seed,
            body.track_uris.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(Preview { track_uris: order }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    /// The new order: URIs in the catalog (unknown ones are a 400 naming them).
    #[schema(schema_with = track_uris_schema)]
    track_uris: Vec<String>,
}

/// Writes an order to the playlist (`workshop_commit`), after an
/// `auto_pre_commit` snapshot.
#[utoipa::path(
    post, path = "/api/playlists/{id}/workshop/commit", tag = "workshop",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    request_body = CommitBody,
    responses(
        (status = 200, description = "The playlist, whether it changed, and the automatic snapshot",
            body = PlaylistChange,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn commit(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<CommitBody>,
) -> AppResult<HttpResponse> {
    let uris = body.into_inner().track_uris;
    let mut errors = Vec::new();
    validate_uris("track_uris", &uris, &mut errors);
    AppError::ensure_valid(errors)?;
    let precondition = if_match(&req);
    let id = path.into_inner();
    let outcome = state
        .run_rewrite(auth.id(), move |db, spotify| {
            WorkshopService::commit(db, spotify, &auth.user, &id, &uris, precondition.clone())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(outcome.playlist.version))
        .json(outcome))
}

/// The caller's saved sessions of a playlist.
#[utoipa::path(
    get, path = "/api/playlists/{id}/workshop/sessions", tag = "workshop",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    responses(
        (status = 200, description = "The sessions", body = Items<WorkshopSession>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let items = db::run(&state.pool, move |conn| {
        WorkshopService::list_sessions(conn, &auth.user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionBody {
    #[schema(schema_with = validate::schema::session_name)]
    session_name: String,
    #[serde(default)]
    #[schema(schema_with = track_uris_schema)]
    track_uris: Vec<String>,
}

/// Saves a named draft of an order (`workshop_session_save`); at most 10
/// per playlist and 100 in all.
#[utoipa::path(
    post, path = "/api/playlists/{id}/workshop/sessions", tag = "workshop",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    request_body = CreateSessionBody,
    responses(
        (status = 201, description = "The session", body = WorkshopSession,
            headers(("Location" = String, description = "`/api/workshop/sessions/{sid}`")),
            links(
                ("get_session" = (operation_id = "get_session", parameters(("sid" = "$response.body#/id")))),
                ("update_session" = (operation_id = "update_session", parameters(("sid" = "$response.body#/id")))),
                ("delete_session" = (operation_id = "delete_session", parameters(("sid" = "$response.body#/id")))),
            )),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<CreateSessionBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    validate::SESSION_NAME.check_trimmed("session_name", &body.session_name, &mut errors);
    validate_uris("track_uris", &body.track_uris, &mut errors);
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let session = db::run(&state.pool, move |conn| {
        WorkshopService::create_session(conn, &auth.user, &id, &body.session_name, &body.track_uris)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/workshop/sessions/{}", session.id),
        ))
        .json(session))
}

/// A saved session.
#[utoipa::path(
    get, path = "/api/workshop/sessions/{sid}", tag = "workshop",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 200, description = "The session", body = WorkshopSession),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let session = db::run(&state.pool, move |conn| {
        WorkshopService::session(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Absent fields stay as they are; neither may be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSessionBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::session_name)]
    session_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = track_uris_schema)]
    track_uris: Option<Option<Vec<String>>>,
}

/// Renames a session or replaces its order (`workshop_session_save`).
#[utoipa::path(
    patch, path = "/api/workshop/sessions/{sid}", tag = "workshop",
    security(("bearer" = [])),
    params(ItemIdParam),
    request_body = UpdateSessionBody,
    responses(
        (status = 200, description = "The session as it now is", body = WorkshopSession),
        (status = 404, response = NotFound),
    ),
)]
pub async fn update_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
    body: Json<UpdateSessionBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let name = not_null("session_name", body.session_name, &mut errors);
    let uris = not_null("track_uris", body.track_uris, &mut errors);
    if let Some(name) = &name {
        validate::SESSION_NAME.check_trimmed("session_name", name, &mut errors);
    }
    if let Some(uris) = &uris {
        validate_uris("track_uris", uris, &mut errors);
    }
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let session = db::run(&state.pool, move |conn| {
        WorkshopService::update_session(conn, &auth.user, id, name.as_deref(), uris.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Deletes a session (`workshop_session_delete`).
#[utoipa::path(
    delete, path = "/api/workshop/sessions/{sid}", tag = "workshop",
    security(("bearer" = [])),
    params(ItemIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        WorkshopService::delete_session(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
