//! `playlist_snapshots`: saved track orders to restore from.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::playlist_snapshots as snapshots;
use crate::db::{DbConnection, Json};
use crate::enums::SnapshotType;
use crate::models::playlist::Playlist;

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = snapshots)]
pub struct Snapshot {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub playlist_id: String,
    pub playlist_name: String,
    #[schema(value_type = Vec<String>)]
    pub track_uris: Json,
    pub track_count: i32,
    pub snapshot_type: SnapshotType,
    #[schema(required = true)]
    pub trigger_description: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = snapshots)]
pub struct NewSnapshot {
    pub user_id: i64,
    pub playlist_id: String,
    pub playlist_name: String,
    pub track_uris: Json,
    pub track_count: i32,
    pub snapshot_type: SnapshotType,
    pub trigger_description: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Every automatic snapshot type, read off the enum, so a new one (such as
/// `auto_pre_sync`) is undoable and pruned without a list to keep in step.
fn automatic() -> Vec<SnapshotType> {
    use strum::IntoEnumIterator;
    SnapshotType::iter().filter(|t| t.is_automatic()).collect()
}

impl NewSnapshot {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<Snapshot> {
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(snapshots::table)
            .values(self)
            .returning(Snapshot::as_returning())
            .get_result(c))
    }
}

impl Snapshot {
    /// Saves `uris` as a snapshot of `playlist`, then deletes the oldest
    /// automatic snapshots of that playlist beyond `keep_automatic`.
    pub fn take(
        conn: &mut DbConnection,
        playlist: &Playlist,
        uris: &[String],
        kind: SnapshotType,
        description: Option<String>,
        keep_automatic: i64,
    ) -> QueryResult<Snapshot> {
        let snapshot = NewSnapshot {
            user_id: playlist.owner_id,
            playlist_id: playlist.id.clone(),
            playlist_name: playlist.name.clone(),
            track_uris: Json::from_strings(uris),
            track_count: uris.len() as i32,
            snapshot_type: kind,
            trigger_description: description,
            created_at: crate::db::now(),
        }
        .insert(conn)?;
        Self::prune_automatic(conn, &playlist.id, keep_automatic)?;
        Ok(snapshot)
    }

    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<Snapshot>> {
        snapshots::table
            .find(id)
            .filter(snapshots::user_id.eq(user_id))
            .select(Snapshot::as_select())
            .first(conn)
            .optional()
    }

    /// Newest first.
    pub fn list_for_playlist(
        conn: &mut DbConnection,
        playlist_id: &str,
        limit: i64,
    ) -> QueryResult<Vec<Snapshot>> {
        snapshots::table
            .filter(snapshots::playlist_id.eq(playlist_id))
            .order((snapshots::created_at.desc(), snapshots::id.desc()))
            .limit(limit)
            .select(Snapshot::as_select())
            .load(conn)
    }

    pub fn count_manual(conn: &mut DbConnection, playlist_id: &str) -> QueryResult<i64> {
        snapshots::table
            .filter(snapshots::playlist_id.eq(playlist_id))
            .filter(snapshots::snapshot_type.eq(SnapshotType::Manual))
            .count()
            .get_result(conn)
    }

    /// The newest automatic snapshot that `undo` may restore: any but an
    /// `auto_pre_restore` one.
    pub fn newest_undoable(
        conn: &mut DbConnection,
        playlist_id: &str,
    ) -> QueryResult<Option<Snapshot>> {
        snapshots::table
            .filter(snapshots::playlist_id.eq(playlist_id))
            .filter(snapshots::snapshot_type.eq_any(automatic()))
            .filter(snapshots::snapshot_type.ne(SnapshotType::AutoPreRestore))
            .order((snapshots::created_at.desc(), snapshots::id.desc()))
            .select(Snapshot::as_select())
            .first(conn)
            .optional()
    }

    /// Deletes the oldest automatic snapshots beyond `keep`; manual ones
    /// are never touched. Returns how many went.
    pub fn prune_automatic(
        conn: &mut DbConnection,
        playlist_id: &str,
        keep: i64,
    ) -> QueryResult<usize> {
        let doomed: Vec<i64> = snapshots::table
            .filter(snapshots::playlist_id.eq(playlist_id))
            .filter(snapshots::snapshot_type.eq_any(automatic()))
            .order((snapshots::created_at.desc(), snapshots::id.desc()))
            .offset(keep.max(0))
            .limit(i64::MAX)
            .select(snapshots::id)
            .load(conn)?;
        if doomed.is_empty() {
            return Ok(0);
        }
        diesel::delete(snapshots::table.filter(snapshots::id.eq_any(doomed))).execute(conn)
    }

    /// The ids of every snapshot `user_id` owns.
    pub fn ids_of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<i64>> {
        snapshots::table
            .filter(snapshots::user_id.eq(user_id))
            .order(snapshots::id.asc())
            .select(snapshots::id)
            .load(conn)
    }

    /// The track URIs of snapshot `id` (none when it is gone).
    pub fn track_uris_of(conn: &mut DbConnection, id: i64) -> QueryResult<Vec<String>> {
        let found: Option<Json> = snapshots::table
            .find(id)
            .select(snapshots::track_uris)
            .first(conn)
            .optional()?;
        Ok(found.map(|j| j.strings()).unwrap_or_default())
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(snapshots::table.find(id)).execute(conn)
    }
}
