//! The workshop: preview, commit, and sessions.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use crate::db;
use crate::error::{AppError, AppResult, FieldError};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::params::{etag, if_match, not_null, nullable};
use crate::routes::responses::{Items, Preview};
use crate::services::playlists::MAX_TRACKS;
use crate::services::shuffle::service::parse_optional_seed;
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
    if !uris
        .iter()
        .all(|u| !u.trim().is_empty() && validate::TRACK_URI.fits(u))
    {
        errors.push(FieldError::new(
            field,
            format!("every URI {}", validate::TRACK_URI.message()),
        ));
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    algorithm: String,
    params: Option<Value>,
    seed: Option<Value>,
    track_uris: Option<Vec<String>>,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    track_uris: Vec<String>,
}

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
        .run_rewrite(move |conn| {
            WorkshopService::commit(conn, &auth.user, &id, &uris, precondition)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(outcome.playlist.version))
        .json(outcome))
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionBody {
    session_name: String,
    #[serde(default)]
    track_uris: Vec<String>,
}

pub async fn create_session(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<CreateSessionBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    validate::SESSION_NAME.check("session_name", body.session_name.trim(), &mut errors);
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSessionBody {
    #[serde(default, deserialize_with = "nullable")]
    session_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    track_uris: Option<Option<Vec<String>>>,
}

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
        validate::SESSION_NAME.check("session_name", name.trim(), &mut errors);
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
