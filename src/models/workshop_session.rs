//! `workshop_sessions`: named drafts of a playlist's order.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::workshop_sessions as sessions;
use crate::db::{DbConnection, Json};

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = sessions)]
pub struct WorkshopSession {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub playlist_id: String,
    pub session_name: String,
    #[schema(value_type = Vec<String>)]
    pub track_uris: Json,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewWorkshopSession {
    pub user_id: i64,
    pub playlist_id: String,
    pub session_name: String,
    pub track_uris: Json,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewWorkshopSession {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<WorkshopSession> {
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(sessions::table)
            .values(self)
            .returning(WorkshopSession::as_returning())
            .get_result(c))
    }
}

impl WorkshopSession {
    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<WorkshopSession>> {
        sessions::table
            .find(id)
            .filter(sessions::user_id.eq(user_id))
            .select(WorkshopSession::as_select())
            .first(conn)
            .optional()
    }

    /// Newest first.
    pub fn list(
        conn: &mut DbConnection,
        user_id: i64,
        playlist_id: &str,
    ) -> QueryResult<Vec<WorkshopSession>> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::playlist_id.eq(playlist_id))
            .order((sessions::updated_at.desc(), sessions::id.desc()))
            .select(WorkshopSession::as_select())
            .load(conn)
    }

    pub fn count(conn: &mut DbConnection, user_id: i64, playlist_id: &str) -> QueryResult<i64> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::playlist_id.eq(playlist_id))
            .count()
            .get_result(conn)
    }

    /// Every session the user keeps, over all playlists.
    pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .count()
            .get_result(conn)
    }

    pub fn save(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::update(sessions::table.find(self.id))
            .set((
                sessions::session_name.eq(&self.session_name),
                sessions::track_uris.eq(&self.track_uris),
                sessions::updated_at.eq(self.updated_at),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// The ids of every session `user_id` owns.
    pub fn ids_of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<i64>> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .order(sessions::id.asc())
            .select(sessions::id)
            .load(conn)
    }

    /// The track URIs of session `id` (none when it is gone).
    pub fn track_uris_of(conn: &mut DbConnection, id: i64) -> QueryResult<Vec<String>> {
        let found: Option<Json> = sessions::table
            .find(id)
            .select(sessions::track_uris)
            .first(conn)
            .optional()?;
        Ok(found.map(|j| j.strings()).unwrap_or_default())
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(sessions::table.find(id)).execute(conn)
    }
}
