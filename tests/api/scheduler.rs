//! The schedule loop: due schedules run as the scheduler, disabled ones do
//! not, `next_run_at` moves on, failures do not stop the loop, two processes
//! never run one due schedule twice, and crashed runs are recovered.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use shuffify::config::Lease;
use shuffify::db::schema::{job_executions, schedules};
use shuffify::db::Pool;
use shuffify::db::{self, Checkout, DbConnection, Json};
use shuffify::enums::{ExecutionStatus, JobType, ScheduleType, TriggeredBy};
use shuffify::models::job_execution::JobExecution;
use shuffify::models::playlist::Playlist;
use shuffify::models::schedule::{NewSchedule, Schedule};
use shuffify::scheduler;
use shuffify::services::job_executor::JobExecutor;
use shuffify::services::playlists::{NewPlaylistInput, PlaylistService, TrackInput};

use crate::helpers::{create_user, rows_of, spawn_app, wait_until, TestDb};

/// One scheduler tick over `pool`'s database, not shutting down.
pub fn tick(pool: &Pool) -> usize {
    let executor = JobExecutor::new(pool.clone(), Lease::default());
    scheduler::tick(
        &mut Checkout::new(pool.clone()),
        &executor,
        &AtomicBool::new(false),
    )
}

fn make_due(conn: &mut DbConnection, id: i64, at: NaiveDateTime) {
    diesel::update(schedules::table.find(id))
        .set(schedules::next_run_at.eq(Some(at)))
        .execute(conn)
        .unwrap();
}

/// A playlist of `n` tracks and a shuffle schedule on it, inserted directly
/// (no per-user limit), due a minute ago.
pub fn due_shuffle(
    conn: &mut DbConnection,
    user_id: i64,
    n: usize,
    kind: ScheduleType,
    value: &str,
) -> Schedule {
    let user = shuffify::models::User::find(conn, user_id)
        .unwrap()
        .unwrap();
    let tracks = (0..n)
        .map(|i| TrackInput {
            uri: format!("due:{i}"),
            name: format!("t{i}"),
            artists: vec![],
            album_name: None,
            duration_ms: 0,
            tempo: None,
        })
        .collect();
    let input = NewPlaylistInput {
        name: "Due".into(),
        description: String::new(),
        is_public: false,
        tracks,
    };
    let playlist = PlaylistService::create_unlogged(conn, &user, &input).unwrap();
    let now = db::now();
    NewSchedule {
        user_id,
        job_type: JobType::Shuffle,
        target_playlist_id: playlist.id,
        target_playlist_name: "Due".into(),
        source_playlist_ids: Json(json!([])),
        algorithm_name: Some("basic".into()),
        algorithm_params: Json(json!({})),
        schedule_type: kind,
        schedule_value: value.into(),
        is_enabled: true,
        next_run_at: Some(now - chrono::Duration::minutes(1)),
        created_at: now,
        updated_at: now,
    }
    .insert(conn)
    .unwrap()
}

#[actix_web::test]
async fn a_due_schedule_runs_as_the_scheduler_and_moves_on() {
    let app = spawn_app().await;
    let user = app.user("sleeper").await;
    let mut conn = app.conn();
    let interval = due_shuffle(&mut conn, user.id, 10, ScheduleType::Interval, "every_6h");
    let cron = due_shuffle(&mut conn, user.id, 10, ScheduleType::Cron, "15 3 * * *");
    let disabled = due_shuffle(&mut conn, user.id, 10, ScheduleType::Interval, "daily");
    diesel::update(schedules::table.find(disabled.id))
        .set(schedules::is_enabled.eq(false))
        .execute(&mut conn)
        .unwrap();

    let before = db::now();
    assert_eq!(tick(&app.db.pool), 2);
    let after = db::now();
    // Nothing more is due now.
    assert_eq!(tick(&app.db.pool), 0);

    let interval = Schedule::find(&mut conn, interval.id).unwrap().unwrap();
    let next = interval.next_run_at.unwrap();
    assert!(
        next >= before + chrono::Duration::hours(6) && next <= after + chrono::Duration::hours(6)
    );
    assert_eq!(interval.last_status.as_deref(), Some("success"));
    let cron = Schedule::find(&mut conn, cron.id).unwrap().unwrap();
    let next = cron.next_run_at.unwrap();
    assert_eq!(next.format("%H:%M:%S%.f").to_string(), "03:15:00");
    assert!(next > after && next <= after + chrono::Duration::days(1));
    assert_eq!(JobExecution::count_for(&mut conn, disabled.id).unwrap(), 0);

    let history = JobExecution::history(&mut conn, interval.id, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].triggered_by, TriggeredBy::Scheduler);
    assert_eq!(history[0].status, ExecutionStatus::Success);
    drop(conn);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["actor_type"] == "scheduler"));
    assert!(runs
        .iter()
        .any(|r| r["actor_name"] == format!("Schedule #{}", interval.id)));
    // A shuffle's row speaks of the shuffle, not of tracks added.
    let interval_row = runs
        .iter()
        .find(|r| r["metadata"]["schedule_id"] == interval.id)
        .unwrap();
    assert_eq!(
        interval_row["description"],
        format!(
            "Scheduled shuffle of \"Due\" (basic), schedule #{}: 10 tracks",
            interval.id
        )
    );
}

