//! Rotation (docs/api.md, "Rotation"): after a raid leaves a playlist with
//! more than its `max_tracks` entries, the entries added longest ago
//! (ties: the lower position first), pinned slots skipped, leave it; they
//! move to the end of its archive playlist within the archive's track
//! limit (what does not fit is dropped, and counted), or are dropped when
//! it has no archive.
//!
//! [`rotate`] is the choice, a pure function of the entries' added times;
//! [`ArchivePlan`] is what a raid moves into the archive, and
//! [`ArchivePlan::append_to`] the archive's new order as the archive then
//! stands. The job plan (`services::job_plan`) and the executor
//! (`services::job_executor`) write both orders, in the raid's
//! transaction for local playlists, through the write-back for linked ones.

use std::collections::BTreeSet;

use crate::db::{write_transaction, Checkout, DbConnection};
use crate::enums::ActorType;
use crate::error::{AppError, AppResult};
use crate::models::activity_rows::Changes;
use crate::models::playlist::Playlist;
use crate::models::snapshot::Snapshot;
use crate::models::NewActivity;
use crate::providers::spotify::api::writable_uri;
use crate::providers::spotify::Spotify;
use crate::services::playlists::MAX_TRACKS;
use crate::services::rewrite::linked::{self, Unfinished};
use crate::services::rewrite::{replace_order, Rewrite, RewriteTarget};
use crate::services::ActivityLogService;

/// What a rotation does to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The new order, as indices into the old one: pinned entries stay in
    /// their slots (those past the new end go last, in slot order), the
    /// others close ranks around them.
    pub kept: Vec<usize>,
    /// The indices of the entries that leave, oldest first (the order in
    /// which they go to the archive).
    pub removed: Vec<usize>,
}

/// Rotates an order whose entry `i` was added at `added_at[i]` down to
/// `max_tracks` entries: the entries added longest ago leave (ties: lower
/// position first); an entry in a `pinned` slot never does, so an order
/// with many pins may stay over `max_tracks`.
pub fn rotate(added_at: &[i64], max_tracks: usize, pinned: &BTreeSet<usize>) -> Rotated {
    let len = added_at.len();
    if len <= max_tracks {
        return Rotated {
            kept: (0..len).collect(),
            removed: Vec::new(),
        };
    }
    let mut candidates: Vec<usize> = (0..len).filter(|i| !pinned.contains(i)).collect();
    candidates.sort_by_key(|&i| (added_at[i], i));
    candidates.truncate(len - max_tracks);
    let removed = candidates;
    let gone: BTreeSet<usize> = removed.iter().copied().collect();
    let all: Vec<usize> = (0..len).collect();
    let kept = crate::services::pins::remove_around_pins(&all, &gone, pinned);
    Rotated { kept, removed }
}

/// What a raid's rotation sends to the archive: the archive, and the URIs
/// that left the raided playlist, oldest first.
#[derive(Debug, Clone)]
pub struct ArchivePlan {
    pub archive: Playlist,
    pub moved: Vec<String>,
}

/// The archive's new order and how many of the moved entries it could not
/// take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub order: Vec<String>,
    pub dropped: usize,
}

impl ArchivePlan {
    /// `current` (the archive's order as it stands) with the moved URIs
    /// appended while it has room; a linked archive takes only what Spotify
    /// can hold. The rest is dropped.
    pub fn append_to(&self, current: &[String]) -> Appended {
        let linked = self.archive.link.is_linked();
        let room = MAX_TRACKS.saturating_sub(current.len());
        let fitting: Vec<&String> = self
            .moved
            .iter()
            .filter(|uri| !linked || writable_uri(uri))
            .take(room)
            .collect();
        let dropped = self.moved.len() - fitting.len();
        let mut order = current.to_vec();
        order.extend(fitting.into_iter().cloned());
        Appended { order, dropped }
    }
}

/// Logs the archive's `playlist_update` row: its track count before and
/// after, and the playlist the entries rotated out of.
pub fn log_archived(
    conn: &mut DbConnection,
    archive: &Playlist,
    actor: (ActorType, String),
    (from, to): (usize, usize),
    rotated_from: &str,
) {
    let changes = Changes::new().field("track_count", &from, &to);
    ActivityLogService::log(
        conn,
        NewActivity::rotation_archive(archive, actor, &changes, to, rotated_from),
    );
}

