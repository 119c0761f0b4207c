//! `playlist_orders`: each playlist's order in one row, so rewriting an
//! order (a shuffle, an undo, a raid, a workshop commit, a sync) is one
//! UPDATE rather than deleting and inserting a row per track, each of
//! which maintained two indexes and checked two foreign keys.
//!
//! `entries` is a compact JSON array of `[track_uri, added_at]` pairs in
//! order: an entry's position is its index (from 0), a URI may repeat, and
//! `added_at` is when the entry came into the playlist, in whole unix
//! seconds (UTC). Seconds rather than RFC 3339 text: ten digits instead of
//! a 27-character string per entry, compared as numbers in Rust and in SQL,
//! and Spotify's own `added_at` has no finer precision. `track_count` is
//! the array's length, kept beside it so a listing counts tracks without
//! reading the arrays (the `playlists` row stays lean for the same reason).
//! Every playlist has its row; an empty order is `[]`.
//!
//! Reads that need the order joined to the catalog stay one statement:
//! SQLite expands the array with `json_each`, PostgreSQL with
//! `json_array_elements(entries::json) WITH ORDINALITY`. That SQL is the
//! one place here that differs per backend.
//!
//! How an entry keeps its added time is [`carry_added_times`]: a rewrite
//! that keeps a URI keeps its time (the k-th occurrence of a URI in the new
//! order takes the time of its k-th occurrence in the old one), a URI new
//! to the playlist gets the time of the write, and an import or a sync
//! gives Spotify's `added_at` where Spotify has one.

use std::collections::{HashMap, VecDeque};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::playlist_orders;
use crate::db::{Backend, DbConnection};
use crate::models::track::Track;

/// One entry of an order: a track and when it was added to the playlist
/// (unix seconds, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEntry {
    pub uri: String,
    pub added_at: i64,
}

/// The order of a playlist, as stored.
pub struct PlaylistOrder;

impl PlaylistOrder {
    /// The entries in order; none for a playlist without a row.
    pub fn entries(conn: &mut DbConnection, playlist_id: &str) -> QueryResult<Vec<OrderEntry>> {
        let text: Option<String> = playlist_orders::table
            .find(playlist_id)
            .select(playlist_orders::entries)
            .first(conn)
            .optional()?;
        text.map_or_else(|| Ok(Vec::new()), |t| decode(&t))
    }

    /// The track URIs in order.
    pub fn uris(conn: &mut DbConnection, playlist_id: &str) -> QueryResult<Vec<String>> {
        Ok(Self::entries(conn, playlist_id)?
            .into_iter()
            .map(|e| e.uri)
            .collect())
    }

    /// How many entries the order has.
    pub fn count(conn: &mut DbConnection, playlist_id: &str) -> QueryResult<i64> {
        let count: Option<i32> = playlist_orders::table
            .find(playlist_id)
            .select(playlist_orders::track_count)
            .first(conn)
            .optional()?;
        Ok(count.map_or(0, i64::from))
    }

    /// The entry counts of `ids`, keyed by playlist id (a listing's).
    pub fn counts(conn: &mut DbConnection, ids: &[&String]) -> QueryResult<HashMap<String, i64>> {
        Ok(playlist_orders::table
            .filter(playlist_orders::playlist_id.eq_any(ids))
            .select((playlist_orders::playlist_id, playlist_orders::track_count))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .map(|(id, n)| (id, i64::from(n)))
            .collect())
    }

