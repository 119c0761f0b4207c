//! Removing a playlist's duplicate entries (`POST /api/playlists/{id}/dedupe`):
//! one rewrite of its order like a shuffle's (automatic `auto_pre_dedupe`
//! snapshot, `If-Match`, a new version, undoable, written back to Spotify
//! for a linked playlist), logged as one `playlist_dedupe` row; or, as a
//! preview, the same answer with nothing changed.
//!
//! Two entries are duplicates when they have the same URI (`by: uri`), or
//! (`by: track`) the same name and the same first artist, compared without
//! case or accents, from the owner's catalog facts; a track whose name or
//! first artist is unknown matches only by its URI. The first entry of each
//! group stays, unless the group holds a pinned slot: a pinned entry is
//! never removed, and every unpinned entry of its group goes instead. The
//! entries left close ranks around the pinned ones (`services::pins`).
//! Nothing to remove writes, snapshots and logs nothing (`changed: false`),
//! as a shuffle that leaves the order as it is.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use icu_normalizer::DecomposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::CodePointMapData;
use serde::{Deserialize, Serialize};

use crate::db::{Checkout, DbConnection};
use crate::enums::Provider;
use crate::error::AppResult;
use crate::models::playlist::Playlist;
use crate::models::track::Track;
use crate::models::{NewActivity, User};
use crate::providers::spotify::Spotify;
use crate::services::pins::remove_around_pins;
use crate::services::playlists::{
    check_version, IfMatch, PlaylistChange, PlaylistService, PlaylistView,
};
use crate::services::rewrite::{replace_order, OrderPlan, Rewrite, RewriteService, RewriteTarget};
use crate::services::ActivityLogService;

/// What makes two entries the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupeBy {
    /// The same track URI.
    Uri,
    /// The same name and first artist, without case or accents.
    Track,
}

impl DedupeBy {
    pub fn as_str(self) -> &'static str {
        match self {
            DedupeBy::Uri => "uri",
            DedupeBy::Track => "track",
        }
    }

    /// `uri` or `track`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "uri" => Some(DedupeBy::Uri),
            "track" => Some(DedupeBy::Track),
            _ => None,
        }
    }
}

/// An entry a dedupe removes (or would): its URI and its position in the
/// order before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RemovedEntry {
    pub uri: String,
    pub position: usize,
}

/// The answer of a dedupe and of its preview: the playlist as it is after
/// (a preview: as it would be, at its current version), whether the order
/// changed (would change), the entries removed in their order before, and
/// the automatic snapshot taken first (never for a preview).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DedupeAnswer {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub removed: Vec<RemovedEntry>,
    pub snapshot_id: Option<i64>,
    /// `spotify` when the new order was written to Spotify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Spotify's snapshot after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_snapshot_id: Option<String>,
}

impl DedupeAnswer {
    fn new(change: PlaylistChange, removed: Vec<RemovedEntry>) -> Self {
        DedupeAnswer {
            playlist: change.playlist,
            changed: change.changed,
            removed,
            snapshot_id: change.snapshot_id,
            provider: change.provider,
            spotify_snapshot_id: change.spotify_snapshot_id,
        }
    }
}

/// The positions of the entries a dedupe removes, given each entry's
/// identity: in each group of equal keys every entry but the first, or,
/// when an entry of the group is in a `pinned` slot, every unpinned entry.
pub fn duplicates<K: Hash + Eq>(keys: &[K], pinned: &BTreeSet<usize>) -> BTreeSet<usize> {
    let pinned_keys: HashSet<&K> = pinned
        .range(..keys.len())
        .map(|&slot| &keys[slot])
        .collect();
    let mut seen: HashSet<&K> = HashSet::new();
    let mut removed = BTreeSet::new();
    for (position, key) in keys.iter().enumerate() {
        if pinned.contains(&position) {
            continue;
        }
        if pinned_keys.contains(key) || !seen.insert(key) {
            removed.insert(position);
        }
    }
    removed
}

/// Text compared without case or accents: canonical decomposition (NFD),
/// nonspacing marks (the accents it split off) dropped, then lower case.
/// Spacing marks stay: in scripts such as Devanagari they are vowels.
pub fn fold(text: &str) -> String {
    let category = CodePointMapData::<GeneralCategory>::new();
    DecomposingNormalizerBorrowed::new_nfd()
        .normalize(text.trim())
        .chars()
        .filter(|c| !GeneralCategoryGroup::NonspacingMark.contains(category.get(*c)))
        .flat_map(char::to_lowercase)
        .collect()
}

/// What makes `track` the same as another under `by`.
fn identity(track: &Track, by: DedupeBy) -> String {
    if by == DedupeBy::Track {
        let artist = track.artist_names().into_iter().next();
        if let Some(artist) = artist.filter(|a| !a.trim().is_empty()) {
            if !track.name.trim().is_empty() {
                // A separator, so ("a b", "c") and ("a", "b c") differ.
                return format!("t\u{1f}{}\u{1f}{}", fold(&track.name), fold(&artist));
            }
        }
    }
    format!("u\u{1f}{}", track.uri)
}

