//! The filtered activity listing (`GET /api/activity`, docs/api.md):
//! [`ActivityQuery`] in, [`ActivityPage`] out, through
//! [`ActivityLogService::query`].
//!
//! Paging is keyset on `(created_at, id)` by default, with an opaque cursor,
//! or offset (`page=N`) with a total. A cursor is base64url of
//! `v1.<user>.<micros>.<id>` plus a 12-byte SHA-256 check, so a cursor that
//! was edited, cut, or made for another user is refused. The check is not a
//! secret MAC: it need not be, because every query is scoped to the caller,
//! so a forged cursor can only move within the caller's own rows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use strum::{Display, EnumString};

use crate::db::schema::activity_log;
use crate::db::text_search::{like_pattern, lower, lower_nullable};
use crate::db::{DbConnection, MultiBackend};
use crate::enums::{ActivityType, ActorType};
use crate::models::ActivityLog;
use crate::services::activity_log::ActivityLogService;

/// The most rows one page (or one export batch) may ask for.
pub const MAX_PAGE_ROWS: i64 = 1000;

/// `range=`: how far back the listing reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Display, EnumString, utoipa::ToSchema)]
pub enum ActivityRange {
    #[strum(serialize = "24h")]
    #[schema(rename = "24h")]
    Day,
    #[strum(serialize = "7d")]
    #[schema(rename = "7d")]
    Week,
    #[strum(serialize = "30d")]
    #[schema(rename = "30d")]
    Month,
    #[strum(serialize = "90d")]
    #[schema(rename = "90d")]
    Quarter,
    #[strum(serialize = "all")]
    #[schema(rename = "all")]
    All,
}

impl ActivityRange {
    /// The earliest `created_at` this range admits, from `now`.
    pub fn start(self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let back = match self {
            ActivityRange::Day => Duration::hours(24),
            ActivityRange::Week => Duration::days(7),
            ActivityRange::Month => Duration::days(30),
            ActivityRange::Quarter => Duration::days(90),
            ActivityRange::All => return None,
        };
        Some(now - back)
    }
}

/// A position in the keyset order: the last row a page returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityCursor {
    pub created_at: NaiveDateTime,
    pub id: i64,
}

const CURSOR_VERSION: &str = "v1";
const CURSOR_CHECK_BYTES: usize = 12;

fn cursor_check(payload: &str) -> [u8; CURSOR_CHECK_BYTES] {
    let digest = Sha256::new()
        .chain_update(b"shuffify-activity-cursor\0")
        .chain_update(payload.as_bytes())
        .finalize();
    let mut check = [0u8; CURSOR_CHECK_BYTES];
    check.copy_from_slice(&digest[..CURSOR_CHECK_BYTES]);
    check
}

impl ActivityCursor {
    pub fn of(row: &ActivityLog) -> Self {
        ActivityCursor {
            created_at: row.created_at,
            id: row.id,
        }
    }

    pub fn encode(&self, user_id: i64) -> String {
        let micros = self.created_at.and_utc().timestamp_micros();
        let payload = format!("{CURSOR_VERSION}.{user_id}.{micros}.{}", self.id);
        let mut bytes = payload.into_bytes();
        let check = cursor_check(std::str::from_utf8(&bytes).unwrap_or_default());
        bytes.extend_from_slice(&check);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for anything not made by [`encode`](Self::encode) for `user_id`.
    pub fn decode(text: &str, user_id: i64) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let split = bytes.len().checked_sub(CURSOR_CHECK_BYTES)?;
        let (payload, check) = bytes.split_at(split);
        let payload = std::str::from_utf8(payload).ok()?;
        if cursor_check(payload) != check {
            return None;
        }
        let mut parts = payload.split('.');
        if parts.next()? != CURSOR_VERSION || parts.next()?.parse::<i64>().ok()? != user_id {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let created_at = DateTime::from_timestamp_micros(micros)?.naive_utc();
        Some(ActivityCursor { created_at, id })
    }
}

/// How the listing pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Keyset: rows after the cursor (from the newest when `None`).
    Cursor(Option<ActivityCursor>),
    /// Offset: page N, from 1, with a total.
    Page(u32),
}

/// The filters of `GET /api/activity`; all combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityQuery {
    pub types: Vec<ActivityType>,
    pub actors: Vec<ActorType>,
    /// Inclusive lower bound (already folded with `range` by the caller,
    /// or use [`ActivityQuery::with_range`]).
    pub since: Option<NaiveDateTime>,
    /// Exclusive upper bound.
    pub until: Option<NaiveDateTime>,
    pub playlist_id: Option<String>,
    /// Case-insensitive (ASCII) substring of description or playlist name,
    /// `%` and `_` taken literally.
    pub q: Option<String>,
    /// Rows written for requests from this client address (exact match).
    pub ip_address: Option<String>,
    /// Rows written with this session (exact match).
    pub session_id: Option<i64>,
    /// Rows written by this request (exact match).
    pub request_id: Option<String>,
    pub limit: i64,
    pub paging: Paging,
}

