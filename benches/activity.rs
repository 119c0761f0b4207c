//! The activity log on a SQLite file (WAL) holding 200,000 rows for 100
//! users: one `log` insert, the recent feed, a deep keyset page, the summary.
//! Run: `cargo bench --bench activity`. Set `BENCH_DATABASE_URL` to a
//! `postgres://` URL of an empty database to measure PostgreSQL instead.

use chrono::Duration;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use diesel::prelude::*;

use shuffify::db::schema::activity_log;
use shuffify::db::{self, DbConnection};
use shuffify::enums::{ActivityType, ActorType};
use shuffify::models::{NewActivity, NewUser};
use shuffify::services::{ActivityCursor, ActivityLogService, ActivityQuery, Paging};

const USERS: i64 = 100;
const ROWS_PER_USER: i64 = 2_000;

fn seed(conn: &mut DbConnection) {
    let now = db::now();
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
        .insert(conn)
        .unwrap();
        let rows: Vec<_> = (0..ROWS_PER_USER)
            .map(|i| {
                (
                    activity_log::user_id.eq(user.id),
                    activity_log::activity_type.eq(if i % 3 == 0 {
                        ActivityType::Shuffle
                    } else {
                        ActivityType::Login
                    }),
                    activity_log::description.eq("seeded row"),
                    activity_log::actor_type.eq(ActorType::User),
                    activity_log::created_at.eq(now - Duration::minutes(i)),
                )
            })
            .collect();
        db::write_transaction(conn, |conn| {
            for chunk in rows.chunks(500) {
                shuffify::db::with_backend!(&mut *conn, |c| diesel::insert_into(
                    activity_log::table
                )
                .values(chunk)
                .execute(c))?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("shuffify-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("bench.db").display()));
    let pool = db::build_pool(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    db::migrations::run_pending(&mut conn).unwrap();
    seed(&mut conn);
    let user = 50;

    let mut group = c.benchmark_group("activity_200k_rows");
    group.bench_function("log_one_row", |b| {
        b.iter(|| {
            black_box(ActivityLogService::log(
                &mut conn,
                NewActivity::new(user, ActivityType::SettingsChange, "bench")
                    .metadata(serde_json::json!({"n": 1})),
            ))
        })
    });
    group.bench_function("recent_20", |b| {
        b.iter(|| black_box(ActivityLogService::get_recent(&mut conn, user, 20, None)))
    });
    let deep = ActivityLogService::get_recent(&mut conn, user, 1500, None);
    let cursor = ActivityCursor::of(deep.last().unwrap());
    group.bench_function("keyset_page_at_1500", |b| {
        let q = ActivityQuery {
            limit: 20,
            paging: Paging::Cursor(Some(cursor)),
            ..Default::default()
        };
        b.iter(|| black_box(ActivityLogService::query(&mut conn, user, &q)))
    });
    group.bench_function("summary_30_days", |b| {
        b.iter(|| {
            black_box(ActivityLogService::get_activity_summary(
                &mut conn, user, 30,
            ))
        })
    });
    group.finish();
    drop(conn);
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
