//! Playlists: the seam every read and write of a playlist goes through, so
//! that a second provider (Spotify) slots in behind one service. Other
//! services ask this one for a playlist, its tracks or its URIs, and never
//! read the playlist model themselves. It holds versions and `If-Match`, the
//! playlist activity rows, and the two mechanisms every write to a playlist
//! goes through:
//!
//! - [`PlaylistService::with_locked`]: a write transaction holding the
//!   playlist's row lock, for every write to its aggregate (metadata,
//!   snapshots, sessions, sources), so writers of one playlist serialize on
//!   PostgreSQL's READ COMMITTED as they do under SQLite's single writer,
//!   and check-then-write rules (version, count caps) are atomic.
//! - [`PlaylistService::rewrite`]: the one way an order is replaced by a
//!   client (shuffle, commit, restore, undo), as SPEC §10.5 decides: the new
//!   order is computed outside the write lock, written under a version
//!   check, recomputed once if the version moved, and if it moved again
//!   computed and written holding the row lock. Its write step, and the
//!   scheduled jobs (raid, shuffle), replace the order through
//!   [`PlaylistService::rewrite_order`], which compares, takes the automatic
//!   snapshot, writes and bumps the version: an automatic snapshot before
//!   every rewrite is structure rather than a convention of each caller.

use std::collections::HashMap;

use serde::Serialize;

use crate::db::{self, write_transaction, Checkout, DbConnection};
use crate::enums::{Provider, SnapshotType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::{Playlist, PlaylistChanges, ProviderLink};
use crate::models::snapshot::Snapshot;
use crate::models::track::{NewTrack, Track, TrackView};
use crate::models::{NewActivity, User, UserSettings};
use crate::providers::spotify::{api::writable_uri, Spotify};
use crate::services::spotify::{write_under_way, SpotifyService};
use crate::services::ActivityLogService;

/// Most tracks a playlist (or a commit) may hold.
pub const MAX_TRACKS: usize = 10_000;
/// Most playlists one user may keep (SPEC §10.9).
pub const MAX_PLAYLISTS: i64 = 500;
/// Rewrites computed outside the write lock before one is computed under
/// it (SPEC §10.5: the first try, and one recompute).
const OPTIMISTIC_TRIES: usize = 2;

/// An `If-Match` precondition on a playlist's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(i32),
    /// A value that can match no version (malformed).
    Never,
}

impl IfMatch {
    /// Whether the client pinned a version, so a version that moved under
    /// it is a 412 rather than a reason to recompute.
    fn pins_version(if_match: Option<IfMatch>) -> bool {
        matches!(if_match, Some(IfMatch::Version(_) | IfMatch::Never))
    }
}

/// A playlist after its order was rewritten, and the automatic snapshot
/// of the order it replaced (when the owner keeps them).
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub playlist: Playlist,
    pub snapshot_id: Option<i64>,
    /// Spotify's snapshot after the new order was written there, for a
    /// linked playlist (SPEC §10.20: its row and answer carry it).
    pub spotify_snapshot_id: Option<String>,
}

/// The locked playlist a rewrite writes, and what was already done for a
/// linked one: an order written to Spotify (its automatic snapshot taken
/// before), or Spotify's order pulled in by a sync.
#[derive(Debug, Clone)]
pub struct RewriteTarget {
    pub playlist: Playlist,
    provider: Option<ProviderStep>,
}

#[derive(Debug, Clone)]
enum ProviderStep {
    /// The order went to Spotify, which is now at `spotify_snapshot_id`;
    /// the automatic snapshot was taken before (`snapshot_id`).
    WrittenBack {
        snapshot_id: Option<i64>,
        spotify_snapshot_id: String,
    },
    /// The order comes from Spotify, at `spotify_snapshot_id` (`None`
    /// when some of Spotify's items are not in the copy).
    Synced { spotify_snapshot_id: Option<String> },
}

impl RewriteTarget {
    /// A playlist whose order is written here only.
    pub fn new(playlist: Playlist) -> Self {
        RewriteTarget {
            playlist,
            provider: None,
        }
    }

