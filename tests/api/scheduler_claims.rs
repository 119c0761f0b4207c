//! Batch claims: due schedules are claimed as leases, up to 100 a
//! statement, and run on several workers per instance; each due occurrence
//! gets exactly one execution (and one `schedule_run` row) across
//! instances, whether it succeeded, failed or was interrupted, and whether
//! an instance stopped, died before starting its claims, or died during a
//! run. On PostgreSQL when `TEST_DATABASE_URL` is set, else on one SQLite
//! file.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use shuffify::config::Lease;
use shuffify::db::schema::{activity_log, job_executions, schedules};
use shuffify::db::{self, write_transaction, Checkout, DbConnection, Json, Pool};
use shuffify::enums::{ActivityType, ExecutionStatus, JobType, ScheduleType};
use shuffify::models::job_execution::JobExecution;
use shuffify::models::schedule::{NewSchedule, Schedule};
use shuffify::scheduler::{self, Options};
use shuffify::services::job_executor::JobExecutor;
use shuffify::services::playlists::{NewPlaylistInput, PlaylistService, TrackInput};

use crate::helpers::{create_user, TestDb};
use crate::stream_processes::serve_with;

/// A failure bound on waits, never a measurement.
const GUARD: Duration = Duration::from_secs(240);

/// `n` daily shuffle schedules of 5-track playlists over a few users,
/// inserted directly (no per-user cap), next running at `next`.
fn schedules_at(conn: &mut DbConnection, n: usize, next: NaiveDateTime) -> Vec<i64> {
    let users: Vec<_> = (0..n.div_ceil(50))
        .map(|u| {
            let id = create_user(conn, &format!("batch{u}"));
            shuffify::models::User::find(conn, id).unwrap().unwrap()
        })
        .collect();
    (0..n)
        .map(|i| {
            let user = &users[i / 50];
            let input = NewPlaylistInput {
                name: format!("Batch {i}"),
                description: String::new(),
                is_public: false,
                tracks: (0..5)
                    .map(|t| TrackInput {
                        uri: format!("batch:{t}"),
                        name: format!("t{t}"),
                        artists: vec![],
                        album_name: None,
                        duration_ms: 0,
                        tempo: None,
                    })
                    .collect(),
            };
            let playlist = PlaylistService::create_unlogged(conn, user, &input).unwrap();
            let now = db::now();
            NewSchedule {
                user_id: user.id,
                job_type: JobType::Shuffle,
                target_playlist_id: playlist.id,
                target_playlist_name: input.name.clone(),
                source_playlist_ids: Json(json!([])),
                algorithm_name: Some("basic".into()),
                algorithm_params: Json(json!({})),
                schedule_type: ScheduleType::Interval,
                schedule_value: "daily".into(),
                is_enabled: true,
                next_run_at: Some(next),
                created_at: now,
                updated_at: now,
            }
            .insert(conn)
            .unwrap()
            .id
        })
        .collect()
}

fn make_all_due(conn: &mut DbConnection) -> NaiveDateTime {
    let now = db::now();
    diesel::update(schedules::table)
        .set(schedules::next_run_at.eq(Some(now - chrono::Duration::minutes(1))))
        .execute(conn)
        .unwrap();
    now
}

/// Executions per schedule, by status.
fn executions(conn: &mut DbConnection) -> Vec<(i64, ExecutionStatus, Option<String>)> {
    job_executions::table
        .select((
            job_executions::schedule_id,
            job_executions::status,
            job_executions::error_message,
        ))
        .load(conn)
        .unwrap()
}

/// `schedule_run` rows per schedule id.
fn run_rows(conn: &mut DbConnection) -> HashMap<i64, usize> {
    let metadata: Vec<Option<Json>> = activity_log::table
        .filter(activity_log::activity_type.eq(ActivityType::ScheduleRun))
        .select(activity_log::metadata)
        .load(conn)
        .unwrap();
    let mut rows = HashMap::new();
    for m in metadata {
        let id = m.and_then(|m| m.0["schedule_id"].as_i64()).unwrap();
        *rows.entry(id).or_default() += 1;
    }
    rows
}

