//! Export of a user's activity as NDJSON or CSV, and retention pruning.
//!
//! Export reads in keyset batches, each batch on its own short pool checkout,
//! so exporting a million rows never holds them all, nor a connection for
//! the whole export. Over HTTP an async producer feeds a small bounded
//! channel and gives up on a client that stops reading (issue 8 item 4);
//! the CLI writes each batch to stdout. Both read through the fallible
//! listing query: a database error ends an export as a visible failure,
//! never as a shorter file that looks complete (item 5).

use std::time::Duration;

use actix_web::web::Bytes;
use diesel::prelude::*;
use futures_util::Stream;
use strum::{Display, EnumString};

use crate::db::{self, DbConnection, Pool};
use crate::error::AppError;
use crate::models::ActivityLog;
use crate::services::activity_query::{ActivityCursor, ActivityPage, ActivityQuery, Paging};
use crate::services::export_stream::{self, ChunkSender, Stop};
use crate::services::ActivityLogService;
use crate::streams::StreamGuard;

/// Rows per export batch.
pub const EXPORT_BATCH_SIZE: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Display, EnumString, utoipa::ToSchema)]
#[strum(serialize_all = "lowercase")]
#[schema(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Ndjson,
    Csv,
}

const CSV_COLUMNS: [&str; 13] = [
    "id",
    "activity_type",
    "description",
    "playlist_id",
    "playlist_name",
    "actor_type",
    "actor_name",
    "metadata",
    "created_at",
    "request_id",
    "ip_address",
    "user_agent",
    "session_id",
];

/// What a spreadsheet program reads as the start of a formula (a tab or
/// carriage return first is trimmed, and the formula then runs).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV field, quoted when it holds a comma, quote or line break (RFC
/// 4180). A value a spreadsheet would run as a formula (a playlist named
/// `=HYPERLINK(...)`, say) is written with a leading `'`, which makes it
/// text, so opening an export never runs what someone typed into a name.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.into_owned()
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// What comes before the first row.
    pub fn header(self) -> String {
        match self {
            ExportFormat::Ndjson => String::new(),
            ExportFormat::Csv => format!("{}\r\n", CSV_COLUMNS.join(",")),
        }
    }

    /// One row, with its line ending.
    pub fn render(self, row: &ActivityLog) -> String {
        match self {
            ExportFormat::Ndjson => {
                let mut line = serde_json::to_string(row).unwrap_or_default();
                line.push('\n');
                line
            }
            ExportFormat::Csv => {
                let metadata = row
                    .metadata
                    .as_ref()
                    .map(|m| m.get().to_string())
                    .unwrap_or_default();
                let fields = [
                    row.id.to_string(),
                    row.activity_type.to_string(),
                    row.description.clone(),
                    row.playlist_id.clone().unwrap_or_default(),
                    row.playlist_name.clone().unwrap_or_default(),
                    row.actor_type.to_string(),
                    row.actor_name.clone().unwrap_or_default(),
                    metadata,
                    crate::timestamp::format(&row.created_at),
                    row.context.request_id.clone().unwrap_or_default(),
                    row.context.ip_address.clone().unwrap_or_default(),
                    row.context.user_agent.clone().unwrap_or_default(),
                    row.context
                        .session_id
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                ];
                let mut line = fields
                    .iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(",");
                line.push_str("\r\n");
                line
            }
        }
    }

    pub fn render_batch(self, rows: &[ActivityLog]) -> String {
        rows.iter().map(|r| self.render(r)).collect()
    }
}

/// Why an export stopped before its end. The HTTP body yields it as its
/// last item (actix then aborts the chunked response, so the client sees an
/// incomplete transfer); the CLI prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the activity failed: {0}")]
    Read(#[from] AppError),
    #[error("reading the activity failed: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::Error),
    /// The producer stopped without saying why (it gave up on a client that
    /// did not read, or it died); the rows after this point are missing.
    #[error("the export stopped before its end")]
    Abandoned,
}

pub struct ActivityExport;

