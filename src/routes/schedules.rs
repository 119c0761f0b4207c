//! `/api/schedules`: create, list, read, update, delete, toggle, run now,
//! history.

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::enums::{JobType, ScheduleType};
use crate::error::{AppError, AppResult};
use crate::models::job_execution::JobExecution;
use crate::models::schedule::Schedule;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{Conflict, NotFound};
use crate::routes::params::{not_null, nullable, parse_int, present, ScheduleIdParam};
use crate::routes::responses::Items;
use crate::services::job_executor::{JobExecutor, Trigger};
use crate::services::schedules::{ScheduleInput, SchedulePatch, ScheduleService};
use crate::services::shuffle::{AlgorithmKey, AlgorithmParams};
use crate::state::AppState;
use crate::validate;

/// A new schedule. Raid jobs need sources (given, or the target's
/// upstream sources); shuffle jobs need an algorithm.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateScheduleBody)]
pub struct CreateBody {
    job_type: JobType,
    /// One of the caller's playlists.
    #[schema(schema_with = validate::schema::text)]
    target_playlist_id: String,
    /// `interval` when absent.
    schedule_type: Option<ScheduleType>,
    /// An interval (`every_6h`, `every_12h`, `daily`, `every_3d`, `weekly`;
    /// `daily` when absent) or a five-field cron expression in UTC.
    #[schema(schema_with = validate::schema::nullable_schedule_value)]
    schedule_value: Option<String>,
    /// Playlists the caller may read; at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    source_playlist_ids: Vec<String>,
    #[schema(value_type = Option<AlgorithmKey>)]
    algorithm_name: Option<String>,
    #[schema(value_type = Option<AlgorithmParams>)]
    algorithm_params: Option<Value>,
    is_enabled: Option<bool>,
}

/// Creates a schedule (`schedule_create`); at most 5 per user.
#[utoipa::path(
    post, path = "/api/schedules", tag = "schedules",
    security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The schedule", body = Schedule,
            headers(("Location" = String, description = "`/api/schedules/{id}`")),
            links(
                ("get_schedule" = (operation_id = "get_schedule", parameters(("id" = "$response.body#/id")))),
                ("update_schedule" = (operation_id = "update_schedule", parameters(("id" = "$response.body#/id")))),
                ("toggle_schedule" = (operation_id = "toggle_schedule", parameters(("id" = "$response.body#/id")))),
                ("run_schedule" = (operation_id = "run_schedule", parameters(("id" = "$response.body#/id")))),
                ("schedule_history" = (operation_id = "schedule_history", parameters(("id" = "$response.body#/id")))),
                ("delete_schedule" = (operation_id = "delete_schedule", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<CreateBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let input = ScheduleInput {
        job_type: body.job_type,
        target_playlist_id: body.target_playlist_id,
        schedule_type: body.schedule_type.unwrap_or(ScheduleType::Interval),
        schedule_value: body
            .schedule_value
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "daily".into()),
        source_playlist_ids: body.source_playlist_ids,
        algorithm_name: body.algorithm_name,
        algorithm_params: body.algorithm_params.unwrap_or_else(|| json!({})),
        is_enabled: body.is_enabled.unwrap_or(true),
    };
    let schedule = db::run(&state.pool, move |conn| {
        ScheduleService::create(conn, &auth.user, &input)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/schedules/{}", schedule.id)))
        .json(schedule))
}

/// The caller's schedules.
#[utoipa::path(
    get, path = "/api/schedules", tag = "schedules",
    security(("bearer" = [])),
    responses((status = 200, description = "The schedules", body = Items<Schedule>)),
)]
pub async fn list_schedules(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, move |conn| {
        Ok(Schedule::list(conn, auth.id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

/// A schedule.
#[utoipa::path(
    get, path = "/api/schedules/{id}", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let schedule = db::run(&state.pool, move |conn| {
        ScheduleService::owned(conn, auth.id(), id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(schedule))
}

/// Absent fields stay as they are; only `algorithm_name` may be `null`
/// (it clears it). The merged schedule is checked as a new one would be.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateScheduleBody)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = JobType)]
    job_type: Option<Option<JobType>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::text)]
    target_playlist_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = ScheduleType)]
    schedule_type: Option<Option<ScheduleType>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::schedule_value)]
    schedule_value: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Vec<String>, max_items = 50)]
    source_playlist_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<AlgorithmKey>)]
    algorithm_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = AlgorithmParams)]
    algorithm_params: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    is_enabled: Option<Option<bool>>,
}

