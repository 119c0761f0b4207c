//! Export of a user's activity as NDJSON or CSV, and retention pruning.
//!
//! Export reads in keyset batches, each batch on its own short pool checkout,
//! and hands each to a sink (the HTTP route feeds a bounded channel, the CLI
//! writes to stdout), so exporting a million rows never holds them all, nor
//! a connection for the whole export.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use strum::{Display, EnumString};

use crate::db::schema::activity_log;
use crate::db::{DbConnection, Pool};
use crate::models::ActivityLog;
use crate::services::activity_query::{ActivityCursor, ActivityPage, ActivityQuery, Paging};
use crate::services::ActivityLogService;

/// Rows per export batch.
pub const EXPORT_BATCH_SIZE: i64 = 500;
/// Rows per prune `DELETE`.
pub const PRUNE_BATCH_SIZE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Display, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Ndjson,
    Csv,
}

const CSV_COLUMNS: [&str; 9] = [
    "id",
    "activity_type",
    "description",
    "playlist_id",
    "playlist_name",
    "actor_type",
    "actor_name",
    "metadata",
    "created_at",
];

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
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
                    .map(|m| m.0.to_string())
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

pub struct ActivityExport;

impl ActivityExport {
    /// Feeds every row matching `query` (its paging ignored) to `sink`, newest
    /// first, `batch_size` rows at a time. Stops early when `sink` answers
    /// `false` (the client went away).
    pub fn for_each_batch(
        pool: &Pool,
        user_id: i64,
        query: &ActivityQuery,
        batch_size: i64,
        mut sink: impl FnMut(Vec<ActivityLog>) -> bool,
    ) -> Result<(), r2d2::Error> {
        let mut q = ActivityQuery {
            limit: batch_size,
            paging: Paging::Cursor(None),
            ..query.clone()
        };
        loop {
            let page = {
                let mut conn = pool.get()?;
                ActivityLogService::query(&mut conn, user_id, &q)
            };
            let ActivityPage::Keyset { items, next_cursor } = page else {
                return Ok(());
            };
            let last = items.last().map(ActivityCursor::of);
            if items.is_empty() || !sink(items) || next_cursor.is_none() {
                return Ok(());
            }
            q.paging = Paging::Cursor(last);
        }
    }
}

impl ActivityLogService {
    /// Deletes every row older than `cutoff`, `batch_size` rows per
    /// statement so no single transaction grows large; returns the count.
    pub fn prune_before(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        batch_size: i64,
    ) -> QueryResult<u64> {
        let mut total = 0u64;
        loop {
            let batch = activity_log::table
                .filter(activity_log::created_at.lt(cutoff))
                .select(activity_log::id)
                .limit(batch_size)
                .load::<i64>(conn)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let deleted =
                diesel::delete(activity_log::table.filter(activity_log::id.eq_any(&batch)))
                    .execute(conn)?;
            total += deleted as u64;
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
}
