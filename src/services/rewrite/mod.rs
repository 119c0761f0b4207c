//! Rewriting a playlist's order: the one way an order changes, local or
//! linked to Spotify, for a shuffle, a workshop commit, a restore or undo,
//! a sync, a dedupe and a scheduled raid or shuffle alike.
//!
//! - [`order`]: writing an order here (compare, automatic snapshot, write,
//!   version), what every rewrite ends with.
//! - [`RewriteService::rewrite`] (here): the optimistic loop of a user's
//!   rewrite. The new order is computed outside the write lock, written
//!   under a version check, recomputed once if the version moved, and if
//!   it moved again computed and written holding the playlist's row lock,
//!   so a rewrite without `If-Match` never fails because another writer
//!   got there first.
//! - [`linked`]: the write-back of a linked playlist's new order to
//!   Spotify, in three steps that hold no connection and no lock across a
//!   Spotify call; a user's rewrite and a scheduled run both go through it.

pub mod linked;
pub mod order;

pub use order::{replace_order, take_auto_snapshot, OrderPlan, Rewrite, RewriteTarget};

use crate::db::{write_transaction, Checkout, DbConnection};
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::providers::spotify::Spotify;
use crate::services::playlists::{check_version, IfMatch, PlaylistService};

/// Rewrites computed outside the write lock before one is computed under
/// it: the first try, and one recompute.
const OPTIMISTIC_TRIES: usize = 2;

pub struct RewriteService;

impl RewriteService {
    /// Rewrites the order of the caller's playlist `id`.
    ///
    /// `plan` reads what it needs and computes (the expensive part: a
    /// shuffle of 10,000 tracks), given the playlist as read; the first
    /// tries run it outside the write lock. `write` runs in the write
    /// transaction, with the playlist locked and its version unchanged
    /// since `plan` read it, and writes through [`replace_order`]. Without
    /// `If-Match`, a version that moved under a try means recompute; the
    /// last try plans under the lock and cannot be overtaken. With
    /// `If-Match`, a version that moved is a 412; it is judged after
    /// `plan`, so a request that is wrong whatever the version (an unknown
    /// algorithm parameter, a URI not in the catalog) answers its 400, not
    /// a 412 (RFC 9110 §13.2.1).
    ///
    /// A playlist linked to Spotify goes through [`linked::rewrite`].
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
            let read = PlaylistService::owned(conn, user_id, id)?;
            if read.link.is_linked() {
                if spotify.is_some() && !db.on_spotify_pool() {
                    // Nothing changed yet: the caller runs it again there.
                    return Err(AppError::NeedsSpotifyPool);
                }
                return linked::rewrite(db, spotify, user_id, id, if_match, plan, write);
            }
            let planned = plan(conn, &read)?;
            check_version(&read, if_match.as_ref())?;
            let written = write_transaction(conn, |conn| {
                let locked = PlaylistService::lock_owned(conn, user_id, id)?;
                if locked.version != read.version {
                    return Ok(None);
                }
                write(conn, RewriteTarget::new(locked), planned).map(Some)
            })?;
            match written {
                Some(done) => return Ok(done),
                None if IfMatch::pins_version(if_match.as_ref()) => {
                    return Err(AppError::PreconditionFailed)
                }
                None => continue,
            }
        }
        write_transaction(db.conn()?, |conn| {
            let locked = PlaylistService::lock_owned(conn, user_id, id)?;
            let planned = plan(conn, &locked)?;
            check_version(&locked, if_match.as_ref())?;
            write(conn, RewriteTarget::new(locked), planned)
        })
    }
}