/// Changes a schedule (`schedule_update` naming the fields that really
/// changed; none changed logs nothing).
#[utoipa::path(
    patch, path = "/api/schedules/{id}", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The schedule as it now is", body = Schedule),
        (status = 404, response = NotFound),
    ),
)]
pub async fn update_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
    body: Json<UpdateBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let patch = SchedulePatch {
        job_type: not_null("job_type", body.job_type, &mut errors),
        target_playlist_id: not_null("target_playlist_id", body.target_playlist_id, &mut errors),
        schedule_type: not_null("schedule_type", body.schedule_type, &mut errors),
        schedule_value: not_null("schedule_value", body.schedule_value, &mut errors),
        source_playlist_ids: not_null("source_playlist_ids", body.source_playlist_ids, &mut errors),
        // The one nullable field: null clears it.
        algorithm_name: body.algorithm_name,
        algorithm_params: not_null("algorithm_params", body.algorithm_params, &mut errors),
        is_enabled: not_null("is_enabled", body.is_enabled, &mut errors),
    };
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let schedule = db::run(&state.pool, move |conn| {
        ScheduleService::update(conn, &auth.user, id, &patch)
    })
    .await?;
    Ok(HttpResponse::Ok().json(schedule))
}

/// Deletes a schedule and its history (`schedule_delete`).
#[utoipa::path(
    delete, path = "/api/schedules/{id}", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        ScheduleService::delete(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Enables or disables a schedule (`schedule_toggle`).
#[utoipa::path(
    post, path = "/api/schedules/{id}/toggle", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam),
    responses(
        (status = 200, description = "The schedule as it now is", body = Schedule),
        (status = 404, response = NotFound),
    ),
)]
pub async fn toggle_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let schedule = db::run(&state.pool, move |conn| {
        ScheduleService::toggle(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(schedule))
}

/// Runs the job now, synchronously (`schedule_run`); a failed job is
/// still a 200. `next_run_at` stays as it was.
#[utoipa::path(
    post, path = "/api/schedules/{id}/run", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam),
    responses(
        (status = 200, description = "The execution", body = JobExecution),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn run_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let executor = JobExecutor::new(state.pool.clone(), state.settings.lease)
        .with_spotify(state.spotify.clone());
    let user_id = auth.id();
    let run = move |db: &mut db::Checkout| {
        let schedule = ScheduleService::owned(db.conn()?, auth.id(), id)?;
        executor.run(db, &schedule, &Trigger::Manual(auth.user.clone()))
    };
    // A run that reads or writes Spotify runs on the Spotify pool, outside
    // the per-user count of operations (a run is one at a time per
    // schedule anyway).
    let pool = state.pool.clone();
    let needs_spotify = state.spotify.is_some()
        && db::run(&state.pool, move |conn| {
            ScheduleService::needs_spotify(conn, user_id, id)
        })
        .await?;
    let execution = if needs_spotify {
        state.spotify_pool.run(db::Checkout::new(pool), run).await?
    } else {
        db::run_checkout(&pool, run).await?
    };
    Ok(HttpResponse::Ok().json(execution))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 10)]
    limit: Option<String>,
}

/// A schedule's executions, newest first.
#[utoipa::path(
    get, path = "/api/schedules/{id}/history", tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleIdParam, HistoryParams),
    responses(
        (status = 200, description = "The executions", body = Items<JobExecution>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn schedule_history(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
    params: web::Query<HistoryParams>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let limit = parse_int("limit", present(&params.limit), 10i64, 1, 100, &mut errors);
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let items = db::run(&state.pool, move |conn| {
        ScheduleService::owned(conn, auth.id(), id)?;
        Ok(JobExecution::history(conn, id, limit)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}
