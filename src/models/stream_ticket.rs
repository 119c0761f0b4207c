//! `stream_tickets`: how a browser opens the live activity stream
//! (docs/api.md, "The live feed"). `EventSource` cannot send `Authorization`, so the app asks
//! for a ticket with its bearer token and puts the ticket in the stream's
//! URL: random, stored as its SHA-256 only, valid for one stream within 60
//! seconds, and bound to the session that asked, so the stream ends with
//! that session. A long-lived token never appears in a URL.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::stream_tickets;
use crate::db::DbConnection;
use crate::error::TicketProblem;

/// What a redeemed ticket proves: whose stream, under which session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct TicketHolder {
    pub user_id: i64,
    pub session_id: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = stream_tickets)]
pub struct NewStreamTicket<'a> {
    pub ticket_hash: &'a str,
    pub user_id: i64,
    pub session_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewStreamTicket<'_> {
    /// Stores the ticket, and forgets tickets that expired an hour ago or
    /// more, so the table holds about an hour's worth.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let stale = self.created_at - chrono::Duration::hours(1);
        diesel::delete(stream_tickets::table.filter(stream_tickets::expires_at.lt(stale)))
            .execute(conn)?;
        diesel::insert_into(stream_tickets::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }
}

/// Why the ticket with this hash cannot be redeemed at `now` (`None`: it
/// can): a read, so a guess that matches nothing never takes the write
/// lock. A ticket forgotten an hour after it expired is unknown.
pub fn problem(
    conn: &mut DbConnection,
    ticket_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<TicketProblem>> {
    let found: Option<(Option<NaiveDateTime>, NaiveDateTime)> = stream_tickets::table
        .filter(stream_tickets::ticket_hash.eq(ticket_hash))
        .select((stream_tickets::used_at, stream_tickets::expires_at))
        .first(conn)
        .optional()?;
    Ok(match found {
        None => Some(TicketProblem::Unknown),
        Some((Some(_), _)) => Some(TicketProblem::Used),
        Some((None, expires_at)) if expires_at <= now => Some(TicketProblem::Expired),
        Some(_) => None,
    })
}

/// Uses up the ticket with this hash: `Some` for the first redemption of
/// an unexpired ticket, `None` for an unknown, expired or used one. One
/// conditional update, so two streams racing with one ticket cannot both
/// have it.
pub fn redeem(
    conn: &mut DbConnection,
    ticket_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<TicketHolder>> {
    let unused = stream_tickets::table
        .filter(stream_tickets::ticket_hash.eq(ticket_hash))
        .filter(stream_tickets::used_at.is_null())
        .filter(stream_tickets::expires_at.gt(now));
    let used = diesel::update(unused)
        .set(stream_tickets::used_at.eq(Some(now)))
        .execute(conn)?;
    if used == 0 {
        return Ok(None);
    }
    stream_tickets::table
        .filter(stream_tickets::ticket_hash.eq(ticket_hash))
        .select((stream_tickets::user_id, stream_tickets::session_id))
        .first(conn)
        .optional()
}
