//! `user_settings`: one row per user, created with the account.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::user_settings;
use crate::db::{DbConnection, Json};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = user_settings)]
pub struct UserSettings {
    pub id: i64,
    pub user_id: i64,
    pub default_algorithm: String,
    pub default_algorithm_params: Json,
    pub auto_snapshot_enabled: bool,
    pub max_snapshots_per_playlist: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_settings)]
struct NewUserSettings {
    user_id: i64,
    default_algorithm: String,
    default_algorithm_params: Json,
    auto_snapshot_enabled: bool,
    max_snapshots_per_playlist: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The algorithm a shuffle without one uses, for an owner who never chose.
pub const DEFAULT_ALGORITHM: &str = "basic";
/// Automatic snapshots kept per playlist, for an owner who never chose (the
/// column's default too).
pub const DEFAULT_MAX_SNAPSHOTS: i32 = 10;

impl UserSettings {
    /// The defaults: [`DEFAULT_ALGORITHM`], auto snapshots on,
    /// [`DEFAULT_MAX_SNAPSHOTS`] kept.
    pub fn create_default(
        conn: &mut DbConnection,
        user_id: i64,
        at: NaiveDateTime,
    ) -> QueryResult<UserSettings> {
        let row = NewUserSettings {
            user_id,
            default_algorithm: DEFAULT_ALGORITHM.into(),
            default_algorithm_params: Json(serde_json::json!({})),
            auto_snapshot_enabled: true,
            max_snapshots_per_playlist: DEFAULT_MAX_SNAPSHOTS,
            created_at: at,
            updated_at: at,
        };
        crate::db::with_backend!(conn, |c| diesel::insert_into(user_settings::table)
            .values(&row)
            .returning(UserSettings::as_returning())
            .get_result(c))
    }

    pub fn find_for_user(
        conn: &mut DbConnection,
        user_id: i64,
    ) -> QueryResult<Option<UserSettings>> {
        user_settings::table
            .filter(user_settings::user_id.eq(user_id))
            .select(UserSettings::as_select())
            .first(conn)
            .optional()
    }
}

impl UserSettings {
    /// Writes every changeable field back.
    pub fn save(&self, conn: &mut DbConnection) -> QueryResult<UserSettings> {
        diesel::update(user_settings::table.find(self.id))
            .set((
                user_settings::default_algorithm.eq(&self.default_algorithm),
                user_settings::default_algorithm_params.eq(&self.default_algorithm_params),
                user_settings::auto_snapshot_enabled.eq(self.auto_snapshot_enabled),
                user_settings::max_snapshots_per_playlist.eq(self.max_snapshots_per_playlist),
                user_settings::updated_at.eq(self.updated_at),
            ))
            .execute(conn)?;
        user_settings::table
            .find(self.id)
            .select(UserSettings::as_select())
            .first(conn)
    }
}
