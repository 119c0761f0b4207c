//! Writing an order here: what every rewrite of a playlist's order ends
//! with, local or linked, by a user or by a schedule. [`replace_order`]
//! compares, takes the automatic snapshot, writes the order and bumps the
//! version, so "a snapshot before every rewrite" is structure rather than
//! a convention of each caller; [`Rewrite`] names why an order changes and
//! so which snapshot is taken.

use crate::db::{self, DbConnection};
use crate::enums::SnapshotType;
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::snapshot::Snapshot;
use crate::models::UserSettings;
use crate::services::playlists::Rewritten;

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
    /// when some of Spotify's items are not in the copy); `added_at[i]` is
    /// when Spotify says entry `i` was added, where it says.
    Synced {
        spotify_snapshot_id: Option<String>,
        added_at: Vec<Option<i64>>,
    },
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

    /// A linked playlist taking the order Spotify holds at `snapshot`,
    /// its entries added when Spotify says (`added_at[i]` for entry `i`).
    pub fn synced(playlist: Playlist, snapshot: Option<&str>, added_at: Vec<Option<i64>>) -> Self {
        RewriteTarget {
            playlist,
            provider: Some(ProviderStep::Synced {
                spotify_snapshot_id: snapshot.map(String::from),
                added_at,
            }),
        }
    }
}

/// What a rewrite computed: the order it read, the one it will write, and
/// why (which names the automatic snapshot). A linked playlist's rewrite
/// needs them between its steps.
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
    /// A schedule's raid of another playlist rotated entries into this
    /// one, its archive.
    RotationIn { schedule_id: i64 },
    /// A sync that found another order on Spotify.
    Sync,
    /// A dedupe by the owner, with what made two entries the same.
    Dedupe { by: &'a str },
}

impl Rewrite<'_> {
    fn snapshot_type(&self) -> SnapshotType {
        match self {
            Rewrite::Shuffle { .. } => SnapshotType::AutoPreShuffle,
            Rewrite::Commit => SnapshotType::AutoPreCommit,
            Rewrite::Restore { .. } => SnapshotType::AutoPreRestore,
            Rewrite::Raid { .. } | Rewrite::RotationIn { .. } => SnapshotType::AutoPreRaid,
            Rewrite::ScheduledShuffle { .. } => SnapshotType::ScheduledPreExecution,
            Rewrite::Sync => SnapshotType::AutoPreSync,
            Rewrite::Dedupe { .. } => SnapshotType::AutoPreDedupe,
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
            Rewrite::RotationIn { schedule_id } => {
                format!("Before schedule #{schedule_id} rotated tracks in")
            }
            Rewrite::Sync => "Before sync from Spotify".to_string(),
            Rewrite::Dedupe { by } => format!("Before removing duplicates by {by}"),
        }
    }

    /// A restore is recorded even when the order already is the
    /// snapshot's: the owner asked to go back to it, and undo walks back
    /// one step each time. Every other rewrite of an identical order
    /// writes and logs nothing (the answer says `changed: false`).
    fn writes_when_unchanged(&self) -> bool {
        matches!(self, Rewrite::Restore { .. })
    }
}

/// Replaces the order `current` of a locked playlist with `order`:
/// compares them (an identical order writes nothing and answers `None`,
/// except for a restore), takes an automatic snapshot of `current` of the
/// kind `why` names (while the owner's `auto_snapshot_enabled` is on; the
/// owner's settings are read once, here), then writes the new order and a
/// new version. The caller holds the write transaction and the lock, and
/// has checked the URIs against the catalog.
///
/// A linked playlist's order changes only with Spotify's: after it was
/// written there (its snapshot then already taken) or pulled from there by
/// a sync; any other change of it is a 409, rather than let the two copies
/// drift apart.
pub fn replace_order(
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
        _ => take_auto_snapshot(conn, playlist, current, why)?,
    };
    // An entry keeps its added time across the rewrite; a sync takes
    // Spotify's where Spotify has one.
    let added = match &target.provider {
        Some(ProviderStep::Synced { added_at, .. }) => Some(added_at.as_slice()),
        _ => None,
    };
    Playlist::replace_tracks_added(conn, &playlist.id, order, added)?;
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
            ..
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

/// The automatic snapshot of `current` before a rewrite, while the owner
/// keeps them; its id.
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
