//! `shuffify activity prune` and `shuffify activity export`.

use std::io::Write;

use shuffify::config::Settings;
use shuffify::retention::{self, PruneScope, PRUNE_BATCH_SIZE};
use shuffify::services::activity_export::EXPORT_BATCH_SIZE;
use shuffify::services::{ActivityExport, ActivityQuery, ExportFormat};

use super::{find_user, open_existing, print, rfc3339_seconds};

/// What `activity prune` is asked to do.
pub struct Prune<'a> {
    pub older_than: chrono::Duration,
    pub user: Option<&'a str>,
    pub dry_run: bool,
    pub yes: bool,
}

/// Ages under this delete recent activity, and run only with `--yes`.
fn needs_yes(older_than: chrono::Duration) -> bool {
    older_than < chrono::Duration::days(1)
}

/// Deletes (or with `--dry-run` counts) the rows older than the cutoff, of
/// one user or all, and prints the count, the cutoff and the scope.
pub fn prune(settings: &Settings, args: Prune<'_>) -> Result<(), String> {
    let pool = open_existing(settings)?;
    let user = args.user.map(|name| find_user(&pool, name)).transpose()?;
    let scope = PruneScope {
        cutoff: retention::cutoff_for(args.older_than),
        user_id: user.as_ref().map(|u| u.id),
    };
    let whose = match &user {
        Some(user) => format!("user {}", user.username),
        None => "all users".into(),
    };
    let rows = |n: u64| {
        format!(
            "{n} activity {} older than {} ({whose})",
            if n == 1 { "row" } else { "rows" },
            rfc3339_seconds(&scope.cutoff)
        )
    };
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let count = |conn: &mut _| retention::count(conn, &scope).map_err(|e| e.to_string());
    if args.dry_run {
        return print(&format!("would delete {}\n", rows(count(&mut conn)?)));
    }
    if needs_yes(args.older_than) && !args.yes {
        return Err(format!(
            "refusing to delete {}: a cutoff under one day old takes today's activity too; \
             pass --yes to delete them, or --dry-run to count them only",
            rows(count(&mut conn)?)
        ));
    }
    // The partitions' upkeep first (PostgreSQL), as `serve` does: a month
    // whose rows wait in the DEFAULT partition gets its own, to be dropped
    // whole once it is past the cutoff.
    shuffify::db::partitions::upkeep(&mut conn, shuffify::db::now())
        .map_err(|e| format!("the partitions' upkeep failed: {e}"))?;
    let deleted = retention::prune(&mut conn, &scope, PRUNE_BATCH_SIZE)
        .map_err(|e| format!("the prune failed: {e}"))?;
    print(&format!("deleted {}\n", rows(deleted)))
}

/// Writes one user's activity to stdout, newest first. A failure midway
/// is an error that says how many rows were written, so a partial export
/// never passes for a complete one.
pub fn export(
    settings: &Settings,
    username: &str,
    format: &str,
    since: Option<&str>,
) -> Result<(), String> {
    let format: ExportFormat = format.parse().map_err(|_| "format must be ndjson or csv")?;
    let since = since
        .map(|s| shuffify::timestamp::parse(s).ok_or("--since must be an RFC 3339 timestamp"))
        .transpose()?;
    let pool = open_existing(settings)?;
    let user = find_user(&pool, username)?;
    let query = ActivityQuery {
        since,
        ..ActivityQuery::default()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let mut rows_written = 0usize;
    let _ = out.write_all(format.header().as_bytes());
    let read =
        ActivityExport::for_each_batch(&pool, user.id, &query, EXPORT_BATCH_SIZE, |rows| match out
            .write_all(format.render_batch(&rows).as_bytes())
        {
            Ok(()) => {
                rows_written += rows.len();
                true
            }
            Err(e) => {
                write_error = Some(e);
                false
            }
        });
    if let Some(e) = write_error {
        return Err(format!("cannot write the export: {e}"));
    }
    let flushed = out.flush();
    if let Err(e) = read {
        return Err(format!(
            "the export is incomplete: it stopped after {rows_written} row(s): {e}"
        ));
    }
    flushed.map_err(|e| format!("cannot write the export: {e}"))
}

#[cfg(test)]
mod tests {
    use super::needs_yes;

    #[test]
    fn a_day_or_more_runs_at_once_and_less_needs_yes() {
        assert!(needs_yes(chrono::Duration::zero()));
        assert!(needs_yes(chrono::Duration::hours(23)));
        assert!(!needs_yes(chrono::Duration::hours(24)));
        assert!(!needs_yes(chrono::Duration::days(90)));
    }
}