    /// A linked playlist whose new order Spotify already holds, at
    /// `spotify_snapshot_id`, with the automatic snapshot taken before the
    /// write (`snapshot_id`).
    pub fn written_back(
        playlist: Playlist,
        snapshot_id: Option<i64>,
        spotify_snapshot_id: String,
    ) -> Self {
        RewriteTarget {
            playlist,
            provider: Some(ProviderStep::WrittenBack {
                snapshot_id,
                spotify_snapshot_id,
            }),
        }
    }

    /// A linked playlist taking the order Spotify holds at `snapshot`.
    pub fn synced(playlist: Playlist, snapshot: Option<&str>) -> Self {
        RewriteTarget {
            playlist,
            provider: Some(ProviderStep::Synced {
                spotify_snapshot_id: snapshot.map(String::from),
            }),
        }
    }
}

/// What a rewrite computed: the order it read, the one it will write, and
/// why (which names the automatic snapshot). A linked playlist's rewrite
/// needs them between its steps (SPEC §10.19).
pub trait OrderPlan {
    fn current(&self) -> &[String];
    fn order(&self) -> &[String];
    fn why(&self) -> Rewrite<'_>;
}

/// Why an order is rewritten: it names the automatic snapshot taken first.
#[derive(Debug, Clone, Copy)]
pub enum Rewrite<'a> {
    /// A shuffle by the owner, with the algorithm's key.
    Shuffle { algorithm: &'a str },
    /// A workshop commit.
    Commit,
    /// A restore (or undo) of a snapshot.
    Restore { snapshot_id: i64 },
    /// A schedule's raid.
    Raid { schedule_id: i64 },
    /// A schedule's shuffle.
    ScheduledShuffle { schedule_id: i64 },
    /// A sync that found another order on Spotify.
    Sync,
}

impl Rewrite<'_> {
    fn snapshot_type(&self) -> SnapshotType {
        match self {
            Rewrite::Shuffle { .. } => SnapshotType::AutoPreShuffle,
            Rewrite::Commit => SnapshotType::AutoPreCommit,
            Rewrite::Restore { .. } => SnapshotType::AutoPreRestore,
            Rewrite::Raid { .. } => SnapshotType::AutoPreRaid,
            Rewrite::ScheduledShuffle { .. } => SnapshotType::ScheduledPreExecution,
            Rewrite::Sync => SnapshotType::AutoPreSync,
        }
    }

    fn snapshot_description(&self) -> String {
        match self {
            Rewrite::Shuffle { algorithm } => format!("Before {algorithm} shuffle"),
            Rewrite::Commit => "Before workshop commit".to_string(),
            Rewrite::Restore { snapshot_id } => {
                format!("Before restoring snapshot #{snapshot_id}")
            }
            Rewrite::Raid { schedule_id } => format!("Before schedule #{schedule_id} raid"),
            Rewrite::ScheduledShuffle { schedule_id } => {
                format!("Before schedule #{schedule_id} shuffle")
            }
            Rewrite::Sync => "Before sync from Spotify".to_string(),
        }
    }

    /// A restore is recorded even when the order already is the
    /// snapshot's: the owner asked to go back to it, and undo walks back
    /// one step each time. Every other rewrite of an identical order
    /// writes and logs nothing (SPEC §6: `changed: false`).
    fn writes_when_unchanged(&self) -> bool {
        matches!(self, Rewrite::Restore { .. })
    }
}

/// 400 unless every URI of a linked playlist's new order is one Spotify
/// can hold (SPEC §10.19); judged before the version, as every 400 is.
fn spotify_uris_only(planned: &impl OrderPlan) -> AppResult<()> {
    match planned.order().iter().find(|u| !writable_uri(u)) {
        None => Ok(()),
        Some(uri) => Err(AppError::invalid(
            "track_uris",
            format!(
                "a playlist linked to Spotify holds only spotify:track: and spotify:episode: \
                 URIs; {uri} is neither"
            ),
        )),
    }
}

/// 412 unless the precondition holds for `playlist`.
pub fn check_version(playlist: &Playlist, if_match: Option<IfMatch>) -> AppResult<()> {
    match if_match {
        None | Some(IfMatch::Any) => Ok(()),
        Some(IfMatch::Version(v)) if v == playlist.version => Ok(()),
        Some(_) => Err(AppError::PreconditionFailed),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PlaylistTrack)]
pub struct PlaylistTrackView {
    pub position: i32,
    #[serde(flatten)]
    pub track: TrackView,
}