#[actix_web::test]
async fn a_failing_job_does_not_stop_the_next_one() {
    let app = spawn_app().await;
    let user = app.user("unlucky").await;
    let mut conn = app.conn();
    let broken = due_shuffle(&mut conn, user.id, 5, ScheduleType::Interval, "daily");
    let fine = due_shuffle(&mut conn, user.id, 5, ScheduleType::Interval, "daily");
    make_due(&mut conn, broken.id, db::now() - chrono::Duration::hours(2));
    Playlist::delete(&mut conn, &broken.target_playlist_id).unwrap();
    assert_eq!(tick(&app.db.pool), 2);
    let broken_run = &JobExecution::history(&mut conn, broken.id, 1).unwrap()[0];
    assert_eq!(broken_run.status, ExecutionStatus::Failed);
    assert!(broken_run
        .error_message
        .as_deref()
        .unwrap()
        .contains("no longer exists"));
    let fine_run = &JobExecution::history(&mut conn, fine.id, 1).unwrap()[0];
    assert_eq!(fine_run.status, ExecutionStatus::Success);
    // The failed schedule still moved on: it is not retried every tick.
    assert!(
        Schedule::find(&mut conn, broken.id)
            .unwrap()
            .unwrap()
            .next_run_at
            .unwrap()
            > db::now()
    );
}

#[actix_web::test]
async fn the_loop_runs_a_due_schedule_within_a_few_ticks() {
    let app = spawn_app().await;
    let user = app.user("looper").await;
    let schedule = due_shuffle(&mut app.conn(), user.id, 8, ScheduleType::Interval, "daily");
    let handle = scheduler::spawn(
        app.db.pool.clone(),
        Duration::from_millis(200),
        Lease::default(),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut runs = 0;
    while Instant::now() < deadline {
        runs = JobExecution::count_for(&mut app.conn(), schedule.id).unwrap();
        if runs > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    handle.stop();
    assert_eq!(runs, 1);
    let history = JobExecution::history(&mut app.conn(), schedule.id, 5).unwrap();
    assert_eq!(history.len(), 1, "ran once, not once per tick");
    assert_eq!(history[0].triggered_by, TriggeredBy::Scheduler);
}

#[test]
fn two_processes_never_run_one_due_schedule_twice() {
    // A real shared database (a WAL file, or PostgreSQL) and two pools, as
    // two server processes would have.
    let db = TestDb::shared_file();
    let mut conn = db.conn();
    let mut ids = Vec::new();
    for u in 0..10 {
        let user = create_user(&mut conn, &format!("racer{u}"));
        for _ in 0..5 {
            ids.push(due_shuffle(&mut conn, user, 4, ScheduleType::Interval, "daily").id);
        }
    }
    drop(conn);
    assert_eq!(ids.len(), 50);
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let pool = db.another_pool(1);
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                // Connected before the race; the tick takes it again.
                drop(pool.get().unwrap());
                barrier.wait();
                tick(&pool)
            })
        })
        .collect();
    let ran: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(
        ran.iter().sum::<usize>(),
        50,
        "each due schedule ran exactly once: {ran:?}"
    );
    let mut conn = db.conn();
    for id in ids {
        assert_eq!(
            JobExecution::count_for(&mut conn, id).unwrap(),
            1,
            "schedule {id}"
        );
    }
    let failed: i64 = job_executions::table
        .filter(job_executions::status.ne(ExecutionStatus::Success))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(failed, 0);
}

/// A `running` execution of `schedule` that started (and last renewed
/// its lease) `age` ago.
fn running_since(
    conn: &mut DbConnection,
    schedule: &Schedule,
    age: chrono::Duration,
) -> JobExecution {
    let at = db::now() - age;
    let execution = JobExecution::start(conn, schedule.id, TriggeredBy::Scheduler, at).unwrap();
    diesel::update(job_executions::table.find(execution.id))
        .set(job_executions::heartbeat_at.eq(Some(at)))
        .execute(conn)
        .unwrap();
    execution
}

