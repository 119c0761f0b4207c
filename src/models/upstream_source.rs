//! `upstream_sources`: playlists that feed a target playlist's raids.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::upstream_sources as sources;
use crate::db::DbConnection;
use crate::enums::SourceType;

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = sources)]
pub struct UpstreamSource {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub target_playlist_id: String,
    pub source_playlist_id: String,
    pub source_type: SourceType,
    #[schema(required = true)]
    pub source_url: Option<String>,
    #[schema(required = true)]
    pub source_name: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sources, treat_none_as_default_value = false)]
pub struct NewUpstreamSource {
    pub user_id: i64,
    pub target_playlist_id: String,
    pub source_playlist_id: String,
    pub source_type: SourceType,
    pub source_url: Option<String>,
    pub source_name: Option<String>,
    pub created_at: NaiveDateTime,
}

impl NewUpstreamSource {
    /// Inserts unless the (user, target, source) row exists; `None` then.
    pub fn insert_if_new(&self, conn: &mut DbConnection) -> QueryResult<Option<UpstreamSource>> {
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(sources::table)
            .values(self)
            .on_conflict_do_nothing()
            .returning(UpstreamSource::as_returning())
            .get_result(c)
            .optional())
    }
}

impl UpstreamSource {
    pub fn find(
        conn: &mut DbConnection,
        user_id: i64,
        target: &str,
        source: &str,
    ) -> QueryResult<Option<UpstreamSource>> {
        sources::table
            .filter(sources::user_id.eq(user_id))
            .filter(sources::target_playlist_id.eq(target))
            .filter(sources::source_playlist_id.eq(source))
            .select(UpstreamSource::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<UpstreamSource>> {
        sources::table
            .find(id)
            .filter(sources::user_id.eq(user_id))
            .select(UpstreamSource::as_select())
            .first(conn)
            .optional()
    }

    /// In the order they were added.
    pub fn list_for_target(
        conn: &mut DbConnection,
        user_id: i64,
        target: &str,
    ) -> QueryResult<Vec<UpstreamSource>> {
        sources::table
            .filter(sources::user_id.eq(user_id))
            .filter(sources::target_playlist_id.eq(target))
            .order(sources::id.asc())
            .select(UpstreamSource::as_select())
            .load(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(sources::table.find(id)).execute(conn)
    }
}
