//! `GET|PATCH /api/settings`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::{Json, WholeNumber};
use crate::routes::params::{not_null, nullable};
use crate::services::settings::{SettingsChange, SettingsService, SettingsView};
use crate::services::shuffle::{AlgorithmKey, AlgorithmParams};
use crate::state::AppState;

/// The caller's settings.
#[utoipa::path(
    get, path = "/api/settings", tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The settings", body = SettingsView)),
)]
pub async fn get_settings(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let settings = db::run(&state.pool, move |conn| {
        SettingsService::get(conn, auth.id())
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

/// Absent fields stay as they are; none of them may be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = AlgorithmKey)]
    default_algorithm: Option<Option<String>>,
    /// The parameters of the default algorithm (the one given here, or the
    /// stored one), by name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = AlgorithmParams)]
    default_algorithm_params: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    auto_snapshot_enabled: Option<Option<bool>>,
    /// How many automatic snapshots each playlist keeps.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, minimum = 1, maximum = 50)]
    max_snapshots_per_playlist: Option<Option<WholeNumber>>,
}

/// Changes the caller's settings (`settings_change` naming the fields
/// that really changed; none changed logs nothing).
#[utoipa::path(
    patch, path = "/api/settings", tag = "account",
    security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, description = "The settings as they now are", body = SettingsView)),
)]
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
        )
        .map(|n| n.0),
    };
    AppError::ensure_valid(errors)?;
    let settings = db::run(&state.pool, move |conn| {
        SettingsService::update(conn, &auth.user, &change)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}