#[actix_web::test]
async fn start_up_marks_runs_whose_lease_expired_interrupted_and_leaves_live_ones() {
    let app = spawn_app().await;
    let user = app.user("crashy").await;
    let mut conn = app.conn();
    let crashed = due_shuffle(&mut conn, user.id, 3, ScheduleType::Interval, "daily");
    let alive = due_shuffle(&mut conn, user.id, 3, ScheduleType::Interval, "daily");
    let dead = running_since(&mut conn, &crashed, chrono::Duration::seconds(90));
    let live = running_since(&mut conn, &alive, chrono::Duration::seconds(5));
    drop(conn);

    assert_eq!(
        scheduler::recover_interrupted(&app.db.pool, Lease::default()).unwrap(),
        1
    );

    let mut conn = app.conn();
    let row = &JobExecution::history(&mut conn, crashed.id, 1).unwrap()[0];
    assert_eq!(row.id, dead.id);
    assert_eq!(row.status, ExecutionStatus::Failed);
    assert_eq!(row.error_message.as_deref(), Some("interrupted"));
    assert!(row.completed_at.is_some());
    let schedule = Schedule::find(&mut conn, crashed.id).unwrap().unwrap();
    assert_eq!(schedule.last_status.as_deref(), Some("failed"));
    assert_eq!(schedule.last_error.as_deref(), Some("interrupted"));
    let other = &JobExecution::history(&mut conn, alive.id, 1).unwrap()[0];
    assert_eq!(other.id, live.id);
    assert_eq!(
        other.status,
        ExecutionStatus::Running,
        "a live lease is kept"
    );
    drop(conn);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(
        runs.len(),
        1,
        "one schedule_run row for the interrupted run"
    );
    assert_eq!(runs[0]["metadata"]["execution_id"], dead.id);
    assert_eq!(runs[0]["metadata"]["status"], "failed");
    assert_eq!(runs[0]["metadata"]["error"], "interrupted");
    assert_eq!(runs[0]["metadata"]["snapshot_ids"], json!([]));
    assert_eq!(runs[0]["actor_type"], "scheduler");
}

#[actix_web::test]
async fn every_tick_recovers_expired_leases_and_a_scheduled_run_that_meets_a_live_one_is_recorded()
{
    let app = spawn_app().await;
    let user = app.user("busy").await;
    let mut conn = app.conn();
    let busy = due_shuffle(&mut conn, user.id, 4, ScheduleType::Interval, "daily");
    let stale = due_shuffle(&mut conn, user.id, 4, ScheduleType::Interval, "daily");
    let holder = running_since(&mut conn, &busy, chrono::Duration::seconds(1));
    let dead = running_since(&mut conn, &stale, chrono::Duration::minutes(5));

    // Both are due: `busy` meets a live run, `stale` first loses its dead one.
    assert_eq!(tick(&app.db.pool), 2);

    let history = JobExecution::history(&mut conn, busy.id, 5).unwrap();
    assert_eq!(history.len(), 2);
    let refused = history.iter().find(|e| e.id != holder.id).unwrap();
    assert_eq!(refused.status, ExecutionStatus::Failed);
    assert!(
        refused
            .error_message
            .as_deref()
            .unwrap()
            .contains("already running"),
        "{refused:?}"
    );
    let stale_history = JobExecution::history(&mut conn, stale.id, 5).unwrap();
    let old = stale_history.iter().find(|e| e.id == dead.id).unwrap();
    assert_eq!(old.error_message.as_deref(), Some("interrupted"));
    assert!(stale_history
        .iter()
        .any(|e| e.id != dead.id && e.status == ExecutionStatus::Success));
}

#[actix_web::test]
async fn run_now_refuses_a_live_lease_and_replaces_an_expired_one() {
    let app = spawn_app().await;
    let user = app.user("impatient").await;
    let mut conn = app.conn();
    let schedule = due_shuffle(&mut conn, user.id, 6, ScheduleType::Interval, "daily");
    let live = running_since(&mut conn, &schedule, chrono::Duration::seconds(2));
    drop(conn);
    let path = format!("/api/schedules/{}/run", schedule.id);

    let refused = app.as_user(&user).post_empty(&path).await;
    let error = refused.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("already running"));

    diesel::update(job_executions::table.find(live.id))
        .set(job_executions::heartbeat_at.eq(Some(db::now() - chrono::Duration::minutes(2))))
        .execute(&mut app.conn())
        .unwrap();
    let ran = app.as_user(&user).post_empty(&path).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    assert_eq!(ran.body["status"], "success");
    let old = JobExecution::history(&mut app.conn(), schedule.id, 5)
        .unwrap()
        .into_iter()
        .find(|e| e.id == live.id)
        .unwrap();
    assert_eq!(old.error_message.as_deref(), Some("interrupted"));
}

