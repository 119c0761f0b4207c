//! The catalog, in two tables. `tracks` holds one row per URI: the
//! provider's facts for a Spotify URI (an import, a sync or a raid from
//! Spotify replaces them), else what the first client that named the URI
//! sent, never changed by a later client. `track_facts` holds each user's
//! own facts, as they sent them when creating a playlist; they win over
//! `tracks` for that user only. So each user sees, and shuffles by, the
//! facts they sent, and what one user sends never changes what another
//! user's playlists show or how they shuffle.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{track_facts, tracks};
use crate::db::{Backend, DbConnection, Json};

/// Rows per INSERT: 7 columns each, well under both backends' bind limits.
const INSERT_CHUNK: usize = 500;
/// Values per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 1000;

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
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

/// One user's own facts about a track (`track_facts`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = track_facts)]
pub struct OwnFacts {
    pub uri: String,
    pub name: String,
    pub artists: Json,
    pub album_name: Option<String>,
    pub duration_ms: i32,
    pub tempo: Option<f64>,
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

    /// This track as `facts` describe it.
    pub fn described(self, facts: Option<OwnFacts>) -> Track {
        match facts {
            None => self,
            Some(f) => Track {
                name: f.name,
                artists: f.artists,
                album_name: f.album_name,
                duration_ms: f.duration_ms,
                tempo: f.tempo,
                ..self
            },
        }
    }

    /// The catalog entries for `uris` as `user_id` sees them: their own
    /// facts where they sent some, else the shared row; keyed by URI.
    pub fn facts_for(
        conn: &mut DbConnection,
        user_id: i64,
        uris: &[String],
    ) -> QueryResult<HashMap<String, Track>> {
        let mut found = Self::find_by_uris(conn, uris)?;
        let known: Vec<&String> = found.keys().collect();
        let mut own = Vec::new();
        for chunk in known.chunks(LOOKUP_CHUNK) {
            own.extend(
                track_facts::table
                    .filter(track_facts::user_id.eq(user_id))
                    .filter(track_facts::uri.eq_any(chunk))
                    .select(OwnFacts::as_select())
                    .load(conn)?,
            );
        }
        for facts in own {
            if let Some(shared) = found.remove(&facts.uri) {
                found.insert(facts.uri.clone(), shared.described(Some(facts)));
            }
        }
        Ok(found)
    }

    /// The catalog rows for `uris` (each once), keyed by URI, as stored
    /// in `tracks` (no user's own facts).
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

