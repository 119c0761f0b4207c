//! `serve --demo` data: the user, playlists and schedules, and the month of
//! activity behind them, written once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::Value;

use shuffify::db::schema::activity_log;
use shuffify::models::User;
use shuffify::services::demo::{ensure_demo, ensure_demo_at, DEMO_USER};
use shuffify::services::playlists::PlaylistService;

use crate::helpers::{spawn_app, TestUser};

/// Every row of the table: (user id, id, created_at), by id.
fn all_rows(conn: &mut shuffify::db::DbConnection) -> Vec<(i64, i64, NaiveDateTime)> {
    activity_log::table
        .select((
            activity_log::user_id,
            activity_log::id,
            activity_log::created_at,
        ))
        .order(activity_log::id.asc())
        .load(conn)
        .unwrap()
}

#[actix_web::test]
async fn demo_data_is_created_once_with_a_month_of_activity() {
    let app = spawn_app().await;
    let password = ensure_demo(&mut app.conn())
        .unwrap()
        .expect("created the first time");
    let written = all_rows(&mut app.conn());
    assert!(ensure_demo(&mut app.conn()).unwrap().is_none(), "not twice");
    assert_eq!(
        all_rows(&mut app.conn()),
        written,
        "a second start writes nothing"
    );

    let user = User::find_by_username(&mut app.conn(), DEMO_USER)
        .unwrap()
        .unwrap();
    let (playlists, total) = PlaylistService::list(&mut app.conn(), user.id, 50, 0).unwrap();
    assert_eq!(total, 3);
    assert!(playlists.iter().all(|p| p.track_count >= 12));

    // 80 to 200 rows, all the demo user's, ids rising with their times,
    // over the 30 days before today.
    assert!(
        (80..=200).contains(&written.len()),
        "{} rows",
        written.len()
    );
    assert!(written.iter().all(|(owner, _, _)| *owner == user.id));
    assert!(
        written.windows(2).all(|w| w[0].2 <= w[1].2),
        "ids follow time"
    );
    let now = shuffify::db::now();
    let today = now.date().and_hms_opt(0, 0, 0).unwrap();
    let (oldest, newest) = (written[0].2, written[written.len() - 1].2);
    assert!(oldest >= today - Duration::days(29), "{oldest}");
    assert!(oldest < today - Duration::days(28), "{oldest}");
    assert!(
        newest < today && newest >= today - Duration::days(2),
        "{newest}"
    );
    let days: BTreeSet<_> = written.iter().map(|(_, _, t)| t.date()).collect();
    assert!(days.len() >= 20, "{} days with activity", days.len());

    // What the demo user sees, signed in: the rows with no request context,
    // by the user and by the scheduler, of several types.
    let login = app.login(DEMO_USER, &password).await;
    assert_eq!(login.status.as_u16(), 200, "{}", login.text);
    let demo = TestUser {
        id: user.id,
        username: DEMO_USER.into(),
        password: password.clone(),
        token: login.body["token"].as_str().unwrap().to_string(),
    };
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/activity?limit=100&cursor={c}"),
            None => "/api/activity?limit=100".to_string(),
        };
        let page = app.as_user(&demo).get(&path).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    // The live login on top, then the whole trail.
    assert_eq!(items.len(), written.len() + 1);
    assert_eq!(items[0]["activity_type"], "login");
    let trail = &items[1..];
    assert!(
        trail.iter().all(|i| i["context"].is_null()),
        "no request wrote them"
    );
    let ids: Vec<i64> = trail.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, by id too"
    );
    let actors: BTreeSet<&str> = trail
        .iter()
        .map(|i| i["actor_type"].as_str().unwrap())
        .collect();
    assert_eq!(actors, BTreeSet::from(["scheduler", "user"]));
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for item in trail {
        *by_type
            .entry(item["activity_type"].as_str().unwrap())
            .or_default() += 1;
    }
    for kind in [
        "login",
        "playlist_create",
        "playlist_update",
        "shuffle",
        "workshop_commit",
        "snapshot_create",
        "schedule_create",
        "schedule_run",
    ] {
        assert!(by_type.contains_key(kind), "{kind} in {by_type:?}");
    }
    assert_eq!(by_type["playlist_create"], 3);
    assert_eq!(by_type["schedule_create"], 2);

    // Rows in the shapes the live ones have.
    let runs: Vec<&Value> = trail
        .iter()
        .filter(|i| i["activity_type"] == "schedule_run")
        .collect();
    assert!(runs.len() >= 20, "{} runs", runs.len());
    for run in &runs {
        assert_eq!(run["actor_type"], "scheduler");
        assert!(run["description"]
            .as_str()
            .unwrap()
            .starts_with("Scheduled shuffle of"));
        assert_eq!(run["metadata"]["status"], "success");
        assert_eq!(run["metadata"]["job_type"], "shuffle");
    }
    let algorithms: BTreeSet<&str> = trail
        .iter()
        .filter(|i| i["activity_type"] == "shuffle")
        .map(|i| i["metadata"]["algorithm"].as_str().unwrap())
        .collect();
    assert!(algorithms.len() >= 4, "{algorithms:?}");
    let updates: Vec<&Value> = trail
        .iter()
        .filter(|i| i["activity_type"] == "playlist_update")
        .collect();
    assert!(updates
        .iter()
        .any(|u| u["metadata"]["changes"]["name"]["from"] == "Focus"
            && u["metadata"]["changes"]["name"]["to"] == "Deep Focus"));

    // The schedules the runs name exist, with their runs in their history.
    let schedules = app.as_user(&demo).get("/api/schedules").await;
    let schedules = schedules.body["items"].as_array().unwrap().clone();
    assert_eq!(schedules.len(), 2);
    let mut history_runs = 0;
    for schedule in &schedules {
        assert_eq!(schedule["last_status"], "success");
        let history = app
            .as_user(&demo)
            .get(&format!(
                "/api/schedules/{}/history?limit=100",
                schedule["id"]
            ))
            .await;
        let executions = history.body["items"].as_array().unwrap();
        assert!(executions.iter().all(|e| e["triggered_by"] == "scheduler"));
        history_runs += executions.len();
    }
    assert_eq!(history_runs, runs.len());

    // The dashboard's summary counts them.
    let summary = app
        .as_user(&demo)
        .get("/api/activity/summary?days=30")
        .await;
    assert_eq!(summary.status.as_u16(), 200, "{}", summary.text);
    assert_eq!(summary.body["total"], written.len() as i64 + 1);
    assert_eq!(
        summary.body["counts"]["schedule_run"],
        runs.len() as i64,
        "{}",
        summary.text
    );
    let per_day = summary.body["per_day"].as_array().unwrap();
    let busy = per_day
        .iter()
        .filter(|d| d["count"].as_i64() > Some(0))
        .count();
    assert!(busy >= 20, "{}", summary.text);
}

#[actix_web::test]
async fn the_trail_is_the_same_for_the_same_day() {
    let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 10)
        .unwrap()
        .and_hms_opt(15, 0, 0)
        .unwrap();
    let mut trails = Vec::new();
    for _ in 0..2 {
        let app = spawn_app().await;
        ensure_demo_at(&mut app.conn(), now).unwrap().unwrap();
        let rows: Vec<(String, String, NaiveDateTime)> = activity_log::table
            .select((
                activity_log::actor_type,
                activity_log::description,
                activity_log::created_at,
            ))
            .order(activity_log::id.asc())
            .load::<(shuffify::enums::ActorType, String, NaiveDateTime)>(&mut app.conn())
            .unwrap()
            .into_iter()
            .map(|(actor, description, at)| (actor.to_string(), description, at))
            .collect();
        trails.push(rows);
    }
    assert_eq!(trails[0], trails[1]);
    let first = trails[0].first().unwrap().2;
    assert_eq!(
        first.date(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 11).unwrap()
    );
}
