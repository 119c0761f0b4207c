//! PostgreSQL over TLS, with `--features postgres-tls` (docs/development.md, "PostgreSQL over TLS"): the
//! service's own pool connects with `sslmode=require` and the server reports
//! the session encrypted. Not skipped when the server cannot be reached: with
//! the feature on, that is a failure.
//!
//!     cargo test --features postgres-tls --test tls
//!
//! `TLS_DATABASE_URL` overrides the server (default: the local one CI uses).
#![cfg(feature = "postgres-tls")]

use diesel::prelude::*;
use diesel::sql_types::Bool;

#[derive(QueryableByName)]
struct Encrypted {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

#[test]
fn the_pool_connects_with_sslmode_require_and_the_session_is_encrypted() {
    let url = std::env::var("TLS_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=require".to_string());
    assert!(url.contains("sslmode=require"), "{url}");
    let pool = shuffify::db::build_pool(&url, 1).expect("a TLS connection");
    let mut conn = pool.get().expect("a pooled TLS connection");
    let row: Encrypted =
        diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .get_result(&mut *conn)
            .expect("pg_stat_ssl");
    assert!(row.ssl, "the session is not encrypted");
}
