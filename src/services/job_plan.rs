//! What a scheduled job will do to its target, computed under the target's
//! lock before anything is written: the raid's additions (docs/api.md, "Schedules": the
//! sources' tracks the target lacks, once each, in source order, up to the
//! track limit), the target's rotation (docs/api.md, "Rotation": after the
//! raid, before the shuffle) and the shuffle of the result. The executor
//! then writes it here only ([`JobPlan::apply_local`]), or first to
//! Spotify for a linked target or archive.

use std::collections::{HashMap, HashSet};

use crate::db::DbConnection;
use crate::enums::{ActorType, JobType, SourceType};
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::playlist_order::OrderEntry;
use crate::models::schedule::Schedule;
use crate::models::track::Track;
use crate::models::upstream_source::UpstreamSource;
use crate::models::{RotationOutcome, RunOutcome};
use crate::providers::spotify::api::writable_uri;
use crate::services::playlists::{PlaylistService, MAX_TRACKS};
use crate::services::rewrite::{replace_order, Rewrite, RewriteTarget};
use crate::services::rotation::{self, ArchivePlan};
use crate::services::shuffle::{choose, order_uris, ChoiceFields};

/// A raid's sources: a playlist here, a Spotify playlist (by its id), or
/// the connected account's Liked Songs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Local(String),
    Spotify(String),
    SpotifyLiked,
}

/// The sources a run of `schedule` raids: the schedule's own list (ids of
/// playlists here), or else the target's upstream sources.
pub fn sources(conn: &mut DbConnection, schedule: &Schedule) -> AppResult<Vec<Source>> {
    let listed = schedule.source_playlist_ids.strings();
    if !listed.is_empty() {
        return Ok(listed.into_iter().map(Source::Local).collect());
    }
    Ok(
        UpstreamSource::list_for_target(conn, schedule.user_id, &schedule.target_playlist_id)?
            .into_iter()
            .map(|s| match s.source_type {
                SourceType::Spotify => Source::Spotify(s.source_playlist_id),
                SourceType::SpotifyLiked => Source::SpotifyLiked,
                SourceType::Own | SourceType::External => Source::Local(s.source_playlist_id),
            })
            .collect(),
    )
}

/// What a run read of its Spotify sources: each one's track URIs, by
/// Spotify id, the Liked Songs' (oldest liked first) when it raids them,
/// and how many items past the 10,000 read of each were not.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub uris: HashMap<String, Vec<String>>,
    pub liked: Option<Vec<String>>,
    pub unread: usize,
}

/// The orders a run goes through.
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub current: Vec<String>,
    /// After the raid and the rotation, when they change anything.
    pub raided: Option<Vec<String>>,
    pub added: usize,
    pub left_out: usize,
    /// After the shuffle, when it changes anything.
    pub shuffled: Option<Vec<String>>,
    /// What the target's rotation does, when it has one and the job raids.
    pub rotation: Option<PlannedRotation>,
}

/// A raid's rotation: how many entries leave the target, the archive named
/// (gone archives read as none), and what moves there.
#[derive(Debug, Clone)]
pub struct PlannedRotation {
    pub rotated_out: usize,
    pub archive_playlist_id: Option<String>,
    /// The archive (locked) and the entries moving there; `None` when
    /// nothing moves or there is no archive.
    pub to_archive: Option<ArchivePlan>,
}

impl PlannedRotation {
    /// Its outcome when nothing was appended to an archive: every entry
    /// that left was dropped unless it had an archive to go to.
    fn outcome_without_archive(&self) -> RotationOutcome {
        RotationOutcome {
            rotated_out: self.rotated_out,
            archive_playlist_id: self.archive_playlist_id.clone(),
            dropped: if self.archive_playlist_id.is_some() {
                0
            } else {
                self.rotated_out
            },
        }
    }
}

