//! `playlists`, and the reads and writes of their orders, which are kept
//! one row per playlist in `models::playlist_order` (an entry's position
//! is its index, from 0; duplicates are allowed). Two services call the
//! queries here:
//! `services::playlists` (CRUD and reads) and `services::rewrite` (orders,
//! and the provider columns a write-back or sync moves). A linked
//! playlist's provider columns are [`ProviderLink`], embedded in the row.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::playlists;
use crate::db::{DbConnection, Json};
use crate::enums::Provider;
use crate::models::playlist_order::{OrderEntry, PlaylistOrder};
use crate::models::track::Track;

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
    /// The pinned slots, a JSON array of distinct integers; read them with
    /// [`Playlist::pinned`].
    pub pinned_positions: Json,
    #[diesel(embed)]
    pub link: ProviderLink,
    #[diesel(embed)]
    pub rotation: RotationColumns,
}

/// Most slots a playlist may pin.
pub const MAX_PINNED: usize = 100;
/// The highest slot that may be pinned (a playlist holds at most 10,000
/// tracks).
pub const MAX_PINNED_POSITION: usize = 9_999;

/// Where a playlist's order lives. A local playlist has only `provider`;
/// a linked one names the provider's playlist, the provider account that
/// linked it, the provider's snapshot at the last sync or write, whether a
/// failed write left the two apart, and since when a write to the provider
/// is under way (a claim, so two rewrites never write to Spotify at once).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = playlists)]
pub struct ProviderLink {
    pub provider: Provider,
    #[diesel(column_name = provider_playlist_id)]
    pub playlist_id: Option<String>,
    #[diesel(column_name = provider_account_id)]
    pub account_id: Option<String>,
    #[diesel(column_name = provider_snapshot_id)]
    pub snapshot_id: Option<String>,
    #[diesel(column_name = provider_out_of_sync)]
    pub out_of_sync: bool,
    #[diesel(column_name = provider_writing_since)]
    pub writing_since: Option<NaiveDateTime>,
}

impl ProviderLink {
    /// A playlist kept only here.
    pub fn local() -> Self {
        ProviderLink {
            provider: Provider::Local,
            playlist_id: None,
            account_id: None,
            snapshot_id: None,
            out_of_sync: false,
            writing_since: None,
        }
    }

    /// Linked to `playlist_id` on Spotify by the account `account_id`,
    /// in step as of `snapshot_id`.
    pub fn spotify(playlist_id: &str, account_id: &str, snapshot_id: Option<String>) -> Self {
        ProviderLink {
            provider: Provider::Spotify,
            playlist_id: Some(playlist_id.to_string()),
            account_id: Some(account_id.to_string()),
            snapshot_id,
            out_of_sync: false,
            writing_since: None,
        }
    }

    pub fn is_linked(&self) -> bool {
        self.provider != Provider::Local
    }
}

/// A playlist's rotation as stored: both `None` when it has none; an
/// archive only with a size (`Playlist::rotation` reads them together).
/// Deleting the archive sets `archive_playlist_id` to `None` (the foreign
/// key's `ON DELETE SET NULL`): the rotation keeps its size and drops what
/// it rotates out.
#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = playlists, treat_none_as_null = true)]
pub struct RotationColumns {
    #[diesel(column_name = rotation_max_tracks)]
    pub max_tracks: Option<i32>,
    #[diesel(column_name = rotation_archive_playlist_id)]
    pub archive_playlist_id: Option<String>,
}

/// A playlist's rotation: after a raid leaves it with more than
/// `max_tracks` entries, those added longest ago move to the end of the
/// archive (or are dropped when there is none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"max_tracks": 100, "archive_playlist_id": "Yq3XcSNar5OCsS1r8dQ7bR"}))]
pub struct Rotation {
    /// 1–10,000.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_tracks: usize,
    /// Another playlist of the owner's, local or linked; `null`: the
    /// entries rotated out are dropped.
    pub archive_playlist_id: Option<String>,
}

impl RotationColumns {
    /// The columns of `rotation` (`None` clears it).
    pub fn of(rotation: Option<&Rotation>) -> Self {
        match rotation {
            None => RotationColumns::default(),
            Some(r) => RotationColumns {
                max_tracks: Some(r.max_tracks as i32),
                archive_playlist_id: r.archive_playlist_id.clone(),
            },
        }
    }

    /// The rotation these columns hold, if any.
    pub fn get(&self) -> Option<Rotation> {
        self.max_tracks.map(|n| Rotation {
            max_tracks: n.max(0) as usize,
            archive_playlist_id: self.archive_playlist_id.clone(),
        })
    }
}

/// The fields a metadata change writes.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = playlists)]
pub struct PlaylistChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
    // Pinned positions (kept apart from the fields above).
    pub pinned_positions: Option<Json>,
}