    /// Writes `entries` as the whole order: one UPDATE, or one INSERT for a
    /// playlist that has no row yet (a new one).
    pub fn write(
        conn: &mut DbConnection,
        playlist_id: &str,
        entries: &[OrderEntry],
    ) -> QueryResult<()> {
        let text = encode(entries);
        let count = entries.len() as i32;
        let updated = diesel::update(playlist_orders::table.find(playlist_id))
            .set((
                playlist_orders::track_count.eq(count),
                playlist_orders::entries.eq(&text),
            ))
            .execute(conn)?;
        if updated == 0 {
            crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(playlist_orders::table)
                .values((
                    playlist_orders::playlist_id.eq(playlist_id),
                    playlist_orders::track_count.eq(count),
                    playlist_orders::entries.eq(&text),
                ))
                .execute(c))?;
        }
        Ok(())
    }

    /// Replaces the order with `uris`, each entry's added time carried over
    /// by [`carry_added_times`] from the order it replaces (`given[i]`,
    /// when present, is the provider's time for `uris[i]`); `now` is
    /// the time of the write, in unix seconds. The URIs must be in the
    /// catalog.
    pub fn replace(
        conn: &mut DbConnection,
        playlist_id: &str,
        uris: &[String],
        given: Option<&[Option<i64>]>,
        now: i64,
    ) -> QueryResult<()> {
        let old = Self::entries(conn, playlist_id)?;
        let entries = carry_added_times(&old, uris, given, now);
        Self::write(conn, playlist_id, &entries)
    }

    /// The tracks in order with their positions, as `owner_id` described
    /// them (their own facts, else the shared catalog row): one statement.
    pub fn tracks(
        conn: &mut DbConnection,
        playlist_id: &str,
        owner_id: i64,
    ) -> QueryResult<Vec<(i32, Track)>> {
        let view = |column: &str| {
            format!("CASE WHEN f.user_id IS NULL THEN t.{column} ELSE f.{column} END AS {column}")
        };
        let columns = format!(
            "t.id, t.uri, {}, {}, {}, {}, {}, t.created_at",
            view("name"),
            view("artists"),
            view("album_name"),
            view("duration_ms"),
            view("tempo"),
        );
        let sql = match conn.backend() {
            Backend::Sqlite => format!(
                "SELECT CAST(e.key AS INTEGER) AS position, {columns} \
                 FROM playlist_orders o JOIN json_each(o.entries) e \
                 JOIN tracks t ON t.uri = e.value ->> 0 \
                 LEFT JOIN track_facts f ON f.user_id = ? AND f.uri = t.uri \
                 WHERE o.playlist_id = ? ORDER BY e.key"
            ),
            Backend::Postgres => format!(
                "SELECT (e.n - 1)::int4 AS position, {columns} \
                 FROM playlist_orders o \
                 CROSS JOIN LATERAL json_array_elements(o.entries::json) WITH ORDINALITY \
                     AS e(value, n) \
                 JOIN tracks t ON t.uri = e.value ->> 0 \
                 LEFT JOIN track_facts f ON f.user_id = $1 AND f.uri = t.uri \
                 WHERE o.playlist_id = $2 ORDER BY e.n"
            ),
        };
        let rows = crate::db::with_backend!(conn, |c| diesel::sql_query(&sql)
            .bind::<BigInt, _>(owner_id)
            .bind::<Text, _>(playlist_id)
            .load::<Positioned>(c))?;
        Ok(rows.into_iter().map(|r| (r.position, r.track)).collect())
    }

    /// Which of `uris` are in a playlist `owner_id` owns: one statement
    /// over the owner's orders.
    pub fn held_uris(
        conn: &mut DbConnection,
        owner_id: i64,
        uris: &[&str],
    ) -> QueryResult<Vec<String>> {
        if uris.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = serde_json::to_string(uris)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        let sql = match conn.backend() {
            Backend::Sqlite => format!(
                "SELECT DISTINCT held.uri FROM ({}) held \
                 WHERE held.uri IN (SELECT value FROM json_each(?))",
                Self::held_sql(Backend::Sqlite)
            ),
            Backend::Postgres => format!(
                "SELECT DISTINCT held.uri FROM ({}) held \
                 WHERE held.uri IN (SELECT json_array_elements_text($2::json))",
                Self::held_sql(Backend::Postgres).replace('?', "$1")
            ),
        };
        let rows = crate::db::with_backend!(conn, |c| diesel::sql_query(&sql)
            .bind::<BigInt, _>(owner_id)
            .bind::<Text, _>(&wanted)
            .load::<HeldUri>(c))?;
        Ok(rows.into_iter().map(|r| r.uri).collect())
    }

    /// A subquery of every URI (column `uri`, repeats included) in the
    /// playlists of the owner bound to its one `?`; for the catalog search.
    pub fn held_sql(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => {
                "SELECT e.value ->> 0 AS uri FROM playlists p \
                 JOIN playlist_orders o ON o.playlist_id = p.id \
                 JOIN json_each(o.entries) e WHERE p.owner_id = ?"
            }
            Backend::Postgres => {
                "SELECT e.value ->> 0 AS uri FROM playlists p \
                 JOIN playlist_orders o ON o.playlist_id = p.id \
                 CROSS JOIN LATERAL json_array_elements(o.entries::json) e \
                 WHERE p.owner_id = ?"
            }
        }
    }
}