fn claimed(conn: &mut DbConnection) -> i64 {
    schedules::table
        .filter(schedules::claimed_by.is_not_null())
        .count()
        .get_result(conn)
        .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every schedule of `ids` ran exactly once (one execution, one
/// `schedule_run` row), no run is left `running`, and none is claimed or
/// due any more: nothing can run again before its next time.
fn assert_each_ran_once(conn: &mut DbConnection, ids: &[i64], made_due_at: NaiveDateTime) {
    let mut per_schedule: HashMap<i64, usize> = HashMap::new();
    for (id, status, _) in executions(conn) {
        assert_ne!(status, ExecutionStatus::Running, "schedule {id}");
        *per_schedule.entry(id).or_default() += 1;
    }
    let rows = run_rows(conn);
    let twice: Vec<_> = ids
        .iter()
        .filter(|id| per_schedule.get(id) > Some(&1))
        .collect();
    let missing: Vec<_> = ids
        .iter()
        .filter(|id| !per_schedule.contains_key(id))
        .collect();
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    assert!(missing.is_empty(), "never ran: {missing:?}");
    for id in ids {
        assert_eq!(rows.get(id), Some(&1), "schedule_run rows of schedule {id}");
    }
    assert_eq!(claimed(conn), 0, "no claim is left");
    let still_due: i64 = schedules::table
        .filter(schedules::next_run_at.le(made_due_at))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(still_due, 0, "every schedule moved on to its next time");
}

/// A counter from a `serve` process's `/metrics`.
fn job_runs(port: u16) -> u64 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .lines()
        .filter(|l| l.starts_with("shuffify_job_runs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

const FAST: [(&str, &str); 4] = [
    ("SCHEDULER_ENABLED", "true"),
    ("SCHEDULER_TICK_SECS", "1"),
    ("SCHEDULER_WORKERS", "4"),
    ("SCHEDULER_LEASE_SECS", "10"),
];

#[test]
fn two_serve_processes_run_each_of_500_due_schedules_exactly_once() {
    let db = TestDb::shared_file();
    let later = db::now() + chrono::Duration::days(1);
    let ids = schedules_at(&mut db.conn(), 500, later);
    let a = serve_with(&db.url, &FAST);
    let b = serve_with(&db.url, &FAST);

    // Both are up and looking before anything is due.
    let made_due_at = make_all_due(&mut db.conn());
    wait_for("500 executions finished", GUARD, || {
        let mut conn = db.conn();
        let done: i64 = job_executions::table
            .filter(job_executions::status.ne(ExecutionStatus::Running))
            .count()
            .get_result(&mut conn)
            .unwrap();
        done >= 500 && claimed(&mut conn) == 0
    });

    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
    let all_succeeded = executions(&mut db.conn())
        .iter()
        .all(|(_, status, _)| *status == ExecutionStatus::Success);
    assert!(all_succeeded);
    let (ran_a, ran_b) = (job_runs(a.port), job_runs(b.port));
    assert_eq!(ran_a + ran_b, 500, "runs by instance: {ran_a} + {ran_b}");
}

#[test]
fn a_killed_instance_loses_no_due_schedule_and_a_stopped_one_leaves_no_claim() {
    let db = TestDb::shared_file();
    let later = db::now() + chrono::Duration::days(1);
    let ids = schedules_at(&mut db.conn(), 300, later);
    let one_worker = [
        ("SCHEDULER_ENABLED", "true"),
        ("SCHEDULER_TICK_SECS", "1"),
        ("SCHEDULER_WORKERS", "2"),
        ("SCHEDULER_LEASE_SECS", "10"),
    ];
    let count = |db: &TestDb| -> i64 {
        job_executions::table
            .count()
            .get_result(&mut db.conn())
            .unwrap()
    };

    // A, told to stop (SIGTERM) with work in hand: it finishes its runs,
    // gives back what it had not started, and exits 0.
    let mut a = serve_with(&db.url, &one_worker);
    let made_due_at = make_all_due(&mut db.conn());
    wait_for("A ran something", GUARD, || count(&db) >= 10);
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &a.pid().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    assert!(a.wait_exit(GUARD).success(), "serve exited 0");
    let mut conn = db.conn();
    assert_eq!(claimed(&mut conn), 0, "a stopped instance holds no claim");
    let left_running = executions(&mut conn)
        .iter()
        .filter(|(_, status, _)| *status == ExecutionStatus::Running)
        .count();
    assert_eq!(left_running, 0, "a stopped instance finished its runs");
    drop(conn);

    // B, killed outright with claims and runs in hand.
    let b = serve_with(&db.url, &one_worker);
    let before_b = count(&db);
    wait_for("B ran something", GUARD, || count(&db) >= before_b + 10);
    drop(b); // SIGKILL

    // C finishes: B's unstarted claims run once when they run out, and
    // B's started runs are marked interrupted, not run again.
    let _c = serve_with(&db.url, &one_worker);
    wait_for("every schedule ran", GUARD, || {
        let mut conn = db.conn();
        let done: i64 = job_executions::table
            .filter(job_executions::status.ne(ExecutionStatus::Running))
            .select(job_executions::schedule_id)
            .distinct()
            .count()
            .get_result(&mut conn)
            .unwrap();
        done >= 300 && claimed(&mut conn) == 0
    });
    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
}

/// A scheduler instance of its own: an executor with `lease`, and an id.
fn instance(pool: &Pool, lease: Lease) -> (JobExecutor, String) {
    (
        JobExecutor::new(pool.clone(), lease),
        scheduler::instance_id(),
    )
}

fn claim(pool: &Pool, instance: &str, lease: Duration) -> Vec<i64> {
    let mut conn = pool.get().unwrap();
    write_transaction(&mut conn, |conn| {
        let now = db::now();
        let until = now + chrono::Duration::from_std(lease).unwrap();
        Schedule::claim_due(conn, instance, now, until, 100)
    })
    .unwrap()
}

/// One tick of `executor`'s instance over `pool`.
fn tick(pool: &Pool, executor: &JobExecutor) -> usize {
    scheduler::tick(
        &mut Checkout::new(pool.clone()),
        executor,
        &std::sync::atomic::AtomicBool::new(false),
    )
}

#[test]
fn a_claim_that_runs_out_before_its_run_started_is_run_once_by_another_instance() {
    let db = TestDb::shared_file();
    let made_due_at = db::now();
    let ids = schedules_at(
        &mut db.conn(),
        3,
        made_due_at - chrono::Duration::minutes(1),
    );
    let (a, a_id) = instance(&db.pool, Lease::default());
    let (b, b_id) = instance(&db.pool, Lease::default());
    let late = |id: i64| {
        a.run_claimed(&mut Checkout::new(db.pool.clone()), id, &a_id)
            .unwrap()
    };

    // A claims all three, then stops before starting any (it died, or
    // stalled).
    let mut taken = claim(&db.pool, &a_id, a.lease().expires_after);
    taken.sort_unstable();
    assert_eq!(taken, ids);
    // While A's claims are live, B runs none of them.
    assert_eq!(tick(&db.pool, &b), 0);
    assert_eq!(executions(&mut db.conn()).len(), 0);

    // A's lease runs out; B claims them.
    diesel::update(schedules::table)
        .set(schedules::claimed_until.eq(Some(db::now() - chrono::Duration::seconds(1))))
        .execute(&mut db.conn())
        .unwrap();
    let mut retaken = claim(&db.pool, &b_id, b.lease().expires_after);
    retaken.sort_unstable();
    assert_eq!(retaken, ids);

    // A comes back to its old claims before B started them: they are B's
    // now, A runs nothing; then B runs each once.
    for id in &ids {
        assert!(late(*id).is_none(), "A ran schedule {id} on a lost claim");
    }
    for id in &ids {
        let ran = b.run_claimed(&mut Checkout::new(db.pool.clone()), *id, &b_id);
        assert!(ran.unwrap().is_some(), "B runs schedule {id}");
    }
    // And after: nothing to run, for A or anyone.
    for id in &ids {
        assert!(late(*id).is_none(), "schedule {id} ran twice");
    }
    assert_eq!(tick(&db.pool, &b), 0, "nothing is due any more");
    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
}

#[test]
fn a_started_run_whose_instance_died_is_interrupted_and_not_run_again_before_its_next_time() {
    let db = TestDb::shared_file();
    let made_due_at = db::now();
    let ids = schedules_at(
        &mut db.conn(),
        1,
        made_due_at - chrono::Duration::minutes(1),
    );
    let (a, a_id) = instance(&db.pool, Lease::default());
    // B takes a run for dead once its heartbeat is 200 ms old, so the test
    // need not wait a minute.
    let (b, _) = instance(&db.pool, Lease::expiring_after(Duration::from_millis(200)));
    let (patient, _) = instance(&db.pool, Lease::default());

    assert_eq!(claim(&db.pool, &a_id, a.lease().expires_after), ids);
    let begun = a
        .begin_claimed(&mut Checkout::new(db.pool.clone()), ids[0], &a_id)
        .unwrap()
        .expect("A starts its run");
    let execution = begun.execution().unwrap().clone();
    assert_eq!(execution.status, ExecutionStatus::Running);
    drop(begun); // A dies: no heartbeat, no last transaction.

    // While the run's lease is live, nobody runs the schedule again.
    assert_eq!(tick(&db.pool, &patient), 0);
    // Once it is not, the run is marked interrupted; the schedule is not
    // run again: it moved on to its next time.
    wait_for("recovery marked A's run", GUARD, || {
        b.recover(&mut db.conn()).unwrap() == 1
    });
    assert_eq!(tick(&db.pool, &b), 0);
    assert_eq!(tick(&db.pool, &patient), 0);

    let history = JobExecution::history(&mut db.conn(), ids[0], 5).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, execution.id);
    assert_eq!(history[0].error_message.as_deref(), Some("interrupted"));
    let schedule = Schedule::find(&mut db.conn(), ids[0]).unwrap().unwrap();
    let next = schedule.next_run_at.unwrap();
    assert!(
        next > made_due_at + chrono::Duration::hours(23),
        "next run {next}"
    );
    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
}

#[test]
fn the_loop_runs_every_due_schedule_once_on_several_workers_claiming_no_more_than_it_can_start() {
    let db = TestDb::shared_file();
    let made_due_at = db::now();
    let ids = schedules_at(
        &mut db.conn(),
        60,
        made_due_at - chrono::Duration::minutes(1),
    );
    let workers = 3;
    let handle = scheduler::spawn_with(
        db.pool.clone(),
        Options {
            tick: Duration::from_millis(200),
            lease: Lease::default(),
            workers,
        },
        None,
    );
    let mut most_claimed = 0;
    wait_for("every schedule ran", GUARD, || {
        let mut conn = db.conn();
        let held: i64 = schedules::table
            .filter(schedules::claimed_by.eq(handle.instance()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        most_claimed = most_claimed.max(held);
        let done: i64 = job_executions::table
            .filter(job_executions::status.ne(ExecutionStatus::Running))
            .count()
            .get_result(&mut conn)
            .unwrap();
        done >= 60 && claimed(&mut conn) == 0
    });
    handle.stop();
    assert!(
        most_claimed <= workers as i64,
        "held {most_claimed} claims with {workers} workers"
    );
    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
}

#[test]
fn a_stopped_loop_gives_back_the_claims_it_had_not_started() {
    let db = TestDb::shared_file();
    let made_due_at = db::now();
    let ids = schedules_at(
        &mut db.conn(),
        30,
        made_due_at - chrono::Duration::minutes(1),
    );
    let options = Options {
        tick: Duration::from_millis(100),
        lease: Lease::default(),
        workers: 2,
    };
    let first = scheduler::spawn_with(db.pool.clone(), options, None);
    wait_for("a first run", GUARD, || {
        !executions(&mut db.conn()).is_empty()
    });
    first.stop();
    // Stopped: no claim is left and no run is half done; what did not run
    // is still due, for another instance to take at once.
    let mut conn = db.conn();
    assert_eq!(claimed(&mut conn), 0);
    let ran = executions(&mut conn);
    assert!(ran
        .iter()
        .all(|(_, status, _)| *status == ExecutionStatus::Success));
    drop(conn);

    let second = scheduler::spawn_with(db.pool.clone(), options, None);
    wait_for("the rest ran", GUARD, || {
        executions(&mut db.conn()).len() >= 30
    });
    second.stop();
    assert_each_ran_once(&mut db.conn(), &ids, made_due_at);
}
