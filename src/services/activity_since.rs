//! `GET /api/activity/since` (docs/api.md, "Reading your trail"): the caller's rows at or
//! after a cutoff, paged exactly like the listing.
//!
//! The cutoff is a time the client names, or `last_login`: the creation
//! time of the session before the calling token's own, recorded on that
//! session when it opened (so it arrives with the token's lookup, at no
//! round trip of its own). Resolving it against that session (not "the
//! latest login") means every page of one walk names the same cutoff, even
//! if the user logs in elsewhere meanwhile. Paging is
//! the listing's keyset machinery and its cursors, so a cursor from
//! `/api/activity` works here too and a foreign one is refused the same way.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde::Serialize;

use crate::db::DbConnection;
use crate::models::ActivityLog;
use crate::services::activity_query::{ActivityCursor, ActivityPage};
use crate::services::ActivityLogService;

/// Default and largest page of `/since`.
pub const SINCE_DEFAULT_LIMIT: i64 = 100;
pub const SINCE_MAX_LIMIT: i64 = 500;

/// Where `/since` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinceCutoff {
    /// An explicit time (inclusive).
    At(NaiveDateTime),
    /// When the session before the caller's began, as recorded on the
    /// caller's session (`AuthSession::previous_login_at`); every row when
    /// there was none.
    LastLogin {
        previous_login_at: Option<NaiveDateTime>,
    },
}

/// One page of `/since`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SincePage {
    pub items: Vec<ActivityLog>,
    /// `null` exactly when no rows remain.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// The cutoff used; `None` when `last_login` found no earlier session.
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub since: Option<NaiveDateTime>,
    /// Rows at or after the cutoff, all pages together.
    pub total: i64,
}

impl ActivityLogService {
    /// The page of rows at or after `cutoff` that follows `after`, newest
    /// first. Like the listing, a failed read of the rows answers an empty
    /// page (with a warning); only resolving `last_login` can fail.
    pub fn since_page(
        conn: &mut DbConnection,
        user_id: i64,
        cutoff: SinceCutoff,
        limit: i64,
        after: Option<ActivityCursor>,
    ) -> QueryResult<SincePage> {
        let since = match cutoff {
            SinceCutoff::At(t) => Some(t),
            SinceCutoff::LastLogin { previous_login_at } => previous_login_at,
        };
        let limit = limit.clamp(1, SINCE_MAX_LIMIT);
        let after = after.map(|c| (c.created_at, c.id));
        // The page and the total in one statement; the total alone only
        // when the page came back empty (a cursor past the last row).
        let (rows, total) = ActivityLog::page_with_total(conn, user_id, since, after, limit + 1)
            .unwrap_or_else(|err| {
                log::warn!("activity since read failed for user {user_id}: {err}");
                (Vec::new(), Some(0))
            });
        let total = total.unwrap_or_else(|| {
            ActivityLog::count_since(conn, user_id, since).unwrap_or_else(|err| {
                log::warn!("activity since count failed for user {user_id}: {err}");
                0
            })
        });
        let (items, next_cursor) = match Self::keyset_page(user_id, rows, limit) {
            ActivityPage::Keyset { items, next_cursor } => (items, next_cursor),
            ActivityPage::Offset { items, .. } => (items, None),
        };
        Ok(SincePage {
            items,
            next_cursor,
            since,
            total,
        })
    }
}