/// A playlist with its tracks, as `GET /api/playlists/{id}` answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Playlist)]
pub struct PlaylistView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub owner_id: i64,
    pub version: i32,
    /// `local`, or `spotify` for a playlist linked to Spotify.
    pub provider: Provider,
    /// The linked Spotify playlist; only on a linked playlist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_playlist_id: Option<String>,
    pub tracks: Vec<PlaylistTrackView>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
}

/// The answer to a request that may rewrite a playlist's order (shuffle,
/// workshop commit): the playlist as it now is, whether the order changed,
/// and the automatic snapshot taken first, if any.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "playlist": {"id": "XiZ9cSNar5OCsS1r8dQ7bR", "name": "Road Trip", "description": "",
        "is_public": false, "owner_id": 1, "version": 2, "tracks": [
            {"position": 0, "uri": "demo:2", "name": "Echo", "artists": ["Kite Theory"],
             "album_name": null, "duration_ms": 0, "tempo": 128.0},
            {"position": 1, "uri": "demo:1", "name": "Lantern", "artists": ["Neon Harbor"],
             "album_name": "Night Ferry", "duration_ms": 0, "tempo": 96.0}],
        "updated_at": "2026-12-04T03:32:08.772999Z"},
    "changed": true, "snapshot_id": 1
}))]
pub struct PlaylistChange {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub snapshot_id: Option<i64>,
    /// `spotify` when the new order was written to Spotify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Spotify's snapshot after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_snapshot_id: Option<String>,
}

impl PlaylistChange {
    /// The answer after [`PlaylistService::rewrite_order`] put `order` in
    /// `playlist` (`written`), or found it already there (`None`).
    pub fn new(
        playlist: &Playlist,
        written: Option<&Rewritten>,
        order: &[String],
        catalog: &HashMap<String, Track>,
    ) -> Self {
        match written {
            None => PlaylistChange {
                playlist: PlaylistService::view_of(playlist, order, catalog),
                changed: false,
                snapshot_id: None,
                provider: None,
                spotify_snapshot_id: None,
            },
            Some(done) => PlaylistChange {
                playlist: PlaylistService::view_of(&done.playlist, order, catalog),
                changed: true,
                snapshot_id: done.snapshot_id,
                provider: done.spotify_snapshot_id.as_ref().map(|_| Provider::Spotify),
                spotify_snapshot_id: done.spotify_snapshot_id.clone(),
            },
        }
    }
}

/// A playlist in a listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlaylistSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub track_count: i64,
    pub version: i32,
    pub provider: Provider,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
}

/// One track of a new playlist, validated: the fields a client reads back.
pub type TrackInput = TrackView;

#[derive(Debug, Clone)]
pub struct NewPlaylistInput {
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub tracks: Vec<TrackInput>,
}

/// 22 random base62 characters.
pub fn new_playlist_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub struct PlaylistService;