impl Playlist {
    /// The pinned slots (0-based positions), sorted: every shuffle leaves
    /// the entry in each of them where it is, and a dedupe never removes
    /// it. A slot may lie past the end of the order; it then pins nothing.
    /// Anything that is not a whole number in range reads as unpinned
    /// (the API writes only valid sets).
    pub fn pinned(&self) -> BTreeSet<usize> {
        self.pinned_positions
            .0
            .as_array()
            .map(|slots| {
                slots
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .filter_map(|v| usize::try_from(v).ok())
                    .filter(|v| *v <= MAX_PINNED_POSITION)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A pin set as stored: a sorted JSON array.
    pub fn pins_json(pins: &BTreeSet<usize>) -> Json {
        Json(serde_json::json!(pins))
    }

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

    /// How many playlists each owner has, for owners with any: the
    /// command line's user list.
    pub fn count_by_owner(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64)>> {
        playlists::table
            .group_by(playlists::owner_id)
            .select((playlists::owner_id, count_star()))
            .load(conn)
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
        let counts = PlaylistOrder::counts(conn, &ids)?;
        let items = page
            .into_iter()
            .map(|p| {
                let n = counts.get(&p.id).copied().unwrap_or(0);
                (p, n)
            })
            .collect();
        Ok((items, total))
    }

    /// Which of `uris` are in a playlist `owner_id` owns.
    pub fn held_uris(
        conn: &mut DbConnection,
        owner_id: i64,
        uris: &[&str],
    ) -> QueryResult<Vec<String>> {
        PlaylistOrder::held_uris(conn, owner_id, uris)
    }

    /// The track URIs in order.
    pub fn track_uris(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<String>> {
        PlaylistOrder::uris(conn, id)
    }

    /// The entries in order, with when each was added.
    pub fn entries(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<OrderEntry>> {
        PlaylistOrder::entries(conn, id)
    }

    pub fn track_count(conn: &mut DbConnection, id: &str) -> QueryResult<i64> {
        PlaylistOrder::count(conn, id)
    }

    /// The tracks in order, with their catalog entries as `owner_id`
    /// described them (their own facts, else the shared row): one
    /// statement.
    pub fn tracks(
        conn: &mut DbConnection,
        id: &str,
        owner_id: i64,
    ) -> QueryResult<Vec<(i32, Track)>> {
        PlaylistOrder::tracks(conn, id, owner_id)
    }

    /// Replaces the whole order, in one row write. Entries keep the added
    /// time of the same URI in the order replaced; new ones are stamped
    /// now. The URIs must be in the catalog.
    pub fn replace_tracks(conn: &mut DbConnection, id: &str, uris: &[String]) -> QueryResult<()> {
        Self::replace_tracks_added(conn, id, uris, None)
    }

    /// [`Self::replace_tracks`] with a provider's added times (`added[i]`
    /// for `uris[i]`, where it has one): an import's or a sync's.
    pub fn replace_tracks_added(
        conn: &mut DbConnection,
        id: &str,
        uris: &[String],
        added: Option<&[Option<i64>]>,
    ) -> QueryResult<()> {
        let now = crate::db::now().and_utc().timestamp();
        PlaylistOrder::replace(conn, id, uris, added, now)
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

    /// The caller's playlist linked to `provider_playlist_id`, if any.
    pub fn find_linked(
        conn: &mut DbConnection,
        owner_id: i64,
        provider: Provider,
        provider_playlist_id: &str,
    ) -> QueryResult<Option<Playlist>> {
        playlists::table
            .filter(playlists::owner_id.eq(owner_id))
            .filter(playlists::provider.eq(provider))
            .filter(playlists::provider_playlist_id.eq(provider_playlist_id))
            .select(Playlist::as_select())
            .first(conn)
            .optional()
    }

    /// The caller's playlists linked to `provider`: (provider id, local id).
    pub fn linked_ids(
        conn: &mut DbConnection,
        owner_id: i64,
        provider: Provider,
    ) -> QueryResult<Vec<(Option<String>, String)>> {
        playlists::table
            .filter(playlists::owner_id.eq(owner_id))
            .filter(playlists::provider.eq(provider))
            .select((playlists::provider_playlist_id, playlists::id))
            .load(conn)
    }

    /// Claims the right to write this playlist's order to its provider
    /// (`writing_since`), or releases it (`None`).
    pub fn set_writing(
        conn: &mut DbConnection,
        id: &str,
        since: Option<NaiveDateTime>,
    ) -> QueryResult<()> {
        diesel::update(playlists::table.find(id))
            .set(playlists::provider_writing_since.eq(since))
            .execute(conn)
            .map(|_| ())
    }

    /// Records where the provider now stands: its snapshot, and whether the
    /// two copies are apart; releases any write claim.
    pub fn set_provider_state(
        conn: &mut DbConnection,
        id: &str,
        snapshot_id: Option<&str>,
        out_of_sync: bool,
    ) -> QueryResult<()> {
        diesel::update(playlists::table.find(id))
            .set((
                playlists::provider_snapshot_id.eq(snapshot_id),
                playlists::provider_out_of_sync.eq(out_of_sync),
                playlists::provider_writing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Marks the copies apart (a write to the provider failed part-way),
    /// releasing the write claim.
    pub fn mark_out_of_sync(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
        diesel::update(playlists::table.find(id))
            .set((
                playlists::provider_out_of_sync.eq(true),
                playlists::provider_writing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// The ids of the playlists whose rotation archives into `id`.
    pub fn archiving_into(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<String>> {
        playlists::table
            .filter(playlists::rotation_archive_playlist_id.eq(id))
            .select(playlists::id)
            .order(playlists::id.asc())
            .load(conn)
    }

    /// Sets (or clears) the rotation.
    pub fn set_rotation(
        conn: &mut DbConnection,
        id: &str,
        rotation: &RotationColumns,
    ) -> QueryResult<()> {
        diesel::update(playlists::table.find(id))
            .set(rotation)
            .execute(conn)
            .map(|_| ())
    }

    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(playlists::table.find(id)).execute(conn)
    }
}
