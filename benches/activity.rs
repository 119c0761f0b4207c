//! The activity log through the service, beside the same statements run
//! through plain `rusqlite` (the same bundled SQLite: both crates link the
//! one `libsqlite3-sys`), so the ratio is read off one run (issue 10).
//!
//! Workload, on a SQLite file in WAL mode with the service's pragmas on
//! both sides: 100 users; 20,000 single-row `log` calls; then 200,000 rows
//! over 60 days, of which 110,000 belong to one heavy user (so that a keyset
//! page 100,000 rows deep exists) and the rest spread over the others.
//! Operations: `log` one row (outside a request, and inside one: its
//! context fills four more columns), the recent 20, `/since` 24 hours (a page of
//! 100 and its total), the 30-day summary (per type and per day), and a
//! keyset page of 20 at depth 100,000.
//!
//! The baseline prepares each statement once (`prepare_cached`) and decodes
//! every column into Rust values (timestamps into `NaiveDateTime`). After
//! criterion's own report, each pair is timed again interleaved (batches of
//! the two alternating, 15 rounds, medians) and the ratios printed: that
//! table is the one README "Performance" quotes.
//!
//! Run: `cargo bench --bench activity`. With `BENCH_SCALE=1` it runs the
//! scale comparison instead: recent, since and a keyset page of the heavy
//! user on a table of 10,000 rows against one of 1,000,000.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use criterion::{black_box, Criterion};
use rusqlite::{params, Connection};

use shuffify::db::{self, Pool};
use shuffify::enums::ActivityType;
use shuffify::models::{NewActivity, NewUser};
use shuffify::request_context::{self, RequestContext};
use shuffify::services::{ActivityCursor, ActivityLogService, ActivityQuery, Paging, SinceCutoff};

const USERS: i64 = 100;
const LOG_CALLS: i64 = 20_000;
const HEAVY_ROWS: i64 = 110_000;
const SPREAD_ROWS: i64 = 90_000;
const TYPES: [&str; 6] = [
    "shuffle",
    "login",
    "playlist_create",
    "workshop_commit",
    "settings_change",
    "logout",
];

const COLUMNS: &str = "id, user_id, activity_type, description, playlist_id, playlist_name, \
                       actor_type, actor_name, metadata, created_at, \
                       request_id, ip_address, user_agent, session_id";

/// One row as the baseline decodes it: every column, in Rust types.
#[allow(dead_code)]
struct RawRow {
    id: i64,
    user_id: i64,
    activity_type: String,
    description: String,
    playlist_id: Option<String>,
    playlist_name: Option<String>,
    actor_type: String,
    actor_name: Option<String>,
    metadata: Option<String>,
    created_at: NaiveDateTime,
    request_id: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    session_id: Option<i64>,
}

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        activity_type: row.get(2)?,
        description: row.get(3)?,
        playlist_id: row.get(4)?,
        playlist_name: row.get(5)?,
        actor_type: row.get(6)?,
        actor_name: row.get(7)?,
        metadata: row.get(8)?,
        created_at: row.get(9)?,
        request_id: row.get(10)?,
        ip_address: row.get(11)?,
        user_agent: row.get(12)?,
        session_id: row.get(13)?,
    })
}

/// A database file with the schema, `users` users and the heavy and spread
/// rows (by SQL: what months of use leave behind), plus `log_calls` rows
/// written one `log` call at a time through the service.
struct Workload {
    _dir: std::path::PathBuf,
    path: std::path::PathBuf,
    pool: Pool,
    heavy: i64,
    heavy_rows: i64,
    typical: i64,
    /// Whose trail the `log` benchmark grows (not one that is read).
    writer: i64,
}