impl PlaylistService {
    pub fn view(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<PlaylistView> {
        let tracks = Self::tracks(conn, playlist)?
            .into_iter()
            .map(|(position, track)| PlaylistTrackView {
                position,
                track: track.view(),
            })
            .collect();
        Ok(Self::view_with(playlist, tracks))
    }

    /// The view of `playlist` holding `order`, from catalog entries already
    /// read: a rewrite answers with it without reading 10,000 tracks again
    /// while it holds the write lock.
    pub fn view_of(
        playlist: &Playlist,
        order: &[String],
        catalog: &HashMap<String, Track>,
    ) -> PlaylistView {
        let tracks = order
            .iter()
            .filter_map(|uri| catalog.get(uri))
            .enumerate()
            .map(|(position, track)| PlaylistTrackView {
                position: position as i32,
                track: track.view(),
            })
            .collect();
        Self::view_with(playlist, tracks)
    }

    fn view_with(playlist: &Playlist, tracks: Vec<PlaylistTrackView>) -> PlaylistView {
        PlaylistView {
            id: playlist.id.clone(),
            name: playlist.name.clone(),
            description: playlist.description.clone(),
            is_public: playlist.is_public,
            owner_id: playlist.owner_id,
            version: playlist.version,
            provider: playlist.link.provider,
            spotify_playlist_id: playlist.link.playlist_id.clone(),
            tracks,
            updated_at: playlist.updated_at,
        }
    }

    pub fn list(
        conn: &mut DbConnection,
        owner_id: i64,
        limit: i64,
        offset: i64,
    ) -> AppResult<(Vec<PlaylistSummary>, i64)> {
        let (rows, total) = Playlist::list_owned(conn, owner_id, limit, offset)?;
        let items = rows
            .into_iter()
            .map(|(p, track_count)| PlaylistSummary {
                id: p.id,
                name: p.name,
                description: p.description,
                is_public: p.is_public,
                track_count,
                version: p.version,
                provider: p.link.provider,
                updated_at: p.updated_at,
            })
            .collect();
        Ok((items, total))
    }

    /// The caller's own playlist or 404.
    pub fn owned(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Self::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// The caller's own playlist, if it is theirs.
    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
    ) -> AppResult<Option<Playlist>> {
        Ok(Playlist::find_owned(conn, user_id, id)?)
    }

    /// A playlist the caller may read: their own, or someone's public one.
    pub fn find_readable(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
    ) -> AppResult<Option<Playlist>> {
        Ok(Playlist::find_readable(conn, user_id, id)?)
    }

    /// A playlist the caller may read, or 404.
    pub fn readable(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Self::find_readable(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// A playlist's tracks with their positions, in order.
    pub fn tracks(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<Vec<(i32, Track)>> {
        Ok(Playlist::tracks(conn, &playlist.id)?)
    }

    /// A playlist's track URIs, in order.
    pub fn track_uris(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<Vec<String>> {
        Ok(Playlist::track_uris(conn, &playlist.id)?)
    }

    /// The caller's own playlist, its row locked until the transaction
    /// ends; 404 when it is not theirs. The caller holds a write
    /// transaction.
    pub fn lock_owned(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Playlist::lock(conn, id)?
            .filter(|p| p.owner_id == user_id)
            .ok_or(AppError::NotFound)
    }

    /// Runs `f` in a write transaction that holds the caller's playlist
    /// `id` locked (404 when it is not theirs). Every write to a
    /// playlist's aggregate goes through here or through [`Self::rewrite`].
    pub fn with_locked<T>(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
        f: impl FnOnce(&mut DbConnection, Playlist) -> AppResult<T>,
    ) -> AppResult<T> {
        write_transaction(conn, |conn| {
            let playlist = Self::lock_owned(conn, user_id, id)?;
            f(conn, playlist)
        })
    }

    /// Rewrites the order of the caller's playlist `id` (SPEC §10.5).
    ///
    /// `plan` reads what it needs and computes (the expensive part: a
    /// shuffle of 10,000 tracks), given the playlist as read; the first
    /// tries run it outside the write lock. `write` runs in the write
    /// transaction, with the playlist locked and its version unchanged
    /// since `plan` read it, and writes through [`Self::rewrite_order`].
    /// Without `If-Match`, a version that moved under a try means
    /// recompute; the last try plans under the lock and cannot be
    /// overtaken. With `If-Match`, a version that moved is a 412; it is
    /// judged after `plan`, so a request that is wrong whatever the version
    /// (an unknown algorithm parameter, a URI not in the catalog) answers
    /// its 400, not a 412 (RFC 9110 §13.2.1).
    ///
    /// A playlist linked to Spotify goes through [`Self::rewrite_linked`].
    pub fn rewrite<P: OrderPlan, T>(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user_id: i64,
        id: &str,
        if_match: Option<IfMatch>,
        mut plan: impl FnMut(&mut DbConnection, &Playlist) -> AppResult<P>,
        mut write: impl FnMut(&mut DbConnection, RewriteTarget, P) -> AppResult<T>,
    ) -> AppResult<T> {
        for _ in 0..OPTIMISTIC_TRIES {
            let conn = db.conn()?;
            let read = Self::owned(conn, user_id, id)?;
            if read.link.is_linked() {
                return Self::rewrite_linked(db, spotify, user_id, id, if_match, plan, write);
            }
            let planned = plan(conn, &read)?;
            check_version(&read, if_match)?;
            let written = write_transaction(conn, |conn| {
                let locked = Self::lock_owned(conn, user_id, id)?;
                if locked.version != read.version {
                    return Ok(None);
                }
                write(conn, RewriteTarget::new(locked), planned).map(Some)
            })?;
            match written {
                Some(done) => return Ok(done),
                None if IfMatch::pins_version(if_match) => {
                    return Err(AppError::PreconditionFailed)
                }
                None => continue,
            }
        }
        write_transaction(db.conn()?, |conn| {
            let locked = Self::lock_owned(conn, user_id, id)?;
            let planned = plan(conn, &locked)?;
            check_version(&locked, if_match)?;
            write(conn, RewriteTarget::new(locked), planned)
        })
    }

    /// A rewrite of a playlist linked to Spotify (SPEC §10.19), holding no
    /// connection and no lock while Spotify is called: (1) one transaction
    /// checks the version, claims the playlist's write to Spotify and takes
    /// the automatic snapshot; (2) Spotify's order is compared with the
    /// one read (409 when it changed there) and replaced; (3) one
    /// transaction writes the local order through `write`. A write that
    /// failed before anything reached Spotify releases the claim; one that
    /// failed part-way marks the playlist out of sync. An order that does
    /// not change needs nothing of Spotify. While another rewrite holds the
    /// claim this one waits (15 s at most, then 409).
    fn rewrite_linked<P: OrderPlan, T>(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user_id: i64,
        id: &str,
        if_match: Option<IfMatch>,
        mut plan: impl FnMut(&mut DbConnection, &Playlist) -> AppResult<P>,
        mut write: impl FnMut(&mut DbConnection, RewriteTarget, P) -> AppResult<T>,
    ) -> AppResult<T> {
        /// What step (1) found.
        enum Step<P, T> {
            /// The version moved since the plan was read.
            Moved,
            /// Another rewrite is writing to Spotify.
            Busy,
            /// Nothing to send to Spotify; written (or not) here already.
            Done(T),
            /// Claimed, with the automatic snapshot taken.
            Claimed(P, Option<i64>),
        }
        let spotify = spotify.ok_or_else(|| {
            AppError::Conflict(
                "the playlist is linked to Spotify, which is not configured on this server".into(),
            )
        })?;
        let (wait, poll) = SpotifyService::claim_wait();
        let started = std::time::Instant::now();
        let mut moved = 0;
        let (read, planned, snapshot_id) = loop {
            let conn = db.conn()?;
            let read = Self::owned(conn, user_id, id)?;
            // As in `rewrite`: planned outside the lock until the version
            // moved under it twice, then under the lock.
            let mut early = None;
            if moved < OPTIMISTIC_TRIES {
                let planned = plan(conn, &read)?;
                spotify_uris_only(&planned)?;
                check_version(&read, if_match)?;
                early = Some(planned);
            }
            let step = write_transaction(conn, |conn| {
                let locked = Self::lock_owned(conn, user_id, id)?;
                let planned = match early.take() {
                    Some(_) if locked.version != read.version => return Ok(Step::Moved),
                    Some(planned) => planned,
                    None => {
                        let planned = plan(conn, &locked)?;
                        spotify_uris_only(&planned)?;
                        check_version(&locked, if_match)?;
                        planned
                    }
                };
                if planned.order() == planned.current() {
                    return Ok(Step::Done(write(
                        conn,
                        RewriteTarget::new(locked),
                        planned,
                    )?));
                }
                if !SpotifyService::claim_write(conn, &locked)? {
                    return Ok(Step::Busy);
                }
                let snapshot_id =
                    Self::take_auto_snapshot(conn, &locked, planned.current(), planned.why())?;
                Ok::<_, AppError>(Step::Claimed(planned, snapshot_id))
            })?;
            match step {
                Step::Done(done) => return Ok(done),
                Step::Claimed(planned, snapshot_id) => break (read, planned, snapshot_id),
                Step::Moved if IfMatch::pins_version(if_match) => {
                    return Err(AppError::PreconditionFailed)
                }
                Step::Moved => moved += 1,
                Step::Busy => {
                    db.release();
                    if started.elapsed() > wait {
                        return Err(write_under_way());
                    }
                    std::thread::sleep(poll);
                }
            }
        };
        db.release();
        let sent =
            SpotifyService::write_order(db, spotify, &read, planned.current(), planned.order());
        let spotify_snapshot_id = match sent {
            Ok(snapshot) => snapshot,
            Err(failure) => {
                failure.settle(db.conn()?, id, snapshot_id.as_slice())?;
                return Err(failure.into_error());
            }
        };
        let written = write_transaction(db.conn()?, |conn| {
            let locked = Self::lock_owned(conn, user_id, id)?;
            let target = RewriteTarget::written_back(locked, snapshot_id, spotify_snapshot_id);
            write(conn, target, planned)
        });
        if written.is_err() {
            // Spotify has the new order and we do not.
            Playlist::mark_out_of_sync(db.conn()?, id)?;
        }
        written
    }

    /// Creates a playlist, adds its tracks to the catalog, logs
    /// `playlist_create`.
    pub fn create(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let (playlist, track_count) = Self::insert(conn, owner, input, ProviderLink::local())?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_create(owner, &playlist, track_count),
            );
            Self::view(conn, &playlist)
        })
    }

    /// Creates a playlist linked to a provider's (an import), its tracks'
    /// fields taken from the provider; logs `playlist_create` with the
    /// provider. The caller holds a write transaction.
    pub fn create_linked(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
        link: ProviderLink,
    ) -> AppResult<PlaylistView> {
        let (playlist, track_count) = Self::insert(conn, owner, input, link)?;
        ActivityLogService::log(
            conn,
            NewActivity::playlist_import(owner, &playlist, track_count),
        );
        Self::view(conn, &playlist)
    }

    /// Creates a playlist as [`Self::create`] does but logs nothing: for
    /// the demo data, which SPEC §4 says has no activity type.
    pub fn create_unlogged(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let (playlist, _) = Self::insert(conn, owner, input, ProviderLink::local())?;
            Self::view(conn, &playlist)
        })
    }

