//! The owner's settings: default algorithm and parameters, and snapshot
//! policy. A change that changes nothing writes and logs nothing;
//! `changed_fields` lists only values that really changed, and `changes`
//! their old and new values.

use serde::Serialize;
use serde_json::{json, Value};

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::error::{AppError, AppResult};
use crate::models::{Changes, NewActivity, User, UserSettings};
use crate::services::shuffle::{choose, ChoiceError, ChoiceFields};
use crate::services::ActivityLogService;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Settings)]
pub struct SettingsView {
    pub default_algorithm: String,
    #[schema(value_type = crate::services::shuffle::AlgorithmParams)]
    pub default_algorithm_params: Value,
    pub auto_snapshot_enabled: bool,
    pub max_snapshots_per_playlist: i32,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
}

impl From<UserSettings> for SettingsView {
    fn from(s: UserSettings) -> Self {
        SettingsView {
            default_algorithm: s.default_algorithm,
            default_algorithm_params: s.default_algorithm_params.0,
            auto_snapshot_enabled: s.auto_snapshot_enabled,
            max_snapshots_per_playlist: s.max_snapshots_per_playlist,
            updated_at: s.updated_at,
        }
    }
}

/// A validated-by-type change; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub default_algorithm: Option<String>,
    pub default_algorithm_params: Option<Value>,
    pub auto_snapshot_enabled: Option<bool>,
    pub max_snapshots_per_playlist: Option<i64>,
}

pub struct SettingsService;

impl SettingsService {
    pub fn get(conn: &mut DbConnection, user_id: i64) -> AppResult<UserSettings> {
        match UserSettings::find_for_user(conn, user_id)? {
            Some(s) => Ok(s),
            // Accounts always get settings; this heals one that lost them.
            None => Ok(UserSettings::create_default(conn, user_id, db::now())?),
        }
    }

    pub fn update(
        conn: &mut DbConnection,
        user: &User,
        change: &SettingsChange,
    ) -> AppResult<UserSettings> {
        if let Some(n) = change.max_snapshots_per_playlist {
            if !(1..=50).contains(&n) {
                return Err(AppError::invalid(
                    "max_snapshots_per_playlist",
                    "must be an integer from 1 to 50",
                ));
            }
        }
        write_transaction(conn, |conn| {
            User::lock(conn, user.id)?;
            let current = Self::get(conn, user.id)?;
            let algorithm_key = change
                .default_algorithm
                .clone()
                .unwrap_or(current.default_algorithm.clone());
            // New parameters are checked against the (new) algorithm; a new
            // algorithm without parameters starts from its defaults.
            let algorithm_changed = algorithm_key != current.default_algorithm;
            let new_params = match (&change.default_algorithm_params, algorithm_changed) {
                (Some(p), _) => p.clone(),
                (None, true) => json!({}),
                (None, false) => current.default_algorithm_params.0.clone(),
            };
            match choose(&algorithm_key, &new_params, ChoiceFields::SETTINGS) {
                Ok(_) => {}
                // Stored parameters that no longer fit are not this
                // change's fault: only given ones are checked.
                Err(ChoiceError::Params { .. }) if change.default_algorithm_params.is_none() => {}
                Err(err) => return Err(err.into()),
            }
            let mut next = current.clone();
            next.default_algorithm = algorithm_key;
            next.default_algorithm_params = Json(new_params);
            if let Some(v) = change.auto_snapshot_enabled {
                next.auto_snapshot_enabled = v;
            }
            if let Some(n) = change.max_snapshots_per_playlist {
                next.max_snapshots_per_playlist = n as i32;
            }
            let changed = Changes::new()
                .field(
                    "default_algorithm",
                    &current.default_algorithm,
                    &next.default_algorithm,
                )
                .field(
                    "default_algorithm_params",
                    &current.default_algorithm_params.0,
                    &next.default_algorithm_params.0,
                )
                .field(
                    "auto_snapshot_enabled",
                    &current.auto_snapshot_enabled,
                    &next.auto_snapshot_enabled,
                )
                .field(
                    "max_snapshots_per_playlist",
                    &current.max_snapshots_per_playlist,
                    &next.max_snapshots_per_playlist,
                );
            if changed.is_empty() {
                return Ok(current);
            }
            next.updated_at = db::now();
            let saved = next.save(conn)?;
            ActivityLogService::log(conn, NewActivity::settings_change(user, &changed));
            Ok(saved)
        })
    }
}
