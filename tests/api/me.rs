//! The caller's own account: the profile (`PATCH /api/me`), the password
//! (`POST /api/me/password`) and the sessions (`GET /api/me/sessions`,
//! `DELETE /api/me/sessions/{id}`); and what a client is told when its
//! token, ticket, query or body is refused: which parameters a route
//! takes, why a token no longer works, what the body limit is.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::{json, Value};

use shuffify::db::schema::{auth_sessions, stream_tickets};

use crate::helpers::{rows_of, spawn_app, spawn_app_on, TestDb, TestUser};

/// The only detail of a 400 for an unknown query parameter.
fn unknown_parameter(res: &crate::helpers::TestResponse, name: &str) -> String {
    let error = res.error(400, "validation_failed");
    let details = error["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{}", res.text);
    assert_eq!(details[0]["field"], name, "{}", res.text);
    details[0]["message"].as_str().unwrap().to_string()
}

// ------------------------------------------------------------ query names

#[actix_web::test]
async fn an_unknown_query_parameter_is_a_400_naming_what_the_route_takes() {
    let app = spawn_app().await;
    let user = app.user("strict").await;
    let api = app.as_user(&user);

    // The new user's typo: `type` on the listing, whose parameter is `types`.
    let res = api.get("/api/activity?type=login").await;
    let message = unknown_parameter(&res, "type");
    assert_eq!(
        message,
        "unknown parameter; accepted: actors, cursor, ip, limit, page, playlist_id, q, \
         range, request_id, session_id, since, types, until"
    );

    // A route that takes none says so.
    let res = api.get("/api/me?verbose=1").await;
    assert_eq!(
        unknown_parameter(&res, "verbose"),
        "unknown parameter; accepted: none"
    );
    // Others, each with its own list.
    let res = api.get("/api/playlists?limit=5&sort=name").await;
    assert_eq!(
        unknown_parameter(&res, "sort"),
        "unknown parameter; accepted: limit, offset"
    );
    let res = api.get("/api/schedules/1/history?page=2").await;
    assert_eq!(
        unknown_parameter(&res, "page"),
        "unknown parameter; accepted: limit"
    );
    let res = api
        .get("/api/activity/export?format=csv&types=login&x=1")
        .await;
    assert!(unknown_parameter(&res, "x").contains("format"));
    // A body route too.
    let res = api
        .send(Method::POST, "/api/activity/stream/tickets?x", None, &[])
        .await;
    unknown_parameter(&res, "x");
    // Public routes under /api/ as well.
    let res = app
        .post(
            "/api/auth/login?remember=1",
            None,
            json!({"username": user.username, "password": user.password}),
        )
        .await;
    assert_eq!(
        unknown_parameter(&res, "remember"),
        "unknown parameter; accepted: none"
    );

    // An empty value of a known name is absent; of an unknown one, still
    // a parameter the route does not take.
    let res = api.get("/api/activity?types=&limit=").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    unknown_parameter(&api.get("/api/activity?typo=").await, "typo");
    unknown_parameter(&api.get("/api/activity?typo").await, "typo");

    // Every unknown name is listed once, with the same message.
    let res = api.get("/api/me?a=1&b=2&a=3").await;
    let error = res.error(400, "validation_failed");
    let fields: Vec<&str> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["a", "b"]);
}

#[actix_web::test]
async fn a_bad_token_is_still_a_401_before_the_query_is_judged() {
    let app = spawn_app().await;
    let res = app.get("/api/activity?type=login", None).await;
    res.error(401, "unauthorized");
    let res = app.get("/api/me?x=1", Some("not-a-live-token")).await;
    res.error(401, "unauthorized");
}

#[actix_web::test]
async fn routes_outside_the_api_and_spotifys_callback_ignore_parameters() {
    let app = spawn_app().await;
    for path in ["/health?probe=1", "/?utm_source=x", "/api/openapi.json"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
    }
    // Spotify sends what it likes; whatever the callback answers (Spotify
    // is not configured here), it is not about the extra parameter.
    let res = app
        .get("/api/providers/spotify/callback?state=s&code=c&iss=x", None)
        .await;
    assert!(!res.text.contains("iss"), "{}", res.text);
}