/// A dedupe computed from the playlist as read.
struct Planned {
    by: DedupeBy,
    current: Vec<String>,
    order: Vec<String>,
    removed: Vec<RemovedEntry>,
    catalog: HashMap<String, Track>,
}

impl OrderPlan for Planned {
    fn current(&self) -> &[String] {
        &self.current
    }
    fn order(&self) -> &[String] {
        &self.order
    }
    fn why(&self) -> Rewrite<'_> {
        Rewrite::Dedupe {
            by: self.by.as_str(),
        }
    }
}

pub struct DedupeService;

impl DedupeService {
    fn plan(conn: &mut DbConnection, playlist: &Playlist, by: DedupeBy) -> AppResult<Planned> {
        let rows = PlaylistService::tracks(conn, playlist)?;
        let keys: Vec<String> = rows.iter().map(|(_, t)| identity(t, by)).collect();
        let pinned = playlist.pinned();
        let gone = duplicates(&keys, &pinned);
        let current: Vec<String> = rows.iter().map(|(_, t)| t.uri.clone()).collect();
        let order = remove_around_pins(&current, &gone, &pinned);
        let removed = gone
            .into_iter()
            .map(|position| RemovedEntry {
                uri: current[position].clone(),
                position,
            })
            .collect();
        let catalog = rows.into_iter().map(|(_, t)| (t.uri.clone(), t)).collect();
        Ok(Planned {
            by,
            current,
            order,
            removed,
            catalog,
        })
    }

    /// What a dedupe of the caller's playlist would do, changing nothing
    /// and logging nothing. `If-Match` is judged as the dedupe would.
    pub fn preview(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        by: DedupeBy,
        if_match: Option<IfMatch>,
    ) -> AppResult<DedupeAnswer> {
        let playlist = PlaylistService::owned(conn, user.id, playlist_id)?;
        let planned = Self::plan(conn, &playlist, by)?;
        check_version(&playlist, if_match.as_ref())?;
        let changed = planned.order != planned.current;
        Ok(DedupeAnswer {
            playlist: PlaylistService::view_of(&playlist, &planned.order, &planned.catalog),
            changed,
            removed: planned.removed,
            snapshot_id: None,
            provider: None,
            spotify_snapshot_id: None,
        })
    }

    /// Removes the duplicates of the caller's playlist as one rewrite
    /// (see the module doc); logs `playlist_dedupe` when anything went.
    pub fn dedupe(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user: &User,
        playlist_id: &str,
        by: DedupeBy,
        if_match: Option<IfMatch>,
    ) -> AppResult<DedupeAnswer> {
        let plan = |conn: &mut DbConnection, playlist: &Playlist| Self::plan(conn, playlist, by);
        let write = |conn: &mut DbConnection, target: RewriteTarget, planned: Planned| {
            let written = replace_order(
                conn,
                &target,
                &planned.current,
                &planned.order,
                planned.why(),
            )?;
            if let Some(done) = &written {
                ActivityLogService::log(
                    conn,
                    NewActivity::playlist_dedupe(
                        user,
                        &done.playlist,
                        by.as_str(),
                        planned.removed.len(),
                        planned.order.len(),
                        done.snapshot_id,
                    )
                    .written_back(done.spotify_snapshot_id.as_deref()),
                );
            }
            let change = PlaylistChange::new(
                &target.playlist,
                written.as_ref(),
                &planned.order,
                &planned.catalog,
            );
            Ok(DedupeAnswer::new(change, planned.removed))
        };
        RewriteService::rewrite(db, spotify, user.id, playlist_id, if_match, plan, write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[usize]) -> BTreeSet<usize> {
        items.iter().copied().collect()
    }

    #[test]
    fn the_first_of_each_group_stays() {
        let keys = ["a", "b", "a", "c", "b", "a"];
        assert_eq!(duplicates(&keys, &set(&[])), set(&[2, 4, 5]));
    }

    #[test]
    fn a_pinned_entry_stays_and_its_earlier_unpinned_duplicate_goes() {
        let keys = ["a", "b", "a", "c", "a"];
        // Slot 2 pinned: both other "a"s go, the first one included.
        assert_eq!(duplicates(&keys, &set(&[2])), set(&[0, 4]));
        // Two pinned duplicates both stay; slots past the end change nothing.
        assert_eq!(duplicates(&keys, &set(&[0, 4, 99])), set(&[2]));
    }

    #[test]
    fn folding_drops_case_and_accents() {
        assert_eq!(fold("Beyoncé"), fold("BEYONCE"));
        assert_eq!(fold("  Sigur Rós "), "sigur ros");
        assert_eq!(fold("Ångström"), "angstrom");
        assert_ne!(fold("Song 1"), fold("Song 2"));
    }
}
