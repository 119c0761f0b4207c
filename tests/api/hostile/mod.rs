//! The hostile-input suite (issue 8): what an attacker would send, one file
//! per area. Each case asserts the status, the error body (docs/api.md), and that
//! nothing was stored; concurrency cases use real parallel clients and run
//! on both backends (a temp-file SQLite database, or PostgreSQL when
//! `TEST_DATABASE_URL` is set).

mod auth;
mod caps;
mod concurrency;
mod export;
mod guesses;
mod input;
mod proxies;
mod repeated_keys;