#[actix_web::test]
async fn recent_takes_types_like_the_listing_and_type_still() {
    let app = spawn_app().await;
    let user = app.user("recent").await;
    let api = app.as_user(&user);
    assert_eq!(api.post_empty("/api/auth/logout").await.status, 204);
    let login = app.login(&user.username, &user.password).await;
    let user = TestUser {
        token: login.body["token"].as_str().unwrap().to_string(),
        ..user
    };
    let api = app.as_user(&user);
    app.login(&user.username, "wrong-password-here")
        .await
        .error(401, "unauthorized");

    let types = |res: &crate::helpers::TestResponse| -> Vec<String> {
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["activity_type"].as_str().unwrap().to_string())
            .collect()
    };
    let both = types(
        &api.get("/api/activity/recent?types=logout,login_failed")
            .await,
    );
    assert_eq!(both, ["login_failed", "logout"]);
    let one = types(&api.get("/api/activity/recent?types=login").await);
    assert_eq!(one, ["login", "login"]);
    let old = types(&api.get("/api/activity/recent?type=logout").await);
    assert_eq!(old, ["logout"]);
    let all = types(&api.get("/api/activity/recent?types=").await);
    assert_eq!(all.len(), 4);
    let res = api.get("/api/activity/recent?types=login,nope").await;
    let error = res.error(400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "types");
    unknown_parameter(&api.get("/api/activity/recent?kind=login").await, "kind");
}

#[actix_web::test]
async fn a_ticket_is_judged_before_the_query_and_a_400_does_not_spend_it() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("ticketq").await;
    let api = app.as_user(&user);
    let ticket = api.post_empty("/api/activity/stream/tickets").await.body["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |uri: String| {
        TestRequest::get()
            .uri(&uri)
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .to_request()
    };
    // A bad ticket with an unknown parameter: the 401.
    let bad = "A".repeat(43);
    app.call(get(format!("/api/activity/stream?ticket={bad}&x=1")))
        .await
        .error(401, "unauthorized");
    // A good one with an unknown parameter: the 400, and it stays unused.
    let res = app
        .call(get(format!("/api/activity/stream?ticket={ticket}&x=1")))
        .await;
    assert!(unknown_parameter(&res, "x").contains("last_event_id, ticket"));
    let opened = app
        .call_raw(get(format!("/api/activity/stream?ticket={ticket}")))
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
}

// --------------------------------------------------------------- profile

