//! The write-back of a linked playlist's new order to Spotify, written
//! once for a user's rewrite ([`rewrite`]) and a scheduled run (the job
//! executor calls [`claim`], [`send`] and [`land`] in turn). No connection
//! and no lock is held across a Spotify call:
//!
//! 1. [`claim`], in the caller's transaction with the playlist locked:
//!    takes the playlist's write claim (`provider_writing_since`) and the
//!    automatic snapshots. While another writer holds a live claim, a
//!    user's rewrite waits (15 s at most, then 409) and a scheduled run
//!    fails. A claim older than five minutes belongs to a writer that
//!    died mid-way: the playlist is then out of sync, and writes answer 409
//!    until a sync.
//! 2. [`send`]: Spotify's order is compared with the one read (409 when it
//!    changed there) and replaced in batches. A write that failed before
//!    anything reached Spotify releases the claim and drops the snapshots
//!    (of an order that was never replaced); one that failed part-way marks
//!    the playlist out of sync and keeps them.
//! 3. [`land`]: one transaction writes the order here, with Spotify's new
//!    snapshot id; if that fails, Spotify has the new order and we do not,
//!    so the playlist is marked out of sync.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::order::{take_auto_snapshot, OrderPlan, Rewrite, RewriteTarget};
use super::OPTIMISTIC_TRIES;
use crate::db::{self, write_transaction, Checkout, DbConnection};
use crate::error::{AppError, AppResult};
use crate::models::playlist::{Playlist, ProviderLink};
use crate::models::snapshot::Snapshot;
use crate::providers::spotify::{api::writable_uri, Spotify};
use crate::services::playlists::{check_version, IfMatch, PlaylistService};
use crate::services::spotify::write_back::{write_order, WriteBackError};

/// A write claim older than this belongs to a writer that died.
pub const WRITE_CLAIM_SECS: i64 = 300;
/// How often a writer waiting for another's write to Spotify looks again
/// (it waits `Spotify::claim_wait` at most, 15 s unless a test shortens it).
const CLAIM_POLL: Duration = Duration::from_millis(200);

/// A write-back that did not finish: why, and whether the automatic
/// snapshots taken for it remain (a scheduled run's row lists them).
#[derive(Debug)]
pub struct Unfinished {
    pub error: AppError,
    pub keeps_snapshots: bool,
}

impl From<AppError> for Unfinished {
    fn from(error: AppError) -> Self {
        Unfinished {
            error,
            keeps_snapshots: false,
        }
    }
}

/// A user's rewrite of a linked playlist: the three steps, with the plan
/// computed as [`super::RewriteService::rewrite`] computes it (outside the
/// lock until the version moved under it twice, then under the lock). An
/// order that does not change needs nothing of Spotify.
pub(super) fn rewrite<P: OrderPlan, T>(
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
        Claimed(P, Vec<i64>),
    }
    let spotify = spotify.ok_or_else(|| {
        AppError::Conflict(
            "the playlist is linked to Spotify, which is not configured on this server".into(),
        )
    })?;
    let started = Instant::now();
    let mut moved = 0;
    let (read, planned, snapshot_ids) = loop {
        let conn = db.conn()?;
        let read = PlaylistService::owned(conn, user_id, id)?;
        let mut early = None;
        if moved < OPTIMISTIC_TRIES {
            let planned = plan(conn, &read)?;
            spotify_uris_only(&planned)?;
            check_version(&read, if_match.as_ref())?;
            early = Some(planned);
        }
        let step = write_transaction(conn, |conn| {
            let locked = PlaylistService::lock_owned(conn, user_id, id)?;
            let planned = match early.take() {
                Some(_) if locked.version != read.version => return Ok(Step::Moved),
                Some(planned) => planned,
                None => {
                    let planned = plan(conn, &locked)?;
                    spotify_uris_only(&planned)?;
                    check_version(&locked, if_match.as_ref())?;
                    planned
                }
            };
            if planned.order() == planned.current() {
                let done = write(conn, RewriteTarget::new(locked), planned)?;
                return Ok(Step::Done(done));
            }
            Ok::<_, AppError>(
                match claim(conn, &locked, [(planned.current(), planned.why())])? {
                    Some(snapshot_ids) => Step::Claimed(planned, snapshot_ids),
                    None => Step::Busy,
                },
            )
        })?;
        match step {
            Step::Done(done) => return Ok(done),
            Step::Claimed(planned, snapshot_ids) => break (read, planned, snapshot_ids),
            Step::Moved if IfMatch::pins_version(if_match.as_ref()) => {
                return Err(AppError::PreconditionFailed)
            }
            Step::Moved => moved += 1,
            Step::Busy => wait_for_claim(db, started, spotify.claim_wait)?,
        }
    };
    let snapshot_id = snapshot_ids.first().copied();
    let sent = send(
        db,
        spotify,
        &read,
        planned.current(),
        planned.order(),
        &snapshot_ids,
    );
    let spotify_snapshot_id = sent.map_err(|unfinished| unfinished.error)?;
    land(db, id, |conn| {
        let locked = PlaylistService::lock_owned(conn, user_id, id)?;
        let target = RewriteTarget::written_back(locked, snapshot_id, spotify_snapshot_id);
        write(conn, target, planned)
    })
    .map_err(|unfinished| unfinished.error)
}