    /// The rows of a new playlist and its catalog entries, under the
    /// owner's lock (the per-user cap); returns it and its track count.
    fn insert(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
        link: ProviderLink,
    ) -> AppResult<(Playlist, usize)> {
        User::lock(conn, owner.id)?;
        if Playlist::count_owned(conn, owner.id)? >= MAX_PLAYLISTS {
            return Err(AppError::Conflict(format!(
                "at most {MAX_PLAYLISTS} playlists per user; delete one first"
            )));
        }
        let now = db::now();
        let catalog: Vec<NewTrack> = input
            .tracks
            .iter()
            .map(|t| NewTrack::from_view(t, now))
            .collect();
        if link.is_linked() {
            NewTrack::replace_all(conn, &catalog)?;
        } else {
            NewTrack::upsert_all(conn, &catalog)?;
        }
        let playlist = Playlist {
            id: new_playlist_id(),
            owner_id: owner.id,
            name: input.name.trim().to_string(),
            description: input.description.clone(),
            is_public: input.is_public,
            version: 1,
            created_at: now,
            updated_at: now,
            link,
        };
        playlist.insert(conn)?;
        let uris: Vec<String> = input.tracks.iter().map(|t| t.uri.clone()).collect();
        Playlist::replace_tracks(conn, &playlist.id, &uris)?;
        Ok((playlist, uris.len()))
    }