/// A rotation into an archive linked to Spotify: written back there
/// first (so a target whose own write then fails leaves the entries in both
/// playlists, never in neither), then here.
#[derive(Debug, Clone)]
pub struct ArchiveBack {
    /// The archive as locked when the run planned.
    pub archive: Playlist,
    pub current: Vec<String>,
    pub appended: Appended,
    /// Its automatic snapshot, taken with the write claim.
    pub snapshot_ids: Vec<i64>,
}

impl ArchiveBack {
    /// What a run writes back to `plan`'s linked archive, read under its
    /// lock; `None` for a local archive.
    pub fn plan(conn: &mut DbConnection, plan: &ArchivePlan) -> AppResult<Option<ArchiveBack>> {
        if !plan.archive.link.is_linked() {
            return Ok(None);
        }
        let current = Playlist::track_uris(conn, &plan.archive.id)?;
        let appended = plan.append_to(&current);
        Ok(Some(ArchiveBack {
            archive: plan.archive.clone(),
            current,
            appended,
            snapshot_ids: Vec::new(),
        }))
    }

    /// Whether the archive's order changes (else nothing goes to Spotify).
    pub fn changes(&self) -> bool {
        self.appended.order != self.current
    }

    /// Takes the archive's write claim and its automatic snapshot; `None`
    /// while another write of it is under way. In the run's transaction.
    pub fn claim(&mut self, conn: &mut DbConnection, schedule_id: i64) -> AppResult<Option<()>> {
        let why = Rewrite::RotationIn { schedule_id };
        Ok(
            linked::claim(conn, &self.archive, [(self.current.as_slice(), why)])?.map(|ids| {
                self.snapshot_ids = ids;
            }),
        )
    }

    /// Writes the archive's new order to Spotify; its new snapshot id.
    pub fn send(&self, db: &mut Checkout, spotify: &Spotify) -> Result<String, Unfinished> {
        linked::send(
            db,
            spotify,
            &self.archive,
            &self.current,
            &self.appended.order,
            &self.snapshot_ids,
        )
    }

    /// Writes here the order Spotify now holds (`spotify_snapshot_id`),
    /// with the archive's row. In a write transaction.
    pub fn land(
        &self,
        conn: &mut DbConnection,
        schedule_id: i64,
        rotated_from: &str,
        actor: &(ActorType, String),
        spotify_snapshot_id: String,
    ) -> AppResult<()> {
        let locked = Playlist::lock(conn, &self.archive.id)?.ok_or(AppError::NotFound)?;
        let target = RewriteTarget::written_back(
            locked,
            self.snapshot_ids.first().copied(),
            spotify_snapshot_id,
        );
        let why = Rewrite::RotationIn { schedule_id };
        if let Some(written) =
            replace_order(conn, &target, &self.current, &self.appended.order, why)?
        {
            log_archived(
                conn,
                &written.playlist,
                actor.clone(),
                (self.current.len(), self.appended.order.len()),
                rotated_from,
            );
        }
        Ok(())
    }

    /// [`Self::land`] in a transaction of its own, when the target's write
    /// failed after the archive's reached Spotify: when even that fails,
    /// the archive is marked out of sync (Spotify has what we do not).
    pub fn land_alone(
        &self,
        db: &mut Checkout,
        schedule_id: i64,
        rotated_from: &str,
        actor: &(ActorType, String),
        spotify_snapshot_id: String,
    ) {
        let landed = db.conn().and_then(|conn| {
            write_transaction(conn, |conn| {
                self.land(conn, schedule_id, rotated_from, actor, spotify_snapshot_id)
            })
        });
        if let Err(err) = landed {
            log::warn!(
                "rotation into {}: not written here ({err})",
                self.archive.id
            );
            self.mark_out_of_sync(db);
        }
    }

    /// Marks the archive out of sync: Spotify holds an order we do not.
    pub fn mark_out_of_sync(&self, db: &mut Checkout) {
        let marked = db.conn().and_then(|conn| {
            Playlist::mark_out_of_sync(conn, &self.archive.id).map_err(AppError::from)
        });
        if let Err(err) = marked {
            log::error!(
                "rotation into {}: not marked out of sync ({err})",
                self.archive.id
            );
        }
    }

