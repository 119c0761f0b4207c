//! The activity read API over HTTP: listing, recent, since, summary, export,
//! and pruning.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::Value;

use shuffify::db::{self, DbConnection};
use shuffify::enums::{ActivityType, ActorType};
use shuffify::models::NewActivity;
use shuffify::retention::{prune_before, PRUNE_BATCH_SIZE};
use shuffify::services::{ActivityExport, ActivityLogService, ActivityQuery};

use crate::helpers::{insert_activity_at, spawn_app};

fn log(conn: &mut DbConnection, activity: NewActivity) -> i64 {
    ActivityLogService::log(conn, activity)
        .expect("row written")
        .id
}

fn item_ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn listing_filters_alone_and_combined() {
    let app = spawn_app().await;
    let user = app.user("lister").await; // writes one login row
    let mut conn = app.conn();
    let shuffle = log(
        &mut conn,
        NewActivity::new(user.id, ActivityType::Shuffle, "Shuffled Road Trip")
            .playlist("p1", "Road Trip"),
    );
    let run = log(
        &mut conn,
        NewActivity::new(user.id, ActivityType::ScheduleRun, "Ran schedule")
            .playlist("p1", "Road Trip")
            .actor(ActorType::Scheduler, "Schedule #1"),
    );
    let literal = log(
        &mut conn,
        NewActivity::new(
            user.id,
            ActivityType::SettingsChange,
            "Set 100%_off to \"it's\"",
        ),
    );
    let old = insert_activity_at(
        &mut conn,
        user.id,
        ActivityType::Shuffle,
        db::now() - Duration::days(20),
    );
    drop(conn);
    let api = app.as_user(&user);

    let all = api.get("/api/activity").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(item_ids(&all.body).len(), 5);
    assert!(all.body["next_cursor"].is_null());
    let first = &all.body["items"][0];
    for field in [
        "id",
        "activity_type",
        "description",
        "playlist_id",
        "playlist_name",
        "actor_type",
        "actor_name",
        "metadata",
        "created_at",
    ] {
        assert!(first.get(field).is_some(), "item lacks {field}: {first}");
    }
    assert!(first.get("user_id").is_none());

    macro_rules! get {
        ($query:expr) => {
            api.get(&format!("/api/activity?{}", $query)).await
        };
    }
    assert_eq!(item_ids(&get!("types=shuffle").body), vec![shuffle, old]);
    assert_eq!(
        item_ids(&get!("types=shuffle,schedule_run").body),
        vec![run, shuffle, old]
    );
    assert_eq!(item_ids(&get!("actors=scheduler").body), vec![run]);
    assert_eq!(item_ids(&get!("playlist_id=p1").body), vec![run, shuffle]);
    assert_eq!(item_ids(&get!("range=7d").body).len(), 4);
    assert_eq!(item_ids(&get!("range=all").body).len(), 5);
    let since = (Utc::now() - Duration::days(30)).to_rfc3339();
    let until = (Utc::now() - Duration::days(10)).to_rfc3339();
    let window = get!(&format!(
        "since={}&until={}",
        urlencode(&since),
        urlencode(&until)
    ));
    assert_eq!(item_ids(&window.body), vec![old]);
    assert_eq!(item_ids(&get!("q=ROAD%20trip").body), vec![run, shuffle]);
    assert_eq!(item_ids(&get!("q=100%25_").body), vec![literal]);
    assert!(item_ids(&get!("q=1%250").body).is_empty());
    assert_eq!(item_ids(&get!("q=%22it's%22").body), vec![literal]);
    assert_eq!(
        item_ids(&get!("types=shuffle&actors=user&playlist_id=p1&range=24h&q=road").body),
        vec![shuffle]
    );
    // Empty values are absent; an unknown parameter is a 400 naming it.
    assert_eq!(item_ids(&get!("types=&q=").body).len(), 5);
    let unknown = get!("types=&q=&frobnicate=1");
    let error = unknown.error(400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "frobnicate");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[actix_web::test]
async fn listing_rejects_bad_values() {
    let app = spawn_app().await;
    let user = app.user("strict").await;
    let other = app.user("other_one").await;
    let api = app.as_user(&user);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("types=shuffle,dance", "types"),
        ("actors=robot", "actors"),
        ("range=1y", "range"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("page=0", "page"),
        ("page=1&cursor=abc", "page"),
    ] {
        let res = api.get(&format!("/api/activity?{query}")).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{query}: {}", res.text);
    }
    // A cursor made for another user is refused, not followed.
    for _ in 0..3 {
        ActivityLogService::log(
            &mut app.conn(),
            NewActivity::new(other.id, ActivityType::Shuffle, "b"),
        );
    }
    let page = app.as_user(&other).get("/api/activity?limit=1").await;
    let foreign = page.body["next_cursor"].as_str().unwrap().to_string();
    api.get(&format!("/api/activity?cursor={foreign}"))
        .await
        .error(400, "validation_failed");
    // A tampered cursor too.
    let mut tampered = foreign.clone();
    tampered.replace_range(3..4, if &foreign[3..4] == "A" { "B" } else { "A" });
    app.as_user(&other)
        .get(&format!("/api/activity?cursor={tampered}"))
        .await
        .error(400, "validation_failed");
    app.get("/api/activity", None)
        .await
        .error(401, "unauthorized");
}

#[actix_web::test]
async fn keyset_walk_of_250_rows_in_pages_of_20() {
    let app = spawn_app().await;
    let user = app.user("walker").await;
    let mut conn = app.conn();
    let base = db::now() - Duration::hours(5);
    for i in 0..249 {
        insert_activity_at(
            &mut conn,
            user.id,
            ActivityType::Shuffle,
            base + Duration::seconds(i / 4),
        );
    }
    drop(conn);
    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut path = "/api/activity?limit=20".to_string();
    let mut pages = 0;
    loop {
        let res = app.as_user(&user).get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        pages += 1;
        for item in res.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
            times.push(item["created_at"].as_str().unwrap().to_string());
        }
        match res.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/activity?limit=20&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 13);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
    // Newest first: times never increase, and ids fall within a tie.
    for i in 1..seen.len() {
        assert!(times[i - 1] >= times[i]);
        if times[i - 1] == times[i] {
            assert!(seen[i - 1] > seen[i]);
        }
    }
    let offset = app
        .as_user(&user)
        .get("/api/activity?limit=20&page=13")
        .await;
    assert_eq!(offset.body["total"], 250);
    assert_eq!(offset.body["page"], 13);
    assert_eq!(offset.body["limit"], 20);
    assert_eq!(item_ids(&offset.body).len(), 10);
}