    /// Applies a metadata change. A change that changes nothing writes and
    /// logs nothing; `version` moves only when the name or description did.
    pub fn update(
        conn: &mut DbConnection,
        user: &User,
        id: &str,
        changes: PlaylistChanges,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        Self::with_locked(conn, user.id, id, |conn, playlist| {
            check_version(&playlist, if_match)?;
            let changes = PlaylistChanges {
                name: changes
                    .name
                    .map(|n| n.trim().to_string())
                    .filter(|n| *n != playlist.name),
                description: changes.description.filter(|d| *d != playlist.description),
                is_public: changes.is_public.filter(|p| *p != playlist.is_public),
            };
            let mut changed = Vec::new();
            for (field, is_changed) in [
                ("name", changes.name.is_some()),
                ("description", changes.description.is_some()),
                ("is_public", changes.is_public.is_some()),
            ] {
                if is_changed {
                    changed.push(field);
                }
            }
            if changed.is_empty() {
                return Self::view(conn, &playlist);
            }
            Playlist::apply(conn, id, &changes)?;
            let new_version = changes.name.is_some() || changes.description.is_some();
            let updated = Playlist::touch(conn, id, new_version, db::now())?;
            let track_count = Playlist::track_count(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_update(user, &updated, track_count, &changed),
            );
            Self::view(conn, &updated)
        })
    }