/// The listing query that reads `query`'s rows from the newest,
/// `batch_size` at a time.
pub(crate) fn first_batch(query: &ActivityQuery, batch_size: i64) -> ActivityQuery {
    ActivityQuery {
        limit: batch_size,
        paging: Paging::Cursor(None),
        ..query.clone()
    }
}

/// One batch of rows, and where the next one starts (`None`: this was the last).
pub(crate) fn read_batch(
    conn: &mut DbConnection,
    user_id: i64,
    q: &ActivityQuery,
) -> QueryResult<(Vec<ActivityLog>, Option<ActivityCursor>)> {
    match ActivityLogService::try_query(conn, user_id, q)? {
        ActivityPage::Keyset { items, next_cursor } => {
            let next = next_cursor.and(items.last().map(ActivityCursor::of));
            Ok((items, next))
        }
        ActivityPage::Offset { items, .. } => Ok((items, None)),
    }
}

impl ActivityExport {
    /// Feeds every row matching `query` (its paging ignored) to `sink`, newest
    /// first, `batch_size` rows at a time, each batch on its own checkout.
    /// Stops early, with `Ok`, when `sink` answers `false`; any failure to
    /// read is an `Err`, never a short `Ok`. For the CLI, which writes to a
    /// local stream and so never waits on a remote reader.
    pub fn for_each_batch(
        pool: &Pool,
        user_id: i64,
        query: &ActivityQuery,
        batch_size: i64,
        mut sink: impl FnMut(Vec<ActivityLog>) -> bool,
    ) -> Result<(), ExportError> {
        let mut q = first_batch(query, batch_size);
        loop {
            let (items, next) = read_batch(&mut *pool.get()?, user_id, &q)?;
            if items.is_empty() || !sink(items) {
                return Ok(());
            }
            match next {
                Some(cursor) => q.paging = Paging::Cursor(Some(cursor)),
                None => return Ok(()),
            }
        }
    }

    /// The body of an HTTP export (`crate::services::export_stream`).
    ///
    /// The producer reads a batch through its own short [`db::run`] (one
    /// checkout per batch), renders it, and offers it to the body's small
    /// channel. If the client takes no chunk for `send_timeout`, the
    /// producer gives up; it owns `slot`, so the export's slot frees
    /// whenever it stops. The stream ends cleanly only after the last row;
    /// otherwise its last item is an `Err`.
    pub fn stream(
        pool: Pool,
        user_id: i64,
        query: ActivityQuery,
        format: ExportFormat,
        send_timeout: Duration,
        slot: StreamGuard,
    ) -> impl Stream<Item = Result<Bytes, ExportError>> + 'static {
        export_stream::streamed(
            format!("activity export for user {user_id}"),
            send_timeout,
            slot,
            move |out| async move { produce(&pool, user_id, &query, format, &out).await },
        )
    }
}

async fn produce(
    pool: &Pool,
    user_id: i64,
    query: &ActivityQuery,
    format: ExportFormat,
    out: &ChunkSender,
) -> Result<(), Stop> {
    let header = format.header();
    if !header.is_empty() {
        out.send(header).await?;
    }
    let mut q = first_batch(query, EXPORT_BATCH_SIZE);
    loop {
        let batch_query = q.clone();
        let (items, next) = db::run(pool, move |conn| {
            Ok(read_batch(conn, user_id, &batch_query)?)
        })
        .await
        .map_err(|err| Stop::Failed(ExportError::Read(err)))?;
        // Rendered here, after the connection went back to the pool.
        if !items.is_empty() {
            out.send(format.render_batch(&items)).await?;
        }
        match next {
            Some(cursor) => q.paging = Paging::Cursor(Some(cursor)),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
    }

    #[test]
    fn csv_fields_that_a_spreadsheet_would_run_start_with_a_quote() {
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\t=1"), "'\t=1");
        assert_eq!(csv_field("\r=1"), "\"'\r=1\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("a=1"), "a=1");
        assert_eq!(csv_field(""), "");
    }
}