#[derive(QueryableByName)]
struct Positioned {
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(embed)]
    track: Track,
}

#[derive(QueryableByName)]
struct HeldUri {
    #[diesel(sql_type = Text)]
    uri: String,
}

/// The entries of a new order `uris`, replacing `old`: entry `i` takes
/// `given[i]` when the provider gave one; else, when the URI was in the old
/// order, the time of its occurrence there of the same rank (the k-th `a`
/// of the new order takes the time of the k-th `a` of the old); else `now`.
pub fn carry_added_times(
    old: &[OrderEntry],
    uris: &[String],
    given: Option<&[Option<i64>]>,
    now: i64,
) -> Vec<OrderEntry> {
    let mut kept: HashMap<&str, VecDeque<i64>> = HashMap::with_capacity(old.len());
    for entry in old {
        kept.entry(entry.uri.as_str())
            .or_default()
            .push_back(entry.added_at);
    }
    uris.iter()
        .enumerate()
        .map(|(i, uri)| {
            let carried = kept.get_mut(uri.as_str()).and_then(VecDeque::pop_front);
            let from_provider = given.and_then(|g| g.get(i).copied().flatten());
            OrderEntry {
                uri: uri.clone(),
                added_at: from_provider.or(carried).unwrap_or(now),
            }
        })
        .collect()
}

/// `[["uri",added_at],...]`, without spaces.
fn encode(entries: &[OrderEntry]) -> String {
    let pairs: Vec<(&str, i64)> = entries
        .iter()
        .map(|e| (e.uri.as_str(), e.added_at))
        .collect();
    serde_json::to_string(&pairs).expect("strings and integers always serialize")
}

fn decode(text: &str) -> QueryResult<Vec<OrderEntry>> {
    let pairs: Vec<(String, i64)> = serde_json::from_str(text)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    Ok(pairs
        .into_iter()
        .map(|(uri, added_at)| OrderEntry { uri, added_at })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{carry_added_times, decode, encode, OrderEntry};

    fn order(pairs: &[(&str, i64)]) -> Vec<OrderEntry> {
        pairs
            .iter()
            .map(|(uri, added_at)| OrderEntry {
                uri: uri.to_string(),
                added_at: *added_at,
            })
            .collect()
    }

    fn uris(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_rewrite_keeps_each_occurrence_time_by_rank_and_stamps_new_ones_now() {
        let old = order(&[("a", 1), ("b", 2), ("a", 3)]);
        let new = carry_added_times(&old, &uris("a b c a a"), None, 9);
        assert_eq!(
            new,
            order(&[("a", 1), ("b", 2), ("c", 9), ("a", 3), ("a", 9)])
        );
    }

    #[test]
    fn the_provider_time_wins_where_it_is_given() {
        let old = order(&[("a", 1), ("b", 2)]);
        let given = [None, Some(5), Some(6)];
        let new = carry_added_times(&old, &uris("a b c"), Some(&given), 9);
        assert_eq!(new, order(&[("a", 1), ("b", 5), ("c", 6)]));
    }

    #[test]
    fn entries_round_trip_as_compact_pairs() {
        let entries = order(&[("spotify:track:1", 1_765_000_000), ("x\"y", 0)]);
        let text = encode(&entries);
        assert_eq!(text, r#"[["spotify:track:1",1765000000],["x\"y",0]]"#);
        assert_eq!(decode(&text).unwrap(), entries);
        assert_eq!(encode(&[]), "[]");
    }
}
