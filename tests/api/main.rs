//! The integration suite: one binary, a file per area. Every test builds a
//! fresh database (in-memory SQLite, or a fresh schema on the PostgreSQL
//! server named by `TEST_DATABASE_URL`) and, where it speaks HTTP, the real
//! application with its real routing.

mod account_data;
mod accounts;
mod activity_api;
mod activity_changes;
mod activity_context;
mod activity_log;
mod activity_query;
mod auth_first;
mod catalog;
mod cli;
mod config_startup;
mod dedupe;
mod demo;
mod fake_spotify;
mod fuzz_findings;
mod health;
mod helpers;
mod hostile;
mod http_conventions;
mod isolation;
mod log_failures;
mod me;
mod openapi;
mod partitions;
mod pins;
mod playlist_orders;
mod playlists;
mod query_plans;
mod rotation;
mod round_trips;
mod scheduler;
mod scheduler_claims;
mod schedules;
mod schema;
mod security_headers;
mod settings;
mod shared_limits;
mod shuffle;
mod snapshots;
mod spotify;
mod stream;
mod stream_processes;
mod upstream;
mod web_app;
mod webhooks;
mod workshop;
