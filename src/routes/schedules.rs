//! `/api/schedules`: create, list, read, update, delete, toggle, run now,
//! history.

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::db;
use crate::enums::{JobType, ScheduleType};
use crate::error::{AppError, AppResult};
use crate::models::job_execution::JobExecution;
use crate::models::schedule::Schedule;
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::params::{not_null, nullable, parse_int, present};
use crate::routes::responses::Items;
use crate::services::job_executor::{JobExecutor, Trigger};
use crate::services::schedules::{ScheduleInput, SchedulePatch, ScheduleService};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    job_type: JobType,
    target_playlist_id: String,
    schedule_type: Option<ScheduleType>,
    schedule_value: Option<String>,
    #[serde(default)]
    source_playlist_ids: Vec<String>,
    algorithm_name: Option<String>,
    algorithm_params: Option<Value>,
    is_enabled: Option<bool>,
}

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

pub async fn list_schedules(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, move |conn| {
        Ok(Schedule::list(conn, auth.id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "nullable")]
    job_type: Option<Option<JobType>>,
    #[serde(default, deserialize_with = "nullable")]
    target_playlist_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    schedule_type: Option<Option<ScheduleType>>,
    #[serde(default, deserialize_with = "nullable")]
    schedule_value: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    source_playlist_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    algorithm_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    algorithm_params: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    is_enabled: Option<Option<bool>>,
}

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

/// Runs the job now, synchronously; a failed job is still a 200.
pub async fn run_schedule(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let executor = JobExecutor::new(state.pool.clone(), state.settings.lease);
    let execution = db::run(&state.pool, move |conn| {
        let schedule = ScheduleService::owned(conn, auth.id(), id)?;
        executor.run(conn, &schedule, &Trigger::Manual(auth.user.clone()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(execution))
}

#[derive(Debug, Deserialize)]
pub struct HistoryParams {
    limit: Option<String>,
}

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