fn workload(name: &str, heavy_rows: i64, spread_rows: i64, log_calls: i64) -> Workload {
    let dir = std::env::temp_dir().join(format!("shuffify-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.db");
    let pool = db::build_pool(&format!("sqlite://{}", path.display()), 2).unwrap();
    let mut conn = pool.get().unwrap();
    db::migrations::run_pending(&mut conn).unwrap();
    let now = db::now();
    let mut ids = Vec::new();
    for u in 0..USERS {
        let user = NewUser {
            username: &format!("bench{u}"),
            display_name: "bench",
            email: None,
            password_hash: "x",
            is_active: true,
            login_count: 0,
            created_at: now,
            updated_at: now,
        }
        .insert(&mut conn)
        .unwrap();
        ids.push(user.id);
    }
    for i in 0..log_calls {
        ActivityLogService::log(
            &mut conn,
            NewActivity::new(
                ids[(i % USERS) as usize],
                ActivityType::SettingsChange,
                "bench",
            )
            .metadata(serde_json::json!({"n": i})),
        )
        .expect("logged");
    }
    drop(conn);
    let heavy = ids[0];
    let typical = ids[50];
    let raw = baseline_connection(&path);
    // Row g of a stream is g * span / count seconds old: 60 days each.
    let fill = |user_sql: &str, count: i64| {
        let span = 60 * 24 * 3600;
        raw.execute_batch(&format!(
            "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {last})
             INSERT INTO activity_log (user_id, activity_type, description, actor_type,
                                       actor_name, metadata, created_at)
             SELECT {user_sql},
                    CASE n % 6 {cases} END, 'Seeded row ' || n, 'user', 'bench',
                    '{{\"seed\":' || n || ',\"track_count\":100}}',
                    strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (n * {span} / {count}) || ' seconds')
                        || '000'
             FROM g;",
            last = count - 1,
            cases = TYPES
                .iter()
                .enumerate()
                .map(|(i, t)| format!("WHEN {i} THEN '{t}'"))
                .collect::<Vec<_>>()
                .join(" "),
        ))
        .unwrap();
    };
    fill(&heavy.to_string(), heavy_rows);
    fill(
        // Users are numbered in a row: the 99 after the heavy one.
        &format!("{} + n % {}", heavy + 1, USERS - 1),
        spread_rows,
    );
    Workload {
        _dir: dir,
        path,
        pool,
        heavy,
        heavy_rows,
        typical,
        writer: ids[(USERS - 1) as usize],
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_KEEP_DB").is_some() {
            println!("kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// A plain connection with the pragmas the service's pool sets.
fn baseline_connection(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = 5000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = {};",
        db::checkpoint::BACKSTOP_PAGES
    ))
    .unwrap();
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .unwrap();
    conn
}

/// A request's context as a browser behind a proxy leaves it.
fn bench_context() -> RequestContext {
    RequestContext::new(
        "5f0c6e1b9a2d4c7e8b3a1f6d0e9c2b4a".into(),
        Some("203.0.113.5".into()),
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    )
    .with_session(12)
}

fn stored(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The baseline's statements: what the service's diesel code sends.
mod baseline {
    use super::*;

    pub fn log(conn: &Connection, user: i64, context: Option<&RequestContext>) -> RawRow {
        let tx = conn.unchecked_transaction().unwrap();
        let row = tx
            .prepare_cached(&format!(
                "INSERT INTO activity_log (user_id, activity_type, description, playlist_id, \
                 playlist_name, actor_type, actor_name, metadata, created_at, \
                 request_id, ip_address, user_agent, session_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
            ))
            .unwrap()
            .query_row(
                params![
                    user,
                    "settings_change",
                    "bench",
                    None::<String>,
                    None::<String>,
                    "user",
                    None::<String>,
                    serde_json::json!({"n": 1}).to_string(),
                    stored(db::now()),
                    context.map(|c| c.request_id.as_str()),
                    context.and_then(|c| c.ip_address.as_deref()),
                    context.and_then(|c| c.user_agent.as_deref()),
                    context.and_then(|c| c.session_id()),
                ],
                raw_row,
            )
            .unwrap();
        tx.commit().unwrap();
        row
    }

    pub fn recent(conn: &Connection, user: i64) -> Vec<RawRow> {
        conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM activity_log WHERE user_id = ? \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .unwrap()
        .query_map(params![user, 20], raw_row)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    pub fn since(conn: &Connection, user: i64, since: NaiveDateTime) -> (Vec<RawRow>, i64) {
        let mut total = 0;
        let rows = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, (SELECT COUNT(*) FROM activity_log AS c \
                 WHERE c.user_id = ? AND c.created_at >= ?) \
                 FROM activity_log WHERE user_id = ? AND created_at >= ? \
                 ORDER BY created_at DESC, id DESC LIMIT ?"
            ))
            .unwrap()
            .query_map(
                params![user, stored(since), user, stored(since), 101],
                |row| {
                    total = row.get(14)?;
                    raw_row(row)
                },
            )
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (rows, total)
    }

    pub fn summary(
        conn: &Connection,
        user: i64,
        start: NaiveDateTime,
    ) -> Vec<(String, String, i64)> {
        conn.prepare_cached(
            "SELECT substr(created_at, 1, 10), activity_type, COUNT(*) FROM activity_log \
             WHERE user_id = ? AND substr(created_at, 1, 10) >= ? \
             GROUP BY substr(created_at, 1, 10), activity_type",
        )
        .unwrap()
        .query_map(params![user, start.format("%Y-%m-%d").to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    pub fn keyset(conn: &Connection, user: i64, after: ActivityCursor) -> Vec<RawRow> {
        let at = stored(after.created_at);
        conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM activity_log WHERE user_id = ? AND created_at >= ? \
             AND created_at <= ? AND (created_at < ? OR (created_at = ? AND id < ?)) \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .unwrap()
        .query_map(
            params![user, "1970-01-01 00:00:00", at, at, at, after.id, 21],
            raw_row,
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}

/// A pair of closures: the service's way, and the baseline's.
type Pair<'a> = (&'static str, Box<dyn FnMut() + 'a>, Box<dyn FnMut() + 'a>);

fn pairs<'a>(
    service: &'a std::cell::RefCell<db::PooledConnection>,
    raw: &'a Connection,
    w: &Workload,
    scale: bool,
) -> Vec<Pair<'a>> {
    let (heavy, writer) = (w.heavy, w.writer);
    // The scale comparison reads the heavy user's trail, whose size grows
    // with the table, with the same page sizes on both tables: `/since`
    // from the 100th newest row. Otherwise a typical user, 24 hours back.
    let typical = if scale { heavy } else { w.typical };
    let day_ago = if scale {
        let mut conn = service.borrow_mut();
        let rows = ActivityLogService::get_recent(&mut conn, heavy, 100, None);
        rows.last().unwrap().created_at
    } else {
        db::now() - chrono::Duration::hours(24)
    };
    let with_log = !scale;
    let start = ActivityLogService::summary_start(30);
    let deep = {
        let mut conn = service.borrow_mut();
        let rows = ActivityLogService::query(
            &mut conn,
            heavy,
            &ActivityQuery {
                limit: 1000,
                ..Default::default()
            },
        );
        // Walk pages of 1,000 to depth 100,000, or halfway down a shorter
        // trail.
        let pages = (100_000.min(w.heavy_rows / 2) / 1000).max(1);
        let mut cursor = ActivityCursor::of(rows.items().last().unwrap());
        for _ in 1..pages {
            let page = ActivityLogService::query(
                &mut conn,
                heavy,
                &ActivityQuery {
                    limit: 1000,
                    paging: Paging::Cursor(Some(cursor)),
                    ..Default::default()
                },
            );
            match page.items().last() {
                Some(last) => cursor = ActivityCursor::of(last),
                None => break,
            }
        }
        cursor
    };
    let conn = |c: &'a std::cell::RefCell<db::PooledConnection>| move || c.borrow_mut();
    let svc = conn(service);
    let mut list: Vec<Pair<'a>> = Vec::new();
    if with_log {
        list.push((
            "log one row",
            Box::new(move || {
                let mut c = svc();
                black_box(ActivityLogService::log(
                    &mut c,
                    NewActivity::new(writer, ActivityType::SettingsChange, "bench")
                        .metadata(serde_json::json!({"n": 1})),
                ));
            }),
            Box::new(move || {
                black_box(baseline::log(raw, writer, None));
            }),
        ));
        // The same row written while serving a request: its context (as
        // `db::run` installs it on the closure's thread) fills four more
        // columns.
        let context = std::sync::Arc::new(bench_context());
        let theirs = context.clone();
        list.push((
            "log one row in a request",
            Box::new(move || {
                let _entered = request_context::enter(Some(context.clone()));
                let mut c = svc();
                black_box(ActivityLogService::log(
                    &mut c,
                    NewActivity::new(writer, ActivityType::SettingsChange, "bench")
                        .metadata(serde_json::json!({"n": 1})),
                ));
            }),
            Box::new(move || {
                black_box(baseline::log(raw, writer, Some(&theirs)));
            }),
        ));
    }
    list.push((
        "recent 20",
        Box::new(move || {
            let mut c = svc();
            black_box(ActivityLogService::get_recent(&mut c, typical, 20, None));
        }),
        Box::new(move || {
            black_box(baseline::recent(raw, typical));
        }),
    ));
    list.push((
        if scale {
            "since (page of 100 + total)"
        } else {
            "since 24 h (page of 100 + total)"
        },
        Box::new(move || {
            let mut c = svc();
            black_box(
                ActivityLogService::since_page(
                    &mut c,
                    typical,
                    SinceCutoff::At(day_ago),
                    100,
                    None,
                )
                .unwrap(),
            );
        }),
        Box::new(move || {
            black_box(baseline::since(raw, typical, day_ago));
        }),
    ));
    if with_log {
        list.push((
            "summary 30 days",
            Box::new(move || {
                let mut c = svc();
                black_box(ActivityLogService::summary_counts(&mut c, typical, 30));
            }),
            Box::new(move || {
                black_box(baseline::summary(raw, typical, start));
            }),
        ));
    }
    list.push((
        "keyset page at depth 100,000",
        Box::new(move || {
            let mut c = svc();
            black_box(ActivityLogService::query(
                &mut c,
                heavy,
                &ActivityQuery {
                    limit: 20,
                    paging: Paging::Cursor(Some(deep)),
                    ..Default::default()
                },
            ));
        }),
        Box::new(move || {
            black_box(baseline::keyset(raw, heavy, deep));
        }),
    ));
    list
}

/// Median time per call of `f`, over `rounds` batches of `batch` calls.
fn per_call(f: &mut dyn FnMut(), batch: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..batch {
        f();
    }
    started.elapsed() / batch
}

/// Each pair timed in alternating batches; the medians' ratio.
fn interleaved(pairs: &mut [Pair<'_>]) -> Vec<(&'static str, Duration, Duration)> {
    pairs
        .iter_mut()
        .map(|(name, ours, theirs)| {
            for _ in 0..50 {
                ours();
                theirs();
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..15 {
                a.push(per_call(ours.as_mut(), 100));
                b.push(per_call(theirs.as_mut(), 100));
            }
            a.sort();
            b.sort();
            (*name, a[a.len() / 2], b[b.len() / 2])
        })
        .collect()
}

fn print_ratios(title: &str, rows: &[(&'static str, Duration, Duration)]) {
    println!("\n{title}\n");
    println!("| operation | shuffify | plain rusqlite | ratio |");
    println!("|---|---|---|---|");
    for (name, ours, theirs) in rows {
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.2} × |",
            ours.as_secs_f64() * 1e6,
            theirs.as_secs_f64() * 1e6,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}

/// The plans of the baseline's statements, with bound parameters and the
/// planner stability guarantee on (as the service runs them).
fn print_plans(raw: &Connection, user: i64) {
    let start = stored(ActivityLogService::summary_start(30));
    for sql in [
        "SELECT substr(created_at, 1, 10), activity_type, COUNT(*) FROM activity_log \
         WHERE user_id = ?1 AND substr(created_at, 1, 10) >= substr(?2, 1, 10) \
         GROUP BY substr(created_at, 1, 10), activity_type",
        "SELECT id, (SELECT COUNT(*) FROM activity_log AS c WHERE c.user_id = ?1 \
         AND c.created_at >= ?2) FROM activity_log WHERE user_id = ?1 AND created_at >= ?2 \
         ORDER BY created_at DESC, id DESC LIMIT 101",
    ] {
        let mut stmt = raw.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params![user, start], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        println!("plan: {}", plan.join(" / "));
    }
    let count: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM activity_log WHERE user_id = ?",
            [user],
            |r| r.get(0),
        )
        .unwrap();
    println!("user {user} has {count} rows");
}

fn main() {
    if std::env::var_os("BENCH_SCALE").is_some() {
        return scale();
    }
    let w = workload("main", HEAVY_ROWS, SPREAD_ROWS, LOG_CALLS);
    let service = std::cell::RefCell::new(w.pool.get().unwrap());
    let raw = baseline_connection(&w.path);
    print_plans(&raw, w.typical);
    let mut list = pairs(&service, &raw, &w, false);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, ours, theirs) in list.iter_mut() {
        let mut group = criterion.benchmark_group(*name);
        group.bench_function("shuffify", |b| b.iter(&mut *ours));
        group.bench_function("rusqlite", |b| b.iter(&mut *theirs));
        group.finish();
    }
    let rows = interleaved(&mut list);
    print_ratios(
        "Interleaved, 200,000 rows (+20,000 logged), medians of 15 batches of 100:",
        &rows,
    );
    drop(list);

    criterion.final_summary();
}

/// The service on 1,000,000 rows against 10,000: the heavy user holds 55%
/// of each table; recent 20, `/since` from its 100th newest row, and a
/// keyset page halfway down its trail (at most 100,000 deep).
fn scale() {
    let mut results = Vec::new();
    for (name, rows) in [("10k", 10_000i64), ("1m", 1_000_000)] {
        let w = workload(name, rows * 11 / 20, rows * 9 / 20, 0);
        let service = std::cell::RefCell::new(w.pool.get().unwrap());
        let raw = baseline_connection(&w.path);
        let mut list = pairs(&service, &raw, &w, true);
        results.push(interleaved(&mut list));
    }
    println!("\nScale: the service on 1,000,000 rows against 10,000 rows\n");
    println!("| operation | 10,000 rows | 1,000,000 rows | ratio |");
    println!("|---|---|---|---|");
    for (small, large) in results[0].iter().zip(&results[1]) {
        println!(
            "| {} | {:.1} µs | {:.1} µs | {:.2} × |",
            small.0,
            small.1.as_secs_f64() * 1e6,
            large.1.as_secs_f64() * 1e6,
            large.1.as_secs_f64() / small.1.as_secs_f64()
        );
    }
}