impl Default for ActivityQuery {
    fn default() -> Self {
        ActivityQuery {
            types: Vec::new(),
            actors: Vec::new(),
            since: None,
            until: None,
            playlist_id: None,
            q: None,
            ip_address: None,
            session_id: None,
            request_id: None,
            limit: 20,
            paging: Paging::Cursor(None),
        }
    }
}

impl ActivityQuery {
    /// Whether the only filter is a lower time bound: the shape the feed
    /// opens with and `/since` pages through, served by fixed statements.
    pub fn filters_only_by_time(&self) -> bool {
        self.types.is_empty()
            && self.actors.is_empty()
            && self.until.is_none()
            && self.playlist_id.is_none()
            && self.q.as_deref().is_none_or(str::is_empty)
            && self.ip_address.is_none()
            && self.session_id.is_none()
            && self.request_id.is_none()
    }

    /// Narrows `since` by a range: the later of the two bounds wins.
    pub fn with_range(mut self, range: ActivityRange, now: NaiveDateTime) -> Self {
        if let Some(start) = range.start(now) {
            self.since = Some(self.since.map_or(start, |s| s.max(start)));
        }
        self
    }
}

/// A page of the listing, as `GET /api/activity` answers it: by cursor
/// `{items, next_cursor}`, by page number `{items, total, page, limit}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ActivityPage {
    Keyset {
        items: Vec<ActivityLog>,
        /// `null` exactly when no rows remain.
        #[schema(required = true)]
        next_cursor: Option<String>,
    },
    Offset {
        items: Vec<ActivityLog>,
        total: i64,
        page: u32,
        limit: i64,
    },
}

impl ActivityPage {
    pub fn items(&self) -> &[ActivityLog] {
        match self {
            ActivityPage::Keyset { items, .. } | ActivityPage::Offset { items, .. } => items,
        }
    }
}

/// `$source` (the table, or the table under an alias) boxed, with `q`'s
/// filters; `$col!(name)` names a column of that source. One list of
/// filters for the page and for its total (a subquery over the alias).
macro_rules! with_filters {
    ($source:expr, $col:ident, $user_id:expr, $q:expr) => {{
        let q: &ActivityQuery = $q;
        let mut query = $source.filter($col!(user_id).eq($user_id)).into_boxed();
        if !q.types.is_empty() {
            query = query.filter($col!(activity_type).eq_any(&q.types));
        }
        if !q.actors.is_empty() {
            query = query.filter($col!(actor_type).eq_any(&q.actors));
        }
        if let Some(since) = q.since {
            query = query.filter($col!(created_at).ge(since));
        }
        if let Some(until) = q.until {
            query = query.filter($col!(created_at).lt(until));
        }
        if let Some(playlist_id) = &q.playlist_id {
            query = query.filter($col!(playlist_id).eq(playlist_id));
        }
        // No index of their own: the user's rows are found by the index
        // on (user_id, created_at, id), and these narrow them.
        if let Some(ip) = &q.ip_address {
            query = query.filter($col!(ip_address).eq(ip));
        }
        if let Some(session_id) = q.session_id {
            query = query.filter($col!(session_id).eq(session_id));
        }
        if let Some(request_id) = &q.request_id {
            query = query.filter($col!(request_id).eq(request_id));
        }
        if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
            let pattern = like_pattern(text);
            query = query.filter(
                lower($col!(description))
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower_nullable($col!(playlist_name))
                        .like(pattern)
                        .escape('\\')
                        .assume_not_null()),
            );
        }
        query
    }};
}

macro_rules! own {
    ($name:ident) => {
        activity_log::$name
    };
}

// The table again, under another name, for the total inside a page's read.
diesel::alias!(activity_log as matching: MatchingActivity);

macro_rules! matching {
    ($name:ident) => {
        matching.field(activity_log::$name)
    };
}

fn filtered<'a>(user_id: i64, q: &'a ActivityQuery) -> activity_log::BoxedQuery<'a, MultiBackend> {
    with_filters!(activity_log::table, own, user_id, q)
}

