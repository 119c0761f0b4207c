//! The client address behind a reverse proxy: forwarded headers count only
//! from a trusted peer, and then only their rightmost untrusted entry; IPv6
//! clients share a bucket per /64; `auth_sessions` records the address the
//! buckets see. No IPv6 socket is needed: IPv6 clients arrive as
//! `X-Forwarded-For` entries from a trusted 127.0.0.1.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::json;

use shuffify::db::schema::auth_sessions;

use crate::helpers::spawn_app_with;

/// A login of `username` with a wrong password from the socket peer
/// `peer`, with `X-Forwarded-For: forwarded` when given.
fn login_from(
    peer: &str,
    forwarded: Option<&str>,
    username: &str,
    password: &str,
) -> actix_http::Request {
    let mut req = TestRequest::default()
        .method(Method::POST)
        .uri("/api/auth/login")
        .peer_addr(peer.parse().unwrap())
        .insert_header(("Content-Type", "application/json"))
        .set_payload(json!({"username": username, "password": password}).to_string());
    if let Some(forwarded) = forwarded {
        req = req.insert_header(("X-Forwarded-For", forwarded));
    }
    req.to_request()
}

#[actix_web::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    // A proxy is trusted, but not this peer: what it forwards is its own
    // writing, so every request counts against the peer's bucket of 2.
    let app = spawn_app_with(|s| {
        s.trusted_proxies = shuffify::config::trusted_proxies(Some("10.0.0.0/8")).unwrap();
        s.login_per_second = 0;
        s.login_burst = 2;
    })
    .await;
    let mut statuses = Vec::new();
    for forwarded in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "10.0.0.1"] {
        let res = app
            .call(login_from(
                "192.0.2.7:4000",
                Some(forwarded),
                "nobody",
                "wrong-password",
            ))
            .await;
        statuses.push(res.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = shuffify::config::trusted_proxies(Some("127.0.0.1/32")).unwrap();
        s.login_per_second = 0;
        s.login_burst = 2;
    })
    .await;
    let guess = |forwarded: &'static str| {
        app.call(login_from(
            "127.0.0.1:40000",
            Some(forwarded),
            "nobody",
            "wrong-password",
        ))
    };
    // Client A spends its bucket.
    assert_eq!(guess("203.0.113.1").await.status, 401);
    assert_eq!(guess("203.0.113.1").await.status, 401);
    guess("203.0.113.1").await.error(429, "rate_limited");
    // A spoofed leftmost entry does not make A someone else, nor does the
    // proxy itself repeated at the right end.
    guess("198.51.100.99, 203.0.113.1")
        .await
        .error(429, "rate_limited");
    guess("203.0.113.1, 127.0.0.1")
        .await
        .error(429, "rate_limited");
    // Client B, behind the same proxy, is not locked out by A.
    assert_eq!(guess("203.0.113.2").await.status, 401);
    assert_eq!(guess("198.51.100.99, 203.0.113.2").await.status, 401);
    guess("203.0.113.2").await.error(429, "rate_limited");
}

#[actix_web::test]
async fn ipv6_clients_in_one_64_share_a_bucket() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = shuffify::config::trusted_proxies(Some("127.0.0.1/32")).unwrap();
        s.login_per_second = 0;
        s.login_burst = 2;
    })
    .await;
    let guess = |forwarded: &'static str| {
        app.call(login_from(
            "127.0.0.1:40000",
            Some(forwarded),
            "nobody",
            "wrong-password",
        ))
    };
    assert_eq!(guess("2001:db8:1:2::1").await.status, 401);
    assert_eq!(guess("2001:db8:1:2:ffff:ffff:ffff:9").await.status, 401);
    // A fresh address in the same /64 is the same client.
    guess("[2001:db8:1:2::abcd]:443")
        .await
        .error(429, "rate_limited");
    // The next /64 is another.
    assert_eq!(guess("2001:db8:1:3::1").await.status, 401);
}

#[actix_web::test]
async fn a_session_records_the_forwarded_client_only_from_a_trusted_proxy() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = shuffify::config::trusted_proxies(Some("127.0.0.1/32")).unwrap();
    })
    .await;
    let user = app.user("proxied").await;
    for (peer, forwarded, recorded) in [
        ("127.0.0.1:40000", "2001:db8::77", "2001:db8::77"),
        (
            "127.0.0.1:40000",
            "198.51.100.1, 203.0.113.8",
            "203.0.113.8",
        ),
        ("192.0.2.9:5000", "203.0.113.8", "192.0.2.9"),
    ] {
        let res = app
            .call(login_from(
                peer,
                Some(forwarded),
                &user.username,
                &user.password,
            ))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let latest: Option<String> = auth_sessions::table
            .order(auth_sessions::id.desc())
            .select(auth_sessions::ip_address)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(latest.as_deref(), Some(recorded), "{forwarded} via {peer}");
    }
}