impl JobPlan {
    /// Plans `schedule`'s job on `target` (locked by the caller). Spotify
    /// sources come in `fetched`, already in the catalog; one that is
    /// missing there is skipped, as a gone source is. A linked target takes
    /// only what Spotify can hold.
    pub fn compute(
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: &Playlist,
        fetched: &Fetched,
    ) -> AppResult<JobPlan> {
        let entries = Playlist::entries(conn, &target.id)?;
        let current = entries.iter().map(|e| e.uri.clone()).collect();
        let mut plan = JobPlan {
            current,
            raided: None,
            added: 0,
            left_out: 0,
            shuffled: None,
            rotation: None,
        };
        if matches!(schedule.job_type, JobType::Raid | JobType::RaidAndShuffle) {
            // The archive is locked after the target, as every writer of
            // both takes them (a loop of archives is refused).
            let archive = match target.rotation.get() {
                Some(rotation) => match rotation.archive_playlist_id {
                    Some(id) => {
                        Playlist::lock(conn, &id)?.filter(|a| a.owner_id == target.owner_id)
                    }
                    None => None,
                },
                None => None,
            };
            let archived: HashSet<String> = match &archive {
                Some(archive) => PlaylistService::track_uris(conn, archive)?
                    .into_iter()
                    .collect(),
                None => HashSet::new(),
            };
            plan.raid(conn, schedule, target, fetched, archived)?;
            // Items of a Spotify source past its first 10,000 were never
            // read: left out, as the tracks a full playlist cannot take.
            plan.left_out += fetched.unread;
            plan.rotate(target, &entries, archive);
        }
        if matches!(
            schedule.job_type,
            JobType::Shuffle | JobType::RaidAndShuffle
        ) {
            plan.shuffle(conn, schedule, target)?;
        }
        Ok(plan)
    }

    fn raid(
        &mut self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: &Playlist,
        fetched: &Fetched,
        archived: HashSet<String>,
    ) -> AppResult<()> {
        // What the target's archive holds went there by rotation: a raid
        // does not bring it back.
        let mut seen = archived;
        seen.extend(self.current.iter().cloned());
        let mut fresh = Vec::new();
        for source in sources(conn, schedule)? {
            let uris = match &source {
                Source::Local(id) if *id == target.id => continue,
                Source::Local(id) => {
                    match PlaylistService::find_readable(conn, schedule.user_id, id)? {
                        Some(playlist) => PlaylistService::track_uris(conn, &playlist)?,
                        None => {
                            log::info!("schedule #{}: source {id} is gone, skipped", schedule.id);
                            continue;
                        }
                    }
                }
                Source::Spotify(id) => match fetched.uris.get(id) {
                    Some(uris) => uris.clone(),
                    None => continue,
                },
                Source::SpotifyLiked => match &fetched.liked {
                    Some(uris) => uris.clone(),
                    None => continue,
                },
            };
            for uri in uris {
                if target.link.is_linked() && !writable_uri(&uri) {
                    continue;
                }
                if seen.insert(uri.clone()) {
                    fresh.push(uri);
                }
            }
        }
        let room = MAX_TRACKS.saturating_sub(self.current.len());
        self.left_out = fresh.len().saturating_sub(room);
        fresh.truncate(room);
        if !fresh.is_empty() {
            self.added = fresh.len();
            let mut raided = self.current.clone();
            raided.extend(fresh);
            self.raided = Some(raided);
        }
        Ok(())
    }

    /// The target's rotation after the raid: the order it leaves, and what
    /// moves to the `archive` (locked by the caller). Entries the raid added
    /// were added now.
    fn rotate(&mut self, target: &Playlist, entries: &[OrderEntry], archive: Option<Playlist>) {
        let Some(setting) = target.rotation.get() else {
            return;
        };
        let order = self.raided.clone().unwrap_or_else(|| self.current.clone());
        let now = crate::db::now().and_utc().timestamp();
        let mut added_at: Vec<i64> = entries.iter().map(|e| e.added_at).collect();
        added_at.resize(order.len(), now);
        // Pinned slots never rotate out.
        let pinned = target.pinned();
        let rotated = rotation::rotate(&added_at, setting.max_tracks, &pinned);
        let moved: Vec<String> = rotated.removed.iter().map(|&i| order[i].clone()).collect();
        if !moved.is_empty() {
            self.raided = Some(rotated.kept.iter().map(|&i| order[i].clone()).collect());
        }
        self.rotation = Some(PlannedRotation {
            rotated_out: moved.len(),
            archive_playlist_id: archive.as_ref().map(|a| a.id.clone()),
            to_archive: archive
                .filter(|_| !moved.is_empty())
                .map(|archive| ArchivePlan { archive, moved }),
        });
    }

    /// The scheduled shuffle of the order as it then is (after the raid,
    /// which only appends), leaving the target's pinned slots in place.
    fn shuffle(
        &mut self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: &Playlist,
    ) -> AppResult<()> {
        let key = schedule
            .algorithm_name
            .as_deref()
            .ok_or_else(|| AppError::invalid("algorithm_name", "the schedule has no algorithm"))?;
        let (chosen, params) = choose(key, &schedule.algorithm_params.0, ChoiceFields::SCHEDULE)?;
        let before = self.raided.as_ref().unwrap_or(&self.current).clone();
        let catalog = Track::facts_for(conn, schedule.user_id, &before)?;
        let tracks: Vec<&Track> = before.iter().filter_map(|u| catalog.get(u)).collect();
        if tracks.len() != before.len() {
            return Err(AppError::Internal(format!(
                "schedule #{}: a track of the order is not in the catalog",
                schedule.id
            )));
        }
        let order = order_uris(chosen, &params, &tracks, rand::random(), &target.pinned());
        if order != before {
            self.shuffled = Some(order);
        }
        Ok(())
    }