    pub fn delete(
        conn: &mut DbConnection,
        user: &User,
        id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<()> {
        Self::with_locked(conn, user.id, id, |conn, playlist| {
            check_version(&playlist, if_match)?;
            let track_count = Playlist::track_count(conn, id)?;
            Playlist::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_delete(user, &playlist, track_count),
            );
            Ok(())
        })
    }

    /// Replaces the order `current` of a locked playlist with `order`:
    /// compares them (an identical order writes nothing and answers `None`,
    /// except for a restore), takes an automatic snapshot of `current` of
    /// the kind `why` names (while the owner's `auto_snapshot_enabled` is
    /// on; the owner's settings are read once, here), then writes the new
    /// order and a new version. The caller holds the write transaction and
    /// the lock, and has checked the URIs against the catalog.
    ///
    /// A linked playlist's order changes only with Spotify's: after it was
    /// written there (its snapshot then already taken) or pulled from
    /// there by a sync; any other change of it is a 409, rather than let
    /// the two copies drift apart.
    pub fn rewrite_order(
        conn: &mut DbConnection,
        target: &RewriteTarget,
        current: &[String],
        order: &[String],
        why: Rewrite<'_>,
    ) -> AppResult<Option<Rewritten>> {
        let playlist = &target.playlist;
        if order == current && !why.writes_when_unchanged() {
            return Ok(None);
        }
        let snapshot_id = match &target.provider {
            Some(ProviderStep::WrittenBack { snapshot_id, .. }) => *snapshot_id,
            None if playlist.link.is_linked() && order != current => {
                return Err(AppError::Conflict(format!(
                    "playlist {} is linked to Spotify; its order changes only together with \
                     Spotify's",
                    playlist.id
                )))
            }
            _ => Self::take_auto_snapshot(conn, playlist, current, why)?,
        };
        Playlist::replace_tracks(conn, &playlist.id, order)?;
        let spotify_snapshot_id = match &target.provider {
            Some(ProviderStep::WrittenBack {
                spotify_snapshot_id,
                ..
            }) => {
                Playlist::set_provider_state(conn, &playlist.id, Some(spotify_snapshot_id), false)?;
                Some(spotify_snapshot_id.clone())
            }
            Some(ProviderStep::Synced {
                spotify_snapshot_id,
            }) => {
                Playlist::set_provider_state(
                    conn,
                    &playlist.id,
                    spotify_snapshot_id.as_deref(),
                    false,
                )?;
                None
            }
            None => None,
        };
        let playlist = Playlist::touch(conn, &playlist.id, true, db::now())?;
        Ok(Some(Rewritten {
            playlist,
            snapshot_id,
            spotify_snapshot_id,
        }))
    }

    /// The automatic snapshot of `current` before a rewrite, while the
    /// owner keeps them; its id.
    pub fn take_auto_snapshot(
        conn: &mut DbConnection,
        playlist: &Playlist,
        current: &[String],
        why: Rewrite<'_>,
    ) -> AppResult<Option<i64>> {
        let settings = UserSettings::find_for_user(conn, playlist.owner_id)?;
        Ok(match settings.filter(|s| s.auto_snapshot_enabled) {
            Some(s) => Some(
                Snapshot::take(
                    conn,
                    playlist,
                    current,
                    why.snapshot_type(),
                    Some(why.snapshot_description()),
                    i64::from(s.max_snapshots_per_playlist),
                )?
                .id,
            ),
            None => None,
        })
    }

    /// 400 naming the URIs that are not in the catalog.
    pub fn require_in_catalog(
        conn: &mut DbConnection,
        field: &str,
        uris: &[String],
    ) -> AppResult<HashMap<String, Track>> {
        let found = Track::find_by_uris(conn, uris)?;
        let mut unknown: Vec<&String> = uris.iter().filter(|u| !found.contains_key(*u)).collect();
        unknown.sort();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(found);
        }
        let shown: Vec<&str> = unknown.iter().take(20).map(|u| u.as_str()).collect();
        let more = unknown.len().saturating_sub(shown.len());
        let message = if more > 0 {
            format!("unknown track URIs: {} (and {more} more)", shown.join(", "))
        } else {
            format!("unknown track URIs: {}", shown.join(", "))
        };
        Err(AppError::Validation {
            message: message.clone(),
            details: vec![FieldError::new(field, message)],
        })
    }
}
