//! `GET|PATCH /api/settings`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::params::{not_null, nullable};
use crate::services::settings::{SettingsChange, SettingsService, SettingsView};
use crate::state::AppState;

pub async fn get_settings(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let settings = db::run(&state.pool, move |conn| {
        SettingsService::get(conn, auth.id())
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, deserialize_with = "nullable")]
    default_algorithm: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    default_algorithm_params: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    auto_snapshot_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    max_snapshots_per_playlist: Option<Option<i64>>,
}

pub async fn update_settings(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<SettingsPatch>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let change = SettingsChange {
        default_algorithm: not_null("default_algorithm", body.default_algorithm, &mut errors),
        default_algorithm_params: not_null(
            "default_algorithm_params",
            body.default_algorithm_params,
            &mut errors,
        ),
        auto_snapshot_enabled: not_null(
            "auto_snapshot_enabled",
            body.auto_snapshot_enabled,
            &mut errors,
        ),
        max_snapshots_per_playlist: not_null(
            "max_snapshots_per_playlist",
            body.max_snapshots_per_playlist,
            &mut errors,
        ),
    };
    AppError::ensure_valid(errors)?;
    let settings = db::run(&state.pool, move |conn| {
        SettingsService::update(conn, &auth.user, &change)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}