/// Step (1): takes the write claim on a locked linked playlist and, for
/// each rewrite it will make (the order it replaces, and why), the
/// automatic snapshot; their ids. `None` while another writer holds a live
/// claim; 409 while the playlist is out of sync. The caller holds the
/// write transaction.
pub fn claim<'a, 'b>(
    conn: &mut DbConnection,
    playlist: &Playlist,
    steps: impl IntoIterator<Item = (&'a [String], Rewrite<'b>)>,
) -> AppResult<Option<Vec<i64>>> {
    let now = db::now();
    if playlist.link.out_of_sync
        || playlist
            .link
            .writing_since
            .is_some_and(|since| !claim_is_live_at(since, now))
    {
        return Err(AppError::Conflict(format!(
            "the playlist is out of sync with Spotify after a failed write; sync first \
             (POST /api/playlists/{}/sync)",
            playlist.id
        )));
    }
    if claim_is_live(&playlist.link, now) {
        return Ok(None);
    }
    Playlist::set_writing(conn, &playlist.id, Some(now))?;
    let mut snapshot_ids = Vec::new();
    for (before, why) in steps {
        snapshot_ids.extend(take_auto_snapshot(conn, playlist, before, why)?);
    }
    Ok(Some(snapshot_ids))
}

/// Step (2): sends `order` to Spotify in place of `current`, holding no
/// connection; Spotify's new snapshot id. On failure the playlist is
/// settled in one transaction: before anything reached Spotify, the claim
/// is released and `snapshot_ids` deleted; part-way, the playlist is
/// marked out of sync and they stay.
pub fn send(
    db: &mut Checkout,
    spotify: &Spotify,
    playlist: &Playlist,
    current: &[String],
    order: &[String],
    snapshot_ids: &[i64],
) -> Result<String, Unfinished> {
    db.release();
    let failure = match write_order(db, spotify, playlist, current, order) {
        Ok(spotify_snapshot_id) => return Ok(spotify_snapshot_id),
        Err(failure) => failure,
    };
    write_transaction(db.conn()?, |conn| match &failure {
        WriteBackError::Before(_) => {
            Playlist::set_writing(conn, &playlist.id, None)?;
            for id in snapshot_ids {
                Snapshot::delete(conn, *id)?;
            }
            Ok::<_, AppError>(())
        }
        WriteBackError::PartWay(_) => Ok(Playlist::mark_out_of_sync(conn, &playlist.id)?),
    })?;
    Err(Unfinished {
        keeps_snapshots: failure.keeps_snapshots(),
        error: failure.into_error(),
    })
}

/// Step (3): runs `f`, which writes the order Spotify now holds here, in a
/// write transaction; when it fails, marks the playlist out of sync.
pub fn land<T>(
    db: &mut Checkout,
    playlist_id: &str,
    f: impl FnOnce(&mut DbConnection) -> AppResult<T>,
) -> Result<T, Unfinished> {
    match write_transaction(db.conn()?, f) {
        Ok(done) => Ok(done),
        Err(error) => {
            // Spotify has the new order and we do not.
            Playlist::mark_out_of_sync(db.conn()?, playlist_id).map_err(AppError::from)?;
            Err(Unfinished {
                error,
                keeps_snapshots: true,
            })
        }
    }
}

/// Records that a sync found Spotify's order already here: the snapshot
/// it is at (`None` when not every item is in the copy), and no write under
/// way or out of sync any more. The caller holds the playlist's lock.
pub fn mark_in_sync(
    conn: &mut DbConnection,
    playlist: &Playlist,
    spotify_snapshot_id: Option<&str>,
) -> AppResult<()> {
    if playlist.link.out_of_sync || playlist.link.writing_since.is_some() {
        Playlist::set_provider_state(conn, &playlist.id, spotify_snapshot_id, false)?;
    }
    Ok(())
}

/// One turn of waiting for another's write of the playlist to Spotify,
/// with no connection held: 409 once `wait` has passed since `started`,
/// else a pause before the caller looks again.
pub fn wait_for_claim(db: &mut Checkout, started: Instant, wait: Duration) -> AppResult<()> {
    db.release();
    if started.elapsed() > wait {
        return Err(write_under_way());
    }
    crate::metrics::global().spotify_write_waited();
    std::thread::sleep(CLAIM_POLL);
    Ok(())
}

/// 409 while another write of the playlist to Spotify is under way.
pub fn write_under_way() -> AppError {
    AppError::Conflict(
        "another write of this playlist to Spotify is under way; try again shortly".into(),
    )
}

/// Whether a live write claim is on the playlist.
pub fn claim_is_live(link: &ProviderLink, now: NaiveDateTime) -> bool {
    link.writing_since
        .is_some_and(|since| claim_is_live_at(since, now))
}

fn claim_is_live_at(since: NaiveDateTime, now: NaiveDateTime) -> bool {
    since > now - chrono::Duration::seconds(WRITE_CLAIM_SECS)
}

/// 400 unless every URI of a linked playlist's new order is one Spotify
/// can hold; judged before the version, as every 400 is.
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
