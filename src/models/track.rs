//! `tracks`: the shared catalog. A new URI is inserted; a known one keeps
//! its stored fields and only fills those still null (album, tempo), so no
//! user can rewrite tracks another user's playlists show.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::tracks;
use crate::db::{DbConnection, Json};

/// Rows per INSERT: 7 columns each, well under both backends' bind limits.
const INSERT_CHUNK: usize = 500;
/// Values per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 1000;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = tracks)]
pub struct Track {
    pub id: i64,
    pub uri: String,
    pub name: String,
    pub artists: Json,
    pub album_name: Option<String>,
    pub duration_ms: i32,
    pub tempo: Option<f64>,
    pub created_at: NaiveDateTime,
}

/// A catalog entry as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackView {
    pub uri: String,
    pub name: String,
    pub artists: Vec<String>,
    #[schema(required = true)]
    pub album_name: Option<String>,
    pub duration_ms: i32,
    #[schema(required = true)]
    pub tempo: Option<f64>,
}

impl Track {
    pub fn artist_names(&self) -> Vec<String> {
        self.artists.strings()
    }

    pub fn view(&self) -> TrackView {
        TrackView {
            uri: self.uri.clone(),
            name: self.name.clone(),
            artists: self.artist_names(),
            album_name: self.album_name.clone(),
            duration_ms: self.duration_ms,
            tempo: self.tempo,
        }
    }

    /// The catalog rows for `uris` (each once), keyed by URI.
    pub fn find_by_uris(
        conn: &mut DbConnection,
        uris: &[String],
    ) -> QueryResult<HashMap<String, Track>> {
        let mut unique: Vec<&String> = uris.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(LOOKUP_CHUNK) {
            let rows = tracks::table
                .filter(tracks::uri.eq_any(chunk))
                .select(Track::as_select())
                .load(conn)?;
            found.extend(rows.into_iter().map(|t| (t.uri.clone(), t)));
        }
        Ok(found)
    }

    /// Catalog search by name, artist or album, case-insensitive (ASCII).
    pub fn search(
        conn: &mut DbConnection,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Track>> {
        use crate::db::text_search::{like_pattern, lower, lower_nullable};
        let mut query = tracks::table.into_boxed();
        if let Some(q) = q.filter(|q| !q.is_empty()) {
            let pattern = like_pattern(q);
            query = query.filter(
                lower(tracks::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(tracks::artists).like(pattern.clone()).escape('\\'))
                    .or(lower_nullable(tracks::album_name)
                        .like(pattern)
                        .escape('\\')
                        .assume_not_null()),
            );
        }
        query
            .order((tracks::name.asc(), tracks::id.asc()))
            .limit(limit)
            .offset(offset)
            .select(Track::as_select())
            .load(conn)
    }
}

/// `None` inserts NULL (not DEFAULT), which SQLite's multi-row INSERT needs.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tracks, treat_none_as_default_value = false)]
pub struct NewTrack {
    pub uri: String,
    pub name: String,
    pub artists: Json,
    pub album_name: Option<String>,
    pub duration_ms: i32,
    pub tempo: Option<f64>,
    pub created_at: NaiveDateTime,
}

impl NewTrack {
    /// The catalog row of a track as a client or a provider gave it.
    pub fn from_view(t: &TrackView, created_at: NaiveDateTime) -> NewTrack {
        NewTrack {
            uri: t.uri.clone(),
            name: t.name.clone(),
            artists: Json(serde_json::json!(t.artists)),
            album_name: t.album_name.clone(),
            duration_ms: t.duration_ms,
            tempo: t.tempo,
            created_at,
        }
    }

    /// Adds unknown URIs and overwrites the stored fields of known ones
    /// with the provider's (SPEC §10.21: an import or sync of `spotify:`
    /// URIs is the authority on them); a tempo the provider did not give
    /// keeps the stored one. Only rows that differ are written.
    pub fn replace_all(conn: &mut DbConnection, new: &[NewTrack]) -> QueryResult<()> {
        let uris: Vec<String> = new.iter().map(|t| t.uri.clone()).collect();
        let existing = Track::find_by_uris(conn, &uris)?;
        Self::upsert_all(conn, new)?;
        let mut seen = std::collections::HashSet::new();
        for t in new.iter().filter(|t| seen.insert(t.uri.as_str())) {
            let Some(stored) = existing.get(&t.uri) else {
                continue;
            };
            let tempo = t.tempo.or(stored.tempo);
            if stored.name == t.name
                && stored.artists == t.artists
                && stored.album_name == t.album_name
                && stored.duration_ms == t.duration_ms
                && stored.tempo == tempo
            {
                continue;
            }
            diesel::update(tracks::table.filter(tracks::uri.eq(&t.uri)))
                .set((
                    tracks::name.eq(&t.name),
                    tracks::artists.eq(&t.artists),
                    tracks::album_name.eq(&t.album_name),
                    tracks::duration_ms.eq(t.duration_ms),
                    tracks::tempo.eq(tempo),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Adds unknown URIs to the catalog and fills the null fields of known
    /// ones; never overwrites a stored value. The first entry of a URI wins.
    pub fn upsert_all(conn: &mut DbConnection, new: &[NewTrack]) -> QueryResult<()> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&NewTrack> = new.iter().filter(|t| seen.insert(t.uri.as_str())).collect();
        let uris: Vec<String> = unique.iter().map(|t| t.uri.clone()).collect();
        let existing = Track::find_by_uris(conn, &uris)?;
        let fresh: Vec<NewTrack> = unique
            .iter()
            .filter(|t| !existing.contains_key(&t.uri))
            .map(|t| (*t).clone())
            .collect();
        for chunk in fresh.chunks(INSERT_CHUNK) {
            // Another request may add the same URI meanwhile: theirs stands.
            crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(tracks::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(c))?;
        }
        for t in unique {
            let Some(stored) = existing.get(&t.uri) else {
                continue;
            };
            if stored.album_name.is_none() && t.album_name.is_some() {
                diesel::update(
                    tracks::table
                        .filter(tracks::uri.eq(&t.uri))
                        .filter(tracks::album_name.is_null()),
                )
                .set(tracks::album_name.eq(&t.album_name))
                .execute(conn)?;
            }
            if stored.tempo.is_none() && t.tempo.is_some() {
                diesel::update(
                    tracks::table
                        .filter(tracks::uri.eq(&t.uri))
                        .filter(tracks::tempo.is_null()),
                )
                .set(tracks::tempo.eq(t.tempo))
                .execute(conn)?;
            }
        }
        Ok(())
    }
}
