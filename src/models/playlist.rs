//! `playlists` and `playlist_tracks`. Order is `position` (from 0);
//! duplicates are allowed. Only `services::playlists` calls the writers here,
//! so a second playlist provider can take its place (SPEC §9).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{playlist_tracks, playlists, tracks};
use crate::db::DbConnection;
use crate::models::track::Track;

/// Rows per INSERT into `playlist_tracks` (3 columns each).
const INSERT_CHUNK: usize = 1000;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = playlists)]
pub struct Playlist {
    pub id: String,
    pub owner_id: i64,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = playlist_tracks)]
struct PlaylistTrackRow<'a> {
    playlist_id: &'a str,
    position: i32,
    track_uri: &'a str,
}

/// The fields a metadata change writes.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = playlists)]
pub struct PlaylistChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

impl Playlist {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(playlists::table)
            .values(self)
            .execute(c))
        .map(|_| ())
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Playlist>> {
        playlists::table
            .find(id)
            .select(Playlist::as_select())
            .first(conn)
            .optional()
    }

    /// The playlist's row, locked until the transaction ends: every write
    /// to a playlist's aggregate (tracks, snapshots, sessions, sources)
    /// takes it first, so writers of one playlist serialize on PostgreSQL
    /// (`FOR UPDATE`) as they do on SQLite, whose `BEGIN IMMEDIATE` already
    /// holds the one write lock.
    pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Playlist>> {
        // `as_select` is typed per backend, so each arm builds its own.
        let query = playlists::table.find(id);
        match conn {
            DbConnection::Postgres(pg) => query
                .select(Playlist::as_select())
                .for_update()
                .first(pg)
                .optional(),
            DbConnection::Sqlite(c) => query.select(Playlist::as_select()).first(c).optional(),
        }
    }

    /// The caller's own playlist; someone else's reads as missing.
    pub fn find_owned(
        conn: &mut DbConnection,
        owner_id: i64,
        id: &str,
    ) -> QueryResult<Option<Playlist>> {
        Ok(Self::find(conn, id)?.filter(|p| p.owner_id == owner_id))
    }

    /// Own, or another user's public playlist.
    pub fn find_readable(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
    ) -> QueryResult<Option<Playlist>> {
        Ok(Self::find(conn, id)?.filter(|p| p.owner_id == user_id || p.is_public))
    }

    pub fn count_owned(conn: &mut DbConnection, owner_id: i64) -> QueryResult<i64> {
        playlists::table
            .filter(playlists::owner_id.eq(owner_id))
            .count()
            .get_result(conn)
    }

    /// A page of the owner's playlists, most recently changed first, each
    /// with its track count; and the total.
    pub fn list_owned(
        conn: &mut DbConnection,
        owner_id: i64,
        limit: i64,
        offset: i64,
    ) -> QueryResult<(Vec<(Playlist, i64)>, i64)> {
        let total = playlists::table
            .filter(playlists::owner_id.eq(owner_id))
            .count()
            .get_result(conn)?;
        let page: Vec<Playlist> = playlists::table
            .filter(playlists::owner_id.eq(owner_id))
            .order((playlists::updated_at.desc(), playlists::id.asc()))
            .limit(limit)
            .offset(offset)
            .select(Playlist::as_select())
            .load(conn)?;
        let ids: Vec<&String> = page.iter().map(|p| &p.id).collect();
        let counts: HashMap<String, i64> = playlist_tracks::table
            .filter(playlist_tracks::playlist_id.eq_any(ids))
            .group_by(playlist_tracks::playlist_id)
            .select((playlist_tracks::playlist_id, count_star()))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .collect();
        let items = page
            .into_iter()
            .map(|p| {
                let n = counts.get(&p.id).copied().unwrap_or(0);
                (p, n)
            })
            .collect();
        Ok((items, total))
    }

    /// The track URIs in order.
    pub fn track_uris(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<String>> {
        playlist_tracks::table
            .filter(playlist_tracks::playlist_id.eq(id))
            .order(playlist_tracks::position.asc())
            .select(playlist_tracks::track_uri)
            .load(conn)
    }

    pub fn track_count(conn: &mut DbConnection, id: &str) -> QueryResult<i64> {
        playlist_tracks::table
            .filter(playlist_tracks::playlist_id.eq(id))
            .count()
            .get_result(conn)
    }

    /// The tracks in order, with their catalog entries.
    pub fn tracks(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<(i32, Track)>> {
        playlist_tracks::table
            .inner_join(tracks::table.on(tracks::uri.eq(playlist_tracks::track_uri)))
            .filter(playlist_tracks::playlist_id.eq(id))
            .order(playlist_tracks::position.asc())
            .select((playlist_tracks::position, Track::as_select()))
            .load(conn)
    }

    /// Replaces the whole order. The URIs must be in the catalog.
    pub fn replace_tracks(conn: &mut DbConnection, id: &str, uris: &[String]) -> QueryResult<()> {
        diesel::delete(playlist_tracks::table.filter(playlist_tracks::playlist_id.eq(id)))
            .execute(conn)?;
        let rows: Vec<PlaylistTrackRow> = uris
            .iter()
            .enumerate()
            .map(|(position, uri)| PlaylistTrackRow {
                playlist_id: id,
                position: position as i32,
                track_uri: uri,
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(playlist_tracks::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    }

    /// Stamps a change; `new_version` bumps `version` (name, description or
    /// tracks changed).
    pub fn touch(
        conn: &mut DbConnection,
        id: &str,
        new_version: bool,
        at: NaiveDateTime,
    ) -> QueryResult<Playlist> {
        let bump = if new_version { 1 } else { 0 };
        diesel::update(playlists::table.find(id))
            .set((
                playlists::version.eq(playlists::version + bump),
                playlists::updated_at.eq(at),
            ))
            .execute(conn)?;
        Self::find(conn, id)?.ok_or(diesel::result::Error::NotFound)
    }

    pub fn apply(conn: &mut DbConnection, id: &str, changes: &PlaylistChanges) -> QueryResult<()> {
        diesel::update(playlists::table.find(id))
            .set(changes)
            .execute(conn)
            .map(|_| ())
    }

    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(playlists::table.find(id)).execute(conn)
    }
}