impl ActivityLogService {
    /// The filtered listing, one page of it. On a database error the page
    /// is empty (and the error logged), like every activity read that feeds
    /// a screen; a download uses [`try_query`](Self::try_query) instead, so
    /// that a failure is never mistaken for the end of the data.
    pub fn query(conn: &mut DbConnection, user_id: i64, q: &ActivityQuery) -> ActivityPage {
        Self::try_query(conn, user_id, q).unwrap_or_else(|err| {
            log::warn!("activity listing read failed for user {user_id}: {err}");
            match q.paging {
                Paging::Cursor(_) => ActivityPage::Keyset {
                    items: Vec::new(),
                    next_cursor: None,
                },
                Paging::Page(page) => ActivityPage::Offset {
                    items: Vec::new(),
                    total: 0,
                    page: page.max(1),
                    limit: q.limit.clamp(1, MAX_PAGE_ROWS),
                },
            }
        })
    }

    /// The filtered listing, one page of it, or the database's error.
    pub fn try_query(
        conn: &mut DbConnection,
        user_id: i64,
        q: &ActivityQuery,
    ) -> QueryResult<ActivityPage> {
        let limit = q.limit.clamp(1, MAX_PAGE_ROWS);
        let newest_first = (activity_log::created_at.desc(), activity_log::id.desc());
        match &q.paging {
            Paging::Cursor(after) if q.filters_only_by_time() => {
                // The feed as it first opens, and `/since`: a fixed shape.
                let after = after.map(|c| (c.created_at, c.id));
                let items = ActivityLog::page(conn, user_id, q.since, after, limit + 1)?;
                Ok(Self::keyset_page(user_id, items, limit))
            }
            Paging::Cursor(after) => {
                let mut query = filtered(user_id, q);
                if let Some(c) = after {
                    // No row-value comparison in diesel: spell it out. The
                    // redundant `created_at <= t` gives PostgreSQL an index
                    // range to scan backwards instead of an OR it cannot.
                    query = query.filter(activity_log::created_at.le(c.created_at));
                    query = query.filter(
                        activity_log::created_at
                            .lt(c.created_at)
                            .or(activity_log::created_at
                                .eq(c.created_at)
                                .and(activity_log::id.lt(c.id))),
                    );
                }
                let items = query
                    .order(newest_first)
                    .limit(limit + 1)
                    .select(ActivityLog::as_select())
                    .load(conn)?;
                Ok(Self::keyset_page(user_id, items, limit))
            }
            Paging::Page(page) => {
                let page = (*page).max(1);
                // The total rides along with the page, as a subquery the
                // database runs once; only a page past the end needs it
                // apart.
                let total = with_filters!(matching, matching, user_id, q)
                    .count()
                    .single_value();
                let rows: Vec<(ActivityLog, Option<i64>)> = filtered(user_id, q)
                    .order(newest_first)
                    .limit(limit)
                    .offset(i64::from(page - 1) * limit)
                    .select((ActivityLog::as_select(), total))
                    .load(conn)?;
                let total = match rows.first() {
                    Some((_, n)) => n.unwrap_or(0),
                    None if page == 1 => 0,
                    None => Self::try_count(conn, user_id, q)?,
                };
                let items = rows.into_iter().map(|(row, _)| row).collect();
                Ok(ActivityPage::Offset {
                    items,
                    total,
                    page,
                    limit,
                })
            }
        }
    }

    /// How many rows match `q`'s filters (its paging ignored).
    pub fn try_count(conn: &mut DbConnection, user_id: i64, q: &ActivityQuery) -> QueryResult<i64> {
        if q.filters_only_by_time() {
            return ActivityLog::count_since(conn, user_id, q.since);
        }
        filtered(user_id, q).count().get_result(conn)
    }

    /// `limit` of `items` (read with one extra row to tell whether more
    /// follow) and the cursor to the next page.
    pub(crate) fn keyset_page(
        user_id: i64,
        mut items: Vec<ActivityLog>,
        limit: i64,
    ) -> ActivityPage {
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|r| ActivityCursor::of(r).encode(user_id))
        } else {
            None
        };
        ActivityPage::Keyset { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_tampering() {
        let c = ActivityCursor {
            created_at: crate::db::now(),
            id: 42,
        };
        let text = c.encode(7);
        assert_eq!(ActivityCursor::decode(&text, 7), Some(c));
        assert_eq!(ActivityCursor::decode(&text, 8), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
        bytes[5] ^= 1;
        assert_eq!(
            ActivityCursor::decode(&URL_SAFE_NO_PAD.encode(bytes), 7),
            None
        );
        assert_eq!(ActivityCursor::decode("garbage", 7), None);
        assert_eq!(ActivityCursor::decode("", 7), None);
    }

    #[test]
    fn range_spellings() {
        assert_eq!("24h".parse::<ActivityRange>().unwrap(), ActivityRange::Day);
        assert_eq!(
            "90d".parse::<ActivityRange>().unwrap(),
            ActivityRange::Quarter
        );
        assert!("1y".parse::<ActivityRange>().is_err());
    }
}