    /// Searches, by name, artist or album (case-insensitive, ASCII), the
    /// tracks `user_id` holds in a playlist or sent facts about, as that
    /// user sees them; ordered by name.
    pub fn search_for(
        conn: &mut DbConnection,
        user_id: i64,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Track>> {
        use diesel::sql_types::{BigInt, Text};
        // No query matches every name (never null).
        let pattern = q
            .filter(|q| !q.is_empty())
            .map_or_else(|| "%".to_string(), crate::db::text_search::like_pattern);
        let view = |column: &str| {
            format!("CASE WHEN f.user_id IS NULL THEN t.{column} ELSE f.{column} END")
        };
        // Hand-written because the held set is a UNION driven from the
        // user's own rows (so the search costs what the user holds, not
        // what the catalog holds), which the query builder cannot say.
        let mut sql = format!(
            "SELECT t.id, t.uri, {name} AS name, {artists} AS artists, \
             {album} AS album_name, {duration} AS duration_ms, {tempo} AS tempo, \
             t.created_at \
             FROM ({held} \
                   UNION SELECT uri FROM track_facts WHERE user_id = ?) held \
             JOIN tracks t ON t.uri = held.uri \
             LEFT JOIN track_facts f ON f.uri = t.uri AND f.user_id = ?",
            name = view("name"),
            artists = view("artists"),
            album = view("album_name"),
            duration = view("duration_ms"),
            tempo = view("tempo"),
            held = crate::models::playlist_order::PlaylistOrder::held_sql(conn.backend()),
        );
        sql.push_str(&format!(
            " WHERE lower({name}) LIKE ? ESCAPE '\\' OR lower({artists}) LIKE ? ESCAPE '\\' \
             OR lower(COALESCE({album}, '')) LIKE ? ESCAPE '\\' \
             ORDER BY {name}, t.id LIMIT ? OFFSET ?",
            name = view("name"),
            artists = view("artists"),
            album = view("album_name"),
        ));
        let sql = numbered_for(conn.backend(), &sql);
        crate::db::with_backend!(conn, |c| diesel::sql_query(&sql)
            .bind::<BigInt, _>(user_id)
            .bind::<BigInt, _>(user_id)
            .bind::<BigInt, _>(user_id)
            .bind::<Text, _>(&pattern)
            .bind::<Text, _>(&pattern)
            .bind::<Text, _>(&pattern)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(offset)
            .load::<Track>(c))
    }
}

/// `sql` with its `?` placeholders numbered (`$1`, `$2`, …) for
/// PostgreSQL; as it is for SQLite. The SQL it is given has no `?`
/// other than placeholders.
fn numbered_for(backend: Backend, sql: &str) -> String {
    match backend {
        Backend::Sqlite => sql.to_string(),
        Backend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
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

    /// The provider's facts (an import, a sync or a raid from Spotify is
    /// the authority on `spotify:` URIs): adds unknown URIs and overwrites
    /// the stored fields of known ones; a tempo the provider did not give
    /// keeps the stored one. They replace `user_id`'s own facts about
    /// these URIs (the user sees Spotify's from then on); other users' own
    /// facts stand. Only rows that differ are written.
    pub fn replace_all(conn: &mut DbConnection, user_id: i64, new: &[NewTrack]) -> QueryResult<()> {
        let uris: Vec<String> = new.iter().map(|t| t.uri.clone()).collect();
        let existing = Track::find_by_uris(conn, &uris)?;
        Self::add_missing(conn, new)?;
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
        for chunk in uris.chunks(LOOKUP_CHUNK) {
            diesel::delete(
                track_facts::table
                    .filter(track_facts::user_id.eq(user_id))
                    .filter(track_facts::uri.eq_any(chunk)),
            )
            .execute(conn)?;
        }
        Ok(())
    }

    /// A client's facts, sent by `user_id` with a new playlist: unknown
    /// URIs are added to `tracks` (what users who never described them
    /// see), known rows there are left as they are, and the user's own
    /// facts are stored, replacing what they sent before. The first entry
    /// of a URI wins.
    pub fn record_own(conn: &mut DbConnection, user_id: i64, new: &[NewTrack]) -> QueryResult<()> {
        Self::add_missing(conn, new)?;
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<NewOwnFacts> = new
            .iter()
            .filter(|t| seen.insert(t.uri.as_str()))
            .map(|t| NewOwnFacts {
                user_id,
                uri: &t.uri,
                name: &t.name,
                artists: &t.artists,
                album_name: t.album_name.as_deref(),
                duration_ms: t.duration_ms,
                tempo: t.tempo,
                updated_at: t.created_at,
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            use diesel::upsert::excluded;
            crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(track_facts::table)
                .values(chunk)
                .on_conflict((track_facts::user_id, track_facts::uri))
                .do_update()
                .set((
                    track_facts::name.eq(excluded(track_facts::name)),
                    track_facts::artists.eq(excluded(track_facts::artists)),
                    track_facts::album_name.eq(excluded(track_facts::album_name)),
                    track_facts::duration_ms.eq(excluded(track_facts::duration_ms)),
                    track_facts::tempo.eq(excluded(track_facts::tempo)),
                    track_facts::updated_at.eq(excluded(track_facts::updated_at)),
                ))
                .execute(c))?;
        }
        Ok(())
    }

    /// Adds the URIs `tracks` does not know yet; never changes a stored
    /// row. The first entry of a URI wins.
    fn add_missing(conn: &mut DbConnection, new: &[NewTrack]) -> QueryResult<()> {
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
        Ok(())
    }
}

/// A row of `track_facts` to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = track_facts, treat_none_as_default_value = false)]
struct NewOwnFacts<'a> {
    user_id: i64,
    uri: &'a str,
    name: &'a str,
    artists: &'a Json,
    album_name: Option<&'a str>,
    duration_ms: i32,
    tempo: Option<f64>,
    updated_at: NaiveDateTime,
}
