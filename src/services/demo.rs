//! `serve --demo`: a user `demo` with three playlists of made-up tracks and
//! two schedules, so a newcomer has something to shuffle, and a month of
//! activity behind them, so the dashboard shows what the trail is for.
//! Created once; the password is random and shown only then.
//!
//! The trail ([`write_trail`]) is written in the same go, before the user
//! has any other row: about 130 rows over the 30 days before today, at
//! believable times of day, drawn from a fixed seed (the same trail, in
//! days before today, every time). Sign-ins with a few shuffles (every
//! algorithm), workshop commits, snapshots and a restore, two playlist
//! updates with their `changes`, and the two schedules' runs by the
//! scheduler, with their executions in each schedule's history. Every
//! row is built by the same constructors as the live ones
//! (`models::activity_rows`), at its own time, with no request context
//! (no request wrote it); the snapshots, schedules and executions the rows
//! name exist, and the playlists' dates and versions agree with them.

use chrono::{Duration, NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::db::{self, schema::playlists, write_transaction, DbConnection, Json};
use crate::enums::{ActorType, ExecutionStatus, JobType, ScheduleType, SnapshotType, TriggeredBy};
use crate::error::{AppError, AppResult};
use crate::models::activity_rows::{AlgorithmUsed, Changes, RunOutcome};
use crate::models::job_execution::JobExecution;
use crate::models::playlist::Playlist;
use crate::models::schedule::{NewSchedule, Schedule};
use crate::models::snapshot::{NewSnapshot, Snapshot};
use crate::models::{NewActivity, User};
use crate::services::auth::{new_token, AuthService, Registration};
use crate::services::playlists::{NewPlaylistInput, PlaylistService, TrackInput};
use crate::services::schedule_rules::next_run;
use crate::services::shuffle::service::ShuffleService;
use crate::services::shuffle::{choose, ChoiceFields};
use crate::services::ActivityLogService;

pub const DEMO_USER: &str = "demo";

const ARTISTS: [&str; 6] = [
    "The Quiet Hours",
    "Neon Harbor",
    "Marisol Vega",
    "Copper Lanes",
    "Dust & Daylight",
    "Kite Theory",
];
const ALBUMS: [&str; 5] = [
    "First Light",
    "Night Ferry",
    "Open Roads",
    "Paper Moons",
    "Static Bloom",
];
const WORDS: [&str; 12] = [
    "Lantern",
    "Echo",
    "Harbor",
    "Velvet",
    "Signal",
    "Orbit",
    "Meadow",
    "Ember",
    "Tide",
    "Glass",
    "Northbound",
    "Satellite",
];

fn tracks(playlist: usize, count: usize) -> Vec<TrackInput> {
    (0..count)
        .map(|i| {
            let n = playlist * 100 + i;
            TrackInput {
                uri: format!("demo:track:{n:04}"),
                name: format!(
                    "{} {}",
                    WORDS[n % WORDS.len()],
                    WORDS[(n / 3 + 5) % WORDS.len()]
                ),
                artists: vec![ARTISTS[(n * 7 + playlist) % ARTISTS.len()].to_string()],
                album_name: (i % 7 != 6).then(|| ALBUMS[(n * 3) % ALBUMS.len()].to_string()),
                duration_ms: 150_000 + ((n * 7919) % 120_000) as i32,
                tempo: (i % 9 != 8).then(|| 70.0 + ((n * 37) % 110) as f64),
            }
        })
        .collect()
}

/// Creates the demo user, playlists, schedules and trail unless the user
/// exists; returns the new password when it created them.
pub fn ensure_demo(conn: &mut DbConnection) -> AppResult<Option<String>> {
    ensure_demo_at(conn, db::now())
}

/// [`ensure_demo`] as of `now`: the trail ends the day before.
pub fn ensure_demo_at(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Option<String>> {
    if User::find_by_username(conn, DEMO_USER)?.is_some() {
        return Ok(None);
    }
    let password = new_token()[..16].to_string();
    let user = AuthService::register(
        conn,
        &Registration {
            username: DEMO_USER.into(),
            password: password.clone(),
            display_name: Some("Demo".into()),
            email: None,
        },
    )?;
    let mut made = Vec::new();
    for (i, (name, count, description)) in [
        ("Morning Run", 15, "15 sample tracks"),
        ("Deep Focus", 12, "12 sample tracks"),
        ("Road Trip", 18, ROAD_TRIP_DESCRIPTION),
    ]
    .into_iter()
    .enumerate()
    {
        let input = NewPlaylistInput {
            name: name.into(),
            description: description.into(),
            is_public: false,
            tracks: tracks(i, count),
        };
        made.push(PlaylistService::create_unlogged(conn, &user, &input)?.id);
    }
    write_transaction(conn, |conn| write_trail(conn, &user, &made, now))?;
    Ok(Some(password))
}

/// The seed of the trail's draws.
const TRAIL_SEED: u64 = 20_261_130;
/// Days the trail covers, ending yesterday.
pub const TRAIL_DAYS: i64 = 30;
/// Road Trip's description, as its `playlist_update` row left it.
const ROAD_TRIP_DESCRIPTION: &str = "Songs for the long drive north";
/// What Deep Focus was called before its rename.
const DEEP_FOCUS_FIRST_NAME: &str = "Focus";
/// Every algorithm, so the trail shows each one.
const ALGORITHMS: [&str; 7] = [
    "basic",
    "artist_spacing",
    "balanced",
    "stratified",
    "tempo_gradient",
    "album_sequence",
    "percentage",
];

/// What happens at one moment of the trail; playlists by index.
#[derive(Debug, Clone)]
enum Event {
    Login,
    Logout,
    Create(usize),
    Snapshot(usize, &'static str),
    Restore(usize),
    Shuffle(usize, &'static str),
    Commit(usize),
    Rename,
    Describe,
    ScheduleCreate(usize),
    ScheduleRun(usize),
}

/// One demo schedule: a cron shuffle (UTC) of a playlist.
struct DemoSchedule {
    playlist: usize,
    cron: &'static str,
    algorithm: &'static str,
    /// Days before today it was made.
    made_days_ago: i64,
}

const SCHEDULES: [DemoSchedule; 2] = [
    DemoSchedule {
        playlist: 0,
        cron: "0 6 * * *",
        algorithm: "artist_spacing",
        made_days_ago: 27,
    },
    DemoSchedule {
        playlist: 1,
        cron: "30 13 * * 1,4",
        algorithm: "tempo_gradient",
        made_days_ago: 21,
    },
];

/// Midnight UTC `days` days before `now`'s day.
fn day_start(now: NaiveDateTime, days: i64) -> NaiveDateTime {
    (now.date() - Duration::days(days)).and_time(NaiveTime::MIN)
}

/// A time of day in minutes and a few random seconds and milliseconds.
fn at(rng: &mut ChaCha8Rng, day: NaiveDateTime, minute: i64) -> NaiveDateTime {
    day + Duration::minutes(minute)
        + Duration::seconds(rng.gen_range(0..60))
        + Duration::milliseconds(rng.gen_range(0..1000))
}

/// The trail's events, oldest first: set-up on the first days, the two
/// schedules' runs, and on most days a sign-in with a few actions, in the
/// morning, at lunch or in the evening. Nothing from today on.
fn events(now: NaiveDateTime) -> Vec<(NaiveDateTime, Event)> {
    let mut rng = ChaCha8Rng::seed_from_u64(TRAIL_SEED);
    let mut out = Vec::new();
    let first = day_start(now, TRAIL_DAYS - 1);
    // The first evening: everything set up, then a snapshot of each.
    let mut t = at(&mut rng, first, 19 * 60 + 40);
    out.push((t, Event::Login));
    for playlist in 0..3 {
        t += Duration::minutes(rng.gen_range(2..6));
        out.push((t, Event::Create(playlist)));
    }
    for playlist in 0..3 {
        t += Duration::minutes(rng.gen_range(1..3));
        out.push((t, Event::Snapshot(playlist, "As imported")));
    }
    for (i, schedule) in SCHEDULES.iter().enumerate() {
        let made = at(
            &mut rng,
            day_start(now, schedule.made_days_ago),
            20 * 60 + 10,
        );
        out.push((made, Event::Login));
        out.push((made + Duration::minutes(3), Event::ScheduleCreate(i)));
        let mut run = made;
        while let Ok(next) = next_run(ScheduleType::Cron, schedule.cron, run) {
            if next >= day_start(now, 0) {
                break;
            }
            out.push((
                next + Duration::milliseconds(rng.gen_range(5..900)),
                Event::ScheduleRun(i),
            ));
            run = next;
        }
    }
    let rename_day = TRAIL_DAYS - 8;
    let describe_day = TRAIL_DAYS - 15;
    for days_ago in (1..TRAIL_DAYS - 1).rev() {
        let day = day_start(now, days_ago);
        let planned = days_ago == rename_day || days_ago == describe_day;
        if !planned && rng.gen_bool(0.3) {
            continue;
        }
        let slots = [(7 * 60, 90), (12 * 60 + 10, 60), (18 * 60 + 30, 210)];
        let (start, span) = slots[rng.gen_range(0..slots.len())];
        let minute = start + rng.gen_range(0..span);
        let mut t = at(&mut rng, day, minute);
        out.push((t, Event::Login));
        if days_ago == rename_day {
            t += Duration::minutes(rng.gen_range(1..4));
            out.push((t, Event::Rename));
        }
        if days_ago == describe_day {
            t += Duration::minutes(rng.gen_range(1..4));
            out.push((t, Event::Describe));
        }
        for _ in 0..rng.gen_range(1..=4) {
            t += Duration::minutes(rng.gen_range(2..15));
            let playlist = rng.gen_range(0..3);
            let event = match rng.gen_range(0..20) {
                0..=11 => Event::Shuffle(playlist, ALGORITHMS[rng.gen_range(0..ALGORITHMS.len())]),
                12..=15 => Event::Commit(playlist),
                16..=17 => Event::Snapshot(playlist, "Keeper"),
                _ => Event::Restore(playlist),
            };
            out.push((t, event));
        }
        if rng.gen_bool(0.3) {
            t += Duration::minutes(rng.gen_range(1..10));
            out.push((t, Event::Logout));
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Writes the demo trail for `user`, whose playlists are `made` (Morning
/// Run, Deep Focus, Road Trip), as of `now`: the schedules, snapshots and
/// executions its rows name, then the rows, oldest first. Answers the
/// number of rows written. The user must have no activity yet.
pub fn write_trail(
    conn: &mut DbConnection,
    user: &User,
    made: &[String],
    now: NaiveDateTime,
) -> AppResult<usize> {
    let mut lists = Vec::new();
    for id in made {
        lists.push(Playlist::find(conn, id)?.ok_or(AppError::NotFound)?);
    }
    let mut rows: Vec<(NaiveDateTime, NewActivity)> = Vec::new();
    let mut schedules: Vec<Option<Schedule>> = vec![None, None];
    let mut keepers: Vec<Vec<Snapshot>> = vec![Vec::new(); lists.len()];
    let mut versions = vec![1; lists.len()];
    let mut created = vec![now; lists.len()];
    let mut changed = vec![now; lists.len()];
    let mut renamed = false;
    for (t, event) in events(now) {
        let row = match event {
            Event::Login => NewActivity::by(user, crate::enums::ActivityType::Login, "Logged in")
                .metadata(json!({ "session_id": null })),
            Event::Logout => {
                NewActivity::by(user, crate::enums::ActivityType::Logout, "Logged out")
                    .metadata(json!({ "session_id": null }))
            }
            Event::Create(i) => {
                created[i] = t;
                changed[i] = t;
                let mut born = lists[i].clone();
                if i == 1 {
                    born.name = DEEP_FOCUS_FIRST_NAME.into();
                }
                NewActivity::playlist_create(user, &born, track_count(conn, &born)?)
            }
            Event::Snapshot(i, note) => {
                let playlist = named(&lists[i], i, renamed);
                let uris = Playlist::track_uris(conn, &playlist.id)?;
                let snapshot = NewSnapshot {
                    user_id: user.id,
                    playlist_id: playlist.id.clone(),
                    playlist_name: playlist.name.clone(),
                    track_uris: Json::from_strings(&uris),
                    track_count: uris.len() as i32,
                    snapshot_type: SnapshotType::Manual,
                    trigger_description: Some(note.into()),
                    created_at: t,
                }
                .insert(conn)?;
                let row = NewActivity::snapshot_create(user, &playlist, &snapshot);
                keepers[i].push(snapshot);
                row
            }
            Event::Restore(i) => {
                let Some(snapshot) = keepers[i].last() else {
                    continue;
                };
                versions[i] += 1;
                changed[i] = t;
                let playlist = named(&lists[i], i, renamed);
                NewActivity::snapshot_restore(
                    user,
                    &playlist,
                    snapshot.id,
                    snapshot.track_count as usize,
                    None,
                )
            }
            Event::Shuffle(i, key) => {
                versions[i] += 1;
                changed[i] = t;
                let playlist = named(&lists[i], i, renamed);
                let (algorithm, params) = choose(key, &json!({}), ChoiceFields::SHUFFLE)
                    .map_err(|_| AppError::Internal(format!("no algorithm {key}")))?;
                NewActivity::shuffle(
                    user,
                    &playlist,
                    AlgorithmUsed {
                        key: algorithm.key(),
                        name: algorithm.name(),
                    },
                    ShuffleService::logged_params(&params, None),
                    track_count(conn, &playlist)?,
                    None,
                )
            }
            Event::Commit(i) => {
                versions[i] += 1;
                changed[i] = t;
                let playlist = named(&lists[i], i, renamed);
                let count = track_count(conn, &playlist)?;
                NewActivity::workshop_commit(user, &playlist, count, (0, 0), None)
            }
            Event::Rename => {
                renamed = true;
                changed[1] = t;
                let changes =
                    Changes::new().field("name", DEEP_FOCUS_FIRST_NAME, lists[1].name.as_str());
                let count = track_count(conn, &lists[1])?;
                NewActivity::playlist_update(user, &lists[1], count as i64, &changes)
            }
            Event::Describe => {
                changed[2] = t;
                let changes =
                    Changes::new().field("description", "18 sample tracks", ROAD_TRIP_DESCRIPTION);
                let count = track_count(conn, &lists[2])?;
                NewActivity::playlist_update(user, &lists[2], count as i64, &changes)
            }
            Event::ScheduleCreate(s) => {
                let plan = &SCHEDULES[s];
                let playlist = named(&lists[plan.playlist], plan.playlist, renamed);
                let next =
                    next_run(ScheduleType::Cron, plan.cron, now).map_err(AppError::Internal)?;
                let schedule = NewSchedule {
                    user_id: user.id,
                    job_type: JobType::Shuffle,
                    target_playlist_id: playlist.id.clone(),
                    target_playlist_name: lists[plan.playlist].name.clone(),
                    source_playlist_ids: Json(json!([])),
                    algorithm_name: Some(plan.algorithm.into()),
                    algorithm_params: Json(json!({})),
                    schedule_type: ScheduleType::Cron,
                    schedule_value: plan.cron.into(),
                    is_enabled: true,
                    next_run_at: Some(next),
                    created_at: t,
                    updated_at: t,
                }
                .insert(conn)?;
                let mut as_made = schedule.clone();
                as_made.target_playlist_name = playlist.name.clone();
                let row = NewActivity::schedule_create(user, &as_made);
                schedules[s] = Some(schedule);
                row
            }
            Event::ScheduleRun(s) => {
                let Some(schedule) = schedules[s].clone() else {
                    continue;
                };
                let i = SCHEDULES[s].playlist;
                versions[i] += 1;
                changed[i] = t;
                let playlist = named(&lists[i], i, renamed);
                let total = track_count(conn, &playlist)?;
                let done = t + Duration::milliseconds(40);
                let execution = JobExecution::start(conn, schedule.id, TriggeredBy::Scheduler, t)?;
                JobExecution::finish(
                    conn,
                    execution.id,
                    ExecutionStatus::Success,
                    0,
                    total as i32,
                    None,
                    done,
                )?;
                Schedule::record_run(
                    conn,
                    schedule.id,
                    done,
                    ExecutionStatus::Success.as_ref(),
                    None,
                )?;
                let outcome = RunOutcome {
                    total,
                    playlist_name: playlist.name.clone(),
                    ..RunOutcome::default()
                };
                NewActivity::schedule_run(
                    &schedule,
                    (ActorType::Scheduler, format!("Schedule #{}", schedule.id)),
                    execution.id,
                    None,
                    &outcome,
                )
            }
        };
        rows.push((t, row));
    }
    for (i, playlist) in lists.iter().enumerate() {
        diesel::update(playlists::table.find(&playlist.id))
            .set((
                playlists::version.eq(versions[i]),
                playlists::created_at.eq(created[i]),
                playlists::updated_at.eq(changed[i]),
            ))
            .execute(conn)?;
    }
    Ok(ActivityLogService::write_history(conn, user.id, &rows)?)
}

/// The playlist as the trail names it at that point: Deep Focus went by
/// its first name until the rename.
fn named(playlist: &Playlist, index: usize, renamed: bool) -> Playlist {
    let mut named = playlist.clone();
    if index == 1 && !renamed {
        named.name = DEEP_FOCUS_FIRST_NAME.into();
    }
    named
}

fn track_count(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<usize> {
    Ok(Playlist::track_uris(conn, &playlist.id)?.len())
}

/// The walkthrough printed after the demo data is created.
pub fn walkthrough(base: &str, password: &str) -> String {
    format!(
        r#"Demo user created: username "demo", password "{password}" (shown once).

Open {base}/ in a browser and sign in as demo, or try the API:
  TOKEN=$(curl -s -XPOST {base}/api/auth/login -d '{{"username":"demo","password":"{password}"}}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -s {base}/api/playlists -H "Authorization: Bearer $TOKEN"
  curl -s -XPOST {base}/api/playlists/PLAYLIST_ID/shuffle -H "Authorization: Bearer $TOKEN" -d '{{"algorithm":"artist_spacing"}}'
  curl -s {base}/api/activity -H "Authorization: Bearer $TOKEN"
"#
    )
}