#[actix_web::test]
async fn a_tick_that_begins_after_shutdown_started_runs_nothing() {
    let app = spawn_app().await;
    let user = app.user("drained").await;
    let mut conn = app.conn();
    let schedule = due_shuffle(&mut conn, user.id, 4, ScheduleType::Interval, "daily");
    let executor = JobExecutor::new(app.db.pool.clone(), Lease::default());

    assert_eq!(
        scheduler::tick(
            &mut Checkout::new(app.db.pool.clone()),
            &executor,
            &AtomicBool::new(true)
        ),
        0
    );

    assert_eq!(JobExecution::count_for(&mut conn, schedule.id).unwrap(), 0);
    let unchanged = Schedule::find(&mut conn, schedule.id).unwrap().unwrap();
    assert_eq!(unchanged.next_run_at, schedule.next_run_at, "not claimed");
}

#[actix_web::test]
async fn a_run_keeps_renewing_its_lease_while_it_holds_it() {
    // A run that began an hour ago, renewed every 20 ms: another instance,
    // which takes a run for dead when its heartbeat is a minute old, leaves
    // it alone while it is renewed, and takes it once renewal stops (for
    // that step, an instance with a lease of 100 ms, so the test need not
    // wait a minute). What decides each step is the heartbeat the table
    // holds; time only bounds how long the test waits for it.
    let app = spawn_app().await;
    let user = app.user("heartbeat").await;
    let mut conn = app.conn();
    let schedule = due_shuffle(&mut conn, user.id, 4, ScheduleType::Interval, "daily");
    drop(conn);
    let lease_of = |expires_after| Lease {
        renew_every: Duration::from_millis(20),
        expires_after,
    };
    let executor = JobExecutor::new(app.db.pool.clone(), lease_of(Duration::from_secs(60)));
    let impatient = JobExecutor::new(app.db.pool.clone(), lease_of(Duration::from_millis(100)));
    let started = db::now() - chrono::Duration::hours(1);
    let execution = JobExecution::start(
        &mut app.conn(),
        schedule.id,
        TriggeredBy::Scheduler,
        started,
    )
    .unwrap();
    let heartbeat_at = || -> NaiveDateTime {
        job_executions::table
            .find(execution.id)
            .select(job_executions::heartbeat_at)
            .first::<Option<NaiveDateTime>>(&mut app.conn())
            .unwrap()
            .expect("a running execution has a heartbeat")
    };
    let heartbeat = executor.keep_alive(execution.id);
    wait_until("the heartbeat moved on", || heartbeat_at() > started).await;
    // Not taken for dead by another instance's recovery: an hour old
    // without renewal, its heartbeat is now recent…
    assert_eq!(executor.recover(&mut app.conn()).unwrap(), 0);
    drop(heartbeat);
    // …but once nobody renews it, it is, once.
    let renewed = heartbeat_at();
    assert!(renewed > started, "the heartbeat moved on");
    wait_until("recovery took the abandoned run", || {
        impatient.recover(&mut app.conn()).unwrap() == 1
    })
    .await;
    assert_eq!(impatient.recover(&mut app.conn()).unwrap(), 0);
    let recovered = JobExecution::history(&mut app.conn(), schedule.id, 5)
        .unwrap()
        .into_iter()
        .find(|e| e.id == execution.id)
        .unwrap();
    assert_eq!(recovered.status, ExecutionStatus::Failed);
    assert_eq!(recovered.error_message.as_deref(), Some("interrupted"));
    assert_eq!(
        heartbeat_at(),
        renewed,
        "no renewal after the heartbeat stopped"
    );
}

#[actix_web::test]
async fn a_scheduled_runs_rows_carry_no_request_context() {
    let app = spawn_app().await;
    let user = app.user("unattended").await;
    let mut conn = app.conn();
    let due = due_shuffle(&mut conn, user.id, 5, ScheduleType::Interval, "daily");
    drop(conn);
    // Requests before and after the run, so contexts are about.
    app.playlist(&user, "Before", crate::helpers::sample_tracks("b", 1))
        .await;
    assert_eq!(tick(&app.db.pool), 1);
    app.playlist(&user, "After", crate::helpers::sample_tracks("a", 1))
        .await;

    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["actor_name"], format!("Schedule #{}", due.id));
    assert!(runs[0].as_object().unwrap().contains_key("context"));
    assert_eq!(runs[0]["context"], serde_json::Value::Null);
    let made = rows_of(&activity, "playlist_create");
    assert!(made.iter().all(|r| r["context"]["request_id"].is_string()));
}