    /// The order the run leaves.
    pub fn final_order(&self) -> &[String] {
        self.shuffled
            .as_deref()
            .or(self.raided.as_deref())
            .unwrap_or(&self.current)
    }

    /// The rewrites the run makes, in order: each with the order it
    /// replaces, the one it writes, and why.
    pub fn steps<'a>(
        &'a self,
        schedule: &Schedule,
    ) -> Vec<(&'a [String], &'a [String], Rewrite<'static>)> {
        let mut steps = Vec::new();
        let mut before: &[String] = &self.current;
        if let Some(raided) = &self.raided {
            steps.push((
                before,
                raided.as_slice(),
                Rewrite::Raid {
                    schedule_id: schedule.id,
                },
            ));
            before = raided;
        }
        if let Some(shuffled) = &self.shuffled {
            steps.push((
                before,
                shuffled.as_slice(),
                Rewrite::ScheduledShuffle {
                    schedule_id: schedule.id,
                },
            ));
        }
        steps
    }

    /// What the run did, for its execution and its row.
    pub fn outcome(&self, target: &Playlist, snapshot_ids: Vec<i64>) -> RunOutcome {
        RunOutcome {
            added: self.added,
            left_out: self.left_out,
            total: self.final_order().len(),
            playlist_name: target.name.clone(),
            snapshot_ids,
            spotify_snapshot_id: None,
            rotation: self
                .rotation
                .as_ref()
                .map(PlannedRotation::outcome_without_archive),
        }
    }

    /// Writes the plan to a local target, one rewrite per step (each with
    /// its automatic snapshot and version), as docs/api.md ("Schedules")
    /// describes, and what its rotation moves to a local archive; `actor`
    /// names the run's actor for the archive's row.
    pub fn apply_local(
        &self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        mut target: Playlist,
        actor: &(ActorType, String),
    ) -> AppResult<RunOutcome> {
        let mut snapshot_ids = Vec::new();
        for (before, after, why) in self.steps(schedule) {
            let written = replace_order(
                conn,
                &RewriteTarget::new(target.clone()),
                before,
                after,
                why,
            )?;
            if let Some(written) = written {
                snapshot_ids.extend(written.snapshot_id);
                target = written.playlist;
            }
        }
        let mut outcome = self.outcome(&target, snapshot_ids);
        self.archive_locally(conn, schedule, actor, &mut outcome)?;
        Ok(outcome)
    }

    /// Appends what the rotation moves to its archive when the archive is
    /// local (a linked one is written back by the executor), with the
    /// archive's snapshot, version and `playlist_update` row; records in
    /// `outcome` how many entries it could not take. The archive is read
    /// again here, under its lock: a linked target's run lands after its
    /// write to Spotify, and the archive may have changed since the plan.
    pub fn archive_locally(
        &self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        actor: &(ActorType, String),
        outcome: &mut RunOutcome,
    ) -> AppResult<()> {
        let Some(plan) = self.rotation.as_ref().and_then(|r| r.to_archive.as_ref()) else {
            return Ok(());
        };
        if plan.archive.link.is_linked() {
            return Ok(());
        }
        let Some(archive) = Playlist::lock(conn, &plan.archive.id)? else {
            // Deleted since the plan: what moved is dropped.
            if let Some(rotation) = &mut outcome.rotation {
                rotation.dropped = rotation.rotated_out;
                rotation.archive_playlist_id = None;
            }
            return Ok(());
        };
        let current = PlaylistService::track_uris(conn, &archive)?;
        let appended = plan.append_to(&current);
        if let Some(rotation) = &mut outcome.rotation {
            rotation.dropped = appended.dropped;
        }
        let why = Rewrite::RotationIn {
            schedule_id: schedule.id,
        };
        let target = RewriteTarget::new(archive);
        if let Some(written) = replace_order(conn, &target, &current, &appended.order, why)? {
            rotation::log_archived(
                conn,
                &written.playlist,
                actor.clone(),
                (current.len(), appended.order.len()),
                &schedule.target_playlist_id,
            );
        }
        Ok(())
    }
}