#[actix_web::test]
async fn recent_feed() {
    let app = spawn_app().await;
    let user = app.user("feeder").await;
    let mut conn = app.conn();
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            log(
                &mut conn,
                NewActivity::new(user.id, ActivityType::PlaylistCreate, format!("made {i}")),
            )
        })
        .collect();
    drop(conn);
    let res = app.as_user(&user).get("/api/activity/recent?limit=3").await;
    assert_eq!(item_ids(&res.body), vec![ids[4], ids[3], ids[2]]);
    let res = app
        .as_user(&user)
        .get("/api/activity/recent?type=login")
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["items"][0]["activity_type"], "login");
    assert_eq!(
        app.as_user(&user).get("/api/activity/recent").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    app.as_user(&user)
        .get("/api/activity/recent?type=nope")
        .await
        .error(400, "validation_failed");
    app.as_user(&user)
        .get("/api/activity/recent?limit=0")
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn since_a_time_and_since_last_login() {
    let app = spawn_app().await;
    let user = app.user("returner").await;
    // With one session only, last_login means every row.
    let res = app
        .as_user(&user)
        .get("/api/activity/since?since=last_login")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["since"], Value::Null);
    assert_eq!(res.body["next_cursor"], Value::Null);

    let mut conn = app.conn();
    let before = insert_activity_at(
        &mut conn,
        user.id,
        ActivityType::Shuffle,
        db::now() - Duration::hours(3),
    );
    drop(conn);
    // Second login: "since last login" starts at the first session.
    let second = app.login("returner", &user.password).await;
    let token = second.body["token"].as_str().unwrap();
    let res = app
        .get("/api/activity/since?since=last_login", Some(token))
        .await;
    let types: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["activity_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["login", "login"]);
    assert!(!item_ids(&res.body).contains(&before));
    // The cutoff is named: the first session's start, to the microsecond.
    let rows = app.activity(&user).await;
    let first_login = rows
        .iter()
        .rev()
        .find(|r| r["activity_type"] == "login")
        .unwrap()["created_at"]
        .clone();
    assert!(res.body["since"].as_str().unwrap() <= first_login.as_str().unwrap());
    assert_eq!(
        res.body["since"].as_str().unwrap().len(),
        27,
        "{}",
        res.text
    );

    let cutoff = (Utc::now() - Duration::hours(4)).to_rfc3339();
    let res = app
        .get(
            &format!("/api/activity/since?since={}", urlencode(&cutoff)),
            Some(token),
        )
        .await;
    assert!(item_ids(&res.body).contains(&before));
    assert_eq!(item_ids(&res.body).len(), 3);
    assert_eq!(
        res.body["since"],
        shuffify::timestamp::format(&shuffify::timestamp::parse(&cutoff).unwrap())
    );
    app.get("/api/activity/since", Some(token))
        .await
        .error(400, "validation_failed");
    app.get("/api/activity/since?since=soon", Some(token))
        .await
        .error(400, "validation_failed");
}

/// `since` pages like the listing: every row once, newest first, the same
/// cutoff named on every page (docs/api.md, "Reading your trail").
#[actix_web::test]
async fn since_pages_through_every_row_once() {
    let app = spawn_app().await;
    let user = app.user("pager").await;
    let mut conn = app.conn();
    let start = db::now() - Duration::hours(1);
    for i in 0..249 {
        insert_activity_at(
            &mut conn,
            user.id,
            ActivityType::Shuffle,
            start - Duration::seconds(i),
        );
    }
    // Older than the cutoff: never listed.
    let too_old = insert_activity_at(
        &mut conn,
        user.id,
        ActivityType::Shuffle,
        start - Duration::days(2),
    );
    drop(conn);
    let api = app.as_user(&user);
    let since = urlencode(&(Utc::now() - Duration::days(1)).to_rfc3339());

    let mut seen: Vec<i64> = Vec::new();
    let mut cutoffs = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/activity/since?since={since}&limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = api.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        pages += 1;
        seen.extend(item_ids(&res.body));
        cutoffs.insert(res.body["since"].as_str().unwrap().to_string());
        match res.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    // 249 rows and the login, in 3 pages: none twice, none missing.
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
    assert!(!seen.contains(&too_old));
    assert_eq!(cutoffs.len(), 1, "{cutoffs:?}");
    // Newest first, as the listing orders them.
    let listing: Vec<i64> = app.activity(&user).await[..100]
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen[..100], listing[..]);

    // The default page is 100 rows; cursors are the listing's.
    let first = api.get(&format!("/api/activity/since?since={since}")).await;
    assert_eq!(item_ids(&first.body).len(), 100);
    let shared = api.get("/api/activity?limit=5").await;
    let cursor = shared.body["next_cursor"].as_str().unwrap();
    let after = api
        .get(&format!(
            "/api/activity/since?since={since}&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(item_ids(&after.body), seen[5..7]);

    for bad in ["limit=0", "limit=501", "limit=ten", "cursor=junk"] {
        let res = api
            .get(&format!("/api/activity/since?since={since}&{bad}"))
            .await;
        res.error(400, "validation_failed");
    }
    // A cursor made for another user is refused.
    let other = app.user("other").await;
    let foreign = app
        .as_user(&other)
        .get(&format!(
            "/api/activity/since?since={since}&cursor={cursor}"
        ))
        .await;
    foreign.error(400, "validation_failed");
}

/// `last_login` names the same cutoff on every page, even after a newer
/// login: it resolves against the session of the calling token.
#[actix_web::test]
async fn since_last_login_keeps_its_cutoff_across_pages() {
    let app = spawn_app().await;
    let user = app.user("keeper").await;
    let second = app.login("keeper", &user.password).await;
    let token = second.body["token"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    for _ in 0..3 {
        log(
            &mut conn,
            NewActivity::new(user.id, ActivityType::Shuffle, "after"),
        );
    }
    drop(conn);
    let first = app
        .get("/api/activity/since?since=last_login&limit=2", Some(&token))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    // A third login in between changes nothing for this token.
    app.login("keeper", &user.password).await;
    let next = app
        .get(
            &format!("/api/activity/since?since=last_login&limit=2&cursor={cursor}"),
            Some(&token),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
    assert!(first.body["since"].is_string());
    assert_eq!(first.body["since"], next.body["since"]);
    // 3 shuffles and 2 logins since the first session began; the third
    // login's row is newer than the cursor and so not on page 2.
    assert_eq!(item_ids(&next.body).len(), 2);
    assert_eq!(first.body["total"], 5);
}

#[actix_web::test]
async fn summary_counts_per_type_and_per_day() {
    let app = spawn_app().await;
    let user = app.user("summed").await;
    let mut conn = app.conn();
    let now = db::now();
    for _ in 0..2 {
        insert_activity_at(
            &mut conn,
            user.id,
            ActivityType::Shuffle,
            now - Duration::days(3),
        );
    }
    insert_activity_at(
        &mut conn,
        user.id,
        ActivityType::Shuffle,
        now - Duration::days(8),
    );
    drop(conn);
    let res = app.as_user(&user).get("/api/activity/summary?days=7").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["days"], 7);
    assert_eq!(
        res.body["counts"],
        serde_json::json!({"login": 1, "shuffle": 2})
    );
    assert_eq!(res.body["total"], 3);
    let per_day = res.body["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 7);
    let today = Utc::now().date_naive();
    assert_eq!(per_day[6]["date"], today.to_string());
    assert_eq!(per_day[6]["count"], 1);
    assert_eq!(per_day[3]["date"], (today - Duration::days(3)).to_string());
    assert_eq!(per_day[3]["count"], 2);
    let sum: i64 = per_day.iter().map(|d| d["count"].as_i64().unwrap()).sum();
    assert_eq!(sum, 3);
    let default = app.as_user(&user).get("/api/activity/summary").await;
    assert_eq!(default.body["days"], 30);
    assert_eq!(default.body["total"], 4);
    for bad in ["0", "366", "x"] {
        app.as_user(&user)
            .get(&format!("/api/activity/summary?days={bad}"))
            .await
            .error(400, "validation_failed");
    }
}

#[actix_web::test]
async fn export_matches_the_listing_in_both_formats() {
    let app = spawn_app().await;
    let user = app.user("exporter").await;
    let mut conn = app.conn();
    let tricky = "Renamed to \"A, B\"\nand more";
    log(
        &mut conn,
        NewActivity::new(user.id, ActivityType::PlaylistUpdate, tricky).playlist("p9", "A, B"),
    );
    for i in 0..30 {
        log(
            &mut conn,
            NewActivity::new(user.id, ActivityType::Shuffle, format!("shuffle {i}"))
                .metadata(serde_json::json!({"n": i})),
        );
    }
    drop(conn);
    let api = app.as_user(&user);
    let total = api.get("/api/activity?page=1").await.body["total"]
        .as_i64()
        .unwrap();
    assert_eq!(total, 32);

    let ndjson = api.get("/api/activity/export?format=ndjson").await;
    assert_eq!(ndjson.status, StatusCode::OK);
    assert_eq!(ndjson.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = ndjson
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, total);
    assert_eq!(lines.last().unwrap()["activity_type"], "login");

    let csv_res = api.get("/api/activity/export?format=csv").await;
    assert!(csv_res
        .header("content-type")
        .unwrap()
        .starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(csv_res.text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(2), Some("description"));
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len() as i64, total);
    let renamed = records.iter().find(|r| &r[1] == "playlist_update").unwrap();
    assert_eq!(&renamed[2], tricky);
    assert_eq!(&renamed[4], "A, B");

    // The listing's filters apply.
    let filtered = api.get("/api/activity/export?types=login").await;
    assert_eq!(filtered.text.lines().count(), 1);
    api.get("/api/activity/export?format=xml")
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn export_reads_in_batches() {
    let app = spawn_app().await;
    let user = app.user("batched").await;
    let mut conn = app.conn();
    for i in 0..6 {
        log(
            &mut conn,
            NewActivity::new(user.id, ActivityType::Shuffle, format!("{i}")),
        );
    }
    drop(conn);
    let mut batches = Vec::new();
    ActivityExport::for_each_batch(
        &app.db.pool,
        user.id,
        &ActivityQuery::default(),
        3,
        |rows| {
            batches.push(rows.len());
            true
        },
    )
    .unwrap();
    // 7 rows (6 + the login) in batches of 3.
    assert_eq!(batches, vec![3, 3, 1]);
}

#[actix_web::test]
async fn another_users_rows_never_show() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut conn = app.conn();
    for i in 0..5 {
        log(
            &mut conn,
            NewActivity::new(alice.id, ActivityType::Shuffle, format!("alice secret {i}"))
                .playlist("pa", "Alice's"),
        );
    }
    drop(conn);
    let bob_api = app.as_user(&bob);
    for path in [
        "/api/activity",
        "/api/activity?types=shuffle",
        "/api/activity?playlist_id=pa",
        "/api/activity?q=secret",
        "/api/activity?page=1",
        "/api/activity/recent?type=shuffle",
        "/api/activity/since?since=2000-01-01T00:00:00Z",
        "/api/activity/export",
    ] {
        let res = bob_api.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(!res.text.contains("alice"), "{path} leaked: {}", res.text);
    }
    let summary = bob_api.get("/api/activity/summary").await;
    assert_eq!(summary.body["counts"], serde_json::json!({"login": 1}));
}

#[actix_web::test]
async fn prune_removes_exactly_the_older_rows() {
    let app = spawn_app().await;
    let user = app.user("pruned").await;
    let mut conn = app.conn();
    let cutoff = db::now() - Duration::days(90);
    let mut old = Vec::new();
    for i in 0..5 {
        old.push(insert_activity_at(
            &mut conn,
            user.id,
            ActivityType::Shuffle,
            cutoff - Duration::days(i + 1),
        ));
    }
    old.push(insert_activity_at(
        &mut conn,
        user.id,
        ActivityType::Shuffle,
        cutoff - Duration::microseconds(1),
    ));
    let kept_at_cutoff = insert_activity_at(&mut conn, user.id, ActivityType::Shuffle, cutoff);
    let deleted = prune_before(&mut conn, cutoff, 2).unwrap();
    assert_eq!(deleted, 6);
    let left: Vec<i64> = ActivityLogService::get_recent(&mut conn, user.id, 100, None)
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left.len(), 2, "the cutoff row and the login remain");
    assert!(left.contains(&kept_at_cutoff));
    assert!(old.iter().all(|id| !left.contains(id)));
    assert_eq!(
        prune_before(&mut conn, cutoff, PRUNE_BATCH_SIZE).unwrap(),
        0
    );
}