    /// Releases the archive's write claim and drops its snapshot, when the
    /// run stopped before its order was sent to Spotify.
    pub fn release(&self, db: &mut Checkout) -> AppResult<()> {
        release_claim(db, &self.archive.id, &self.snapshot_ids)
    }
}

/// Releases `playlist_id`'s write claim and deletes the snapshots taken
/// for a write that never reached Spotify.
pub fn release_claim(db: &mut Checkout, playlist_id: &str, snapshot_ids: &[i64]) -> AppResult<()> {
    write_transaction(db.conn()?, |conn| {
        Playlist::set_writing(conn, playlist_id, None)?;
        for id in snapshot_ids {
            Snapshot::delete(conn, *id)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(slots: &[usize]) -> BTreeSet<usize> {
        slots.iter().copied().collect()
    }

    #[test]
    fn an_order_within_the_limit_is_left_as_it_is() {
        let rotated = rotate(&[5, 1, 3], 3, &pins(&[]));
        assert_eq!(rotated.kept, vec![0, 1, 2]);
        assert!(rotated.removed.is_empty());
    }

    #[test]
    fn the_entries_added_longest_ago_leave_oldest_first() {
        // Added at 5, 1, 3, 2, 9: the two oldest are at 1 and 3.
        let rotated = rotate(&[5, 1, 3, 2, 9], 3, &pins(&[]));
        assert_eq!(rotated.removed, vec![1, 3]);
        assert_eq!(rotated.kept, vec![0, 2, 4]);
    }

    #[test]
    fn ties_go_by_position_lower_first() {
        let rotated = rotate(&[7, 7, 7, 7], 1, &pins(&[]));
        assert_eq!(rotated.removed, vec![0, 1, 2]);
        assert_eq!(rotated.kept, vec![3]);
    }

    #[test]
    fn pinned_slots_never_leave_and_keep_their_slots() {
        // Slot 0 is the oldest but pinned; slot 3 is pinned too.
        let rotated = rotate(&[1, 2, 3, 4, 5, 6], 4, &pins(&[0, 3]));
        assert_eq!(rotated.removed, vec![1, 2]);
        // Pins at 0 and 3 stay there; 4 and 5 close ranks around them.
        assert_eq!(rotated.kept, vec![0, 4, 5, 3]);
    }

    #[test]
    fn a_pin_past_the_new_end_goes_last() {
        // Pinned slot 4 is past the new length (3): it comes last.
        let rotated = rotate(&[1, 2, 3, 4, 5], 3, &pins(&[4]));
        assert_eq!(rotated.removed, vec![0, 1]);
        assert_eq!(rotated.kept, vec![2, 3, 4]);
        let rotated = rotate(&[1, 2, 3, 4, 5], 1, &pins(&[1, 4]));
        assert_eq!(rotated.removed, vec![0, 2, 3]);
        assert_eq!(rotated.kept, vec![4, 1]);
    }

    #[test]
    fn with_every_slot_pinned_nothing_leaves() {
        let rotated = rotate(&[1, 2, 3], 1, &pins(&[0, 1, 2, 7]));
        assert!(rotated.removed.is_empty());
        assert_eq!(rotated.kept, vec![0, 1, 2]);
    }

    #[test]
    fn kept_and_removed_together_are_every_entry_once() {
        let added: Vec<i64> = (0..50).map(|i| (i * 37) % 11).collect();
        for max in [1, 7, 25, 49, 50] {
            for pinned in [pins(&[]), pins(&[0, 10, 49]), pins(&[3, 4, 5, 6])] {
                let rotated = rotate(&added, max, &pinned);
                let mut all: Vec<usize> = rotated
                    .kept
                    .iter()
                    .chain(&rotated.removed)
                    .copied()
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..50).collect::<Vec<_>>());
                assert!(rotated.removed.iter().all(|i| !pinned.contains(i)));
                assert_eq!(rotated.kept.len(), 50 - (50 - max).min(50 - pinned.len()));
                for &slot in pinned.iter().filter(|&&s| s < rotated.kept.len()) {
                    assert_eq!(rotated.kept[slot], slot, "pin {slot} moved (max {max})");
                }
            }
        }
    }
}
