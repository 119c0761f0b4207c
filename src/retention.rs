//! Activity retention: with `ACTIVITY_RETENTION_DAYS` = N > 0, `serve` prunes
//! rows older than N days at start-up and then once a day. Pruning is not an
//! activity and logs no row; it logs a line with the count.

use std::time::Duration;

use crate::db::{self, Pool};
use crate::services::activity_export::PRUNE_BATCH_SIZE;
use crate::services::ActivityLogService;

/// Deletes rows older than `age`; returns how many.
pub fn prune_older_than(pool: &Pool, age: chrono::Duration) -> Result<u64, String> {
    let cutoff = db::now() - age;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    ActivityLogService::prune_before(&mut conn, cutoff, PRUNE_BATCH_SIZE).map_err(|e| e.to_string())
}

/// Runs forever on the actix runtime; the database work runs off the async
/// threads.
pub async fn run_daily(pool: Pool, days: u32) {
    let age = chrono::Duration::days(i64::from(days));
    let mut ticker = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        ticker.tick().await;
        let pool = pool.clone();
        match actix_web::rt::task::spawn_blocking(move || prune_older_than(&pool, age)).await {
            Ok(Ok(count)) => {
                log::info!("retention: pruned {count} activity rows older than {days} days")
            }
            Ok(Err(err)) => log::warn!("retention: prune failed: {err}"),
            Err(err) => log::warn!("retention: prune task failed: {err}"),
        }
    }
}

/// Parses an age such as `90d` or `12h`.
pub fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 90d or 12h"))?;
    if n < 0 {
        return Err("an age cannot be negative".into());
    }
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        _ => Err(format!("{text:?} is not an age like 90d or 12h")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_age("12h").unwrap(), chrono::Duration::hours(12));
        assert!(parse_age("90").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("-1d").is_err());
    }
}