#[actix_web::test]
async fn patch_me_changes_the_profile_and_logs_what_changed() {
    let app = spawn_app().await;
    let user = app.user("profiled").await;
    let api = app.as_user(&user);
    let me = api.get("/api/me").await;
    assert_eq!(me.body["display_name"], "profiled");
    assert_eq!(me.body["email"], Value::Null);

    let res = api
        .patch(
            "/api/me",
            json!({"display_name": "  Pro Filed  ", "email": "pro@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["display_name"], "Pro Filed");
    assert_eq!(res.body["email"], "pro@example.com");
    assert_eq!(res.body["username"], "profiled");
    assert_eq!(api.get("/api/me").await.body, res.body);

    let rows = app.activity(&user).await;
    let updates = rows_of(&rows, "profile_update");
    assert_eq!(updates.len(), 1);
    let row = updates[0];
    assert_eq!(
        row["metadata"]["changed_fields"],
        json!(["display_name", "email"])
    );
    assert_eq!(
        row["metadata"]["changes"],
        json!({
            "display_name": {"from": "profiled", "to": "Pro Filed"},
            "email": {"from": null, "to": "pro@example.com"},
        })
    );
    assert_eq!(row["description"], "Updated profile: display_name, email");

    // The same again, or nothing at all: no row.
    let res = api
        .patch("/api/me", json!({"display_name": "Pro Filed"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(api.patch("/api/me", json!({})).await.status, StatusCode::OK);
    assert_eq!(
        rows_of(&app.activity(&user).await, "profile_update").len(),
        1
    );

    // `null` clears the email and gives the display name back its default.
    let res = api
        .patch("/api/me", json!({"display_name": null, "email": null}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["display_name"], "profiled");
    assert_eq!(res.body["email"], Value::Null);
    let rows = app.activity(&user).await;
    assert_eq!(rows_of(&rows, "profile_update").len(), 2);
    assert_eq!(
        rows[0]["metadata"]["changes"]["email"],
        json!({"from": "pro@example.com", "to": null})
    );

    // The export's user section shows the profile.
    api.patch("/api/me", json!({"email": "x@example.org"}))
        .await;
    let export = api.get("/api/me/export").await;
    assert_eq!(export.body["user"]["email"], "x@example.org");
    assert_eq!(export.body["user"]["display_name"], "profiled");
}

#[actix_web::test]
async fn patch_me_refuses_bad_values_and_unknown_fields() {
    let app = spawn_app().await;
    let user = app.user("refuser").await;
    let api = app.as_user(&user);
    for (body, field) in [
        (json!({"display_name": "   "}), "display_name"),
        (json!({"display_name": "x".repeat(101)}), "display_name"),
        (json!({"display_name": 5}), "body"),
        (json!({"email": "no-at-sign"}), "email"),
        (json!({"email": "a b@example.com"}), "email"),
        (
            json!({"email": format!("{}@example.com", "a".repeat(250))}),
            "email",
        ),
        (json!({"username": "other"}), "username"),
    ] {
        let res = api.patch("/api/me", body.clone()).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{body}: {}", res.text);
    }
    let res = api
        .patch("/api/me", json!({"display_name": "x".repeat(100)}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(rows_of(&app.activity(&user).await, "profile_update").len() == 1);
}

// -------------------------------------------------------------- sessions

/// Another login of `user`: its token.
async fn another_login<S, B>(
    app: &crate::helpers::TestApp<S>,
    user: &TestUser,
    agent: &str,
) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let res = app
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": user.username, "password": user.password})),
            &[("User-Agent", agent)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["token"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn sessions_are_listed_newest_first_and_another_can_be_ended() {
    let app = spawn_app().await;
    let user = app.user("sessioned").await;
    let phone = another_login(&app, &user, "Phone/1.0").await;
    let laptop = another_login(&app, &user, "Laptop/2.0").await;
    let gone = another_login(&app, &user, "Gone/0").await;
    app.post_empty("/api/auth/logout", Some(&gone)).await;
    let api = app.as_user(&user);

    let res = api.get("/api/me/sessions").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let items = res.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "the logged-out one is not listed");
    let agents: Vec<&Value> = items.iter().map(|s| &s["user_agent"]).collect();
    assert_eq!(agents[0], "Laptop/2.0");
    assert_eq!(agents[1], "Phone/1.0");
    let ids: Vec<i64> = items.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert!(ids[0] > ids[1] && ids[1] > ids[2], "newest first: {ids:?}");
    let current: Vec<bool> = items
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, false, true]);
    for item in &items {
        assert_eq!(item["ip_address"], "127.0.0.1");
        for key in ["created_at", "expires_at"] {
            assert!(item[key].is_string(), "{item}");
        }
        assert_eq!(item.as_object().unwrap().len(), 6, "{item}");
    }
    // Serving requests writes nothing to the sessions.
    let before: Vec<(i64, Option<String>)> = auth_sessions::table
        .select((auth_sessions::id, auth_sessions::user_agent))
        .order(auth_sessions::id)
        .load(&mut app.conn())
        .unwrap();
    app.send(
        Method::GET,
        "/api/me",
        Some(&phone),
        None,
        &[("User-Agent", "Other/9")],
    )
    .await;
    let after: Vec<(i64, Option<String>)> = auth_sessions::table
        .select((auth_sessions::id, auth_sessions::user_agent))
        .order(auth_sessions::id)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(before, after);

    // End the phone's session from here.
    let phone_id = ids[1];
    let res = api.delete(&format!("/api/me/sessions/{phone_id}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let refused = app.get("/api/me", Some(&phone)).await;
    let error = refused.error(401, "unauthorized");
    assert!(error["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        app.get("/api/me", Some(&laptop)).await.status,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
    let listed = api.get("/api/me/sessions").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);

    // Its row: a logout naming the ended session; the context names ours.
    let rows = app.activity(&user).await;
    let row = &rows[0];
    assert_eq!(row["activity_type"], "logout");
    assert_eq!(row["metadata"]["session_id"], phone_id);
    assert_eq!(row["context"]["session_id"], ids[2]);
    assert_eq!(row["description"], "Signed out another session");

    // Ended already, missing, or not a number.
    api.delete(&format!("/api/me/sessions/{phone_id}"))
        .await
        .error(404, "not_found");
    api.delete("/api/me/sessions/987654")
        .await
        .error(404, "not_found");
    api.delete("/api/me/sessions/abc")
        .await
        .error(400, "validation_failed");
    // The caller's own: a 409 pointing at logout.
    let own = api.delete(&format!("/api/me/sessions/{}", ids[2])).await;
    let error = own.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("use POST /api/auth/logout"));
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn another_users_session_is_a_404_and_stays_live() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let bobs = app.as_user(&bob).get("/api/me/sessions").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.as_user(&alice)
        .delete(&format!("/api/me/sessions/{bobs}"))
        .await
        .error(404, "not_found");
    assert_eq!(
        app.as_user(&bob).get("/api/me").await.status,
        StatusCode::OK
    );
    let alices = app.as_user(&alice).get("/api/me/sessions").await;
    assert_eq!(alices.body["items"].as_array().unwrap().len(), 1);
    assert!(rows_of(&app.activity(&alice).await, "logout").is_empty());
}

// -------------------------------------------------------------- password

#[actix_web::test]
async fn a_password_change_ends_the_other_sessions_but_not_the_callers() {
    let app = spawn_app().await;
    let user = app.user("changer").await;
    let other = another_login(&app, &user, "Other/1").await;
    let third = another_login(&app, &user, "Third/1").await;
    let api = app.as_user(&user);

    let res = api
        .post(
            "/api/me/password",
            json!({"current_password": user.password, "new_password": "a-brand-new-pw"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
    for token in [&other, &third] {
        let res = app.get("/api/me", Some(token)).await;
        let error = res.error(401, "unauthorized");
        assert!(error["message"].as_str().unwrap().contains("revoked"));
    }
    let sessions = api.get("/api/me/sessions").await;
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), 1);

    // The new password logs in; the old one no longer does.
    app.login(&user.username, &user.password)
        .await
        .error(401, "unauthorized");
    let res = app.login(&user.username, "a-brand-new-pw").await;
    assert_eq!(res.status, StatusCode::OK);

    let rows = app.activity(&user).await;
    let changes = rows_of(&rows, "password_change");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["metadata"], json!({"sessions_ended": 2}));
    assert_eq!(changes[0]["description"], "Changed password");
    assert!(!changes[0].to_string().contains("a-brand-new-pw"));
}

/// The token is checked before the request's transaction begins. A session
/// ended in between (here by a password change from another session) acts
/// no more: two sessions changing the password at once cannot both
/// succeed, each ending the other. The service is called as the request
/// would call it once its token had passed.
#[actix_web::test]
async fn a_session_ended_after_its_token_was_checked_changes_nothing() {
    use shuffify::error::{AppError, TokenProblem};
    use shuffify::models::User;
    use shuffify::services::profile::ProfileService;

    let app = spawn_app().await;
    let user = app.user("racer").await;
    let other = another_login(&app, &user, "Other/1").await;
    let sessions = app.get("/api/me/sessions", Some(&other)).await;
    let other_id = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(true))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mine_id = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(false))
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    // The first session changes the password, ending the other.
    let res = app
        .as_user(&user)
        .post(
            "/api/me/password",
            json!({"current_password": user.password, "new_password": "the-first-change"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);

    // The other's request had passed its token check before that.
    let mut conn = app.conn();
    let row = User::find(&mut conn, user.id).unwrap().unwrap();
    let err = ProfileService::change_password(&mut conn, &row, other_id, "not-a-real-hash")
        .expect_err("an ended session changes no password");
    assert!(
        matches!(err, AppError::InvalidToken(TokenProblem::Revoked)),
        "{err:?}"
    );
    let err = ProfileService::end_session(&mut conn, &row, other_id, mine_id)
        .expect_err("an ended session ends no other");
    assert!(
        matches!(err, AppError::InvalidToken(TokenProblem::Revoked)),
        "{err:?}"
    );
    drop(conn);

    // The first change stands, and the first session is still signed in.
    assert_eq!(
        app.login(&user.username, "the-first-change").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.as_user(&user).get("/api/me").await.status,
        StatusCode::OK
    );
    assert_eq!(
        rows_of(&app.activity(&user).await, "password_change").len(),
        1
    );
}

/// Eight sessions of one user change the password at once, each to its
/// own: exactly one succeeds and ends the seven others, which answer 401
/// "revoked" and change nothing (real parallel requests on a database
/// several connections share: a SQLite file, or PostgreSQL).
#[actix_web::test]
async fn parallel_password_changes_from_every_session_leave_exactly_one() {
    let app = crate::helpers::spawn_shared_app().await;
    let user = app.user("stampede").await;
    let mut tokens = vec![user.token.clone()];
    for i in 0..7 {
        tokens.push(another_login(&app, &user, &format!("Racer/{i}")).await);
    }
    let results = futures_util::future::join_all(tokens.iter().enumerate().map(|(i, token)| {
        app.send(
            Method::POST,
            "/api/me/password",
            Some(token),
            Some(json!({
                "current_password": user.password,
                "new_password": format!("new-password-{i}"),
            })),
            &[],
        )
    }))
    .await;

    let winners: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].status == StatusCode::NO_CONTENT)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for (i, res) in results.iter().enumerate() {
        if i != winners[0] {
            let error = res.error(401, "unauthorized");
            assert!(
                error["message"].as_str().unwrap().contains("revoked"),
                "{error}"
            );
        }
    }
    let winner = winners[0];
    assert_eq!(
        app.get("/api/me", Some(&tokens[winner])).await.status,
        StatusCode::OK
    );
    for i in 0..tokens.len() {
        let res = app
            .login(&user.username, &format!("new-password-{i}"))
            .await;
        let expected = if i == winner {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(res.status, expected, "password {i}: {}", res.text);
    }
    let rows = app
        .get("/api/activity?types=password_change", Some(&tokens[winner]))
        .await;
    let items = rows.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", rows.text);
    assert_eq!(items[0]["metadata"], json!({"sessions_ended": 7}));
}

#[actix_web::test]
async fn a_wrong_current_password_is_a_401_that_counts_toward_the_lockout() {
    let app = spawn_app().await;
    let user = app.user("guesser").await;
    let other = another_login(&app, &user, "Other/1").await;
    let api = app.as_user(&user);
    let wrong = json!({"current_password": "a-guess", "new_password": "whatever-new"});

    let res = api.post("/api/me/password", wrong.clone()).await;
    let error = res.error(401, "unauthorized");
    assert_eq!(error["message"], "the password is wrong");
    assert!(res.header("www-authenticate").is_none());
    // Nothing changed: every session works, the password logs in.
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/me", Some(&other)).await.status,
        StatusCode::OK
    );
    let rows = app.activity(&user).await;
    assert_eq!(rows[0]["activity_type"], "login_failed");
    assert!(rows_of(&rows, "password_change").is_empty());

    // Bad bodies are 400s, and no attempt.
    for body in [
        json!({"current_password": user.password}),
        json!({"current_password": user.password, "new_password": "short"}),
        json!({"current_password": user.password, "new_password": "x".repeat(129)}),
        json!({"current_password": "", "new_password": "long-enough"}),
        json!({"current_password": user.password, "new_password": "long-enough", "x": 1}),
    ] {
        api.post("/api/me/password", body.clone())
            .await
            .error(400, "validation_failed");
    }

    // Nine more wrong ones: ten in all lock the name out, here and at login.
    for _ in 0..9 {
        api.post("/api/me/password", wrong.clone())
            .await
            .error(401, "unauthorized");
    }
    let right = json!({"current_password": user.password, "new_password": "whatever-new"});
    api.post("/api/me/password", right)
        .await
        .error(429, "rate_limited");
    app.login(&user.username, &user.password)
        .await
        .error(429, "rate_limited");
    assert_eq!(
        rows_of(&app.activity(&user).await, "login_failed").len(),
        10
    );
}

// ---------------------------------------------------- why a 401, a 413

#[actix_web::test]
async fn a_401_says_whether_the_token_was_missing_unknown_expired_or_revoked() {
    let app = spawn_app().await;
    let user = app.user("whyuser").await;

    let none = app.get("/api/me", None).await;
    let error = none.error(401, "unauthorized");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("authentication required"));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    let invalid = Some("Bearer error=\"invalid_token\"");
    let unknown = shuffify::services::auth::new_token();
    let res = app.get("/api/me", Some(&unknown)).await;
    let error = res.error(401, "unauthorized");
    assert!(
        error["message"].as_str().unwrap().contains("unknown"),
        "{}",
        res.text
    );
    assert_eq!(res.header("www-authenticate"), invalid);
    let res = app.get("/api/me", Some(&"x".repeat(500))).await;
    assert!(res.error(401, "unauthorized")["message"]
        .as_str()
        .unwrap()
        .contains("unknown"));

    // Expired.
    let expiring = another_login(&app, &user, "Old/1").await;
    let hash = shuffify::services::auth::token_hash(&expiring);
    diesel::update(auth_sessions::table.filter(auth_sessions::token_hash.eq(&hash)))
        .set(auth_sessions::expires_at.eq(shuffify::db::now() - chrono::Duration::seconds(1)))
        .execute(&mut app.conn())
        .unwrap();
    let res = app.get("/api/me", Some(&expiring)).await;
    let error = res.error(401, "unauthorized");
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "{}",
        res.text
    );
    assert_eq!(res.header("www-authenticate"), invalid);

    // Revoked: logged out.
    let token = user.token.clone();
    assert_eq!(
        app.post_empty("/api/auth/logout", Some(&token))
            .await
            .status,
        204
    );
    let res = app.get("/api/activity?type=x", Some(&token)).await;
    let error = res.error(401, "unauthorized");
    assert!(
        error["message"].as_str().unwrap().contains("revoked"),
        "{}",
        res.text
    );
    assert_eq!(res.header("www-authenticate"), invalid);
    // Nothing in any of them names the user.
    assert!(!res.text.contains("whyuser"));
}

#[actix_web::test]
async fn tickets_say_whether_they_were_used_or_expired() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("ticketwhy").await;
    let api = app.as_user(&user);
    let new_ticket = || async {
        api.post_empty("/api/activity/stream/tickets").await.body["ticket"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let get = |uri: String| {
        TestRequest::get()
            .uri(&uri)
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .to_request()
    };
    let message = |res: &crate::helpers::TestResponse| {
        res.error(401, "unauthorized")["message"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let used = new_ticket().await;
    let uri = format!("/api/activity/stream?ticket={used}");
    assert_eq!(
        app.call_raw(get(uri.clone())).await.status(),
        StatusCode::OK
    );
    let res = app.call(get(uri)).await;
    assert!(message(&res).contains("already used"), "{}", res.text);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));

    let stale = new_ticket().await;
    diesel::update(
        stream_tickets::table
            .filter(stream_tickets::ticket_hash.eq(shuffify::services::auth::token_hash(&stale))),
    )
    .set(stream_tickets::expires_at.eq(shuffify::db::now() - chrono::Duration::seconds(1)))
    .execute(&mut app.conn())
    .unwrap();
    let res = app
        .call(get(format!("/api/activity/stream?ticket={stale}")))
        .await;
    assert!(message(&res).contains("expired"), "{}", res.text);

    let res = app
        .call(get(format!(
            "/api/activity/stream?ticket={}",
            "B".repeat(43)
        )))
        .await;
    assert!(message(&res).contains("unknown"), "{}", res.text);
}

#[actix_web::test]
async fn a_413_names_the_limit() {
    let app = spawn_app().await;
    let user = app.user("bigbody").await;
    let big = "x".repeat(shuffify::routes::BODY_LIMIT + 1);
    let res = app
        .as_user(&user)
        .post("/api/schedules", json!({ "name": big }))
        .await;
    let error = res.error(413, "payload_too_large");
    assert_eq!(error["message"], "the body exceeds the limit of 2 MiB");
    // The larger limit of a playlist's creation.
    let tracks = "y".repeat(shuffify::routes::LARGE_BODY_LIMIT + 1);
    let res = app
        .as_user(&user)
        .post("/api/playlists", json!({ "name": tracks }))
        .await;
    let error = res.error(413, "payload_too_large");
    assert_eq!(error["message"], "the body exceeds the limit of 8 MiB");
    // A raw body (an optional one: a shuffle's) says the same.
    let res = app
        .as_user(&user)
        .send(
            Method::POST,
            "/api/playlists/0123456789abcdefABCDEF/shuffle",
            Some(json!({ "seed": big })),
            &[],
        )
        .await;
    let error = res.error(413, "payload_too_large");
    assert_eq!(error["message"], "the body exceeds the limit of 2 MiB");
}

#[actix_web::test]
async fn the_new_activity_types_filter_like_the_others() {
    let app = spawn_app().await;
    let user = app.user("filters").await;
    let api = app.as_user(&user);
    api.patch("/api/me", json!({"email": "f@example.com"}))
        .await;
    api.post(
        "/api/me/password",
        json!({"current_password": user.password, "new_password": "another-password"}),
    )
    .await;
    let res = api
        .get("/api/activity?types=password_change,profile_update")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let kinds: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["activity_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["password_change", "profile_update"]);
}
